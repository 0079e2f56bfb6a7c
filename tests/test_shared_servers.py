"""Real servers on loopback: a FastAPI app under gunicorn with 4 Uvicorn workers (plain,
``--preload``, and recycling workers with ``--max-requests``) and under ``uvicorn --workers 4``,
and a Flask app under ``gunicorn -w 4`` (sync workers, recycled every 40 requests).
Whichever worker answers, the shared SLO's figures are the host's: exactly the requests sent;
a shared breaker that opens after 5 failures lets exactly 5 calls reach the downstream; and a
shared budget of 100 credits serves exactly 100 paid requests, recycled workers included, and
every worker's ``/metrics`` shows the host's budget."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

GOOD, BAD = 200, 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server exited"
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("the server did not start")


COMMANDS = {
    "gunicorn": [sys.executable, "-m", "gunicorn", "-k", "uvicorn_worker.UvicornWorker", "-w", "4"],
    "gunicorn --preload": [
        sys.executable,
        "-m",
        "gunicorn",
        "-k",
        "uvicorn_worker.UvicornWorker",
        "-w",
        "4",
        "--preload",
    ],
    "gunicorn --max-requests 25": [
        sys.executable,
        "-m",
        "gunicorn",
        "-k",
        "uvicorn_worker.UvicornWorker",
        "-w",
        "4",
        "--max-requests",
        "25",
    ],
    "uvicorn --workers 4": [sys.executable, "-m", "uvicorn", "--workers", "4"],
    "gunicorn -w 4, Flask": [sys.executable, "-m", "gunicorn", "-w", "4", "--max-requests", "40"],
}
APPS = {"gunicorn -w 4, Flask": "tests.apps.shared_flask:app"}


@dataclass
class Server:
    url: str
    calls: Path
    scrapes_counted: bool


@pytest.fixture(params=list(COMMANDS))
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    port = _free_port()
    command = [*COMMANDS[request.param]]
    app = APPS.get(request.param, "tests.apps.shared_slo:app")
    if "gunicorn" in command:
        command += ["-b", f"127.0.0.1:{port}", app]
    else:
        command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", app]
    calls = tmp_path / "downstream-calls"
    env = {
        **os.environ,
        "BURNGUARD_SHARED_DIR": str(tmp_path / "arenas"),
        "BURNGUARD_TEST_ARENA": "web",
        "BURNGUARD_TEST_CALLS": str(calls),
    }
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(url + "/ok", server)
        # The Flask app's guard leaves /slo out of the SLO; the FastAPI app's middleware counts it.
        yield Server(url, calls, scrapes_counted=request.param not in APPS)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_every_worker_reports_the_hosts_figures(server: Server) -> None:
    url, counted = server.url, int(server.scrapes_counted)
    # The readiness probes and this first read: the figures start from here.
    warmup = httpx.get(url + "/slo", timeout=10).json()["total"] + counted
    # One connection a request: workers recycled by --max-requests close theirs.
    for _ in range(GOOD):
        assert httpx.get(url + "/ok", timeout=10).status_code == 200
    for _ in range(BAD):
        assert httpx.get(url + "/fail", timeout=10).status_code == 503
    pids = set()
    for scrape in range(12):
        # A new connection each time, so the scrapes spread over the workers.
        figures = httpx.get(url + "/slo", timeout=10).json()
        pids.add(figures["pid"])
        # Each scrape is itself recorded once it has answered: the next one sees it.
        assert (figures["total"], figures["failures"]) == (warmup + GOOD + BAD + scrape * counted, BAD)
    for _ in range(100):  # the kernel picks the workers: a few more, until two have answered
        if len(pids) >= 2:
            break
        pids.add(httpx.get(url + "/slo", timeout=10).json()["pid"])
    assert len(pids) >= 2, "the scrapes should have reached several workers"


def test_a_shared_breaker_lets_five_calls_reach_a_dead_downstream_not_twenty(server: Server) -> None:
    url, calls = server.url, server.calls
    statuses = [httpx.get(url + "/downstream", timeout=10).status_code for _ in range(20)]
    assert statuses == [502] * 5 + [503] * 15
    callers = calls.read_text().split()
    assert len(callers) == 5, callers


def _route_total(metrics: str, route: str, code_class: str) -> float:
    line = f'burnguard_http_requests_total{{code_class="{code_class}",route="{route}"}} '
    return float(next(x for x in metrics.splitlines() if x.startswith(line)).split()[-1])


def test_any_workers_metrics_show_the_hosts_route_counters(server: Server) -> None:
    url = server.url
    before = httpx.get(url + "/metrics", timeout=10).text
    ok_before = _route_total(before, "GET /ok", "2xx")
    for _ in range(30):
        assert httpx.get(url + "/ok", timeout=10).status_code == 200
    for _ in range(5):
        assert httpx.get(url + "/fail", timeout=10).status_code == 503
    pids = set()
    for attempt in range(100):  # until at least two workers answered (the kernel picks which)
        scrape = httpx.get(url + "/metrics", timeout=10)
        pids.add(scrape.headers["x-pid"])
        assert _route_total(scrape.text, "GET /ok", "2xx") == ok_before + 30
        assert _route_total(scrape.text, "GET /fail", "5xx") == 5
        assert 'burnguard_http_request_duration_seconds_count{route="GET /ok"} ' in scrape.text
        if attempt >= 7 and len(pids) >= 2:
            break
    assert len(pids) >= 2, "the scrapes should have reached several workers"


def test_a_budget_of_100_serves_exactly_100_paid_requests(server: Server) -> None:
    # Every worker set the budget at start, and recycled workers set it again: never refilled.
    statuses = [httpx.get(server.url + "/paid", timeout=10).status_code for _ in range(130)]
    assert statuses == [200] * 100 + [429] * 30
    # Whichever worker answers, its /metrics shows the host's budget.
    pids = set()
    for attempt in range(100):  # until at least two workers answered (the kernel picks which)
        scrape = httpx.get(server.url + "/metrics", timeout=10)
        pids.add(scrape.headers["x-pid"])
        lines = [x for x in scrape.text.splitlines() if x.startswith("burnguard_budget_")]
        figures = {x.split("{")[0]: float(x.split()[-1]) for x in lines if 'scope="tenant:acme"' in x}
        assert (figures["burnguard_budget_spent"], figures["burnguard_budget_remaining"]) == (100, 0)
        if attempt >= 7 and len(pids) >= 2:
            break
    assert len(pids) >= 2, "the scrapes should have reached several workers"
