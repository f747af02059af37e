"""The data of bench/growth.py: a database migrated to head, its day partitions, a year of
audit events and the last days' tickets loaded with COPY, and the scores they add up to.

Each day's events come from a fiftieth of the players (at least enough that every player
plays on some day), the slice moving on each day: a player plays a few times on the days
they play, as people do, so the day and week windows number far fewer than the events.
Every event is a click worth 1, accepted; every event of the last ``ticket_days`` days has
its completed ticket. The users' and window scores are what the events add up to, so
``verify`` is exact.

The partitions are those a database that had been running through that year would have:
the day partitions `flask scoreboard maintain` adds as days come (data/partitions.py's
add_day, as maintain calls it). A database migrated today has a partition of everything
before the day after tomorrow (migration 0016), so the year lies ahead of the real clock
(``start``), and the app's clock stands on its last day.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_migrate import upgrade
from sqlalchemy import text

from bench.partition_lock import Lines
from scoreboard.core import clock
from scoreboard.data import partitions
from scoreboard.data.db import db, unbounded
from scoreboard.play import actions

# Share of the players who play on a day.
DAILY_SHARE = 50
# The tables measured, and the sequence COPY's explicit ids must move past.
TABLES = ("audit_events", "action_tickets", "users", "window_scores", "checkpoint_scores")


@dataclass(frozen=True)
class Shape:
    players: int
    events: int
    days: int = 365
    ticket_days: int = 60

    def player(self, n: int) -> int:
        """The player of event ``n``."""
        day = n * self.days // self.events
        stride = math.ceil(self.players / self.days)
        per_day = max(self.players // DAILY_SHARE, stride)
        return (day * stride + n % per_day) % self.players


def start() -> datetime:
    """The first day of the year loaded: a week ahead of the real clock's day (migration
    0016's partition of the past ends two days ahead of it)."""
    return clock.system_now().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
        days=7)


def last_moment(shape: Shape, first: datetime) -> datetime:
    """Where the app's clock stands: the end of the year's last day."""
    return first + timedelta(days=shape.days) - timedelta(minutes=1)


def prepare(shape: Shape, first: datetime) -> None:
    """Migrate, seed the catalog, add the day partitions and load (in an app context)."""
    upgrade()
    actions.seed_catalog()
    with partitions.cluster_lock(db.engine) as connection:
        for day in range(shape.days):
            partitions.add_day(connection, "audit_events", (first + timedelta(days=day)).date())
        for day in range(shape.days - shape.ticket_days, shape.days):
            partitions.add_day(connection, "action_tickets",
                               (first + timedelta(days=day)).date())
    load(shape, first)


def load(shape: Shape, first: datetime) -> None:
    step = shape.days * 86400 / shape.events
    names = [f"p{n:07d}" for n in range(shape.players)]

    def when(n):
        return (first + timedelta(seconds=n * step)).isoformat(" ")

    def event(n):
        return f"{n + 1}\t{when(n)}\t{names[shape.player(n)]}\tclick\tt{n}\t1\t\\N\taccepted\n"

    tickets_from = math.ceil((shape.days - shape.ticket_days) * 86400 / step)

    def ticket(k):
        n = tickets_from + k
        at = first + timedelta(seconds=n * step)
        return (f"t{n}\t{names[shape.player(n)]}\tclick\t1\t{at.isoformat(' ')}\t"
                f"{at.isoformat(' ')}\t{(at + timedelta(minutes=15)).isoformat(' ')}\t"
                f"{at.isoformat(' ')}\t\\N\n")

    connection = db.session.connection()
    unbounded(connection)  # statements over the whole year, longer than a request's
    # The players first: the tickets refer to them. Their scores come after.
    connection.execute(text(
        "INSERT INTO users (id, display_name, score, score_reached_at, created_at)"
        " SELECT 'p' || lpad(g::text, 7, '0'), 'Player ' || g, 0, :first, :first"
        f" FROM generate_series(0, {shape.players - 1}) AS g"), {"first": first})
    raw = connection.connection.cursor()
    raw.copy_expert("COPY audit_events (id, at, user_id, action_type, ticket_id, delta,"
                    " score_after, outcome) FROM STDIN", Lines(shape.events, event))
    raw.copy_expert(
        "COPY action_tickets (id, user_id, action_type, points, created_at, not_before,"
        " expires_at, completed_at, score_after) FROM STDIN",
        Lines(shape.events - tickets_from, ticket))
    for statement in (
            f"SELECT setval('audit_events_id_seq', {shape.events + 1})",
            ("UPDATE users SET score = s.score, score_reached_at = s.reached,"
            " created_at = s.began FROM (SELECT user_id, sum(delta) AS score, max(at) AS"
            " reached, min(at) AS began FROM audit_events GROUP BY user_id) AS s"
            " WHERE users.id = s.user_id"),
            ("INSERT INTO window_scores (period, user_id, score, score_reached_at)"
            " SELECT 'day:' || to_char(at, 'YYYY-MM-DD'), user_id, sum(delta), max(at)"
            " FROM audit_events GROUP BY 1, user_id"),
            ("INSERT INTO window_scores (period, user_id, score, score_reached_at)"
            " SELECT 'week:' || to_char(at, 'IYYY-\"W\"IW'), user_id, sum(delta), max(at)"
            " FROM audit_events GROUP BY 1, user_id")):
        connection.execute(text(statement))
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as autocommit:
        autocommit.execute(text("SET statement_timeout = 0"))
        autocommit.execute(text("VACUUM ANALYZE"))
        autocommit.execute(text("RESET statement_timeout"))


def sizes() -> dict[str, tuple[int, int]]:
    """Each table's (total, index) bytes, summed over its partitions if it has any (a plain
    table has no partition tree)."""
    found = {}
    for table in TABLES:
        found[table] = tuple(int(n) for n in db.session.execute(text(
            "SELECT coalesce(sum(pg_total_relation_size(relid)), 0),"
            " coalesce(sum(pg_indexes_size(relid)), 0) FROM (SELECT relid FROM"
            " pg_partition_tree(CAST(:t AS regclass)) WHERE isleaf UNION SELECT CAST(:t AS"
            " regclass) WHERE (SELECT relkind FROM pg_class WHERE oid = CAST(:t AS regclass))"
            " = 'r') AS leaves"), {"t": table}).one())
    db.session.rollback()
    return found
