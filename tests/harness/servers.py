"""Real processes for the tests and benchmarks: gunicorn serving ``wsgi:app`` as the Procfile
runs it, and redis-servers of a test's own, each on a free port; plus HTTP calls to them."""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import redis
from prometheus_client.parser import text_string_to_metric_families

from . import SECRET

ROOT = Path(__file__).resolve().parents[2]


def call(method: str, url: str, body=None, headers=None, timeout=30):
    """One HTTP request to a real server; returns (status, parsed JSON body, headers)."""
    data = json.dumps(body).encode() if body is not None else None
    request = Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urlopen(request, timeout=timeout) as response:
            return response.status, _json(response.status, response.read()), response.headers
    except HTTPError as error:
        with error:  # it holds the connection until closed
            return error.code, _json(error.code, error.read()), error.headers


def _json(status: int, body: bytes):
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise AssertionError(f"{status} reply is not JSON: {body[:300]!r}") from None


SUFFIXES = ("_total", "_count", "_sum", "_bucket")  # of a counter's or a histogram's samples


def metric(server, name: str, **labels) -> float:
    """One figure from a real server's /metrics: the sum of the samples named
    ``scoreboard_<name>`` whose labels include ``labels``."""
    with urlopen(server.url + "/metrics", timeout=10) as response:
        return sample_sum(response.read().decode(), "scoreboard_" + name, **labels)


def sample_sum(text: str, name: str, **labels) -> float:
    """The sum of the samples called ``name`` in Prometheus text whose labels include
    ``labels``. A metric the text does not report is a KeyError, never 0: a check of a
    metric the service stopped reporting must fail. A series not counted yet is 0 (its
    metric is reported, with other labels); a label that none of its samples has is a
    KeyError too."""
    families = [family for family in text_string_to_metric_families(text)
                if name in (family.name, *(family.name + end for end in SUFFIXES))]
    if not families:
        raise KeyError(f"{name} is not in the metrics")
    samples = [sample for family in families for sample in family.samples
               if sample.name == name]
    unknown = set(labels) - {label for sample in samples for label in sample.labels}
    if samples and unknown:
        raise KeyError(f"{name} has no label {sorted(unknown)}")
    return sum(sample.value for sample in samples if labels.items() <= sample.labels.items())


# Where free_port looks: below the kernel's ephemeral range, whose ports any outgoing
# connection may take between the pick and the server's bind (a redis-server of a cluster
# then exits at start: seen with three pytest processes at once).
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_PORT = 20000


def free_port() -> int:
    """A port nothing listens on now, for a server about to start, out of the ephemeral
    range where this system says which it is; picked at random, so that the test
    processes running at once seldom pick the same one."""
    try:
        first_ephemeral = int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        first_ephemeral = LOWEST_PORT
    while first_ephemeral > LOWEST_PORT:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", random.randrange(LOWEST_PORT, first_ephemeral)))
            except OSError:
                continue
            return sock.getsockname()[1]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout=60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


