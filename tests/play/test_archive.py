"""Archiving the audit log (`flask scoreboard archive`, `restore`, the upkeep's retention)
on PostgreSQL: whole past day partitions go to a file and are dropped, a checkpoint sums
them up, and `verify` (whole, and --since) stays exact before, after, and after a restore.
Each test has a database of its own (a copy of one migrated for the module), as it drops
partitions; its app's clock is fixed on days far from the real ones, on any date."""

import gzip
import json
import threading
import uuid
from datetime import datetime, timedelta

import psycopg2
import pytest
from flask_migrate import upgrade
from psycogreen.gevent import patch_psycopg
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from scoreboard import create_app
from scoreboard.core import clock, periods
from scoreboard.data import partitions
from scoreboard.data.db import db
from scoreboard.play import actions, archive, moderation, proof, upkeep

from ..conftest import base_config
from ..harness.databases import create_database, drop_database
from ..harness.players import play

# A Thursday far from the real today, and the days before it: events of the week before
# and of Monday and Tuesday are archived (--before Wednesday); Wednesday's stay.
THU = clock.system_now().replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(
    days=500)
THU += timedelta(days=(3 - THU.weekday()) % 7)
WED, TUE, MON, WEEK_BEFORE = (THU - timedelta(days=n) for n in (1, 2, 3, 7))
BEFORE = WED.date()
ADMIN = moderation.Actor("cli:test")
# What an archive must keep as it is, through COPY's CSV and JSON.
REASON = 'took back: "twice", a back\\slash, a comma; déjà vu ✓'


@pytest.fixture(scope="module")
def template(request):
    request.getfixturevalue("database_url")  # fails or skips when PostgreSQL is missing
    name = f"scoreboard_archive_{uuid.uuid4().hex[:8]}"
    app = create_app(base_config(create_database(name, durable=False), None))
    with app.app_context():
        upgrade()
        actions.seed_catalog()
        db.engine.dispose()
    yield name
    drop_database(name)


@pytest.fixture
def make(template):
    """Apps on a database of the test's own (``make(**config)``), the clock at THU."""
    name = f"{template}_{uuid.uuid4().hex[:6]}"
    url = create_database(name, template=template, durable=False)
    made = []

    def build(**config):
        app = create_app(base_config(url, None, PARTITION_DAYS_AHEAD=10, **config))
        at(app, THU)
        made.append(app)
        return app

    yield build
    for app in made:
        with app.app_context():
            db.engine.dispose()
    drop_database(name)


def at(app, moment: datetime) -> None:
    app.config["CLOCK"] = lambda: moment


def played(app) -> None:
    """ann plays the week before, Monday and Tuesday, has her week taken down below 0 on
    Tuesday (it stops at 0) and again on Wednesday; bob plays on each side; dan only
    before Wednesday, cat only on it."""
    at(app, WEEK_BEFORE)
    with app.app_context():
        upkeep.maintain()  # day partitions from then until past THU
    play(app, "ann", 10, at=WEEK_BEFORE)
    play(app, "bob", 2, at=WEEK_BEFORE)
    play(app, "ann", 1, at=MON)
    play(app, "dan", 3, at=MON)
    adjust(app, "ann", -2, TUE)
    play(app, "ann", 1, at=TUE)
    play(app, "bob", 1, at=TUE)
    adjust(app, "ann", -3, WED)
    play(app, "cat", 2, at=WED)
    play(app, "bob", 1, at=WED)
    at(app, THU)


def adjust(app, user_id: str, delta: int, moment: datetime) -> None:
    at(app, moment)
    with app.app_context():
        moderation.adjust(ADMIN, user_id, delta, REASON)


def verify(app, *args) -> str:
    result = app.test_cli_runner().invoke(args=["scoreboard", "verify", *args])
    assert result.exit_code in (0, 1), result.output
    return result.output


def scalar(app, sql: str, **params):
    with app.app_context():
        try:
            return db.session.scalar(text(sql), params)
        finally:
            db.session.rollback()


def audit_partitions(app) -> set:
    with app.app_context(), db.engine.connect() as connection:
        return {p.name for p in partitions.partitions(connection, "audit_events")}


def run_archive(app, path, before=BEFORE):
    return app.test_cli_runner().invoke(
        args=["scoreboard", "archive", "--before", f"{before}", "--to", str(path)])


