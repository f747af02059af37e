"""HTTP hot paths on ONE gunicorn gevent worker, each as a share of a bare Flask endpoint
that returns 10 JSON rows on the same stack, measured in the same run.

It starts a fresh PostgreSQL database and a redis-server of its own, a gunicorn with one
gevent worker (rate limits raised so that they never refuse), and 1,000 players who all
score today, so that every update can move a board (the worst case). Then, with wrk
(Debian package) at 16 connections: GET /api/scores/top, POST /api/actions/start and
POST /api/scores/update (every request a unique ticket, each counted once: wrk's non-2xx
count must stay 0), each between two runs of the bare endpoint; 3,000 stream opens to
their first frame; an update on one connection (p50); the database and Redis round trips of
one accepted update in this process through the Flask test client, and per update on the
server under load: Redis's read events, commands and CPU, and the CPU of the PostgreSQL
backends serving the benchmark's database (the capacity model of docs/SCALING.md). Last, the least an update can do (bench/bare_app.py:
the JWT, the same procedure call, one Redis pipeline) on the same stack, as a ceiling.
``verify`` must be clean after. Each wrk run, and the stream opens, also report the
worker's CPU time per request, read from /proc: a machine whose other tenants slow
everything down moves it far less than the request rates.

With ``--redis cluster`` the service runs on a Redis Cluster of its own instead (six nodes:
three primaries, each with a replica, as the tests start them: tests/harness/cluster.py),
and Redis's figures are the primaries' summed; the bare endpoint keeps its one redis-server,
so that the yardstick is the same in both runs.

With ``--listener`` a second instance (one worker, the same database, Redis and prefix)
serves nothing but holds the global board, as every worker does, while the updates run:
its CPU per update is what hearing the change notices costs each other worker of a fleet,
and on one Redis the notices of an update are published again 20,000 times to measure what
one costs it (bench/notice_cost.py).
With ``--json FILE`` the figures per update, per read and per stream open go to FILE, for
bench/capacity.py (docs/SCALING.md, "Capacity").

    .venv/bin/python bench/http_load.py --players 1000 --seconds 10 [--redis cluster] \
        [--listener] [--json FILE]
"""

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import psycopg2
import redis.connection
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.notice_cost import caught_notices, cost_per_notice
from bench.stream_fanout import (  # noqa: E402
    cpu_seconds,
    fresh_database,
    notices_sent,
    redis_info,
    worker_pid,
    write_json,
)
from scoreboard import create_app  # noqa: E402
from scoreboard.core import clock, ticket_ids  # noqa: E402
from scoreboard.data.db import db  # noqa: E402
from scoreboard.identity.auth import issue_token  # noqa: E402
from tests.harness import SECRET  # noqa: E402
from tests.harness.cluster import RedisClusterServers  # noqa: E402
from tests.harness.players import play_http  # noqa: E402
from tests.harness.servers import RedisServer, Server, free_port, stop, wait_for_port  # noqa: E402

LUA = Path(__file__).with_name("http_load.lua")
STREAM_REQUEST = b"GET /api/scores/stream HTTP/1.1\r\nHost: bench\r\n\r\n"
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(url: str, seconds: float, connections=16, script=(), worker=None) -> dict:
    """One wrk run; requests/s, p50 and p99 in ms, the replies that were not 2xx/3xx, and the
    CPU time the ``worker`` process spent per request (µs): a figure the machine's other
    tenants move much less than the request rate."""
    cpu_before = cpu_seconds(worker) if worker else None
    command = ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--latency"]
    if script:
        command += ["-s", str(LUA), url, "--", *script]
    else:
        command.append(url)
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout

    def latency(label):
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out).groups()
        return float(value) * UNITS[unit]

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    requests = int(re.search(r"(\d+) requests in", out)[1])
    return {"rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
            "p50": latency("50%"), "p99": latency("99%"),
            "bad": int(bad[1]) if bad else 0, "errors": errors[1] if errors else None,
            "requests": requests,
            "cpu_us": (cpu_seconds(worker) - cpu_before) / requests * 1e6 if worker else None}


