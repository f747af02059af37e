"""The two ways RedisStore sends a batch of commands (redis_port.Batch) in one round trip:
packed by hand (``Commands``), or on redis-py's own pipeline (``Pipeline``). Each
``execute`` returns every reply, an error reply as its exception, in the order queued."""

import redis


class Queued:
    """What a batch derives from its ``command``."""

    PUBLISH = "PUBLISH"  # a cluster's batch publishes on shard channels instead

    def script(self, text: str, keys, args) -> None:
        self.command("EVAL", text, len(keys), *keys, *args)

    def publish(self, channel: str, message) -> None:
        self.command(self.PUBLISH, channel, message)


class Commands(Queued):
    """Commands packed as they are queued, and their replies read without redis-py's
    pipeline machinery (its packer, callbacks, observability and retry layers), for
    commands whose replies are plain integers and lists: a write's gate and its change
    notices travel this way. bench/update_cost.py --batches compares the two."""

    def __init__(self, pool: redis.ConnectionPool):
        self.pool = pool
        self.packed = []

    def __len__(self) -> int:
        return len(self.packed)

    def command(self, *args) -> None:
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
        self.packed.append(b"".join(parts))

    def execute(self) -> list:
        """A dropped connection is retried as redis-py's own pipeline retries it."""
        if not self.packed:
            return []
        connection = self.pool.get_connection()
        try:
            return connection.retry.call_with_retry(
                lambda: _send_and_read(connection, self.packed),
                lambda error: connection.disconnect())
        finally:
            self.pool.release(connection)


class Pipeline(Queued):
    """Commands on redis-py's pipeline (a cluster's too); with ``transaction``, wrapped in
    MULTI/EXEC."""

    def __init__(self, client, transaction: bool):
        self.pipe = client.pipeline(transaction=transaction)

    def __len__(self) -> int:
        return len(self.pipe)

    def command(self, *args) -> None:
        self.pipe.execute_command(*args)

    def execute(self) -> list:
        return self.pipe.execute(raise_on_error=False)


def _send_and_read(connection, packed: list) -> list:
    connection.send_packed_command([b"".join(packed)])
    replies = []
    for _ in packed:  # every reply is read, so the connection stays in step
        try:
            replies.append(connection.read_response())
        except redis.ResponseError as error:
            replies.append(error)
    return replies
