"""Helpers shared by the tests: players, free ports and real server processes."""

import asyncio
import http.client
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
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

import psycopg2

from scoreboard import actions, scoring


ROOT = Path(__file__).resolve().parent.parent
SECRET = "test-secret-" + "x" * 40
ADMIN_DB_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin(statement: str) -> None:
    admin = psycopg2.connect(ADMIN_DB_URL, connect_timeout=3)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(statement)
    finally:
        admin.close()


def create_database(name: str) -> str:
    """A new, empty PostgreSQL database (an old one of that name is dropped); its URL."""
    drop_database(name)
    _admin(f"CREATE DATABASE {name}")
    return ADMIN_DB_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(name: str) -> None:
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def play(app, user_id: str, times: int = 1, at=None) -> int:
    """Start and complete ``times`` click actions through the services (no HTTP), at the
    moment ``at`` when given (the app's clock stays there); returns the last score."""
    if at is not None:
        app.config["CLOCK"] = lambda: at
    with app.app_context():
        for _ in range(times):
            ticket = actions.start_action({"sub": user_id}, "click")
            score = scoring.complete_action(scoring.Attempt(user_id, ticket.id))
    return score


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


class EventStream:
    """A Server-Sent Events client for a real server, reading one event at a time."""

    def __init__(self, url: str, headers=None, timeout=10.0):
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.conn.request("GET", path, headers=dict(headers or {}))
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = self.response.headers

    def next(self) -> dict | None:
        """The next event as its fields, a comment as {"comment": ...}; None at the end."""
        event = {}
        while True:
            line = self.response.readline()
            if not line:
                return event or None
            line = line.decode().rstrip("\n")
            if not line:
                if event:
                    return event
            elif line.startswith(":"):
                return {"comment": line[1:].strip()}
            else:
                field, _, value = line.partition(":")
                event[field] = value[1:] if value.startswith(" ") else value

    def next_snapshot(self) -> dict:
        """Skip heartbeats and hints to the next board snapshot."""
        while True:
            event = self.next()
            assert event is not None, "stream ended"
            if event.get("event") == "scoreboard":
                return json.loads(event["data"])

    def close(self) -> None:
        self.conn.close()


async def _watch(port: int, ready, target_version: int, timeout: float):
    """One raw stream client: report when connected, return True once it sees the version."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /api/scores/stream HTTP/1.1\r\nHost: test\r\n\r\n")
    await writer.drain()
    marker = f"id: {target_version}\n".encode()
    seen = b""
    try:
        while b"event: scoreboard" not in seen:
            seen += await asyncio.wait_for(reader.read(65536), timeout)
        ready()
        async with asyncio.timeout(timeout):
            while marker not in seen:
                data = await reader.read(65536)
                if not data:
                    return False
                seen = seen[-200:] + data
        return True
    except TimeoutError:
        return False
    finally:
        writer.close()


def fan_out(port: int, clients: int, target_version: int, trigger, timeout=30.0) -> list[bool]:
    """Open ``clients`` streams at once; when all have their first snapshot, call ``trigger``
    (in a thread) and return, per client, whether it received ``target_version``."""

    async def run():
        connected = asyncio.Event()
        count = 0

        def ready():
            nonlocal count
            count += 1
            if count == clients:
                connected.set()

        watchers = [asyncio.ensure_future(_watch(port, ready, target_version, timeout))
                    for _ in range(clients)]
        await asyncio.wait_for(connected.wait(), timeout)
        await asyncio.to_thread(trigger)
        return await asyncio.gather(*watchers)

    return asyncio.run(run())


def play_http(base_url: str, token: str, user_id: str, action_type="click") -> int:
    """Start and complete one action through a real server; returns the new score."""
    status, ticket, _ = call("POST", base_url + "/api/actions/start",
                             {"actionType": action_type},
                             {"Authorization": f"Bearer {token}"})
    assert status == 201, ticket
    status, body, _ = call("POST", base_url + "/api/scores/update",
                           {"userId": user_id, "authToken": token,
                            "actionId": ticket["actionId"]})
    assert status == 200, body
    return body["updatedScore"]


def wait_until(predicate, timeout=15.0, interval=0.05) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes; returns its last answer."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def metric(server, name: str) -> float:
    """One figure from a real server's /metrics."""
    with urlopen(server.url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    return float(dict(line.split() for line in text.splitlines())["scoreboard_" + name])
