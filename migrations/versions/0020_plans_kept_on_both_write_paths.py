"""Plans kept for the connection's life, on both write paths (docs/PERFORMANCE.md,
thirteenth round).

- A start's statement becomes the function issue_ticket: sent as text, PostgreSQL planned
  it on every start (156 µs of its CPU, against 105 µs of execution); PL/pgSQL keeps a
  function's plans. Its text is scoreboard/play/actions.py's _START rendered by
  actions.issue_ticket_sql() when this migration was written; tests/play/test_actions.py
  compares them.
- complete_dated_action asks its cooldown and daily-limit checks, each a query, only for a
  type that has the limit: PL/pgSQL starts an executor for a condition with a query, and
  evaluates one on variables alone as a plain expression. The refusals, their order and
  what an accepted completion writes are 0019's. The procedure below is
  scoreboard/data/rules.py rendered by rules.procedure_sql() when this migration was
  written; tests/data/test_rules.py compares them.

Expand only. The procedure's signature is 0019's, so it is replaced in place, in one
statement: the release still serving during the deploy calls it as before, and gets the
same answers. The function is new; that release keeps sending the statement as text.

Revision ID: 0020
Revises: 0019
"""
import importlib.util
from pathlib import Path

from alembic import op


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

PROCEDURE = """CREATE PROCEDURE complete_dated_action(
    p_ticket text,
    p_user text,
    p_now timestamp,
    p_day text,
    p_week text,
    p_midnight timestamp,
    p_request_id text,
    p_client_ip text,
    p_issued timestamp,
    INOUT o_outcome text,
    INOUT o_refusal text,
    INOUT o_action_type text,
    INOUT o_score bigint,
    INOUT o_region text,
    INOUT o_day_score bigint,
    INOUT o_week_score bigint,
    INOUT o_hidden boolean,
    INOUT o_version bigint,
    INOUT o_groups text[])
LANGUAGE plpgsql AS $$
DECLARE
    v_banned boolean;
    v_hidden boolean;
    v_region text;
    v_created_at timestamp;
    v_action_type text;
    v_points integer;
    v_completed_at timestamp;
    v_score_after bigint;
    v_not_before timestamp;
    v_expires_at timestamp;
    v_enabled boolean;
    v_cooldown_seconds integer;
    v_daily_limit integer;
    v_life integer;
    v_score bigint;
    v_day_score bigint;
    v_week_score bigint;
BEGIN
    SELECT banned, hidden, region FROM users WHERE id = p_user FOR UPDATE INTO v_banned, v_hidden, v_region;
    IF p_issued IS NULL THEN
        SELECT created_at, action_type, points, completed_at, score_after, not_before, expires_at FROM action_tickets WHERE user_id = p_user AND id = p_ticket FOR UPDATE INTO v_created_at, v_action_type, v_points, v_completed_at, v_score_after, v_not_before, v_expires_at;
    ELSE
        SELECT created_at, action_type, points, completed_at, score_after, not_before, expires_at FROM action_tickets WHERE user_id = p_user AND created_at = p_issued AND id = p_ticket FOR UPDATE INTO v_created_at, v_action_type, v_points, v_completed_at, v_score_after, v_not_before, v_expires_at;
    END IF;
    IF NOT FOUND THEN o_outcome := 'rejected'; o_refusal := 'unknown'; RETURN; END IF;
    IF v_banned THEN o_outcome := 'rejected'; o_refusal := 'banned'; o_action_type := v_action_type; RETURN; END IF;
    IF v_completed_at IS NOT NULL THEN
        INSERT INTO audit_events (at, user_id, action_type, ticket_id, delta, score_after, outcome, request_id, client_ip) VALUES (p_now, p_user, v_action_type, p_ticket, 0, v_score_after, 'replayed', p_request_id, p_client_ip);
        o_action_type := v_action_type; o_score := v_score_after; o_outcome := 'replayed'; RETURN;
    END IF;
    IF p_now >= v_expires_at THEN o_outcome := 'rejected'; o_refusal := 'expired'; o_action_type := v_action_type; RETURN; END IF;
    IF p_now < v_not_before THEN o_outcome := 'rejected'; o_refusal := 'too_soon'; o_action_type := v_action_type; RETURN; END IF;
    SELECT enabled, cooldown_seconds, daily_limit, coalesce(longest_life_seconds, 2147483647) FROM action_types WHERE id = v_action_type INTO v_enabled, v_cooldown_seconds, v_daily_limit, v_life;
    IF NOT v_enabled THEN o_outcome := 'rejected'; o_refusal := 'disabled'; o_action_type := v_action_type; RETURN; END IF;
    IF v_cooldown_seconds > 0 THEN
        IF EXISTS (SELECT 1 FROM action_tickets d WHERE d.user_id = p_user AND d.action_type = v_action_type AND d.created_at BETWEEN seconds_before(seconds_before(p_now, v_cooldown_seconds), v_life) AND p_now AND d.completed_at > seconds_before(p_now, v_cooldown_seconds)) THEN o_outcome := 'rejected'; o_refusal := 'cooling_down'; o_action_type := v_action_type; RETURN; END IF;
    END IF;
    IF v_daily_limit IS NOT NULL THEN
        IF (SELECT count(*) FROM action_tickets d WHERE d.user_id = p_user AND d.action_type = v_action_type AND d.created_at BETWEEN seconds_before(p_midnight, v_life) AND p_now AND d.completed_at >= p_midnight) >= v_daily_limit THEN o_outcome := 'rejected'; o_refusal := 'daily_limit'; o_action_type := v_action_type; RETURN; END IF;
    END IF;
    UPDATE users SET score = score + v_points, score_reached_at = p_now WHERE id = p_user RETURNING score INTO v_score;
    INSERT INTO window_scores AS w (period, user_id, score, score_reached_at, region) VALUES (p_day, p_user, v_points, p_now, v_region) ON CONFLICT (period, user_id) DO UPDATE SET score = w.score + excluded.score, score_reached_at = excluded.score_reached_at RETURNING score INTO v_day_score;
    INSERT INTO window_scores AS w (period, user_id, score, score_reached_at, region) VALUES (p_week, p_user, v_points, p_now, v_region) ON CONFLICT (period, user_id) DO UPDATE SET score = w.score + excluded.score, score_reached_at = excluded.score_reached_at RETURNING score INTO v_week_score;
    UPDATE action_tickets SET completed_at = p_now, score_after = v_score WHERE user_id = p_user AND created_at = v_created_at AND id = p_ticket;
    INSERT INTO audit_events (at, user_id, action_type, ticket_id, delta, score_after, outcome, request_id, client_ip) VALUES (p_now, p_user, v_action_type, p_ticket, v_points, v_score, 'accepted', p_request_id, p_client_ip);
    o_outcome := 'accepted'; o_action_type := v_action_type; o_score := v_score;
    o_region := v_region; o_day_score := v_day_score; o_week_score := v_week_score;
    o_hidden := v_hidden;
    o_groups := ARRAY(SELECT g.group_id FROM group_members g WHERE g.user_id = p_user);
    COMMIT;
    o_version := nextval('board_version');
END
$$"""

