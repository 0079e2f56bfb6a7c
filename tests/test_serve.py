"""`burnguard serve`, started for real on a free loopback port, driven by the unmodified
runcycles 0.5.3 client, by runcycles' own live-server tests (downloaded from PyPI), and by raw
sockets sending what no client should."""

from __future__ import annotations

import json
import os
import random
import re
import socket
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

runcycles = pytest.importorskip("runcycles")
from runcycles import BudgetExceededError, CyclesClient, CyclesConfig, cycles  # noqa: E402
from runcycles.models import (  # noqa: E402
    Action,
    Amount,
    CommitRequest,
    DecisionRequest,
    EventCreateRequest,
    ReleaseRequest,
    ReservationCreateRequest,
    ReservationExtendRequest,
    Subject,
    Unit,
)

COMMAND = [sys.executable, "-m", "burnguard", "serve"]
SPEC = yaml.safe_load((Path(__file__).parent / "specs" / "cycles" / "cycles-protocol-v0.yaml").read_text())
REGISTRY = Registry().with_resource(
    "urn:cycles", Resource.from_contents(SPEC, default_specification=DRAFT202012)
)
#: The client's methods and the operations they call.
OPERATIONS = {
    "create_reservation": ("post", "/v1/reservations"),
    "list_reservations": ("get", "/v1/reservations"),
    "get_reservation": ("get", "/v1/reservations/{reservation_id}"),
    "commit_reservation": ("post", "/v1/reservations/{reservation_id}/commit"),
    "release_reservation": ("post", "/v1/reservations/{reservation_id}/release"),
    "extend_reservation": ("post", "/v1/reservations/{reservation_id}/extend"),
    "decide": ("post", "/v1/decide"),
    "create_event": ("post", "/v1/events"),
    "get_balances": ("get", "/v1/balances"),
}


def conforms(method: str, template: str, status: int, body: Any) -> None:
    """Fails unless ``status`` is one the spec lists for the operation and ``body`` fits its schema."""
    responses = SPEC["paths"][template][method]["responses"]
    assert str(status) in responses, (
        f"{method.upper()} {template} answered {status}, which the spec does not list"
    )
    answer = responses[str(status)]
    if "$ref" in answer:
        pointer = answer["$ref"].removeprefix("#")
    else:
        escaped = template.replace("~", "~0").replace("/", "~1")
        pointer = f"/paths/{escaped}/{method}/responses/{status}"
    schema = {"$ref": f"urn:cycles#{pointer}/content/application~1json/schema"}
    errors = list(Draft202012Validator(schema, registry=REGISTRY).iter_errors(body))
    assert not errors, f"{method.upper()} {template} {status}: {[e.message for e in errors]}: {body}"


