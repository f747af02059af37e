"""The rate limits' storage on a Redis Cluster, for Flask-Limiter (wired by create_app)."""

import redis
from limits.storage import RedisClusterStorage, Storage
from redis.exceptions import RedisClusterException

LIMITS_SCHEME = "scoreboard+cluster"  # the storage URI's scheme that names LimitsOnCluster


class LimitsOnCluster(Storage):
    """``limits``' own RedisClusterStorage, for Flask-Limiter, made at first use: made at
    once, as Flask-Limiter makes its storage while the app is built, it would ask a node for
    the map of slots then, and a worker could not start while no node answers. Until it is
    made, each use fails as an outage does, which Flask-Limiter meets with its in-memory
    fallback; its checks for the storage's return make it. A storage scheme of limits'
    registry (LIMITS_SCHEME), the library's way to add a storage."""

    STORAGE_SCHEME = (LIMITS_SCHEME,)

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions, **options)
        self._uri = uri.replace(LIMITS_SCHEME, "redis+cluster", 1)
        self._options = options
        self._storage = None

    @property
    def base_exceptions(self):
        return (redis.RedisError, RedisClusterException)

    def made(self) -> RedisClusterStorage:
        if self._storage is None:
            self._storage = RedisClusterStorage(self._uri, **self._options)
        return self._storage

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self.made().incr(key, expiry, amount)

    def get(self, key: str) -> int:
        return self.made().get(key)

    def get_expiry(self, key: str) -> float:
        return self.made().get_expiry(key)

    def check(self) -> bool:
        try:
            return self.made().check()
        except self.base_exceptions:
            return False

    def reset(self) -> int | None:
        return self.made().reset()

    def clear(self, key: str) -> None:
        self.made().clear(key)
