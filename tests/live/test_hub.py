"""The hub's write path on real sockets: partial writes, slow readers, SSE framing; and the
notices that end someone's streams."""

import functools

import gevent
import pytest
from gevent import socket

from scoreboard.adapters.broker import MemoryBroker
from scoreboard.boards import ports
from scoreboard.boards.leaderboard import Snapshot
from scoreboard.core import viewers
from scoreboard.core.viewers import Viewer
from scoreboard.live.clients import ENDINGS_REMEMBERED_SECONDS, Client, Watchers
from scoreboard.live.hub import Hub, chunk


def test_chunk_and_event_framing():
    assert chunk(b"hello") == b"5\r\nhello\r\n"
    frame = Snapshot(7, ({"userId": "a", "score": 1, "rank": 1, "displayName": "A"},)).sse_frame
    assert frame == (b'id: 7\nevent: scoreboard\ndata: {"topScores":[{"displayName":"A",'
                     b'"rank":1,"score":1,"userId":"a"}],"version":7}\n\n')


def pair():
    ours, theirs = socket.socketpair()
    for sock in (ours, theirs):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return ours, theirs


def read_all(sock) -> bytes:
    data = b""
    while chunk_ := sock.recv(65536):
        data += chunk_
    return data


def test_full_socket_hands_the_rest_to_the_clients_greenlet_and_keeps_only_the_newest():
    ours, theirs = pair()
    client = Client(ours, chunked=False, ip="127.0.0.1")
    frames = [bytes([65 + n]) * 100_000 for n in range(4)]  # far more than the buffers hold
    assert client.offer(frames[0])
    assert client.busy and client.pending and client.wake.is_set()
    for frame in frames[1:]:  # while it is stuck, newer frames replace each other
        assert client.offer(frame)
    assert client.newest is frames[3]
    reader = gevent.spawn(read_all, theirs)
    client.drain(timeout=10)
    ours.close()
    received = reader.get(timeout=10)
    theirs.close()
    # The whole of the first frame, never torn, then straight to the newest.
    assert received == frames[0] + frames[3]
    assert not client.busy and client.pending == b"" and client.newest is None


def test_offer_to_a_closed_peer_reports_the_client_gone():
    ours, theirs = pair()
    client = Client(ours, chunked=False, ip="127.0.0.1")
    theirs.close()
    results = [client.offer(b"x" * 10) for _ in range(3)]  # the first may still be accepted
    assert results[-1] is False and client.closed
    ours.close()


def test_a_newer_board_wakes_only_its_views_streams(make_app):
    app = make_app("embedded")
    app.config.update(STREAM_MIN_INTERVAL_SECONDS=0, STREAM_HEARTBEAT_SECONDS=60)
    boards = {"all": Snapshot(1, ()), "region:DE": Snapshot(1, ())}
    reads = []

    def loader(view):
        def load():
            reads.append(view)
            return boards[view]
        return load

    found = ports(app)
    hub = Hub(app, MemoryBroker(found.cache), found.local, found.refresher)
    hub.start()
    sockets = {}
    for view in boards:
        ours, theirs = socket.socketpair()
        channel = hub.channel(view, loader(view), loader(view)())
        client = hub.admit(ours, chunked=False, ip="127.0.0.1", max_per_ip=10)
        hub.join(channel, client, channel.version)
        sockets[view] = (ours, theirs, channel, client)
    assert sorted(reads) == ["all", "region:DE"]
    boards["region:DE"] = Snapshot(2, ({"userId": "x", "score": 1, "rank": 1, "displayName": "X"},))
    hub.board_newer("region:DE")  # what the refresher says once it holds the next copy
    theirs = sockets["region:DE"][1]
    theirs.settimeout(30)
    assert theirs.recv(4096).startswith(b"id: 2\nevent: scoreboard\n")
    assert sorted(reads) == ["all", "region:DE", "region:DE"]
    sockets["all"][1].setblocking(False)
    with pytest.raises(BlockingIOError):  # nothing to read: the global view's stream got no frame
        sockets["all"][1].recv(4096)
    for ours, theirs, channel, client in sockets.values():
        hub.leave(channel, client)
        ours.close(), theirs.close()
    assert hub.channels == {}  # a view nobody watches costs nothing
    hub.stop()


