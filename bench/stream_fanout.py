"""Stream fan-out benchmark: N SSE clients on ONE gunicorn gevent worker, K real updates.

For each N it starts a fresh server (PostgreSQL + a redis-server of its own), opens N streams
from an asyncio client (uvloop when installed), makes K updates through the HTTP API one at a
time, and prints: clients connected, fraction delivered, delivery latency from the update's
response to each client's receipt (p50/p99/max), worker CPU per client per frame, worker
memory per client, Redis clients, and the load generator's own CPU use.

With ``--json FILE`` it also writes every row, with the change notices Redis sent per
update (``PUBLISH`` and ``SPUBLISH`` calls, scripts' included), to FILE for
bench/capacity.py.

    .venv/bin/python bench/stream_fanout.py --clients 1000 5000 10000 --updates 20
"""

import argparse
import asyncio
import atexit
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness.databases import create_database, drop_database  # noqa: E402
from tests.harness.players import play_http  # noqa: E402
from tests.harness.servers import RedisServer, Server  # noqa: E402

REQUEST = b"GET /api/scores/stream HTTP/1.1\r\nHost: bench\r\n\r\n"
EVENT_ID = re.compile(rb"id: (\d+)\n")
TICKS = os.sysconf("SC_CLK_TCK")


def fresh_database(name: str) -> str:
    """A new database, migrated and seeded by the same commands as the Procfile's release,
    named for this process (two benches at once must not share one) and dropped at exit."""
    name = f"{name}_{os.getpid()}"
    url = create_database(name)
    atexit.register(drop_database, name)
    env = {**os.environ, "DATABASE_URL": url, "JWT_SECRET_KEY": "b" * 40}
    for command in (["db", "upgrade"], ["scoreboard", "seed"]):
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *command],
                       cwd=ROOT, env=env, check=True, capture_output=True)
    return url


def worker_pid(master: int, timeout: float = 30.0) -> int:
    """The one worker of gunicorn's ``master``: the master listens before it forks it."""
    deadline = time.monotonic() + timeout
    while not (children := Path(f"/proc/{master}/task/{master}/children").read_text().split()):
        assert time.monotonic() < deadline, f"gunicorn {master} started no worker"
        time.sleep(0.05)
    assert len(children) == 1, children
    return int(children[0])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def redis_info(urls: list[str], section: str) -> list[dict]:
    """``INFO section`` of each Redis server at ``urls``."""
    found = []
    for url in urls:
        client = redis.Redis.from_url(url)
        try:
            found.append(client.info(section))
        finally:
            client.close()
    return found


def notices_sent(urls: list[str]) -> int:
    """Change notices the Redis servers at ``urls`` have sent so far: their ``PUBLISH`` and
    ``SPUBLISH`` calls, those made by scripts included (Redis counts them too)."""
    return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0)
               for stats in redis_info(urls, "commandstats") for name in ("publish", "spublish"))


