"""The audit log has one writer (scoreboard/data/audit.py): a play, whether the rules write it
(the procedure on PostgreSQL, the steps on SQLite) or the service does (a refusal, a rate
limit's count), and an admin's act fill the same columns for what they share, and each
kind adds its own."""

from sqlalchemy import select

from scoreboard.core.errors import ApiError
from scoreboard.data.db import db
from scoreboard.data.models import AuditEvent
from scoreboard.play import actions, moderation, scoring

# What every row records: when, whose, what happened, by how much, the attempts it counts,
# and the request it came in.
EVERY_ROW = {"at", "user_id", "outcome", "delta", "count", "request_id", "client_ip"}
REQUEST = {"request_id": "req-1", "client_ip": "10.0.0.1"}


def filled(row: AuditEvent) -> set:
    return {column.name for column in AuditEvent.__table__.columns
            if column.name != "id" and getattr(row, column.name) is not None}


def test_every_writer_fills_the_columns_its_kind_of_row_records(app):
    with app.app_context():
        ticket = actions.start_action({"sub": "ann"}, "click").id
        actions.start_action({"sub": "ben"}, "click")
        for user_id, ticket_id in (("ann", ticket), ("ann", ticket),  # accepted, replayed
                                   ("ann", "no-such-ticket-0000"), ("ben", ticket)):
            try:
                scoring.complete_action(scoring.Attempt(user_id, ticket_id, **REQUEST))
            except ApiError:
                pass  # unknown; another player's ticket
        scoring.count_over_limit(scoring.Attempt("ann", ticket, **REQUEST), ApiError(429))
        admin = moderation.Actor("root", key="key-1", **REQUEST)
        moderation.adjust(admin, "ann", 3, "goodwill")
        moderation.hide(moderation.Actor("root", key="key-2", **REQUEST), "ben", "cheating")
        rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        found = [(row.outcome, filled(row) - EVERY_ROW) for row in rows]
        assert all(filled(row) >= EVERY_ROW for row in rows)
        db.session.rollback()
    act = {"score_after", "reason", "actor", "idempotency_key"}
    assert found == [
        ("accepted", {"action_type", "ticket_id", "score_after"}),
        ("replayed", {"action_type", "ticket_id", "score_after"}),
        ("rejected", {"ticket_id", "reason"}),  # no such ticket, so no action either
        ("rejected", {"action_type", "ticket_id", "reason"}),
        ("rate_limited", {"reason"}),  # a count of attempts, not one ticket's
        ("adjusted", act),
        ("hidden", act),
    ]
