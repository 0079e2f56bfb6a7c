"""The admin API of `burnguard serve`, started for real: tenants, keys and budgets listed and
paged, keys that expire, keys revoked for good (through a restart), and every answer checked
against the admin spec's schemas (`tests/specs/cycles/`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

requests = pytest.importorskip("requests")

SPEC = yaml.safe_load(
    (Path(__file__).parent / "specs" / "cycles" / "cycles-governance-admin-v0.1.25.yaml").read_text()
)
REGISTRY = Registry().with_resource(
    "urn:admin", Resource.from_contents(SPEC, default_specification=DRAFT202012)
)
ADMIN = "admin-" + "z" * 32
COMMAND = [sys.executable, "-m", "burnguard", "serve", "--port", "0", "--json"]


def fits(schema: str, body: Any) -> Any:
    """``body``, after checking it against the admin spec's component ``schema``."""
    validator = Draft202012Validator({"$ref": f"urn:admin#/components/schemas/{schema}"}, registry=REGISTRY)
    errors = [e.message for e in validator.iter_errors(body)]
    assert not errors, f"{schema}: {errors}: {body}"
    return body


class Server:
    def __init__(self, data: Path) -> None:
        env = {**os.environ, "ADMIN_API_KEY": ADMIN}
        self.process = subprocess.Popen(
            [*COMMAND, "--data-dir", str(data)], stdout=subprocess.PIPE, text=True, env=env
        )
        assert self.process.stdout is not None
        self.url = json.loads(self.process.stdout.readline())["url"]

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        return requests.request(
            method, f"{self.url}/v1/admin/{path}", json=body, headers={"X-Admin-API-Key": ADMIN}, timeout=10
        )

    def balances(self, secret: str) -> int:
        answer = requests.get(
            f"{self.url}/v1/balances",
            params={"tenant": "acme"},
            headers={"X-Cycles-API-Key": secret},
            timeout=10,
        )
        return int(answer.status_code)

    def reserve(self, secret: str, key: str, amount: int) -> Any:
        """A reservation of ``amount`` tokens for tenant acme with key ``secret``."""
        body = {
            "idempotency_key": key,
            "subject": {"tenant": "acme"},
            "action": {"kind": "k", "name": "n"},
            "estimate": {"unit": "TOKENS", "amount": amount},
        }
        headers = {"X-Cycles-API-Key": secret}
        return requests.post(f"{self.url}/v1/reservations", json=body, headers=headers, timeout=10)

    def stop(self) -> None:
        self.process.terminate()
        assert self.process.wait(timeout=30) == 0


@pytest.fixture()
def data(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "data"


def test_keys_are_listed_expire_and_stay_revoked_through_a_restart(data: Path) -> None:
    server = Server(data)
    try:
        assert server.admin("POST", "tenants", {"tenant_id": "acme", "name": "Acme"}).status_code == 201
        assert server.admin("POST", "tenants", {"tenant_id": "beta", "name": "Beta"}).status_code == 201
        soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3))
        made = [
            fits(
                "ApiKeyCreateResponse",
                server.admin("POST", "api-keys", {"tenant_id": "acme", "name": n}).json(),
            )
            for n in ("agents", "batch")
        ]
        brief = server.admin("POST", "api-keys", {"tenant_id": "acme", "name": "brief", "expires_at": soon})
        assert brief.status_code == 201 and brief.json()["expires_at"] == soon
        past = server.admin(
            "POST", "api-keys", {"tenant_id": "acme", "name": "x", "expires_at": "2001-01-01T00:00:00Z"}
        )
        assert past.status_code == 400 and "expires_at" in past.json()["message"]
        assert all(server.balances(k["key_secret"]) == 200 for k in [*made, brief.json()])

        listed = fits("ApiKeyListResponse", server.admin("GET", "api-keys?tenant_id=acme").json())
        assert [k["name"] for k in listed["keys"]] == ["agents", "batch", "brief"]
        assert all(
            k["status"] == "ACTIVE" and k["key_prefix"].startswith("cyc_live_") for k in listed["keys"]
        )
        assert "key_secret" not in json.dumps(listed), "a secret is answered once, at creation"

        agents, batch = made
        assert (
            server.admin(
                "POST",
                "budgets",
                {"scope": "tenant:acme", "unit": "TOKENS", "allocated": {"unit": "TOKENS", "amount": 100}},
            ).status_code
            == 201
        )
        held = [server.reserve(batch["key_secret"], f"h{i}", 10).json()["reservation_id"] for i in range(2)]
        revoked = server.admin("DELETE", f"api-keys/{batch['key_id']}?reason=leaked")
        assert revoked.status_code == 200
        assert (
            fits("ApiKey", revoked.json())["status"] == "REVOKED"
            and revoked.json()["revoked_reason"] == "leaked"
        )
        assert server.balances(batch["key_secret"]) == 401 and server.balances(agents["key_secret"]) == 200

        # What a revoked key holds, it may still commit or release, and nothing else.
        def finish(rid: str, action: str, body: dict[str, Any]) -> int:
            return int(
                requests.post(
                    f"{server.url}/v1/reservations/{rid}/{action}",
                    json=body,
                    headers={"X-Cycles-API-Key": batch["key_secret"]},
                    timeout=10,
                ).status_code
            )

        assert (
            finish(held[0], "commit", {"idempotency_key": "c0", "actual": {"unit": "TOKENS", "amount": 4}})
            == 200
        )
        assert finish(held[1], "release", {"idempotency_key": "r1"}) == 200
        assert finish(held[1], "extend", {"idempotency_key": "e1", "extend_by_ms": 1000}) == 401
        again = server.admin("DELETE", f"api-keys/{batch['key_id']}")
        assert again.status_code == 409 and again.json()["error"] == "ALREADY_REVOKED"
        assert server.admin("DELETE", "api-keys/key_0000000000000000").status_code == 404

        time.sleep(
            max(
                0.0, time.mktime(time.strptime(soon, "%Y-%m-%dT%H:%M:%SZ")) - time.mktime(time.gmtime()) + 0.2
            )
        )
        assert server.balances(brief.json()["key_secret"]) == 401, "an expired key fails like an unknown one"
        expired = server.admin("GET", "api-keys?status=EXPIRED").json()["keys"]
        assert [k["name"] for k in expired] == ["brief"]
    finally:
        server.stop()
    server = Server(data)  # restarted: the revocation and the expiry are kept
    try:
        assert server.balances(batch["key_secret"]) == 401 and server.balances(agents["key_secret"]) == 200
        statuses = {k["name"]: k["status"] for k in server.admin("GET", "api-keys").json()["keys"]}
        assert statuses == {"agents": "ACTIVE", "batch": "REVOKED", "brief": "EXPIRED"}
        assert server.admin("GET", "api-keys?status=GONE").status_code == 400
    finally:
        server.stop()


