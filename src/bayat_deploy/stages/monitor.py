"""`bayat-deploy monitor --env ENV --for DURATION`: watch a deployment's metrics against the same time before it.

Alerts go to the policy's notification routes as soon as a metric crosses a level (aggregated); a breached
rollback trigger rolls back when `rollback.automatic` is on. Writes `monitor-<env>.json` evidence and a
before/after chart, `.bayat/reports/monitor-<env>.svg`. Exit 0 when no metric went critical, 1 otherwise
(or when the error rate or latency had no data and `analysis.on_no_data` is `fail`), 2 for bad input.
"""

from __future__ import annotations

import argparse

from bayat_deploy import argtypes
from bayat_deploy.stages.deploy import add_environment

CORE = ("error_rate", "latency")  # a metric name starting with these is one the no-data policy covers


def configure(parser: argparse.ArgumentParser) -> None:
    add_environment(parser)
    parser.add_argument("--for", dest="duration", metavar="DURATION", type=argtypes.duration,
                        help="how long to watch after the deploy, e.g. 15m (default: the environment's "
                             "monitoring.duration); the same length before the deploy is the baseline")
    parser.add_argument("--deployed-at", metavar="TIME", type=argtypes.instant,
                        help="deploy time, ISO 8601 (e.g. 2026-03-01T02:15:00Z; without an offset: UTC); "
                             "default: when the latest successful deploy in the record finished")
    parser.add_argument("--interval", default=None, metavar="DURATION", type=argtypes.duration,
                        help="how often to query while watching; also the PromQL rate window and query step, so "
                             "make it at least twice the scrape interval (default 30s, or a quarter of a shorter watch)")
    parser.add_argument("--version", type=argtypes.version, help="version being watched (default: the record's latest successful deploy)")
    parser.set_defaults(handler=run)


def parse_time(text: str) -> float:
    """A time the record wrote (ISO 8601), as Unix seconds."""
    from bayat_deploy.gates.window import parse_instant

    return parse_instant(text).timestamp()


def deployed(session, environment: str, args) -> tuple[float, float, str]:
    """When the rollout began and finished, and the version to watch: from the flags (one moment), else the
    record's latest successful deploy."""
    from bayat_deploy.deploy.record import Record
    from bayat_deploy.deploy.state import open_store
    from bayat_deploy.errors import BadInput, BayatError

    try:
        entries = Record(open_store(session, environment)).attempts()
    except (BayatError, OSError):  # no readable record: the flags must say
        entries = []
    latest = next((e for e in reversed(entries) if e.action in ("deploy", "promote") and e.outcome == "succeeded"),
                  None)
    version = args.version or (latest.version if latest else "")
    if args.deployed_at:
        moment = args.deployed_at.timestamp()
        return moment, moment, version
    if latest is None:
        raise BadInput(f"no successful deployment of {environment} in the record; give --deployed-at TIME")
    finished = parse_time(latest.finished)
    return min(parse_time(latest.started or latest.finished), finished), finished, version


