"""Revoking a token, banning a player, removing a member from a group or deleting the group
ends that player's open group streams within seconds, on every worker, through the change
notices; every other stream stays open. On gunicorn with two workers and Redis (streams
opened on both), and on the embedded default's one worker with its in-process notices.

Each test prints how long the streams it ended lasted after the act (pytest -s shows it)."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ..harness.players import play_http, token_for
from ..harness.servers import call
from ..harness.streams import Reader
from ..harness.waiting import wait_for

DEADLINE = 5.0  # "within a few seconds": a notice takes milliseconds, even on a busy machine
# Streams are opened this many at once, as one worker may take every connection that comes
# alone for a while; so many rounds of them reach every worker, or the test gives up.
AT_ONCE, MOST_ROUNDS = 4, 10
ENV = {"STREAM_HEARTBEAT_SECONDS": "0.5", "STREAM_MAX_PER_IP": "200"}


@pytest.fixture(params=["redis-two-workers", "cluster-two-workers", "embedded"])
def served(request, serve):
    """(server, app, its name): two workers on Redis or on a Redis Cluster, or the embedded
    default's one."""
    start, app = serve
    if request.param == "embedded":
        return start(None, **ENV), app, request.param
    redis_url = (request.getfixturevalue("redis_cluster").url
                 if request.param.startswith("cluster") else request.getfixturevalue("redis_url"))
    server = start(redis_url, workers=2, **ENV)
    wait_for(lambda: len(server.workers()) == 2, "both workers")
    return server, app, request.param


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def create_group(server, owner: str, *members) -> str:
    """A group of ``owner``'s (a token) with ``members`` ((user id, token) each) in it."""
    status, group, _ = call("POST", server.url + "/api/groups", {"name": "Crew"}, bearer(owner))
    assert status == 201, group
    group_id = group["groupId"]
    for user_id, token in members:
        invited = call("POST", f"{server.url}/api/groups/{group_id}/members",
                       {"userId": user_id}, bearer(owner))
        assert invited[0] == 201, invited[1]
        joined = call("POST", f"{server.url}/api/groups/{group_id}/join", headers=bearer(token))
        assert joined[0] == 200, joined[1]
    return group_id


def ticket(server, token: str, **view) -> str:
    status, body, _ = call("POST", server.url + "/api/streams/tickets", view, bearer(token))
    assert status == 201, body
    return body["ticket"]


def stream_url(server, group_id: str, spent: str) -> str:
    return f"{server.url}/api/scores/stream?group={group_id}&ticket={spent}"


class Streams:
    """Group streams of a real server, each opened with a ticket of its own and read in a
    thread (Reader), with the worker serving it."""

    def __init__(self, server, open_stream):
        self.server, self.open_stream = server, open_stream
        self.worker = {}  # Reader -> the pid of the worker serving it

    def open(self, token: str, group_id: str, count: int = 1) -> list[Reader]:
        """``count`` streams of ``token`` on the group's board, each on a new connection,
        opened at once."""
        urls = [stream_url(self.server, group_id, ticket(self.server, token, group=group_id))
                for _ in range(count)]
        with ThreadPoolExecutor(count) as pool:
            streams = list(pool.map(self.open_stream, urls))
        readers = []
        for stream in streams:
            assert stream.status == 200
            stream.next_snapshot()
            readers.append(Reader(stream))
            self.worker[readers[-1]] = self.server.worker_serving(stream.local_port)
        return readers

    def on_every_worker(self, token: str, group_id: str) -> list[Reader]:
        """Streams of ``token`` on the group's board, opened until every worker serves one."""
        readers, workers = [], self.server.workers()
        for _ in range(MOST_ROUNDS):
            readers += self.open(token, group_id, AT_ONCE if len(workers) > 1 else 1)
            if {self.worker[reader] for reader in readers} == workers:
                return readers
        raise AssertionError(f"{len(readers)} streams, and none on some worker")


def ended_within(readers, since: float, what: str) -> float:
    """Wait (up to DEADLINE) for the server to end each of ``readers``; how long the last
    lasted after ``since``."""
    wait_for(lambda: all(reader.ended.is_set() for reader in readers), what,
             timeout=DEADLINE, show=lambda: [reader.how for reader in readers])
    assert [reader.how for reader in readers] == ["end"] * len(readers)
    return max(reader.ended_at for reader in readers) - since


