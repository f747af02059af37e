"""A Redis Cluster of a test session's own: six redis-servers on free ports (three primaries,
each with a replica), joined by ``redis-cli --cluster create``; with ``tls``, nodes that
speak only TLS, to clients, to each other (the cluster bus) and to their replicas alike.
Tests may kill a primary and watch its replica take over."""

import subprocess
import time

import redis
from redis.cluster import ClusterNode, RedisCluster

from .servers import free_port, tls_options, trusting, wait_for_port

NODE_TIMEOUT_MS = 2000  # how long a primary may be silent before its replica takes over


class RedisClusterServers:
    def __init__(self, tmp_path, size=6, tls=False):
        self.dir = tmp_path
        self.tls = tls
        # Each node's bus port is named, rather than left to be its port + 10000, which
        # nothing here made sure is free.
        self.ports = [(free_port(), free_port()) for _ in range(size)]
        self.procs = {}
        self._nodes = {}  # port -> the test's client of that node, kept: a TLS handshake is dear

    @property
    def url(self) -> str:
        scheme = "rediss+cluster://" if self.tls else "redis+cluster://"
        return scheme + ",".join(f"127.0.0.1:{port}" for port, _ in self.ports)

    def start(self, timeout=60.0) -> "RedisClusterServers":
        """Start and join the nodes; any that started are stopped if that fails."""
        try:
            for port, bus in self.ports:
                self.start_node(port, bus)
            self.cli("--cluster", "create", *(f"127.0.0.1:{port}" for port, _ in self.ports),
                     "--cluster-replicas", "1", "--cluster-yes", timeout=timeout)
            self.wait_ok(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def start_node(self, port: int, bus: int) -> None:
        folder = self.dir / str(port)
        folder.mkdir(exist_ok=True)
        listen = ["--port", str(port)]
        if self.tls:  # one certificate for all, in the cluster's folder
            listen = ["--port", "0", "--tls-port", str(port), "--tls-cluster", "yes",
                      "--tls-replication", "yes", *tls_options(self.dir)]
        self.procs[port] = subprocess.Popen(
            ["redis-server", *listen, "--cluster-port", str(bus),
             "--bind", "127.0.0.1", "--cluster-enabled", "yes",
             "--cluster-config-file", str(folder / "nodes.conf"),
             "--cluster-node-timeout", str(NODE_TIMEOUT_MS), "--save", "",
             # A replica's first sync at once, not after Redis's default 5 s wait for more.
             "--repl-diskless-sync-delay", "0",
             "--appendonly", "no", "--dir", str(folder)],
            stdout=subprocess.DEVNULL)
        wait_for_port(port, self.procs[port])

    def wait_ok(self, timeout: float) -> None:
        """Until every live node says the cluster is ok, all agree on three primaries with a
        replica each, and every replica has synced (after the state turns ok): one that
        never had its primary's data does not take over from it."""
        deadline = time.monotonic() + timeout
        while True:
            seen = {port: self._state(port) for port in self.live_ports()}
            if all(state == "ok" for state in seen.values()) and self._replicated():
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster is not ok after {timeout:g} s: {seen}")
            time.sleep(0.1)

    def _state(self, port: int) -> str:
        try:
            return self.node(port).execute_command("CLUSTER INFO")["cluster_state"]
        except redis.RedisError as exc:
            return str(exc)

    def _replicated(self) -> bool:
        whole = len(self.live_ports()) == len(self.ports)
        for port in self.live_ports():
            info = self.node(port).info("replication")
            if info["role"] == "slave" and info["master_link_status"] != "up":
                return False
            if info["role"] == "master" and whole and info["connected_slaves"] < 1:
                return False
        return True

    def wait_failover(self, timeout: float) -> None:
        """Until a replica took over from a primary that was killed: three primaries again,
        and every live node says the cluster is ok."""
        deadline = time.monotonic() + timeout
        while len(self.primary_ports()) < 3 or not all(
                self._state(port) == "ok" for port in self.live_ports()):
            if time.monotonic() > deadline:
                raise AssertionError(f"no replica took over within {timeout:g} s")
            time.sleep(0.1)

    def owner(self, slot: int) -> int:
        """The port of the primary that serves ``slot``, as that primary says itself."""
        for port in self.primary_ports():
            mine = next(node for node in self.node(port).cluster("nodes").values()
                        if "myself" in node["flags"])
            if any(int(run[0]) <= slot <= int(run[-1]) for run in mine["slots"]):  # a run, or one
                return port
        raise AssertionError(f"no primary serves slot {slot}")

    def move_slot(self, slot: int, to: int, between=lambda: None, batch=10) -> None:
        """Move ``slot`` and its keys to the primary on port ``to`` while the cluster serves,
        as ``redis-cli --cluster reshard`` does (CLUSTER SETSLOT, then MIGRATE ``batch`` keys
        at a time: its --cluster-pipeline). ``between()`` runs after each step, so clients
        meet the slot migrating (ASK for keys already gone) as well as moved (MOVED)."""
        source = self.owner(slot)
        ids = {port: self.node(port).execute_command("CLUSTER MYID").decode()
               for port in (source, to)}
        self.node(to).execute_command("CLUSTER SETSLOT", slot, "IMPORTING", ids[source])
        self.node(source).execute_command("CLUSTER SETSLOT", slot, "MIGRATING", ids[to])
        between()
        while keys := self.node(source).execute_command("CLUSTER GETKEYSINSLOT", slot, batch):
            self.node(source).execute_command("MIGRATE", "127.0.0.1", to, "", 0, 5000,
                                              "KEYS", *keys)
            between()
        # The new owner first, then the old one, then the rest (Redis's documented order).
        others = [port for port in self.primary_ports() if port not in (source, to)]
        for port in (to, source, *others):
            self.node(port).execute_command("CLUSTER SETSLOT", slot, "NODE", ids[to])

    def shard_subscribers(self, channel: str) -> int:
        """Subscribers of a shard channel, asked of every primary (one of them holds it)."""
        return sum(dict(self.node(port).pubsub_shardnumsub(channel))[channel.encode()]
                   for port in self.primary_ports())

    def live_ports(self) -> list[int]:
        return [port for port, proc in self.procs.items() if proc.poll() is None]

    def primary_ports(self) -> list[int]:
        return [port for port in self.live_ports()
                if self.node(port).info("replication")["role"] == "master"]

    def node(self, port: int) -> redis.Redis:
        if port not in self._nodes:
            self._nodes[port] = redis.Redis(port=port, socket_timeout=5, **self._trusting())
        return self._nodes[port]

    def client(self) -> RedisCluster:
        """A client for the test's own look at the cluster."""
        return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", port)
                                           for port in self.live_ports()], **self._trusting())

    def cli(self, *args: str, timeout: float = 60.0) -> str:
        """``redis-cli`` with ``args`` (over TLS if the nodes speak it); its output."""
        return subprocess.run(["redis-cli", *self._cli_tls(), *args], check=True,
                              capture_output=True, text=True, timeout=timeout).stdout

    def _trusting(self) -> dict:
        return {"ssl": True, **trusting(self.dir / "redis-tls.crt")} if self.tls else {}

    def _cli_tls(self) -> list[str]:
        return ["--tls", "--cacert", str(self.dir / "redis-tls.crt")] if self.tls else []

    def kill(self, port: int) -> None:
        proc = self.procs[port]
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if port in self._nodes:
            self._nodes.pop(port).close()

    def stop(self) -> None:
        for port in list(self.procs):
            self.kill(port)
