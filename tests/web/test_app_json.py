"""app.json, the Heroku manifest, agrees with the Procfile and with what config.py accepts."""

import json

import config

from ..harness.servers import ROOT

MANIFEST = json.loads((ROOT / "app.json").read_text())


def test_the_formation_runs_the_procfiles_processes():
    procfile = (ROOT / "Procfile").read_text().splitlines()
    process_types = {line.split(":", 1)[0] for line in procfile if line.strip()}
    assert set(MANIFEST["formation"]) == process_types - {"release"}  # release runs per deploy


def test_the_add_ons_are_postgresql_and_redis():
    assert [a["plan"].split(":")[0] for a in MANIFEST["addons"]] == [
        "heroku-postgresql", "heroku-redis"]


def test_its_settings_start_the_service_in_production_over_heroku_redis():
    secret = MANIFEST["env"]["JWT_SECRET_KEY"]
    assert secret["generator"] == "secret" and "value" not in secret  # never a shared one
    values = {name: spec["value"] for name, spec in MANIFEST["env"].items() if "value" in spec}
    # What the add-ons, the generator and the dyno add: Heroku's URL schemes, a 64-character
    # secret, DYNO, and a bind on every address (gunicorn.conf.py).
    settings = config.from_env({**values, "DATABASE_URL": "postgres://u:p@h:5432/d",
                                "REDIS_URL": "rediss://:p@h:6380", "JWT_SECRET_KEY": "f" * 64,
                                "DYNO": "web.1"})
    config.check(settings, ["0.0.0.0"])
    assert settings["PRODUCTION"] and settings["REDIS_SSL_CERT_REQS"] == "none"
