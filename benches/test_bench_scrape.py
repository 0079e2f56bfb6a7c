"""A /metrics scrape after N workers have come and gone (recycled by ``--max-requests``), each
having served 20 routes: burnguard's exporter over a shared route table against
prometheus_client's multiprocess mode (a counter and a histogram per route), in one run.
prometheus_client keeps a file per worker that ever lived and reads them all on every scrape;
burnguard's routes are one fixed table whatever the number of workers."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest

ROUTES = 20
REQUESTS_PER_WORKER = 200
WORKERS = (4, 16, 64)


def _burnguard_worker(directory: str) -> None:
    os.environ["BURNGUARD_SHARED_DIR"] = directory
    from burnguard import RouteGuard

    guard = RouteGuard(shared="bench")
    for i in range(REQUESTS_PER_WORKER):
        guard.routes.route(f"GET /r{i % ROUTES}").record(0.001 * (i % 97 + 1), i % 13 == 0, 100, None, 200)


def _prometheus_worker(directory: str) -> None:
    from prometheus_client import CollectorRegistry, Counter, Histogram, values

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    values.ValueClass = values.MultiProcessValue()
    registry = CollectorRegistry()
    requests = Counter("http_requests", "Requests.", ("route", "code"), registry=registry)
    durations = Histogram("http_request_duration_seconds", "Durations.", ("route",), registry=registry)
    for i in range(REQUESTS_PER_WORKER):
        route = f"GET /r{i % ROUTES}"
        requests.labels(route, "200").inc()
        durations.labels(route).observe(0.001 * (i % 97 + 1))


def _run_workers(target: Any, directory: Path, n: int) -> None:
    context = multiprocessing.get_context("fork")
    for _ in range(0, n, 4):  # four workers at a time, as a recycling server has them
        batch = [context.Process(target=target, args=(str(directory),)) for _ in range(4)]
        for worker in batch:
            worker.start()
        for worker in batch:
            worker.join()
            assert worker.exitcode == 0


@pytest.mark.parametrize("workers", WORKERS)
def test_scrape_burnguard_shared(
    benchmark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    benchmark.group = f"scrape after {workers} recycled workers, {ROUTES} routes"
    _run_workers(_burnguard_worker, tmp_path, workers)
    monkeypatch.setenv("BURNGUARD_SHARED_DIR", str(tmp_path))
    from burnguard import RouteGuard
    from burnguard.prometheus import PrometheusExporter

    exporter = PrometheusExporter(routes=RouteGuard(shared="bench"))
    body = benchmark(lambda: exporter.render()[0])
    count = f'burnguard_http_request_duration_seconds_count{{route="GET /r0"}} {workers * REQUESTS_PER_WORKER // ROUTES}.0'
    assert count.encode() in body


@pytest.mark.parametrize("workers", WORKERS)
def test_scrape_prometheus_client_multiprocess(benchmark: Any, tmp_path: Path, workers: int) -> None:
    benchmark.group = f"scrape after {workers} recycled workers, {ROUTES} routes"
    _run_workers(_prometheus_worker, tmp_path, workers)
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(tmp_path))
    assert len(list(tmp_path.glob("*.db"))) == 2 * workers, "a counter file and a histogram file per worker"
    body = benchmark(lambda: generate_latest(registry))
    assert (
        f'http_request_duration_seconds_count{{route="GET /r0"}} {workers * REQUESTS_PER_WORKER // ROUTES}.0'.encode()
        in body
    )
