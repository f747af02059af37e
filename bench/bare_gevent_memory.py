"""Memory per open connection of a BARE gunicorn gevent worker, for comparison with the
stream benchmark: a WSGI app that sends one line and parks, nothing else.

    .venv/bin/python bench/bare_gevent_memory.py --clients 5000

Run as a gunicorn app, this module's ``app`` is the bare stream.
"""

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def app(environ, start_response):
    from gevent.event import Event

    start_response("200 OK", [("Content-Type", "text/event-stream")])

    def body():
        yield b"retry: 1000\n\n"
        Event().wait()

    return body()


class Quiet(asyncio.Protocol):
    def connection_made(self, transport):
        transport.write(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")


async def rss_with_connections(port: int, clients: int, rss) -> int:
    """Open ``clients`` connections, let the worker settle, read its RSS while they are open."""
    loop = asyncio.get_running_loop()
    transports = []
    for start in range(0, clients, 500):
        made = await asyncio.gather(*(loop.create_connection(Quiet, "127.0.0.1", port)
                                      for _ in range(min(500, clients - start))))
        transports += [t for t, _ in made]
    await asyncio.sleep(2)
    return rss()


def main():
    from bench.stream_fanout import rss_bytes, worker_pid
    from tests.harness.servers import free_port, stop, wait_for_port

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=5000)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-k", "gevent", "--worker-connections",
         str(args.clients + 100), "-b", f"127.0.0.1:{port}", "bench.bare_gevent_memory:app"],
        cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, server)
        time.sleep(1)
        pid = worker_pid(server.pid)
        before = rss_bytes(pid)
        after = asyncio.run(rss_with_connections(port, args.clients, lambda: rss_bytes(pid)))
        print(f"bare gevent worker: {args.clients} connections, "
              f"{(after - before) / args.clients / 1024:.1f} KB per connection")
    finally:
        stop(server)


if __name__ == "__main__":
    main()
