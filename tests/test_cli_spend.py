"""`burnguard spend`: the bundled sample's known findings, each billing layout on small
hand-written fixtures (malformed rows included), the checks' edges, and bad input as one-line
errors."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from burnguard.cli.app import cli


def account(index: int) -> str:
    """The sample's account ids (scripts/make_samples.py)."""
    return f"{100_000_000_000 + index * 7_919:012d}"


def run(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["spend", *args], input=stdin)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def spend_json(*args: str, stdin: bytes | None = None) -> dict[str, Any]:
    code, out, err = run(*args, "--json", stdin=stdin)
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def test_the_sample_finds_its_spikes_breaches_and_hot_accounts() -> None:
    report = spend_json("--sample")
    export = report["export"]
    assert (export["rows"], export["malformed"], export["groups"]) == (30_456, 0, 300)
    assert (export["preset"], export["by"]) == ("aws", ["lineItem/UsageAccountId"])
    assert (export["first_day"], export["last_day"]) == ("2025-11-01", "2025-12-15")
    assert (report["month"], report["days_elapsed"], report["days_in_month"]) == ("2025-12", 15, 31)
    spikes = [(s["group"], s["day"], s["methods"]) for s in report["spikes"]]
    every = ["mean", "mad", "percentile"]
    assert spikes == [
        (account(17), "2025-12-09", every),
        (account(42), "2025-12-12", every),
        (account(101), "2025-12-14", every),
    ]
    # Account 55 runs 1.45x from December 9th; account 17's last week holds its spike.
    assert [h["group"] for h in report["hot"]] == [account(17), account(55)]
    assert 1.4 <= report["hot"][1]["burn_rate_ratio"] < 1.5
    budgets = [
        (b["group"], b["status"], b.get("breached_on") or b.get("forecast_breach_on"))
        for b in report["budgets"]
    ]
    assert budgets[:3] == [
        (account(7), "breached", "2025-12-12"),
        (account(9), "warning", "2025-12-18"),
        (account(3), "forecast", "2025-12-25"),
    ]
    assert {status for _, status, _ in budgets[3:]} == {"ok"} and len(budgets) == 300
    assert report["budgets_not_in_export"] == ["999999999999"]
    breached = report["budgets"][0]
    assert breached["budget"] == 1150 and breached["usage_ratio"] == breached["month_to_date"] / 1150
    assert breached["forecast_total"] == pytest.approx(breached["month_to_date"] / 15 * 31)
    assert report["month_to_date"] == pytest.approx(sum(t["month_to_date"] for t in report["budgets"]))


def test_the_table_output_and_fail_on() -> None:
    code, out, _ = run("--sample")
    assert code == 0
    assert "breached" in out and "2025-12-25" in out and account(101) in out
    assert run("--sample", "--fail-on", "breached")[0] == 1
    assert run("--sample", "--month", "2025-11", "--fail-on", "spike", "--fail-on", "forecast")[0] == 0


def test_an_earlier_month_is_a_whole_month() -> None:
    report = spend_json("--sample", "--month", "2025-11")
    assert (report["month"], report["days_elapsed"], report["days_in_month"]) == ("2025-11", 30, 30)
    assert report["spikes"] == []
    assert all(b["status"] in ("ok", "breached") for b in report["budgets"])


