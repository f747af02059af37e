"""A fleet on this machine: instances of the service (servers.Server, each a gunicorn master
with its workers) behind HAProxy running the repository's own deploy/haproxy.cfg, with the
addresses that file reads from the environment set to free ports."""

import csv
import io
import os
import subprocess
from pathlib import Path
from urllib.request import urlopen

from .servers import ROOT, free_port, stop, wait_for_port

CONFIG = ROOT / "deploy" / "haproxy.cfg"
BACKEND = "instances"  # the backend of deploy/haproxy.cfg
INSTANCES = 2  # its server lines, instance1 and instance2


class HAProxy:
    """haproxy in the foreground with deploy/haproxy.cfg, in front of ``instances``."""

    def __init__(self, instances, log_dir):
        if len(instances) != INSTANCES:
            raise ValueError(f"deploy/haproxy.cfg names {INSTANCES} instances")
        self.port, self.stats_port = free_port(), free_port()
        self.env = {
            **os.environ,
            "SCOREBOARD_BIND": f"127.0.0.1:{self.port}",
            "HAPROXY_STATS_BIND": f"127.0.0.1:{self.stats_port}",
            "HAPROXY_MAXCONN": "2000",  # within this machine's file descriptor limit
            **{f"SCOREBOARD_INSTANCE_{n}": f"127.0.0.1:{server.port}"
               for n, server in enumerate(instances, 1)},
        }
        self.log_path = Path(log_dir) / f"haproxy-{self.port}.log"
        self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "HAProxy":
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(["haproxy", "-db", "-f", str(CONFIG)], env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.proc)
        return self

    def states(self) -> dict:
        """Each instance's state as HAProxy's checks see it ("UP", "DOWN", ...), by its
        name in the file (instance1, instance2), from HAProxy's statistics page."""
        with urlopen(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=10) as response:
            text = response.read().decode()
        rows = csv.DictReader(io.StringIO(text.removeprefix("# ")))
        return {row["svname"]: row["status"] for row in rows
                if row["pxname"] == BACKEND and row["svname"] not in ("FRONTEND", "BACKEND")}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc:
            stop(self.proc)
