"""`GET /v1/reservations` of `burnguard serve`, through the unmodified runcycles client: pages
by cursor, sorts, finds a reservation by its idempotency key, filters by time windows (blank
bounds unset), and refuses a cursor reused under other filters; every answer checked against
the spec."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .test_serve import Checked

runcycles = pytest.importorskip("runcycles")
from runcycles import CyclesClient, CyclesConfig  # noqa: E402
from runcycles.models import (  # noqa: E402
    Action,
    Amount,
    CommitRequest,
    ReleaseRequest,
    ReservationCreateRequest,
    Subject,
    Unit,
)

KEY = "l" * 40


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    config = tmp_path_factory.mktemp("listing") / "budgets.toml"
    config.write_text(
        '[[tenants]]\nname = "dev"\napi_key_env = "K"\n'
        '[[budgets]]\nscope = "tenant:dev"\nunit = "TOKENS"\nallocated = 10000\n'
    )
    command = [sys.executable, "-m", "burnguard", "serve", "--config", str(config), "--port", "0", "--json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env={**os.environ, "K": KEY})
    assert process.stdout is not None
    url = json.loads(process.stdout.readline())["url"]
    c = Checked(CyclesClient(CyclesConfig(base_url=url, api_key=KEY, tenant="dev")))
    for i, amount in enumerate([50, 10, 70, 30, 60, 20, 40]):
        held = c.create_reservation(
            ReservationCreateRequest(
                idempotency_key=f"k{i}",
                subject=Subject(tenant="dev", app="a" if i % 2 else "b"),
                action=Action(kind="llm", name="m"),
                estimate=Amount(unit=Unit.TOKENS, amount=amount),
            )
        ).body["reservation_id"]
        if i < 2:
            done = c.commit_reservation(
                held, CommitRequest(idempotency_key=f"c{i}", actual=Amount(unit=Unit.TOKENS, amount=1))
            )
            assert done.status == 200
        elif i == 2:
            assert c.release_reservation(held, ReleaseRequest(idempotency_key="r2")).status == 200
        time.sleep(0.002)  # distinct creation times
    yield c
    process.terminate()
    assert process.wait(timeout=30) == 0


def listed(c: Any, **query: str) -> Any:
    answer = c.list_reservations(tenant="dev", **query)
    assert answer.status == 200, answer.body
    return answer.body


def test_pages_follow_the_cursor_to_the_end(client: Any) -> None:
    seen, query = [], {"limit": "3"}
    while True:
        page = listed(client, **query)
        seen += [r["idempotency_key"] for r in page["reservations"]]
        if not page["has_more"]:
            assert "next_cursor" not in page
            break
        query = {"limit": "3", "cursor": page["next_cursor"]}
    assert seen == [f"k{i}" for i in range(7)], "oldest first, each once"


def test_sorts_and_filters(client: Any) -> None:
    by_amount = listed(client, sort_by="reserved", sort_dir="asc")["reservations"]
    assert [r["reserved"]["amount"] for r in by_amount] == [10, 20, 30, 40, 50, 60, 70]
    newest = listed(client, sort_by="created_at_ms", limit="2")["reservations"]
    assert [r["idempotency_key"] for r in newest] == ["k6", "k5"], "descending by default"
    (found,) = listed(client, idempotency_key="k3")["reservations"]
    assert found["reserved"]["amount"] == 30
    assert listed(client, idempotency_key="nope")["reservations"] == []
    assert [r["idempotency_key"] for r in listed(client, app="a")["reservations"]] == ["k1", "k3", "k5"]


def test_time_windows_bound_rows_and_blank_bounds_are_unset(client: Any) -> None:
    everything = listed(client)["reservations"]
    assert listed(client, **{"from": "", "to": "", "finalized_from": ""})["reservations"] == everything
    far = "2100-01-01T00:00:00Z"
    assert listed(client, **{"from": far})["reservations"] == []
    finalized = listed(client, finalized_from="2000-01-01T00:00:00Z")["reservations"]
    assert sorted(r["status"] for r in finalized) == ["COMMITTED", "COMMITTED", "RELEASED"]
    assert len(listed(client, expires_to=far)["reservations"]) == 7
    backwards = client.list_reservations(tenant="dev", **{"from": far, "to": "2000-01-01T00:00:00Z"})
    assert backwards.status == 400 and backwards.body["error"] == "INVALID_REQUEST"
    assert client.list_reservations(tenant="dev", to="yesterday").status == 400


def test_a_cursor_reused_under_other_filters_is_refused(client: Any) -> None:
    cursor = listed(client, limit="2")["next_cursor"]
    assert len(listed(client, limit="2", cursor=cursor)["reservations"]) == 2
    other = client.list_reservations(tenant="dev", limit="2", cursor=cursor, status="ACTIVE")
    assert other.status == 400 and "cursor" in other.body["message"]
    assert client.list_reservations(tenant="dev", cursor="garbage").status == 400
