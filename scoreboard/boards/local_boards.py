"""This worker's copy of the boards it serves: each view's newest snapshot, whose encoded
bytes every read and every stream's first frame share. A change notice for a view (from this
process's own writes, or from the worker's one broker subscription) marks the copy as
overtaken: a request no longer gets it (leaderboard.fresh_snapshot), and the refresher
(refresher.py) brings the next one for the streams. A short maximum age is the safety net
for a notice that never arrived: an older copy is read again from the shared cache."""

import threading
import time

MAX_VIEWS = 1024  # groups and past windows are many; only the busy ones need to stay
MAX_NOTICES = 16 * MAX_VIEWS  # views whose latest notice is remembered one by one
LOCKS = 64  # loads of different views rarely wait for each other on this many locks


class LocalBoards:
    def __init__(self, max_age: float):
        self.max_age = max_age
        self._held = {}  # view key -> (snapshot, monotonic time it was fetched)
        self._announced = {}  # view key -> newest version a notice named
        self._forgotten = 0  # the newest version of the notices no longer remembered
        self._served = {}  # view key -> newest version handed out: never hand out less
        # gevent's, once the worker has patched threading: a greenlet waits, not the worker.
        self._locks = [threading.Lock() for _ in range(LOCKS)]

    def get(self, key: str):
        """The view's snapshot if this worker holds one young enough to serve."""
        held = self._held.get(key)
        if held is None or time.monotonic() - held[1] > self.max_age:
            return None
        return held[0]

    def is_current(self, key: str) -> bool:
        """Whether this worker holds the view and no notice has overtaken its copy."""
        held = self.get(key)
        return held is not None and held.version >= self.announced(key)

    def announced(self, key: str) -> int:
        """The newest version a notice named for the view (at least, once some notices had
        to be forgotten: a view whose notice is gone counts as changed at the newest of
        them)."""
        return self._announced.get(key, self._forgotten)

    def needed(self, key: str) -> int:
        """The least version a request may be given: no older than a notice heard, nor
        than a copy handed out."""
        return max(self.announced(key), self._served.get(key, 0))

    def held(self, key: str):
        """This worker's copy of the view, however old; None without one."""
        held = self._held.get(key)
        return None if held is None else held[0]

    def loading(self, key: str):
        """Held while a view is read: the reads that miss it meanwhile wait for that one
        read instead of each asking the store (and the database) again."""
        return self._locks[hash(key) % LOCKS]

    def served(self, key: str) -> int:
        return self._served.get(key, 0)

    def keep(self, key: str, snapshot):
        """Hand out ``snapshot`` for ``key``, and keep it for the next reads."""
        if snapshot.version < self._served.get(key, 0):
            return snapshot
        self._served[key] = snapshot.version
        # Re-inserted, so the dict's order is the order of fetching.
        if self._held.pop(key, None) is None and len(self._held) >= MAX_VIEWS:
            del self._held[next(iter(self._held))]  # the one fetched longest ago
        self._held[key] = (snapshot, time.monotonic())
        return snapshot

    def notice(self, keys=None, version: int | None = None) -> None:
        """A change notice: ``keys`` changed at ``version``; without keys, any view may
        have (the subscription was lost and notices with it): every copy is dropped."""
        if keys is None or version is None:
            for key in list(self._held) if keys is None else keys:
                self._held.pop(key, None)
            return
        for key in keys:
            if version > self._announced.get(key, 0):
                self._announced[key] = version
        if len(self._announced) > MAX_NOTICES:
            # Views held keep theirs; the others count as changed at the newest forgotten.
            kept = {k: v for k, v in self._announced.items() if k in self._held}
            self._forgotten = max([self._forgotten, *(
                v for k, v in self._announced.items() if k not in kept)])
            self._announced = kept
