"""Complete an action by its ticket's whole key: the ticket id a start issues now holds the
moment it was issued (scoreboard/core/ticket_ids.py), and the procedure complete_dated_action
looks the ticket up by (user_id, created_at, id), in the one day partition that can hold it
(0016), where complete_own_action (0017) probed every partition for (user_id, id). The
cooldown and daily-limit checks read the player's completions of the type only in the
partitions from the type's longest ticket life before their window up to now: a ticket
completed after T was issued after T minus its life (it expires by then), and by now. That life is the new column
action_types.longest_life_seconds, which a start raises (never lowers) to the life it issues
a ticket with (min_seconds + TICKET_TTL_SECONDS), so a type whose min_seconds was lowered
is still read back as far as its older, longer-lived tickets need. Otherwise the refusals,
their order and what an accepted completion writes are 0017's. The procedure below is
scoreboard/rules.py rendered by rules.procedure_sql() when this migration was written;
tests/test_rules.py compares them.

Expand only. The column is added NULL (a catalog change: ACCESS EXCLUSIVE on action_types
for a moment, waited for 5 s at most): NULL reads every partition, as before, until a start
of this release records the type's life. The release still serving during the deploy keeps
calling complete_own_action (0017), which is left as it is and completes any ticket, of
either form; its start leaves the column alone. This release completes the tickets that
release issued (ids without a moment) by id, in every partition, as 0017 did
(p_issued NULL). What the column assumes: no ticket of before this migration lives longer
than the catalog and TICKET_TTL_SECONDS make a ticket live when this release first starts
one of its type (neither was lowered within a ticket's life before the deploy). A later
release, once no ticket without a moment is left (TICKET_TTL_SECONDS plus the longest
min_seconds after the deploy), drops complete_own_action and the look-up by id.

Revision ID: 0019
Revises: 0018
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
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
    IF v_cooldown_seconds > 0 AND EXISTS (SELECT 1 FROM action_tickets d WHERE d.user_id = p_user AND d.action_type = v_action_type AND d.created_at BETWEEN seconds_before(seconds_before(p_now, v_cooldown_seconds), v_life) AND p_now AND d.completed_at > seconds_before(p_now, v_cooldown_seconds)) THEN o_outcome := 'rejected'; o_refusal := 'cooling_down'; o_action_type := v_action_type; RETURN; END IF;
    IF v_daily_limit IS NOT NULL AND (SELECT count(*) FROM action_tickets d WHERE d.user_id = p_user AND d.action_type = v_action_type AND d.created_at BETWEEN seconds_before(p_midnight, v_life) AND p_now AND d.completed_at >= p_midnight) >= v_daily_limit THEN o_outcome := 'rejected'; o_refusal := 'daily_limit'; o_action_type := v_action_type; RETURN; END IF;
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

SIGNATURE = ('complete_dated_action(text, text, timestamp, text, text, timestamp, text, text,'
             ' timestamp, text, text, text, bigint, text, bigint, bigint, boolean, bigint,'
             ' text[])')


def upgrade():
    postgres = op.get_bind().dialect.name == 'postgresql'
    if postgres:
        op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column('action_types', sa.Column('longest_life_seconds', sa.Integer(), nullable=True))
    if postgres:
        op.execute(PROCEDURE)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'DROP PROCEDURE {SIGNATURE}')
    with op.batch_alter_table('action_types', schema=None) as batch_op:
        batch_op.drop_column('longest_life_seconds')
