"""The yardstick for bench/http_load.py: a Flask endpoint that returns 10 JSON rows, with
nothing else, served by the same gunicorn/gevent stack as the service."""

from flask import Flask, jsonify

app = Flask(__name__)
ROWS = [{"userId": f"player{n:04d}", "score": 1000 - n, "rank": n + 1,
         "displayName": f"Player {n}"} for n in range(10)]


@app.get("/rows")
def rows():
    return jsonify(topScores=ROWS, version=1)
