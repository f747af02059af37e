"""Change notices: after a commit that moved the board, tell every worker its new version."""

import logging

from flask import current_app

from .store import StoreUnavailable

log = logging.getLogger(__name__)


def publish_change(snapshot) -> None:
    """Announce a new board version; a lost notice only delays streams until their next poll."""
    try:
        current_app.extensions["scoreboard.broker"].publish(snapshot.version)
    except StoreUnavailable as exc:
        log.warning("change notice for version %s not sent: %s", snapshot.version, exc)


class MemoryBroker:
    """In-process notices for the embedded default, where there is one worker process."""

    def __init__(self):
        self._listeners = []

    def subscribe(self, listener) -> None:
        self._listeners.append(listener)

    def publish(self, version: int) -> None:
        for listener in list(self._listeners):
            listener(version)


class RedisBroker:
    """Notices over Redis pub/sub, so workers on every machine hear of each change."""

    CHANNEL = "board"

    def __init__(self, store):
        self.store = store

    def publish(self, version: int) -> None:
        self.store.publish(self.CHANNEL, str(version))