def still_live(server, readers, token: str, user_id: str, group_ids) -> None:
    """A play of ``user_id`` (a member of each of ``group_ids``) moves their boards, and each
    of ``readers`` gets the new board: its worker has heard every notice sent before the
    play, the one that ended the others included, and kept it open."""
    play_http(server.url, token, user_id)
    newest = {}
    for group_id in group_ids:
        status, top, _ = call("GET", f"{server.url}/api/scores/top?group={group_id}",
                              headers=bearer(token))
        assert status == 200, top
        newest[group_id] = top["version"]
    least = min(newest.values())
    wait_for(lambda: all(reader.versions and reader.versions[-1] >= least
                         for reader in readers),
             "the other streams to get the next board", show=lambda: [
                 (reader.versions[-1:], reader.how) for reader in readers])
    assert [reader.how for reader in readers] == [None] * len(readers)


def report(name: str, act: str, ended: list, streams: Streams, lasted: float) -> None:
    workers = len({streams.worker[reader] for reader in ended})
    print(f"\n[{name}] {act}: its {len(ended)} streams on {workers} worker(s) ended "
          f"{lasted * 1000:.0f} ms after the request was sent")


def test_revoking_a_token_ends_the_streams_its_tickets_opened(served, open_stream):
    server, app, name = served
    owner, alice, alices_other = (token_for(app, "owner"), token_for(app, "alice"),
                                  token_for(app, "alice"))
    group_id = create_group(server, owner, ("alice", alice))
    streams = Streams(server, open_stream)
    doomed = streams.on_every_worker(alice, group_id)
    kept = [*streams.on_every_worker(alices_other, group_id),
            *streams.on_every_worker(owner, group_id)]
    spare = ticket(server, alice, group=group_id)  # issued before the revocation

    sent = time.monotonic()
    assert call("POST", server.url + "/api/auth/revoke", headers=bearer(alice))[0] == 200
    lasted = ended_within(doomed, sent, "the revoked token's streams to end")
    report(name, "a token revoked", doomed, streams, lasted)
    still_live(server, kept, owner, "owner", [group_id])
    assert call("GET", stream_url(server, group_id, spare))[0] == 401
    assert call("POST", server.url + "/api/streams/tickets", {"group": group_id},
                bearer(alice))[0] == 401


def test_banning_a_player_ends_their_group_streams_whatever_the_token(served, open_stream):
    server, app, name = served
    owner, bob, bobs_other = (token_for(app, "owner"), token_for(app, "bob"),
                              token_for(app, "bob"))
    admin = token_for(app, "root", role="admin")
    group_id = create_group(server, owner, ("bob", bob))
    streams = Streams(server, open_stream)
    doomed = [*streams.on_every_worker(bob, group_id), *streams.open(bobs_other, group_id)]
    kept = streams.on_every_worker(owner, group_id)

    sent = time.monotonic()
    status, reply, _ = call("POST", server.url + "/api/admin/players/bob/ban",
                            {"reason": "bot"}, bearer(admin))
    assert status == 200, reply
    lasted = ended_within(doomed, sent, "the banned player's streams to end")
    report(name, "a player banned", doomed, streams, lasted)
    still_live(server, kept, owner, "owner", [group_id])
    status, refused, _ = call("POST", server.url + "/api/streams/tickets", {"group": group_id},
                              bearer(bobs_other))
    assert (status, refused["error"]) == (403, "Player is banned.")


def test_removing_a_member_or_deleting_the_group_ends_its_streams_of_it(served, open_stream):
    server, app, name = served
    owner, carol = token_for(app, "owner"), token_for(app, "carol")
    crew, club = (create_group(server, owner, ("carol", carol)) for _ in range(2))
    streams = Streams(server, open_stream)
    doomed = streams.on_every_worker(carol, crew)
    in_club = streams.on_every_worker(carol, club)
    owners = streams.on_every_worker(owner, crew)
    spare = ticket(server, carol, group=crew)

    sent = time.monotonic()
    removed = call("DELETE", f"{server.url}/api/groups/{crew}/members/carol",
                   headers=bearer(owner))
    assert removed[0] == 200, removed[1]
    lasted = ended_within(doomed, sent, "the removed member's streams of the group to end")
    report(name, "a member removed", doomed, streams, lasted)
    still_live(server, [*in_club, *owners], owner, "owner", [crew, club])
    assert call("GET", stream_url(server, crew, spare))[0] == 403

    sent = time.monotonic()
    assert call("DELETE", f"{server.url}/api/groups/{club}", headers=bearer(owner))[0] == 200
    lasted = ended_within(in_club, sent, "the deleted group's streams to end")
    report(name, "a group deleted", in_club, streams, lasted)
    still_live(server, owners, owner, "owner", [crew])
