"""Upkeep of the tables that grow with every play (`flask scoreboard maintain`, and each
worker on a timer): partitions ready ahead of now, and tickets dropped once past their use.

A ticket is past its use once nothing can ask for it again: it expired (unspent, it can no
longer be completed) at least TICKET_REPLAY_SECONDS ago, so a repeat of its completed
update has had that long to get its answer; and its completion, if any, no longer counts
toward a cooldown or the day's limit (rules.py reads completions since the UTC day's start
and over the longest cooldown of the catalog). On PostgreSQL whole day partitions go: a
day's tickets all expired by the day's end plus the longest life a ticket gets (the
catalog's longest minimum duration plus TICKET_TTL_SECONDS, or the longest life a ticket
was issued with, if a type's was longer before), so that bound stands for them;
on SQLite the rows go one by one, by their own expiry. Audit partitions are kept: the audit
log is the proof of every score; only with AUDIT_RETENTION_DAYS set are those older than
that archived (archive.py), a checkpoint keeping the proof.
"""

import logging
import random
from datetime import datetime, timedelta

import gevent
from flask import current_app
from sqlalchemy import delete, func, select, text

from ..core import clock, periods
from ..data import partitions
from ..data.db import db, on_postgres
from ..data.models import ActionTicket, ActionType
from . import archive

log = logging.getLogger(__name__)


def maintain() -> list[str]:
    """Do the upkeep once, in the current app; what was done, a line each."""
    config = current_app.config
    now = clock.now()
    kept_since = _tickets_kept_since(now, config)
    if not on_postgres():
        gone = db.session.execute(
            delete(ActionTicket).where(ActionTicket.expires_at < kept_since)).rowcount
        db.session.commit()
        return ["SQLite keeps plain tables, so there are no partitions to add",
                f"deleted {gone} tickets that expired before {kept_since:%Y-%m-%d %H:%M:%S}",
                *archive.retain(now)]
    # The longest life a ticket of the catalog gets now, or was ever issued with (a
    # min_seconds or the TTL since lowered: actions._record_life).
    longest_min, longest_life = db.session.execute(select(
        func.max(ActionType.min_seconds), func.max(ActionType.longest_life_seconds))).one()
    life = timedelta(seconds=max(config["TICKET_TTL_SECONDS"] + (longest_min or 0),
                                 longest_life or 0))
    db.session.rollback()
    with partitions.cluster_lock(db.engine) as connection:
        if connection is None:
            return ["another instance is maintaining the partitions: nothing done here"]
        done = _add_days(connection, now, config["PARTITION_DAYS_AHEAD"])
        done += archive.retain(now, connection)  # AUDIT_RETENTION_DAYS, if set
        # A day's tickets all expired by the day's end plus the longest life of a ticket.
        for partition in partitions.partitions(connection, "action_tickets"):
            if partition.end is not None and partition.end + life <= kept_since:
                done.append(f"dropped {partition.name}" if partitions.drop(
                    connection, partition) else f"{partition.name}: left for the next run,"
                    " its table was busy")
        gone = connection.execute(text(
            "DELETE FROM action_tickets_default WHERE expires_at < :since"),
            {"since": kept_since}).rowcount
        connection.commit()
        if gone:
            done.append(f"deleted {gone} tickets past their use from action_tickets_default")
    return done or ["nothing to do: every partition is in place"]


def _add_days(connection, now: datetime, ahead: int) -> list[str]:
    done = []
    for table in partitions.PARTITIONED:
        existing = partitions.partitions(connection, table)
        for offset in range(ahead + 1):
            day = (now + timedelta(days=offset)).date()
            if not any(partition.covers(day) for partition in existing):
                name = partitions.add_day(connection, table, day)
                done.append(f"created {name}" if name else
                            f"{table}: {day} left for the next run, a table was busy")
    return done


def _tickets_kept_since(now: datetime, config) -> datetime:
    """Tickets that expired before this moment are past their use."""
    cooldown = db.session.scalar(select(func.max(ActionType.cooldown_seconds))) or 0
    return min(now - timedelta(seconds=config["TICKET_REPLAY_SECONDS"]),
               periods.day_start(now), now - timedelta(seconds=cooldown))


class Upkeep:
    """``maintain`` on a timer in a worker, every MAINTAIN_INTERVAL_SECONDS (spread a
    little, so workers do not all come at once) and soon after the worker starts. Each
    worker runs it; the cluster lock makes one at a time do the work, and the others find
    it done."""

    def __init__(self, app):
        self.app = app
        self._greenlet = None

    def start(self) -> None:
        interval = self.app.config["MAINTAIN_INTERVAL_SECONDS"]
        if interval > 0 and self._greenlet is None:
            self._greenlet = gevent.spawn(self._loop, interval)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def _loop(self, interval: float) -> None:
        gevent.sleep(random.uniform(0, min(60.0, interval)))
        while True:
            with self.app.app_context():
                try:
                    for line in maintain():
                        log.info("maintain: %s", line)
                except Exception:  # the database away: the next round tries again
                    log.exception("maintain failed")
                finally:
                    db.session.remove()
            gevent.sleep(interval * random.uniform(0.9, 1.1))
