"""`bayat-deploy monitor` end to end: the example behind nginx, a real Prometheus scraping it (1 s), load
through nginx, a release that answers 30% of `/` with 500 (FAIL_RATE), alerts to a local HTTP receiver and
a real SMTP server, then the same windows judged again with automatic rollback on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import BIN, Result
from tests.support.load import LoadGenerator
from tests.support.prometheus import start_prometheus
from tests.support.receivers import HttpReceiver, start_smtp

WATCH = 12  # seconds before and after
VERIFY = {"retries": 8, "retry_delay": "100ms", "deadline": "30s",
          "smoke_tests": [{"name": "health", "path": "/health"},
                          {"name": "home", "path": "/", "expect": {"body": "hello"}}]}
RUNBOOK = "https://runbooks.example.com/hello"


def bayat(root: Path, *args: str, env: dict) -> Result:
    proc = subprocess.run([str(BIN / "bayat-deploy"), *args], cwd=root, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GITHUB_ACTIONS": "", "GITLAB_CI": "", **env})
    return Result(proc.returncode, proc.stdout, proc.stderr)


def policy(repo, prometheus_url: str, smtp_port: int, *, automatic: bool) -> None:
    repo.policy({"staging": {"strategy": {"type": "rolling"}, "verify": VERIFY,
                             "rollback": {"automatic": automatic, "max_duration": "10s"},
                             "monitoring": {"warning_change": "20%", "critical_change": "50%"}}},
                team="platform", runbook=RUNBOOK, monitoring={"url": prometheus_url},
                notifications={"aggregate_window": "5m", "routes": [
                    {"name": "hooks", "type": "webhook", "url": "env:HOOK_URL"},
                    {"name": "chat", "type": "slack", "url": "env:SLACK_URL", "min_level": "warning"},
                    {"name": "pager", "type": "email", "to": ["oncall@example.com"], "min_level": "critical",
                     "smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "deploy@example.com",
                              "starttls": False}}]})


@pytest.mark.docker
def test_a_failing_release_raises_one_critical_alert_per_route_and_is_rolled_back(deploy_repo, tmp_path):
    repo = deploy_repo
    receiver, smtp = HttpReceiver(), start_smtp()
    routes = {"HOOK_URL": receiver.url("/hooks"), "SLACK_URL": receiver.url("/slack/T1/B2/TOKEN")}
    prometheus = start_prometheus(tmp_path / "prometheus", repo.state / "staging" / "prometheus" / "targets.json")
    try:
        policy(repo, prometheus.url, smtp.port, automatic=False)
        with LoadGenerator(repo.url("staging") + "/", threads=4, rate=40) as load:
            first = repo.deploy("staging", "1.0.0")
            assert first.code == 0, first.stdout + first.stderr
            time.sleep(WATCH + 1)  # a full healthy "before" window
            bad = repo.deploy("staging", "2.0.0", "--set-env", "FAIL_RATE=0.3")
            assert bad.code == 0, bad.stdout + bad.stderr
            watched = bayat(repo.root, "monitor", "--env", "staging", "--for", f"{WATCH}s", "--interval", "3s",
                            env=routes)
            evidence = json.loads((repo.root / ".bayat/evidence/monitor-staging.json").read_text())
            chart = tmp_path / "monitor-staging.svg"
            shutil.copy(repo.root / ".bayat/reports/monitor-staging.svg", chart)
            first_alerts = [r.json for r in receiver.at("/hooks")]
            first_mails = list(smtp.messages)
            # the same windows, judged again now that they are past, with automatic rollback on
            policy(repo, prometheus.url, smtp.port, automatic=True)
            rolled = bayat(repo.root, "monitor", "--env", "staging", "--for", f"{WATCH}s", "--interval", "3s",
                           env=routes)
            load.during("after the rollback")
            time.sleep(1)
    finally:
        prometheus.stop()
        receiver.stop()
        smtp.stop()

    # ---- the watch: before/after computed from Prometheus, critical, alerted once per route, then summarised
    assert watched.code == 1, watched.stdout + watched.stderr
    metrics = {m["metric"]: m for m in evidence["details"]["metrics"]}
    assert set(metrics) == {"error_rate", "latency_p95", "cpu", "memory"}
    errors = metrics["error_rate"]
    assert errors["before"] is not None and errors["before"] < 0.01, errors
    assert errors["after"] > 0.15 and errors["level"] == "critical" and errors["breach"], errors
    assert errors["samples"]["before"] >= 3 and errors["samples"]["after"] >= 3, errors
    assert metrics["memory"]["before"] > 0 and metrics["latency_p95"]["after"] is not None
    assert evidence["version"] == "2.0.0" and evidence["details"]["rollback"] is None

    error_alerts = [a for a in first_alerts if a["event"] == "alert" and a["details"]["metric"] == "error_rate"]
    immediate = [a for a in error_alerts if not a["aggregation"]["summary"]]
    summaries = [a for a in error_alerts if a["aggregation"]["summary"]]
    polls = sum(1 for a in evidence["details"]["alerts"] if a["metric"] == "error_rate")
    assert polls >= 2, evidence["details"]["alerts"]  # alerted on several polls...
    assert len(immediate) == 1 and immediate[0]["level"] == "critical"  # ...sent once,
    assert len(summaries) == 1 and summaries[0]["aggregation"]["occurrences"] == polls  # then summarised once
    assert immediate[0]["runbook"] == RUNBOOK and immediate[0]["team"] == "platform"
    assert immediate[0]["version"] == "2.0.0" and immediate[0]["environment"] == "staging"
    slack = [r.json for r in receiver.at("/slack/T1/B2/TOKEN")]
    assert sum("Error rate" in s["text"] and "Repeated" not in s["text"] for s in slack) == 1
    pages = [m for m in first_mails if "Error rate" in m["Subject"]]
    assert len(pages) == 2 and pages[0]["Subject"].startswith("[CRITICAL]")
    assert RUNBOOK in pages[0].get_body(("plain",)).get_content()

    svg = ET.parse(chart).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(svg.findall(".//{http://www.w3.org/2000/svg}g[@class='panel']")) == 4
    assert evidence["details"]["chart"] == str(repo.root / ".bayat/reports/monitor-staging.svg")
    if shutil.which("rsvg-convert"):
        png = tmp_path / "monitor.png"
        subprocess.run(["rsvg-convert", str(chart), "-o", str(png)], check=True)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # ---- automatic rollback on the breached trigger
    assert rolled.code == 1, rolled.stdout + rolled.stderr
    assert "rolling back automatically: monitor: Error rate" in rolled.stdout
    rollback = json.loads((repo.root / ".bayat/evidence/monitor-staging.json").read_text())["details"]["rollback"]
    assert rollback["status"] == "rolled-back" and rollback["to"] == "1.0.0", rollback
    entry = repo.history("staging")[-1]
    assert (entry["action"], entry["version"], entry["outcome"]) == ("rollback", "1.0.0", "succeeded")
    assert entry["details"]["automatic"] is True and entry["reason"].startswith("monitor: Error rate")
    announced = [r.json for r in receiver.at("/hooks") if r.json["event"] == "rollback"]
    assert len(announced) == 1 and announced[0]["title"] == "staging rolled back from 2.0.0 to 1.0.0"
    after = load.stats("after the rollback")
    assert after["requests"] and after["versions"].keys() == {"1.0.0"} and after["failed"] == 0, after
