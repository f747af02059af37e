"""The instructions the database server spends on an update, counted by valgrind's callgrind:
the part of an update's cost that grows with the database, which the worker's own figures
(bench/update_cost.py: CPU or instructions of the worker's process) never see, as
PostgreSQL runs the update's procedure in a process of its own.

A PostgreSQL cluster of the bench's own (initdb in a temporary folder, on a free port; as
the postgres user when run by root, which PostgreSQL refuses) gets a database loaded by
bench/growth_load.py, and fresh click tickets (bench/http_load.py's, as a start issues
them). The server is stopped, and the update's calls of the procedure (rules.CALL, with the
inputs scoring gives it) are played by a single-user postgres on that database under
callgrind: 100 calls, then 500 more, each completing a ticket of its own, one after
another in one session, as a worker's pooled connection runs them. The difference per
call is what one costs: the start-up, the shutdown and the first calls' catalog reads and
plans cancel out. fsync is off (no instructions, only waiting). Callgrind counts every
instruction, so the figure moves by a few thousandths between runs, not with the machine's
load. Each run under callgrind takes a minute or two.

    .venv/bin/python bench/server_instructions.py --scale 0.1
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import growth_load  # noqa: E402
from bench.http_load import tickets  # noqa: E402
from scoreboard import create_app  # noqa: E402
from scoreboard.core import clock  # noqa: E402
from scoreboard.data import rules  # noqa: E402
from scoreboard.data.db import db  # noqa: E402
from scoreboard.play import scoring  # noqa: E402
from tests.conftest import base_config  # noqa: E402
from tests.harness.servers import free_port  # noqa: E402

PLAYERS = 1000  # whose tickets are completed, as bench/growth.py's wrk runs
RUNS = (100, 500)  # calls of each run, of tickets of their own


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _binary(name: str) -> str:
    bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                            check=True).stdout.strip()
    return str(Path(bindir) / name)


class OwnCluster:
    """A PostgreSQL cluster in ``folder``, on a free port."""

    def __init__(self, folder: Path):
        self.data, self.port = folder / "data", free_port()
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
        subprocess.run(_as_postgres([_binary("initdb"), "-D", str(self.data), "-U",
                                     "postgres", "-A", "trust", "--no-sync"]),
                       check=True, capture_output=True)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> "OwnCluster":
        subprocess.run(_as_postgres([
            _binary("pg_ctl"), "start", "-w", "-D", str(self.data), "-l",
            str(self.data / "server.log"), "-o",
            f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"]),
            check=True, capture_output=True)
        return self

    def stop(self) -> None:
        subprocess.run(_as_postgres([_binary("pg_ctl"), "stop", "-w", "-m", "fast", "-D",
                                     str(self.data)]), check=True, capture_output=True)

    def instructions(self, database: str, statements: Path) -> int:
        """Callgrind's count of a single-user postgres running ``statements``, a line
        each, on ``database`` (the server stopped)."""
        with statements.open("rb") as source:
            run = subprocess.run(_as_postgres([
                "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                _binary("postgres"), "--single", "-D", str(self.data), "-c", "fsync=off",
                database]), stdin=source, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                text=True, check=True)
        return int(run.stderr.split("Collected : ")[1].split()[0])


def per_update(shape: growth_load.Shape) -> float:
    """The server's instructions per update on a database of ``shape``."""
    own = Path(tempfile.mkdtemp(prefix="server-instructions-"))
    own.chmod(0o755)  # for the postgres user
    try:
        return _per_update(shape, own / "cluster")
    finally:
        shutil.rmtree(own, ignore_errors=True)


def _per_update(shape: growth_load.Shape, folder: Path) -> float:
    cluster = OwnCluster(folder).start()
    try:
        admin = psycopg2.connect(cluster.url("postgres"))
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("CREATE DATABASE bench")
        admin.close()
        url = cluster.url("bench")
        app = create_app(base_config(url, None, MAINTAIN_INTERVAL_SECONDS=0,
                                     DATABASE_STATEMENT_TIMEOUT_MS=3_600_000))
        with app.app_context():
            growth_load.prepare(shape, growth_load.start())
            db.session.remove()
            db.engine.dispose()
        made = tickets(url, [f"p{n:07d}" for n in range(min(PLAYERS, shape.players))],
                       sum(RUNS))
        now = clock.system_now()
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            calls = [cur.mogrify(rules.CALL, scoring.procedure_inputs(
                scoring.Attempt(user, ticket), now)) for ticket, user in made]
        conn.close()
    finally:
        cluster.stop()
    counts = []
    for run, count in enumerate(RUNS):
        lines = folder / f"calls-{run}.sql"
        lines.write_bytes(b"".join(call + b"\n" for call in calls[:count]))
        del calls[:count]
        counts.append(cluster.instructions("bench", lines))
    cluster.start()
    try:  # every call completed its ticket: a refusal or an error costs less
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM action_tickets WHERE id = ANY(%s)"
                        " AND completed_at IS NOT NULL", ([ticket for ticket, _ in made],))
            assert cur.fetchone()[0] == len(made), "not every call completed its ticket"
        conn.close()
    finally:
        cluster.stop()
    return (counts[1] - counts[0]) / (RUNS[1] - RUNS[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="share of bench/growth.py's full size")
    parser.add_argument("--small", type=int, default=1000, help="players of the small one")
    args = parser.parse_args()
    players = int(1_000_000 * args.scale)
    large = growth_load.Shape(players, int(20_000_000 * args.scale))
    small = growth_load.Shape(args.small, args.small * large.events // players)
    found = {}
    for label, shape in (("small", small), ("large", large)):
        found[label] = per_update(shape)
        print(f"{label} ({shape}): {found[label]:,.0f} server instructions per update",
              flush=True)
    print(f"large / small: {found['large'] / found['small']:.3f}")


if __name__ == "__main__":
    main()
