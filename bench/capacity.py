"""The capacity model of docs/SCALING.md ("Capacity"): from the figures the benchmarks
measured, what a game needs at 1k, 10k and 50k updates a second with 100k and 1M live
viewers, and which resource runs out first.

Inputs (written by the benchmarks' ``--json``):

    .venv/bin/python bench/http_load.py --players 1000 --seconds 10 --listener \\
        --json bench/figures/http_single.json
    .venv/bin/python bench/http_load.py --players 1000 --seconds 10 --listener \\
        --redis cluster --json bench/figures/http_cluster.json
    .venv/bin/python bench/stream_fanout.py --clients 10000 --updates 20 \\
        --json bench/figures/stream_fanout.json
    .venv/bin/python bench/pubsub_fanout.py --subscribers 200 --messages 50000 \\
        --json bench/figures/pubsub_fanout.json
    .venv/bin/python bench/capacity.py bench/figures/http_single.json \\
        --cluster bench/figures/http_cluster.json --streams bench/figures/stream_fanout.json \\
        --pubsub bench/figures/pubsub_fanout.json

Every worker is one gevent process on one core; every update's notice reaches every
worker (each keeps its own copy of the boards), so hearing notices costs each worker
updates/s x the listener's CPU per update, however many workers there are, and Redis
updates/s x workers deliveries: the terms that cap a fleet. The assumptions are options
(``--help``). The arithmetic is in ``plan``; the rest reads files and prints.
"""

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

UPDATES = (1_000, 10_000, 50_000)
VIEWERS = (100_000, 1_000_000)


@dataclass(frozen=True)
class Costs:
    """What one run measured: CPU in µs, per update unless named otherwise."""

    worker: float  # the worker that serves the update (its own notice included)
    listener: float  # every other worker, hearing the update's notices
    listener_idle: float  # ... and CPU µs a second it spends whatever the rate
    quiet: float  # ... of which its loops alone, with no updates (shown, not used)
    read: float  # a GET /api/scores/top
    stream_open: float  # a stream to its first frame
    database: float  # the PostgreSQL backends
    redis: float  # Redis, all primaries summed
    commands: float  # Redis commands (a script's own commands included)
    notices: float  # notices Redis sent (PUBLISH / SPUBLISH), to each subscribed worker


@dataclass(frozen=True)
class Streams:
    frame: float  # worker CPU µs per client per frame
    kb: float  # worker memory per stream
    per_worker: int  # streams one worker held, every frame delivered


@dataclass(frozen=True)
class Assumptions:
    utilisation: float = 0.6  # of a worker's, a Redis primary's and PostgreSQL's cores
    cores_per_instance: int = 8  # one worker per core
    reads_per_viewer_minute: float = 1.0  # GET /top: page loads, clients without streams
    opens_per_viewer_hour: float = 2.0  # reconnects: restarts, networks, tabs
    top_change_share: float = 0.01  # updates that change the watched top 10
    max_frames_per_second: float = 5.0  # STREAM_MIN_INTERVAL_SECONDS = 0.2
    # At a full core: plain ZREVRANK / ZRANGE 0 9 ran at 264k-284k/s on one key
    # (bench/rank_set_ceiling.py, docs/SCALING.md); a script's commands are no cheaper.
    commands_per_primary: float = 250_000
    hot_key_per_second: float = 15_000  # one global set's placements, with headroom
    database_max_cores: int = 32  # one PostgreSQL primary


def workers_needed(cpu_us: float, hear_us: float, budget: float) -> float:
    """Workers whose CPU (each ``budget`` of a core) covers ``cpu_us`` µs a second of work
    plus every worker but the serving one hearing the notices (``hear_us`` µs a second
    each): W x budget >= cpu + (W - 1) x hear. Infinite when hearing alone fills a worker."""
    hear, cpu = hear_us / 1e6, cpu_us / 1e6
    if hear >= budget:
        return math.inf
    return max(0.0, (cpu - hear) / (budget - hear))


