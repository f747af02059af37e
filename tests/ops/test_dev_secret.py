"""The development secret, published in config.py, serves this machine only: gunicorn and
``flask run`` refuse to start with it (or with no key at all) when they would listen on an
address other than loopback, on a hosting platform, or in production. ``make run`` on
loopback keeps working with it."""

import runpy
import socket

import click
import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo, run_command

import config
from scoreboard import create_app

from ..conftest import base_config
from ..harness.servers import ROOT, Server

NO_KEY = "Must set JWT_SECRET_KEY to a random value of at least 32 characters"
LOOPBACK = ["127.0.0.1", "localhost", "LOCALHOST", "::1", "127.0.0.53"]
PUBLIC = ["0.0.0.0", "::", "192.168.1.20", "203.0.113.7", "", "my-laptop.example",
          "unix:/run/scoreboard.sock", "fd://3", "::ffff:127.0.0.1"]
REAL_SECRET = "k" * 40


def test_loopback_may_use_the_development_secret():
    settings = config.from_env({})
    assert settings["JWT_SECRET_KEY"] == config.DEV_SECRET and settings["PLATFORM"] is None
    config.check(settings, LOOPBACK)


@pytest.mark.parametrize("host", PUBLIC)
def test_another_address_needs_a_real_secret(host):
    with pytest.raises(config.ConfigError, match=f"^{NO_KEY} to listen on .+, which is not a "
                       "loopback address: the development secret is public"):
        config.check(config.from_env({}), ["127.0.0.1", host])
    with pytest.raises(config.ConfigError, match=NO_KEY):
        config.check(config.from_env({"JWT_SECRET_KEY": "too-short"}), [host])
    config.check(config.from_env({"JWT_SECRET_KEY": REAL_SECRET}), [host])


@pytest.mark.parametrize("variable, platform", config.PLATFORMS.items())
def test_a_platform_needs_a_real_secret_whatever_the_address(variable, platform):
    env = {variable: "1"}
    assert config.from_env(env)["PLATFORM"] == f"{platform} ({variable} is set)"
    with pytest.raises(config.ConfigError,
                       match=rf"^{NO_KEY} on {platform} \({variable} is set\)"):
        config.check(config.from_env(env), ["127.0.0.1"])
    config.check(config.from_env({**env, "JWT_SECRET_KEY": REAL_SECRET}), ["0.0.0.0"])


def test_a_port_alone_is_no_platform():
    """`PORT=9000 make run` stays a newcomer's loopback server."""
    settings = config.from_env({"PORT": "9000"})
    assert settings["PLATFORM"] is None
    config.check(settings, ["127.0.0.1"])


@pytest.mark.parametrize("algorithm", config.PUBLIC_KEY_ALGORITHMS)
def test_a_public_key_serves_anywhere_and_is_required_for_its_algorithm(algorithm):
    public = {"JWT_ALGORITHM": algorithm, "DYNO": "web.1"}
    with pytest.raises(config.ConfigError, match=rf"^Must set JWT_JWKS_URL or JWT_PUBLIC_KEY "
                                                 rf"to verify {algorithm} tokens on Heroku"):
        config.check(config.from_env(public), ["0.0.0.0"])
    config.check(config.from_env({**public, "JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----"}),
                 ["0.0.0.0"])


@pytest.mark.parametrize("url", ["https://tenant.eu.auth0.com/.well-known/jwks.json",
                                 "http://127.0.0.1:8080/realms/game/protocol/openid-connect/certs",
                                 "http://localhost:8080/jwks.json"])
def test_a_jwks_url_is_a_real_public_key_and_serves_anywhere(url):
    """With the provider's keys, the development secret verifies nothing: the service may
    listen anywhere, in production and on a platform too."""
    env = {"JWT_ALGORITHM": "RS256", "JWT_JWKS_URL": url}
    for hosts in (["0.0.0.0"], ["203.0.113.7"]):
        config.check(config.from_env(env), hosts)
    config.check(config.from_env({**env, "DYNO": "web.1"}), ["127.0.0.1"])
    config.check(config.from_env({**env, "SCOREBOARD_ENV": "production"}), ["127.0.0.1"])


def test_a_jwks_url_over_plain_http_serves_this_machine_only():
    """Keys fetched over plain HTTP from another machine could be swapped on the way: a
    provider on loopback (a Keycloak beside the service) may speak it, another may not."""
    env = {"JWT_ALGORITHM": "RS256", "JWT_JWKS_URL": "http://idp.example/jwks.json"}
    config.check(config.from_env(env), ["127.0.0.1"])
    with pytest.raises(config.ConfigError, match=r"^JWT_JWKS_URL must be an https:// address "
                                                 r"to listen on 0.0.0.0, which is not"):
        config.check(config.from_env(env), ["0.0.0.0"])
    with pytest.raises(config.ConfigError, match=r"^JWT_JWKS_URL must be an https:// address "
                                                 r"on Heroku"):
        config.check(config.from_env({**env, "DYNO": "web.1"}), ["127.0.0.1"])


def test_gunicorn_gives_the_check_the_hosts_it_binds():
    host_of = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["_bound_host"]
    assert [host_of(a) for a in ("127.0.0.1:8000", "[::1]:8000", "localhost:8000",
                                 "tcp://127.0.0.1:8000")] == \
        ["127.0.0.1", "::1", "localhost", "127.0.0.1"]
    public = ("0.0.0.0:8000", ":8000", "unix:/run/s.sock", "fd://3")
    assert [host_of(a) for a in public] == ["0.0.0.0", "", "unix:/run/s.sock", "fd://3"]
    assert not any(config.is_loopback(host_of(a)) for a in public)


def test_gunicorn_on_a_public_address_refuses_to_start_with_the_development_secret(tmp_path):
    # Nothing configured, as `HOST=0.0.0.0 make run` on a laptop (no platform's variables).
    server = Server("", None, log_dir=tmp_path, HOST="0.0.0.0", JWT_SECRET_KEY="",
                    SCOREBOARD_ENV="", **dict.fromkeys(config.PLATFORMS, ""))
    try:
        with pytest.raises(RuntimeError, match="exited with 1 before listening"):
            server.start()
    finally:
        server.stop()
    assert f"Error: {NO_KEY} to listen on 0.0.0.0, which is not a loopback address" \
        in server.log()


def development(tmp_path) -> dict:
    return base_config(f"sqlite:///{tmp_path}/dev.db", None, JWT_SECRET_KEY=config.DEV_SECRET,
                       PLATFORM=None)


def test_flask_run_on_a_public_address_refuses_the_development_secret(tmp_path):
    info = ScriptInfo(create_app=lambda: create_app(development(tmp_path)))
    with socket.create_server(("0.0.0.0", 0)) as taken:
        # Were the app built, the server would fail on this port taken, not serve.
        port = taken.getsockname()[1]
        result = CliRunner().invoke(run_command, ["--host", "0.0.0.0", "--port", str(port)],
                                    obj=info)
    assert isinstance(result.exception, config.ConfigError), result.output
    assert str(result.exception).startswith(f"{NO_KEY} to listen on 0.0.0.0,")


def test_flask_run_on_loopback_keeps_the_development_secret(make_app, tmp_path):
    with click.Context(run_command, info_name="run") as context:
        context.params["host"] = "127.0.0.1"
        app = make_app(JWT_SECRET_KEY=config.DEV_SECRET, PLATFORM=None)
        context.params["host"] = "0.0.0.0"
        with pytest.raises(config.ConfigError, match="to listen on 0.0.0.0"):
            create_app(development(tmp_path))
    assert app.config["JWT_SECRET_KEY"] == config.DEV_SECRET
