"""The audit log's one writer. Every row is built by ``event``: a play, whether the rules'
procedure and steps write it in SQL (rules.py) or the service writes a refusal (scoring.py),
and an admin's act (moderation.py). So a column means the same in each, and one added to
the log is added to all of them.

A row records what DESIGN.md's audit log asks for: when, whose score, which action and
ticket, the delta and the score after it, the outcome (and why, for a refusal), and the
request it came in (its id and the client's address); an admin's act adds its actor and
idempotency key. A row counts one attempt (the table's default) until a count adds to it.
"""

from .models import AuditEvent


def event(*, at, user_id, outcome, delta=0, score_after=None, action_type=None,
          ticket_id=None, reason=None, request_id=None, client_ip=None, actor=None,
          idempotency_key=None) -> dict:
    """One audit row, column by column in the table's order. The values are Python's (to
    insert) or SQL expressions (``sql``). A column the event leaves empty is left out: it
    is NULL, or the table's default."""
    row = {"at": at, "user_id": user_id, "action_type": action_type, "ticket_id": ticket_id,
           "delta": delta, "score_after": score_after, "outcome": outcome, "reason": reason,
           "request_id": request_id, "client_ip": client_ip, "actor": actor,
           "idempotency_key": idempotency_key}
    return {column: value for column, value in row.items() if value is not None}


def sql(row: dict) -> str:
    """The INSERT of ``row``, whose values are SQL expressions (rules.py's steps)."""
    return (f"INSERT INTO {AuditEvent.__tablename__} ({', '.join(row)})"
            f" VALUES ({', '.join(row.values())})")
