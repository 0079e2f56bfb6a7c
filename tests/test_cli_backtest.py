"""`burnguard backtest`: the bundled sample's known findings, each log format on small
hand-written fixtures (malformed lines included), and bad input as one-line errors."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from burnguard.cli.app import SAMPLES, cli

DAY3_10H = 1_764_756_000  # 2025-12-03T10:00:00Z, the sample's fast burn
DAY6_2H = 1_764_986_400  # 2025-12-06T02:00:00Z, its slow burn


def run(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["backtest", *args], input=stdin)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def backtest_json(*args: str, stdin: bytes | None = None) -> dict[str, Any]:
    code, out, err = run(*args, "--json", stdin=stdin)
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def test_the_sample_finds_both_incidents() -> None:
    report = backtest_json("--sample")
    assert report["slo"] == "shop-availability" and report["target"] == 0.99
    assert report["log"]["lines"] == 92_160 and report["log"]["malformed"] == 0
    alerts = [(a["severity"], a["fired_at"], a["resolved_at"]) for a in report["alerts"]]
    assert alerts == [
        ("page", DAY3_10H + 22 * 60, DAY3_10H + 44 * 60),  # 22 minutes into the fast burn
        ("ticket", DAY6_2H + 5 * 3600 + 40 * 60, DAY6_2H + 8 * 3600 + 19 * 60),
        ("ticket", DAY6_2H + 11 * 3600 + 54 * 60, DAY6_2H + 23 * 3600 + 7 * 60),
    ]
    scores = {s["approach"]: s for s in report["approaches"]}
    best = scores["6 multiwindow"]
    assert (best["alerts"], best["precision"], best["recall"]) == (3, 1.0, 1.0)
    assert best["mean_detection_seconds"] == (22 * 60 + 5 * 3600 + 40 * 60) / 2
    assert scores["1 error rate, 10m"]["alerts"] == 174, "the naive alert fires on every blip"
    assert scores["4 36x over 1h"]["recall"] == 0.0, "no incident burns 36x for an hour"
    assert [i["start"] for i in report["incidents"]] == [DAY3_10H, DAY6_2H]
    assert report["incidents_from"] == "incidents.csv"


def test_incidents_derived_from_the_sample_log_cover_the_known_ones() -> None:
    report = backtest_json(str(SAMPLES / "access.csv.gz"), "--slo", str(SAMPLES / "slo.yaml"))
    assert report["incidents_from"] == "derived from the log"
    (fast, slow) = report["incidents"]
    assert fast["start"] <= DAY3_10H + 600 and fast["end"] >= DAY3_10H + 40 * 60 - 600
    assert slow["start"] <= DAY6_2H + 600 and slow["end"] >= DAY6_2H + 18 * 3600 - 600
    assert 0.03 < fast["budget_spent"] < 0.05 and 0.1 < slow["budget_spent"] < 0.15


def test_the_table_output_runs() -> None:
    code, out, _ = run("--sample")
    assert code == 0
    assert "Alerts of the SLO's policies" in out and "multiwindow" in out and "28.7x" in out


CSV = b"""timestamp,status,latency
2025-12-01T00:00:10Z,200,0.1
2025-12-01T00:00:20Z,500,0.1
not a time,200,0.1
1764547230,200,2.5
1764547290,503
"""


def test_csv_logs_with_malformed_lines_gzip_and_stdin(tmp_path: Path) -> None:
    plain = tmp_path / "log.csv"
    plain.write_bytes(CSV)
    zipped = tmp_path / "log.csv.gz"
    zipped.write_bytes(gzip.compress(CSV))
    for source, stdin in ((str(plain), None), (str(zipped), None), ("-", CSV), ("-", gzip.compress(CSV))):
        report = backtest_json(source, "--target", "0.9", "--window", "1d", stdin=stdin)
        log = report["log"]
        assert (log["lines"], log["malformed"], log["events"], log["bad_events"]) == (4, 1, 4, 2)
        assert log["malformed_examples"] == [{"line": 4, "text": "not a time,200,0.1"}]
        assert log["start"] == 1_764_547_200.0
    latency = backtest_json(str(plain), "--target", "0.9", "--latency-threshold", "1")
    assert latency["log"]["bad_events"] == 2, "the 500 and the 2.5 s request"
    assert [e["line"] for e in latency["log"]["malformed_examples"]] == [4, 6], "line 6 has no latency"
    code, out, err = run(str(plain), "--target", "0.9", "--strict")
    assert code == 2 and out == "" and "line 4 is malformed" in err and err.count("\n") == 1


def test_named_and_ok_columns(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("when,success\n60,true\n61,false\n62,yes\n")
    report = backtest_json(str(log), "--target", "0.99", "--timestamp-column", "when")
    assert (report["log"]["events"], report["log"]["bad_events"]) == (3, 1)
    code, _, err = run(str(log), "--target", "0.99", "--timestamp-column", "when", "--status-column", "code")
    assert code == 2 and "status_column must name a column of the header (when, success); got code" in err


def test_combined_logs_are_sniffed(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(
        '10.0.0.1 - - [01/Dec/2025:00:00:01 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" 0.010\n'
        '10.0.0.1 - - [01/Dec/2025:00:01:01 +0000] "GET /x HTTP/1.1" 502 0 "-" "ua" 0.700\n'
        "a broken line\n"
    )
    report = backtest_json(str(log), "--target", "0.99", "--window", "7d")
    assert (report["log"]["events"], report["log"]["bad_events"], report["log"]["malformed"]) == (2, 1, 1)
    assert report["log"]["step_seconds"] == 60


CADDY = b"""{"level":"info","ts":1764547210.5,"request":{"method":"GET","uri":"/"},"status":200,"duration":0.1}
{"level":"info","ts":1764547220.25,"request":{"method":"GET","uri":"/x"},"status":502,"duration":0.4}
{"level":"info","ts":1764547230,"request":{"method":"GET"},"status":200,"duration":0.9}
{"level":"error","msg":"not an access line"}
{"level":"info","ts":1764547290,"status":200,
"""


def test_json_logs_are_sniffed_with_their_preset(tmp_path: Path) -> None:
    log = tmp_path / "caddy.log.gz"
    log.write_bytes(gzip.compress(CADDY))
    for source, stdin in ((str(log), None), ("-", CADDY)):
        report = backtest_json(
            source, "--target", "0.9", "--window", "1d", "--latency-threshold", "0.5", stdin=stdin
        )
        counted = report["log"]
        assert (counted["events"], counted["bad_events"], counted["malformed"]) == (3, 2, 2)
        assert [e["line"] for e in counted["malformed_examples"]] == [4, 5]
    envoy = tmp_path / "envoy.log"
    envoy.write_text(
        '{"start_time":"2025-12-01T00:00:10.000Z","response_code":200,"duration":400}\n'
        '{"start_time":"2025-12-01T00:00:20.000Z","response_code":200,"duration":600}\n'
    )
    report = backtest_json(str(envoy), "--target", "0.9", "--latency-threshold", "0.5")
    assert report["log"]["bad_events"] == 1, "envoy writes milliseconds"
    named = tmp_path / "app.log"
    named.write_text(
        '{"at":"2025-12-01T00:00:10Z","http":{"code":503}}\n{"at":"2025-12-01T00:00:20Z","http":{"code":201}}\n'
    )
    args = ("--target", "0.9", "--timestamp-column", "at", "--status-column", "http.code")
    assert backtest_json(str(named), *args)["log"]["bad_events"] == 1
    code, _, err = run(str(named), "--target", "0.9", "--status-column", "http.status")
    assert (
        code == 2
        and "status_column must name a field of the first line (at, http.code); got http.status" in err
    )


def test_apache_request_times_in_microseconds(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(
        '10.0.0.1 - - [01/Dec/2025:00:00:01 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" 600000\n'
        '10.0.0.1 - - [01/Dec/2025:00:00:02 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" 400000\n'
    )
    args = (str(log), "--target", "0.9", "--latency-threshold", "0.5")
    assert backtest_json(*args, "--latency-unit", "us")["log"]["bad_events"] == 1
    assert backtest_json(*args)["log"]["malformed"] == 0
    code, _, err = run(*args, "--preset", "caddy")
    assert code == 2 and "--preset names a JSON log's server, but the log is combined" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("missing.csv", "--target", "0.9"), "cannot read missing.csv"),
        (("--sample", "--slo-name", "nope"), "has no SLO 'nope'; it has shop-availability"),
        (("{log}",), "give --slo SPEC, or --target in (0, 1); got None"),
        (("{log}", "--target", "1.5"), "got 1.5"),
        (("{log}", "--target", "0.9", "--step", "0s"), "--step"),
        (("{log}", "--target", "0.9", "--incidents", "{log}"), "line 1: must be start,end times"),
        (("{empty}", "--target", "0.9"), "the log holds no request"),
        ((), "give a LOG to replay, or --sample"),
    ],
)
def test_bad_input_is_a_one_line_error(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    log = tmp_path / "log.csv"
    log.write_bytes(CSV)
    empty = tmp_path / "empty.csv"
    empty.write_text("timestamp,status\n")
    code, out, err = run(*(a.format(log=log, empty=empty) for a in args))
    assert code == 2 and out == ""
    if err.startswith("Usage:"):  # click's own usage errors end with the one line that matters
        err = err.strip().splitlines()[-1] + "\n"
    assert message in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_the_sample_is_what_its_generator_writes(tmp_path: Path) -> None:
    """The bundled files are reproducible from scripts/make_samples.py."""
    script = Path(__file__).parent.parent / "scripts" / "make_samples.py"
    source = script.read_text().replace(
        'OUT = Path(__file__).resolve().parent.parent / "python" / "burnguard" / "cli" / "samples"',
        f"OUT = Path({str(tmp_path)!r})",
    )
    assert str(tmp_path) in source
    copy = tmp_path / "make_samples.py"
    copy.write_text(source)
    subprocess.run([sys.executable, str(copy)], check=True, capture_output=True)
    for name in ("access.csv.gz", "incidents.csv", "slo.yaml", "billing.csv.gz", "budgets.yaml"):
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes(), name


def test_the_html_report_is_one_self_contained_page(tmp_path: Path) -> None:
    import re
    import xml.etree.ElementTree as ET

    page = tmp_path / "report.html"
    report = backtest_json("--sample", "--html", str(page))
    text = page.read_text()
    assert (
        text.startswith("<!DOCTYPE html>") and "<title>burnguard backtest: shop-availability</title>" in text
    )
    assert not re.search(r"(src|href)=|url\(|@import|<script", text), "nothing loaded from anywhere"
    svg = ET.fromstring(re.search(r"<svg.*?</svg>", text, re.S).group(0))  # type: ignore[union-attr]
    ns = "{http://www.w3.org/2000/svg}"
    assert len(svg.findall(f"{ns}polyline")) == 4, "one burn-rate series per Workbook policy"
    assert len(svg.findall(f"{ns}line")) == 4, "and its threshold"
    spans = [r.get("class") for r in svg.findall(f"{ns}rect")]
    assert spans.count("alert") == len(report["alerts"]) == 3 and spans.count("incident") == 2
    assert "28.7x" in text and "6 multiwindow" in text and "2025-12-03 10:22 UTC" in text
    code, _, err = run("--sample", "--html", str(tmp_path / "missing" / "r.html"))
    assert code == 2 and "cannot write" in err
