"""Scores per time window: each gain counts in its UTC day and ISO week, and windows roll over
on their own (the clock is injected; nothing sleeps)."""

from datetime import datetime

import pytest
from sqlalchemy import select, update

from scoreboard.core import periods
from scoreboard.data.db import db
from scoreboard.data.models import WindowScore

from ..harness.players import play

# The same tests on a Redis Cluster too (conftest.py).
pytestmark = pytest.mark.backends("embedded", "postgres", "cluster")


def windows(app):
    with app.app_context():
        return {(w.period, w.user_id): w.score
                for w in db.session.scalars(select(WindowScore))}


@pytest.mark.parametrize("moment, day, week", [
    (datetime(2026, 11, 29, 23, 59, 59), "day:2026-11-29", "week:2026-W48"),  # a Sunday
    (datetime(2026, 11, 30, 0, 0, 0), "day:2026-11-30", "week:2026-W49"),  # the Monday after
    (datetime(2026, 12, 31, 12, 0), "day:2026-12-31", "week:2026-W53"),  # 2026 has 53 weeks
    (datetime(2027, 1, 1, 12, 0), "day:2027-01-01", "week:2026-W53"),  # still 2026's last week
])
def test_window_keys(moment, day, week):
    assert periods.windows_of(moment) == (day, week)


def test_scores_just_before_and_after_the_boundaries_land_in_their_windows(app):
    play(app, "amy", 2, at=datetime(2026, 11, 29, 23, 59, 59, 999999))
    play(app, "amy", 3, at=datetime(2026, 11, 30, 0, 0, 0))
    play(app, "bob", at=datetime(2026, 11, 30, 0, 0, 1))
    assert windows(app) == {
        ("day:2026-11-29", "amy"): 2, ("week:2026-W48", "amy"): 2,
        ("day:2026-11-30", "amy"): 3, ("week:2026-W49", "amy"): 3,
        ("day:2026-11-30", "bob"): 1, ("week:2026-W49", "bob"): 1,
    }


@pytest.mark.parametrize("period, at, key", [
    ("day", "2026-11-27", "day:2026-11-27"),
    ("week", "2026-W48", "week:2026-W48"),
    ("day", None, "day:2026-11-30"),
    ("week", None, "week:2026-W49"),
])
def test_window_key_from_query(period, at, key):
    assert periods.window_key(period, at, datetime(2026, 11, 30, 8)) == key


@pytest.mark.parametrize("period, at", [
    ("day", "2026-13-01"), ("day", "27.11.2026"), ("week", "2026-W54"), ("week", "2026-48"),
    ("month", None),
])
def test_bad_window_is_refused(period, at):
    with pytest.raises(ValueError):
        periods.window_key(period, at, datetime(2026, 11, 30))


def test_verify_checks_the_windows_too(app):
    play(app, "amy", 2, at=datetime(2026, 11, 27, 10))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["scoreboard", "verify"]).exit_code == 0
    with app.app_context():
        db.session.execute(update(WindowScore).where(WindowScore.period == "day:2026-11-27")
                           .values(score=7))
        db.session.commit()
    result = runner.invoke(args=["scoreboard", "verify"])
    assert result.exit_code == 1
    assert "MISMATCH amy in day:2026-11-27: score 7, audit log says 2" in result.output


@pytest.mark.parametrize("key, end", [
    ("day:2026-11-30", datetime(2026, 12, 1)),
    ("week:2026-W49", datetime(2026, 12, 7)),
    ("week:2026-W53", datetime(2027, 1, 4)),
])
def test_window_end(key, end):
    assert periods.window_end(key) == end


def test_a_windows_region_copy_follows_the_player_and_verify_checks_it(app, player):
    carol = player("carol", region="DE")
    carol.play()
    carol.client.put("/api/users/me", json={"region": "FR"}, headers=carol.headers)
    with app.app_context():
        assert {w.region for w in db.session.scalars(select(WindowScore))} == {"FR"}
        db.session.execute(update(WindowScore).values(region="DE"))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["scoreboard", "verify"])
    assert result.exit_code == 1 and "MISMATCH region of carol in day:" in result.output
