"""The OpenAPI document against the real service: schemathesis generates requests from it
(the examples, coverage, fuzzing and stateful phases, every check) and a gunicorn server on
PostgreSQL and Redis answers them. No failure means the document says what the service
accepts and answers, status by status. Seeded, so a failure reproduces.

The stream, whose reply never ends, is left out; test_the_stream_answers_as_documented
checks its contract, and test_stream.py the rest of it.

The document is built in this process, at import, as schemathesis's pytest integration
needs it (its fixture-loaded schemas fail on pytest 9); the first test checks that the
server serves that same document.
"""

import itertools
import json

import pytest
import schemathesis
from hypothesis import settings

from scoreboard import create_app
from scoreboard.data.db import db
from scoreboard.web import openapi

from ..conftest import base_config, reset_postgres
from ..harness.databases import ADMIN_DB_URL
from ..harness.players import play_http, token_for
from ..harness.servers import Server, call

SEED = 1
# Per operation, for the fuzzing phase (the examples and coverage phases make as many cases
# as the document calls for); with the stateful scenarios, about a minute on two busy cores.
MAX_EXAMPLES = 25
SCENARIOS, STEPS = 50, 6
# One player, an admin so the moderation API answers too. Each request gets a token of its
# own, as one operation revokes the token it is called with. Each stateful scenario plays as
# a new player: a player's groups count against caps, and a scenario that found the caps
# reached where an earlier run of the same steps did not would take other steps (Hypothesis
# refuses such a run as flaky).
PLAYER = "schemathesis"
NOW_PLAYING = {"id": PLAYER}
STREAM = "/api/scores/stream"

# The server's settings are its environment's: the document of an app on the same defaults
# (which never connects to the database it names), and its signer of tokens.
APP = create_app(base_config(ADMIN_DB_URL, None))
schema = schemathesis.openapi.from_dict(
    openapi.document(APP),
    config=schemathesis.Config.from_dict({
        "seed": SEED, "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
        # A body past MAX_BODY_BYTES (a negative case's overlong token) is refused with 413
        # before it is read, as the design says: a rejection, which schemathesis's list of
        # them (its default, otherwise kept here) leaves out.
        "checks": {"negative_data_rejection": {"expected-statuses": [
            "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428",
            "429", "5xx"]}},
    }),
).exclude(path=STREAM)


@schema.auth(refresh_interval=None)
class FreshToken:
    def get(self, case, context):
        return token_for(APP, NOW_PLAYING["id"], role="admin")

    def set(self, case, token, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def server(database_url, redis_url, tmp_path_factory):
    """One gunicorn for the module, on this run's database reset to the seeded catalog,
    with rate limits raised so that they never refuse; stopped at the end."""
    app = create_app(base_config(database_url, None))
    reset_postgres(app)
    with app.app_context():
        db.engine.dispose()
    served = Server(database_url, redis_url, log_dir=tmp_path_factory.mktemp("schemathesis"),
                    STREAM_HEARTBEAT_SECONDS="0.3").start()
    yield served
    served.kill()


def test_the_server_serves_the_document_under_test(server):
    _, served, _ = call("GET", server.url + "/api/openapi.json")
    assert served == openapi.document(APP)


CALLS = {"stateless": 0, "stateful": 0}  # requests made, printed at the end (pytest -s)


@schema.parametrize()
def test_every_operation_answers_as_documented(case, server):
    CALLS["stateless"] += 1
    case.call_and_validate(base_url=server.url)


def test_the_stateful_flows_answer_as_documented(server):
    scenarios = itertools.count(1)

    class Flows(schema.as_state_machine()):
        def setup(self):
            NOW_PLAYING["id"] = f"{PLAYER}-{next(scenarios)}"

        def get_call_kwargs(self, case):
            return {"base_url": server.url}

        def after_call(self, response, case):
            super().after_call(response, case)
            CALLS["stateful"] += 1

    try:
        Flows.run(settings=settings(max_examples=SCENARIOS, stateful_step_count=STEPS,
                                    derandomize=True, database=None, deadline=None))
    finally:
        NOW_PLAYING["id"] = PLAYER
    print(f"\nschemathesis requests: {CALLS}")


def test_the_stream_answers_as_documented(server, open_stream):
    _, document, _ = call("GET", server.url + "/api/openapi.json")
    reply = document["paths"][STREAM]["get"]["responses"]["200"]
    board_fields = set(document["components"]["schemas"]["Board"]["required"])
    play_http(server.url, token_for(APP, "alice"), "alice")
    stream = open_stream(server.url + STREAM)
    assert stream.status == 200
    assert stream.headers["Content-Type"].split(";")[0] in reply["content"]
    assert "retry" in stream.next()
    while True:  # the worker's board may show alice's play a frame later
        frame = stream.next()
        assert frame is not None and frame["event"] == "scoreboard", frame
        board = json.loads(frame["data"])
        assert set(board) == board_fields and frame["id"] == str(board["version"])
        if any(row["userId"] == "alice" for row in board["topScores"]):
            break
    again = open_stream(server.url + STREAM, {"Last-Event-ID": frame["id"]})
    assert "retry" in again.next()
    assert again.next() == {"comment": "heartbeat"}  # not the snapshot it already has
