"""Canary analysis against a real Prometheus on loopback (scrape interval 1 s, file_sd targets).

End to end (Docker): the example behind nginx, load through nginx, Prometheus scraping the instances
from the Docker host target's targets file. A canary answering 5% of requests with 500 is rolled back
within three analysis intervals; a healthy canary passes; `bayat-deploy analyze` judges the live canary.
Without Docker: the explicit no-data outcomes when Prometheus has no series, and when it is down.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, Result
from tests.support.load import LoadGenerator
from tests.support.prometheus import start_prometheus
from tests.support.registry import free_port

INTERVAL = 10.0  # nine samples per track: 2 s windows (two scrapes each) every second
ANALYSIS = {"interval": "10s", "window": "2s", "min_samples": 5, "confidence": 0.95, "max_inconclusive": 2}
# the bad canary answers 5% of `/` with 500: enough retries that its smoke tests do not decide before the metrics
VERIFY = {"retries": 4, "retry_delay": "100ms", "deadline": "20s",
          "smoke_tests": [{"name": "health", "path": "/health"},
                          {"name": "home", "path": "/", "expect": {"body": "hello"}}]}


def analyze_cli(root: Path, *args: str) -> Result:
    proc = subprocess.run([str(BIN / "bayat-deploy"), "analyze", *args], cwd=root, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "GITHUB_ACTIONS": "", "GITLAB_CI": ""})
    return Result(proc.returncode, proc.stdout, proc.stderr)


def evidence(root: Path, environment: str) -> dict:
    return json.loads((root / ".bayat" / "evidence" / f"analysis-{environment}.json").read_text())


# ------------------------------------------------------------------------------------------ no data
@pytest.fixture(scope="module")
def empty_prometheus(tmp_path_factory):
    """A real Prometheus whose targets file lists nothing: every query answers without series."""
    root = tmp_path_factory.mktemp("empty-prometheus")
    instance = start_prometheus(root, root / "sd" / "targets.json")
    (root / "sd" / "targets.json").write_text("[]\n")
    yield instance
    instance.stop()


def _policy(root: Path, url: str, on_no_data: str) -> None:
    (root / ".bayat").mkdir(parents=True, exist_ok=True)
    document = {"project": "shop", "monitoring": {"url": url},
                "target": {"type": "docker-host", "state_dir": str(root / "state" / "{environment}")},
                "environments": {"staging": {"analysis": {**ANALYSIS, "on_no_data": on_no_data}}}}
    (root / ".bayat" / "deploy.yml").write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.mark.parametrize("on_no_data, code, outcome", [("fail", 1, "fail"), ("pause", 1, "inconclusive"),
                                                       ("pass", 0, "pass")])
def test_no_series_is_an_explicit_no_data_outcome(tmp_path, empty_prometheus, on_no_data, code, outcome):
    _policy(tmp_path, empty_prometheus.url, on_no_data)
    result = analyze_cli(tmp_path, "--env", "staging", "--canary", "canary", "--baseline", "stable")
    assert result.code == code, result.stdout + result.stderr
    assert "no data: the canary has no error rate samples" in result.stdout
    assert f"policy analysis.on_no_data: {on_no_data} -> {outcome}" in result.stdout
    if outcome == "inconclusive":
        assert "INCONCLUSIVE (exit 1: not enough evidence to pass)" in result.stdout
    document = evidence(tmp_path, "staging")
    assert document["status"] == ("pass" if code == 0 else "fail")
    assert document["details"]["outcome"] == outcome
    assert [m["data"] for m in document["details"]["metrics"]] == ["no-data", "no-data"]


@pytest.mark.parametrize("on_no_data, code", [("fail", 1), ("pass", 0)])
def test_prometheus_down_is_reported_and_treated_like_no_data(tmp_path, on_no_data, code):
    url = f"http://127.0.0.1:{free_port()}"
    _policy(tmp_path, url, on_no_data)
    result = analyze_cli(tmp_path, "--env", "staging")
    assert result.code == code, result.stdout + result.stderr
    assert (f"Prometheus at {url} is unreachable (ConnectionError: [Errno 111] Connection refused); treated as "
            f"no data; policy analysis.on_no_data: {on_no_data}") in result.stdout
    assert "Traceback" not in result.stderr
    assert [m["data"] for m in evidence(tmp_path, "staging")["details"]["metrics"]] == ["error", "error"]


def test_analyze_without_a_metrics_provider_is_bad_input(tmp_path):
    (tmp_path / ".bayat").mkdir()
    (tmp_path / ".bayat" / "deploy.yml").write_text("project: shop\n")
    result = analyze_cli(tmp_path, "--env", "staging", "--at", "2025-03-02T10:15:00Z")
    assert result.code == 2 and "canary analysis needs a metrics provider" in result.stderr


def test_a_bad_time_is_bad_input(tmp_path, empty_prometheus):
    _policy(tmp_path, empty_prometheus.url, "fail")
    result = analyze_cli(tmp_path, "--env", "staging", "--at", "yesterday")
    assert result.code == 2 and "argument --at: 'yesterday' is not an ISO 8601 time" in result.stderr


# ------------------------------------------------------------------------------------- end to end
def _analyses(repo, environment: str) -> list[dict]:
    path = repo.state / environment / "analysis" / "analyses.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.docker
@pytest.mark.e2e
def test_a_bad_canary_is_rolled_back_within_three_intervals_and_a_good_one_passes(deploy_repo, tmp_path):
    repo = deploy_repo
    prometheus = start_prometheus(tmp_path / "prometheus", repo.state / "staging" / "prometheus" / "targets.json")
    try:
        repo.policy({"staging": {
            "analysis": {**ANALYSIS, "on_no_data": "fail"}, "verify": VERIFY,
            "strategy": {"type": "canary", "health_timeout": "20s",
                         "steps": [{"weight": 25, "pause": "30s"}, {"weight": 100}]}}},
            monitoring={"url": prometheus.url})
        with LoadGenerator(repo.url("staging") + "/", threads=4, rate=100) as load:
            first = repo.deploy("staging", "1.0.0")
            assert first.code == 0, first.stdout + first.stderr
            # the first release has no baseline: blue/green, judged on thresholds only after the switch
            assert "after switch: metric analysis pass (canary, thresholds only)" in first.stdout

            load.during("bad canary")
            bad = repo.deploy("staging", "2.0.0", "--set-env", "FAIL_RATE=0.05")
            load.during("after the rollback")
            bad_analyses = [a for a in _analyses(repo, "staging") if a["step"] == "step 1"]
            time.sleep(1.5)
            load.during("good canary")

            repo.policy({"staging": {
                "analysis": {**ANALYSIS, "on_no_data": "fail"}, "verify": VERIFY,
                "strategy": {"type": "canary", "health_timeout": "20s",
                             "steps": [{"weight": 25, "pause": "10s", "manual": True}, {"weight": 100}]}}},
                monitoring={"url": prometheus.url})
            good = repo.deploy("staging", "3.0.0")
            live = analyze_cli(repo.root, "--env", "staging")
            promoted = repo.run("promote", "--env", "staging")
    finally:
        prometheus.stop()

    assert bad.code == 1, bad.stdout + bad.stderr
    entry = repo.history("staging")[-3]
    assert (entry["version"], entry["outcome"]) == ("2.0.0", "rolled-back")
    assert "step 1: analysis failed: step 1: error rate:" in entry["reason"]
    # significantly worse than the baseline's 0%, or (5% is also the trigger) above the threshold outright
    assert "on the canary vs 0.00% on the baseline" in entry["reason"] or (
        "on the canary exceeds the threshold 5.00%" in entry["reason"] and "(baseline 0.00%)" in entry["reason"])
    failed = bad_analyses[-1]
    assert failed["outcome"] == "fail" and failed["baseline_track"] == "stable"
    errors = failed["metrics"][0]
    assert errors["metric"] == "error-rate" and errors["outcome"] == "fail" and errors["data"] == "ok"
    assert errors["canary"] > 0.01 and errors["baseline"] == 0 and errors["p_value"] < 0.05
    # detection: from the traffic shift to the failed analysis, in analysis intervals
    assert (failed["end"] - failed["step_started"]) / INTERVAL <= 3, bad_analyses
    # and as the clients saw it: from the first answer of 2.0.0 to its last (a 500 can only come from 2.0.0)
    during = [s for s in load.samples if s.phase == "bad canary"]
    from_canary = [s.at for s in during if s.version == "2.0.0" or s.error == "HTTP 500"]
    assert (max(from_canary) - min(from_canary)) / INTERVAL <= 3
    after = load.stats("after the rollback")
    assert after["requests"] and after["failed"] == 0 and after["versions"].keys() == {"1.0.0"}, after

    assert good.code == 0, good.stdout + good.stderr
    good_analyses = [a for a in _analyses(repo, "staging") if a["step"] == "step 1"][len(bad_analyses):]
    assert good_analyses and {a["outcome"] for a in good_analyses} == {"pass"}
    assert all(m["data"] == "ok" and m["baseline_samples"] >= 5 for a in good_analyses for m in a["metrics"])
    assert live.code == 0, live.stdout + live.stderr
    assert "canary analysis of staging (canary vs stable)" in live.stdout
    document = evidence(repo.root, "staging")
    assert document["status"] == "pass" and document["details"]["baseline_track"] == "stable"
    assert promoted.code == 0, promoted.stdout + promoted.stderr
    assert repo.history("staging")[-1]["outcome"] == "succeeded"
