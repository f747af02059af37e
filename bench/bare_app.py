"""The yardsticks for bench/http_load.py, served by the same gunicorn/gevent stack as the
service:

- ``GET /rows``: a Flask endpoint that returns 10 JSON rows, with nothing else;
- ``POST /api/scores/update``: the least an update can do, as the issue that set the
  targets describes it: check the JWT, one PostgreSQL round trip (the service's own
  ``complete_action`` procedure, so the database does the same work), and one Redis
  pipeline holding the rate-limit increment and the publish. No validation beyond that, no
  audit of refusals, no rank sets, no board bookkeeping, no fallbacks. It needs
  BARE_DATABASE_URL, BARE_REDIS_URL and BARE_JWT_SECRET.
"""

import os
import queue
import sys
from datetime import datetime, timezone
from pathlib import Path

import jwt
import psycopg2
import redis
from flask import Flask, jsonify, request
from psycogreen.gevent import patch_psycopg

# gunicorn runs this from bench/; the call and the windows are the service's own.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scoreboard.core import periods, ticket_ids
from scoreboard.data import rules  # noqa: E402

app = Flask(__name__)
ROWS = [{"userId": f"player{n:04d}", "score": 1000 - n, "rank": n + 1,
         "displayName": f"Player {n}"} for n in range(10)]


@app.get("/rows")
def rows():
    return jsonify(topScores=ROWS, version=1)


if os.environ.get("BARE_DATABASE_URL"):
    patch_psycopg()
    _connections = queue.LifoQueue()
    for _ in range(10):
        _connection = psycopg2.connect(os.environ["BARE_DATABASE_URL"])
        _connection.autocommit = True
        _connections.put(_connection)
    _redis = redis.Redis.from_url(os.environ["BARE_REDIS_URL"])
    _secret = os.environ["BARE_JWT_SECRET"]

    @app.post("/api/scores/update")
    def update():
        body = request.get_json()
        claims = jwt.decode(body["authToken"], _secret, algorithms=["HS256"])
        if claims["sub"] != body["userId"]:
            return jsonify(success=False), 403
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        day, week = periods.windows_of(now)
        connection = _connections.get()
        try:
            with connection.cursor() as cursor:
                cursor.execute(rules.CALL, {
                    "ticket": body["actionId"], "user": claims["sub"], "now": now,
                    "day": day, "week": week, "midnight": periods.day_start(now),
                    "request_id": None, "client_ip": None,
                    "issued": ticket_ids.issued_at(body["actionId"])})
                outcome, _, _, score, *_ = cursor.fetchone()
        finally:
            _connections.put(connection)
        pipe = _redis.pipeline(transaction=False)
        pipe.incr(f"bare:limit:{claims['sub']}")
        pipe.expire(f"bare:limit:{claims['sub']}", 60)
        pipe.publish("bare:changes", score)
        pipe.execute()
        if outcome != "accepted":
            return jsonify(success=False, error=outcome), 400
        return jsonify(success=True, userId=claims["sub"], newScore=score)
