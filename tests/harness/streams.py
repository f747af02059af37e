"""Server-Sent Events clients of a real server: one that reads event by event (and a
thread that reads one to its end), and many raw asyncio clients at once for the fan-out
tests."""

import asyncio
import http.client
import json
import threading
import time
from urllib.parse import urlsplit


class EventStream:
    """A Server-Sent Events client for a real server, reading one event at a time."""

    def __init__(self, url: str, headers=None, timeout=30.0):
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

    @property
    def local_port(self) -> int:
        """This client's port: the server's worker holding the connection knows it."""
        return self.conn.sock.getsockname()[1]

    def close(self) -> None:
        self.response.close()
        self.conn.close()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Reader:
    """A stream read to its end in a thread of its own: the versions of the boards it got,
    and how it ended (``how``: "end" when the server ended it, else the error that stopped
    the reading) and when (``ended_at``, time.monotonic())."""

    def __init__(self, stream: EventStream):
        self.stream = stream
        self.versions = []
        self.how = None
        self.ended_at = None
        self.ended = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while (event := self.stream.next()) is not None:
                if event.get("event") == "scoreboard":
                    self.versions.append(json.loads(event["data"])["version"])
            self.how = "end"
        except Exception as error:  # a timeout, or the test closed the stream
            self.how = repr(error)
        self.ended_at = time.monotonic()
        self.ended.set()


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


class Follower:
    """A browser's EventSource, in a thread of its own: it follows a stream, and whenever
    the stream ends or breaks it opens it again at once, with Last-Event-ID set to the id
    of the last board it got, until ``stop``. ``seen``: (that id, that board)."""

    def __init__(self, url: str, timeout=30.0):
        self.url, self.timeout = url, timeout
        self.seen = (None, None)
        self.statuses = []  # each connection's HTTP status, in order
        self.ends = []  # how each connection ended: "end" (by the server) or the error
        self.resumed = 0  # connections opened with a Last-Event-ID
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        while not self._stopping.is_set():
            last_id = self.seen[0]
            try:
                stream = EventStream(self.url, last_id and {"Last-Event-ID": last_id},
                                     self.timeout)
            except (OSError, http.client.HTTPException) as error:
                self.ends.append(repr(error))
                self._stopping.wait(0.1)  # as a browser waits for its retry hint
                continue
            self.statuses.append(stream.status)
            self.resumed += last_id is not None
            try:
                while not self._stopping.is_set() and (event := stream.next()) is not None:
                    if event.get("event") == "scoreboard":
                        self.seen = (event["id"], json.loads(event["data"]))
                self.ends.append("end")
            except (OSError, http.client.HTTPException) as error:
                self.ends.append(repr(error))
            finally:
                stream.close()
            if stream.status != 200:
                self._stopping.wait(0.1)

    @property
    def board(self) -> dict | None:
        return self.seen[1]

    def stop(self, timeout=30.0) -> None:
        """Stop following: at once between connections, or at the stream's next event
        (a heartbeat at the latest)."""
        self._stopping.set()
        self._thread.join(timeout)
