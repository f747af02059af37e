"""What one change notice costs a worker that hears it, on one Redis: the notices of a real
update are caught on their way (``PSUBSCRIBE`` on the service's prefix) and published again
many times, so the listening worker hears thousands a second of notices it already knows,
far more than one worker could make by updating. A notice that brings nothing newer costs
the same work up to the comparison of versions (the message read and parsed, the hub and
the refresher told); a newer one also marks the view for the refresher, whose reads are
capped per view and counted apart (bench/http_load.py's ``hearing``).

Used by bench/http_load.py (``--listener``, one Redis only).
"""

import time

import redis

# Channels whose messages are not change notices: a reader's markers (one worker's own)
# and the endings of streams.
NOT_NOTICES = ("board-sync:", "stream-ends")


def caught_notices(redis_url: str, prefix: str, update) -> list[tuple[bytes, bytes]]:
    """The (channel, message) pairs the service published while ``update()`` ran."""
    client = redis.Redis.from_url(redis_url)
    listening = client.pubsub(ignore_subscribe_messages=True)
    try:
        listening.psubscribe(prefix + "*")
        update()
        caught, deadline = [], time.monotonic() + 2.0
        while time.monotonic() < deadline:
            message = listening.get_message(timeout=0.2)
            if message is None and caught:
                break
            if message and not any(s.encode() in message["channel"] for s in NOT_NOTICES):
                caught.append((message["channel"], message["data"]))
        return caught
    finally:
        listening.close()
        client.close()


def cost_per_notice(redis_url: str, notices: list[tuple[bytes, bytes]], cpu, count=20_000,
                    batch=500) -> dict:
    """Publish ``notices`` again, ``count`` messages in all; the CPU seconds the listener
    (``cpu()``, its total so far) spent per message, less its quiet rate measured just
    before, and the messages a second the publishing reached."""
    client = redis.Redis.from_url(redis_url)
    try:
        quiet_from, quiet_at = cpu(), time.monotonic()
        time.sleep(2.0)
        quiet = (cpu() - quiet_from) / (time.monotonic() - quiet_at)
        began, start = cpu(), time.monotonic()
        sent = 0
        while sent < count:
            pipe = client.pipeline(transaction=False)
            for n in range(batch):
                pipe.publish(*notices[(sent + n) % len(notices)])
            pipe.execute()
            sent += batch
        publishing = time.monotonic() - start
        # The worker reads behind the publisher: wait until its CPU stops growing.
        last, deadline = cpu(), time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = cpu()
            if now - last < 0.25 * quiet + 1e-3:
                break
            last = now
        elapsed = time.monotonic() - start
        return {"messages": sent, "messages_per_second": sent / publishing,
                "cpu_us_per_message": (cpu() - began - quiet * elapsed) / sent * 1e6}
    finally:
        client.close()
