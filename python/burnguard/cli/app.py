"""The ``burnguard`` command's commands (click, with rich output on the terminal)."""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click
import yaml
from rich.console import Console
from rich.table import Table

from burnguard.cli import backtest as bt
from burnguard.cli.formats import ratio, span, when
from burnguard.cli.rules import RuleOptions, alert_name, alert_rules_by_severity, recorded_windows, rule_file
from burnguard.cli.ruletests import rule_test
from burnguard.cli.specs import RuleSLO, SpecError, format_duration, load_specs, parse_duration
from burnguard.slo import BurnRatePolicy

_EXAMPLES = """
\b
Examples:
  burnguard rules slos.yaml -o slo-rules.yml
  burnguard rules slos.yaml -o slo-rules.yml --tests slo-rules.test.yml
  promtool test rules slo-rules.test.yml
  burnguard rules sloth.yaml --period 28d --for 2m --per-policy
  burnguard rules slos.yaml -o slo-rules.yml --grafana slo-dashboard.json
"""
_DASHBOARD_EXAMPLES = """
\b
Examples:
  burnguard dashboard slos.yaml --shared app          # the app runs with BURNGUARD_SHARED=app
  burnguard dashboard --shared app --port 8080 --token-env DASHBOARD_TOKEN
  burnguard dashboard slos.yaml --shared app --json   # the panels once, for scripts
"""
_SERVE_EXAMPLES = """
\b
Examples:
  burnguard serve --dev                      # prints CYCLES_BASE_URL, CYCLES_API_KEY, CYCLES_TENANT
  burnguard serve --config budgets.toml --port 7878
"""
_BACKTEST_EXAMPLES = """
\b
Examples:
  burnguard backtest --sample
  burnguard backtest access.log.gz --slo slos.yaml --incidents incidents.csv
  zcat access.csv.gz | burnguard backtest - --target 0.999 --window 30d --json
  burnguard backtest caddy.log --target 0.999 --latency-threshold 0.3
  burnguard backtest apache.log --target 0.99 --latency-threshold 0.5 --latency-unit us
"""
_SPEND_EXAMPLES = """
\b
Examples:
  burnguard spend --sample
  burnguard spend cur.csv.gz --budgets budgets.yaml --by account --by service
  burnguard spend export.csv --date-column day --cost-column usd --by team --json
  burnguard spend cur.csv.gz --budgets budgets.yaml --fail-on breached --fail-on forecast
"""
SAMPLES = Path(__file__).parent / "samples"
_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


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


def _stop_on_sigterm(stop: Callable[[], None]) -> None:
    """Makes SIGTERM stop a server (requests in flight finish): before it says it is ready, so
    a supervisor's SIGTERM right after is a graceful stop too."""
    signal.signal(signal.SIGTERM, lambda *_: stop())


def _run_until_stopped(
    running: Callable[[], bool], stop: Callable[[], None], every_second: Callable[[], None] | None = None
) -> None:
    """Waits while a server runs (see ``_stop_on_sigterm``), calling ``every_second`` about
    once a second (a failure is reported once until it succeeds again); Ctrl-C stops it too."""
    try:
        ticks, failing = 0, False
        while running():
            time.sleep(0.2)
            ticks += 1
            if every_second is not None and ticks % 5 == 0:
                try:
                    every_second()
                    failing = False
                except OSError as error:  # Redis unreachable, say: the next second retries
                    if not failing:
                        click.echo(f"burnguard: {error} (retried each second)", err=True)
                    failing = True
    except KeyboardInterrupt:
        stop()


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
@click.option(
    "--grafana", type=click.Path(dir_okay=False), help="Also write a Grafana dashboard (JSON) for the SLOs."
)
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
    grafana: str | None,
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
    if not math.isfinite(min_rate):
        _fail(f"--min-rate must be a finite number of events a second; got {min_rate}")
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
    if grafana:
        from burnguard.cli.grafana import dashboard

        try:
            Path(grafana).write_text(json.dumps(dashboard(slos), indent=2) + "\n", encoding="utf-8")
        except OSError as error:
            _fail(f"cannot write {grafana}: {error.strerror}")
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
        report = {"rules_file": output, "tests_file": tests, "dashboard_file": grafana, "slos": summary}
        click.echo(json.dumps(report, indent=2), err=output is None)
    elif output:
        table = Table(title=f"{len(slos)} SLO(s) → {output}")
        for column in ("SLO", "objective", "period", "alerts"):
            table.add_column(column)
        for row in summary:
            alerts = ", ".join(f"{a['severity']} ({a['policies']})" for a in row["alerts"]) or "none"
            table.add_row(row["id"], f"{row['objective']:.4%}", row["period"], alerts)
        Console(stderr=True).print(table)


