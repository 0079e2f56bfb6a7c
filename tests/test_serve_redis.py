"""Two `burnguard serve --redis` servers on one real redis-server: one budget for both, driven
by the unmodified runcycles client from several threads; reservations, replays and commits
cross servers; Redis down answers the protocol's error body and comes back."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .redis_server import RedisServer, redis_server

runcycles = pytest.importorskip("runcycles")
from runcycles import CyclesClient, CyclesConfig  # noqa: E402
from runcycles.models import (  # noqa: E402
    Action,
    Amount,
    CommitRequest,
    ReservationCreateRequest,
    Subject,
    Unit,
)

__all__ = ["redis_server"]

COMMAND = [sys.executable, "-m", "burnguard", "serve"]
KEY = "k" * 40
CONFIG = (
    '[[tenants]]\nname = "dev"\napi_key_env = "K"\n'
    '[[budgets]]\nscope = "tenant:dev"\nunit = "TOKENS"\nallocated = 500\n'
)


def serve(server: RedisServer, config: Path) -> tuple[subprocess.Popen[str], str]:
    command = [*COMMAND, "--config", str(config), "--port", "0", "--json", "--redis", server.url]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env={**os.environ, "K": KEY})
    assert process.stdout is not None
    info = json.loads(process.stdout.readline())
    assert info["persistence"] == "redis"
    return process, info["url"]


def client(url: str) -> Any:
    return CyclesClient(CyclesConfig(base_url=url, api_key=KEY, tenant="dev"))


def reserve(c: Any, key: str, amount: int) -> Any:
    return c.create_reservation(
        ReservationCreateRequest(
            idempotency_key=key,
            subject=Subject(tenant="dev"),
            action=Action(kind="llm.completion", name="model"),
            estimate=Amount(unit=Unit.TOKENS, amount=amount),
        )
    )


def balance(c: Any) -> dict[str, int]:
    (b,) = [b for b in c.get_balances(tenant="dev").body["balances"] if b["scope_path"] == "tenant:dev"]
    return {k: b[k]["amount"] for k in ("allocated", "reserved", "spent", "remaining")}


@pytest.fixture()
def servers(redis_server: RedisServer, tmp_path: Path) -> Iterator[list[str]]:
    config = tmp_path / "budgets.toml"
    config.write_text(CONFIG)
    started = [serve(redis_server, config) for _ in range(2)]
    yield [url for _, url in started]
    for process, _ in started:
        process.terminate()
        assert process.wait(timeout=30) == 0


def test_two_servers_share_one_budget_under_concurrent_clients(servers: list[str]) -> None:
    committed: list[int] = []
    lock = threading.Lock()

    def work(seed: int) -> None:
        rng = random.Random(seed)
        c = client(servers[seed % 2])
        for i in range(60):
            answer = reserve(c, f"w{seed}-{i}", rng.randint(1, 30))
            if answer.status != 200:
                assert answer.body["error"] == "BUDGET_EXCEEDED", answer.body
                continue
            rid, held = answer.body["reservation_id"], answer.body["reserved"]["amount"]
            actual = rng.randint(0, held)
            other = client(servers[(seed + 1) % 2])  # committed through the other server
            done = other.commit_reservation(
                rid,
                CommitRequest(idempotency_key=f"c{seed}-{i}", actual=Amount(unit=Unit.TOKENS, amount=actual)),
            )
            assert done.status == 200, done.body
            with lock:
                committed.append(actual)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spent = sum(committed)
    assert 0 < spent <= 500
    for url in servers:
        assert balance(client(url)) == {
            "allocated": 500,
            "reserved": 0,
            "spent": spent,
            "remaining": 500 - spent,
        }


def test_a_replay_through_the_other_server_answers_the_same_reservation(servers: list[str]) -> None:
    first = reserve(client(servers[0]), "same-key", 40)
    again = reserve(client(servers[1]), "same-key", 40)
    assert first.status == again.status == 200
    assert again.body["reservation_id"] == first.body["reservation_id"]
    assert balance(client(servers[1]))["reserved"] == 40


def test_redis_down_answers_the_protocols_error_and_comes_back(
    servers: list[str], redis_server: RedisServer
) -> None:
    assert reserve(client(servers[0]), "before", 10).status == 200
    redis_server.stop()
    down = reserve(client(servers[0]), "during", 10)
    assert down.status == 500 and down.body["error"] == "INTERNAL_ERROR", down.body
    assert "not reached" in down.body["message"]
    redis_server.start()  # empty: the servers' copies seed it again
    deadline = time.monotonic() + 30
    while reserve(client(servers[1]), "after", 10).status != 200:
        assert time.monotonic() < deadline, "the servers did not reach Redis again"
        time.sleep(0.1)
    assert balance(client(servers[0]))["reserved"] == 20
