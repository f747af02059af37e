"""The rules of completing an action, written once for both backends.

``STEPS`` is the whole completion: which facts are read (and locked), which refusal wins in
which order, and what an accepted completion writes. Each step is SQL that PostgreSQL and
SQLite both accept, with ``:name`` standing for an input of the attempt or a fact read by an
earlier step. Two runners take it from here:

- ``procedure_sql()`` renders it as the PL/pgSQL procedure ``complete_dated_action``, so
  PostgreSQL does it all in one round trip. A migration holds the rendered text (migrations
  never change once released); tests/test_rules.py fails as soon as these steps and the
  newest migration's text differ, and names the command that prints the new text.
- ``run()`` executes the steps one by one in the caller's session, for the embedded SQLite.

The one piece of arithmetic the rules need, the start of a cooldown, is the SQL function
``seconds_before``: created by the migration on PostgreSQL, registered on every SQLite
connection below.
"""

import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text

from . import audit


@dataclass(frozen=True)
class Fetch:
    """Read one row into facts; no row refuses with ``missing``, or else leaves the facts
    NULL (as PL/pgSQL's SELECT INTO does). ``lock`` takes the row's lock on PostgreSQL
    (SQLite has one writer at a time anyway)."""

    sql: str
    into: tuple  # (fact, PostgreSQL type) per column
    missing: str | None = None
    lock: bool = False
    # Run instead of ``sql`` when the attempt's ticket id holds no moment (``:issued`` is
    # NULL): a ticket of the release before 0019 (core/ticket_ids.py).
    without_moment: str | None = None


@dataclass(frozen=True)
class Refuse:
    """Refuse with ``code`` when the condition holds; nothing is written. A condition that
    reads tables is asked only where ``only_if`` (on facts alone) holds: PL/pgSQL evaluates
    a condition without a query as a plain expression, and one with a query by starting an
    executor, which cost a completion of a type without the limit 20 µs of the database's
    CPU for the two limits (docs/PERFORMANCE.md, thirteenth round)."""

    code: str
    when: str
    only_if: str | None = None


@dataclass(frozen=True)
class Replay:
    """A ticket already completed answers the score it produced, once more in the audit."""

    when: str


@dataclass(frozen=True)
class Write:
    sql: str
    into: tuple = ()


def _audit(outcome: str, delta: str, score: str) -> str:
    # The audit log's row of a play, from the attempt's inputs and the facts read for it.
    return audit.sql(audit.event(
        at=":now", user_id=":user", action_type=":action_type", ticket_id=":ticket",
        delta=delta, score_after=score, outcome=f"'{outcome}'", request_id=":request_id",
        client_ip=":client_ip"))


def _add_to_window(period: str) -> str:
    # The points count in the day and the week they were gained in, as well as all time.
    return ("INSERT INTO window_scores AS w (period, user_id, score, score_reached_at, region)"
            f" VALUES (:{period}, :user, :points, :now, :region)"
            " ON CONFLICT (period, user_id) DO UPDATE"
            " SET score = w.score + excluded.score, score_reached_at = excluded.score_reached_at"
            " RETURNING score")


# The procedure's name (migration 0019). Its forerunners stay for the releases before, until
# a later release drops them: complete_own_action (0017: a ticket looked up by player and
# id, in every day partition) and complete_action (0015: by id alone).
PROCEDURE = "complete_dated_action"

# What the attempt brings: who asks, for which ticket (and the moment its id holds, or
# NULL), when, and where from (for the audit).
INPUTS = (("ticket", "text"), ("user", "text"), ("now", "timestamp"), ("day", "text"),
          ("week", "text"), ("midnight", "timestamp"), ("request_id", "text"),
          ("client_ip", "text"), ("issued", "timestamp"))

# A type whose tickets' longest life is not known yet (action_types.longest_life_seconds,
# NULL until a start of this release records it): every ticket is looked at, as 68 years
# before any completion is before every ticket.
UNKNOWN_LIFE = 2**31 - 1


def _completions(since: str, after: str) -> str:
    """The player's completions of the type since a moment (``after``: > or >=). A ticket
    completed then was issued at most its life before (it expires by then), and no ticket
    of the type lives longer than :life, the longest life one was ever issued with; and
    it was issued by now: so only the day partitions in between are read. The life is a
    record that only grows (actions.py): a type whose min_seconds (or TICKET_TTL_SECONDS)
    was lowered is still bounded by the longer life of its older tickets."""
    return ("FROM action_tickets d WHERE d.user_id = :user AND d.action_type = :action_type"
            f" AND d.created_at BETWEEN seconds_before({since}, :life) AND :now"
            f" AND d.completed_at {after} {since}")


