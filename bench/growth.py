"""What a year of data costs: a database of 1,000,000 players and 20,000,000 audit events over
12 months (with the last 60 days' tickets) against one of 1,000 players, the same shape.

Each database is loaded by bench/growth_load.py (COPY, day partitions as `maintain` makes
them, scores that add up to the events). Then, on each:
- an update's worker CPU in this process (bench/update_cost.py's cost_on), with
  ``--instructions`` the database server's instructions per update (callgrind,
  bench/server_instructions.py, on a copy of the database of its own), and its p50 and
  p99 under wrk at 16 connections on one gunicorn gevent worker (bench/http_load.py's wrk);
  these run on the real clock, so their events and tickets go to the partition of the past
  while the year's tickets stay in their 60 day partitions, which an update's look-up of a
  ticket by its whole key (its id holds its moment, migration 0019) leaves alone;
- a board's rebuild from the database (leaderboard.read_snapshot: all time, the day, the
  week) and a player's rank from the database (ranks.rank_of without Redis), medians;
- verify before the archive (without a checkpoint, verify --since checks as much), verify
  and verify --since after it, each in seconds and in the resident memory it added at its
  peak (MB);
- maintain (its first run of the day after the year, then again: nothing to do), and an
  archive of the year's first 30 days to a temporary file;
- each table's size and its indexes' over its partitions, before and after.
The app's clock stands at the end of the year's last day except where it says otherwise.
The databases are dropped at the end, whatever happens.

    .venv/bin/python bench/growth.py                # 1,000,000 players, 20,000,000 events
    .venv/bin/python bench/growth.py --scale 0.1    # 100,000 players, 2,000,000 events
"""

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import growth_load, server_instructions
from bench.http_load import tickets, write_lines, wrk
from bench.stream_fanout import worker_pid
from bench.update_cost import cost_on
from scoreboard import create_app
from scoreboard.boards import leaderboard, ranks
from scoreboard.boards.views import View
from scoreboard.core import periods
from scoreboard.data.db import db
from scoreboard.identity.auth import issue_token
from scoreboard.play import archive, proof, upkeep
from tests.conftest import base_config
from tests.harness.databases import create_database, drop_database
from tests.harness.servers import RedisServer, Server

SERVED_PLAYERS = 1000  # the players who update under wrk
RANKED = 30  # players whose rank is looked up
ARCHIVED_DAYS = 30


def timed(run):
    began = time.perf_counter()
    result = run()
    return time.perf_counter() - began, result


def median_ms(run, times: int) -> float:
    return 1000 * statistics.median(timed(run)[0] for _ in range(times))


def verified(since: bool) -> tuple[float, float]:
    """verify's seconds, and the resident memory it added at its peak (MB): the kernel's
    high-water mark of this process (Linux), reset to the resident size before it."""
    Path("/proc/self/clear_refs").write_text("5")
    began = memory("VmRSS")
    took, report = timed(lambda: proof.verify(since=since))
    assert not report.wrong, report.wrong[:5]
    return took, memory("VmHWM") - began


def memory(field: str) -> float:
    """A field of /proc/self/status in kB, in MB."""
    lines = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in lines if line.startswith(field + ":")) / 1024


def measure(shape: growth_load.Shape, args, tmp: Path) -> dict:
    """Every figure of one database, which it creates and drops."""
    name = f"bench_growth_{uuid.uuid4().hex[:8]}"
    url = create_database(name)
    figures = {}
    try:
        first = growth_load.start()
        # The requests' own statement timeout (15 s): verify, archive and restore lift it
        # for their transactions, the loading for its own below.
        app = create_app(base_config(url, None, MAINTAIN_INTERVAL_SECONDS=0))
        with app.app_context():
            figures["load s"], _ = timed(lambda: growth_load.prepare(shape, first))
            print(f"{shape}: loaded in {figures['load s']:.0f} s", flush=True)
            figures["sizes before"] = growth_load.sizes()
            db.session.remove()
            db.engine.dispose()
        figures.update(updates(url, shape, args, tmp))
        with app.app_context():
            now = growth_load.last_moment(shape, first)
            app.config["CLOCK"] = lambda: now
            figures.update(reads(shape, now))
            # No checkpoint yet: verify --since would check what verify does.
            figures["verify s"], figures["verify MB"] = verified(False)
            figures["maintain s"], done = timed(upkeep.maintain)
            print(f"  maintain: {len(done)} lines, e.g. {done[:2]} ... {done[-1:]}")
            figures["maintain again s"], _ = timed(upkeep.maintain)
            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, "archive.jsonl.gz")
                before = (first + timedelta(days=ARCHIVED_DAYS)).date()
                figures["archive s"], made = timed(lambda: archive.archive(before, path))
                figures["archive MB"] = os.path.getsize(path) / 1e6
                print(f"  {archive.describe(made)}")
            figures["archived rows"] = made.rows
            figures["sizes after"] = growth_load.sizes()
            figures["verify after s"], figures["verify after MB"] = verified(False)
            figures["verify --since after s"], figures["verify --since after MB"] = verified(True)
            db.session.remove()
            db.engine.dispose()
    finally:
        drop_database(name)
    return figures