def socket_holder(pids, port: int, peer: int | None = None) -> int:
    """Which of ``pids`` holds the TCP socket on this machine whose local port is ``port``
    (and whose remote port is ``peer``, when given), from /proc (Linux)."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    inodes = {f"socket:[{fields[9]}]" for fields in map(str.split, lines)
              if int(fields[1].rsplit(":", 1)[1], 16) == port
              and (peer is None or int(fields[2].rsplit(":", 1)[1], 16) == peer)}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    return pid
            except FileNotFoundError:  # closed while we looked
                continue
    raise AssertionError(f"none of {sorted(pids)} holds the socket of port {port}")


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    """``sig``, then SIGKILL if it lingers; never leaves the process behind."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class RedisServer:
    """A redis-server of a test's own, on a free port, that the test may kill and restart.
    With ``tls`` it speaks only TLS, on a self-signed certificate as Heroku Redis does."""

    def __init__(self, tmp_path, tls=False):
        self.port = free_port()
        self.dir = tmp_path
        self.tls = tls
        self.proc = None

    @property
    def url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}/0"

    @property
    def certificate(self) -> Path:
        return self.dir / "redis-tls.crt"

    def start(self) -> "RedisServer":
        listen = ["--port", str(self.port)]
        if self.tls:
            listen = ["--port", "0", "--tls-port", str(self.port), *tls_options(self.dir)]
        self.proc = subprocess.Popen(
            ["redis-server", *listen, "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.proc)
        return self

    def client(self) -> redis.Redis:
        """A client for the test's own look at this server: over TLS it trusts this server's
        certificate (see trusting)."""
        if not self.tls:
            return redis.Redis.from_url(self.url)
        return redis.Redis.from_url(self.url, **trusting(self.certificate))

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def tls_options(folder: Path) -> list:
    """redis-server's options to speak only TLS with the self-signed certificate kept in
    ``folder`` (made there at first use: a restart keeps the certificate it had), as Heroku
    Redis does. Clients need no certificate of their own."""
    certificate, key = folder / "redis-tls.crt", folder / "redis-tls.key"
    if not certificate.exists():
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(certificate)],
            check=True, capture_output=True,
        )
    return ["--tls-cert-file", str(certificate), "--tls-key-file", str(key),
            "--tls-ca-cert-file", str(certificate), "--tls-auth-clients", "no"]


def trusting(certificate: Path) -> dict:
    """redis-py's options for a test's own client of a server of tls_options: it trusts that
    certificate by name (made out to localhost, while the server listens on 127.0.0.1)."""
    return {"ssl_ca_certs": str(certificate), "ssl_check_hostname": False}


class Server:
    """gunicorn with the gevent worker serving wsgi:app, as the Procfile runs it."""

    def __init__(self, database_url, redis_url, *, workers=1, log_dir,
                 config="gunicorn.conf.py", **env):
        self.port = free_port()
        self.config = config  # gunicorn's settings file (bench/graceful_stop.py varies it)
        # Each server is an instance of its own, with its own metrics (gunicorn.conf.py), in
        # the test's folder: a server killed at the end leaves nothing outside it.
        self.env = {
            **os.environ,
            "PROMETHEUS_MULTIPROC_DIR": str(Path(log_dir) / f"metrics-{self.port}"),
            "PORT": str(self.port),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url or "",
            "REDIS_PREFIX": f"test:{uuid.uuid4().hex[:12]}:",
            "JWT_SECRET_KEY": SECRET,
            "WEB_CONCURRENCY": str(workers),
            "RATELIMIT_IP": "1000000/minute",
            "RATELIMIT_START": "1000000/minute",
            "RATELIMIT_UPDATE": "1000000/minute",
            "REDIS_SOCKET_TIMEOUT_SECONDS": "15",  # slow is not down on a busy test machine
            **env,
        }
        self.log_path = Path(log_dir) / f"gunicorn-{self.port}.log"
        self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        with open(self.log_path, "ab") as log:  # a restart adds to the log of the last run
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", self.config, "wsgi:app"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # a process group of its own, which kill() ends
            )
        wait_for_port(self.port, self.proc)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def workers(self) -> set[int]:
        """The process ids of gunicorn's workers now (Linux: the master's children)."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return {int(pid) for pid in children.read_text().split()}

    def worker_serving(self, client_port: int) -> int:
        """The worker that holds this machine's connection from ``client_port``."""
        return socket_holder(self.workers(), self.port, peer=client_port)

    def stop(self) -> None:
        """Quick shutdown: a graceful one waits out a second of gunicorn's own loop, and the
        graceful path has a test of its own."""
        if self.proc:
            stop(self.proc, signal.SIGQUIT)

    def kill(self) -> None:
        """The master and its workers, at once (SIGKILL to the process group): a test's
        cleanup, where nothing is left to check. ``stop`` takes about a second."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
