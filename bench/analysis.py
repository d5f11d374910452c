"""Canary analysis on recorded real metrics: false rollbacks of healthy canaries, detection time of bad ones.

The series were recorded once from the bundled example behind nginx (100 requests/s, the canary at 25%),
scraped by a real Prometheus every second, with the settings of the end-to-end test: 10 s intervals,
2 s rate windows (`python bench/analysis.py --record` records them again; it needs Docker, nginx and
prometheus, and takes about nine minutes). Scenarios: a healthy canary beside a healthy baseline, with
no background errors ("healthy") and with 1% on both ("healthy, 1% background"), and a canary whose
error rate is 5 percentage points higher (FAIL_RATE 0.05 over 0, 0.06 over 0.01: "bad +5pp",
"bad +5pp over 1%").

Replay runs the real analysis code (gates/analysis.py) through the metrics-provider interface. Healthy
analyses are resampled: the baseline's series is shifted in time against the canary's, so one
recording gives many distinct pairs. Detection starts at a random moment of a bad recording (the traffic
shift) and analyses every interval, as the canary strategy does, until a rollback.

Three rules, measured in the same run on the same samples:
- combined (what ships): thresholds + Mann-Whitney U with a tolerance (Kayenta-style);
- threshold only: the rollback triggers alone (5% errors, p95 < 500 ms), the usual baseline;
- significance only: Mann-Whitney U at the same confidence without a tolerance.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

from bayat_deploy.gates.analysis import Metric, Settings, analyze  # noqa: E402
from tests.support.example import stop_deployments  # noqa: E402
from tests.support.prometheus import load_recording, replay_provider  # noqa: E402

RECORDING = REPO / "tests" / "gates" / "data" / "canary-series.json"
MAX_INTERVALS = 3  # the goal: a bad canary is rolled back within three analysis intervals


def default_metrics(settings: Settings) -> list[Metric]:
    from bayat_deploy.gates.analysis import metrics_for
    from bayat_deploy.policy.model.operations import MetricsProvider

    return metrics_for(MetricsProvider(), settings)


def rules(settings: Settings) -> dict[str, tuple[Settings, bool]]:
    """name -> (settings, compare with the baseline?)"""
    loose = dataclasses.replace(settings, error_rate_tolerance=0.0, latency_tolerance=0.0, latency_min_change=0.0)
    return {"combined": (settings, True), "threshold only": (settings, False), "significance only": (loose, True)}


def grid(scenario: dict, settings: Settings) -> list[float]:
    """Analysis end times on the recording's sample grid, leaving a whole interval before each."""
    times = sorted({t for points in scenario["series"].values() for t, _ in points})
    first = times[0] + (settings.samples - 1) * settings.step
    return [t for t in times if t >= first]


def one(recording, scenario, settings, metrics, compare, end, baseline_shift=0.0) -> str:
    provider = replay_provider(recording, scenario, metrics, settings, shift={"stable": baseline_shift})
    return analyze(provider, settings, metrics, job=recording["job"], end=end, canary="canary",
                   baseline="stable" if compare else None).outcome


def healthy_runs(recording, scenario, settings, metrics, compare, count, rng) -> dict:
    ends = grid(recording["scenarios"][scenario], settings)
    outcomes = []
    for _ in range(count):
        end, other = rng.choice(ends), rng.choice(ends)
        outcomes.append(one(recording, scenario, settings, metrics, compare, end, other - end))
    # one canary step of three intervals: rolled back on a fail or on more than max_inconclusive inconclusive
    steps = [outcomes[i:i + 3] for i in range(0, len(outcomes) - 2, 3)]
    step_rollbacks = sum("fail" in s or s.count("inconclusive") > 2 for s in steps)
    return {"analyses": len(outcomes), "fail": outcomes.count("fail"),
            "inconclusive": outcomes.count("inconclusive"), "steps": len(steps), "step_rollbacks": step_rollbacks}


def detection_runs(recording, scenario, settings, metrics, compare, count, rng) -> list[int | None]:
    ends = grid(recording["scenarios"][scenario], settings)
    last = ends[-1]
    shifts = [t - settings.interval for t in ends if t + (MAX_INTERVALS - 1) * settings.interval <= last]
    found = []
    for _ in range(count):
        shift, inconclusive, detected = rng.choice(shifts), 0, None
        for k in range(1, MAX_INTERVALS + 1):
            end = shift + k * settings.interval
            outcome = one(recording, scenario, settings, metrics, compare, end)
            inconclusive += outcome == "inconclusive"
            if outcome == "fail" or inconclusive > 2:
                detected = k
                break
        found.append(detected)
    return found


