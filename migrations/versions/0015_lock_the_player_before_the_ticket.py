"""Complete an action locking the player's row before the ticket's, as every other write
of a player does (a ban locks the player, then voids their open tickets): in the other
order, a completion and a ban of its player could each wait on the other's lock, and
PostgreSQL broke the deadlock by failing one of them. The refusals, their order and what an
accepted completion writes are 0010's; a player never seen (no row) is refused by the
ticket's owner, as before. The procedure below is scoreboard/rules.py rendered by
rules.procedure_sql() when this migration was written; tests/test_rules.py compares them.

The signature is 0010's, so the procedure is replaced in place, in one statement: the
release still serving during the deploy calls it as before, and gets the same answers.

Revision ID: 0015
Revises: 0014
"""
import importlib.util
from pathlib import Path

from alembic import op


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

PROCEDURE = """CREATE PROCEDURE complete_action(
    p_ticket text,
    p_user text,
    p_now timestamp,
    p_day text,
    p_week text,
    p_midnight timestamp,
    p_request_id text,
    p_client_ip text,
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
    v_owner text;
    v_action_type text;
    v_points integer;
    v_completed_at timestamp;
    v_score_after bigint;
    v_not_before timestamp;
    v_expires_at timestamp;
    v_enabled boolean;
    v_cooldown_seconds integer;
    v_daily_limit integer;
    v_score bigint;
    v_day_score bigint;
    v_week_score bigint;
BEGIN
    SELECT banned, hidden, region FROM users WHERE id = p_user FOR UPDATE INTO v_banned, v_hidden, v_region;
    SELECT user_id, action_type, points, completed_at, score_after, not_before, expires_at FROM action_tickets WHERE id = p_ticket FOR UPDATE INTO v_owner, v_action_type, v_points, v_completed_at, v_score_after, v_not_before, v_expires_at;
    IF NOT FOUND THEN o_outcome := 'rejected'; o_refusal := 'unknown'; RETURN; END IF;
    IF v_owner <> p_user THEN o_outcome := 'rejected'; o_refusal := 'not_yours'; o_action_type := v_action_type; RETURN; END IF;
    IF v_banned THEN o_outcome := 'rejected'; o_refusal := 'banned'; o_action_type := v_action_type; RETURN; END IF;
    IF v_completed_at IS NOT NULL THEN
        INSERT INTO audit_events (at, user_id, action_type, ticket_id, delta, score_after, outcome, request_id, client_ip) VALUES (p_now, p_user, v_action_type, p_ticket, 0, v_score_after, 'replayed', p_request_id, p_client_ip);
        o_action_type := v_action_type; o_score := v_score_after; o_outcome := 'replayed'; RETURN;
    END IF;
    IF p_now >= v_expires_at THEN o_outcome := 'rejected'; o_refusal := 'expired'; o_action_type := v_action_type; RETURN; END IF;
    IF p_now < v_not_before THEN o_outcome := 'rejected'; o_refusal := 'too_soon'; o_action_type := v_action_type; RETURN; END IF;
    SELECT enabled, cooldown_seconds, daily_limit FROM action_types WHERE id = v_action_type INTO v_enabled, v_cooldown_seconds, v_daily_limit;
    IF NOT v_enabled THEN o_outcome := 'rejected'; o_refusal := 'disabled'; o_action_type := v_action_type; RETURN; END IF;
    IF v_cooldown_seconds > 0 AND EXISTS (SELECT 1 FROM action_tickets d WHERE d.user_id = p_user AND d.action_type = v_action_type AND d.completed_at > seconds_before(p_now, v_cooldown_seconds)) THEN o_outcome := 'rejected'; o_refusal := 'cooling_down'; o_action_type := v_action_type; RETURN; END IF;
    IF v_daily_limit IS NOT NULL AND (SELECT count(*) FROM action_tickets d WHERE d.user_id = p_user AND d.action_type = v_action_type AND d.completed_at >= p_midnight) >= v_daily_limit THEN o_outcome := 'rejected'; o_refusal := 'daily_limit'; o_action_type := v_action_type; RETURN; END IF;
    UPDATE users SET score = score + v_points, score_reached_at = p_now WHERE id = p_user RETURNING score INTO v_score;
    INSERT INTO window_scores AS w (period, user_id, score, score_reached_at, region) VALUES (p_day, p_user, v_points, p_now, v_region) ON CONFLICT (period, user_id) DO UPDATE SET score = w.score + excluded.score, score_reached_at = excluded.score_reached_at RETURNING score INTO v_day_score;
    INSERT INTO window_scores AS w (period, user_id, score, score_reached_at, region) VALUES (p_week, p_user, v_points, p_now, v_region) ON CONFLICT (period, user_id) DO UPDATE SET score = w.score + excluded.score, score_reached_at = excluded.score_reached_at RETURNING score INTO v_week_score;
    UPDATE action_tickets SET completed_at = p_now, score_after = v_score WHERE id = p_ticket;
    INSERT INTO audit_events (at, user_id, action_type, ticket_id, delta, score_after, outcome, request_id, client_ip) VALUES (p_now, p_user, v_action_type, p_ticket, v_points, v_score, 'accepted', p_request_id, p_client_ip);
    o_outcome := 'accepted'; o_action_type := v_action_type; o_score := v_score;
    o_region := v_region; o_day_score := v_day_score; o_week_score := v_week_score;
    o_hidden := v_hidden;
    o_groups := ARRAY(SELECT g.group_id FROM group_members g WHERE g.user_id = p_user);
    COMMIT;
    o_version := nextval('board_version');
END
$$"""


def _replacing(procedure: str) -> str:
    return procedure.replace('CREATE PROCEDURE', 'CREATE OR REPLACE PROCEDURE', 1)


def _previous() -> str:
    path = Path(__file__).with_name('0010_rules_in_one_definition.py')
    spec = importlib.util.spec_from_file_location('migration_0010', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PROCEDURE


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_replacing(PROCEDURE))


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_replacing(_previous()))