@cli.command(epilog=_BACKTEST_EXAMPLES)
@click.argument("log", required=False)
@click.option("--sample", is_flag=True, help="Use the bundled sample log, SLO and incidents.")
@click.option("--slo", "spec", help="SLO spec (any format `rules` reads); its first SLO unless --slo-name.")
@click.option("--slo-name", help="The id (service-name) of the spec's SLO to use.")
@click.option("--target", type=float, help="Target success ratio, without --slo (e.g. 0.999).")
@click.option("--window", default="30d", callback=_duration, help="The SLO period, without --slo.")
@click.option(
    "--format",
    "layout",
    type=click.Choice(["auto", "csv", "json", "combined"]),
    default="auto",
    help="The log's format (auto: sniffed from the first line).",
)
@click.option(
    "--preset",
    type=click.Choice(["nginx", "caddy", "traefik", "envoy", "gcp"]),
    help="A JSON log's server, for its field names and latency unit (default: detected).",
)
@click.option(
    "--latency-unit",
    type=click.Choice(["s", "ms", "us", "ns"]),
    help="Unit of bare latency numbers (default: s, or the preset's; us for Apache's %D).",
)
@click.option("--step", default="1m", callback=_duration, help="Evaluation step.")
@click.option("--incidents", help="CSV of start,end times of known incidents (default: derived).")
@click.option("--latency-threshold", type=float, help="Slower requests (seconds) are bad: a latency SLO.")
@click.option("--timestamp-column", help="CSV column or JSON field (a.b.c) of the time.")
@click.option("--status-column", help="CSV column or JSON field of the HTTP status (>= 500 is bad).")
@click.option("--ok-column", help="CSV column or JSON field of a success flag, without a status.")
@click.option("--latency-column", help="CSV column or JSON field of the latency.")
@click.option("--strict", is_flag=True, help="Fail at the first malformed line instead of skipping it.")
@click.option("--json", "as_json", is_flag=True, help="Print everything found as JSON.")
@click.option(
    "--html", "html_path", type=click.Path(dir_okay=False), help="Also write a self-contained HTML report."
)
def backtest(
    log: str | None,
    sample: bool,
    spec: str | None,
    slo_name: str | None,
    target: float | None,
    window: int,
    layout: str,
    preset: str | None,
    latency_unit: str | None,
    step: int,
    incidents: str | None,
    latency_threshold: float | None,
    timestamp_column: str | None,
    status_column: str | None,
    ok_column: str | None,
    latency_column: str | None,
    strict: bool,
    as_json: bool,
    html_path: str | None,
) -> None:
    """Replay an access LOG (a file, gzip or not, or - for stdin) through an SLO's alert policies
    and the SRE Workbook's six alerting approaches, and score each against incidents.

    Logs: CSV with a header (timestamp, status or ok, latency), JSON lines (nginx, Caddy,
    Traefik, Envoy and Google Cloud presets, or named fields) or nginx/Apache combined format
    with the request time last."""
    if sample:
        log = log or str(SAMPLES / "access.csv.gz")
        spec = spec or str(SAMPLES / "slo.yaml")
        incidents = incidents or str(SAMPLES / "incidents.csv")
    if log is None:
        _fail("give a LOG to replay, or --sample")
    if log != "-" and not Path(log).is_file():
        _fail(f"cannot read {log}: No such file")
    if spec is not None:
        slos = _read_specs(spec, window)
        chosen = [s for s in slos if slo_name in (None, s.id)]
        if not chosen:
            _fail(f"{spec} has no SLO {slo_name!r}; it has {', '.join(s.id for s in slos)}")
        slo = chosen[0]
        target, period, policies, name = slo.objective, slo.period_seconds, slo.policies, slo.id
    elif target is None or not 0 < target < 1:
        _fail(f"give --slo SPEC, or --target in (0, 1); got {target}")
    else:
        period, name = window, f"target {target}"
        policies = BurnRatePolicy.workbook(period)
    columns = {
        "timestamp_column": timestamp_column,
        "status_column": status_column,
        "ok_column": ok_column,
        "latency_column": latency_column,
    }
    unit = _UNITS[latency_unit] if latency_unit else None

    def read(progress: Any) -> bt.LogCounts:
        assert log is not None
        return bt.read_log(
            log,
            layout=layout,
            step_seconds=step,
            latency_threshold=latency_threshold,
            strict=strict,
            columns=columns,
            preset=preset,
            latency_unit=unit,
            progress=progress,
        )

    try:
        counts = _with_progress(log, read, as_json)
        replay = bt.Replay(counts, target, period)
        found = (
            replay.incidents_from(bt.read_incidents(incidents)) if incidents else replay.derived_incidents()
        )
    except (ValueError, OSError, EOFError) as error:
        _fail(str(error))
    result = {
        "slo": name,
        "target": target,
        "period_seconds": period,
        **bt.report(replay, policies, found, period),
    }
    result["incidents_from"] = Path(incidents).name if incidents else "derived from the log"
    if html_path:
        from burnguard.cli.html_report import render

        try:
            Path(html_path).write_text(render(replay, policies, result), encoding="utf-8")
        except OSError as error:
            _fail(f"cannot write {html_path}: {error.strerror}")
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    _print_backtest(result)