def tickets(database: str, players: list[str], count: int) -> list[tuple[str, str]]:
    """``count`` fresh click tickets, dealt to the players in turn, with ids as a start
    issues them (holding their moment: core/ticket_ids.py): (ticket id, user id)."""
    issued = clock.system_now() - timedelta(minutes=1)
    moments = [issued + timedelta(microseconds=n) for n in range(count)]
    made = [(ticket_ids.new(moment), players[n % len(players)])
            for n, moment in enumerate(moments)]
    with psycopg2.connect(database) as conn, conn.cursor() as cur:
        cur.execute(
            """INSERT INTO action_tickets
                   (id, user_id, action_type, points, created_at, not_before, expires_at)
               SELECT t.id, t.user_id, 'click', 1, t.at, t.at, t.at + interval '1 hour'
               FROM unnest(%s::text[], %s::text[], %s::timestamp[]) AS t(id, user_id, at)""",
            ([ticket for ticket, _ in made], [user for _, user in made], moments))
    conn.close()
    return made


def redis_stats(urls: list[str]) -> dict:
    """What the Redis servers at ``urls`` have done so far, summed: read events (one per
    round trip a client makes), commands, and CPU seconds."""
    stats = {"reads": 0, "commands": 0, "cpu": 0.0}
    for info in redis_info(urls, "all"):
        stats["reads"] += info["total_reads_processed"]
        stats["commands"] += info["total_commands_processed"]
        stats["cpu"] += info["used_cpu_user"] + info["used_cpu_sys"]
    return stats


def primaries(cluster: RedisClusterServers | None, own_redis: RedisServer) -> list[str]:
    """The servers that serve the service's commands: the cluster's primaries, or the one."""
    if cluster is None:
        return [own_redis.url]
    return [f"redis://127.0.0.1:{port}" for port in cluster.primary_ports()]


def database_cpu(database: str) -> dict[int, float]:
    """CPU seconds spent so far by each PostgreSQL backend connected to ``database`` (the
    server's own background processes are not counted: WAL writer, checkpointer)."""
    with psycopg2.connect(database) as conn, conn.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()")
        pids = [pid for (pid,) in cur.fetchall()]
    conn.close()
    spent = {}
    for pid in pids:
        try:
            spent[pid] = cpu_seconds(pid)
        except FileNotFoundError:
            pass  # the backend has just ended
    return spent


def hearing_rate(pid: int | None, before: tuple[float, float], updates: int) -> dict | None:
    """The listener's CPU (s/s) and the updates a second since ``before`` (its CPU seconds,
    the monotonic time): at two rates they part the cost that grows with the updates from
    the one that does not (the refresher's reads, capped per view; the idle loops), and
    with none the loops' own."""
    if pid is None:
        return None
    elapsed = time.monotonic() - before[1]
    return {"updates_per_second": updates / elapsed,
            "cpu_per_second": (run_seconds(pid) - before[0]) / elapsed}


def run_seconds(pid: int) -> float:
    """CPU seconds of every thread of ``pid``, as the scheduler counts them (ns): a clock
    tick of /proc/PID/stat (10 ms) is too coarse for a few % of a core over 5 s."""
    return sum(int((task / "schedstat").read_text().split()[0])
               for task in Path(f"/proc/{pid}/task").iterdir()) / 1e9


def write_lines(path: Path, lines) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


async def open_streams(port: int, count: int) -> float:
    """Open ``count`` streams at once; seconds until every one has its first snapshot."""
    loop = asyncio.get_running_loop()
    remaining = count
    done = loop.create_future()

    class First(asyncio.Protocol):
        seen = b""

        def connection_made(self, transport):
            transport.write(STREAM_REQUEST)

        def data_received(self, data):
            nonlocal remaining
            if self.seen is None:
                return
            self.seen += data
            if b"event: scoreboard" in self.seen:
                self.seen = None
                remaining -= 1
                if remaining == 0:
                    done.set_result(time.monotonic())

    began = time.monotonic()
    transports = []
    for start in range(0, count, 500):
        made = await asyncio.gather(*(loop.create_connection(First, "127.0.0.1", port)
                                      for _ in range(min(500, count - start))))
        transports += [t for t, _ in made]
    finished = await asyncio.wait_for(done, 120)
    for transport in transports:
        transport.close()
    return finished - began


