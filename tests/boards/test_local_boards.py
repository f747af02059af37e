"""Each worker serves the boards from its own memory; a change notice marks a copy as
overtaken, and the refresher brings the next one (tests/test_refresher.py)."""

import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

from scoreboard import adapters
from scoreboard.boards import leaderboard, ports
from scoreboard.boards.leaderboard import Snapshot
from scoreboard.boards.local_boards import MAX_VIEWS, LocalBoards

from ..harness.players import play
from ..harness.waiting import wait_for


def snap(version):
    return Snapshot(version, ({"userId": "a", "score": version, "rank": 1, "displayName": "A"},))


def test_a_notice_overtakes_only_older_copies_which_are_served_until_replaced():
    boards = LocalBoards(max_age=60)
    boards.keep("all", snap(3)), boards.keep("region:DE", snap(3))
    assert boards.get("all") == snap(3) and boards.is_current("all")
    boards.notice(["all"], 3)  # a notice this copy already includes
    assert boards.is_current("all")
    boards.notice(["all"], 4)
    assert not boards.is_current("all") and boards.is_current("region:DE")
    assert boards.get("all") == snap(3)  # still served: no read waits for the next one
    boards.keep("all", snap(4))
    assert boards.get("all") == snap(4) and boards.is_current("all")


def test_a_lost_subscription_drops_every_copy_and_age_is_the_safety_net():
    boards = LocalBoards(max_age=60)
    boards.keep("all", snap(1)), boards.keep("day:2026-11-28", snap(1))
    boards.notice()
    assert boards.get("all") is None and boards.get("day:2026-11-28") is None
    aging = LocalBoards(max_age=-1.0)  # every copy is past its age at once
    aging.keep("all", snap(1))
    assert aging.get("all") is None


def test_never_an_older_version_than_served_and_a_bounded_number_of_views():
    boards = LocalBoards(max_age=60)
    boards.keep("all", snap(5))
    assert boards.keep("all", snap(4)) == snap(4)  # the caller's business; not kept
    assert boards.get("all") == snap(5) and boards.served("all") == 5
    for n in range(MAX_VIEWS - 1):
        boards.keep(f"group:g{n}", snap(1))
    boards.keep("all", snap(6))  # fetched again: now the newest, not the oldest
    for n in range(MAX_VIEWS - 1, MAX_VIEWS + 10):
        boards.keep(f"group:g{n}", snap(1))
    assert len(boards._held) == MAX_VIEWS
    assert boards.get("all") == snap(6) and boards.get("group:g0") is None
    assert boards.get(f"group:g{MAX_VIEWS + 9}") == snap(1)


class HearsWhileSyncing:
    """A broker whose marker comes back after this worker heard a notice of ``version``:
    Redis sent the notice before the read began, the worker reads it while the read waits."""

    def __init__(self, boards, version):
        self.boards, self.version = boards, version

    def sync(self):
        self.boards.notice(["all"], self.version)
        return True


def test_a_notice_heard_while_the_read_syncs_overtakes_the_copy():
    boards = LocalBoards(max_age=60)
    boards.keep("all", snap(3))
    found = SimpleNamespace(local=boards, broker=HearsWhileSyncing(boards, 4))
    assert leaderboard.fresh_held(found, "all", version_now=lambda: 0) == (None, 4)


def test_reads_come_from_memory_and_a_write_brings_the_next_copy(make_app, backend):
    app = make_app(backend, TOP_LOCAL_MAX_AGE_SECONDS=3600)
    play(app, "amy", 2)
    client = app.test_client()
    store = adapters.of(app).cache
    asked = []
    real_get_top = store.get_top
    store.get_top = lambda view: asked.append(view) or real_get_top(view)
    first = client.get("/api/scores/top")
    assert set(asked) == {"all"}  # the first read looks in the shared cache: the spy listens
    asked.clear()
    for _ in range(3):
        assert client.get("/api/scores/top").data == first.data
    assert asked == []  # served from this worker's memory, the shared cache untouched
    play(app, "bob", 3)  # no event loop here: the refresher brings the next copy at once
    with app.app_context():
        assert client.get("/api/scores/top").json == leaderboard.read_snapshot().body()


def test_reads_that_miss_together_share_one_read_of_the_store(make_app):
    app = make_app("embedded", TOP_LOCAL_MAX_AGE_SECONDS=3600)
    play(app, "amy", 2)
    app.test_client().get("/api/scores/top")  # the shared cache now holds the board
    store, boards = adapters.of(app).cache, ports(app).local
    boards.notice()  # and this worker has no copy of it
    asked, looked, release = [], [], threading.Event()
    real_get_top, real_get = store.get_top, boards.get

    def slow_get_top(view):  # the store answers only once every reader has arrived
        asked.append(view)
        release.wait(timeout=60)
        return real_get_top(view)

    store.get_top = slow_get_top
    boards.get = lambda key: looked.append(key) or real_get(key)

    def read():
        with app.app_context():
            return leaderboard.current_snapshot()

    with ThreadPoolExecutor(8) as pool:
        reads = [pool.submit(read) for _ in range(8)]
        wait_for(lambda: len(looked) >= 8, "every reader to look for the board")
        release.set()
        snapshots = [r.result(timeout=60) for r in reads]
    assert asked == ["all"] and all(s == snapshots[0] for s in snapshots)