def run(args: argparse.Namespace) -> int:
    from bayat_deploy.errors import BadInput
    from bayat_deploy.gates import notify
    from bayat_deploy.gates.alerts_monitor import MonitorAlerts
    from bayat_deploy.gates.metrics import provider_for
    from bayat_deploy.gates.monitor import Windows, queries_for, watch, worst
    from bayat_deploy.policy.types import Duration
    from bayat_deploy.session import open_session
    from bayat_deploy.stages.run import StageRun

    session = open_session(args)
    env = session.policy.environment(args.environment)
    duration = args.duration or env.monitoring.duration.seconds
    # A short watch still gets a few looks: 30 s, or a quarter of the watch (at least 5 s) when shorter.
    interval = args.interval or min(30.0, max(5.0, duration / 4))
    if interval > duration:
        raise BadInput(f"--interval ({Duration(interval)}) is longer than the watch (--for {Duration(duration)})")
    queries = queries_for(session.policy, args.environment, interval)
    started, deployed_at, version = deployed(session, args.environment, args)
    windows = Windows(started, deployed_at, duration, interval)
    stage = StageRun(session, "monitor", environment=args.environment, version=version or None,
                     inputs={"for_seconds": duration, "interval_seconds": interval, "deployed_at": deployed_at})
    observer = MonitorAlerts(session, args.environment, version, windows)
    print(f"monitoring {args.environment} for {duration:g}s after {version or 'the deploy'} "
          f"(deployed {_iso(deployed_at)}), every {interval:g}s, against the {duration:g}s before", flush=True)
    monitoring = env.monitoring
    comparisons = watch(provider_for(session), queries, windows, warning=monitoring.warning_change.fraction,
                        critical=monitoring.critical_change.fraction, observe=observer)
    summaries = notify.flush(session, args.environment, force=True)
    if summaries:
        observer.alerts.append({"metric": None, "level": None, "reason": "aggregation summaries at the end",
                                "deliveries": [d.to_dict() for d in summaries]})

    chart = write_chart(session, args.environment, version, comparisons, windows, observer)
    stage.artifact(type="chart", name=f"monitor-{args.environment}.svg", path=str(chart))
    rows = []
    for comparison in comparisons:
        rows.append({**comparison.to_dict(), "peak_level": observer.peak.get(comparison.query.name,
                                                                             comparison.level)})
    no_data_fails = env.analysis.on_no_data == "fail"
    failing = []
    for row, comparison in zip(rows, comparisons):
        core = row["metric"].startswith(CORE)
        if row["peak_level"] == "critical":
            failing.append(f"{comparison.query.label}: {comparison.reason}")
        elif row["level"] == "no-data" and core and no_data_fails:
            failing.append(f"{comparison.query.label}: {comparison.reason} (analysis.on_no_data: fail)")
        if row["peak_level"] in ("warning", "critical") or (row["level"] == "no-data" and core):
            stage.finding(id=f"monitor-{row['metric']}", severity="HIGH" if row["peak_level"] == "critical"
                          else "MEDIUM", tool="monitor", title=f"{comparison.query.label}: {row['peak_level']}",
                          detail=comparison.reason, blocking=row["peak_level"] == "critical")
    failed_deliveries = [d for alert in observer.alerts for d in alert["deliveries"] if d["status"] == "failed"]
    for delivery in failed_deliveries:
        stage.finding(id=f"delivery-{delivery['route']}", severity="MEDIUM", tool="notify",
                      title=f"alert not delivered on route {delivery['route']}", detail=delivery["detail"])
    stage.details.update(deployed_at=_iso(deployed_at), rollout_started=_iso(started),
                         before={"start": _iso(windows.before[0]), "end": _iso(windows.before[1])},
                         after={"start": _iso(deployed_at), "end": _iso(windows.end)}, polls=observer.polls,
                         metrics=rows, alerts=observer.alerts, rollback=observer.rollback, chart=str(chart))
    level = worst(row["peak_level"] for row in rows)
    stage.summary.update(level=level, alerts=len(observer.alerts), rolled_back=bool(
        observer.rollback and observer.rollback["status"] == "rolled-back"))
    stage.output("level", level)
    stage.output("chart", str(chart))
    if observer.rollback:
        failing.append(f"rollback {observer.rollback['status']}: {observer.rollback['reason']}")
    headline = ("; ".join(failing) if failing else
                f"no metric went critical over {duration:g}s after {version or 'the deploy'} (worst: {level})")
    report = markdown(session, args.environment, comparisons, rows, chart, observer)
    print(report, flush=True)
    return stage.finish(not failing, headline, report)


def _iso(moment: float) -> str:
    from bayat_deploy.gates.alerts_aggregation import iso

    return iso(moment)


def write_chart(session, environment, version, comparisons, windows, observer):
    from bayat_deploy.fsutil import write_atomic
    from bayat_deploy.gates.chart import Panel, render

    panels = [Panel(c.query.label, c.query.unit, c.before_points, c.after_points,
                    observer.peak.get(c.query.name, c.level), c.query.threshold, c.before, c.after)
              for c in comparisons]
    path = session.reports_dir / f"monitor-{environment}.svg"
    write_atomic(path, render(
        panels, title=f"{session.policy.project} {environment}: before / after {version or 'the deploy'}",
        subtitle=f"{windows.duration:g}s before the rollout began and after it finished ({_iso(windows.deployed_at)}),"
                 f" one point every {windows.step:g}s", before=windows.before, after=windows.after))
    return path


def markdown(session, environment, comparisons, rows, chart, observer) -> str:
    """A small inline table; the chart itself is an artifact (step summaries cannot embed local files)."""
    from bayat_deploy.gates.monitor import show

    lines = ["| metric | before | after | change | threshold | level |", "|---|---|---|---|---|---|"]
    for comparison, row in zip(comparisons, rows):
        query = comparison.query
        change = "-" if comparison.change is None else f"{comparison.change * 100:+.0f}%"
        threshold = show(query.threshold, query.unit) if query.threshold is not None else "-"
        level = row["peak_level"] + (" (now " + row["level"] + ")" if row["level"] != row["peak_level"] else "")
        lines.append(f"| {query.label} | {show(comparison.before, query.unit)} | "
                     f"{show(comparison.after, query.unit)} | {change} | {threshold} | {level} |")
    sent = sum(d["status"] == "sent" for a in observer.alerts for d in a["deliveries"])
    held = sum(d["status"] == "aggregated" for a in observer.alerts for d in a["deliveries"])
    lines += ["", f"Alerts: {len([a for a in observer.alerts if a['metric']])} raised, {sent} message(s) sent, "
                  f"{held} held back by aggregation."]
    if observer.rollback:
        lines.append(f"Rollback: {observer.rollback['status']} - {observer.rollback['reason']}")
    try:
        shown = chart.relative_to(session.root)
    except ValueError:
        shown = chart
    lines.append(f"Chart: `{shown}` (before/after per metric, SVG; attach it as a pipeline artifact - step "
                 "summaries cannot show files from the runner).")
    return "\n".join(lines)