def checkpoint(app) -> dict:
    with app.app_context():
        rows = db.session.execute(text(
            "SELECT user_id, period, score FROM checkpoint_scores")).all()
        db.session.rollback()
    return {(user_id, period): score for user_id, period, score in rows}


def test_archive_writes_the_past_drops_it_and_verify_stays_exact(make, tmp_path):
    app = make()
    played(app)
    assert "verified 4 players and 14 window scores: 0 mismatches" in verify(app)
    boundary = datetime(BEFORE.year, BEFORE.month, BEFORE.day)
    past = scalar(app, "SELECT count(*) FROM audit_events WHERE at < :b", b=boundary)
    left = scalar(app, "SELECT count(*) FROM audit_events WHERE at >= :b", b=boundary)
    assert past == 19 and left == 4
    before = audit_partitions(app)

    result = run_archive(app, tmp_path / "old.jsonl.gz")

    assert result.exit_code == 0, result.output
    assert f"archived {past} audit events from the first event to {BEFORE}" in result.output
    with gzip.open(tmp_path / "old.jsonl.gz", "rt") as archived:
        head, *events = [json.loads(line) for line in archived]
    assert head == {"format": "scoreboard-audit/1", "table": "audit_events", "from": None,
                    "to": boundary.isoformat(), "rows": past}
    assert len(events) == past and all(event["at"] < boundary.isoformat() for event in events)
    assert {event["outcome"] for event in events} == {"accepted", "adjusted"}
    # Every partition that ended by Wednesday is gone, the partition of the past too.
    gone = before - audit_partitions(app)
    assert "audit_events_history" in gone and f"audit_events_p{TUE:%Y%m%d}" in gone
    assert all(name == "audit_events_history" or name < f"audit_events_p{WED:%Y%m%d}"
               for name in gone)
    assert scalar(app, "SELECT count(*) FROM audit_events") == left
    # The checkpoint: all-time and window scores as of Wednesday, ann's week stopped at 0
    # on Tuesday and then given 1.
    held = checkpoint(app)
    week = f"week:{WED.isocalendar()[0]}-W{WED.isocalendar()[1]:02d}"
    assert held["ann", "all"] == 10 and held["ann", week] == 1
    assert held["bob", "all"] == 3 and held["dan", "all"] == 3 and ("cat", "all") not in held
    assert scalar(app, "SELECT rows FROM audit_checkpoints") == past

    # Only the windows still open at Wednesday: its day (bob, cat) and its week (all
    # four); those that closed by then were checked by the archive, and are final.
    assert "verified 4 players and 6 window scores since the checkpoint of" in verify(app)
    assert "0 mismatches" in verify(app)
    # --since looks only at the players with events from Wednesday on: ann, bob and cat.
    assert "verified 3 players and 5 window scores since the checkpoint of" in verify(
        app, "--since")

    with app.app_context():
        db.session.execute(text("UPDATE users SET score = 99 WHERE id IN ('dan', 'cat')"))
        db.session.commit()
    whole = verify(app)
    assert "MISMATCH dan: score 99, audit log says 3" in whole
    assert "MISMATCH cat: score 99, audit log says 2" in whole
    recent = verify(app, "--since")
    assert "MISMATCH cat: score 99, audit log says 2" in recent and "dan" not in recent


def test_restore_brings_the_events_back_and_verify_holds(make, tmp_path):
    app = make()
    played(app)
    assert run_archive(app, tmp_path / "old.jsonl.gz").exit_code == 0
    held = checkpoint(app)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["scoreboard", "restore", str(tmp_path / "old.jsonl.gz")])

    assert result.exit_code == 0, result.output
    assert "restored 19 of 19 events" in result.output
    assert f"audit_events_p{MON:%Y%m%d}" in audit_partitions(app)
    with app.app_context():
        dans = moderation.audit_page(user_id="dan")["events"]
    assert [event["delta"] for event in dans] == [1, 1, 1]
    with app.app_context():
        anns = moderation.audit_page(user_id="ann")["events"]
    assert [event["reason"] for event in anns if event["delta"] < 0] == [REASON, REASON]
    assert "0 mismatches" in verify(app) and "0 mismatches" in verify(app, "--since")
    again = runner.invoke(args=["scoreboard", "restore", str(tmp_path / "old.jsonl.gz")])
    assert "restored 0 of 19 events" in again.output

    # Archived again, the restored days add nothing more to the checkpoint.
    assert run_archive(app, tmp_path / "again.jsonl.gz").exit_code == 0
    assert checkpoint(app) == held
    assert "0 mismatches" in verify(app)


