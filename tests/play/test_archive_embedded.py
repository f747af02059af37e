"""On SQLite, the embedded default, whose tables are plain: `flask scoreboard archive`
writes the events before the day to a file and deletes them, with the same checkpoint, in
one transaction that holds the database's write lock; verify and restore hold as on
PostgreSQL (tests/play/test_archive.py)."""

import gzip
import json
from datetime import timedelta

from sqlalchemy import func, select

from scoreboard.core import clock
from scoreboard.data.db import db
from scoreboard.data.models import AuditEvent
from scoreboard.play import moderation

from ..harness.players import play

THU = clock.system_now().replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(
    days=500)
THU += timedelta(days=(3 - THU.weekday()) % 7)
WED, MON = THU - timedelta(days=1), THU - timedelta(days=3)


def events(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent))


def test_archive_deletes_the_rows_and_verify_and_restore_hold(make_app, tmp_path):
    app = make_app("embedded")
    play(app, "ann", 3, at=MON)
    play(app, "bob", 2, at=MON)
    app.config["CLOCK"] = lambda: MON
    with app.app_context():
        moderation.adjust(moderation.Actor("cli:test"), "ann", -1, "test")
    play(app, "ann", 1, at=WED)
    app.config["CLOCK"] = lambda: THU
    runner = app.test_cli_runner()
    path = tmp_path / "old.jsonl.gz"

    refused = runner.invoke(args=["scoreboard", "archive", "--before",
                                  f"{THU.date() + timedelta(days=1)}", "--to", str(path)])
    assert refused.exit_code == 1 and "being written" in refused.output
    done = runner.invoke(args=["scoreboard", "archive", "--before", f"{WED.date()}",
                               "--to", str(path)])

    assert done.exit_code == 0, done.output
    assert f"archived 6 audit events from the first event to {WED.date()}" in done.output
    with gzip.open(path, "rt") as archived:
        head = json.loads(archived.readline())
        assert head["rows"] == 6 and len(archived.readlines()) == 6
    assert events(app) == 1
    whole = runner.invoke(args=["scoreboard", "verify"]).output
    # The windows open at Wednesday: its day (ann) and week (both); Monday's closed.
    assert "verified 2 players and 3 window scores since the checkpoint" in whole
    assert "0 mismatches" in whole
    recent = runner.invoke(args=["scoreboard", "verify", "--since"]).output
    assert "verified 1 players and 2 window scores since" in recent and "0 mismatches" in recent
    again = runner.invoke(args=["scoreboard", "archive", "--before", f"{WED.date()}",
                                "--to", str(tmp_path / "again.jsonl.gz")])
    assert again.exit_code == 1 and "no audit event before" in again.output

    restored = runner.invoke(args=["scoreboard", "restore", str(path)])

    assert "restored 6 of 6 events" in restored.output, restored.output
    assert events(app) == 7
    assert "0 mismatches" in runner.invoke(args=["scoreboard", "verify"]).output
