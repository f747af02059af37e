"""Change notices on Redis (adapters/broker.py): the writes of a worker whose commands go to
Redis in one batch send one notice between them, on one server and on a cluster, so that
every other worker hears one message per batch rather than one per write (a cost of
updates x workers: docs/SCALING.md, "Capacity"); writes that go one after another each send
their own, and a write on many shards sends one."""

import gevent
import pytest

from scoreboard import adapters
from scoreboard.adapters.broker import RedisBroker
from scoreboard.adapters.slots import shard_tags, view_tag

# Views whose shards differ, so that on a cluster their keys are in different slots.
VIEWS = ["all", "region:eu", "week:2026-W49", "day:2026-12-03"]
END = "end"


@pytest.fixture(params=["postgres", "cluster"])
def setting(request, make_app):
    """(the broker of an app whose store behaves as in a gevent worker, a client of each of
    its Redis primaries)."""
    if request.param == "cluster":
        app = make_app("cluster")
        cluster = request.getfixturevalue("redis_cluster")
        primaries = [cluster.node(port) for port in cluster.primary_ports()]
    else:
        # A redis-server of the test's own: the run's shared one also serves the other
        # processes of the run (and their servers), whose publishes would count here.
        own = request.getfixturevalue("own_redis")
        app = make_app("postgres", REDIS_URL=own.url)
        primaries = [own.client()]
    found = adapters.of(app)
    found.store.deferred = True  # concurrent writes share a batch, as in a gevent worker
    return found.broker, primaries


def publishes(primaries) -> int:
    """The messages published on the primaries so far (PUBLISH and SPUBLISH, scripts'
    included)."""
    return sum(stats.get("calls", 0) for node in primaries
               for name, stats in node.info("commandstats").items()
               if name in ("cmdstat_publish", "cmdstat_spublish"))


def notices_sent(setting, announce) -> int:
    broker, primaries = setting
    before = publishes(primaries)
    announce(broker)
    return publishes(primaries) - before


def together(broker) -> None:
    writes = [gevent.spawn(broker.announce, version, [view])
              for version, view in enumerate(VIEWS, start=7)]
    gevent.joinall(writes, raise_error=True)


def test_the_views_are_on_more_than_one_shard():
    assert len({view_tag(view) for view in VIEWS}) == len(VIEWS)


def test_writes_that_go_in_one_batch_send_one_notice(setting):
    assert notices_sent(setting, together) == 1


def test_writes_one_after_another_send_a_notice_each(setting):
    def in_turn(broker):
        for version, view in enumerate(VIEWS, start=7):
            broker.announce(version, [view])

    assert notices_sent(setting, in_turn) == len(VIEWS)


def test_one_write_on_many_shards_sends_one_notice(setting):
    assert notices_sent(setting, lambda broker: broker.announce(3, VIEWS)) == 1


@pytest.mark.parametrize("setting", ["postgres"], indirect=True)
def test_the_one_notice_names_every_view_at_the_newest_version(setting):
    """Heard through a subscription (on one Redis: a cluster's subscription reads its nodes
    in greenlets, which only a gevent worker runs): every notice before an end mark
    published after them, which Redis hands out after them."""
    broker, _ = setting
    store = broker.store
    channels = [store.key(RedisBroker.CHANNEL + tag) for tag in shard_tags()]
    subscription = store.subscribe(channels, timeout=10)
    try:
        together(broker)
        store.pipelined(lambda batch: batch.publish(channels[0], END))
        heard = []
        while (message := subscription.get(10)) is not None and message.data != END:
            heard.append(message.data)
        assert message is not None, f"the end mark was not heard after {heard}"
    finally:
        subscription.close()
    assert heard == [" ".join(["10", *VIEWS])]
