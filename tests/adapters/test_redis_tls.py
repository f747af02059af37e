"""Redis over TLS, as Heroku Redis offers it: a ``rediss://`` URL and a self-signed
certificate. The test's redis-server speaks only TLS, so whatever reaches it came over TLS."""

import redis

import config
from scoreboard.adapters.slots import shard_tags
from scoreboard.adapters.store import connection_pool

from ..harness.players import play_http, token_for
from ..harness.servers import call
from ..harness.waiting import wait_for


def keys(redis_server, pattern):
    with redis_server.client() as client:
        return client.keys(pattern)


def test_with_certificate_checks_off_cache_limits_and_notices_all_go_over_tls(
        serve, own_tls_redis, open_stream):
    start, app = serve
    server = start(own_tls_redis.url, REDIS_SSL_CERT_REQS="none", WEB_CONCURRENCY="2")
    prefix = server.env["REDIS_PREFIX"]
    channel = prefix + "board" + shard_tags()[0]  # each worker subscribes to every shard

    def subscriptions():
        with own_tls_redis.client() as client:
            return dict(client.pubsub_numsub(channel))[channel.encode()]

    wait_for(lambda: subscriptions() == 2, "both workers to subscribe over TLS",
             show=subscriptions)
    stream = open_stream(server.url + "/api/scores/stream")
    assert stream.next_snapshot()["version"] == 0

    assert play_http(server.url, token_for(app, "ann"), "ann") == 1
    assert stream.next_snapshot()["topScores"][0] == {
        "userId": "ann", "displayName": "Ann", "score": 1, "rank": 1}
    status, ready, _ = call("GET", server.url + "/readyz")
    assert (status, ready["redis"]) == (200, "ok")
    status, _, _ = call("GET", server.url + "/api/actions")  # counted by Flask-Limiter
    assert status == 200
    # The shared cache, the write gate's counts and Flask-Limiter's counts are all there.
    assert keys(own_tls_redis, prefix + "top:*")
    assert keys(own_tls_redis, prefix + "gate:ratelimit_update:ann")
    assert keys(own_tls_redis, f"LIMITS:LIMITER/{prefix}limits/*/api.list_actions/*")
    assert "CERTIFICATE_VERIFY_FAILED" not in server.log()


def test_by_default_a_self_signed_certificate_is_refused_and_the_service_degrades(
        serve, own_tls_redis, monkeypatch):
    monkeypatch.delenv("REDIS_SSL_CERT_REQS", raising=False)  # the default: required
    start, app = serve
    server = start(own_tls_redis.url)

    assert play_http(server.url, token_for(app, "ann"), "ann") == 1
    status, top, _ = call("GET", server.url + "/api/scores/top")
    assert (status, [e["userId"] for e in top["topScores"]]) == (200, ["ann"])
    status, ready, _ = call("GET", server.url + "/readyz")
    assert (status, ready["status"], ready["redis"]) == (200, "degraded", "unavailable")
    status, _, _ = call("GET", server.url + "/api/actions")  # limits counted in the process
    assert status == 200
    wait_for(lambda: "certificate verify failed: self-signed certificate" in server.log(),
             "the refused certificate in the log", show=lambda: server.log()[-2000:])
    # Nothing was written past the refusal.
    assert keys(own_tls_redis, f"*{server.env['REDIS_PREFIX']}*") == []



def test_a_plain_redis_url_takes_no_certificate_setting(redis_url):
    pool = connection_pool(config.from_env({"REDIS_URL": redis_url,
                                            "REDIS_SSL_CERT_REQS": "none"}), 1)
    try:
        assert redis.Redis(connection_pool=pool).ping()
    finally:
        pool.disconnect()


def test_on_a_cluster_over_tls_writes_notices_limits_and_reads_all_go(
        serve, own_tls_redis_cluster, open_stream):
    cluster = own_tls_redis_cluster
    start, app = serve
    # No look at the board but a notice's: the stream shows that notices arrive.
    server = start(cluster.url, REDIS_SSL_CERT_REQS="none", WEB_CONCURRENCY="2",
                   STREAM_POLL_SECONDS="600", TOP_LOCAL_MAX_AGE_SECONDS="600")
    prefix = server.env["REDIS_PREFIX"]
    channels = [prefix + "board" + tag for tag in shard_tags()]
    stream = open_stream(server.url + "/api/scores/stream")
    assert stream.next_snapshot()["version"] == 0
    wait_for(lambda: all(cluster.shard_subscribers(c) >= 1 for c in channels),
             "the stream's worker to subscribe to every shard's channel over TLS")

    ann = token_for(app, "ann")
    assert play_http(server.url, ann, "ann") == 1
    assert stream.next_snapshot()["topScores"][0] == {
        "userId": "ann", "displayName": "Ann", "score": 1, "rank": 1}
    status, me, _ = call("GET", server.url + "/api/users/me",  # counted by Flask-Limiter
                         headers={"Authorization": f"Bearer {ann}"})
    assert status == 200, me
    status, ranked, _ = call("GET", server.url + "/api/scores/users/ann")
    assert (status, ranked["rank"], ranked["score"]) == (200, 1, 1)
    status, ready, _ = call("GET", server.url + "/readyz")
    assert (status, ready["redis"]) == (200, "ok")
    # The rank sets, the write gate's counts and Flask-Limiter's are on the cluster: come
    # there over TLS, the only way in.
    with cluster.client() as look:
        assert list(look.scan_iter(match=prefix + "rank:*"))
        assert list(look.scan_iter(match=prefix + "gate:ratelimit_update:ann*"))
        assert list(look.scan_iter(match=f"LIMITS:LIMITER/{prefix}limits/*/api.my_profile/*"))
    assert "CERTIFICATE_VERIFY_FAILED" not in server.log()