def plan(updates: float, viewers: float, single: Costs, cluster: Costs | None,
         streams: Streams, delivery_us: float, a: Assumptions) -> dict:
    """One row of the model: what ``updates`` a second and ``viewers`` streams need;
    ``delivery_us`` is Redis's CPU to hand one message to one subscriber."""
    u = a.utilisation

    def whole(value: float) -> float:
        return math.ceil(value) if math.isfinite(value) else math.inf

    frames = viewers * min(a.max_frames_per_second, updates * a.top_change_share)

    def fleet(costs: Costs) -> tuple[float, float, float]:
        """Workers by CPU (hearing included) and by streams; each one's hearing, µs/s."""
        cpu_us = (updates * costs.worker + frames * streams.frame
                  + viewers * a.reads_per_viewer_minute / 60 * costs.read
                  + viewers * a.opens_per_viewer_hour / 3600 * costs.stream_open)
        hear_us = costs.listener_idle + updates * costs.listener
        return workers_needed(cpu_us, hear_us, u), viewers / streams.per_worker, hear_us

    def primaries_for(costs: Costs, workers: float) -> float:
        """Cores of Redis at the utilisation, by CPU (the commands, and every notice handed
        to every worker) and by commands."""
        cpu = updates * (costs.redis + costs.notices * workers * delivery_us) / 1e6
        return max(cpu / u, updates * costs.commands / (a.commands_per_primary * u))

    by_cpu, by_streams, hear_us = fleet(single)
    one_redis = primaries_for(single, max(by_cpu, by_streams))
    on_cluster = one_redis > 1 or updates > a.hot_key_per_second
    costs = cluster if on_cluster and cluster else single
    if on_cluster:
        by_cpu, by_streams, hear_us = fleet(costs)
    workers = max(by_cpu, by_streams)
    primaries = max(primaries_for(costs, workers), 3 if on_cluster else 1)  # 3: a cluster's least
    # On a cluster the global board's notice goes to one node, the other views' spread over
    # all; one Redis sends them all.
    busiest = updates * workers * (1 + (costs.notices - 1) / whole(primaries)
                                   if on_cluster else costs.notices)
    database = updates * costs.database / 1e6 / u
    limits = {
        "one Redis": one_redis,
        "hearing notices, per worker": hear_us / 1e6 / u,
        "one global set (hot key)": updates / a.hot_key_per_second,
        "notice deliveries, busiest Redis node": busiest * delivery_us / 1e6 / u,
        "one PostgreSQL primary": database / a.database_max_cores,
    }

    return {
        "updates": updates, "viewers": viewers,
        "redis": "cluster" if on_cluster else "single",
        "workers_cpu": by_cpu, "workers_streams": by_streams, "workers": whole(workers),
        "instances": whole(workers / a.cores_per_instance), "primaries": whole(primaries),
        "hot_key_split": math.ceil(updates / a.hot_key_per_second),
        "database_cores": database, "stream_memory_gb": viewers * streams.kb / 1024 ** 2,
        "heard_per_worker": updates * costs.notices, "busiest_deliveries": busiest,
        # With no fleet possible, the shares that grow with it are infinite: a consequence.
        "limits": limits, "first": max((k for k in limits if math.isfinite(limits[k])),
                                       key=limits.get),
        "out": [name for name, share in limits.items() if share >= 1],
    }


def hearing(under_load: dict, per_update_us: float) -> float:
    """The listener's CPU µs a second that does not grow with the updates: what it spent
    while they ran (``under_load``) less ``per_update_us`` for each (the notices published
    again: bench/notice_cost.py). The rest is the refresher's reads, capped per view."""
    spent = under_load["cpu_per_second"] * 1e6
    return max(0.0, spent - per_update_us * under_load["updates_per_second"])


def load_costs(path: str, per_notice: float | None = None) -> tuple[Costs, dict]:
    """One http_load run's costs; ``per_notice`` (µs) is taken from another run (one Redis)
    when this one did not publish notices again (a cluster)."""
    run = json.loads(Path(path).read_text())
    per = run["per_update"]
    if not run.get("hearing") or None in run["hearing"]:
        raise SystemExit(f"{path}: run http_load.py with --listener")
    if run.get("replayed_notices"):
        per_notice = run["replayed_notices"]["cpu_us_per_message"]
    listener = per_notice * per["notices"]
    idle = hearing(run["hearing"][0], listener)
    quiet = run["hearing"][2]["cpu_per_second"] * 1e6
    return Costs(worker=per["worker_cpu_us"], listener=listener, listener_idle=idle, quiet=quiet,
                 read=run["per_read"]["worker_cpu_us"],
                 stream_open=run["per_stream_open"]["worker_cpu_us"],
                 database=per["database_cpu_us"], redis=per["redis_cpu_us"],
                 commands=per["redis_commands"], notices=per["notices"]), run


def load_streams(path: str) -> tuple[Streams, dict]:
    run = json.loads(Path(path).read_text())
    full = [row for row in run["rows"] if row["delivered"] == 1]
    if not full:
        raise SystemExit(f"{path}: no size delivered every frame")
    row = max(full, key=lambda r: r["clients"])
    return Streams(frame=row["cpu_us_per_client_frame"], kb=row["kb_per_client"],
                   per_worker=row["clients"]), run


def source(run: dict, path: str) -> str:
    return (f"`{Path(path).name}`: `{run['command']}`, build {run['build']}, {run['at']}, "
            f"load average {run['load_average']:.1f} on {run['cores']} cores")


