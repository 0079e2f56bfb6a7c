"""The Cycles protocol's test vectors (`tests/specs/cycles/test-vectors.yaml`, v0.1.26) against
`burnguard serve`, started for real and provisioned through its admin API.

The vectors are written for v0.1.26. Those that need its tenant policies (action lists, quotas,
observe mode, threshold and burst counters, emitted events) exercise what v0.1.25, the version
served here, does not have; the others run in order, as the file chains them (the happy path
holds 5,000 of the agent's 50,000, which the budget-exceeded vector then finds). Their requests
are sent as written, with the tenant's issued key for the vectors' symbolic one, and the answers
are compared with the vectors where v0.1.25 has the same field, and validated against the
v0.1.25 schema (`test_serve.conforms`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .test_serve import conforms

requests = pytest.importorskip("requests")

VECTORS = yaml.safe_load((Path(__file__).parent / "specs" / "cycles" / "test-vectors.yaml").read_text())[
    "test_vectors"
]
#: What a vector carries when it needs v0.1.26's tenant policies.
V0_1_26 = {"policy_context", "tenant_context", "counter_state", "emitted_event"}
APPLICABLE = [v for v in VECTORS if not V0_1_26 & set(v)]
ADMIN = "admin-" + "v" * 32


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A server with the vectors' tenant and the budgets their figures imply: 1,000,000 for the
    tenant and 50,000 for its support agent (995,000 and 45,000 left after 5,000)."""
    data = tmp_path_factory.mktemp("vectors") / "data"
    process = subprocess.Popen(
        [sys.executable, "-m", "burnguard", "serve", "--port", "0", "--json", "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "ADMIN_API_KEY": ADMIN},
    )
    assert process.stdout is not None
    url = json.loads(process.stdout.readline())["url"]
    try:

        def admin(path: str, body: Any) -> Any:
            answer = requests.post(
                f"{url}/v1/admin/{path}", json=body, headers={"X-Admin-API-Key": ADMIN}, timeout=10
            )
            assert answer.status_code == 201, answer.text
            return answer.json()

        admin("tenants", {"tenant_id": "acme", "name": "Acme"})
        secret = admin("api-keys", {"tenant_id": "acme", "name": "vectors"})["key_secret"]
        for scope, amount in [("tenant:acme", 1_000_000), ("tenant:acme/agent:support-bot", 50_000)]:
            allocated = {"unit": "USD_MICROCENTS", "amount": amount}
            admin("budgets", {"scope": scope, "unit": "USD_MICROCENTS", "allocated": allocated})
        yield {"url": url, "secret": secret}
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0


def test_the_applicable_vectors_are_the_ones_without_tenant_policies() -> None:
    assert [v["id"] for v in APPLICABLE] == ["allow_happy_path", "deny_budget_exceeded"]
    assert len(VECTORS) == 12


def send(server: dict[str, str], vector: dict[str, Any]) -> Any:
    request = vector["request"]
    headers = {**request["headers"], "X-Cycles-API-Key": server["secret"]}
    return requests.request(
        request["method"], server["url"] + request["path"], json=request["body"], headers=headers, timeout=10
    )


def remaining(server: dict[str, str], scope: str) -> int:
    """What ``scope`` has left, from the balances query filtered on its subject fields."""
    subject = dict(part.split(":", 1) for part in scope.split("/"))
    answer = requests.get(
        f"{server['url']}/v1/balances",
        params=subject,
        headers={"X-Cycles-API-Key": server["secret"]},
        timeout=10,
    )
    conforms("get", "/v1/balances", answer.status_code, answer.json())
    balances = answer.json()["balances"]
    (amount,) = [b["remaining"]["amount"] for b in balances if b["scope_path"] == scope]
    return int(amount)


@pytest.mark.parametrize("vector", APPLICABLE, ids=[v["id"] for v in APPLICABLE])
def test_vector(server: dict[str, str], vector: dict[str, Any]) -> None:
    answer = send(server, vector)
    want = vector["response"]
    assert answer.status_code == want["status"], answer.text
    body = answer.json()
    conforms("post", "/v1/reservations", answer.status_code, body)
    expected = want["body"]
    if answer.status_code == 200:
        assert body["decision"] == expected["decision"]
        assert body["reserved"] == expected["reserved"]
        assert body["reservation_id"] and body["expires_at_ms"] > 0
        assert 0 < body["remaining_ttl_ms"] <= vector["request"]["body"]["ttl_ms"]
        # v0.1.25 names the scopes as strings, and the path with '/' (v0.1.26 displays ' > ').
        scopes = [s["scope"] for s in expected["affected_scopes"]]
        assert body["affected_scopes"] == scopes
        assert body["scope_path"] == expected["scope_path"].replace(" > ", "/")
        for scope in expected["affected_scopes"]:
            assert remaining(server, scope["scope"]) == scope["remaining"]["amount"]
        replay = send(server, vector)
        assert replay.status_code == 200 and replay.json()["reservation_id"] == body["reservation_id"]
    else:
        assert body["error"] == expected["error"]
        assert body["request_id"] and body["message"]
        blocked = expected["details"]["deny_detail"]["blocked_by_scope"]
        assert blocked in body["message"], "the message names the scope that refused"
        assert remaining(server, blocked) == expected["details"]["deny_detail"]["budget_remaining"]
