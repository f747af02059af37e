"""No input turns into a 5xx: a table of hostile inputs, each in one place of an otherwise
valid request, sent to every route of the app (its url_map, so a new route is covered as
soon as it exists) on both backends. Each reply is below 500, every error is the JSON
error shape, and a request that is refused writes nothing.

Tokens with hostile claims, signed with the test secret, are sent to every route too: those
whose claims the service cannot use are refused (401) and write nothing; the others are
served with what fits of their claims (an unknown region dropped, a role that is not one).
"""

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from sqlalchemy import text

from scoreboard.data.db import db
from scoreboard.identity.auth import issue_token
from scoreboard.web import openapi

from ..harness import SECRET
from ..harness.players import Player, add_members

HEADER = {"alg": "HS256", "typ": "JWT"}
STREAM_WITHOUT_GEVENT = "Streaming needs the gunicorn gevent worker; poll /api/scores/top."
SENTINEL = "__HOSTILE__"

# A valid body for each route that reads one (openapi.OPERATIONS names them): the hostile
# part then is the only thing wrong with a request. World fills in the ``None`` values.
BODIES = {
    "api.start_action": {"actionType": "click"},
    "api.update_score": {"userId": "alice", "actionId": None},  # a ticket already completed
    "api.update_my_profile": {"displayName": "Alice", "region": "DE"},
    "api.create_group": {"name": "Crew"},
    "api.invite_group_member": {"userId": "carl"},
    "admin.hide": {"reason": "test"},
    "admin.unhide": {"reason": "test"},
    "admin.ban": {"reason": "test"},
    "admin.unban": {"reason": "test"},
    "admin.adjust": {"delta": 1, "reason": "test"},
    "stream.issue_ticket": {"group": None, "period": "week"},  # a ticket for Alice's group
}

# Whole bodies, sent as application/json to every route (most routes read a token, for
# which they parse the body too).
RAW_BODIES = {
    "nested-arrays": b"[" * 2000 + b"]" * 2000,
    "nested-objects": b'[{"a":' * 600 + b"1" + b"}]" * 600,
    "lone-surrogate-key": b'{"\\ud800": 1}',
    "utf16-lone-surrogate": '{"displayName": "\\ud800"}'.encode("utf-16"),
    "utf8-encoded-surrogate": b'{"displayName": "\xed\xa0\x80"}',  # Python's parser takes it
    "not-utf8": b'{"displayName": "\xff\xfe\xc0\xaf"}',
    "huge-number": b"9" * 4000,
    "nan": b"NaN",
    "nul": b"\x00",
    "truncated": b'{"displayName": "Al',
}

# Values for one field of a valid body, as JSON text.
FIELD_VALUES = {
    "lone-surrogate": '"\\ud800"',
    "reversed-pair": '"\\udc00\\ud800"',
    "nul": '"a\\u0000b"',
    "bidi-override": '"\\u202eecila"',
    "zero-width": '"Al\\u200bice"',
    "line-separator": '"Al\\u2028ice"',
    "ligatures": json.dumps("\ufb03" * 30),  # 30 characters, 90 once normalised
    "overlong": json.dumps("x" * 3000),
    "huge-integer": "9" * 3000,
    "huge-float": "1e400",
    "list": '["alice"]',
    "object": '{"a": 1}',
    "nested": "[" * 1500 + "]" * 1500,
}

# Query parameter values, as they appear in a URL.
QUERY_VALUES = ["a%00b", "%ED%A0%80", "%FF%FE", "%E2%80%AE", "9" * 3000, "-1", "%EF%BC%91",
                "99999-01-01", "9999-W52"]

