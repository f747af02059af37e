"""What Redis spends to deliver one pub/sub message to one subscriber: the cost of a change
notice heard by every worker of a fleet (docs/SCALING.md, "Capacity").

On a redis-server of its own, ``--subscribers`` connections subscribe to one channel and
are drained by one thread of this process; the publisher sends ``--messages`` notices of a
real notice's size in pipelines. Redis's CPU (``INFO``: used_cpu_user + used_cpu_sys) per
delivered message gives the deliveries a second one node takes at a full core. With
``--json FILE`` the figures go to FILE, for bench/capacity.py.

    .venv/bin/python bench/pubsub_fanout.py --subscribers 100 --messages 50000
"""

import argparse
import os
import selectors
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stream_fanout import write_json
from tests.harness.servers import RedisServer

CHANNEL = b"test:board{06}"
NOTICE = b"123456 all region:DE day:2026-12-03 week:2026-W49"  # a notice's usual size


def subscribe(port: int, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(CHANNEL), CHANNEL))
        sock.recv(4096)  # the confirmation
        sock.setblocking(False)
        socks.append(sock)
    return socks


def drain(socks: list[socket.socket], stop: threading.Event, received: list[int]) -> None:
    """Read every subscriber's bytes as they come, so that Redis never waits on one."""
    chooser = selectors.DefaultSelector()
    for sock in socks:
        chooser.register(sock, selectors.EVENT_READ)
    while not stop.is_set():
        for key, _ in chooser.select(timeout=0.1):
            try:
                received[0] += len(key.fileobj.recv(1 << 16))
            except BlockingIOError:
                pass


def redis_cpu(client) -> float:
    info = client.info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp)).start()
        try:
            client = redis.Redis.from_url(server.url)
            socks = subscribe(server.port, args.subscribers)
            stop, received = threading.Event(), [0]
            reader = threading.Thread(target=drain, args=(socks, stop, received))
            reader.start()
            # One message's bytes on a subscriber's socket: the RESP "message" array.
            frame = len(b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
                        % (len(CHANNEL), CHANNEL, len(NOTICE), NOTICE))
            expected = frame * args.messages * args.subscribers
            before, began = redis_cpu(client), time.monotonic()
            for start in range(0, args.messages, 200):
                pipe = client.pipeline(transaction=False)
                for _ in range(min(200, args.messages - start)):
                    pipe.publish(CHANNEL, NOTICE)
                pipe.execute()
            deadline = time.monotonic() + 120
            while received[0] < expected and time.monotonic() < deadline:
                time.sleep(0.05)
            elapsed = time.monotonic() - began
            spent = redis_cpu(client) - before
            stop.set()
            reader.join()
            for sock in socks:
                sock.close()
            client.close()
        finally:
            server.kill()
    deliveries = args.messages * args.subscribers
    figures = {"bench": "pubsub_fanout", "subscribers": args.subscribers,
               "messages": args.messages, "delivered": received[0] / expected,
               "redis_cpu_us_per_delivery": spent / deliveries * 1e6,
               "deliveries_per_second": deliveries / elapsed}
    print(f"{args.messages:,} messages to {args.subscribers} subscribers "
          f"({figures['delivered']:.3f} of the bytes arrived) in {elapsed:.1f} s: Redis CPU "
          f"{figures['redis_cpu_us_per_delivery']:.3f} µs per delivery, "
          f"{figures['deliveries_per_second']:,.0f} deliveries/s; load average "
          f"{os.getloadavg()[0]:.1f}")
    if args.json:
        write_json(args.json, figures)


if __name__ == "__main__":
    main()