def write_json(path: str, figures: dict) -> None:
    """``figures`` and how they were made (the command, the build, the machine's load) to
    ``path``, for bench/capacity.py."""
    build = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=False,
                           capture_output=True, text=True).stdout.strip()
    made = {"command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
            "build": build, "cores": os.cpu_count(), "load_average": os.getloadavg()[0],
            "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    Path(path).write_text(json.dumps({**made, **figures}, indent=1) + "\n")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class Watchers:
    """Receipt times of every version on every stream, gathered by asyncio protocols."""

    def __init__(self, clients: int):
        self.clients = clients
        self.connected = 0
        self.receipts = {}  # version -> list of monotonic receipt times
        self.all_connected = asyncio.Event()
        self.complete = {}  # version -> asyncio.Event, set when every client has it

    def expect(self, version: int) -> asyncio.Event:
        return self.complete.setdefault(version, asyncio.Event())

    def received(self, version: int, now: float) -> None:
        times = self.receipts.setdefault(version, [])
        times.append(now)
        if len(times) == self.clients:
            self.expect(version).set()


class Stream(asyncio.Protocol):
    def __init__(self, watchers: Watchers):
        self.watchers = watchers
        self.seen = set()
        self.tail = b""
        self.first = True

    def connection_made(self, transport):
        transport.write(REQUEST)

    def data_received(self, data):
        now = time.monotonic()
        if self.first:
            self.first = False
            self.watchers.connected += 1
            if self.watchers.connected == self.watchers.clients:
                self.watchers.all_connected.set()
        buffer = self.tail + data
        for match in EVENT_ID.finditer(buffer):
            version = int(match.group(1))
            if version not in self.seen:
                self.seen.add(version)
                self.watchers.received(version, now)
        self.tail = buffer[-24:]


async def connect_all(port: int, watchers: Watchers, batch=500):
    loop = asyncio.get_running_loop()
    transports = []
    for start in range(0, watchers.clients, batch):
        count = min(batch, watchers.clients - start)
        made = await asyncio.gather(*(
            loop.create_connection(lambda: Stream(watchers), "127.0.0.1", port)
            for _ in range(count)))
        transports.extend(t for t, _ in made)
    await asyncio.wait_for(watchers.all_connected.wait(), 120)
    return transports


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def measure(server, pid, token, clients, updates, interval, first, sent) -> dict:
    """Connect, then make ``updates`` updates; ``first`` is the version the first one makes;
    ``sent()`` counts the notices Redis has sent."""
    watchers = Watchers(clients)
    rss_before = rss_bytes(pid)
    began = time.monotonic()
    transports = await connect_all(server.port, watchers)
    connect_seconds = time.monotonic() - began
    await asyncio.sleep(1.0)
    rss_after = rss_bytes(pid)
    # The worker's idle cost (heartbeats, reaper) is measured and taken off the update cost.
    idle_cpu, idle_start = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(2.0)
    idle_rate = (cpu_seconds(pid) - idle_cpu) / (time.monotonic() - idle_start)

    client_cpu = resource.getrusage(resource.RUSAGE_SELF)
    cpu_start, window_start, sent_start = cpu_seconds(pid), time.monotonic(), sent()
    latencies, delivered, early = [], 0, 0
    for n in range(updates):
        version = first + n
        done = watchers.expect(version)
        responded = {}

        def update():
            play_http(server.url, token, "bench")
            responded["at"] = time.monotonic()

        await asyncio.to_thread(update)
        try:
            await asyncio.wait_for(done.wait(), 10)
        except TimeoutError:
            pass
        times = watchers.receipts.get(version, [])
        delivered += len(times)
        early += sum(t < responded["at"] for t in times)
        latencies += [max(0.0, t - responded["at"]) for t in times]
        await asyncio.sleep(interval)
    window = time.monotonic() - window_start
    update_cpu = cpu_seconds(pid) - cpu_start - idle_rate * window
    notices = sent() - sent_start
    used = resource.getrusage(resource.RUSAGE_SELF)
    generator_cpu = (used.ru_utime - client_cpu.ru_utime) + (used.ru_stime - client_cpu.ru_stime)
    for transport in transports:
        transport.close()
    return {
        "clients": clients,
        "connected": watchers.connected,
        "connect_s": connect_seconds,
        "delivered": delivered / (clients * updates),
        "early": early,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * percentile(latencies, 0.99) if latencies else float("nan"),
        "max_ms": 1000 * max(latencies) if latencies else float("nan"),
        "cpu_us_per_client_frame": 1e6 * update_cpu / (clients * updates),
        "kb_per_client": (rss_after - rss_before) / clients / 1024,
        "generator_cpu_share": generator_cpu / window,
        "notices_per_update": notices / updates,
    }


def run_one(clients: int, updates: int, interval: float, tmp: Path) -> dict:
    database = fresh_database("scoreboard_bench")
    own_redis = RedisServer(tmp).start()
    server = Server(database, own_redis.url, log_dir=tmp, WEB_CONCURRENCY="1",
                    JWT_SECRET_KEY="b" * 40, STREAM_MAX_PER_IP="100000",
                    WORKER_CONNECTIONS=str(clients + 100)).start()
    try:
        pid = worker_pid(server.proc.pid)
        token = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "scoreboard", "token", "bench"],
            cwd=ROOT, env=server.env, check=True, capture_output=True, text=True).stdout.strip()
        play_http(server.url, token, "bench")  # warm up the worker: this is version 1
        result = asyncio.run(measure(server, pid, token, clients, updates, interval, first=2,
                                     sent=lambda: notices_sent([own_redis.url])))
        result["redis_clients"] = len(redis.Redis.from_url(own_redis.url).client_list()) - 1
        return result
    finally:
        server.stop()
        own_redis.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1000])
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.5,
                        help="pause between updates (the stream coalesces below 0.2 s)")
    parser.add_argument("--json", metavar="FILE", help="also write the rows to FILE")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        print("uvloop not installed: using asyncio's own loop")
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"stream-bench-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    columns = ("clients", "connected", "delivered", "p50_ms", "p99_ms", "max_ms",
               "cpu_us_per_client_frame", "kb_per_client", "redis_clients",
               "generator_cpu_share", "connect_s", "early", "notices_per_update")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    rows = []
    for clients in args.clients:
        result = run_one(clients, args.updates, args.interval, tmp)
        rows.append(result)
        cells = [f"{result[c]:.3g}" if isinstance(result[c], float) else str(result[c])
                 for c in columns]
        print("| " + " | ".join(cells) + " |", flush=True)
    if args.json:
        write_json(args.json, {"bench": "stream_fanout", "updates": args.updates,
                               "interval_s": args.interval, "rows": rows})


if __name__ == "__main__":
    main()
