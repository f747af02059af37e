"""How long an instance takes to stop on SIGTERM with streams open: gunicorn.conf.py as it is
(each worker ends its streams at SIGTERM), and the same without that handler, where gunicorn
waits up to graceful_timeout for the streams to end by themselves.

For each run it starts a fresh instance (two gevent workers, PostgreSQL and the Redis at
REDIS_URL), opens N streams, sends SIGTERM to the master and prints when the streams ended
and when the master exited.

    .venv/bin/python bench/graceful_stop.py --streams 20 --runs 3
"""

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stream_fanout import fresh_database  # noqa: E402
from tests.harness.databases import drop_database  # noqa: E402
from tests.harness.servers import Server  # noqa: E402
from tests.harness.streams import EventStream, Reader  # noqa: E402

# gunicorn.conf.py with its post_worker_init but for the SIGTERM handler.
WITHOUT_HANDLER = """\
exec(compile(open({conf!r}).read(), {conf!r}, "exec"))


def post_worker_init(worker):
    from scoreboard.live import current_hub

    current_hub(worker.wsgi).start()
"""


def stop_once(database_url, redis_url, config, streams, log_dir) -> tuple[float, float]:
    """(seconds until the last stream ended, until the master exited) after SIGTERM."""
    server = Server(database_url, redis_url, workers=2, log_dir=log_dir, config=config,
                    STREAM_MAX_PER_IP=str(streams)).start()
    readers = []
    try:
        for _ in range(streams):
            stream = EventStream(server.url + "/api/scores/stream", timeout=120)
            stream.next_snapshot()
            readers.append(Reader(stream))
        began = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=120)
        exited = time.monotonic() - began
        for reader in readers:
            reader.ended.wait(timeout=30)
        ended = max(reader.ended_at for reader in readers) - began
        return ended, exited
    finally:
        for reader in readers:
            reader.stream.close()
        server.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    database = "scoreboard_stop_bench"
    database_url = fresh_database(database)
    try:
        with tempfile.TemporaryDirectory(prefix="graceful-stop-") as folder:
            without = Path(folder) / "without_handler.conf.py"
            without.write_text(WITHOUT_HANDLER.format(conf=str(ROOT / "gunicorn.conf.py")))
            for name, config in (("gunicorn.conf.py", "gunicorn.conf.py"),
                                 ("without the SIGTERM handler", str(without))):
                runs = [stop_once(database_url, redis_url, config, args.streams, folder)
                        for _ in range(args.runs)]
                ended, exited = zip(*runs)
                print(f"{name}: {args.streams} streams ended after "
                      f"{statistics.median(ended) * 1000:.0f} ms (max {max(ended) * 1000:.0f}),"
                      f" master exited after {statistics.median(exited):.2f} s "
                      f"(max {max(exited):.2f}), median of {args.runs}")
    finally:
        drop_database(database)


if __name__ == "__main__":
    main()