_TICKET = ("SELECT created_at, action_type, points, completed_at, score_after, not_before,"
           " expires_at FROM action_tickets WHERE user_id = :user")

STEPS = (
    # The player's row lock serialises this player's completions, so two tickets of one type
    # cannot both pass the cooldown or daily-limit checks below. It is taken before the
    # ticket's, as a ban takes them (moderation.ban): in the other order, a completion and a
    # ban of its player each waited on the other's lock, and the database broke the
    # deadlock by failing one. A player never seen has no row, nor tickets: unknown.
    Fetch("SELECT banned, hidden, region FROM users WHERE id = :user",
          into=(("banned", "boolean"), ("hidden", "boolean"), ("region", "text")), lock=True),
    # Only the player's own tickets: every statement names the player, so that each runs
    # on the player's shard once the tables are distributed by player (docs/SCALING.md).
    # Whether an unknown ticket is another player's is the caller's to ask (scoring.py).
    # By the ticket's whole key, in its one day partition; an id without its moment, in
    # every partition.
    Fetch(_TICKET + " AND created_at = :issued AND id = :ticket",
          without_moment=_TICKET + " AND id = :ticket",
          into=(("created_at", "timestamp"), ("action_type", "text"), ("points", "integer"),
                ("completed_at", "timestamp"), ("score_after", "bigint"),
                ("not_before", "timestamp"), ("expires_at", "timestamp")),
          missing="unknown", lock=True),
    Refuse("banned", ":banned"),
    Replay(":completed_at IS NOT NULL"),
    Refuse("expired", ":now >= :expires_at"),
    Refuse("too_soon", ":now < :not_before"),
    Fetch("SELECT enabled, cooldown_seconds, daily_limit,"
          f" coalesce(longest_life_seconds, {UNKNOWN_LIFE}) FROM action_types"
          " WHERE id = :action_type",
          into=(("enabled", "boolean"), ("cooldown_seconds", "integer"),
                ("daily_limit", "integer"), ("life", "integer"))),
    Refuse("disabled", "NOT :enabled"),
    Refuse("cooling_down", "EXISTS (SELECT 1 " + _completions(
        "seconds_before(:now, :cooldown_seconds)", ">") + ")", only_if=":cooldown_seconds > 0"),
    Refuse("daily_limit", "(SELECT count(*) " + _completions(":midnight", ">=")
           + ") >= :daily_limit", only_if=":daily_limit IS NOT NULL"),
    Write("UPDATE users SET score = score + :points, score_reached_at = :now"
          " WHERE id = :user RETURNING score", into=(("score", "bigint"),)),
    Write(_add_to_window("day"), into=(("day_score", "bigint"),)),
    Write(_add_to_window("week"), into=(("week_score", "bigint"),)),
    # The ticket's whole key: its one partition (day) is all the update looks at.
    Write("UPDATE action_tickets SET completed_at = :now, score_after = :score"
          " WHERE user_id = :user AND created_at = :created_at AND id = :ticket"),
    Write(_audit("accepted", ":points", ":score")),
)
REPLAY_AUDIT = _audit("replayed", "0", ":score_after")

# What the caller learns, in this order: the procedure's INOUT parameters and run()'s answer.
RESULT = (("outcome", "text"), ("refusal", "text"), ("action_type", "text"),
          ("score", "bigint"), ("region", "text"), ("day_score", "bigint"),
          ("week_score", "bigint"), ("hidden", "boolean"), ("version", "bigint"),
          ("groups", "text[]"))

_NAME = re.compile(r"(?<![:\w]):(\w+)")
_INPUT_NAMES = {name for name, _ in INPUTS}


def facts() -> tuple:
    """Every fact the steps read or write, with its PostgreSQL type, in order of reading."""
    return tuple(fact for step in STEPS if isinstance(step, (Fetch, Write))
                 for fact in step.into)


# -- PostgreSQL: the procedure ---------------------------------------------------------------

def _pg(sql: str) -> str:
    return _NAME.sub(lambda m: ("p_" if m[1] in _INPUT_NAMES else "v_") + m[1], sql)