START_FUNCTION = """CREATE FUNCTION issue_ticket(p_type text, p_user text, p_name text, p_region text, p_now timestamp, p_ticket text, p_ttl integer)
RETURNS TABLE (o_points integer, o_not_before timestamp, o_expires_at timestamp, o_was_known boolean, o_known_region text, o_banned boolean, o_longest_life integer)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
WITH kind AS (SELECT id, points, min_seconds, longest_life_seconds FROM action_types
              WHERE id = p_type AND enabled),
known AS (SELECT region, banned FROM users WHERE id = p_user FOR KEY SHARE),
player AS (
    INSERT INTO users (id, display_name, region, score, score_reached_at, created_at)
    SELECT p_user, p_name, p_region, 0, p_now, p_now FROM kind
    ON CONFLICT (id) DO NOTHING),
ticket AS (
    INSERT INTO action_tickets
        (id, user_id, action_type, points, created_at, not_before, expires_at)
    SELECT p_ticket, p_user, kind.id, kind.points, p_now,
           p_now + make_interval(secs => kind.min_seconds),
           p_now + make_interval(secs => kind.min_seconds + p_ttl)
    FROM kind WHERE NOT EXISTS (SELECT 1 FROM known WHERE banned)
    RETURNING points, not_before, expires_at)
SELECT ticket.points, ticket.not_before, ticket.expires_at,
       EXISTS (SELECT 1 FROM known) AS was_known,
       (SELECT region FROM known)::text AS known_region,
       EXISTS (SELECT 1 FROM known WHERE banned) AS banned,
       (SELECT longest_life_seconds FROM kind) AS longest_life
FROM (VALUES (1)) AS one LEFT JOIN ticket ON true;
END
$$"""

START_SIGNATURE = 'issue_ticket(text, text, text, text, timestamp, text, integer)'


def _replacing(procedure: str) -> str:
    return procedure.replace('CREATE PROCEDURE', 'CREATE OR REPLACE PROCEDURE', 1)


def _previous() -> str:
    path = Path(__file__).with_name('0019_tickets_by_their_whole_key.py')
    spec = importlib.util.spec_from_file_location('migration_0019', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PROCEDURE


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_replacing(PROCEDURE))
        op.execute(START_FUNCTION)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'DROP FUNCTION {START_SIGNATURE}')
        op.execute(_replacing(_previous()))