def test_tenants_and_budgets_are_listed_filtered_and_paged(data: Path) -> None:
    server = Server(data)
    try:
        for t in ("acme", "beta", "gamma"):
            assert server.admin("POST", "tenants", {"tenant_id": t, "name": t.title()}).status_code == 201
            body = {"scope": f"tenant:{t}", "unit": "TOKENS", "allocated": {"unit": "TOKENS", "amount": 100}}
            assert server.admin("POST", "budgets", body).status_code == 201
        body = {
            "scope": "tenant:acme/app:chat",
            "unit": "TOKENS",
            "allocated": {"unit": "TOKENS", "amount": 10},
        }
        assert server.admin("POST", "budgets", body).status_code == 201

        first = fits("TenantListResponse", server.admin("GET", "tenants?limit=2").json())
        assert [t["tenant_id"] for t in first["tenants"]] == ["acme", "beta"] and first["has_more"]
        rest = fits(
            "TenantListResponse", server.admin("GET", f"tenants?limit=2&cursor={first['next_cursor']}").json()
        )
        assert [t["tenant_id"] for t in rest["tenants"]] == ["gamma"] and not rest["has_more"]
        assert [t["tenant_id"] for t in server.admin("GET", "tenants?search=amm").json()["tenants"]] == [
            "gamma"
        ]
        assert fits("Tenant", server.admin("GET", "tenants/beta").json())["name"] == "Beta"
        assert server.admin("GET", "tenants/nobody").json()["error"] == "TENANT_NOT_FOUND"
        assert server.admin("GET", "tenants?limit=many").status_code == 400

        acme = fits("BudgetListResponse", server.admin("GET", "budgets?tenant_id=acme").json())
        assert [b["scope"] for b in acme["ledgers"]] == ["tenant:acme", "tenant:acme/app:chat"]
        nested = server.admin("GET", "budgets?scope_prefix=tenant:acme/").json()["ledgers"]
        assert [b["scope"] for b in nested] == ["tenant:acme/app:chat"]
        assert len(server.admin("GET", "budgets").json()["ledgers"]) == 4
        assert server.admin("GET", "budgets?has_debt=true").json()["ledgers"] == []
        assert server.admin("GET", "budgets?has_debt=maybe").status_code == 400
    finally:
        server.stop()


