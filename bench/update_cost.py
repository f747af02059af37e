"""What one accepted update costs a worker in its own process, without the HTTP server: CPU
time per update and, with ``--instructions``, the instructions valgrind's callgrind counts.

The machine's other tenants move CPU time by a quarter from run to run; an instruction count
moves by a few thousandths, so it can tell a change of a few per cent, and its ablations
(what a part costs is what the count drops by without it) can be trusted. Use it to decide
what to change, then confirm with bench/http_load.py, which measures the whole server.

The app runs on a fresh PostgreSQL database and a redis-server of its own, and N updates
(each completing a ticket of its own) go through its whole WSGI stack: middleware, Flask,
the drivers. As in a gevent worker, each update's change notice goes to Redis before its
reply (RedisStore.send, read-your-writes): one update at a time, that is a round trip of its
own after the gate's, which concurrent updates in a worker share.
``--instructions`` runs this script twice under callgrind, with 100 and 500 updates, and
reports the difference per update: start-up, imports and warm-up cancel out.

``--batches`` says how the gate's and the notice's commands go to Redis: packed by hand
(the store's Commands, the default), on redis-py's own pipeline, or ``both``: then the
updates alternate between the two in blocks, in one process and on one database, and the
figures of each are compared (for instructions, each kind is counted on its own runs).

``--redis cluster`` runs the app on a Redis Cluster of its own (six nodes, as the tests
start them: tests/harness/cluster.py): there a batch packed by hand is one per node
(ClusterCommands), and redis-py's pipeline is its cluster pipeline.

    .venv/bin/python bench/update_cost.py
    .venv/bin/python bench/update_cost.py --instructions
    .venv/bin/python bench/update_cost.py --batches both [--instructions]
    .venv/bin/python bench/update_cost.py --redis cluster [--instructions]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from werkzeug.test import EnvironBuilder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_load import tickets  # noqa: E402
from bench.stream_fanout import fresh_database  # noqa: E402
from scoreboard import adapters, create_app  # noqa: E402
from scoreboard.identity.auth import issue_token  # noqa: E402
from tests.harness import SECRET  # noqa: E402
from tests.harness.cluster import RedisClusterServers  # noqa: E402
from tests.harness.databases import drop_database  # noqa: E402
from tests.harness.servers import RedisServer  # noqa: E402

WARM_UP = 200
PLAYERS = 200
BATCHES = ("packed", "pipeline")
BLOCKS = 10  # per kind of batch: the kinds take turns, so drift spreads over both


def cpu_per_update(updates: int, kinds=("packed",), cluster=False) -> dict[str, float]:
    """Complete ``updates`` updates after a warm-up, each kind of batch (BATCHES) in turn;
    worker CPU µs per update, by kind. With ``cluster``, on a Redis Cluster."""
    name = f"scoreboard_update_cost_{os.getpid()}"
    database = fresh_database(name)
    try:
        return cost_on(database, updates, kinds, cluster)
    finally:
        drop_database(name)


def cost_on(database: str, updates: int, kinds=("packed",), cluster=False) -> dict[str, float]:
    """``cpu_per_update`` on an existing, migrated and seeded database (bench/growth.py's
    large one): its PLAYERS are added to it, if not there."""
    folder = Path(tempfile.mkdtemp(prefix="update-cost-"))
    own_redis = (RedisClusterServers if cluster else RedisServer)(folder).start()
    stop_redis = own_redis.stop if cluster else own_redis.kill
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": database, "REDIS_URL": own_redis.url,
                          "JWT_SECRET_KEY": SECRET, "LOG_LEVEL": "WARNING",
                          "RATELIMIT_IP": "100000000/minute",
                          "RATELIMIT_START": "100000000/minute",
                          "RATELIMIT_UPDATE": "100000000/minute"})
        # As under gevent: a notice is flushed by a greenlet of its own, which the update
        # waits for (RedisStore.send).
        adapters.of(app).store.deferred = True
        players = [f"p{n:04d}" for n in range(PLAYERS)]
        with app.app_context():
            tokens = {p: issue_token(p, name=f"Player {p}") for p in players}
        client = app.test_client()
        for player in players:  # every player exists and scores today
            started = client.post("/api/actions/start", json={"actionType": "click"},
                                  headers={"Authorization": f"Bearer {tokens[player]}"})
            assert started.status_code == 201, started.json
        environs = [EnvironBuilder(
            path="/api/scores/update", method="POST", content_type="application/json",
            data=json.dumps({"userId": u, "authToken": tokens[u], "actionId": t}),
            environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()
            for t, u in tickets(database, players, WARM_UP + updates)]

        def start_response(status, headers, exc_info=None):
            assert status.startswith("200"), status

        for environ in environs[:WARM_UP]:
            b"".join(app(environ, start_response))
        redis = adapters.of(app).store
        spent, done = dict.fromkeys(kinds, 0.0), dict.fromkeys(kinds, 0)
        blocks = BLOCKS * len(kinds)
        for block in range(blocks):
            kind = kinds[block % len(kinds)]
            redis.packed = kind == "packed"
            chunk = environs[WARM_UP + updates * block // blocks:
                             WARM_UP + updates * (block + 1) // blocks]
            began = time.process_time()
            for environ in chunk:
                b"".join(app(environ, start_response))
            spent[kind] += time.process_time() - began
            done[kind] += len(chunk)
        return {kind: spent[kind] / done[kind] * 1e6 for kind in kinds}
    finally:
        stop_redis()


def instructions(updates: int, kind: str, redis: str) -> int:
    """The instructions callgrind counts for a whole run of this script with ``updates``,
    whose batches are of ``kind``, on ``redis`` (single or cluster)."""
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         __file__, "--updates", str(updates), "--batches", kind, "--redis", redis],
        capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONHASHSEED": "0", "PYTHONMALLOC": "malloc"})
    return int(re.search(r"Collected : (\d+)", run.stderr)[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions under valgrind (about two minutes a kind)")
    parser.add_argument("--batches", choices=[*BATCHES, "both"], default="packed",
                        help="how the gate and the notice go to Redis: packed by hand, on "
                        "redis-py's pipeline, or both, compared")
    parser.add_argument("--redis", choices=("single", "cluster"), default="single",
                        help="one redis-server, or a six-node cluster")
    args = parser.parse_args()
    cluster = args.redis == "cluster"
    kinds = BATCHES if args.batches == "both" else (args.batches,)
    if args.instructions:
        figures = {kind: (instructions(500, kind, args.redis)
                          - instructions(100, kind, args.redis)) / 400 for kind in kinds}
        unit, name = "", "instructions per update"
    else:
        figures = cpu_per_update(args.updates, kinds, cluster)
        unit, name = " µs", "CPU per update"
    print(f"{name}: " + ", ".join(f"{kind} {figure:,.0f}{unit}"
                                  for kind, figure in figures.items()))
    if len(figures) == 2:
        saved = figures["pipeline"] - figures["packed"]
        print(f"packing by hand saves {saved:,.0f}{unit} an update: "
              f"{saved / figures['pipeline']:.1%} of an update on redis-py's pipeline")


if __name__ == "__main__":
    main()
