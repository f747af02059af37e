"""Complete an action in ONE round trip on PostgreSQL: a function that consumes the ticket,
checks it, adds the points to the score and both windows, appends the audit row and takes
the board version, in the order and with the outcomes of scoring.py's embedded path.

It returns a refusal as a code without writing anything: the caller audits refusals (they
are rare) in a transaction of their own, with the message scoring.REFUSALS gives the code.
The board row is locked only from the version's bump to the end of this call, which runs
as one transaction of its own: never across a client's round trips.

Revision ID: 0007
Revises: 0006
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

FUNCTION = """
CREATE FUNCTION complete_action(
    p_ticket text, p_user text, p_now timestamp, p_day text, p_week text,
    p_request_id text, p_client_ip text,
    OUT o_outcome text, OUT o_refusal text, OUT o_action_type text, OUT o_score bigint,
    OUT o_region text, OUT o_day_score bigint, OUT o_week_score bigint,
    OUT o_version bigint, OUT o_groups text[])
LANGUAGE plpgsql AS $$
DECLARE
    t action_tickets%ROWTYPE;
    k action_types%ROWTYPE;
BEGIN
    SELECT * INTO t FROM action_tickets WHERE id = p_ticket FOR UPDATE;
    IF NOT FOUND THEN
        o_outcome := 'rejected'; o_refusal := 'unknown'; RETURN;
    END IF;
    o_action_type := t.action_type;
    IF t.user_id <> p_user THEN
        o_outcome := 'rejected'; o_refusal := 'not_yours'; RETURN;
    END IF;
    IF t.completed_at IS NOT NULL THEN
        INSERT INTO audit_events (at, user_id, action_type, ticket_id, delta, score_after,
                                  outcome, request_id, client_ip)
        VALUES (p_now, p_user, t.action_type, p_ticket, 0, t.score_after, 'replayed',
                p_request_id, p_client_ip);
        o_outcome := 'replayed'; o_score := t.score_after; RETURN;
    END IF;
    IF p_now >= t.expires_at THEN
        o_outcome := 'rejected'; o_refusal := 'expired'; RETURN;
    END IF;
    IF p_now < t.not_before THEN
        o_outcome := 'rejected'; o_refusal := 'too_soon'; RETURN;
    END IF;
    -- The player's row lock serialises this player's completions, so two tickets of one
    -- type cannot both pass the cooldown or daily-limit checks below.
    PERFORM 1 FROM users WHERE id = t.user_id FOR UPDATE;
    SELECT * INTO k FROM action_types WHERE id = t.action_type;
    IF NOT k.enabled THEN
        o_outcome := 'rejected'; o_refusal := 'disabled'; RETURN;
    END IF;
    IF k.cooldown_seconds > 0 AND EXISTS (
        SELECT 1 FROM action_tickets d
        WHERE d.user_id = t.user_id AND d.action_type = k.id
          AND d.completed_at > p_now - make_interval(secs => k.cooldown_seconds)) THEN
        o_outcome := 'rejected'; o_refusal := 'cooling_down'; RETURN;
    END IF;
    IF k.daily_limit IS NOT NULL AND (
        SELECT count(*) FROM action_tickets d
        WHERE d.user_id = t.user_id AND d.action_type = k.id
          AND d.completed_at >= date_trunc('day', p_now)) >= k.daily_limit THEN
        o_outcome := 'rejected'; o_refusal := 'daily_limit'; RETURN;
    END IF;

    UPDATE users u SET score = u.score + t.points, score_reached_at = p_now
    WHERE u.id = t.user_id RETURNING u.score, u.region INTO o_score, o_region;
    INSERT INTO window_scores AS w (period, user_id, score, score_reached_at, region)
    VALUES (p_day, t.user_id, t.points, p_now, o_region)
    ON CONFLICT (period, user_id) DO UPDATE
        SET score = w.score + excluded.score, score_reached_at = excluded.score_reached_at
    RETURNING w.score INTO o_day_score;
    INSERT INTO window_scores AS w (period, user_id, score, score_reached_at, region)
    VALUES (p_week, t.user_id, t.points, p_now, o_region)
    ON CONFLICT (period, user_id) DO UPDATE
        SET score = w.score + excluded.score, score_reached_at = excluded.score_reached_at
    RETURNING w.score INTO o_week_score;
    UPDATE action_tickets SET completed_at = p_now, score_after = o_score WHERE id = p_ticket;
    INSERT INTO audit_events (at, user_id, action_type, ticket_id, delta, score_after, outcome,
                              request_id, client_ip)
    VALUES (p_now, p_user, t.action_type, p_ticket, t.points, o_score, 'accepted',
            p_request_id, p_client_ip);
    o_groups := ARRAY(SELECT g.group_id FROM group_members g WHERE g.user_id = t.user_id);
    -- Last, so the board row stays locked for as short a time as possible.
    UPDATE board_state b SET version = b.version + 1 WHERE b.id = 1
    RETURNING b.version INTO o_version;
    o_outcome := 'accepted';
END
$$;
"""


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(FUNCTION)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP FUNCTION complete_action(text, text, timestamp, text, text, text, text)")