def _print_backtest(result: dict[str, Any]) -> None:
    console = Console()
    log = result["log"]
    console.print(
        f"[bold]{result['slo']}[/bold]: {log['lines']:,} requests ({log['bad_events']:,} bad) from "
        f"{when(log['start'])} to {when(log['end'])}, replayed every {span(log['step_seconds'])}; "
        f"target {result['target']:.3%} over {span(result['period_seconds'])}"
    )
    if log["malformed"]:
        console.print(f"[yellow]{log['malformed']:,} malformed lines skipped[/yellow], the first:")
        for example in log["malformed_examples"]:
            console.print(f"  line {example['line']}: {example['text']}")
    alerts = Table(title="Alerts of the SLO's policies")
    for column in ("severity", "fired", "resolved", "peak burn", "budget used"):
        alerts.add_column(column)
    for a in result["alerts"]:
        alerts.add_row(
            a["severity"],
            when(a["fired_at"]),
            when(a["resolved_at"]),
            f"{a['peak_burn_rate']:.1f}x",
            f"{a['budget_consumed_at_fire']:.0%}",
        )
    console.print(alerts)
    incidents = Table(title=f"Incidents ({result['incidents_from']})")
    for column in ("start", "end", "budget spent"):
        incidents.add_column(column)
    for i in result["incidents"]:
        incidents.add_row(when(i["start"]), when(i["end"]), f"{i['budget_spent']:.1%}")
    console.print(incidents)
    scores = Table(
        title="The SRE Workbook's approaches on this log",
        caption="detect: incident start to alert; reset: incident end to resolution; "
        "spent: budget spent before detection",
    )
    for column in ("approach", "alerts", "precision", "recall", "detect", "reset", "spent", "/week"):
        scores.add_column(column)
    for s in result["approaches"]:
        spent = s["mean_budget_spent_before_detection"]
        scores.add_row(
            s["approach"],
            str(s["alerts"]),
            ratio(s["precision"]),
            ratio(s["recall"]),
            span(s["mean_detection_seconds"]),
            span(s["mean_reset_seconds"]),
            "-" if spent is None else f"{spent:.1%}",
            f"{s['alerts_per_week']:.1f}",
        )
    console.print(scores)