def test_a_quiet_views_streams_get_heartbeats_while_another_view_keeps_changing(make_app):
    """A proxy in front cuts a stream that stays silent past its idle timeout (HAProxy's
    timeout server, Heroku's 55 s): a view that never changes must get its heartbeats even
    while another view sends a frame more often than the heartbeat interval."""
    app = make_app("embedded")
    app.config.update(STREAM_MIN_INTERVAL_SECONDS=0, STREAM_HEARTBEAT_SECONDS=0.5)
    boards = {"all": Snapshot(1, ()), "region:DE": Snapshot(1, ())}
    found = ports(app)
    hub = Hub(app, MemoryBroker(found.cache), found.local, found.refresher)
    hub.start()
    sockets = {}
    for view, board in boards.items():
        ours, theirs = socket.socketpair()
        channel = hub.channel(view, functools.partial(boards.get, view), board)
        client = hub.admit(ours, chunked=False, ip="127.0.0.1", max_per_ip=10)
        hub.join(channel, client, channel.version)
        sockets[view] = (ours, theirs, channel, client)

    def keep_changing():
        for version in range(2, 10_000):
            boards["all"] = Snapshot(version, ())
            hub.board_newer("all")
            gevent.sleep(0.1)

    changing = gevent.spawn(keep_changing)
    try:
        quiet = sockets["region:DE"][1]
        quiet.settimeout(30)
        assert quiet.recv(4096) == b": heartbeat\n\n"
        busy = sockets["all"][1]
        busy.settimeout(30)
        assert b"event: scoreboard" in busy.recv(4096)
    finally:
        changing.kill()
        for ours, theirs, channel, client in sockets.values():
            hub.leave(channel, client)
            ours.close(), theirs.close()
        hub.stop()


def watched(user_id, token_id=None, group_id=None, since=0.0):
    ours, theirs = socket.socketpair()
    theirs.close()
    return Client(ours, chunked=False, ip="127.0.0.1",
                  viewer=Viewer(user_id, token_id, group_id, since))


def test_a_notice_ends_exactly_the_streams_its_key_names():
    watchers = Watchers(clock=lambda: 10.0)
    streams = {
        "alice-t1-crew": watched("alice", "t1", "crew"),
        "alice-t2-crew": watched("alice", "t2", "crew"),
        "alice-t1-club": watched("alice", "t1", "club"),
        "bob-t3-crew": watched("bob", "t3", "crew"),
        "bob-none-club": watched("bob", None, "club"),
        "carol-t4-public": watched("carol", "t4"),
    }
    for client in streams.values():
        watchers.add(client)
    public = Client(streams["bob-t3-crew"].sock, chunked=False, ip="127.0.0.1")
    watchers.add(public)  # nobody's: no notice ends it

    def ended():
        return sorted(name for name, client in streams.items() if client.closed)

    assert watchers.end(viewers.token("t1")) == 2
    assert ended() == ["alice-t1-club", "alice-t1-crew"]
    assert watchers.end(viewers.member("bob", "crew")) == 1
    assert ended() == ["alice-t1-club", "alice-t1-crew", "bob-t3-crew"]
    assert watchers.end(viewers.group("club")) == 2  # alice's was ended already
    assert watchers.end(viewers.player("carol")) == 1
    assert ended() == sorted(set(streams) - {"alice-t2-crew"})
    assert not public.closed
    for client in streams.values():
        watchers.discard(client)
        client.sock.close()
    assert watchers.end(viewers.player("alice")) == 0  # a stream gone is forgotten


def test_a_stream_checked_before_a_notice_but_joining_after_it_is_ended():
    now = [100.0]
    watchers = Watchers(clock=lambda: now[0])
    watchers.end(viewers.token("t1"))
    raced = watched("alice", "t1", "crew", since=99.0)  # checked before the revocation
    later = watched("alice", "t1", "crew", since=100.5)  # checked after: its own business
    other = watched("bob", "t2", "crew", since=99.0)
    for client in (raced, later, other):
        watchers.add(client)
    assert (raced.closed, later.closed, other.closed) == (True, False, False)
    # Notices are remembered for a while only: long enough for any stream being opened.
    now[0] += ENDINGS_REMEMBERED_SECONDS + 1
    watchers.end(viewers.token("t9"))
    forgotten = watched("alice", "t1", "crew", since=99.0)
    watchers.add(forgotten)
    assert not forgotten.closed
    for client in (raced, later, other, forgotten):
        client.sock.close()