def replay(path: Path, count: int, seed: int) -> int:
    recording = load_recording(path)
    settings = Settings(**recording["settings"])
    metrics = default_metrics(settings)
    rng = random.Random(seed)
    healthy = [s for s in recording["scenarios"] if s.startswith("healthy")]
    bad = [s for s in recording["scenarios"] if s.startswith("bad")]
    shown = path.resolve().relative_to(REPO) if path.resolve().is_relative_to(REPO) else path
    print(f"recording: {shown} ({recording['recorded']}, {recording['source']})")
    print(f"settings: interval {settings.interval:g}s, rate window {settings.window:g}s, step {settings.step:g}s, "
          f"confidence {settings.confidence:.0%}, min samples {settings.min_samples}, thresholds: error rate "
          f"{settings.error_rate_threshold:.0%}, p{round(settings.latency_quantile * 100)} < "
          f"{settings.latency_max * 1000:.0f} ms")
    results = {}
    for name, (chosen, compare) in rules(settings).items():
        local = random.Random(rng.random())
        results[name] = {
            "healthy": {s: healthy_runs(recording, s, chosen, metrics, compare, count, local) for s in healthy},
            "bad": {s: detection_runs(recording, s, chosen, metrics, compare, max(50, count // 4), local)
                    for s in bad}}
    print(f"\nhealthy canaries: false rollbacks ({count} resampled analyses per scenario; a canary step = 3 "
          "analyses)")
    print(f"{'rule':18} {'scenario':28} {'failed analyses':>16} {'inconclusive':>13} {'rolled-back steps':>18}")
    for name, result in results.items():
        for scenario, r in result["healthy"].items():
            print(f"{name:18} {scenario:28} {r['fail'] / r['analyses']:15.1%} {r['inconclusive'] / r['analyses']:12.1%}"
                  f" {r['step_rollbacks'] / r['steps']:17.1%}")
    print("\nbad canaries: detection time in analysis intervals after the traffic shift")
    print(f"{'rule':18} {'scenario':28} {'within 3':>9} {'mean':>6} {'median':>7} {'max':>5} {'missed':>7}")
    summary = {}
    for name, result in results.items():
        for scenario, found in result["bad"].items():
            hits = [k for k in found if k is not None]
            within = sum(k <= 3 for k in hits) / len(found)
            median = statistics.median(hits) if hits else float("nan")
            mean = statistics.fmean(hits) if hits else float("nan")
            summary[(name, scenario)] = (within, mean)
            print(f"{name:18} {scenario:28} {within:8.0%} {mean:6.2f} {median:7.1f} {max(hits, default=0):5d} "
                  f"{found.count(None) / len(found):7.0%}")
    print("\nratios, combined against threshold only (same run, same samples):")
    for scenario in bad:
        ours, theirs = summary[("combined", scenario)], summary[("threshold only", scenario)]
        rate = f"{ours[0] / theirs[0]:.2f}x" if theirs[0] else "inf (threshold only never detects within 3)"
        speed = f"{theirs[1] / ours[1]:.2f}x" if theirs[1] == theirs[1] and ours[1] else "n/a"
        print(f"  {scenario}: share detected within 3 intervals {rate}; mean detection time {ours[1]:.2f} vs "
              f"{theirs[1]:.2f} intervals, threshold only / combined = {speed}")
    worst = max(r["fail"] / r["analyses"] for r in results["combined"]["healthy"].values())
    slowest = min(summary[("combined", s)][0] for s in bad)
    ok = worst <= 0.01 and slowest >= 0.99
    print(f"\ncombined rule: worst false-rollback rate {worst:.1%} (goal <= 1%), bad canaries caught within 3 "
          f"intervals {slowest:.0%} (goal 100%): {'ok' if ok else 'NOT MET'}")
    return 0 if ok else 1


# ------------------------------------------------------------------------------------------ recording
SCENARIOS = [  # (name, FAIL_RATE of the canary, seconds recorded); the baseline's FAIL_RATE comes first
    ("0", [("healthy", "0", 150), ("bad +5pp", "0.05", 60)]),
    ("0.01", [("healthy, 1% background", "0.01", 150), ("bad +5pp over 1%", "0.06", 60)]),
]
RECORD_SETTINGS = Settings(interval=10.0, window=2.0, min_samples=5)  # what the end-to-end test uses
IMAGE = "bayat-bench/hello-api:analysis"


def record(path: Path) -> None:
    """Run the example behind nginx with a real Prometheus and record each scenario's series."""
    import json
    import os
    import subprocess
    import tempfile
    import uuid

    import yaml

    from tests.support.load import LoadGenerator
    from tests.support.prometheus import record_scenario, start_prometheus
    from tests.support.registry import free_port

    base = os.environ.get("BAYAT_BASE_IMAGE", "bayat/python-base:bookworm")
    subprocess.run(["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={base}", "-t", IMAGE,
                    str(REPO / "examples" / "hello-api")], check=True, capture_output=True)
    scratch = Path(tempfile.mkdtemp(prefix="bayat-analysis-"))
    project, port = f"a{uuid.uuid4().hex[:6]}", free_port()
    root, state = scratch / "repo", scratch / "state"
    (root / ".bayat").mkdir(parents=True)
    prometheus = start_prometheus(scratch / "prometheus", state / "staging" / "prometheus" / "targets.json")
    job = f"{project}-staging"
    document = {"project": project, "monitoring": {"url": prometheus.url},
                "target": {"type": "docker-host", "state_dir": str(state / "{environment}")},
                "registries": {"containers": {"url": "127.0.0.1:5999/bayat", "insecure": True}},
                "defaults": {"verify": {"retries": 2, "retry_delay": "200ms", "smoke_tests": [
                    {"name": "health", "path": "/health"}]}},
                "environments": {"staging": {"target": {"port": port}, "strategy": {
                    "type": "canary", "analysis": False,
                    "steps": [{"weight": 25, "manual": True}, {"weight": 100}]}}}}
    (root / ".bayat" / "deploy.yml").write_text(yaml.safe_dump(document, sort_keys=False))

    def cli(*args: str) -> None:
        proc = subprocess.run([sys.executable, "-m", "bayat_deploy.cli", *args], cwd=root, capture_output=True,
                              text=True)
        if proc.returncode != 0:
            raise SystemExit(f"bayat-deploy {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")

    scenarios, number = {}, 0
    try:
        with LoadGenerator(f"http://127.0.0.1:{port}/", threads=4, rate=100, limit_seconds=3600):
            for stable_fail_rate, runs in SCENARIOS:
                number += 1
                cli("deploy", "--env", "staging", "--version", f"{number}.0.0", "--image", IMAGE,
                    "--set-env", f"FAIL_RATE={stable_fail_rate}")
                if number > 1:
                    cli("promote", "--env", "staging")
                for name, fail_rate, seconds in runs:
                    number += 1
                    cli("deploy", "--env", "staging", "--version", f"{number}.0.0", "--image", IMAGE,
                        "--set-env", f"FAIL_RATE={fail_rate}")
                    start = time.time() + RECORD_SETTINGS.window + 1  # rate windows after the shift only
                    print(f"recording {name!r} for {seconds}s ...", flush=True)
                    time.sleep(start - time.time() + seconds + 2)
                    scenarios[name] = record_scenario(prometheus.url, default_metrics(RECORD_SETTINGS),
                                                      RECORD_SETTINGS, job=job, start=start, end=start + seconds)
                    cli("abort", "--env", "staging")
    finally:
        stop_deployments(project, state)
        prometheus.stop()
    recording = {"recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "source": "bundled example behind nginx, 100 requests/s, canary at 25%, Prometheus scraping "
                           "every 1s", "job": job, "settings": dataclasses.asdict(RECORD_SETTINGS),
                 "scenarios": scenarios}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(recording, separators=(",", ":")) + "\n")
    print(f"recorded {len(scenarios)} scenario(s) to {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--record", action="store_true", help="record the series again from the live example")
    parser.add_argument("--recording", type=Path, default=RECORDING, help="recording to replay or write")
    parser.add_argument("--analyses", type=int, default=400, help="healthy analyses per scenario and rule")
    parser.add_argument("--seed", type=int, default=5)
    options = parser.parse_args()
    if options.record:
        record(options.recording)
    sys.exit(replay(options.recording, options.analyses, options.seed))
