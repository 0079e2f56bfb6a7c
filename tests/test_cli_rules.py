"""`burnguard rules`: rule files checked by the real promtool, synthetic burns tested by
`promtool test rules`, and the replay behind those tests against burnguard's own SLOTracker."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from burnguard import SLODefinition, SLOTracker
from burnguard.cli.app import cli
from burnguard.cli.rules import RuleOptions
from burnguard.cli.ruletests import episodes, scenario
from burnguard.cli.specs import format_duration, load_specs, parse_duration
from burnguard.slo import BurnRatePolicy

SPECS = Path(__file__).parent / "specs"
PROMTOOL = shutil.which("promtool")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL, "promtool is missing: .ci/run installs Debian's prometheus package"
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=600)


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("spec", "rules", "alerts"),
    [
        ("sloth.yaml", 33, ["MyServiceHighErrorRate", "MyServiceHighErrorRate", "MyServiceHighLatency"]),
        ("sloth-k8s.yaml", 16, ["SlothWifiClientSatisfaction"]),
        ("openslo-v1.yaml", 24, ["CheckoutCheckoutAvailabilityErrorBudgetBurn"] * 2),
        ("openslo-v1alpha.yaml", 24, ["SearchSearchAvailabilityErrorBudgetBurn"] * 2),
        ("burnguard.yaml", 35, ["CheckoutBudgetBurn"] * 2 + ["CheckoutPayLatencyErrorBudgetBurn"] * 2),
    ],
)
def test_every_spec_format_gives_rules_promtool_accepts(
    tmp_path: Path, spec: str, rules: int, alerts: list[str]
) -> None:
    out = tmp_path / "rules.yml"
    code, _, _ = run("rules", str(SPECS / spec), "-o", str(out))
    assert code == 0
    checked = promtool("check", "rules", str(out))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {rules} rules found" in checked.stdout
    groups = yaml.safe_load(out.read_text())["groups"]
    assert [r["alert"] for g in groups for r in g["rules"] if "alert" in r] == alerts


def test_rules_carry_sloths_names_and_labels() -> None:
    code, out, _ = run("rules", str(SPECS / "sloth.yaml"))
    assert code == 0
    groups = {g["name"]: g["rules"] for g in yaml.safe_load(out)["groups"]}
    sli = groups["sloth-slo-sli-recordings-myservice-requests-availability"]
    assert [r["record"] for r in sli] == [
        f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")
    ]
    assert sli[0]["labels"] == {
        "owner": "myteam",
        "repo": "myorg/myservice",
        "sloth_id": "myservice-requests-availability",
        "sloth_service": "myservice",
        "sloth_slo": "requests-availability",
        "sloth_window": "5m",
    }
    assert "[5m]" in sli[0]["expr"] and "{{.window}}" not in sli[0]["expr"]
    meta = {r["record"]: r for r in groups["sloth-slo-meta-recordings-myservice-requests-availability"]}
    assert set(meta) == {
        "slo:objective:ratio",
        "slo:error_budget:ratio",
        "slo:time_period:days",
        "slo:current_burn_rate:ratio",
        "slo:period_burn_rate:ratio",
        "slo:period_error_budget_remaining:ratio",
        "sloth_slo_info",
    }
    assert meta["slo:objective:ratio"]["expr"].strip() == "vector(0.9990000000000001)", (
        "99.9 / 100, as Sloth writes it"
    )
    assert meta["slo:time_period:days"]["expr"].strip() == "vector(30.0)"
    page, ticket = groups["sloth-slo-alerts-myservice-requests-availability"]
    assert page["labels"] == {
        "category": "availability",
        "severity": "pageteam",
        "routing_key": "myteam",
        "sloth_severity": "page",
    }
    assert page["annotations"]["summary"] == "High error rate on 'myservice' requests responses"
    assert ">= (14.4 * " in page["expr"] and " > " not in page["expr"], "burnguard compares with >="
    assert "ratio_rate3d" in ticket["expr"] and ticket["labels"]["sloth_severity"] == "ticket"
    latency_alerts = groups["sloth-slo-alerts-myservice-requests-latency"]
    assert [a["labels"]["sloth_severity"] for a in latency_alerts] == ["ticket"], "page_alert.disable"


def test_a_28_day_period_scales_the_policies_windows() -> None:
    sli, slo_document = yaml.safe_load_all((SPECS / "openslo-v1.yaml").read_text())
    (slo,) = load_specs([slo_document, sli])  # the SLI may follow the SLO that names it
    assert slo.period_seconds == 28 * 86400 and slo.objective == 0.995
    assert [(p.long_window_seconds, p.short_window_seconds) for p in slo.policies][:2] == [
        (3360, 280),
        (20160, 1680),
    ]
    _, out, _ = run("rules", str(SPECS / "openslo-v1.yaml"))
    assert "slo:sli_error:ratio_rate56m" in out and "slo:sli_error:ratio_rate28d" in out


def test_synthetic_burns_fire_at_the_minutes_promtool_finds(tmp_path: Path) -> None:
    out, tests = tmp_path / "rules.yml", tmp_path / "rules.test.yml"
    code, _, _ = run("rules", str(SPECS / "burnguard.yaml"), "-o", str(out), "--tests", str(tests))
    assert code == 0
    document = yaml.safe_load(tests.read_text())
    assert document["rule_files"] == ["rules.yml"]
    checks = [c for t in document["tests"] for c in t["alert_rule_test"]]
    assert sum(1 for c in checks if c["exp_alerts"]) >= 8, (
        "two edges of each severity's episode, for two SLOs"
    )
    result = promtool("test", "rules", str(tests))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_per_policy_alerts_with_a_hold_and_a_traffic_guard_pass_promtool(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    native = yaml.safe_load((SPECS / "burnguard.yaml").read_text())
    native["slos"] = native["slos"][1:]  # the 7-day latency SLO: a quick test
    spec.write_text(yaml.safe_dump(native))
    out, tests = tmp_path / "rules.yml", tmp_path / "rules.test.yml"
    args = (
        "rules",
        str(spec),
        "-o",
        str(out),
        "--tests",
        str(tests),
        "--per-policy",
        "--for",
        "2m",
        "--min-rate",
        "1",
    )
    code, _, _ = run(*args)
    assert code == 0
    alerts = [r for g in yaml.safe_load(out.read_text())["groups"] for r in g["rules"] if "alert" in r]
    assert [(a["for"], a["labels"]["burnguard_long_window"]) for a in alerts] == [("2m", "1h"), ("2m", "12h")]
    assert all("burnguard:sli_events:rate" in a["expr"] for a in alerts)
    assert promtool("check", "rules", str(out)).returncode == 0
    result = promtool("test", "rules", str(tests))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_replay_agrees_with_the_slo_tracker_within_its_resolution() -> None:
    """The minutes the promtool tests assert (the replay's, which promtool confirms to the step)
    are the minutes burnguard's own tracker alerts, within the width of the buckets its windows
    are read from (a 6-hour window is read from 320 s buckets: up to 6 one-minute steps)."""
    policies = (
        BurnRatePolicy("page", 3600, 300, 5.0),
        BurnRatePolicy("ticket", 21600, 1800, 2.0),
    )
    spec = {
        "version": "burnguard/v1",
        "service": "svc",
        "slos": [
            {
                "name": "avail",
                "target": 0.9,
                "window": "1d",
                "sli": {"slo": "avail"},
                "alert_policies": [
                    {
                        "severity": p.severity,
                        "long_window_seconds": p.long_window_seconds,
                        "short_window_seconds": p.short_window_seconds,
                        "threshold": p.threshold,
                    }
                    for p in policies
                ],
            }
        ],
    }
    (slo,) = load_specs([spec])
    traffic = scenario(slo)
    assert traffic.step_seconds == 60
    found = episodes(slo, traffic, RuleOptions())
    assert [e.severity for e in found] == ["page", "ticket"]

    tracker = SLOTracker(SLODefinition("avail", 0.9, 86400, alert_policies=policies))
    start = 1_800_000_000.0
    step = traffic.step_seconds
    ok = np.concatenate(
        [np.repeat([True, False], [t - b, b]) for t, b in zip(traffic.total, traffic.bad, strict=True)]
    )
    at = np.repeat(start + np.arange(len(traffic.total)) * step - step / 2, traffic.total.astype(np.int64))
    tracker.record_many(ok, at)
    firing: dict[str, list[bool]] = {"page": [], "ticket": []}
    for i in range(len(traffic.total)):
        alerts = tracker.check_alerts(at=start + i * step)
        for severity in firing:
            firing[severity].append(any(a.firing and a.severity == severity for a in alerts))
    for episode in found:
        windows = [
            w
            for p in policies
            if p.severity == episode.severity
            for w in (p.long_window_seconds, p.short_window_seconds)
        ]
        width = max(next(w for w, span in tracker.resolution if span >= window) for window in windows)
        tolerance = 1 + int(width // step)
        steps = np.flatnonzero(firing[episode.severity])
        assert abs(int(steps[0]) - episode.fired) <= tolerance, (episode, steps[0], tolerance)
        assert abs(int(steps[-1]) + 1 - episode.resolved) <= tolerance, (episode, steps[-1], tolerance)
    assert tolerance == 6, "the ticket's 6 h window is read from 320 s buckets"


_METRIC = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)(?=\{)")


@pytest.mark.parametrize("spec", sorted(p.name for p in SPECS.glob("*.yaml")))
def test_the_grafana_dashboard_reads_only_what_the_rules_record(tmp_path: Path, spec: str) -> None:
    rules_file, board_file = tmp_path / "rules.yml", tmp_path / "board.json"
    code, _, _ = run("rules", str(SPECS / spec), "-o", str(rules_file), "--grafana", str(board_file))
    assert code == 0
    board = json.loads(board_file.read_text())
    groups = yaml.safe_load(rules_file.read_text())["groups"]
    recorded = {r["record"] for g in groups for r in g["rules"] if "record" in r}
    ids_in_order = [r["labels"]["sloth_id"] for g in groups for r in g["rules"] if "record" in r]
    slo_ids = list(dict.fromkeys(ids_in_order))
    panels = board["panels"]
    assert [p["id"] for p in panels] == list(range(1, len(panels) + 1))
    assert [p["title"].split(":")[0] for p in panels if p["type"] == "row"] == slo_ids
    exprs = [t["expr"] for p in panels for t in p.get("targets", [])]
    assert len(exprs) >= 6 * len(slo_ids)
    for expr in exprs:
        names = set(_METRIC.findall(expr))
        assert names and names <= recorded | {"ALERTS"}, (expr, names - recorded)
        assert any(f'sloth_id="{i}"' in expr for i in slo_ids), expr
    cells = [
        (x, y)
        for p in panels
        for x in range(p["gridPos"]["x"], p["gridPos"]["x"] + p["gridPos"]["w"])
        for y in range(p["gridPos"]["y"], p["gridPos"]["y"] + p["gridPos"]["h"])
    ]
    assert len(cells) == len(set(cells)), "panels overlap"
    assert all(x < 24 for x, _ in cells)
    # Prometheus parses every panel's query: each becomes a recording rule promtool checks.
    wrapped = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"dashboard:query{i}", "expr": expr} for i, expr in enumerate(exprs)],
            }
        ]
    }
    check_file = tmp_path / "dashboard-queries.yml"
    check_file.write_text(yaml.safe_dump(wrapped))
    checked = promtool("check", "rules", str(check_file))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_json_summary_and_stdin() -> None:
    code, out, err = run("rules", "-", "--json", stdin=(SPECS / "sloth-k8s.yaml").read_text())
    assert code == 0
    report = json.loads(err)
    assert report["slos"][0]["id"] == "home-wifi-good-wifi-client-satisfaction"
    assert [a["severity"] for a in report["slos"][0]["alerts"]] == ["page"]
    assert yaml.safe_load(out)["groups"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "version: prometheus/v1\nservice: s\nslos:\n- name: a\n  objective: 120\n  sli: {raw: {error_ratio_query: 'x[{{.window}}]'}}\n",
            "slos[0].objective: must be a percentage in (0, 100); got 120",
        ),
        (
            "version: prometheus/v1\nservice: s\nslos:\n- name: a\n  objective: 99\n  sli: {events: {error_query: 'x[5m]', total_query: 'y[{{.window}}]'}}\n",
            "slos[0].sli.events.error_query: must contain the window placeholder",
        ),
        (
            "version: prometheus/v1\nservice: s\nslos:\n- name: a\n  objective: 99\n  sli: {plugin: {id: x}}\n",
            "SLI plugins are not supported",
        ),
        ("version: nope\n", "unknown format"),
        ("a: [1,\n", "is not valid YAML (line 2)"),
        (
            "version: burnguard/v1\nservice: s\nslos:\n- name: a\n  target: 2\n  sli: {slo: a}\n",
            "slos[0]: target must be in (0, 1)",
        ),
        (
            "version: burnguard/v1\nservice: s\nslos:\n- name: a\n  target: 0.9\n  window: 3x\n  sli: {slo: a}\n",
            "slos[0].window: must be a duration such as 30d",
        ),
        (
            "version: burnguard/v1\nservice: s\nslos:\n- {name: a, target: 0.9, sli: {slo: a}}\n- {name: a, target: 0.9, sli: {slo: b}}\n",
            "SLO ids must be unique; repeated: s-a",
        ),
        (
            "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec: {service: s, indicatorRef: gone, timeWindow: [{duration: 7d}], objectives: [{target: 0.9}]}\n",
            "spec.indicatorRef: no SLI document named 'gone'",
        ),
    ],
)
def test_bad_specs_are_one_line_errors_with_exit_code_2(tmp_path: Path, text: str, message: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    code, out, err = run("rules", str(spec))
    assert code == 2 and out == ""
    assert err.startswith("burnguard: error: ") and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_bad_command_lines_exit_2(tmp_path: Path) -> None:
    code, _, err = run("rules", str(tmp_path / "missing.yaml"))
    assert code == 2 and "cannot read" in err and "No such file" in err
    code, _, err = run("rules", str(SPECS / "burnguard.yaml"), "--tests", str(tmp_path / "t.yml"))
    assert code == 2 and "--tests needs -o" in err
    code, _, err = run("rules", str(SPECS / "burnguard.yaml"), "--for", "soon")
    assert code == 2 and "--for" in err
    code, _, err = run("rules", str(SPECS / "burnguard.yaml"), "--min-rate", "nan")
    assert code == 2 and "--min-rate must be a finite number of events a second; got nan" in err
    code, _, err = run(
        "rules", str(SPECS / "sloth.yaml"), "-o", str(tmp_path / "r.yml"), "--tests", str(tmp_path / "t.yml")
    )
    assert code == 2 and "synthetic rule tests need an SLI over burnguard's own counters" in err


def test_python_dash_m_and_the_console_script_run() -> None:
    for command in (
        [sys.executable, "-m", "burnguard", "--help"],
        [str(Path(sys.executable).parent / "burnguard"), "rules", "-h"],
    ):
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "rules" in done.stdout


def test_durations_round_trip() -> None:
    for text, seconds in [("5m", 300), ("1h30m", 5400), ("30d", 2592000), ("2w", 1209600), ("90s", 90)]:
        assert parse_duration(text, "x") == seconds
    assert [format_duration(s) for s in (300, 5400, 2592000, 280, 86400)] == [
        "5m",
        "90m",
        "30d",
        "280s",
        "1d",
    ]