def round_trips(database: str, redis_url: str, prefix: str, token: str, user: str,
                samples=20) -> tuple[float, float]:
    """Database and Redis round trips of one accepted update (median), counted below the
    drivers: every statement, COMMIT and ROLLBACK sent to PostgreSQL, every write to Redis."""
    counts = {"db": 0, "redis": 0}

    class Cursor(psycopg2.extensions.cursor):
        def execute(self, *args, **kwargs):
            counts["db"] += 1
            return super().execute(*args, **kwargs)

    class Connection(psycopg2.extensions.connection):
        def cursor(self, *args, **kwargs):
            kwargs.setdefault("cursor_factory", Cursor)
            return super().cursor(*args, **kwargs)

        def commit(self):
            counts["db"] += self.status == psycopg2.extensions.STATUS_BEGIN
            return super().commit()

        def rollback(self):
            counts["db"] += self.status == psycopg2.extensions.STATUS_BEGIN
            return super().rollback()

    send = redis.connection.AbstractConnection.send_packed_command

    def counted_send(self, *args, **kwargs):
        counts["redis"] += 1
        return send(self, *args, **kwargs)

    def counting(dialect, record, cargs, cparams):
        cparams["connection_factory"] = Connection

    redis.connection.AbstractConnection.send_packed_command = counted_send
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": database, "REDIS_URL": redis_url,
                          "REDIS_PREFIX": prefix, "JWT_SECRET_KEY": SECRET,
                          "RATELIMIT_IP": "1000000/minute",
                          "RATELIMIT_UPDATE": "1000000/minute", "LOG_LEVEL": "WARNING"})
        with app.app_context():
            for engine in db.engines.values():  # the session's, and the autocommit one
                event.listen(engine, "do_connect", counting)
                engine.dispose()
        client = app.test_client()
        found = {"db": [], "redis": []}
        for (ticket, _), n in zip(tickets(database, [user], samples + 2), range(samples + 2)):
            counts.update(db=0, redis=0)
            reply = client.post("/api/scores/update", json={
                "userId": user, "authToken": token, "actionId": ticket})
            assert reply.status_code == 200, reply.json
            if n >= 2:  # the first ones open the pools
                found["db"].append(counts["db"])
                found["redis"].append(counts["redis"])
        return statistics.median(found["db"]), statistics.median(found["redis"])
    finally:
        redis.connection.AbstractConnection.send_packed_command = send


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--players", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--streams", type=int, default=3000)
    parser.add_argument("--redis", choices=("single", "cluster"), default="single",
                        help="the service's Redis: one redis-server, or a six-node cluster")
    parser.add_argument("--listener", action="store_true",
                        help="measure a second, idle instance hearing the updates' notices")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"http-bench-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    database = fresh_database("scoreboard_http_bench")
    own_redis = RedisServer(tmp).start()
    cluster = None
    if args.redis == "cluster":
        (tmp / "cluster").mkdir(exist_ok=True)
        cluster = RedisClusterServers(tmp / "cluster").start()
    redis_url = cluster.url if cluster else own_redis.url
    server = Server(database, redis_url, log_dir=tmp, WEB_CONCURRENCY="1",
                    STREAM_MAX_PER_IP="1000000", WORKER_CONNECTIONS=str(args.streams + 1000),
                    RATELIMIT_IP="100000000/minute", RATELIMIT_START="100000000/minute",
                    RATELIMIT_UPDATE="100000000/minute").start()
    listener = Server(database, redis_url, log_dir=tmp, WEB_CONCURRENCY="1",
                      REDIS_PREFIX=server.env["REDIS_PREFIX"]).start() if args.listener else None
    bare_port = free_port()
    # gunicorn.conf.py's serving settings without its hooks for the service (run from bench/,
    # where gunicorn finds no gunicorn.conf.py to load by itself).
    bare = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "--worker-connections",
         "12000", "--keep-alive", "5", "-b", f"127.0.0.1:{bare_port}", "bare_app:app"],
        cwd=ROOT / "bench", stderr=subprocess.DEVNULL,
        env={**os.environ, "BARE_DATABASE_URL": database, "BARE_REDIS_URL": own_redis.url,
             "BARE_JWT_SECRET": SECRET})
    try:
        wait_for_port(bare_port, bare)
        tokens_app = create_app({"SQLALCHEMY_DATABASE_URI": database, "JWT_SECRET_KEY": SECRET})
        players = [f"p{n:04d}" for n in range(args.players)]
        with tokens_app.app_context():
            tokens = {p: issue_token(p, name=f"Player {p}") for p in players}
        began = time.monotonic()
        with ThreadPoolExecutor(16) as pool:  # everyone scores today: every update can move
            list(pool.map(lambda p: play_http(server.url, tokens[p], p), players))
        print(f"seeded {len(players)} players in {time.monotonic() - began:.1f} s", flush=True)

        results, bare_rates, bare_cpu = {}, [], []
        workers = {"bare": worker_pid(bare.pid), "server": worker_pid(server.proc.pid)}
        if listener:
            workers["listener"] = worker_pid(listener.proc.pid)

        def measure_bare():
            run = wrk(f"http://127.0.0.1:{bare_port}/rows", args.seconds,
                      worker=workers["bare"])
            bare_rates.append(run["rate"])
            bare_cpu.append(run["cpu_us"])

        # The machine's speed drifts over a run (other tenants), so each path is compared
        # with the bare endpoint measured just before and just after it.
        wrk(f"http://127.0.0.1:{bare_port}/rows", 2)  # warm-up
        wrk(server.url + "/api/scores/top", 2)
        measure_bare()
        results["top"] = wrk(server.url + "/api/scores/top", args.seconds,
                             worker=workers["server"])
        measure_bare()
        results["start"] = wrk(server.url, args.seconds, worker=workers["server"], script=(
            "start", str(write_lines(tmp / "tokens.txt", [tokens[p] for p in players] * 50))))
        measure_bare()
        budget = int(max(results["start"]["rate"], 200) * args.seconds * 3)
        bodies = [json.dumps({"userId": u, "authToken": tokens[u], "actionId": t})
                  for t, u in tickets(database, players, budget)]
        serving = primaries(cluster, own_redis)
        listener_before = None
        if listener:  # it holds the global board, as a worker serving reads does
            play_http(listener.url, tokens[players[0]], players[0])
            urllib.request.urlopen(listener.url + "/api/scores/top").read()
            listener_before = run_seconds(workers["listener"]), time.monotonic()
            time.sleep(3)  # no updates: its loops' own cost
            idle = hearing_rate(workers["listener"], listener_before, 0)
            listener_before = run_seconds(workers["listener"]), time.monotonic()
        notices_before = notices_sent(serving)
        redis_before, database_before = redis_stats(serving), database_cpu(database)
        results["update"] = wrk(server.url, args.seconds, worker=workers["server"], script=(
            "update", str(write_lines(tmp / "updates.txt", bodies))))
        redis_after, database_after = redis_stats(serving), database_cpu(database)
        updates = results["update"]["requests"]
        notices = (notices_sent(serving) - notices_before) / updates
        hearing = [hearing_rate(workers.get("listener"), listener_before, updates)]
        per_update = {name: (redis_after[name] - redis_before[name]) / updates
                      for name in redis_after}
        per_update["database_cpu"] = sum(
            spent - database_before.get(pid, 0.0)
            for pid, spent in database_after.items()) / updates
        measure_bare()
        bodies = [json.dumps({"userId": u, "authToken": tokens[u], "actionId": t})
                  for t, u in tickets(database, players, budget * 2)]
        results["bare_update"] = wrk(f"http://127.0.0.1:{bare_port}", args.seconds,
                                     worker=workers["bare"], script=(
            "update", str(write_lines(tmp / "bare-updates.txt", bodies))))
        measure_bare()
        for name, (before, after) in zip(("top", "start", "update", "bare_update"),
                                         zip(bare_rates, bare_rates[1:])):
            results[name]["bare"] = (before + after) / 2
        single = [json.dumps({"userId": u, "authToken": tokens[u], "actionId": t})
                  for t, u in tickets(database, players, 20000)]
        if listener:
            listener_before = run_seconds(workers["listener"]), time.monotonic()
        results["single"] = wrk(server.url, 5, connections=1, script=(
            "update", str(write_lines(tmp / "single.txt", single))))
        hearing.append(hearing_rate(workers.get("listener"), listener_before,
                                    results["single"]["requests"]))
        replay = None
        if listener:
            hearing.append(idle)
        if listener and not cluster:
            caught = caught_notices(own_redis.url, server.env["REDIS_PREFIX"],
                                    lambda: play_http(server.url, tokens[players[1]], players[1]))
            replay = cost_per_notice(own_redis.url, caught,
                                     lambda: run_seconds(workers["listener"]))
        cpu_before = cpu_seconds(workers["server"])
        elapsed = asyncio.run(open_streams(server.port, args.streams))
        results["streams"] = {
            "rate": args.streams / elapsed,
            "cpu_us": (cpu_seconds(workers["server"]) - cpu_before) / args.streams * 1e6}
        measure_bare()
        results["streams"]["bare"] = bare_rates[-1]
        trips = round_trips(database, redis_url, server.env["REDIS_PREFIX"],
                            tokens[players[0]], players[0])
        verified = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "scoreboard", "verify"],
            cwd=ROOT, env=server.env, capture_output=True, text=True)
    finally:
        server.stop()
        if listener:
            listener.stop()
        stop(bare, signal.SIGQUIT)
        own_redis.kill()
        if cluster:
            cluster.stop()

    summed = " (Redis figures: its primaries' summed)" if cluster else ""
    print(f"\nthe service on {args.redis} Redis{summed}")
    print("bare 10-row endpoint, each run:", ", ".join(f"{r:.0f}" for r in bare_rates),
          "req/s;", ", ".join(f"{c:.0f}" for c in bare_cpu), "µs of worker CPU per request\n")
    cpu_bare = statistics.mean(bare_cpu)
    print("| path | req/s | share of the 10-row endpoint | p50 ms | p99 ms "
          "| worker CPU µs per request | CPU share (bare's CPU / the path's) |")
    print("|---|---|---|---|---|---|---|")
    for name, label in [("top", "`GET /api/scores/top`"),
                        ("start", "`POST /api/actions/start`"),
                        ("update", "`POST /api/scores/update`, accepted"),
                        ("bare_update", "the least an update can do (bench/bare_app.py)"),
                        ("streams", f"stream opens, {args.streams:,} streams to first frame")]:
        r = results[name]
        p50 = f"{r['p50']:.1f}" if "p50" in r else ""
        p99 = f"{r['p99']:.1f}" if "p99" in r else ""
        cpu = (f"{r['cpu_us']:.0f} | {cpu_bare / r['cpu_us']:.3f}" if r.get("cpu_us")
               else " | ")
        print(f"| {label} | {r['rate']:.1f} | {r['rate'] / r['bare']:.3f} | {p50} | {p99} "
              f"| {cpu} |")
    # A run with failed requests measured something else than its path (the least update
    # answering 500s ran fast): its figures must not be taken.
    failed = [name for name, r in results.items() if r.get("bad") or r.get("errors")]
    for name in failed:
        print(f"!! {name}: {results[name]['bad']} non-2xx replies, socket errors: "
              f"{results[name]['errors']}")
    update, least = results["update"], results["bare_update"]
    print(f"\nthe service's update against the least an update can do: "
          f"{update['rate'] / least['rate']:.2f} of its rate, "
          f"{least['cpu_us'] / update['cpu_us']:.2f} of its CPU share")
    print(f"updates: {results['update']['requests']} accepted at c=16; "
          f"single connection p50 {results['single']['p50']:.2f} ms, "
          f"p99 {results['single']['p99']:.2f} ms")
    print(f"round trips per accepted update: database {trips[0]:g}; Redis {trips[1]:g} alone "
          f"(test client, no gevent), {per_update['reads']:.2f} on the server at c=16")
    print(f"per accepted update at c=16: worker CPU {update['cpu_us']:.0f} µs, PostgreSQL "
          f"backends' CPU {per_update['database_cpu'] * 1e6:.0f} µs, Redis CPU "
          f"{per_update['cpu'] * 1e6:.0f} µs and {per_update['commands']:.2f} commands")
    print(f"change notices sent per update: {notices:.2f}")
    heard = None
    if listener:
        heard = hearing[0]["cpu_per_second"] / hearing[0]["updates_per_second"]
        print("an idle instance's worker hearing them: " + ", ".join(
            f"{h['cpu_per_second'] * 100:.1f} % of a core at {h['updates_per_second']:.0f} "
            "updates/s" for h in hearing))
    if replay:
        print(f"notices published again ({replay['messages']} at "
              f"{replay['messages_per_second']:.0f}/s): {replay['cpu_us_per_message']:.1f} µs "
              "of the listener's CPU each")
    if args.json:
        write_json(args.json, {
            "bench": "http_load", "redis": args.redis, "primaries": len(serving),
            "players": args.players, "updates_per_second": update["rate"],
            "per_update": {"worker_cpu_us": update["cpu_us"],
                           "database_cpu_us": per_update["database_cpu"] * 1e6,
                           "redis_cpu_us": per_update["cpu"] * 1e6,
                           "redis_commands": per_update["commands"],
                           "redis_reads": per_update["reads"], "notices": notices,
                           "listener_cpu_us": heard and heard * 1e6},
            "hearing": hearing, "replayed_notices": replay,
            "per_read": {"worker_cpu_us": results["top"]["cpu_us"]},
            "per_stream_open": {"worker_cpu_us": results["streams"]["cpu_us"]},
            "bare_cpu_us": cpu_bare, "verify_clean": not verified.returncode})
    print("verify:", verified.stdout.strip().splitlines()[-1] if verified.stdout else
          verified.stderr.strip()[-300:])
    if verified.returncode:
        sys.exit("verify found differences")
    if failed:
        sys.exit(f"requests failed in: {', '.join(failed)}")


if __name__ == "__main__":
    main()
