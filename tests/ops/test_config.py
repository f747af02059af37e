"""Settings come from the environment; production refuses unsafe ones."""

import re

import pytest

import config
from scoreboard import create_app


def test_heroku_and_plain_postgres_urls_use_psycopg2():
    assert config.database_url("postgres://u:p@h:5432/d") == "postgresql+psycopg2://u:p@h:5432/d"
    assert config.database_url("postgresql://h/d") == "postgresql+psycopg2://h/d"
    assert config.database_url("sqlite:///x.db") == "sqlite:///x.db"
    assert config.database_url("") is None


def test_nothing_configured_means_embedded_development():
    settings = config.from_env({})
    assert settings["PRODUCTION"] is False
    assert settings["SQLALCHEMY_DATABASE_URI"] is None and settings["REDIS_URL"] is None
    config.check(settings)  # the development secret is fine here


@pytest.mark.parametrize("env", [
    {"SCOREBOARD_ENV": "production"},
    {"DATABASE_URL": "postgres://h/d"},
    {"DATABASE_URL": "postgres://h/d", "JWT_SECRET_KEY": config.DEV_SECRET},
    {"DATABASE_URL": "postgres://h/d", "JWT_SECRET_KEY": "short"},
    {"SCOREBOARD_ENV": "production", "JWT_ALGORITHM": "RS256"},
])
def test_production_refuses_missing_or_default_secret(env):
    with pytest.raises(config.ConfigError, match="Must set JWT_"):
        config.check(config.from_env(env))


def test_production_accepts_a_real_secret():
    config.check(config.from_env({"DATABASE_URL": "postgres://h/d", "JWT_SECRET_KEY": "k" * 40}))


def test_rediss_url_is_kept():
    assert config.from_env({"REDIS_URL": "rediss://:pw@h:6380/0"})["REDIS_URL"].startswith(
        "rediss://")


def test_bad_number_is_a_clear_error():
    with pytest.raises(config.ConfigError, match="TICKET_TTL_SECONDS must be a whole number"):
        config.from_env({"TICKET_TTL_SECONDS": "ten"})


def test_create_app_refuses_to_start_in_production_with_default_secret(monkeypatch):
    monkeypatch.setenv("SCOREBOARD_ENV", "production")
    monkeypatch.delenv("JWT_SECRET_KEY", raising=False)
    with pytest.raises(config.ConfigError):
        create_app()


def test_unsupported_algorithm_is_refused(tmp_path):
    with pytest.raises(ValueError, match="JWT_ALGORITHM"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
                    "JWT_ALGORITHM": "none"})


@pytest.mark.parametrize("url", ["auth0.example/jwks.json", "ftp://idp.example/jwks.json",
                                 "file:///etc/jwks.json", "https:///jwks.json"])
def test_a_jwks_url_that_is_no_web_address_is_a_clear_error(url):
    with pytest.raises(config.ConfigError, match="JWT_JWKS_URL must be the https:// address"):
        config.from_env({"JWT_JWKS_URL": url})


def test_jwks_settings_come_from_the_environment():
    settings = config.from_env({"JWT_JWKS_URL": "https://idp.example/jwks.json",
                                "JWT_JWKS_CACHE_SECONDS": "60"})
    assert settings["JWT_JWKS_URL"] == "https://idp.example/jwks.json"
    assert (settings["JWT_JWKS_CACHE_SECONDS"], settings["JWT_JWKS_REFETCH_SECONDS"],
            settings["JWT_JWKS_TIMEOUT_SECONDS"]) == (60, 5, 3)
    assert config.from_env({})["JWT_JWKS_URL"] is None


@pytest.mark.parametrize("settings, message", [
    ({"JWT_ALGORITHM": "HS256"}, "JWT_JWKS_URL holds public keys: set JWT_ALGORITHM"),
    ({"JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----"},
     "Set JWT_JWKS_URL or JWT_PUBLIC_KEY, not both"),
    ({"JWT_JWKS_CACHE_SECONDS": 0}, "JWT_JWKS_CACHE_SECONDS must be more than 0"),
    ({"JWT_JWKS_REFETCH_SECONDS": -1}, "JWT_JWKS_REFETCH_SECONDS must be more than 0"),
    ({"JWT_JWKS_TIMEOUT_SECONDS": 0}, "JWT_JWKS_TIMEOUT_SECONDS must be more than 0"),
])
def test_jwks_settings_the_service_cannot_use_are_refused(tmp_path, settings, message):
    with pytest.raises(ValueError, match=message):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
                    "JWT_ALGORITHM": "RS256", "JWT_JWKS_URL": "https://idp.example/jwks.json",
                    **settings})


def test_redis_certificates_are_checked_unless_told_otherwise():
    assert config.from_env({})["REDIS_SSL_CERT_REQS"] == "required"
    assert config.from_env({"REDIS_SSL_CERT_REQS": "none"})["REDIS_SSL_CERT_REQS"] == "none"
    assert config.from_env({"REDIS_SSL_CERT_REQS": "NONE"})["REDIS_SSL_CERT_REQS"] == "none"