def reads(shape, now) -> dict:
    """A board rebuilt from the database, and a player's rank from it (no Redis here)."""
    day, week = periods.windows_of(now)
    found = {}
    for label, view in (("all", View()), ("day", View(window=day)), ("week", View(window=week))):
        found[f"top {label} ms"] = median_ms(lambda v=view: leaderboard.read_snapshot(v), 5)
    chosen = random.Random(1).sample(range(shape.players), min(RANKED, shape.players))
    for label, view in (("all", View()), ("week", View(window=week))):
        times = [timed(lambda p=p, v=view: ranks.rank_of(v, f"p{p:07d}"))[0] for p in chosen]
        found[f"rank {label} ms"] = 1000 * statistics.median(times)
    return found


def updates(url: str, shape, args, tmp: Path) -> dict:
    """An update's CPU in process, then under wrk on one gevent worker (real clock)."""
    found = {"update CPU µs": cost_on(url, args.updates)["packed"]}
    if args.instructions:  # the database server's part, which the worker's CPU leaves out
        found["update server instructions"] = server_instructions.per_update(shape)
    own_redis = RedisServer(tmp).start()
    server = Server(url, own_redis.url, log_dir=tmp, WEB_CONCURRENCY="1",
                    MAINTAIN_INTERVAL_SECONDS="0", RATELIMIT_IP="100000000/minute",
                    RATELIMIT_UPDATE="100000000/minute").start()
    try:
        players = [f"p{n:07d}" for n in range(min(SERVED_PLAYERS, shape.players))]
        with create_app(base_config(url, None)).app_context():
            token = {p: issue_token(p, name=f"Player {p}") for p in players}
            db.engine.dispose()

        def run(seconds, count):
            bodies = [f'{{"userId":"{u}","authToken":"{token[u]}","actionId":"{t}"}}'
                      for t, u in tickets(url, players, count)]
            return wrk(server.url, seconds, worker=worker_pid(server.proc.pid), script=(
                "update", str(write_lines(tmp / "updates.txt", bodies))))

        warm = run(3, 20_000)  # opens the pools, builds the rank sets
        done = run(args.seconds, int(max(warm["rate"], 200) * args.seconds * 3))
        if done["bad"] or done["errors"] or warm["bad"] or warm["errors"]:
            print(f"!! wrk: {done['bad']} non-2xx, socket errors {done['errors']}")
        found.update({"update p50 ms": done["p50"], "update p99 ms": done["p99"],
                      "update req/s": done["rate"], "update worker µs": done["cpu_us"]})
    finally:
        server.stop()
        own_redis.kill()
    return found


def table(small: dict, large: dict, sizes_of: list[str]) -> list[str]:
    lines = ["| figure | small | large | large / small |", "|---|---|---|---|"]
    for key, value in large.items():
        if isinstance(value, (int, float)):
            ratio = f"{value / small[key]:.2f}" if small.get(key) else ""
            lines.append(f"| {key} | {small[key]:,.1f} | {value:,.1f} | {ratio} |")
    lines += ["", ("| table (MB: all / indexes) | small before | small after | large before"
              " | large after |"), "|---|---|---|---|---|"]
    for name in sizes_of:
        cells = [f"{f[when][name][0] / 1e6:,.1f} / {f[when][name][1] / 1e6:,.1f}"
                 for f in (small, large) for when in ("sizes before", "sizes after")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="share of the full size: 1,000,000 players, 20,000,000 events")
    parser.add_argument("--small", type=int, default=1000, help="players of the small one")
    parser.add_argument("--updates", type=int, default=3000, help="updates timed in process")
    parser.add_argument("--seconds", type=float, default=10, help="each wrk run")
    parser.add_argument("--instructions", action="store_true",
                        help="also count the server's instructions per update "
                        "(bench/server_instructions.py: its own copy of each database)")
    args = parser.parse_args()
    players = int(1_000_000 * args.scale)
    large = growth_load.Shape(players, int(20_000_000 * args.scale))
    small = growth_load.Shape(args.small, args.small * large.events // players)
    began = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="growth-"))
    try:
        figures = [measure(shape, args, tmp) for shape in (small, large)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the servers' logs
    print(f"\nsmall: {small}\nlarge: {large}\nrun: {time.monotonic() - began:.0f} s\n")
    print("\n".join(table(*figures, list(growth_load.TABLES))))


if __name__ == "__main__":
    main()