@cli.command(epilog=_DASHBOARD_EXAMPLES)
@click.argument("spec", required=False)
@click.option("--shared", "arena", required=True, help="The app's arena (its shared= or BURNGUARD_SHARED).")
@click.option("--routes", default="routes", show_default=True, help="The app's route table name.")
@click.option("--no-routes", is_flag=True, help="Show no route table.")
@click.option("--max-routes", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--retain", default="30d", callback=_duration, help="The route table's retain_seconds.")
@click.option("--host", default="127.0.0.1", show_default=True, help="The interface to serve on.")
@click.option("--port", type=click.IntRange(0, 65535), default=7777, show_default=True)
@click.option("--token-env", help="An environment variable holding an access token to require.")
@click.option("--refresh", type=click.FloatRange(0.5, 3600), default=5.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the panels once as JSON and exit.")
def dashboard(
    spec: str | None,
    arena: str,
    routes: str,
    no_routes: bool,
    max_routes: int,
    retain: int,
    host: str,
    port: int,
    token_env: str | None,
    refresh: float,
    as_json: bool,
) -> None:
    """Serve the live dashboard of an app's shared-memory arena: the SLOs a burnguard/v1 SPEC
    names (sli: {slo: NAME}) and the app's route table, as every worker of the host records
    them. Runs until interrupted."""
    from burnguard.cli.live import open_sources
    from burnguard.dashboard import Dashboard

    slos = _read_specs(spec, 30 * 86400) if spec else []
    token = None
    if token_env:
        token = os.environ.get(token_env)
        if not token:
            _fail(f"--token-env {token_env}: the variable is not set")
    try:
        found = open_sources(
            slos, arena, routes=None if no_routes else routes, max_routes=max_routes, retain_seconds=retain
        )
        board = Dashboard(
            slos=found.trackers,
            routes=found.routes,
            host=host,
            port=port,
            token=token,
            refresh_seconds=refresh,
        )
    except (SpecError, ValueError, OSError) as error:
        _fail(str(error))
    for skipped in found.skipped:
        click.echo(f"burnguard: {skipped} reads no app SLO (sli: {{slo: NAME}}); not shown", err=True)
    if as_json:
        click.echo(json.dumps(board.data(), indent=2))
        return
    try:
        board.start()
    except OSError as error:
        _fail(f"cannot serve on {host}:{port}: {error.strerror}")
    _stop_on_sigterm(board.stop)
    click.echo(board.url, nl=True)
    _run_until_stopped(lambda: board.running, board.stop)


@cli.command(epilog=_SERVE_EXAMPLES)
@click.option("--dev", is_flag=True, help="Serve a tenant 'dev' with a fresh key and budgets; print them.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Tenants and budgets (TOML).")
@click.option("--host", default="127.0.0.1", show_default=True, help="The interface to serve on.")
@click.option("--port", type=click.IntRange(0, 65535), default=7878, show_default=True)
@click.option("--threads", type=click.IntRange(1, 4096), default=64, show_default=True)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    help="Keep budgets and reservations here: every answered change is synced to disk first.",
)
@click.option(
    "--redis",
    "redis_url",
    help="Keep budgets and reservations in this Redis (redis://, rediss://, unix://), shared by every "
    "server given it: one budget for many servers.",
)
@click.option(
    "--redis-namespace", default="burnguard", show_default=True, help="The prefix of the Redis keys."
)
@click.option(
    "--ledger", "ledger_name", default="cycles", show_default=True, help="The ledger's name in Redis."
)
@click.option(
    "--rate-limit",
    type=click.IntRange(1, None),
    help="At most this many runtime requests a second per tenant (429 LIMIT_EXCEEDED past it).",
)
@click.option("--json", "as_json", is_flag=True, help="Print where it serves (and --dev's key) as JSON.")
def serve(
    dev: bool,
    config_path: str | None,
    host: str,
    port: int,
    threads: int,
    data_dir: str | None,
    redis_url: str | None,
    redis_namespace: str,
    ledger_name: str,
    rate_limit: int | None,
    as_json: bool,
) -> None:
    """Serve the Cycles budget protocol (reservations, commits, releases, extensions, decide,
    events, balances) for the runcycles client and any other: in memory, durable in
    --data-dir, or on Redis (--redis), where every server given the same Redis shares the
    budgets. With ADMIN_API_KEY set, its bearer may provision tenants, keys and budgets
    (/v1/admin/...) and read /metrics.
    Runs until interrupted."""
    from burnguard import _native
    from burnguard.cli import serve as cycles

    if dev and config_path:
        _fail("give --dev or --config FILE, not both")
    if redis_url and data_dir:
        _fail("give --data-dir or --redis, not both (Redis keeps the data; run it with appendonly yes)")
    if not (dev or config_path or os.environ.get("ADMIN_API_KEY")):
        _fail("give --dev, --config FILE, or ADMIN_API_KEY to provision through the admin API")
    secret = None
    try:
        if dev:
            provision, secret = cycles.dev()
        else:
            provision = cycles.load(str(config_path)) if config_path else cycles.Provision()
        fleet = cycles.fleet(redis_url, redis_namespace, ledger_name) if redis_url else None
        server = _native.CyclesServer(
            host,
            port,
            threads=threads,
            data_dir=data_dir,
            sequencer=None if fleet is None else fleet[1],
            rate_limit=rate_limit,
            provisioned=None if fleet is None else fleet[2],
        )
        link = None if fleet is None else fleet[0].attach_ledger(server, fleet[1])
    except (cycles.ConfigError, OSError, ValueError, ImportError) as error:
        _fail(str(error))
    try:
        provision.apply(server)
        if admin_key := os.environ.get("ADMIN_API_KEY"):
            server.set_admin_key(admin_key)
    except ValueError as error:
        server.stop()
        _fail(f"{config_path}: {error}")
    _stop_on_sigterm(server.stop)
    url = f"http://{host}:{server.port}"
    info: dict[str, Any] = {"url": url, "persistence": data_dir or (redis_url and "redis") or "memory"}
    if secret is not None:
        info.update(tenant=cycles.DEV_TENANT, api_key=secret, budget=cycles.DEV_BUDGET)
    if as_json:
        click.echo(json.dumps(info))
    else:
        where = (
            f"durable in {data_dir}"
            if data_dir
            else f"on Redis, ledger {ledger_name!r}"
            if redis_url
            else "in memory only (a restart loses it)"
        )
        click.echo(f"burnguard serve: Cycles protocol on {url}; {where}")
        if secret is not None:
            click.echo(f"CYCLES_BASE_URL={url} CYCLES_API_KEY={secret} CYCLES_TENANT={cycles.DEV_TENANT}")
    sys.stdout.flush()
    _run_until_stopped(lambda: server.running, server.stop, server.refresh_provisioned if fleet else None)
    del link  # kept up (swept, compacted) while serving


@cli.command(epilog=_SPEND_EXAMPLES)
@click.argument("export", required=False)
@click.option("--sample", is_flag=True, help="Use the bundled sample export and budgets.")
@click.option("--budgets", "budgets_path", help="YAML of monthly budgets by group (see the README).")
@click.option(
    "--preset",
    type=click.Choice(["auto", "aws", "aws-cur2", "gcp", "azure", "focus"]),
    default="auto",
    help="The export's column layout (auto: detected from the header).",
)
@click.option("--date-column", help="The usage date column (overrides the preset's).")
@click.option("--cost-column", help="The cost column (overrides the preset's).")
@click.option(
    "--by",
    multiple=True,
    help="Group by account, service or any column; repeat for composite groups "
    "(default: account, if the layout has one).",
)
@click.option("--month", type=click.DateTime(["%Y-%m"]), help="Report month (default: the export's last).")
@click.option("--window", type=click.IntRange(min=2), default=14, show_default=True, help="Baseline days.")
@click.option(
    "--spike-multiplier", type=click.FloatRange(min=1, min_open=True), default=1.5, show_default=True
)
@click.option("--z-threshold", type=click.FloatRange(min=0, min_open=True), default=3.5, show_default=True)
@click.option(
    "--percentile", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.95, show_default=True
)
@click.option(
    "--spike-votes",
    type=click.IntRange(1, 3),
    default=3,
    show_default=True,
    help="How many of the mean, MAD and percentile checks must flag a day.",
)
@click.option(
    "--recent-days",
    type=click.IntRange(min=1),
    default=7,
    show_default=True,
    help="Days a burn check averages.",
)
@click.option("--hot-multiplier", type=click.FloatRange(min=1, min_open=True), default=1.4, show_default=True)
@click.option(
    "--min-baseline",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="A daily baseline under this counts as this much.",
)
@click.option(
    "--fail-on",
    multiple=True,
    type=click.Choice(["breached", "warning", "forecast", "spike", "hot"]),
    help="Exit 1 when the report finds this (repeatable).",
)
@click.option("--strict", is_flag=True, help="Fail at the first malformed row instead of skipping it.")
@click.option("--json", "as_json", is_flag=True, help="Print everything found as JSON.")
@click.option(
    "--html", "html_path", type=click.Path(dir_okay=False), help="Also write a self-contained HTML report."
)
def spend(
    export: str | None,
    sample: bool,
    budgets_path: str | None,
    preset: str,
    date_column: str | None,
    cost_column: str | None,
    by: tuple[str, ...],
    month: Any,
    window: int,
    spike_multiplier: float,
    z_threshold: float,
    percentile: float,
    spike_votes: int,
    recent_days: int,
    hot_multiplier: float,
    min_baseline: float,
    fail_on: tuple[str, ...],
    strict: bool,
    as_json: bool,
    html_path: str | None,
) -> None:
    """Budget, spike, burn and forecast checks over a billing EXPORT (a CSV file, gzip or not, or
    - for stdin), every group's daily spend in one batch.

    Reads AWS Cost and Usage Reports (legacy and CUR 2.0), GCP billing exports, Azure cost
    exports and FOCUS files, or any CSV with named date and cost columns."""
    from burnguard.cli import spend as sp
    from burnguard.cli.spend_report import print_report, render

    if sample:
        export = export or str(SAMPLES / "billing.csv.gz")
        budgets_path = budgets_path or str(SAMPLES / "budgets.yaml")
    if export is None:
        _fail("give an EXPORT to check, or --sample")
    if export != "-" and not Path(export).is_file():
        _fail(f"cannot read {export}: No such file")
    budgets = _read_budgets(budgets_path) if budgets_path else None
    options = sp.SpendOptions(
        month=month.date() if month else None,
        window=window,
        spike_multiplier=spike_multiplier,
        z_threshold=z_threshold,
        percentile=percentile,
        spike_votes=spike_votes,
        recent_days=recent_days,
        hot_multiplier=hot_multiplier,
        min_baseline=min_baseline,
    )

    def read(progress: Any) -> sp.DailySpend:
        assert export is not None
        return sp.read_export(
            export,
            by=list(by) or None,
            preset=None if preset == "auto" else preset,
            date_column=date_column,
            cost_column=cost_column,
            strict=strict,
            progress=progress,
        )

    try:
        daily = _with_progress(export, read, as_json)
        result = sp.report(daily, budgets, options)
    except (ValueError, OSError, EOFError) as error:
        _fail(str(error))
    if html_path:
        try:
            Path(html_path).write_text(render(result, daily), encoding="utf-8")
        except OSError as error:
            _fail(f"cannot write {html_path}: {error.strerror}")
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        print_report(result)
    statuses = {b["status"] for b in result["budgets"]}
    found = statuses | ({"spike"} if result["spikes"] else set()) | ({"hot"} if result["hot"] else set())
    if found & set(fail_on):
        sys.exit(1)


def _read_budgets(source: str) -> Any:
    from burnguard.cli.spend import parse_budgets

    try:
        document = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
        return parse_budgets(document, source)
    except OSError as error:
        _fail(f"cannot read {source}: {error.strerror}")
    except yaml.YAMLError as error:
        _fail(f"{source} is not valid YAML: {getattr(error, 'problem', error)}")
    except ValueError as error:
        _fail(str(error))


def _with_progress(source: str, read: Any, quiet: bool) -> Any:
    """``read(progress)``, with a progress bar on a terminal when ``source`` is a file."""
    if quiet or source == "-" or not sys.stderr.isatty():
        return read(None)
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(f"reading {Path(source).name}", total=Path(source).stat().st_size)
        return read(lambda n: progress.advance(task, n))