@pytest.mark.parametrize("value", ["optional", "false", "0", "CERT_NONE"])
def test_an_unknown_redis_certificate_requirement_is_a_clear_error(value):
    with pytest.raises(config.ConfigError,
                       match=f"REDIS_SSL_CERT_REQS must be one of required, none, not '{value}'"):
        config.from_env({"REDIS_SSL_CERT_REQS": value})


def test_create_app_refuses_to_start_with_an_unknown_redis_certificate_requirement(
        monkeypatch):
    monkeypatch.setenv("REDIS_SSL_CERT_REQS", "sometimes")
    with pytest.raises(config.ConfigError, match="REDIS_SSL_CERT_REQS"):
        create_app()


@pytest.mark.parametrize("prefix", ["{game}:", "game}:", "a{b"])
def test_create_app_refuses_a_redis_prefix_with_braces_that_would_be_a_hash_tag(
        monkeypatch, prefix):
    monkeypatch.setenv("REDIS_PREFIX", prefix)
    with pytest.raises(config.ConfigError,
                       match=re.escape(f"REDIS_PREFIX may not contain {{ or }} (a Redis "
                                       f"Cluster's hash tags), not {prefix!r}")):
        create_app()


def test_a_redis_prefix_without_braces_is_taken_as_it_is():
    assert config.from_env({"REDIS_PREFIX": "game-7:"})["REDIS_PREFIX"] == "game-7:"
    assert config.from_env({})["REDIS_PREFIX"] == "scoreboard:"


def test_cors_origins_are_a_comma_separated_list_none_by_default():
    assert config.from_env({})["CORS_ORIGINS"] == ()
    listed = config.from_env({"CORS_ORIGINS": " https://Game.example.com, http://localhost:3000,"})
    assert listed["CORS_ORIGINS"] == ("https://game.example.com", "http://localhost:3000")


@pytest.mark.parametrize("origin", [
    "*", "null", "game.example.com", "ftp://game.example.com", "https://game.example.com/",
    "https://game.example.com/play", "https://game.example.com:443", "http://localhost:80",
    "http://localhost:0", "http://localhost:65536", "http://[::1]:3000", "https://u@game.example",
])
def test_a_malformed_cors_origin_is_a_clear_error(origin):
    message = f"CORS_ORIGINS must list origins .*{re.escape(repr(origin))}"
    with pytest.raises(config.ConfigError, match=message):
        config.from_env({"CORS_ORIGINS": f"https://ok.example,{origin}"})


def test_create_app_refuses_to_start_with_a_malformed_cors_origin(monkeypatch):
    monkeypatch.setenv("CORS_ORIGINS", "https://game.example.com/")
    with pytest.raises(config.ConfigError, match="CORS_ORIGINS"):
        create_app()


def test_group_caps_default_to_a_game_s_and_stay_within_a_notice():
    caps = config.from_env({})
    assert [caps[f"GROUP_MAX_{name}"] for name in ("OWNED", "JOINED", "MEMBERS",
                                                   "INVITATIONS")] == [10, 30, 500, 100]
    assert config.from_env({"GROUP_MAX_JOINED": "990"})["GROUP_MAX_JOINED"] == 990
    with pytest.raises(config.ConfigError, match="may add up to at most 1000"):
        config.from_env({"GROUP_MAX_OWNED": "11", "GROUP_MAX_JOINED": "990"})


@pytest.mark.parametrize("name", ["GROUP_MAX_OWNED", "GROUP_MAX_JOINED", "GROUP_MAX_MEMBERS",
                                  "GROUP_MAX_INVITATIONS", "STREAM_TICKET_SECONDS"])
def test_a_group_cap_or_a_tickets_life_below_one_is_a_clear_error(name):
    with pytest.raises(config.ConfigError, match=f"{name} must be at least 1, not 0"):
        config.from_env({name: "0"})


def test_audit_retention_keeps_everything_unless_set_and_needs_a_folder():
    kept = config.from_env({})
    assert kept["AUDIT_RETENTION_DAYS"] is None and kept["AUDIT_ARCHIVE_DIR"] is None
    set_ = config.from_env({"AUDIT_RETENTION_DAYS": "90", "AUDIT_ARCHIVE_DIR": "/archives"})
    assert set_["AUDIT_RETENTION_DAYS"] == 90 and set_["AUDIT_ARCHIVE_DIR"] == "/archives"
    with pytest.raises(config.ConfigError, match="Must set AUDIT_ARCHIVE_DIR"):
        config.from_env({"AUDIT_RETENTION_DAYS": "90"})
    with pytest.raises(config.ConfigError, match="AUDIT_RETENTION_DAYS must be at least 1"):
        config.from_env({"AUDIT_RETENTION_DAYS": "0", "AUDIT_ARCHIVE_DIR": "/archives"})
    with pytest.raises(config.ConfigError, match="cannot be used on Heroku"):
        config.from_env({"AUDIT_RETENTION_DAYS": "9", "AUDIT_ARCHIVE_DIR": "/a", "DYNO": "web.1"})
