"""Database tables: the source of truth for scores, tickets and the audit log."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from .db import db

# SQLite only auto-increments INTEGER PRIMARY KEY columns; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer, "sqlite")
# A player id as the board orders it: by its bytes, as Redis and SQLite compare (migration
# 0006); PostgreSQL would otherwise use the database's collation.
RankedId = String(64).with_variant(String(64, collation="C"), "postgresql")


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(RankedId, primary_key=True)
    display_name: Mapped[str] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(8))
    score: Mapped[int] = mapped_column(BigInteger, default=0)
    # When the current score was reached: the tie-breaker between equal scores.
    score_reached_at: Mapped[datetime]
    created_at: Mapped[datetime]
    # Moderation (migration 0009): a hidden player's score keeps counting off the boards; a
    # banned one is hidden and can neither start nor complete an action.
    hidden: Mapped[bool] = mapped_column(default=False, server_default=false())
    banned: Mapped[bool] = mapped_column(default=False, server_default=false())

    __table_args__ = (
        CheckConstraint("score >= 0", name="score_not_negative"),
        Index("ix_users_ranking", score.desc(), "score_reached_at", "id"),
        # A region's board and a rank within it read this in order, without other regions.
        Index("ix_users_region_ranking", "region", score.desc(), "score_reached_at", "id"),
    )


class ActionType(db.Model):
    __tablename__ = "action_types"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    points: Mapped[int]
    min_seconds: Mapped[int] = mapped_column(default=0)
    cooldown_seconds: Mapped[int] = mapped_column(default=0)
    daily_limit: Mapped[int | None]
    enabled: Mapped[bool] = mapped_column(default=True)
    # The longest life (min_seconds + TICKET_TTL_SECONDS) a ticket of the type was issued
    # with, which only grows; NULL: not known yet (migration 0019). A completion reads the
    # type's completions from that long before its windows on (data/rules.py).
    longest_life_seconds: Mapped[int | None]

    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("min_seconds >= 0 AND cooldown_seconds >= 0", name="durations"),
    )

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "points": self.points,
            "minSeconds": self.min_seconds,
            "cooldownSeconds": self.cooldown_seconds,
            "dailyLimit": self.daily_limit,
        }


class ActionTicket(db.Model):
    """A single-use proof that a user started an action; completing it earns the points."""

    __tablename__ = "action_tickets"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    action_type: Mapped[str] = mapped_column(ForeignKey("action_types.id"))
    points: Mapped[int]
    created_at: Mapped[datetime]
    not_before: Mapped[datetime]
    expires_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    score_after: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        # Cooldown and daily-limit checks look up a user's completions of one type.
        Index("ix_action_tickets_completions", "user_id", "action_type", "completed_at"),
        # A ticket by id alone: whose it is, when a player names another's (scoring), and
        # the look-ups of the release before 0016. On PostgreSQL the primary key is
        # (user_id, created_at, id), the table partitioned by day (migration 0016).
        Index("ix_action_tickets_id", "id"),
    )


class AuditEvent(db.Model):
    """One append-only row per accepted score change, rejected attempt or admin act; a
    player's refusals by their rate limit are counted in one row a minute."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    user_id: Mapped[str] = mapped_column(String(64))
    action_type: Mapped[str | None] = mapped_column(String(32))
    ticket_id: Mapped[str | None] = mapped_column(String(64))
    delta: Mapped[int] = mapped_column(default=0)
    score_after: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(16))  # moderation.OUTCOMES
    reason: Mapped[str | None] = mapped_column(String(200))
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(80))  # an admin's sub; NULL: the player
    # An admin act's idempotency key (migration 0012): an act is applied once per key.
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    # The attempts the row stands for (migration 0013): 1, or for ``rate_limited`` the
    # player's refusals in the minute that starts at ``at``.
    count: Mapped[int] = mapped_column(default=1, server_default=text("1"))

    __table_args__ = (
        # A player's events newest first, a page at a time (moderation.audit_page).
        Index("ix_audit_events_user_pages", "user_id", "id"),
        # An admin act's key, looked up under an advisory lock on it (moderation.py): a
        # unique index of the partitioned table (migration 0016) would need ``at`` in it.
        # On PostgreSQL the primary key is (user_id, at, id).
        Index("ix_audit_events_idempotency", "actor", "idempotency_key",
              postgresql_where=text("idempotency_key IS NOT NULL"),
              sqlite_where=text("idempotency_key IS NOT NULL")),
        # The row a refusal's count goes to (scoring.count_over_limit).
        Index("uq_audit_events_refusal_counts", "user_id", "outcome", "at", unique=True,
              postgresql_where=text("outcome = 'rate_limited'"),
              sqlite_where=text("outcome = 'rate_limited'")),
    )


class BoardState(db.Model):
    """The board version on SQLite: a single row whose version rises after every change that
    can alter the top of the board (leaderboard.next_version). PostgreSQL takes versions from
    the board_version sequence instead (migration 0008), which no writer waits on."""

    __tablename__ = "board_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class RevokedToken(db.Model):
    """Revoked JWT ids; the truth behind the Redis blocklist, so a Redis outage re-admits none."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime]


class Group(db.Model):
    """A friend group: a private board of its members, managed by its owner."""

    __tablename__ = "groups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]


class GroupMember(db.Model):
    __tablename__ = "group_members"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    # No foreign key to users: a friend may be added before first playing.
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    joined_at: Mapped[datetime]


class GroupInvitation(db.Model):
    """An owner's invitation of a player to a group, pending until the player joins or
    declines it, or the owner takes it back: only the player's consent makes a member."""

    __tablename__ = "group_invitations"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    # No foreign key to users, as for members: a friend may be invited before first playing.
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    invited_at: Mapped[datetime]


class WindowScore(db.Model):
    """A player's score within one time window ("day:2026-11-27", "week:2026-W48")."""

    __tablename__ = "window_scores"

    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(RankedId, primary_key=True)
    score: Mapped[int] = mapped_column(BigInteger)
    score_reached_at: Mapped[datetime]
    # The player's region, copied here so a region's window is one index range.
    region: Mapped[str | None] = mapped_column(String(8))

    __table_args__ = (
        Index("ix_window_scores_ranking", "period", score.desc(), "score_reached_at",
              "user_id"),
        Index("ix_window_scores_region_ranking", "period", "region", score.desc(),
              "score_reached_at", "user_id"),
    )


class Checkpoint(db.Model):
    """One archive of the audit log (play/archive.py): its events, from ``since`` (None:
    from the first) to ``boundary``, went to the file ``archive``, and checkpoint_scores
    holds what they added up to. The newest boundary is where ``verify`` starts reading
    the log. A reference table once sharded: it names no player."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    boundary: Mapped[datetime]
    since: Mapped[datetime | None]
    rows: Mapped[int] = mapped_column(BigInteger)
    archive: Mapped[str] = mapped_column(String(255))
    made_at: Mapped[datetime]


class CheckpointScore(db.Model):
    """A player's all-time score (period ``all``), or score in the week still open at the
    newest checkpoint's boundary, as of it: what every archived event added up to
    (migration 0018). The windows closed by then are final, and not held here."""

    __tablename__ = "checkpoint_scores"

    user_id: Mapped[str] = mapped_column(RankedId, primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    score: Mapped[int] = mapped_column(BigInteger)
