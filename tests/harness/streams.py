"""Server-Sent Events clients of a real server: one that reads event by event, and many raw
asyncio clients at once for the fan-out tests."""

import asyncio
import http.client
import json
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

    def close(self) -> None:
        self.response.close()
        self.conn.close()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