AWS_CUR2 = """\
line_item_usage_start_date,line_item_usage_account_id,line_item_product_code,line_item_unblended_cost
2025-12-01 00:00:00.000,111,AmazonEC2,10.5
2025-12-01 01:00:00.000,111,AmazonEC2,0.5
2025-12-02 00:00:00.000,111,AmazonS3,2
2025-12-02 00:00:00.000,222,AmazonS3,3
2025-12-xx 00:00:00.000,222,AmazonS3,3
"""
GCP = """\
billing_account_id,service.description,sku.description,usage_start_time,cost,currency,project.id
X,Compute Engine,"N1 Predefined Instance Core, Americas",2025-12-01 00:00:00 UTC,4.25,USD,web-prod
X,Cloud Storage,Standard Storage,2025-12-02 00:00:00 UTC,1.75,USD,web-prod
X,BigQuery,Analysis,2025-12-02 00:00:00 UTC,seven,USD,data
X,BigQuery,Analysis,2025-12-02 00:00:00 UTC,7,USD,data
"""
AZURE = """\
\ufeffSubscriptionId,SubscriptionName,Date,MeterCategory,CostInBillingCurrency,BillingCurrency
sub-1,Prod,12/01/2025,Virtual Machines,8,EUR
sub-1,Prod,12/02/2025,Storage,1,EUR
sub-2,Dev,12/02/2025,Virtual Machines,2.5,EUR
sub-2,Dev,31/12/2025,Virtual Machines,2.5,EUR
"""
FOCUS = """\
BilledCost,ChargePeriodStart,ChargePeriodEnd,ServiceName,SubAccountId
6,2025-12-01T00:00:00Z,2025-12-02T00:00:00Z,Amazon EC2,a-1
-1,2025-12-02T00:00:00Z,2025-12-03T00:00:00Z,Amazon EC2,a-1
4,2025-12-02T00:00:00Z,2025-12-03T00:00:00Z,Amazon S3,a-2
"""


@pytest.mark.parametrize(
    ("text", "preset", "totals", "bad_line", "services"),
    [
        (AWS_CUR2, "aws-cur2", {"111": 13.0, "222": 3.0}, 6, 2),
        (GCP, "gcp", {"web-prod": 6.0, "data": 7.0}, 4, 3),
        (AZURE, "azure", {"sub-1": 9.0, "sub-2": 2.5}, 5, 2),
        (FOCUS, "focus", {"a-1": 5.0, "a-2": 4.0}, None, 2),
    ],
)
def test_each_preset_by_account_and_service(
    tmp_path: Path, text: str, preset: str, totals: dict[str, float], bad_line: int | None, services: int
) -> None:
    export = tmp_path / "export.csv"
    export.write_text(text, encoding="utf-8")
    report = spend_json(str(export), "--month", "2025-12")
    assert report["export"]["preset"] == preset
    assert {t["group"]: t["month_to_date"] for t in report["top"]} == totals
    examples = report["export"]["malformed_examples"]
    assert [e["line"] for e in examples] == ([bad_line] if bad_line else [])
    explicit = spend_json(str(export), "--preset", preset, "--by", "service")
    assert explicit["export"]["groups"] == services
    assert sum(t["month_to_date"] for t in explicit["top"]) == pytest.approx(sum(totals.values()))


def test_named_columns_composite_groups_gzip_and_stdin(tmp_path: Path) -> None:
    text = "day,team,env,usd\n2025-12-01,core,prod,1.5\n2025-12-01,core,dev,1\n2025-12-02,core,prod,2\n"
    export = tmp_path / "export.csv.gz"
    export.write_bytes(gzip.compress(text.encode()))
    args = ("--date-column", "day", "--cost-column", "usd", "--by", "team", "--by", "env")
    report = spend_json(str(export), *args)
    assert report["export"]["preset"] is None and report["export"]["by"] == ["team", "env"]
    assert {t["group"]: t["month_to_date"] for t in report["top"]} == {"core / prod": 3.5, "core / dev": 1.0}
    assert spend_json("-", *args, stdin=text.encode()) == report


def days(*values: float, start: str = "2025-11-01") -> str:
    from datetime import date, timedelta

    first = date.fromisoformat(start)
    return "".join(f"{first + timedelta(days=i)},{v}\n" for i, v in enumerate(values))