def test_restore_refuses_events_no_checkpoint_sums_up(make, tmp_path, monkeypatch):
    """An archive that fails after its file is written (here: the partitions it would
    drop stay busy) leaves the events in place and no checkpoint; that file cannot be
    restored (its events would count twice), and a run again archives them."""
    app = make()
    played(app)
    monkeypatch.setattr(archive, "LOCK_TRIES", 2)
    holder = psycopg2.connect(app.config["SQLALCHEMY_DATABASE_URI"].replace("+psycopg2", ""))
    try:
        with holder.cursor() as cursor:  # a reader of the log, in a transaction
            cursor.execute("SELECT count(*) FROM audit_events")
        failed = run_archive(app, tmp_path / "failed.jsonl.gz")
    finally:
        holder.close()
    assert failed.exit_code == 1 and "stayed busy" in failed.output
    assert (tmp_path / "failed.jsonl.gz").exists()
    assert scalar(app, "SELECT count(*) FROM audit_events") == 23
    assert scalar(app, "SELECT count(*) FROM audit_checkpoints") == 0
    assert "0 mismatches" in verify(app)

    refused = app.test_cli_runner().invoke(
        args=["scoreboard", "restore", str(tmp_path / "failed.jsonl.gz")])
    assert refused.exit_code == 1 and "which no checkpoint sums up" in refused.output
    assert run_archive(app, tmp_path / "failed.jsonl.gz").exit_code == 1  # never overwritten
    assert run_archive(app, tmp_path / "redo.jsonl.gz").exit_code == 0
    assert "0 mismatches" in verify(app)


def test_archive_refuses_today_and_later(make, tmp_path):
    app = make()
    played(app)
    for day in (THU.date() + timedelta(days=1), THU.date() + timedelta(days=30)):
        result = run_archive(app, tmp_path / "new.jsonl.gz", before=day)
        assert result.exit_code == 1
        assert "today's partition is being written" in result.output
    assert not (tmp_path / "new.jsonl.gz").exists()
    # Today at the latest: Wednesday's partition is whole and in the past, today's stays.
    assert run_archive(app, tmp_path / "new.jsonl.gz", before=THU.date()).exit_code == 0
    assert f"audit_events_p{THU:%Y%m%d}" in audit_partitions(app)
    assert scalar(app, "SELECT count(*) FROM audit_events") == 0
    assert "0 mismatches" in verify(app) and "0 mismatches" in verify(app, "--since")


