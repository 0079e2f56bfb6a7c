"""A real redis-server for the tests: started on loopback on a free port, stopped after."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """One redis-server process (no persistence: a restart starts it empty)."""

    def __init__(self, directory: Path, *options: str) -> None:
        self.directory = directory
        self.options = options
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(REDIS_SERVER),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--protected-mode",
                "yes",
                *self.options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=20)
            self.process = None

    def client(self) -> object:
        import redis

        return redis.Redis(port=self.port, socket_timeout=5, socket_connect_timeout=2)


def require_redis(*tools: str) -> None:
    """Fails in CI (whose .ci/run installs redis-server) or skips elsewhere if a tool is missing."""
    missing = [t for t in ("redis-server", *tools) if shutil.which(t) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} missing: .ci/run installs redis-server")
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install redis-server)")


@pytest.fixture()
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    require_redis()
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class RedisClusterServers:
    """A 3-node Redis Cluster (masters only) on loopback, made with ``redis-cli --cluster``."""

    def __init__(self, directory: Path) -> None:
        self.nodes = []
        for i in range(3):
            node_dir = directory / f"node{i}"
            node_dir.mkdir()
            bus = str(free_port())  # not port + 10000, which may be above 65535
            options = (
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-port",
                bus,
            )
            self.nodes.append(RedisServer(node_dir, *options))

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{n.port}" for n in self.nodes),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        import redis

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until every node agrees the cluster is up
            infos = [redis.Redis(port=n.port).cluster("info") for n in self.nodes]
            if all(info.get("cluster_state") == "ok" for info in infos):
                return
            time.sleep(0.05)
        raise RuntimeError("the Redis Cluster did not come up")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def client(self) -> object:
        from redis.cluster import RedisCluster

        return RedisCluster(host="127.0.0.1", port=self.nodes[0].port, socket_timeout=5)


@pytest.fixture()
def redis_cluster(tmp_path: Path) -> Iterator[RedisClusterServers]:
    require_redis("redis-cli")
    cluster = RedisClusterServers(tmp_path)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
