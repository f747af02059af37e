"""The rate limits' storage on a Redis Cluster, for Flask-Limiter (wired by create_app)."""

from functools import cache

import redis
from limits.storage import RedisClusterStorage, Storage
from redis.exceptions import RedisClusterException

SCHEME = "scoreboard+cluster"  # the storage URI's scheme that names LimitsOnCluster


class LimitsOnCluster(Storage):
    """``limits``' own RedisClusterStorage, for Flask-Limiter, made at first use: made at
    once, as Flask-Limiter makes its storage while the app is built, it would ask a node for
    the map of slots then, and a worker could not start while no node answers. Until it is
    made, each use fails as an outage does, which Flask-Limiter meets with its in-memory
    fallback; its checks for the storage's return make it. Flask-Limiter finds it by the
    scheme of its storage URI (limits_scheme)."""

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions, **options)
        self._uri = uri.replace(SCHEME, "redis+cluster", 1)
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


@cache
def limits_scheme() -> str:
    """The storage URI scheme that names LimitsOnCluster in limits' registry of storages,
    the library's way to add one. The registry takes a class as it is made (its
    metaclass), so the class that carries the scheme is made here, when create_app first
    asks for it, and not as this module is imported."""
    type("LimitsOnClusterScheme", (LimitsOnCluster,), {"STORAGE_SCHEME": [SCHEME]})
    return SCHEME
