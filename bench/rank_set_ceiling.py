"""One rank set's ceiling: its memory and the rate of the service's own scripts on it, on a
redis-server of its own (one key is served by one core of one node, in a cluster too).

It fills one set through the PLACE script (as updates do), then runs redis-benchmark (50
clients, pipelines of 16, random players) on PLACE (a player moving up), the RANK lookup
script, and plain ZADD, ZREVRANK and ZRANGE for comparison. docs/SCALING.md has the figures.

    .venv/bin/python bench/rank_set_ceiling.py --players 1000000
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scoreboard.adapters.rank_sets import _PLACE, _RANK
from scoreboard.core.order import member_at
from tests.harness.servers import RedisServer

FIRST_MOMENT = 1_790_000_000_000_000  # microseconds: when the first player scored


def fill(client, players: int) -> str:
    place = client.script_load(_PLACE)
    pipe = client.pipeline(transaction=False)
    for n in range(players):
        user = f"{n:012d}"  # as redis-benchmark's __rand_int__ spells a player
        pipe.evalsha(place, 2, "rank:all", "rank-member:all", user,
                     member_at(n % 100_000, FIRST_MOMENT + n, user), "")
        if n % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    client.set("rank-complete:all", 1)
    return place


def rate(port: int, players: int, *command) -> str:
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-n", "300000", "-c", "50",
                          "-P", "16", "-r", str(players), "-q", *command],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1].split(": ", 1)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, default=1_000_000)
    players = parser.parse_args().players
    server = RedisServer(Path(tempfile.mkdtemp(prefix="rank-set-"))).start()
    try:
        client = server.client()
        before = client.info("memory")["used_memory"]
        place = fill(client, players)
        used = client.info("memory")["used_memory"] - before
        print(f"{players} players: {used / 2**20:.0f} MiB, {used / players:.0f} bytes a player")
        rank = client.script_load(_RANK)
        figures = {
            "PLACE, moving up": ("EVALSHA", place, "2", "rank:all", "rank-member:all",
                                 "__rand_int__", "0000000000000000000|__rand_int__|x", ""),
            "RANK": ("EVALSHA", rank, "3", "rank:all", "rank-member:all",
                     "rank-complete:all", "__rand_int__"),
            "ZADD": ("ZADD", "rank:all", "0", "m__rand_int__"),
            "ZREVRANK": ("ZREVRANK", "rank:all", "0|0|__rand_int__"),
            "ZRANGE 0 9": ("ZRANGE", "rank:all", "0", "9"),
        }
        for name, command in figures.items():
            print(f"{name}: {rate(server.port, players, *command)}")
    finally:
        server.kill()


if __name__ == "__main__":
    main()