def _pg_step(step) -> str:
    if isinstance(step, Fetch):
        into = ", ".join("v_" + name for name, _ in step.into)
        lock = " FOR UPDATE" if step.lock else ""
        found = (f"\n    IF NOT FOUND THEN o_outcome := 'rejected'; o_refusal := '{step.missing}';"
                 " RETURN; END IF;" if step.missing else "")
        fetch = f"{_pg(step.sql)}{lock} INTO {into};"
        if step.without_moment:  # FOUND is the branch's that ran
            fetch = (f"IF p_issued IS NULL THEN\n        {_pg(step.without_moment)}{lock}"
                     f" INTO {into};\n    ELSE\n        {fetch}\n    END IF;")
        return f"    {fetch}{found}"
    if isinstance(step, Refuse):
        refuse = (f"IF {_pg(step.when)} THEN o_outcome := 'rejected';"
                  f" o_refusal := '{step.code}'; o_action_type := v_action_type; RETURN; END IF;")
        if step.only_if:
            refuse = f"IF {_pg(step.only_if)} THEN\n        {refuse}\n    END IF;"
        return "    " + refuse
    if isinstance(step, Replay):
        return (f"    IF {_pg(step.when)} THEN\n        {_pg(REPLAY_AUDIT)};\n"
                "        o_action_type := v_action_type; o_score := v_score_after;"
                " o_outcome := 'replayed'; RETURN;\n    END IF;")
    into = " INTO " + ", ".join("v_" + name for name, _ in step.into) if step.into else ""
    return f"    {_pg(step.sql)}{into};"


def procedure_sql() -> str:
    """The CREATE PROCEDURE statement for PostgreSQL. It commits the write, and only then
    takes the board version (migration 0008): whoever reads that version next also sees
    this write."""
    params = ",\n    ".join(
        [f"p_{name} {kind}" for name, kind in INPUTS]
        + [f"INOUT o_{name} {kind}" for name, kind in RESULT])
    declared = "\n".join(f"    v_{name} {kind};" for name, kind in facts())
    body = "\n".join(_pg_step(step) for step in STEPS)
    return f"""CREATE PROCEDURE {PROCEDURE}(
    {params})
LANGUAGE plpgsql AS $$
DECLARE
{declared}
BEGIN
{body}
    o_outcome := 'accepted'; o_action_type := v_action_type; o_score := v_score;
    o_region := v_region; o_day_score := v_day_score; o_week_score := v_week_score;
    o_hidden := v_hidden;
    o_groups := ARRAY(SELECT g.group_id FROM group_members g WHERE g.user_id = p_user);
    COMMIT;
    o_version := nextval('board_version');
END
$$"""


# The procedure's call, for the driver (``%(name)s`` parameters): the inputs, then a NULL
# for each result, which CALL hands back as one row.
CALL = (f"CALL {PROCEDURE}(" + ", ".join(f"%({name})s" for name, _ in INPUTS)
        + ", NULL" * len(RESULT) + ")")


SECONDS_BEFORE_SQL = ("CREATE FUNCTION seconds_before(stamp timestamp, seconds integer)"
                      " RETURNS timestamp LANGUAGE sql IMMUTABLE"
                      " AS 'SELECT stamp - make_interval(secs => seconds)'")


# -- SQLite: the same steps, one statement each ----------------------------------------------

def sqlite_stamp(moment: datetime | None) -> str | None:
    """A timestamp as SQLAlchemy stores it on SQLite, so that SQL compares it as text."""
    return None if moment is None else moment.isoformat(" ", "microseconds")


def _seconds_before(stamp, seconds):
    if stamp is None or seconds is None:
        return None
    return sqlite_stamp(datetime.fromisoformat(stamp) - timedelta(seconds=seconds))


def register_sqlite_functions(connection: sqlite3.Connection) -> None:
    """The functions the SQLite steps call, on a new connection (data.init_app)."""
    connection.create_function("seconds_before", 2, _seconds_before, deterministic=True)


def run(session, inputs: dict) -> dict:
    """Play the steps in ``session`` (SQLite); returns the facts, with ``outcome`` and, for a
    refusal, ``refusal``. The caller commits."""
    known = {name: sqlite_stamp(value) if isinstance(value, datetime) else value
             for name, value in inputs.items()}

    def one(sql):
        return session.execute(text(sql), known).first()

    for step in STEPS:
        if isinstance(step, Fetch):
            row = one(step.without_moment if step.without_moment and known["issued"] is None
                      else step.sql)
            if row is None and step.missing:
                return {**known, "outcome": "rejected", "refusal": step.missing}
            known.update(zip((name for name, _ in step.into), row or (None,) * len(step.into)))
        elif isinstance(step, Refuse):
            when = f"({step.only_if}) AND ({step.when})" if step.only_if else step.when
            if one(f"SELECT {when}")[0]:
                return {**known, "outcome": "rejected", "refusal": step.code}
        elif isinstance(step, Replay):
            if one(f"SELECT {step.when}")[0]:
                session.execute(text(REPLAY_AUDIT), known)
                return {**known, "outcome": "replayed", "score": known["score_after"]}
        elif step.into:
            known.update(zip((name for name, _ in step.into), one(step.sql)))
        else:
            session.execute(text(step.sql), known)
    return {**known, "outcome": "accepted"}