def test_a_spike_needs_every_check_and_a_baseline(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    flat = [10.0, 10.2, 9.8] * 10
    header = "lineItem/UsageStartDate,lineItem/UnblendedCost\n"
    export.write_text(header + days(*flat, 30.0))
    report = spend_json(str(export), "--window", "14")
    (total,) = report["spikes"]
    assert (total["group"], total["day"], total["spend"]) == ("all", "2025-12-01", 30.0)
    assert total["ratio_to_mean"] == pytest.approx(30 / total["mean"])
    export.write_text(header + days(*flat, 14.0))  # 1.4x the mean: MAD and percentile only
    report = spend_json(str(export))
    assert report["spikes"] == []
    assert [s["methods"] for s in spend_json(str(export), "--spike-votes", "2")["spikes"]] == [
        ["mad", "percentile"]
    ]
    export.write_text(header + days(*([0.1] * 30), 0.9))  # 9x, but under the 1.0 baseline floor
    assert spend_json(str(export))["spikes"] == []
    assert len(spend_json(str(export), "--min-baseline", "0")["spikes"]) == 1


def test_credits_count_as_zero_in_the_checks(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text("lineItem/UsageStartDate,lineItem/UnblendedCost\n" + days(*([10.0] * 20), -50.0, 10.0))
    report = spend_json(str(export), "--month", "2025-11")
    assert report["month_to_date"] == 160.0 and report["spikes"] == [] and report["hot"] == []


def test_budgets_file(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "Date,SubscriptionId,CostInBillingCurrency\n"
        + "".join(
            f"12/{d:02d}/2025,{s},{c}\n" for d in range(1, 11) for s, c in (("a", 10), ("b", 5), ("c", 1))
        )
    )
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text(
        "warning_ratio: 0.5\ndefault: 1000\nbudgets:\n  a: 95\n  b: {limit: 100, warning_ratio: 0.4}\n"
    )
    report = spend_json(str(export), "--budgets", str(budgets))
    by_group = {b["group"]: b for b in report["budgets"]}
    assert (by_group["a"]["status"], by_group["a"]["breached_on"]) == ("breached", "2025-12-10")
    assert (by_group["b"]["status"], by_group["b"]["forecast_breach_on"]) == ("warning", "2025-12-20")
    assert by_group["b"]["forecast_total"] == 155.0
    assert (by_group["c"]["status"], by_group["c"]["budget"]) == ("ok", 1000.0)
    assert by_group["c"]["forecast_breach_on"] is None


def test_the_html_report_is_one_self_contained_page(tmp_path: Path) -> None:
    page = tmp_path / "spend.html"
    spend_json("--sample", "--html", str(page))
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert re.findall(r"(?:src|href)=", text) == [] and "<script" not in text
    assert text.count("<polyline") == 300
    assert text.count('class="spike"') == 3
    flagged = re.findall(r"<tr><td>(\d{12})</td>", text.split("<h2>Daily spend")[1])[:7]
    assert set(flagged) == {account(i) for i in (3, 7, 9, 17, 42, 55, 101)}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("missing.csv",), "cannot read missing.csv"),
        ((), "give an EXPORT to check, or --sample"),
        (("{plain}",), "date_column is needed: the header matches no preset"),
        (("{aws}", "--by", "region"), "by must be account, service or a column of the header"),
        (("{aws}", "--preset", "gcp"), "the header has none of the gcp preset's columns"),
        (("{aws}", "--month", "2024-01"), "--month 2024-01 is outside the export"),
        (("{aws}", "--strict"), "export line 3 is malformed; got 2025-12-32,1"),
        (("{empty}",), "is empty: it has no header row"),
        (("{header}",), "has no rows that parse (0 malformed)"),
        (("{aws}", "--budgets", "{bad_budgets}"), "budgets['x'] must be a budget > 0; got -1"),
        (("{aws}", "--budgets", "{plain}"), "must be a mapping with a budgets: entry"),
        (("{aws}", "--budgets", "missing.yaml"), "cannot read missing.yaml"),
        (("{aws}", "--window", "1"), "--window"),
    ],
)
def test_bad_input_is_a_one_line_error(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    files = {
        "plain": "when,amount\n2025-12-01,1\n",
        "aws": "lineItem/UsageStartDate,lineItem/UnblendedCost\n2025-12-01,1\n2025-12-32,1\n",
        "empty": "",
        "header": "lineItem/UsageStartDate,lineItem/UnblendedCost\n",
        "bad_budgets": "budgets:\n  x: -1\n",
    }
    paths = {}
    for name, text in files.items():
        paths[name] = tmp_path / f"{name}.csv"
        paths[name].write_text(text)
    code, out, err = run(*(a.format(**paths) for a in args))
    assert code == 2 and out == ""
    if err.startswith("Usage:"):
        err = err.strip().splitlines()[-1] + "\n"
    assert message in err and err.count("\n") == 1 and "Traceback" not in err, err