def count(value: float) -> str:
    if not math.isfinite(value):
        return "∞"
    return f"{value:,.0f}" if value >= 10 else f"{value:.2g}"


def share(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "∞"


def inputs_table(single, cluster, streams, delivery: float, a: Assumptions,
                 sources: list[str]) -> list[str]:
    lines = ["| input | one Redis | cluster | ratio |", "|---|---|---|---|"]
    names = {"worker": "worker CPU µs per update (serving it)",
             "listener": "worker CPU µs per update (every other worker, hearing it)",
             "listener_idle": "worker CPU µs a second, at any update rate (idle, refreshes)",
             "quiet": "... of which with no updates at all (its loops)",
             "read": "worker CPU µs per `GET /api/scores/top`",
             "stream_open": "worker CPU µs per stream open",
             "database": "PostgreSQL backends' CPU µs per update",
             "redis": "Redis CPU µs per update (primaries summed)",
             "commands": "Redis commands per update", "notices": "notices sent per update"}
    for field, label in names.items():
        one = getattr(single, field)
        other = getattr(cluster, field) if cluster else None
        ratio = f"{other / one:.2f}" if other is not None and one else ""
        lines.append(f"| {label} | {one:.1f} | {'' if other is None else f'{other:.1f}'} "
                     f"| {ratio} |")
    lines += [f"| worker CPU µs per stream per frame | {streams.frame:.1f} | | |",
              f"| worker memory per stream, KB | {streams.kb:.1f} | | |",
              f"| streams per worker (all delivered) | {streams.per_worker:,} | | |",
              f"| Redis CPU µs per message handed to one subscriber | {delivery:.3f} | | |",
              ""]
    lines += ["Sources:", "", *(f"- {s}." for s in sources), ""]
    lines.append("Assumptions: " + "; ".join(f"{k} = {v:g}" for k, v in vars(a).items()) + ".")
    return lines


def rows_table(rows: list[dict]) -> list[str]:
    """What each row needs, then every limit's share (bold: past it)."""
    lines = [("| updates/s | viewers | Redis | workers (by CPU / by streams) | instances "
              "| primaries | global sets split in | PostgreSQL cores "
              "| notices heard per worker/s | deliveries/s, busiest node "
              "| first to run out |"), "|" + "---|" * 11]
    for r in rows:
        lines.append(
            f"| {r['updates']:,} | {r['viewers']:,} | {r['redis']} | {count(r['workers'])} "
            f"({count(r['workers_cpu'])} / {count(r['workers_streams'])}) "
            f"| {count(r['instances'])} | {count(r['primaries'])} | {r['hot_key_split']} "
            f"| {r['database_cores']:.1f} | {count(r['heard_per_worker'])} "
            f"| {count(r['busiest_deliveries'])} | {r['first']} |")
    names = list(rows[0]["limits"])
    lines += ["", "| updates/s | viewers | " + " | ".join(names) + " |",
              "|" + "---|" * (len(names) + 2)]
    for r in rows:
        shares = [f"**{share(r['limits'][n])}**" if n in r["out"] else share(r["limits"][n])
                  for n in names]
        lines.append(f"| {r['updates']:,} | {r['viewers']:,} | " + " | ".join(shares) + " |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("single", help="http_load.py --listener --json, on one Redis")
    parser.add_argument("--cluster", help="http_load.py --listener --redis cluster --json")
    parser.add_argument("--streams", required=True, help="stream_fanout.py --json")
    parser.add_argument("--pubsub", required=True, help="pubsub_fanout.py --json")
    for name, default in vars(Assumptions()).items():
        parser.add_argument("--" + name.replace("_", "-"), type=type(default),
                            default=default)
    args = parser.parse_args()
    a = Assumptions(**{k: getattr(args, k) for k in vars(Assumptions())})
    single, single_run = load_costs(args.single)
    sources = [source(single_run, args.single)]
    cluster = None
    if args.cluster:
        per_notice = single_run["replayed_notices"]["cpu_us_per_message"]
        cluster, cluster_run = load_costs(args.cluster, per_notice)
        sources.append(source(cluster_run, args.cluster))
    streams, streams_run = load_streams(args.streams)
    sources.append(source(streams_run, args.streams))
    pubsub = json.loads(Path(args.pubsub).read_text())
    delivery = pubsub["redis_cpu_us_per_delivery"]
    sources.append(source(pubsub, args.pubsub))
    print("\n".join(inputs_table(single, cluster, streams, delivery, a, sources)) + "\n")
    rows = [plan(u, v, single, cluster, streams, delivery, a)
            for u in UPDATES for v in VIEWERS]
    print("\n".join(rows_table(rows)))


if __name__ == "__main__":
    main()