def test_one_archive_at_a_time(make, tmp_path):
    app = make()
    played(app)
    with app.app_context(), partitions.cluster_lock(db.engine) as held:
        assert held is not None
        busy = run_archive(app, tmp_path / "busy.jsonl.gz")
    assert busy.exit_code == 1 and "another instance" in busy.output
    assert not (tmp_path / "busy.jsonl.gz").exists()

    # Two at once: one archives, the other finds the lock taken or nothing left.
    apps = [app, make()]
    outcomes = []

    def run(index):
        try:
            with apps[index].app_context():
                outcomes.append(archive.archive(BEFORE, str(tmp_path / f"{index}.jsonl.gz")))
        except archive.Refused as refused:
            outcomes.append(refused)

    threads = [threading.Thread(target=run, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = [outcome for outcome in outcomes if isinstance(outcome, archive.Archived)]
    assert len(done) == 1 and done[0].rows == 19, outcomes
    assert scalar(app, "SELECT count(*) FROM audit_checkpoints") == 1
    assert checkpoint(app)["ann", "all"] == 10
    assert "0 mismatches" in verify(app)


def test_retention_archives_from_the_upkeep(make, tmp_path):
    """With AUDIT_RETENTION_DAYS, maintain (which each worker's timer runs) archives whole
    days older than that into AUDIT_ARCHIVE_DIR, once; without it, nothing leaves. It runs
    with psycopg2 made green as in a gunicorn worker (gunicorn.conf.py), which refuses
    COPY."""
    keeping = make()
    played(keeping)
    with keeping.app_context():
        assert not any("archived" in line for line in upkeep.maintain())
    app = make(AUDIT_RETENTION_DAYS=1, AUDIT_ARCHIVE_DIR=str(tmp_path / "archives"))

    patch_psycopg()
    try:
        with app.app_context():
            done = upkeep.maintain()
            again = upkeep.maintain()
            db.engine.dispose()
    finally:
        psycopg2.extensions.set_wait_callback(None)

    assert any(line.startswith("archived 19 audit events") for line in done), done
    assert not any("archived" in line for line in again), again
    [made] = (tmp_path / "archives").iterdir()
    assert made.name.startswith(f"audit-before-{WED:%Y%m%d}-made-")
    assert "0 mismatches" in verify(app)


def test_events_of_a_day_without_its_partition_are_archived_too(make, tmp_path):
    """A day the upkeep never gave a partition (it was away) keeps its events in the
    default partition: the archive gives them their day's partition first."""
    app = make()
    play(app, "eve", 2, at=MON)  # no maintain: Monday has no partition
    at(app, THU)
    assert scalar(app, "SELECT count(*) FROM audit_events_default") == 2
    result = run_archive(app, tmp_path / "old.jsonl.gz")
    assert result.exit_code == 0, result.output
    assert "archived 2 audit events" in result.output
    assert scalar(app, "SELECT count(*) FROM audit_events") == 0
    assert "0 mismatches" in verify(app)


def test_tally_in_python_and_in_sql_agree(make):
    """The checkpoint's SQL applies a window's change as proof.apply does."""
    app = make()
    tally = proof.Tally()
    for delta in (3, -5, 2, -1, 4):
        tally.add("ann", WED, delta)
    with app.app_context():
        for change in tally.windows.values():
            for before in (0, 1, 7):
                in_sql = db.session.scalar(text(
                    f"SELECT {proof.APPLY_SQL} FROM (SELECT :floor AS floor, :shift AS shift) t"
                    " CROSS JOIN (SELECT CAST(:before AS bigint) AS score) c"),
                    {"floor": change[0], "shift": change[1], "before": before})
                assert in_sql == proof.apply(change, before)
        db.session.rollback()
    assert proof.apply(tally.windows[f"day:{WED:%Y-%m-%d}", "ann"], 0) == 5  # 3, 0, 2, 1, 5


def test_an_archive_is_refused_while_a_window_it_closes_differs(make, tmp_path):
    """The windows that close by the boundary leave the proof with their events: the
    archive checks them first, and does nothing while one differs."""
    app = make()
    played(app)
    monday = periods.day_key(MON)
    with app.app_context():
        db.session.execute(text("UPDATE window_scores SET score = score + 5"
                                " WHERE user_id = 'dan' AND period = :p"), {"p": monday})
        db.session.commit()
    before = audit_partitions(app)

    refused = run_archive(app, tmp_path / "old.jsonl.gz")

    assert refused.exit_code == 1
    assert f"dan in {monday}: score 8, audit log says 3" in refused.output
    assert not (tmp_path / "old.jsonl.gz").exists() and audit_partitions(app) == before
    assert scalar(app, "SELECT count(*) FROM audit_checkpoints") == 0
    assert checkpoint(app) == {}
    with app.app_context():
        db.session.execute(text("UPDATE window_scores SET score = score - 5"
                                " WHERE user_id = 'dan' AND period = :p"), {"p": monday})
        db.session.commit()
    assert run_archive(app, tmp_path / "old.jsonl.gz").exit_code == 0


def test_archives_one_after_another_carry_the_open_week_over(make, tmp_path):
    """The checkpoint holds the all-time scores and the week open at its boundary; the next
    archive closes that week, checking it with what the checkpoint held of it."""
    app = make()
    played(app)
    friday = (WEEK_BEFORE + timedelta(days=1)).date()
    week_before, this_week = periods.week_key(WEEK_BEFORE), periods.week_key(WED)
    assert run_archive(app, tmp_path / "first.jsonl.gz", before=friday).exit_code == 0
    assert checkpoint(app) == {("ann", "all"): 10, ("bob", "all"): 2,
                               ("ann", week_before): 10, ("bob", week_before): 2}
    assert "0 mismatches" in verify(app) and "0 mismatches" in verify(app, "--since")

    with app.app_context():  # what the first archive held of bob's week, tampered with
        db.session.execute(text("UPDATE checkpoint_scores SET score = 7"
                                " WHERE user_id = 'bob' AND period = :p"), {"p": week_before})
        db.session.commit()
    refused = run_archive(app, tmp_path / "refused.jsonl.gz")
    assert refused.exit_code == 1
    assert f"bob in {week_before}: score 2, audit log says 7" in refused.output
    with app.app_context():
        db.session.execute(text("UPDATE checkpoint_scores SET score = 2"
                                " WHERE user_id = 'bob' AND period = :p"), {"p": week_before})
        db.session.commit()

    assert run_archive(app, tmp_path / "second.jsonl.gz").exit_code == 0
    held = checkpoint(app)
    assert {period for _, period in held} == {"all", this_week}
    assert held["ann", "all"] == 10 and held["ann", this_week] == 1
    assert "0 mismatches" in verify(app) and "0 mismatches" in verify(app, "--since")


def test_verify_catches_a_tampered_checkpoint_or_open_window_after_an_archive(make, tmp_path):
    app = make()
    played(app)
    assert run_archive(app, tmp_path / "old.jsonl.gz").exit_code == 0
    week = periods.week_key(WED)

    def tampered(sql: str, **params) -> tuple[str, str]:
        with app.app_context():
            db.session.execute(text(sql), params)
            db.session.commit()
        return verify(app), verify(app, "--since")

    # ann: 10 before Wednesday, 3 taken back on it; her week held at 1 then, 0 after;
    # bob's week: 1 on Tuesday, 1 on Wednesday.
    both = tampered("UPDATE checkpoint_scores SET score = 11 WHERE user_id = 'ann'"
                    " AND period = 'all'")
    assert all("MISMATCH ann: score 7, audit log says 8" in out for out in both)
    both = tampered("UPDATE checkpoint_scores SET score = 10 WHERE user_id = 'ann'"
                    " AND period = 'all'; UPDATE checkpoint_scores SET score = 4"
                    " WHERE user_id = 'ann' AND period = :p", p=week)
    assert all(f"MISMATCH ann in {week}: score 0, audit log says 1" in out for out in both)
    assert all("1 mismatches" in out for out in both)
    both = tampered("UPDATE checkpoint_scores SET score = 1 WHERE user_id = 'ann'"
                    " AND period = :p; UPDATE window_scores SET score = 9"
                    " WHERE user_id = 'bob' AND period = :p", p=week)
    assert all(f"MISMATCH bob in {week}: score 9, audit log says 2" in out for out in both)
    # dan played only before Wednesday: his open week is checked by the whole verify.
    whole = tampered("UPDATE window_scores SET score = 2 WHERE user_id = 'bob'"
                     " AND period = :p; UPDATE window_scores SET score = 9"
                     " WHERE user_id = 'dan' AND period = :p", p=week)[0]
    assert f"MISMATCH dan in {week}: score 9, audit log says 3" in whole


def test_since_finds_what_the_whole_verify_finds_of_the_players_since(make, tmp_path):
    """verify --since, which leaves the players who only gained points since the checkpoint
    to the database (sums.py) and adds up the others event by event (ann lost points on
    Wednesday), reports of those players every line the whole verify reports: their
    all-time scores, their windows after the checkpoint (changed, missing, one without
    events, the week the checkpoint holds) and the windows' copies of the region."""
    app = make()
    played(app)
    assert run_archive(app, tmp_path / "old.jsonl.gz").exit_code == 0
    play(app, "eve", 2, at=THU)
    week, wed, thu = periods.week_key(WED), periods.day_key(WED), periods.day_key(THU)
    with app.app_context():
        db.session.execute(text(
            "UPDATE users SET score = score + 5 WHERE id IN ('ann', 'bob', 'dan');"
            " UPDATE window_scores SET score = 9 WHERE user_id IN ('ann', 'cat')"
            "  AND period = :week;"
            " DELETE FROM window_scores WHERE user_id = 'bob' AND period = :wed;"
            " INSERT INTO window_scores (period, user_id, score, score_reached_at)"
            "  VALUES (:thu, 'ann', 4, :at), (:thu, 'cat', 4, :at);"
            " UPDATE checkpoint_scores SET score = 5 WHERE user_id = 'bob' AND period = :week;"
            " UPDATE window_scores SET region = 'XX' WHERE period = :week"
            "  AND user_id IN ('ann', 'eve', 'dan')"),
            {"week": week, "wed": wed, "thu": thu, "at": THU})
        db.session.commit()
        whole, recent = proof.verify(), proof.verify(since=True)

    def player(line: str) -> str:
        words = line.split()
        return words[2] if words[0] == "region" else words[0].rstrip(":")

    assert sorted(recent.wrong) == sorted(
        line for line in whole.wrong if player(line) in {"ann", "bob", "cat", "eve"})
    assert len(recent.wrong) == 10 and len(whole.wrong) == 12
    for line in ("bob: score 9, audit log says 4", f"bob in {week}: score 2, audit log says 6",
                 f"bob in {wed}: score 0, audit log says 1",
                 f"cat in {thu}: score 4, audit log says 0", f"ann in {thu}: score 4, audit log"
                 " says 0", f"region of eve in {week}: the window's copy differs from the "
                 "player's"):
        assert line in recent.wrong
    assert (recent.players, recent.windows) == (4, 8)


def test_verify_reads_only_the_partitions_after_the_checkpoint(make, tmp_path):
    """Every statement verify sends, whole or --since, reads only audit partitions from
    the checkpoint's boundary on (and the default one), though the days before it are
    back (restore); without a checkpoint it reads them all. None runs JIT."""
    app = make()
    played(app)
    restored = f"audit_events_p{MON:%Y%m%d}"
    assert restored in read_by_verify(app)
    assert run_archive(app, tmp_path / "old.jsonl.gz").exit_code == 0
    assert app.test_cli_runner().invoke(
        args=["scoreboard", "restore", str(tmp_path / "old.jsonl.gz")]).exit_code == 0
    assert restored in audit_partitions(app)
    after = {name for name in audit_partitions(app) if name >= f"audit_events_p{WED:%Y%m%d}"}
    for flags in ((), ("--since",)):
        read = read_by_verify(app, *flags)
        assert read and read <= after | {"audit_events_default"}, (flags, read)


def read_by_verify(app, *flags) -> set:
    """The audit partitions in the plans of the statements verify sends (EXPLAIN)."""
    sent = []
    with app.app_context():
        listen = (db.engine, "before_cursor_execute",
                  lambda conn, cursor, statement, parameters, *_: sent.append(
                      (statement, parameters, _setting(cursor, "jit"))))
        event.listen(*listen)
        try:
            assert "0 mismatches" in verify(app, *flags)
        finally:
            event.remove(*listen)
        with db.engine.connect() as connection:
            read = set().union(*(
                _relations(connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}",
                                                      parameters).scalar())
                for statement, parameters, _ in sent if "audit_events" in statement))
    assert {jit for statement, _, jit in sent if "audit_events" in statement} == {"off"}
    return {name for name in read if name.startswith("audit_events")}


