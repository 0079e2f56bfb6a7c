"""The dashboard: its JSON API against the library's own figures, its safety defaults, and the
page in a real headless Chromium (Debian's chromium and chromium-driver, with Selenium)."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from burnguard import CircuitBreaker, SLODefinition, SLOTracker
from burnguard.dashboard import Dashboard
from burnguard.ledger import Action, Ledger, Subject, Unit
from burnguard.middleware import RouteGuard
from burnguard.routes import RouteTable

NOW = time.time()


def get(url: str, token: str | None = None, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def api(dashboard: Dashboard, path: str, **kwargs: Any) -> Any:
    status, _, body = get(dashboard.url + path, **kwargs)
    assert status == 200, body
    return json.loads(body)


def workload() -> dict[str, Any]:
    """Two SLOs (one burning), a tripped breaker, budgets at 50 %, 85 % and 100 %, and two routes."""
    quiet = SLOTracker(SLODefinition(name="search", target=0.99, window_seconds=86400))
    burning = SLOTracker(SLODefinition(name="checkout", target=0.999, window_seconds=86400))
    for i in range(2000):
        at = NOW - 1800 + i * 0.9
        quiet.record(i % 500 != 0, at=at)
        burning.record(i % 20 != 0, at=at)  # 5 % errors against a 0.1 % budget
    payments = CircuitBreaker("payments", minimum_number_of_calls=2, failure_rate_threshold=50)
    catalog = CircuitBreaker("catalog")
    ledger = Ledger()
    for tenant, spent in (("acme", 50), ("globex", 85), ("initech", 100)):
        ledger.set_budget(f"tenant:{tenant}", Unit.CREDITS, 100)
        held = ledger.reserve(Subject(tenant=tenant), Action("llm", "chat"), spent, unit=Unit.CREDITS)
        ledger.commit(held.reservation_id, spent)
    ledger.reserve(Subject(tenant="acme"), Action("llm", "chat"), 5, unit=Unit.CREDITS)  # one active hold
    routes = RouteTable(clock=lambda: NOW)
    for i in range(600):
        at = NOW - 200 + i * 0.3
        routes.route("GET /items/{id}").record(0.020 + (i % 10) * 0.001, bytes=2048, at=at, status=200)
        if i % 3 == 0:
            routes.route("POST /orders").record(0.150, error=i % 30 == 0, at=at, status=201)
    return {
        "slos": [quiet, burning],
        "breakers": [payments, catalog],
        "ledgers": [ledger],
        "routes": routes,
    }


@pytest.fixture()
def dashboard() -> Iterator[Dashboard]:
    board = Dashboard(port=0, clock=lambda: NOW, **workload()).start()
    for _ in range(2):  # trips the breaker while the dashboard watches it
        with pytest.raises(ZeroDivisionError):
            board.breakers[0].call(lambda: 1 / 0)
    yield board
    board.stop()


def test_the_api_gives_the_librarys_own_figures(dashboard: Dashboard) -> None:
    data = api(dashboard, "api/dashboard")
    checkout, search = data["slos"]
    assert [checkout["name"], search["name"]] == ["checkout", "search"], "least budget left first"
    snapshot = dashboard.slos[1].snapshot(at=data["generated_at"])
    assert checkout["total"] == snapshot.total == 2000 and checkout["failures"] == 100
    assert checkout["error_budget_remaining"] == pytest.approx(snapshot.error_budget_remaining)
    assert checkout["firing"] == ["page", "ticket"]
    assert {t["state"] for t in checkout["transitions"]} == {"firing"}
    assert search["firing"] == [] and search["transitions"] == []
    assert len(checkout["burndown"]) == 49 and checkout["burndown"][0][1] == 1.0
    assert checkout["burndown"][-1][1] == pytest.approx(checkout["error_budget_remaining"])
    assert len(checkout["policies"]) == 4 and checkout["time_to_exhaustion_seconds"] == 0.0

    payments, catalog = data["breakers"]
    assert (payments["name"], payments["state"], catalog["state"]) == ("payments", "OPEN", "CLOSED")
    assert [s["state"] for s in payments["timeline"]] == ["CLOSED", "OPEN"]
    assert payments["failure_rate"] == 100.0 and payments["failed_calls"] == 2

    budgets = {b["scope"]: b for b in data["budgets"]}
    assert [b["scope"] for b in data["budgets"]] == ["tenant:initech", "tenant:globex", "tenant:acme"]
    assert budgets["tenant:acme"]["used"] == 0.55 and budgets["tenant:acme"]["level"] == "ok"
    assert budgets["tenant:acme"]["active_reservations"] == 1 and budgets["tenant:acme"]["reserved"] == 5
    assert budgets["tenant:globex"]["level"] == "warning"
    assert budgets["tenant:initech"]["level"] == "critical" and budgets["tenant:initech"]["remaining"] == 0

    routes = data["routes"]
    traffic = {r["route"]: r for r in routes["routes"]}
    assert set(traffic) == {"GET /items/{id}", "POST /orders"}
    items = dashboard.routes.route("GET /items/{id}").summary(60.0, at=data["generated_at"])  # type: ignore[union-attr]
    assert traffic["GET /items/{id}"]["requests"] == items.requests
    assert traffic["GET /items/{id}"]["p95_seconds"] == pytest.approx(items.p95)
    costs = {c["route"]: c for c in routes["costs"]}
    assert set(costs) == {"GET /items/{id}", "POST /orders"}
    for cost in costs.values():
        curve = [usd for _, usd in cost["cost_curve"]]
        assert cost["cost_curve"][0][0] == 100 and cost["cost_curve"][-1][0] == 1_000_000
        assert curve == sorted(curve), "the cost curve never falls"
    # Each panel's own endpoint answers the same panel.
    assert [s["name"] for s in api(dashboard, "api/slos")] == ["checkout", "search"]
    assert [b["name"] for b in api(dashboard, "api/breakers")] == ["payments", "catalog"]
    assert api(dashboard, "api/budgets") == data["budgets"]
    assert [c["route"] for c in api(dashboard, "api/routes")["costs"]] == [
        c["route"] for c in routes["costs"]
    ]


def test_charts_are_svg_with_the_expected_series(dashboard: Dashboard) -> None:
    data = api(dashboard, "api/dashboard")
    checkout = data["slos"][0]["charts"]
    assert re.findall(r'class="series" data-name="([^"]+)"', checkout["burndown"]) == ["budget left"]
    assert len(re.findall(r'class="series"', checkout["burn_rates"])) == 8  # 4 policies x 2 windows
    assert len(re.findall(r'class="threshold"', checkout["burn_rates"])) == 8
    timeline = data["breakers"][0]["charts"]["timeline"]
    assert re.findall(r'data-state="(\w+)"', timeline) == ["CLOSED", "OPEN"]
    curve = data["routes"]["charts"]["cost_curve"]
    assert sorted(re.findall(r'class="series" data-name="([^"]+)"', curve)) == [
        "GET /items/{id}",
        "POST /orders",
    ]


def test_recording_stop_freezes_and_start_resumes(dashboard: Dashboard) -> None:
    assert api(dashboard, "api/recording")["status"] == "recording"
    before = {c["route"]: c["requests"] for c in api(dashboard, "api/routes")["costs"]}
    stopped = api(dashboard, "api/recording/stop", method="POST")
    assert stopped["status"] == "stopped" and stopped["stopped_at"] is not None
    assert api(dashboard, "api/recording/start", method="POST")["status"] == "recording"
    status = api(dashboard, "api/recording")
    assert status["warming_up"] is True and status["seconds"] < 5
    # A new session reads only its own span (to the buckets' minute): fewer requests.
    after = {c["route"]: c["requests"] for c in api(dashboard, "api/routes")["costs"]}
    assert before["GET /items/{id}"] > 100  # minutes of requests, less the warm-up buckets
    assert all(after.get(route, 0) < count for route, count in before.items()), (before, after)


def test_safe_defaults_and_errors(dashboard: Dashboard) -> None:
    assert Dashboard().host == "127.0.0.1" and Dashboard().port == 7777
    status, headers, body = get(dashboard.url)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    html = body.decode()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "nothing from the network"
    for asset in ("dashboard.js", "dashboard.css"):
        status, _, text = get(dashboard.url + asset)
        assert status == 200 and b"http" not in text
    status, _, body = get(dashboard.url + "api/nope")
    assert status == 404 and json.loads(body)["error"] == "not_found"
    assert "NaN" not in get(dashboard.url + "api/dashboard")[2].decode()


def test_a_token_guards_every_path() -> None:
    board = Dashboard(port=0, token="s3cret-token").start()
    try:
        for path in ("", "api/dashboard", "dashboard.js", "panels"):
            assert get(board.url + path)[0] == 401
            assert get(board.url + path, token="wrong-token")[0] == 401
            assert get(board.url + path, token="s3cret-token")[0] == 200
        assert get(board.url + "api/dashboard?token=s3cret-token")[0] == 200
    finally:
        board.stop()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"port": 70000}, "port must be an int in 0..65535; got 70000"),
        ({"token": "short"}, "token must be a str of at least 8 characters"),
        ({"refresh_seconds": 0.1}, "refresh_seconds must be a number of seconds in [0.5, 3600]"),
        ({"slos": [object()]}, "slos[0] must be a SLOTracker"),
        ({"routes": {}}, "routes must be a RouteTable"),
    ],
)
def test_bad_options_are_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        Dashboard(**options)


def test_a_guard_starts_its_dashboard_and_a_taken_port_is_not_an_error() -> None:
    first = RouteGuard(dashboard=0)
    assert first.dashboard is not None and first.dashboard.running
    try:
        assert api(first.dashboard, "api/routes")["routes"] == []
        second = RouteGuard(dashboard=first.dashboard.port)
        assert second.dashboard is None
    finally:
        first.dashboard.stop()


# ---- the page in a real browser -------------------------------------------------------------

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ARTIFACTS = Path(os.environ.get("BURNGUARD_ARTIFACTS", Path(__file__).parent.parent / "target" / "artifacts"))


@pytest.fixture()
def browser() -> Iterator[Any]:
    if not (CHROMIUM and DRIVER):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver are missing: .ci/run installs them")
        pytest.skip(
            "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    # Any name but the loopback address fails to resolve: nothing can leave the host.
    options.add_argument("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_window_size(1280, 800)
    yield driver
    driver.quit()


def _number(text: str) -> float:
    return float(re.sub(r"[^0-9.\-]", "", text.split(" ")[0]))


def test_the_page_in_chromium_shows_the_apis_figures(browser: Any, dashboard: Dashboard) -> None:
    from selenium.webdriver.common.by import By

    browser.get(dashboard.url)
    data = api(dashboard, "api/dashboard")
    assert browser.find_element(By.TAG_NAME, "h1").text == "burnguard"
    headings = [h.text for h in browser.find_elements(By.TAG_NAME, "h2")]
    assert headings == [
        "SLOs, least budget left first",
        "Circuit breakers",
        "Ledger budgets",
        "Routes and costs",
        "Recording",
    ]

    # SLOs: order, figures and charts.
    articles = browser.find_elements(By.CSS_SELECTOR, "article.slo")
    assert [a.get_attribute("data-slo") for a in articles] == [s["name"] for s in data["slos"]]
    for article, slo in zip(articles, data["slos"], strict=True):
        cell = article.find_element(By.CSS_SELECTOR, '[data-field="error_budget_remaining"]')
        assert _number(cell.text) == pytest.approx(slo["error_budget_remaining"] * 100, abs=0.01)
        total = article.find_element(By.CSS_SELECTOR, '[data-field="total"]').text
        assert int(total.replace(",", "")) == slo["total"]
        assert len(article.find_elements(By.CSS_SELECTOR, "figure.burn-rates g.series")) == 8
        assert len(article.find_elements(By.CSS_SELECTOR, "figure.burndown polyline")) == 1
    assert "critical" in articles[0].get_attribute("class")

    # Breakers, budgets and routes.
    for b in data["breakers"]:
        row = browser.find_element(By.CSS_SELECTOR, f'tr[data-breaker="{b["name"]}"]')
        assert row.find_element(By.CSS_SELECTOR, '[data-field="state"]').text == b["state"]
        spans = row.find_elements(By.CSS_SELECTOR, "rect.span")
        assert [s.get_attribute("data-state") for s in spans] == [t["state"] for t in b["timeline"]]
    for budget in data["budgets"]:
        row = browser.find_element(By.CSS_SELECTOR, f'tr[data-scope="{budget["scope"]}"]')
        used = row.find_element(By.CSS_SELECTOR, '[data-field="used"]')
        assert _number(used.text) == pytest.approx(budget["used"] * 100, abs=0.05)
        assert budget["level"] in used.get_attribute("class")
    for route in data["routes"]["routes"]:
        row = browser.find_element(By.CSS_SELECTOR, f'#routes tr[data-route="{route["route"]}"]')
        assert _number(row.find_element(By.CSS_SELECTOR, '[data-field="rps"]').text) == pytest.approx(
            route["rps"], abs=0.01
        )
    costs = browser.find_elements(By.CSS_SELECTOR, '#routes [data-field="monthly_usd"]')
    assert [_number(c.text) for c in costs] == pytest.approx(
        [c["monthly_usd"] for c in data["routes"]["costs"]], abs=0.01
    )
    assert len(browser.find_elements(By.CSS_SELECTOR, "figure.cost-curve g.series")) == 2

    # Stop and start from the page.
    browser.find_element(By.ID, "recording-stop").click()
    _wait(lambda: browser.find_element(By.CSS_SELECTOR, '[data-field="recording_status"]').text == "stopped")
    assert api(dashboard, "api/recording")["status"] == "stopped"
    browser.find_element(By.ID, "recording-start").click()
    _wait(
        lambda: browser.find_element(By.CSS_SELECTOR, '[data-field="recording_status"]').text == "recording"
    )
    assert api(dashboard, "api/recording")["status"] == "recording"

    # No console errors, and every request stayed on the dashboard's own address.
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    requested = [
        json.loads(entry["message"])["message"]["params"]["request"]["url"]
        for entry in browser.get_log("performance")
        if '"Network.requestWillBeSent"' in entry["message"]
    ]
    assert requested and all(url.startswith(dashboard.url) for url in requested), requested

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "dashboard-1280x800.png"))


def test_the_page_is_readable_narrow_and_has_contrast(browser: Any, dashboard: Dashboard) -> None:
    from selenium.webdriver.common.by import By

    browser.set_window_size(420, 900)
    browser.get(dashboard.url)
    overflow = browser.execute_script(
        "return [...document.querySelectorAll('article.slo, header, h2')]"
        ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).length"
    )
    assert overflow == 0
    for element in browser.find_elements(By.CSS_SELECTOR, "td.ok, td.warning, td.critical, caption, h1, td"):
        colour = element.value_of_css_property("color")
        assert _contrast(colour) >= 4.5, (element.text, colour)
    buttons = browser.find_elements(By.TAG_NAME, "button")
    assert all(b.text for b in buttons), "every control has a label"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "dashboard-420x900.png"))


def _contrast(css_colour: str) -> float:
    """The contrast ratio of an ``rgba(...)`` text colour against the white page."""
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+", css_colour)[:3])

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else math.pow((c + 0.055) / 1.055, 2.4)

    luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    return 1.05 / (luminance + 0.05)


def _wait(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if condition():
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("the page did not update")
        time.sleep(0.05)


def test_transitions_are_watched_while_nobody_looks() -> None:
    tracker = SLOTracker(
        SLODefinition(name="watched", target=0.99, window_seconds=3600, burn_rate_windows=[60])
    )
    board = Dashboard(slos=[tracker], port=0, refresh_seconds=0.5).start()
    try:
        now = time.time()
        for i in range(200):
            tracker.record(False, at=now - 30 + i * 0.1)  # every page policy fires
        _wait(lambda: any(t["state"] == "firing" for t in board.history.alerts.get("watched", ())))
    finally:
        board.stop()
    assert not board.running


# ---- `burnguard dashboard`: a process of its own over the app's arena -----------------------

SPEC = Path(__file__).parent / "specs" / "burnguard.yaml"


def test_the_command_shows_what_the_apps_workers_record(arena_directory: Path) -> None:
    import subprocess
    import sys

    # "The app": the spec's tracker (sli: {slo: checkout}) and its route table, in arena "app".
    checkout = SLOTracker(
        SLODefinition(name="checkout", target=0.999, window_seconds=30 * 86400), shared="app"
    )
    routes = RouteTable(shared="app")
    for i in range(300):
        checkout.record(i % 100 != 0)
        routes.route("POST /pay").record(0.05, error=i % 100 == 0)
    command = [sys.executable, "-m", "burnguard", "dashboard", str(SPEC), "--shared", "app", "--port", "0"]
    once = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=60)
    assert once.returncode == 0, once.stderr
    assert "checkout-pay-latency reads no app SLO" in once.stderr
    data = json.loads(once.stdout)
    assert [(s["name"], s["total"], s["failures"]) for s in data["slos"]] == [("checkout", 300, 3)]
    assert [(r["route"], r["requests"]) for r in data["routes"]["routes"]] == [("POST /pay", 300)]

    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        for _ in range(200):  # another worker records: the dashboard sees it at once
            checkout.record(False)
        status, _, body = get(url + "api/slos")
        assert status == 200 and json.loads(body)[0]["failures"] == 203
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0


def test_the_command_refuses_a_missing_arena_and_another_geometry(arena_directory: Path) -> None:
    from click.testing import CliRunner

    from burnguard.cli.app import cli

    result = CliRunner().invoke(cli, ["dashboard", str(SPEC), "--shared", "nothing", "--json"])
    assert result.exit_code == 2 and "no arena 'nothing'" in result.stderr
    SLOTracker(SLODefinition(name="checkout", target=0.99, window_seconds=86400), shared="other")
    result = CliRunner().invoke(cli, ["dashboard", str(SPEC), "--shared", "other", "--json"])
    assert result.exit_code == 2 and "the arena's SLO 'checkout' differs" in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1


def test_arena_file_of_refuses_a_name_that_is_a_path(arena_directory: Path) -> None:
    from burnguard.shared import Arena

    assert Arena.file_of("app") == arena_directory / "app.arena"
    for bad in ("../etc", "", ".hidden", "a/b"):
        with pytest.raises(ValueError, match="name"):
            Arena.file_of(bad)
