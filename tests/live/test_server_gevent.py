"""psycopg2 under gevent: a query waiting on PostgreSQL must not freeze the worker."""

import threading

import psycopg2

from scoreboard.identity.auth import issue_token

from ..harness.databases import lock_waits
from ..harness.servers import call
from ..harness.waiting import wait_for


def test_waiting_query_does_not_block_other_requests(serve, database_url, redis_url):
    start, app = serve
    server = start(redis_url, WEB_CONCURRENCY="1")
    with app.app_context():
        token = issue_token("alice")
    _, ticket, _ = call("POST", server.url + "/api/actions/start", {"actionType": "click"},
                        {"Authorization": f"Bearer {token}"})
    # Hold the ticket's row lock from outside, so the update waits inside PostgreSQL.
    blocker = psycopg2.connect(database_url)
    cur = blocker.cursor()
    cur.execute("SELECT id FROM action_tickets WHERE id = %s FOR UPDATE", (ticket["actionId"],))
    replies = []
    update = threading.Thread(target=lambda: replies.append(call(
        "POST", server.url + "/api/scores/update",
        {"userId": "alice", "authToken": token, "actionId": ticket["actionId"]})[:2]))
    update.start()
    try:
        wait_for(lambda: lock_waits(database_url) == 1, "the update to wait on the row lock",
                 show=lambda: replies)
        assert not replies
        # The only worker is waiting on PostgreSQL for the update, and still serves this.
        status, body, _ = call("GET", server.url + "/healthz", timeout=20)
        assert (status, body) == (200, {"status": "ok"})
        assert not replies
    finally:
        blocker.rollback()
        blocker.close()
        update.join(timeout=60)
    assert replies == [(200, {"success": True, "message": "Score updated successfully.",
                              "updatedScore": 1})]