# Path segments, as they appear in a URL.
PATH_VALUES = ["a%00b", "%ED%A0%80", "%FF", "%E2%80%AE", "x" * 3000, "..%2F..", "a%2Fb"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# Headers, on an otherwise valid request (the Authorization ones replace the player's
# token). Any client can send these, signed or not.
HEADERS = {
    "nested-token-header": {"Authorization": "Bearer " + b64url(b"[" * 1500) + ".e30."},
    "surrogate-token-header": {
        "Authorization": "Bearer " + b64url(b'{"alg":"HS256","kid":"\\ud800"}') + ".e30.e30"},
    "not-base64-token": {"Authorization": "Bearer \xff\xfe.\xff.\xff"},
    "overlong-token": {"Authorization": "Bearer " + "a" * 10_000},
    "forwarded-for-long": {"X-Forwarded-For": "a" * 300},
    "forwarded-for-nul": {"X-Forwarded-For": "1.2.3.4\x00"},
    "odd-others": {"X-Request-ID": "a\x00" + "x" * 3000, "If-None-Match": '"\x00", W/"\xff',
                   "Last-Event-ID": "\x00" + "9" * 3000, "X-Forwarded-Proto": "\x00javascript",
                   "Cookie": "scoreboard_token=\xff\x00; a=" + "b" * 3000,
                   "Origin": "\x00null"},
}

# Content types for a valid body.
CONTENT_TYPES = ["application/json; charset=utf-16", "application/json; charset=\xff",
                 "text/plain", "multipart/form-data; boundary=zzz",
                 "application/json-patch+json", ""]


def routes(app):
    """Every (rule, method) the app serves (HEAD is GET's; Flask answers OPTIONS itself)."""
    return [(rule, method) for rule in app.url_map.iter_rules()
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]


def url_of(rule, values: dict, **replaced) -> str:
    def part(match):
        name = match[2]
        if name in replaced:
            return replaced[name]
        assert name in values, f"no valid value for <{name}> of {rule.rule}: add one"
        return values[name]

    return openapi.CONVERTER.sub(part, rule.rule)


# Every row a request could write, as text, in one round trip on either database.
STATE = text(" UNION ALL ".join((
    "SELECT 'u' || id || '|' || display_name || '|' || coalesce(region, '') || '|' || score"
    " || '|' || hidden || '|' || banned FROM users",
    "SELECT 'g' || id || '|' || name || '|' || owner_id FROM groups",
    "SELECT 'm' || group_id || '|' || user_id FROM group_members",
    "SELECT 'i' || group_id || '|' || user_id FROM group_invitations",
    "SELECT 'a' || count(*) || '|' || coalesce(max(id), 0) FROM audit_events",
    "SELECT 't' || count(*) || '|' || count(completed_at) FROM action_tickets",
    "SELECT 'r' || jti FROM revoked_tokens",
    "SELECT 'w' || period || '|' || user_id || '|' || score || '|' || coalesce(region, '')"
    " FROM window_scores")))


def fingerprint(engine) -> list:
    """Everything a request could write, in a form cheap to compare."""
    with engine.connect() as connection:
        return sorted(connection.scalars(STATE))


class World:
    """Alice (an admin) with a score and a completed ticket, in a group with Bob."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        with app.app_context():
            self.alice = Player("alice", issue_token("alice", name="Alice", role="admin"),
                                self.client)
            bob = Player("bob", issue_token("bob", name="Bob"), self.client)
            self.document = openapi.document(app)
            self.engine = db.engine
        self.alice.play()
        bob.play()
        ticket = self.alice.start().json["actionId"]
        assert self.alice.complete(ticket).status_code == 200
        self.group = self.alice.client.post("/api/groups", json={"name": "Crew"},
                                            headers=self.alice.headers).json["groupId"]
        add_members(self.alice, self.group, bob)
        self.paths = {"user_id": "bob", "group_id": self.group, "filename": "style.css"}
        self.fills = {("api.update_score", "actionId"): ticket,
                      ("stream.issue_ticket", "group"): self.group}
        self.failures = []
        self.state = fingerprint(self.engine)

    def operation(self, rule, method) -> dict:
        """The document's entry for the route (none for static files)."""
        path = openapi.CONVERTER.sub(r"{\2}", rule.rule)
        return self.document["paths"].get(path, {}).get(method.lower(), {})

    def query_names(self, rule, method) -> list:
        """The query parameters the document gives the route (the view's ones too)."""
        operation = self.operation(rule, method)
        names = [name for parameter in operation.get("parameters", ())
                 if parameter["in"] == "query"
                 for name in parameter["schema"].get("properties", [parameter["name"]])]
        schemes = operation.get("security", ())
        return names + (["token"] if any("token" in scheme for scheme in schemes) else [])

    def body(self, endpoint: str) -> dict | None:
        """A valid body for the route, if it reads one."""
        declared = openapi.OPERATIONS[endpoint].body if endpoint in openapi.OPERATIONS else None
        if declared is None:
            return None
        assert endpoint in BODIES, f"no valid body for {endpoint}: add one to BODIES"
        body = {name: self.fills.get((endpoint, name), value)
                for name, value in BODIES[endpoint].items()}
        assert body.keys() <= declared.fields.keys()
        return body

    def send(self, what: str, method: str, url: str, data=None, headers=None,
             content_type="application/json", audited=False):
        """One request as Alice (unless ``headers`` say otherwise); its reply is checked,
        and a refusal must have written nothing (``audited``: but the audit row the design
        asks for when an authenticated player's update is refused)."""
        headers = {**self.alice.headers, **(headers or {})}
        reply = self.client.open(url, method=method, data=data, headers=headers,
                                 content_type=content_type if data is not None else None)
        where = f"{what}: {method} {url[:80]} -> {reply.status_code}"
        body = reply.get_json(silent=True) if reply.is_json else None
        if reply.status_code >= 500 and not (
                body and body.get("error") == STREAM_WITHOUT_GEVENT):  # the test client's
            self.failures.append(f"{where} {reply.get_data()[:200]!r}")
        if reply.status_code >= 400 and not (
                isinstance(body, dict) and body.get("success") is False
                and isinstance(body.get("error"), str) and body["error"]):
            self.failures.append(f"{where}, not the JSON error shape")
        after = fingerprint(self.engine)
        written = [row for row in after if row not in self.state]
        if reply.status_code >= 400 and written and not (
                audited and all(row.startswith("a") for row in written)):
            self.failures.append(f"{where}, and yet it wrote {written[:3]}")
        self.state = after
        reply.close()  # a static file's reply holds the file open
        return reply


@pytest.fixture
def world(make_app, backend):
    # Behind one proxy, so X-Forwarded-For is read.
    return World(make_app(backend, PROXY_HOPS=1))


def json_body(body: dict, field: str, value: str) -> bytes:
    return json.dumps({**body, field: SENTINEL}).replace(f'"{SENTINEL}"', value).encode()


def test_hostile_bodies_to_every_route_are_refused_not_5xx(world):
    for rule, method in routes(world.app):
        url = url_of(rule, world.paths)
        for name, data in RAW_BODIES.items():
            world.send(f"body {name}", method, url, data)
        body = world.body(rule.endpoint)
        if body is None:
            continue
        for field in body:
            for name, value in FIELD_VALUES.items():
                world.send(f"{field}={name}", method, url, json_body(body, field, value))
        for content_type in CONTENT_TYPES:
            world.send(f"content type {content_type!r}", method, url,
                       json.dumps(body).encode(), content_type=content_type)
    assert not world.failures, "\n".join(world.failures)


def test_hostile_query_path_and_headers_to_every_route_are_not_5xx(world):
    for rule, method in routes(world.app):
        body = world.body(rule.endpoint)
        data = None if body is None else json.dumps(body).encode()
        url = url_of(rule, world.paths)
        names = world.query_names(rule, method)
        for name in names:
            for value in QUERY_VALUES:
                world.send(f"?{name}", method, f"{url}?{name}={value}", data)
            world.send(f"?{name} twice", method, f"{url}?{name}=1&{name}=%00", data)
        if "at" in names:
            for period in ("day", "week"):
                for value in QUERY_VALUES:
                    world.send(f"?at of a {period}", method,
                               f"{url}?period={period}&at={value}", data)
        for argument in rule.arguments:
            for value in PATH_VALUES:
                world.send(f"<{argument}>", method,
                           url_of(rule, world.paths, **{argument: value}), data)
        for name, headers in HEADERS.items():
            world.send(f"header {name}", method, url, data, headers)
    assert not world.failures, "\n".join(world.failures)


def claims(sub="mallory", **extra) -> dict:
    now = int(time.time())
    return {"sub": sub, "iat": now, "nbf": now, "exp": now + 600, "jti": str(uuid.uuid4()),
            "type": "access", "fresh": False, "role": "admin", **extra}


def signed(payload: str) -> str:
    """A token over the payload's JSON text as given, signed with the test secret."""
    header = b64url(json.dumps(HEADER).encode())
    signing_input = f"{header}.{b64url(payload.encode())}"
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def with_claim(name: str, value_json: str, sub="mallory") -> str:
    """A signed token for ``sub`` whose claim ``name`` is the JSON text ``value_json``."""
    payload = json.dumps({**claims(sub), name: SENTINEL})
    return signed(payload.replace(f'"{SENTINEL}"', value_json))


# Claims, as JSON text, that make a token one the service cannot use (an admin's, were it
# used): refused, nothing written.
REFUSED_CLAIMS = {
    "name-nul": ("name", '"Mal\\u0000lory"'),
    "name-lone-surrogate": ("name", '"Mal\\ud800lory"'),
    "name-bidi-override": ("name", '"\\u202eyrollam"'),
    "name-zero-width": ("name", '"Mal\\u200blory"'),
    "name-line-separator": ("name", '"Mal\\u2028lory"'),
    "jti-nul": ("jti", '"a\\u0000b"'),
    "jti-lone-surrogate": ("jti", '"\\ud800"'),
    "jti-overlong": ("jti", json.dumps("j" * 300)),
    "sub-nul": ("sub", '"mal\\u0000lory"'),
    "sub-lone-surrogate": ("sub", '"\\ud800"'),
    "exp-as-text": ("exp", '"32503680000"'),  # the year 3000
    "exp-past-year-9999": ("exp", str(10**20)),
    "exp-infinity": ("exp", "Infinity"),
    "aud-list-of-numbers": ("aud", "[1, 2]"),
    "nested-claim": ("deep", "[" * 1500 + "]" * 1500),
}

# Odd claims that are dropped, or match nothing (a role no admin has), each in a token for
# a subject of its own: served, and the player is named as the last item says.
SERVED_CLAIMS = {
    "region-nul": ("rita", "region", '"D\\u0000E"', "rita"),
    "region-lone-surrogate": ("rosa", "region", '"\\ud800"', "rosa"),
    "role-lone-surrogate": ("rudi", "role", '"\\ud800"', "rudi"),
    "name-object": ("nora", "name", '{"first": "Al"}', "nora"),
    "name-long": ("nina", "name", json.dumps("N" * 500), "N" * 64),
    "name-compatibility-forms": ("nell", "name", '"\\uff2e\\uff45\\uff4c\\uff4c"', "Nell"),
}


def send_token(world, what: str, token: str, sub: str, audited=False) -> list:
    """The token, as a header, to every route with its valid body (an update naming
    ``sub``), and a group's view where the route shows views, as that needs a token; each
    route's document entry with its reply."""
    sent = []
    for rule, method in routes(world.app):
        body = world.body(rule.endpoint)
        if rule.endpoint == "api.update_score":
            body = {**body, "userId": sub}
        data = None if body is None else json.dumps(body).encode()
        url = url_of(rule, world.paths)
        if "group" in world.query_names(rule, method):
            url += f"?group={world.group}"
        reply = world.send(what, method, url, data, {"Authorization": f"Bearer {token}"},
                           audited=audited and rule.endpoint == "api.update_score")
        sent.append((world.operation(rule, method), reply))
    return sent


def test_tokens_with_claims_the_service_cannot_use_are_401_and_write_nothing(world):
    before = world.state
    for name, (claim, value) in REFUSED_CLAIMS.items():
        for operation, reply in send_token(world, f"token {name}", with_claim(claim, value),
                                           "mallory"):
            needs_token = any(operation.get("security", ()))
            if needs_token and reply.status_code != 401:
                world.failures.append(f"token {name}: {reply.request.method} "
                                      f"{reply.request.path} -> {reply.status_code}, not 401")
    assert not world.failures, "\n".join(world.failures)
    assert fingerprint(world.engine) == before


def test_tokens_with_odd_claims_are_served_with_what_fits(world):
    for name, (sub, claim, value, shown) in SERVED_CLAIMS.items():
        token = with_claim(claim, value, sub)
        first = world.send(f"token {name}", "GET", "/api/users/me",
                           headers={"Authorization": f"Bearer {token}"})
        assert first.status_code == 200, (name, first.json)
        assert (first.json["displayName"], first.json["region"]) == (shown, None), name
        send_token(world, f"token {name}", token, sub, audited=True)
    assert not world.failures, "\n".join(world.failures)


def test_ticket_ids_with_odd_moments_are_unknown_tickets(world):
    """An id holds its ticket's moment (core/ticket_ids.py): a made-up or altered one finds
    no ticket, on the look-up by key or by id, and is answered as any unknown ticket."""
    ticket = world.fills[("api.update_score", "actionId")]
    moment, rest = ticket[:16], ticket[16:]
    last = "_" if rest.endswith("-") else "-"  # another last character than the id's own
    odd = ["9" * 16 + rest, "0" * 16 + rest, f"{int(moment) + 1:016d}" + rest,
           rest,  # the form of the release before: no moment
           "1" * 48, "x" * 16 + rest, moment + rest[:-1] + last]
    url = "/api/scores/update"
    for action_id in odd:
        reply = world.send(f"actionId {action_id}", "POST", url, json.dumps(
            {"userId": "alice", "actionId": action_id}).encode(), audited=True)
        if reply.status_code != 400 or reply.json["error"] != "Unknown action ticket.":
            world.failures.append(f"{action_id}: {reply.status_code} {reply.get_data()[:200]!r}")
    replayed = world.send("the ticket itself", "POST", url, json.dumps(
        {"userId": "alice", "actionId": ticket}).encode())
    assert replayed.status_code == 200
    assert not world.failures, "\n".join(world.failures)