class Checked:
    """A runcycles client whose every answer is checked against the spec."""

    def __init__(self, client: CyclesClient) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        method, template = OPERATIONS[name]
        call = getattr(self._client, name)

        def checked(*args: Any, **kwargs: Any) -> Any:
            answer = call(*args, **kwargs)
            conforms(method, template, answer.status, answer.body)
            return answer

        return checked


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``burnguard serve --dev`` on a free port, plus a second tenant from a config file."""
    config = tmp_path_factory.mktemp("serve") / "budgets.toml"
    config.write_text(
        '[[tenants]]\nname = "dev"\napi_key_env = "DEV_KEY"\n'
        '[[tenants]]\nname = "other"\napi_key_env = "OTHER_KEY"\n'
        '[[budgets]]\nscope = "tenant:dev"\nunit = "TOKENS"\nallocated = 1000\n'
        '[[budgets]]\nscope = "tenant:dev/app:capped"\nunit = "TOKENS"\nallocated = 100\n'
        '[[budgets]]\nscope = "tenant:other"\nunit = "TOKENS"\nallocated = 1000\n'
    )
    env = {**os.environ, "DEV_KEY": "cyc_test_dev_" + "x" * 32, "OTHER_KEY": "cyc_test_other_" + "y" * 32}
    process = subprocess.Popen(
        [*COMMAND, "--config", str(config), "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    info = json.loads(process.stdout.readline())
    yield {"url": info["url"], "dev": env["DEV_KEY"], "other": env["OTHER_KEY"], "process": process}
    process.terminate()
    assert process.wait(timeout=30) == 0


def client(server: dict[str, Any], who: str = "dev") -> Any:
    return Checked(CyclesClient(CyclesConfig(base_url=server["url"], api_key=server[who], tenant=who)))


def reserve(c: Any, key: str, amount: int, **subject: str) -> Any:
    return c.create_reservation(
        ReservationCreateRequest(
            idempotency_key=key,
            subject=Subject(tenant="dev", **subject),
            action=Action(kind="llm.completion", name="model"),
            estimate=Amount(unit=Unit.TOKENS, amount=amount),
        )
    )


def remaining(c: Any, scope: str = "tenant:dev") -> int:
    balances = c.get_balances(tenant="dev").body["balances"]
    return next(
        b["remaining"]["amount"]
        for b in balances
        if b["scope_path"] == scope and b["remaining"]["unit"] == "TOKENS"
    )


def test_reserve_commit_release_extend_with_replays(server: dict[str, Any]) -> None:
    c = client(server)
    before = remaining(c)
    first = reserve(c, "life-1", 50, app="chat")
    assert first.status == 200 and first.body["decision"] == "ALLOW"
    assert (
        first.body["affected_scopes"] == ["tenant:dev"] and first.body["scope_path"] == "tenant:dev/app:chat"
    )
    assert 0 < first.body["remaining_ttl_ms"] <= 60_000
    rid = first.body["reservation_id"]
    replay = reserve(c, "life-1", 50, app="chat")
    assert replay.body["reservation_id"] == rid and remaining(c) == before - 50
    mismatch = reserve(c, "life-1", 51, app="chat")
    assert (mismatch.status, mismatch.body["error"]) == (409, "IDEMPOTENCY_MISMATCH")
    extended = c.extend_reservation(rid, ReservationExtendRequest(idempotency_key="ext-1", extend_by_ms=5000))
    assert extended.status == 200 and extended.body["status"] == "ACTIVE"
    assert extended.body["expires_at_ms"] == first.body["expires_at_ms"] + 5000
    done = c.commit_reservation(
        rid, CommitRequest(idempotency_key="commit-1", actual=Amount(unit=Unit.TOKENS, amount=30))
    )
    assert done.status == 200 and done.body == {
        "status": "COMMITTED",
        "charged": {"unit": "TOKENS", "amount": 30},
        "released": {"unit": "TOKENS", "amount": 20},
    }
    again = c.commit_reservation(
        rid, CommitRequest(idempotency_key="commit-1", actual=Amount(unit=Unit.TOKENS, amount=30))
    )
    assert again.body == done.body, "a replayed commit answers the same and charges once"
    assert remaining(c) == before - 30
    late = c.release_reservation(rid, ReleaseRequest(idempotency_key="rel-1"))
    assert (late.status, late.body["error"]) == (409, "RESERVATION_FINALIZED")
    detail = c.get_reservation(rid).body
    assert (detail["status"], detail["committed"]["amount"], detail["idempotency_key"]) == (
        "COMMITTED",
        30,
        "life-1",
    )
    held = reserve(c, "life-2", 10)
    released = c.release_reservation(held.body["reservation_id"], ReleaseRequest(idempotency_key="rel-2"))
    assert released.body == {"status": "RELEASED", "released": {"unit": "TOKENS", "amount": 10}}
    listed = c.list_reservations(tenant="dev", status="RELEASED").body
    assert [r["reservation_id"] for r in listed["reservations"]] == [held.body["reservation_id"]]
    unit = c.commit_reservation(
        rid, CommitRequest(idempotency_key="c-u", actual=Amount(unit=Unit.CREDITS, amount=1))
    )
    assert unit.status in (400, 409)
    assert c.get_reservation("rsv_00000000deadbeef").status == 404


def test_budgets_caps_dry_runs_decide_and_events(server: dict[str, Any]) -> None:
    c = client(server)
    capped = reserve(c, "cap-1", 101, app="capped")
    assert (capped.status, capped.body["error"]) == (409, "BUDGET_EXCEEDED")
    dry = c.create_reservation(
        ReservationCreateRequest(
            idempotency_key="dry-1",
            subject=Subject(tenant="dev", app="capped"),
            action=Action(kind="llm", name="m"),
            estimate=Amount(unit=Unit.TOKENS, amount=101),
            dry_run=True,
        )
    )
    assert (
        dry.status == 200 and dry.body["decision"] == "DENY" and dry.body["reason_code"] == "BUDGET_EXCEEDED"
    )
    assert "reservation_id" not in dry.body and "remaining_ttl_ms" not in dry.body
    decided = c.decide(
        DecisionRequest(
            idempotency_key="dec-1",
            subject=Subject(tenant="dev"),
            action=Action(kind="llm", name="m"),
            estimate=Amount(unit=Unit.TOKENS, amount=1),
        )
    )
    assert decided.body == {"decision": "ALLOW", "affected_scopes": ["tenant:dev"]}
    before = remaining(c)
    event = c.create_event(
        EventCreateRequest(
            idempotency_key="evt-1",
            subject=Subject(tenant="dev"),
            action=Action(kind="llm", name="m"),
            actual=Amount(unit=Unit.TOKENS, amount=7),
        )
    )
    assert (
        event.status == 201
        and event.body["status"] == "APPLIED"
        and event.body["event_id"].startswith("evt_")
    )
    assert remaining(c) == before - 7


def test_the_decorator_charges_and_raises_budget_exceeded(server: dict[str, Any]) -> None:
    c = client(server)
    before = remaining(c)

    @cycles(
        estimate=20,
        actual=lambda result: len(result),
        action_kind="llm",
        action_name="m",
        client=c._client,
        tenant="dev",
        unit="TOKENS",
    )
    def answer() -> str:
        return "four"

    assert answer() == "four"
    assert remaining(c) == before - 4

    @cycles(estimate=10**9, action_kind="llm", action_name="m", client=c._client, tenant="dev", unit="TOKENS")
    def too_big() -> str:
        return "never"

    with pytest.raises(BudgetExceededError):
        too_big()


def test_tenants_are_isolated_and_keys_required(server: dict[str, Any]) -> None:
    mine, theirs = client(server), client(server, "other")
    rid = reserve(mine, "iso-1", 5).body["reservation_id"]
    assert theirs.get_reservation(rid).status == 403
    stolen = theirs.commit_reservation(
        rid, CommitRequest(idempotency_key="steal", actual=Amount(unit=Unit.TOKENS, amount=5))
    )
    assert (stolen.status, stolen.body["error"]) == (403, "FORBIDDEN")
    assert reserve(theirs, "iso-2", 5).status == 403, "a subject of another tenant"
    assert theirs.get_balances(tenant="dev").status == 403
    status, _, body = raw(server, "GET /v1/balances?tenant=dev HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 401 and json.loads(body)["error"] == "UNAUTHORIZED"


def raw(
    server: dict[str, Any], request: str | bytes, key: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    host, port = server["url"].removeprefix("http://").split(":")
    data = request.encode() if isinstance(request, str) else request
    if key:
        data = data.replace(b"\r\n\r\n", f"\r\nX-Cycles-API-Key: {key}\r\n\r\n".encode(), 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(data)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer:
                head, _, body = answer.partition(b"\r\n\r\n")
                length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
                if len(body) >= length:
                    break
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def post(path: str, body: bytes | str) -> bytes:
    data = body.encode() if isinstance(body, str) else body
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
        + data
    )


@pytest.mark.parametrize(
    ("request_bytes", "status", "message"),
    [
        (post("/v1/reservations", "{not json"), 400, "not valid JSON"),
        (post("/v1/reservations", "[]"), 400, "the body must be an object"),
        (
            post(
                "/v1/reservations",
                '{"idempotency_key": "m1", "subject": {"tenant": "dev"}, "action": {"kind": "a", "name": "b"}, "estimate": {"unit": "TOKENS", "amount": 1}, "surprise": 1}',
            ),
            400,
            "surprise is not a field",
        ),
        (
            post(
                "/v1/reservations",
                '{"idempotency_key": "m2", "subject": {"tenant": "dev"}, "action": {"kind": "a", "name": "b"}, "estimate": {"unit": "GOLD", "amount": 1}}',
            ),
            400,
            "estimate.unit must be one of",
        ),
        (
            post(
                "/v1/reservations",
                '{"idempotency_key": "m3", "subject": {"tenant": "dev"}, "action": {"kind": "a", "name": "b"}, "estimate": {"unit": "TOKENS", "amount": "1"}}',
            ),
            400,
            "estimate.amount must be an integer",
        ),
        (
            post(
                "/v1/reservations",
                '{"idempotency_key": "m4", "subject": {"dimensions": {}}, "action": {"kind": "a", "name": "b"}, "estimate": {"unit": "TOKENS", "amount": 1}}',
            ),
            400,
            "at least one of tenant",
        ),
        (
            post(
                "/v1/reservations",
                '{"idempotency_key": "m5", "subject": {"tenant": "dev"}, "action": {"kind": "a", "name": "b"}, "estimate": {"unit": "TOKENS", "amount": 1}, "ttl_ms": 5}',
            ),
            400,
            "ttl_ms must be in 1000..=86400000",
        ),
        (post("/v1/reservations/rsv_x/extend", '{"idempotency_key": "m6"}'), 400, "extend_by_ms is required"),
        (post("/v1/reservations", "x" * (1024 * 1024 + 1)), 413, "exceeds 1 MiB"),
        (
            b"POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            411,
            "Content-Length",
        ),
        (
            b"GET /v1/balances?tenant=dev HTTP/1.1\r\nX-Big: " + b"a" * 17000 + b"\r\n\r\n",
            431,
            "exceed 16 KiB",
        ),
        (b"NONSENSE\r\n\r\n", 400, "METHOD TARGET"),
        (b"DELETE /v1/reservations HTTP/1.1\r\nHost: x\r\n\r\n", 405, "DELETE is not served"),
        (b"GET /v2/nothing HTTP/1.1\r\nHost: x\r\n\r\n", 404, "no endpoint"),
    ],
)
def test_malformed_requests_get_the_protocols_error_body(
    server: dict[str, Any], request_bytes: bytes, status: int, message: str
) -> None:
    got, _, body = raw(server, request_bytes, key=server["dev"])
    error = json.loads(body)
    assert got == status and message in error["message"], error
    errors = list(
        Draft202012Validator(
            {"$ref": "urn:cycles#/components/schemas/ErrorResponse"}, registry=REGISTRY
        ).iter_errors(error)
    )
    assert not errors, [e.message for e in errors]


def test_readiness_needs_no_key(server: dict[str, Any]) -> None:
    status, headers, body = raw(server, "GET /actuator/health/readiness HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (
        status == 200 and json.loads(body) == {"status": "UP"} and headers["X-Request-Id"].startswith("req_")
    )


def test_concurrent_clients_never_overspend(tmp_path: Path) -> None:
    config = tmp_path / "budgets.toml"
    config.write_text(
        '[[tenants]]\nname = "dev"\napi_key_env = "K"\n[[budgets]]\nscope = "tenant:dev"\nunit = "TOKENS"\nallocated = 5000\n'
    )
    process = subprocess.Popen(
        [*COMMAND, "--config", str(config), "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "K": "k" * 40},
    )
    assert process.stdout is not None
    url = json.loads(process.stdout.readline())["url"]
    committed: list[int] = []
    lock = threading.Lock()

    def work(seed: int) -> None:
        rng = random.Random(seed)
        c = CyclesClient(CyclesConfig(base_url=url, api_key="k" * 40, tenant="dev"))
        for i in range(150):
            answer = reserve(c, f"w{seed}-{i}", rng.randint(1, 60))
            if answer.status != 200:
                assert answer.body["error"] == "BUDGET_EXCEEDED"
                continue
            rid, held = answer.body["reservation_id"], answer.body["reserved"]["amount"]
            if rng.random() < 0.3:
                c.release_reservation(rid, ReleaseRequest(idempotency_key=f"r{seed}-{i}"))
                continue
            actual = rng.randint(0, held)
            done = c.commit_reservation(
                rid,
                CommitRequest(idempotency_key=f"c{seed}-{i}", actual=Amount(unit=Unit.TOKENS, amount=actual)),
            )
            assert done.status == 200
            with lock:
                committed.append(actual)

    try:
        threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        c = CyclesClient(CyclesConfig(base_url=url, api_key="k" * 40, tenant="dev"))
        balance = next(
            b for b in c.get_balances(tenant="dev").body["balances"] if b["scope_path"] == "tenant:dev"
        )
        assert balance["spent"]["amount"] == sum(committed) <= 5000
        assert balance["reserved"]["amount"] == 0 and balance["remaining"]["amount"] == 5000 - sum(committed)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_runcycles_own_live_server_tests_pass(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            "runcycles==0.5.3",
            "-d",
            str(tmp_path),
        ],
        check=True,
    )
    with tarfile.open(next(tmp_path.glob("*.tar.gz"))) as sdist:
        member = next(
            m for m in sdist.getmembers() if m.name.endswith("tests/integration/test_live_server.py")
        )
        sdist.extractall(tmp_path, members=[member], filter="data")
    live = next(tmp_path.glob("*/tests/integration/test_live_server.py"))
    process = subprocess.Popen([*COMMAND, "--dev", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        process.stdout.readline()
        variables = dict(pair.split("=", 1) for pair in process.stdout.readline().split())
        assert set(variables) == {"CYCLES_BASE_URL", "CYCLES_API_KEY", "CYCLES_TENANT"}
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(live)],
            cwd=live.parent,
            env={**os.environ, **variables},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0 and "5 passed" in run.stdout, run.stdout[-2000:]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_bad_command_lines_exit_2(tmp_path: Path) -> None:
    for args, message in [
        ([], "give --dev, --config FILE, or ADMIN_API_KEY"),
        (["--dev", "--config", "x.toml"], "not both"),
        (["--config", str(tmp_path / "missing.toml")], "cannot read"),
    ]:
        env = {k: v for k, v in os.environ.items() if k != "ADMIN_API_KEY"}
        done = subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == 2 and message in done.stderr, done.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[[tenants]]\nname = "a"\napi_key_sha256 = "abc"\n')
    done = subprocess.run([*COMMAND, "--config", str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "api_key_sha256 must be 64 hex digits" in done.stderr, done.stderr


def start(config: Path, data_dir: Path, key: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [*COMMAND, "--config", str(config), "--port", "0", "--json", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "K": key},
    )
    assert process.stdout is not None
    info = json.loads(process.stdout.readline())
    assert info["persistence"] == str(data_dir)
    return process, info["url"]


def test_a_kill_9_under_load_loses_no_acknowledged_operation(tmp_path: Path) -> None:
    import requests

    key, data = "k" * 40, tmp_path / "data"
    config = tmp_path / "budgets.toml"
    config.write_text(
        '[[tenants]]\nname = "dev"\napi_key_env = "K"\n'
        '[[budgets]]\nscope = "tenant:dev"\nunit = "TOKENS"\nallocated = 10000000\n'
    )
    process, url = start(config, data, key)
    headers = {"X-Cycles-API-Key": key}
    acked: list[tuple[str, int]] = []  # (reservation id, committed amount)
    in_flight: list[int] = []
    lock = threading.Lock()
    started = threading.Barrier(5)

    def work(seed: int) -> None:
        session, rng = requests.Session(), random.Random(seed)
        started.wait()
        for i in range(100_000):
            body = {
                "idempotency_key": f"r{seed}-{i}",
                "subject": {"tenant": "dev"},
                "action": {"kind": "k", "name": "n"},
                "estimate": {"unit": "TOKENS", "amount": 9},
            }
            try:
                rid = session.post(f"{url}/v1/reservations", json=body, headers=headers, timeout=10).json()[
                    "reservation_id"
                ]
                actual = rng.randint(1, 9)
                with lock:
                    in_flight.append(actual)
                answer = session.post(
                    f"{url}/v1/reservations/{rid}/commit",
                    json={"idempotency_key": f"c{seed}-{i}", "actual": {"unit": "TOKENS", "amount": actual}},
                    headers=headers,
                    timeout=10,
                )
                assert answer.status_code == 200
                with lock:
                    in_flight.remove(actual)
                    acked.append((rid, actual))
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, ValueError):
                return

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    started.wait()
    while len(acked) < 300:
        threading.Event().wait(0.01)
    process.kill()  # SIGKILL, mid-load
    process.wait()
    for t in threads:
        t.join()
    again, url = start(config, data, key)
    try:
        balances = requests.get(
            f"{url}/v1/balances", params={"tenant": "dev"}, headers=headers, timeout=10
        ).json()
        balance = next(b for b in balances["balances"] if b["remaining"]["unit"] == "TOKENS")
        spent = balance["spent"]["amount"]
        committed = sum(amount for _, amount in acked)
        assert committed <= spent <= committed + sum(in_flight), (committed, spent, in_flight)
        assert balance["remaining"]["amount"] == 10_000_000 - spent - balance["reserved"]["amount"]
        for rid, amount in acked[-50:]:
            detail = requests.get(f"{url}/v1/reservations/{rid}", headers=headers, timeout=10).json()
            assert (detail["status"], detail["committed"]["amount"]) == ("COMMITTED", amount)
    finally:
        again.terminate()
        again.wait(timeout=30)


def test_metrics_count_requests_and_show_budgets_to_the_admin_key_only(tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    config = tmp_path / "budgets.toml"
    config.write_text(
        '[[tenants]]\nname = "dev"\napi_key_env = "K"\n'
        '[[budgets]]\nscope = "tenant:dev"\nunit = "TOKENS"\nallocated = 100\n'
    )
    env = {**os.environ, "K": "k" * 40, "ADMIN_API_KEY": "admin-" + "a" * 32}
    process = subprocess.Popen(
        [*COMMAND, "--config", str(config), "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        server = {"url": json.loads(process.stdout.readline())["url"], "dev": env["K"]}
        c = client(server)
        for i in range(3):
            assert reserve(c, f"m{i}", 10).status == 200
        assert reserve(c, "too-much", 500).status == 409
        assert raw(server, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 401
        assert raw(server, "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n\r\n")[0] == 401
        status, headers, body = raw(
            server,
            f"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {env['ADMIN_API_KEY']}\r\n\r\n",
        )
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples
        }
        assert samples[("burnguard_cycles_requests_total", (("code", "200"), ("operation", "reserve")))] == 3
        assert samples[("burnguard_cycles_requests_total", (("code", "409"), ("operation", "reserve")))] == 1
        assert samples[("burnguard_cycles_request_duration_seconds_count", (("operation", "reserve"),))] == 4
        budget = (("scope", "tenant:dev"), ("unit", "TOKENS"))
        assert samples[("burnguard_cycles_budget_reserved", budget)] == 30
        assert samples[("burnguard_cycles_budget_remaining", budget)] == 70
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_admin_api_provisions_tenants_keys_and_budgets_durably(tmp_path: Path) -> None:
    import requests

    data, admin = tmp_path / "data", "admin-" + "z" * 32
    env = {**os.environ, "ADMIN_API_KEY": admin}
    command = [*COMMAND, "--port", "0", "--json", "--data-dir", str(data)]

    def start() -> tuple[subprocess.Popen[str], str]:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        assert process.stdout is not None
        return process, json.loads(process.stdout.readline())["url"]

    process, url = start()
    try:

        def post(path: str, body: dict[str, Any], key: str = admin) -> Any:
            headers = {"X-Admin-API-Key": key}
            return requests.post(f"{url}/v1/admin/{path}", json=body, headers=headers, timeout=10)

        assert post("tenants", {"tenant_id": "acme", "name": "Acme"}, key="wrong").status_code == 401
        made = post("tenants", {"tenant_id": "acme", "name": "Acme"})
        assert made.status_code == 201 and made.json()["status"] == "ACTIVE"
        assert post("tenants", {"tenant_id": "acme", "name": "Again"}).json()["error"] == "DUPLICATE_RESOURCE"
        assert post("tenants", {"tenant_id": "No!", "name": "x"}).status_code == 400
        key = post("api-keys", {"tenant_id": "acme", "name": "agents"})
        assert key.status_code == 201
        secret = key.json()["key_secret"]
        assert secret.startswith("cyc_live_") and len(secret) == 73
        assert post("api-keys", {"tenant_id": "nobody", "name": "x"}).json()["error"] == "TENANT_NOT_FOUND"
        budget = post(
            "budgets",
            {"scope": "tenant:acme", "unit": "TOKENS", "allocated": {"unit": "TOKENS", "amount": 100}},
        )
        assert budget.status_code == 201 and budget.json()["remaining"] == {"unit": "TOKENS", "amount": 100}
        assert (
            post(
                "budgets",
                {"scope": "tenant:acme", "unit": "TOKENS", "allocated": {"unit": "TOKENS", "amount": 1}},
            ).status_code
            == 409
        )

        def fund(operation: str, amount: int) -> Any:
            body = {"operation": operation, "amount": {"unit": "TOKENS", "amount": amount}}
            return post("budgets/fund?scope=tenant:acme&unit=TOKENS", body)

        credited = fund("CREDIT", 50).json()
        assert (credited["previous_allocated"]["amount"], credited["new_allocated"]["amount"]) == (100, 150)
        assert fund("DEBIT", 1000).json()["error"] == "BUDGET_EXCEEDED"
        assert fund("RESET", 80).json()["new_remaining"]["amount"] == 80
        assert fund("GIVE", 1).status_code == 400
        c = client({"url": url, "dev": secret}, "dev")
        held = c.create_reservation(
            ReservationCreateRequest(
                idempotency_key="a1",
                subject=Subject(tenant="acme"),
                action=Action(kind="k", name="n"),
                estimate=Amount(unit=Unit.TOKENS, amount=30),
            )
        )
        assert held.status == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
    # Restarted: the tenant, the key and the budget (with its hold) are all still there.
    process, url = start()
    try:
        c = client({"url": url, "dev": secret}, "dev")
        balances = c.get_balances(tenant="acme").body["balances"]
        assert [(b["allocated"]["amount"], b["reserved"]["amount"]) for b in balances] == [(80, 30)]
    finally:
        process.terminate()
        process.wait(timeout=30)
