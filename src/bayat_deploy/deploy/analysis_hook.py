"""The analysis a canary step (or a blue/green switch) runs: health and smoke tests on the candidate,
and, when the policy names a metrics provider, the statistical comparison against the baseline.

Metric analysis runs for canary strategies with `analysis: true` and for blue/green's analysis after the
switch, whenever the policy has `monitoring:`. The hook is called right after a traffic shift. Its first
analysis of a step first waits until Prometheus scrapes the compared versions under their track labels
(service discovery applies changes every few seconds), then for one full analysis interval, so that every
sample holds traffic at the step's weight; an analysis right after the shift would find no canary data
and end in the no-data outcome. Every analysis is appended to `<state_dir>/analysis/analyses.jsonl`
with its full per-metric report (`step_started` is the shift, so `end - step_started` is the detection
time).
"""

from __future__ import annotations

import json
import time

from bayat_deploy.deploy.strategies import Verdict

METRIC_STRATEGIES = ("canary", "blue-green")
# Blue/green analyses once, not through Strategy.watch(), so its inconclusive intervals are retried here.
SINGLE_ANALYSIS_STEPS = ("after switch",)
SCRAPE_WAIT_LIMIT = 60.0  # seconds; after that the analysis runs anyway and reports missing data


def analyze_step(deployment, release, step: str) -> Verdict:
    state = deployment.target.current()
    track = "candidate" if "candidate" in state.tracks else "stable"
    verdict, _ = deployment.smoke(deployment.target.direct_url(track), release.version)
    if not verdict.passed:
        return verdict
    if not metrics_configured(deployment):
        return Verdict("pass", f"{step}: health and smoke tests passed")
    return metric_analysis(deployment, step)


def metrics_configured(deployment) -> bool:
    strategy = deployment.env.strategy
    return (strategy.type in METRIC_STRATEGIES and getattr(strategy, "analysis", True)
            and deployment.session.policy.monitoring is not None)


def metric_analysis(deployment, step: str) -> Verdict:
    from bayat_deploy.gates.analysis import Settings, analyze, metrics_for, tracks_to_compare
    from bayat_deploy.gates.metrics import provider_for

    session, env = deployment.session, deployment.env
    settings = Settings.from_environment(env)
    monitoring = session.policy.monitoring
    provider = provider_for(session)
    job = session.policy.substitute(monitoring.job, deployment.environment)
    clocks = deployment.__dict__.setdefault("_analysis_clocks", {})
    if step not in clocks:
        shifted = time.time()
        _wait_for_scrapes(deployment, provider, job, settings)
        clocks[step] = (shifted, time.time())
    shifted, started = clocks[step]
    wait = started + settings.interval - time.time()
    if wait > 0:
        deployment.say(f"  {step}: metric analysis after one interval of traffic ({wait:.1f}s)")
        time.sleep(wait)
    attempts = 1 + (env.analysis.max_inconclusive if step in SINGLE_ANALYSIS_STEPS else 0)
    for attempt in range(1, attempts + 1):
        canary, baseline = tracks_to_compare(deployment.target.current())
        report = analyze(provider, settings, metrics_for(monitoring, settings), job=job, end=time.time(),
                         canary=canary, baseline=baseline)
        _log(deployment, step, shifted, report)
        compared = f"{canary} vs {baseline}" if baseline else f"{canary}, thresholds only"
        deployment.say(f"  {step}: metric analysis {report.outcome} ({compared})")
        deployment.say("\n".join("    " + line for line in report.table().splitlines()))
        if report.outcome != "inconclusive" or attempt == attempts:
            break
        time.sleep(settings.interval)
    return Verdict(report.outcome, f"{step}: {report.reason}")


def _wait_for_scrapes(deployment, provider, job: str, settings) -> None:
    """Until Prometheus scrapes every instance of the compared tracks with their current labels."""
    from bayat_deploy.gates.analysis import TRACK_LABELS, targets_up, tracks_to_compare
    from bayat_deploy.gates.metrics import MetricsError

    state = deployment.target.current()
    compared = [label for label in tracks_to_compare(state) if label]
    wanted = {TRACK_LABELS[name]: (track.release.version, len(track.instances))
              for name, track in state.tracks.items() if TRACK_LABELS.get(name) in compared and track.instances}
    deadline = time.time() + min(settings.interval, SCRAPE_WAIT_LIMIT)
    told = False
    while True:
        try:
            missing = [f"{label} {version}: {up} of {count}" for label, (version, count) in wanted.items()
                       if (up := targets_up(provider, job=job, track=label, version=version, at=time.time())) < count]
        except MetricsError as exc:
            deployment.say(f"  cannot check what Prometheus scrapes ({exc}); analysing anyway")
            return
        if not missing:
            return
        if time.time() >= deadline:
            deployment.say(f"  Prometheus does not scrape every instance yet ({'; '.join(missing)}); analysing anyway")
            return
        if not told:
            deployment.say(f"  waiting for Prometheus to scrape the new labels ({'; '.join(missing)})")
            told = True
        time.sleep(1.0)


def _log(deployment, step: str, started: float, report) -> None:
    path = deployment.target.state_dir / "analysis" / "analyses.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"environment": deployment.environment, "step": step, "step_started": started,
                       **report.to_dict()}, allow_nan=False, default=str)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