def test_a_key_does_only_what_its_permissions_allow(data: Path) -> None:
    server = Server(data)
    try:
        assert server.admin("POST", "tenants", {"tenant_id": "acme", "name": "Acme"}).status_code == 201
        budget = {"scope": "tenant:acme", "unit": "TOKENS", "allocated": {"unit": "TOKENS", "amount": 100}}
        assert server.admin("POST", "budgets", budget).status_code == 201
        reader = server.admin(
            "POST", "api-keys", {"tenant_id": "acme", "name": "r", "permissions": ["balances:read"]}
        )
        assert fits("ApiKeyCreateResponse", reader.json())["permissions"] == ["balances:read"]
        secret = reader.json()["key_secret"]
        assert server.balances(secret) == 200
        refused = server.reserve(secret, "p1", 1)
        assert refused.status_code == 403 and refused.json()["error"] == "FORBIDDEN"
        assert "reservations:create" in refused.json()["message"]
        admin_reader = server.admin(
            "POST", "api-keys", {"tenant_id": "acme", "name": "a", "permissions": ["admin:read"]}
        )
        assert server.balances(admin_reader.json()["key_secret"]) == 200, "admin:read covers balances:read"
        bad = server.admin(
            "POST", "api-keys", {"tenant_id": "acme", "name": "x", "permissions": ["everything"]}
        )
        assert bad.status_code == 400 and "permissions" in bad.json()["message"]
        default = server.admin("POST", "api-keys", {"tenant_id": "acme", "name": "d"}).json()
        assert (
            "reservations:create" in default["permissions"] and "webhooks:read" not in default["permissions"]
        )
        server.stop()
        server = Server(data)
        again = server.reserve(secret, "p2", 1)
        assert again.status_code == 403, "a key keeps its permissions through a restart"
        listed = server.admin("GET", "api-keys?tenant_id=acme").json()["keys"]
        assert [k["permissions"] for k in listed if k["name"] == "r"] == [["balances:read"]]
    finally:
        server.stop()


def test_a_retried_funding_applies_once_and_replays_through_a_restart(data: Path) -> None:
    server = Server(data)
    try:
        assert server.admin("POST", "tenants", {"tenant_id": "acme", "name": "Acme"}).status_code == 201
        allocated = {"unit": "TOKENS", "amount": 100}
        budget = {"scope": "tenant:acme", "unit": "TOKENS", "allocated": allocated}
        assert server.admin("POST", "budgets", budget).status_code == 201

        def fund(key: str, operation: str, amount: int) -> Any:
            body = {
                "operation": operation,
                "amount": {"unit": "TOKENS", "amount": amount},
                "idempotency_key": key,
            }
            return server.admin("POST", "budgets/fund?scope=tenant:acme&unit=TOKENS", body)

        first = fund("top-up-1", "CREDIT", 50)
        assert first.status_code == 200
        assert fits("BudgetFundingResponse", first.json())["new_allocated"]["amount"] == 150
        retried = fund("top-up-1", "CREDIT", 50)
        assert (retried.status_code, retried.json()) == (200, first.json()), "the first answer, replayed"
        mismatch = fund("top-up-1", "CREDIT", 60)
        assert (mismatch.status_code, mismatch.json()["error"]) == (409, "IDEMPOTENCY_MISMATCH")
        assert fund("", "CREDIT", 1).status_code == 400
        for bad_key in (7, ["k"], {"k": 1}):
            refused = fund(bad_key, "CREDIT", 1)  # type: ignore[arg-type]
            assert refused.status_code == 400 and "idempotency_key" in refused.json()["message"]
        mismatched = requests.post(
            f"{server.url}/v1/admin/budgets/fund?scope=tenant:acme&unit=TOKENS",
            json={"operation": "CREDIT", "amount": {"unit": "TOKENS", "amount": 1}, "idempotency_key": "x"},
            headers={"X-Admin-API-Key": ADMIN, "X-Idempotency-Key": "y"},
            timeout=10,
        )
        assert mismatched.status_code == 400 and "must match" in mismatched.json()["message"]
        by_header = requests.post(
            f"{server.url}/v1/admin/budgets/fund?scope=tenant:acme&unit=TOKENS",
            json={"operation": "CREDIT", "amount": {"unit": "TOKENS", "amount": 50}},
            headers={"X-Admin-API-Key": ADMIN, "X-Idempotency-Key": "top-up-1"},
            timeout=10,
        )
        assert by_header.json() == first.json(), "the header's key is the same key"
        server.stop()
        server = Server(data)
        again = fund("top-up-1", "CREDIT", 50)
        assert (again.status_code, again.json()) == (200, first.json()), "the key survived the restart"
        listed = server.admin("GET", "budgets?tenant_id=acme").json()
        assert [b["allocated"]["amount"] for b in listed["ledgers"]] == [150], "applied once in all"
    finally:
        server.stop()


def test_a_sigterm_right_after_the_ready_line_is_a_graceful_stop() -> None:
    for _ in range(5):
        process = subprocess.Popen([*COMMAND, "--dev"], stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        json.loads(process.stdout.readline())
        process.terminate()
        assert process.wait(timeout=30) == 0, "the handler is in place before the server says it is ready"
