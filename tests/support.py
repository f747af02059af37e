"""Helpers shared by the tests: players, free ports and real server processes."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen


ROOT = Path(__file__).resolve().parent.parent
SECRET = "test-secret-" + "x" * 40


@dataclass
class Player:
    """A user with a token, acting through a Flask test client."""

    user_id: str
    token: str
    client: object

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def start(self, action_type="click"):
        return self.client.post(
            "/api/actions/start", json={"actionType": action_type}, headers=self.headers
        )

    def complete(self, action_id, user_id=None):
        body = {"userId": user_id or self.user_id, "authToken": self.token, "actionId": action_id}
        return self.client.post("/api/scores/update", json=body)

    def play(self, action_type="click") -> int:
        """Start and complete one action; returns the new score."""
        started = self.start(action_type)
        assert started.status_code == 201, started.json
        done = self.complete(started.json["actionId"])
        assert done.status_code == 200, done.json
        return done.json["updatedScore"]


def call(method: str, url: str, body=None, headers=None, timeout=30):
    """One HTTP request to a real server; returns (status, parsed JSON body, headers)."""
    data = json.dumps(body).encode() if body is not None else None
    request = Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null"), response.headers
    except HTTPError as error:
        return error.code, json.loads(error.read() or b"null"), error.headers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout=20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it lingers; never leaves the process behind."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class RedisServer:
    """A redis-server of a test's own, on a free port, that the test may kill and restart."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.dir = tmp_path
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.proc)
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Server:
    """gunicorn with the gevent worker serving wsgi:app, as the Procfile runs it."""

    def __init__(self, database_url, redis_url, *, workers=1, log_dir, **env):
        self.port = free_port()
        self.env = {
            **os.environ,
            "PORT": str(self.port),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url or "",
            "REDIS_PREFIX": f"test:{uuid.uuid4().hex[:12]}:",
            "JWT_SECRET_KEY": SECRET,
            "WEB_CONCURRENCY": str(workers),
            "RATELIMIT_IP": "1000000/minute",
            "RATELIMIT_START": "1000000/minute",
            "RATELIMIT_UPDATE": "1000000/minute",
            **env,
        }
        self.log_path = Path(log_dir) / f"gunicorn-{self.port}.log"
        self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for_port(self.port, self.proc)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc:
            stop(self.proc)
