"""The OpenAPI document describes every route the app serves, and nothing else."""

import re
from datetime import datetime

import jsonschema_rs
import pytest

from scoreboard.boards import views
from scoreboard.web import admin, api


def openapi_path(flask_rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", flask_rule)


def test_every_route_and_method_is_documented(app, client):
    document = client.get("/api/openapi.json").json
    assert document["openapi"].startswith("3.1")
    served = {
        (openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules() if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == served


def test_every_reference_resolves_and_every_component_is_referenced(client):
    document = client.get("/api/openapi.json").json

    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    def resolve(ref):
        assert ref.startswith("#/"), ref  # the document refers only to itself
        target = document
        for part in ref.removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return target

    # Components are shared through references: each is used, so a document that inlined
    # them all (and had no $ref at all) fails here, as does one that names a missing one.
    found = set(refs(document))
    components = {f"#/components/{kind}/{name}" for kind in ("schemas", "responses")
                  for name in document["components"][kind]}
    assert components and found == components
    for ref in found:
        assert isinstance(resolve(ref), dict), ref


# Values near every rule's edges: empty, short, long, blank, control and non-ASCII
# characters, numbers written every way JSON can.
TEXTS = ["", "0", "0A", "a", "alice", "a.b@c:d-e_f", "x" * 16, "x" * 32, "x" * 33, "x" * 64,
         "x" * 65, "x" * 200, "x" * 201, "a b", " ", "   ", "\t", "a\tb", "\x00", "a\x7f",
         "a\n", "\u3000", "\xa0x", "é", "Zoë", "🙂" * 64, "🙂" * 65, "DE", "de", "ZZ",
         # Characters of the categories no name may hold (names.py), and forms NFKC changes.
         "\u202eecila", "Al\u200bice", "\ufeffAlice", "Al\xadice", "Al\u2028ice", "a\u2029",
         "a\x85", "Al\U000e0041ice", "a\U0001d173", "\uff21lice", "\ufb01", "e\u0301",
         "a.b.c", "eyJ.e30.", "click", "no-such", "UPPER", "2026-W48", "2026-11-27"]
NUMBERS = [0, 1, -1, 5, 5.0, 1.5, -1_000_000, 1_000_000, 1_000_001, 10**30, True, None]


@pytest.mark.parametrize("name", ["START", "UPDATE", "PROFILE", "NEW_GROUP", "MEMBER",
                                  "REASON_ONLY", "ADJUSTMENT"])
def test_each_body_field_accepts_exactly_what_the_document_allows(app, name):
    body = getattr(api, name, None) or getattr(admin, name)
    with app.app_context():
        for field, rule in body.fields.items():
            schema = jsonschema_rs.validator_for(rule.schema(app.config))
            for value in TEXTS + NUMBERS:
                assert rule.fits(value) == schema.is_valid(value), (field, value)


VIEW_ARGS = [{}, {"period": "all"}, {"period": "day"}, {"period": "week"}, {"period": ""},
             {"period": "month"}, {"at": "2026-W48"}, {"period": "all", "at": ""},
             {"period": "all", "at": "2026-11-27"}, {"period": "week", "at": "2026-W48"},
             {"period": "week", "at": "2026-W00"}, {"period": "week", "at": "2026-W54"},
             {"period": "week", "at": "2026-11-27"}, {"period": "day", "at": "2026-11-27"},
             {"period": "day", "at": "2026-13-01"}, {"period": "day", "at": "٢٠٢٦-11-27"},
             {"period": "day", "at": ""}, {"region": "DE"}, {"region": "de"}, {"region": ""},
             {"group": "crew_1"}, {"group": ""}, {"group": "a b"}, {"group": "x" * 33},
             {"region": "DE", "group": "crew"}, {"region": "FR", "period": "week"}]


@pytest.mark.parametrize("args", VIEW_ARGS)
def test_the_view_parameters_are_what_the_document_allows(app, args):
    schema = jsonschema_rs.validator_for(views.query_schema(app.config))
    try:
        views.parse(args, datetime(2026, 11, 30), app.config)
        served = True
    except ValueError:
        served = False
    assert served == schema.is_valid(args)


def test_a_day_or_week_the_calendar_lacks_is_well_formed_but_not_found(client):
    for at in ("period=day&at=2026-02-30", "period=week&at=2025-W53"):
        reply = client.get(f"/api/scores/top?{at}")
        assert reply.status_code == 404 and reply.json["success"] is False
    assert client.get("/api/scores/top?period=week&at=2026-W53").status_code == 200


def test_path_ids_are_documented_with_their_converters_patterns(app, client):
    document = client.get("/api/openapi.json").json
    parameters = document["paths"]["/api/groups/{group_id}/members/{user_id}"]["delete"][
        "parameters"]
    patterns = {p["name"]: p["schema"]["pattern"] for p in parameters if p["in"] == "path"}
    assert patterns == {"group_id": f"^(?:{api.GroupId.regex})$",
                        "user_id": f"^(?:{api.PlayerId.regex})$"}


def test_the_ban_is_documented_on_every_write_of_a_player_and_every_admin_route(client):
    document = client.get("/api/openapi.json").json
    for path, item in document["paths"].items():
        for method, operation in item.items():
            endpoint = operation["operationId"]
            refused = endpoint.startswith("admin.") or (
                endpoint.startswith("api.") and method != "get"
                and endpoint != "api.revoke_token")  # sign-out stays open
            documented = "Player is banned." in operation.get("description", "")
            assert documented == refused, (method, path)
            if refused:
                assert "403" in operation["responses"], (method, path)
