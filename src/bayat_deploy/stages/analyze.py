"""`bayat-deploy analyze --env ENV`: one canary analysis now (or over a past interval), from real metrics.

Compares the canary track against the baseline on the policy's metrics (error rate, latency percentile)
with both the rollback-trigger thresholds and a Mann-Whitney U comparison (see gates/analysis.py), prints
the per-metric table and writes `analysis-<env>.json`. Exit 0 pass; 1 fail; 1 inconclusive (said so).
"""

from __future__ import annotations

import argparse

from bayat_deploy import argtypes
from bayat_deploy.stages.deploy import add_environment


def configure(parser: argparse.ArgumentParser) -> None:
    add_environment(parser)
    parser.add_argument("--interval", metavar="DURATION", type=argtypes.duration,
                        help="length of the analysed interval, e.g. 5m (default: the environment's analysis.interval)")
    parser.add_argument("--at", metavar="TIME", type=argtypes.instant,
                        help="end of the interval, ISO 8601 (e.g. 2025-03-02T10:15:00Z; no zone means UTC); "
                             "default: now")
    parser.add_argument("--canary", metavar="TRACK", type=argtypes.track,
                        help="track label of the version under test (default: canary while one runs, else stable)")
    parser.add_argument("--baseline", metavar="TRACK", type=argtypes.track,
                        help="track label to compare with, or 'none' for thresholds only (default: the previous "
                             "version while it serves traffic)")
    parser.set_defaults(handler=run)


def _default_tracks(session, environment: str) -> tuple[str, str | None]:
    """What the target says runs now; when its state cannot be read, canary against stable."""
    from bayat_deploy.deploy.engine import Deployment
    from bayat_deploy.errors import BayatError
    from bayat_deploy.gates.analysis import tracks_to_compare

    try:
        return tracks_to_compare(Deployment(session, environment).target.current())
    except (BayatError, OSError, ValueError, KeyError):
        return "canary", "stable"


def run(args: argparse.Namespace) -> int:
    import time
    from datetime import datetime, timezone

    from bayat_deploy.errors import BadInput
    from bayat_deploy.gates.analysis import Settings, analyze, metrics_for
    from bayat_deploy.gates.metrics import provider_for
    from bayat_deploy.session import open_session
    from bayat_deploy.stages.run import StageRun

    session = open_session(args)
    policy = session.policy
    env = policy.environment(args.environment)
    if policy.monitoring is None:
        raise BadInput("canary analysis needs a metrics provider: add `monitoring: {url: http://prometheus:9090}` "
                       "to the policy")
    settings = Settings.from_environment(env, args.interval)
    end = args.at.timestamp() if args.at else time.time()
    canary, baseline = _default_tracks(session, args.environment)
    canary = args.canary or canary
    if args.baseline:
        baseline = None if args.baseline.lower() == "none" else args.baseline
    elif args.canary and baseline == canary:
        baseline = None
    job = policy.substitute(policy.monitoring.job, args.environment)
    report = analyze(provider_for(session), settings, metrics_for(policy.monitoring, settings), job=job,
                     end=end, canary=canary, baseline=baseline)

    def iso(moment: float) -> str:
        return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    window = f"{iso(end - settings.interval)} .. {iso(end)}"
    stage = StageRun(session, "analysis", environment=args.environment, inputs={
        "interval_seconds": settings.interval, "at": iso(end), "canary": canary, "baseline": baseline,
        "job": job, "provider": str(policy.monitoring.url)})
    for metric in report.metrics:
        if metric.outcome != "pass":
            stage.finding(id=f"analysis:{metric.metric}", severity="HIGH" if metric.outcome == "fail" else "MEDIUM",
                          title=f"{metric.label}: {metric.outcome}", detail=metric.reason, tool="canary-analysis",
                          blocking=True)
    stage.summary.update(outcome=report.outcome, canary=canary, baseline=baseline or "none (thresholds only)",
                         interval=window, **{m.metric: m.outcome for m in report.metrics})
    stage.details.update(report.to_dict())
    stage.output("outcome", report.outcome)
    compared = f"{canary} vs {baseline}" if baseline else f"{canary}, thresholds only"
    print(f"canary analysis of {args.environment} ({compared}), {window}, {settings.confidence * 100:g}% confidence:")
    print(report.table())
    headline = {"pass": "pass", "fail": "FAIL", "inconclusive": "INCONCLUSIVE (exit 1: not enough evidence to "
                "pass)"}[report.outcome] + f": {report.reason}"
    return stage.finish(report.outcome == "pass", headline, f"{compared}, {window}\n\n{report.markdown()}")
