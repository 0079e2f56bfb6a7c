"""Eight clients make 10,000 random operations each against one durable `burnguard serve`
(reservations on three scopes, commits, releases, extensions, events and decisions, over
keep-alive connections), and no scope is ever overspent: at the end every scope's spending is
exactly what its answered commits and events charged, within its allocation, with nothing
held."""

from __future__ import annotations

import http.client
import json
import os
import random
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CLIENTS, OPERATIONS = 8, 10_000
KEY = "cyc_test_" + "q" * 40
BUDGETS = {"tenant:dev": 150_000, "tenant:dev/app:a": 40_000, "tenant:dev/app:b": 40_000}
SUBJECTS = [({"tenant": "dev"}, ["tenant:dev"])] + [
    ({"tenant": "dev", "app": app}, ["tenant:dev", f"tenant:dev/app:{app}"]) for app in ("a", "b")
]


class Client:
    """One keep-alive connection speaking the protocol's JSON."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json", "X-Cycles-API-Key": KEY}
        self.connection.request("POST", path, json.dumps(body), headers)
        answer = self.connection.getresponse()
        return answer.status, json.loads(answer.read())

    def get(self, path: str) -> Any:
        self.connection.request("GET", path, headers={"X-Cycles-API-Key": KEY})
        answer = self.connection.getresponse()
        assert answer.status == 200
        return json.loads(answer.read())


def tokens(amount: int) -> dict[str, Any]:
    return {"unit": "TOKENS", "amount": amount}


def work(url: str, seed: int, charged: Counter[str], lock: threading.Lock) -> None:
    rng = random.Random(seed)
    client = Client(url)
    held: dict[str, tuple[list[str], int]] = {}
    mine: Counter[str] = Counter()
    action = {"kind": "llm.completion", "name": "m"}
    for i in range(OPERATIONS):
        key = f"{seed}-{i}"
        subject, scopes = rng.choice(SUBJECTS)
        roll = rng.random()
        if roll < 0.35 or not held:
            estimate = {"subject": subject, "action": action, "estimate": tokens(rng.randint(1, 60))}
            status, body = client.post(
                "/v1/reservations", {"idempotency_key": key, **estimate, "ttl_ms": 60_000}
            )
            if status == 200:
                held[body["reservation_id"]] = (scopes, body["reserved"]["amount"])
            else:
                assert (status, body["error"]) == (409, "BUDGET_EXCEEDED"), body
        elif roll < 0.6:
            rid, (held_scopes, amount) = held.popitem()
            actual = rng.randint(0, amount)
            status, body = client.post(
                f"/v1/reservations/{rid}/commit", {"idempotency_key": key, "actual": tokens(actual)}
            )
            assert status == 200, body
            mine.update(dict.fromkeys(held_scopes, body["charged"]["amount"]))
        elif roll < 0.75:
            rid, _ = held.popitem()
            status, body = client.post(f"/v1/reservations/{rid}/release", {"idempotency_key": key})
            assert status == 200, body
        elif roll < 0.85:
            rid = next(iter(held))
            status, body = client.post(
                f"/v1/reservations/{rid}/extend", {"idempotency_key": key, "extend_by_ms": 1_000}
            )
            assert status == 200, body
        elif roll < 0.95:
            event = {"subject": subject, "action": action, "actual": tokens(rng.randint(1, 20))}
            # REJECT: an event that does not fit is refused (the default caps it at what is
            # left, which then holds the scope over its limit until it is funded).
            status, body = client.post(
                "/v1/events", {"idempotency_key": key, **event, "overage_policy": "REJECT"}
            )
            if status == 201:
                mine.update(dict.fromkeys(scopes, event["actual"]["amount"]))
            else:
                assert (status, body["error"]) == (409, "BUDGET_EXCEEDED"), body
        else:
            estimate = {"subject": subject, "action": action, "estimate": tokens(rng.randint(1, 60))}
            status, body = client.post("/v1/decide", {"idempotency_key": key, **estimate})
            assert status == 200 and body["decision"] in ("ALLOW", "DENY"), body
    for rid in held:
        assert client.post(f"/v1/reservations/{rid}/release", {"idempotency_key": f"end-{rid}"})[0] == 200
    with lock:
        charged.update(mine)


def test_eight_clients_of_ten_thousand_random_operations_never_overspend(tmp_path: Path) -> None:
    config = tmp_path / "budgets.toml"
    config.write_text(
        '[[tenants]]\nname = "dev"\napi_key_env = "KEY"\n'
        + "".join(
            f'[[budgets]]\nscope = "{scope}"\nunit = "TOKENS"\nallocated = {amount}\n'
            for scope, amount in BUDGETS.items()
        )
    )
    command = [sys.executable, "-m", "burnguard", "serve", "--config", str(config), "--port", "0", "--json"]
    process = subprocess.Popen(
        [*command, "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "KEY": KEY},
    )
    assert process.stdout is not None
    url = json.loads(process.stdout.readline())["url"]
    try:
        charged: Counter[str] = Counter()
        lock = threading.Lock()
        threads = [threading.Thread(target=work, args=(url, seed, charged, lock)) for seed in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        balances = Client(url).get("/v1/balances?tenant=dev")["balances"]
        figures = {b["scope_path"]: b for b in balances}
        assert set(figures) == set(BUDGETS)
        for scope, allocated in BUDGETS.items():
            b = figures[scope]
            assert b["reserved"]["amount"] == 0, scope
            assert b["spent"]["amount"] == charged[scope] <= allocated, scope
            assert b["remaining"]["amount"] == allocated - charged[scope], scope
        assert charged["tenant:dev"] > 0.9 * BUDGETS["tenant:dev"], "the budgets ran out, as meant"
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0
