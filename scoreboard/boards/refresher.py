"""The refresher: it rebuilds the boards that changed, so that no request has to.

A change notice names the views a write may have moved. For each that this worker keeps a
copy of, the refresher brings a newer snapshot: from the shared cache when another worker
has built one already, or else it claims the view for the whole cluster and reads it from
the database. A claim lasts ``BOARD_REFRESH_SECONDS``, and each worker looks at most once
per that interval, so a view is read from the database at most about five times a second
across the cluster however fast it is written, and readers serve the copy they hold
meanwhile (the stream coalesces at the same rate). While Redis is away each worker reads
the database for itself, at the same pace.

Without an event loop (the Flask test client, the CLI) nothing runs in the background: a
notice is acted on at once, without a claim (there is no later to wait for), so the next
read sees the write.
"""

import logging
import time

import gevent
from gevent.event import Event

from ..adapters.redis_port import StoreUnavailable
from ..core import meters
from . import leaderboard
from .views import View

log = logging.getLogger(__name__)


class Refresher:
    def __init__(self, app, boards, board_cache, interval: float):
        self.app = app
        self.boards = boards
        self.cache = board_cache
        self.interval = interval
        self._on_newer = []  # called with a view's key when a newer copy is kept
        self._due = {}  # view key -> newest version a notice named, newer than the copy here
        self._wake = Event()
        self._running = False
        self._loop_greenlet = None

    def listen(self, on_newer) -> None:
        """Call ``on_newer(key)`` whenever a newer copy of a view is kept here (the hub's
        streams send it)."""
        self._on_newer.append(on_newer)

    def start(self) -> None:
        if not self._running:
            self._running = True
            self._loop_greenlet = gevent.spawn(self._loop)

    def stop(self) -> None:
        if self._running:
            self._running = False
            self._loop_greenlet.kill(block=False)

    def stats(self) -> dict:
        return {"board_refreshes_due": len(self._due)}

    def publish(self) -> None:
        """Put this worker's count of boards due in /metrics: whenever it changes, as tests
        and operators wait for it to reach 0 across the workers."""
        meters.BOARD_REFRESHES_DUE.set(len(self._due))

    def changed(self, keys, version: int) -> None:
        """A notice: ``keys`` changed at ``version``. Views this worker keeps no copy of
        are left alone: their next read fetches them."""
        for key in keys:
            held = self.boards.held(key)
            if held is not None and version > max(held.version, self._due.get(key, 0)):
                self._due[key] = version
        self.publish()
        if not self._due:
            return
        if self._running:
            self._wake.set()
        else:
            self._refresh_due()

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            began = time.monotonic()
            try:
                self._refresh_due()
            except Exception:  # never let the loop die: every copy here would then go stale
                log.exception("board refresh round failed")
                self._wake.set()
            gevent.sleep(max(0.0, began + self.interval - time.monotonic()))

    def _refresh_due(self) -> None:
        with self.app.app_context():
            for key, version in list(self._due.items()):
                try:
                    done = self._refresh(key, version)
                except Exception:  # the database is down too: keep serving, try again
                    log.exception("could not refresh board %s", key)
                    done = False
                if done and self._due.get(key) == version:
                    del self._due[key]
        self.publish()
        if self._due and self._running:
            self._wake.set()  # another worker builds them: look again next round

    def _refresh(self, key: str, version: int) -> bool:
        """Bring the view to ``version`` or newer; False when another worker of the cluster
        is building it now."""
        view = View.from_key(key)
        try:
            cached = self.cache.get_top(key)
            if cached is not None and cached.version >= version:
                snapshot = leaderboard.Snapshot.from_json(cached.body)
            elif not self._running or self.cache.claim_refresh(key, self.interval):
                snapshot = leaderboard.refresh_cache(view)
            else:
                return False
        except StoreUnavailable:
            snapshot = leaderboard.read_snapshot(view)
        held = self.boards.held(key)
        self.boards.keep(key, snapshot)
        if held is None or snapshot.version > held.version:
            for on_newer in self._on_newer:
                on_newer(key)
        return snapshot.version >= version