def test_admin_commands_outlast_the_statement_timeout_of_requests(make, tmp_path):
    """verify, archive and restore run statements longer than DATABASE_STATEMENT_TIMEOUT_MS
    (a pg_sleep beside each of their reads of the log, in their transaction), which cuts
    the same statement of a request, before and after them."""
    app = make(DATABASE_STATEMENT_TIMEOUT_MS=1000)
    played(app)
    long = "SELECT pg_sleep(1.2)"

    def cut() -> str:
        with app.app_context():
            try:
                db.session.execute(text(long))
            except OperationalError as error:
                return error.orig.pgcode
            finally:
                db.session.rollback()
        return "not cut"

    slept = []

    def beside(conn, cursor, statement, *_):
        if statement.startswith(("SELECT audit_events.user_id", "INSERT INTO audit_events",
                                 "CREATE TEMPORARY TABLE recent_sums")):
            with cursor.connection.cursor() as own:
                own.execute(long)
            slept.append(statement.split()[0])

    assert cut() == "57014"  # query_canceled
    runner = app.test_cli_runner()
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", beside)
    try:
        assert "0 mismatches" in verify(app)
        assert run_archive(app, tmp_path / "old.jsonl.gz").exit_code == 0
        assert runner.invoke(args=["scoreboard", "restore",
                                   str(tmp_path / "old.jsonl.gz")]).exit_code == 0
        assert "0 mismatches" in verify(app, "--since")
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", beside)
    assert {"SELECT", "INSERT", "CREATE"} <= set(slept) and len(slept) >= 4, slept
    assert cut() == "57014"


def _setting(cursor, name: str) -> str:
    with cursor.connection.cursor() as own:
        own.execute(f"SHOW {name}")
        return own.fetchone()[0]


def _relations(plan) -> set:
    """The tables a plan (EXPLAIN's JSON) reads."""
    if isinstance(plan, list):
        return set().union(*map(_relations, plan)) if plan else set()
    if not isinstance(plan, dict):
        return set()
    found = {plan["Relation Name"]} if "Relation Name" in plan else set()
    return found.union(*map(_relations, plan.values()))
