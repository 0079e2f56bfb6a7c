"""The ``burnguard`` command's commands (click, with rich output on the terminal)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
import yaml
from rich.console import Console
from rich.table import Table

from burnguard.cli.rules import RuleOptions, alert_name, alert_rules_by_severity, recorded_windows, rule_file
from burnguard.cli.ruletests import rule_test
from burnguard.cli.specs import RuleSLO, SpecError, format_duration, load_specs, parse_duration

_EXAMPLES = """
\b
Examples:
  burnguard rules slos.yaml -o slo-rules.yml
  burnguard rules slos.yaml -o slo-rules.yml --tests slo-rules.test.yml
  promtool test rules slo-rules.test.yml
  burnguard rules sloth.yaml --period 28d --for 2m --per-policy
"""


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings (PromQL) as literal blocks, as rule files are written by hand."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _string)


def _dump(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=10_000)


def _fail(message: str) -> NoReturn:
    """One line on stderr and exit code 2: the input was wrong."""
    click.echo(f"burnguard: error: {message}", err=True)
    sys.exit(2)


def _read_specs(source: str, period_seconds: int) -> list[RuleSLO]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as error:
        _fail(f"cannot read {source}: {error.strerror}")
    try:
        return load_specs(yaml.safe_load_all(text), period_seconds=period_seconds)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        _fail(f"{source} is not valid YAML{where}: {getattr(error, 'problem', error)}")
    except SpecError as error:
        _fail(f"{source}: {error}")


def _duration(_ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_duration(value, f"--{param.name}")
    except SpecError as error:
        raise click.BadParameter(str(error).split(": ", 1)[1]) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="burnguard")
def cli() -> None:
    """burnguard: SLO error budgets, burn-rate alerts and spend safeguards."""


@cli.command(epilog=_EXAMPLES)
@click.argument("spec")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Rule file to write (default: stdout).")
@click.option(
    "--tests", type=click.Path(dir_okay=False), help="Also write a `promtool test rules` file (needs -o)."
)
@click.option("--period", default="30d", callback=_duration, help="Period of Sloth specs, which state none.")
@click.option("--per-policy", is_flag=True, help="One alert per burn-rate policy, not one per severity.")
@click.option("--for", "hold", default=None, callback=_duration, help="The alerts' for: duration.")
@click.option(
    "--min-rate", type=click.FloatRange(min=0), default=0.0, help="Alert only above this many events/s."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of a table.")
def rules(
    spec: str,
    output: str | None,
    tests: str | None,
    period: int,
    per_policy: bool,
    hold: int | None,
    min_rate: float,
    as_json: bool,
) -> None:
    """Prometheus recording and alerting rules from an SLO SPEC (a file, or - for stdin).

    Reads Sloth (prometheus/v1, or the PrometheusServiceLevel resource), OpenSLO (v1, v1alpha)
    and burnguard/v1 specs. Rule and label names are Sloth's, so its Grafana dashboards work;
    alerts compare with >= where Sloth writes >.
    """
    slos = _read_specs(spec, period)
    options = RuleOptions(per_policy=per_policy, hold_seconds=hold or 0, min_events_per_second=min_rate)
    if tests and not output:
        _fail("--tests needs -o: the test file names the rule file it tests")
    try:
        document = rule_file(slos, options)
        test_document = None
        if tests:
            assert output is not None
            relative = os.path.relpath(Path(output).resolve(), Path(tests).resolve().parent)
            test_document = {
                "rule_files": [relative],
                "evaluation_interval": None,
                "group_eval_order": [],
                "tests": [],
            }
            for slo in slos:
                one = rule_test(slo, relative, options)
                test_document["evaluation_interval"] = (
                    test_document["evaluation_interval"] or one["evaluation_interval"]
                )
                if one["evaluation_interval"] != test_document["evaluation_interval"]:
                    _fail(
                        "the SLOs' synthetic tests need different evaluation steps: "
                        "write their tests one spec at a time"
                    )
                test_document["group_eval_order"] += one["group_eval_order"]
                test_document["tests"] += one["tests"]
    except SpecError as error:
        _fail(str(error))
    text = _dump(document)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        if test_document is not None and tests:
            Path(tests).write_text(_dump(test_document), encoding="utf-8")
    else:
        click.echo(text, nl=False)
    summary: list[dict[str, Any]] = [
        {
            "id": slo.id,
            "objective": slo.objective,
            "period": format_duration(slo.period_seconds),
            "windows": [format_duration(w) for w in recorded_windows(slo)],
            "alerts": [
                {"name": alert_name(slo), "severity": severity, "policies": len(policies), **extra}
                for severity, extra, policies in alert_rules_by_severity(slo, options)
            ],
        }
        for slo in slos
    ]
    if as_json:
        report = {"rules_file": output, "tests_file": tests, "slos": summary}
        click.echo(json.dumps(report, indent=2), err=output is None)
    elif output:
        table = Table(title=f"{len(slos)} SLO(s) → {output}")
        for column in ("SLO", "objective", "period", "alerts"):
            table.add_column(column)
        for row in summary:
            alerts = ", ".join(f"{a['severity']} ({a['policies']})" for a in row["alerts"]) or "none"
            table.add_row(row["id"], f"{row['objective']:.4%}", row["period"], alerts)
        Console(stderr=True).print(table)
