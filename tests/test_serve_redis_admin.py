"""The admin API of two `burnguard serve --redis` servers on one real redis-server: what one
provisions (tenants, keys, revocations, budgets) the other serves within about a second, two
servers provisioning at once never undo each other's changes, and a restarted server keeps
it all (the document is in Redis, keys as hashes only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .redis_server import RedisServer, redis_server

requests = pytest.importorskip("requests")

__all__ = ["redis_server"]

ADMIN = "admin-" + "r" * 32


class Server:
    def __init__(self, redis: RedisServer) -> None:
        command = [sys.executable, "-m", "burnguard", "serve", "--port", "0", "--json", "--redis", redis.url]
        env = {**os.environ, "ADMIN_API_KEY": ADMIN}
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        assert self.process.stdout is not None
        self.url = json.loads(self.process.stdout.readline())["url"]

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"X-Admin-API-Key": ADMIN}
        return requests.request(method, f"{self.url}/v1/admin/{path}", json=body, headers=headers, timeout=10)

    def balances(self, secret: str) -> int:
        headers = {"X-Cycles-API-Key": secret}
        answer = requests.get(
            f"{self.url}/v1/balances", params={"tenant": "acme"}, headers=headers, timeout=10
        )
        return int(answer.status_code)

    def stop(self) -> None:
        self.process.terminate()
        assert self.process.wait(timeout=30) == 0


@pytest.fixture()
def servers(redis_server: RedisServer) -> Iterator[list[Server]]:
    started = [Server(redis_server), Server(redis_server)]
    yield started
    for server in started:
        if server.process.poll() is None:
            server.stop()


def within_seconds(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_what_one_server_provisions_the_other_serves(
    servers: list[Server], redis_server: RedisServer
) -> None:
    a, b = servers
    assert a.admin("POST", "tenants", {"tenant_id": "acme", "name": "Acme"}).status_code == 201
    assert b.admin("POST", "tenants", {"tenant_id": "acme", "name": "Again"}).json()["error"] == (
        "DUPLICATE_RESOURCE"
    ), "a server that had not yet seen the tenant finds it when it saves"
    made = a.admin("POST", "api-keys", {"tenant_id": "acme", "name": "agents"}).json()
    secret, key_id = made["key_secret"], made["key_id"]
    budget = {"scope": "tenant:acme", "unit": "TOKENS", "allocated": {"unit": "TOKENS", "amount": 100}}
    assert a.admin("POST", "budgets", budget).status_code == 201
    assert within_seconds(lambda: b.balances(secret) == 200), "the key works on the other server"
    listed = b.admin("GET", "api-keys?tenant_id=acme").json()["keys"]
    assert [k["name"] for k in listed] == ["agents"]

    assert b.admin("DELETE", f"api-keys/{key_id}?reason=leaked").status_code == 200
    assert a.admin("DELETE", f"api-keys/{key_id}?reason=again").json()["error"] == "ALREADY_REVOKED"
    assert within_seconds(lambda: a.balances(secret) == 401), "revoked on every server"

    a.stop()
    again = Server(redis_server)
    try:
        assert again.balances(secret) == 401, "a restarted server keeps the revocation"
        tenants = again.admin("GET", "tenants").json()["tenants"]
        assert [t["tenant_id"] for t in tenants] == ["acme"]
        document = redis_server.client().hget("{burnguard:serve:cycles}:provisioned", "doc")
        assert secret.encode() not in document and b"sha256" in document, "keys are kept as hashes"
    finally:
        again.stop()


def test_servers_provisioning_at_once_keep_every_change(servers: list[Server]) -> None:
    a, b = servers
    made: dict[str, list[int]] = {"a": [], "b": []}

    def provision(server: Server, name: str) -> None:
        for i in range(15):
            body = {"tenant_id": f"{name}-{i:02d}", "name": name}
            made[name].append(server.admin("POST", "tenants", body).status_code)

    threads = [threading.Thread(target=provision, args=pair) for pair in ((a, "a"), (b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert made == {"a": [201] * 15, "b": [201] * 15}
    for server in servers:
        assert within_seconds(
            lambda s=server: len(s.admin("GET", "tenants?limit=100").json()["tenants"]) == 30
        )


def test_a_redis_restarted_empty_is_seeded_again_by_the_servers(
    servers: list[Server], redis_server: RedisServer
) -> None:
    a, b = servers
    assert a.admin("POST", "tenants", {"tenant_id": "acme", "name": "Acme"}).status_code == 201
    secret = a.admin("POST", "api-keys", {"tenant_id": "acme", "name": "agents"}).json()["key_secret"]
    budget = {"scope": "tenant:acme", "unit": "TOKENS", "allocated": {"unit": "TOKENS", "amount": 100}}
    assert a.admin("POST", "budgets", budget).status_code == 201
    assert within_seconds(lambda: b.balances(secret) == 200)
    client: Any = redis_server.client()
    client.flushall()
    assert within_seconds(lambda: client.hget("{burnguard:serve:cycles}:provisioned", "doc") is not None)
    assert b.admin("POST", "tenants", {"tenant_id": "beta", "name": "Beta"}).status_code == 201
    fresh = Server(redis_server)
    try:
        tenants = fresh.admin("GET", "tenants").json()["tenants"]
        assert sorted(t["tenant_id"] for t in tenants) == ["acme", "beta"], "nothing lost, the new one added"
        keys = fresh.admin("GET", "api-keys?tenant_id=acme").json()["keys"]
        assert [k["name"] for k in keys] == ["agents"]
    finally:
        fresh.stop()


def test_a_server_killed_while_provisioning_loses_no_answered_change(
    servers: list[Server], redis_server: RedisServer
) -> None:
    a, b = servers
    answered: list[str] = []

    def provision() -> None:
        for i in range(10_000):
            try:
                made = a.admin("POST", "tenants", {"tenant_id": f"t-{i:05d}", "name": "t"})
            except requests.RequestException:
                return  # killed
            if made.status_code != 201:
                return
            answered.append(f"t-{i:05d}")

    worker = threading.Thread(target=provision)
    worker.start()
    assert within_seconds(lambda: len(answered) >= 20)
    a.process.kill()  # SIGKILL, in the middle of some request
    a.process.wait(timeout=30)
    worker.join(timeout=30)
    assert b.admin("POST", "tenants", {"tenant_id": "after", "name": "b"}).status_code == 201, (
        "nothing wedged"
    )
    listed = {t["tenant_id"] for t in b.admin("GET", "tenants?limit=1000").json()["tenants"]}
    assert set(answered) <= listed, "every answered tenant is kept"
    assert "after" in listed
