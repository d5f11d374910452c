"""Monitoring without Docker: levels, query rendering, the bounded watch loop, the chart, and the command's
bad-input and no-data paths against a real (empty) Prometheus.

The watch-loop tests feed `watch()` from a function of time through the metrics-provider interface (our
own seam, not a tool); the end-to-end run against the example and a real Prometheus is in
test_monitor_prometheus.py.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from bayat_deploy.gates.metrics import MetricsError, Series
from bayat_deploy.gates.monitor import MetricQuery, Windows, compare, watch

SVG = "{http://www.w3.org/2000/svg}"
ERRORS = MetricQuery("error_rate", "Error rate", "e", "ratio", threshold=0.05, trigger="error-rate")
LATENCY = MetricQuery("latency_p95", "Latency p95", "l", "seconds", threshold=0.5, trigger="latency")
CPU = MetricQuery("cpu", "CPU", "c", "cores")
ORDERS = MetricQuery("orders", "Orders", "o", "value", worse="down")


def points(*values):
    return [(float(i), v) for i, v in enumerate(values)]


@pytest.mark.parametrize("query, before, after, level, breach, change", [
    (ERRORS, [0.0, 0.0], [0.0, 0.001], "info", False, 0.05),             # against the 1% noise floor
    (ERRORS, [0.02, 0.02], [0.025, 0.025], "warning", False, 0.25),
    (ERRORS, [0.01, 0.01], [0.02, 0.02], "critical", False, 1.0),
    (ERRORS, [0.0, 0.0], [0.06, 0.08], "critical", True, 7.0),           # above the 5% rollback trigger
    (ERRORS, [0.08, 0.08], [0.06, 0.06], "critical", True, -0.25),       # better, but still a breach
    (LATENCY, [0.1, 0.1], [0.11, 0.11], "info", False, 0.1),
    (LATENCY, [0.1, 0.1], [0.12, 0.13], "warning", False, 0.25),
    (LATENCY, [0.1, 0.1], [0.6, 0.6], "critical", True, 5.0),
    (LATENCY, [0.002, 0.002], [0.004, 0.004], "info", False, 0.08),      # 2 ms -> 4 ms is noise
    (CPU, [0.2, 0.2], [0.25, 0.25], "warning", False, 0.25),             # no trigger: change only
    (ORDERS, [100.0, 100.0], [40.0, 40.0], "critical", False, 0.6),      # business metric: a drop is worse
    (ORDERS, [100.0, 100.0], [300.0, 300.0], "info", False, -2.0),
    (ERRORS, [], [0.01, 0.01], "info", False, None),                     # no baseline: thresholds only
    (ERRORS, [0.0], [math.nan, math.nan], "no-data", False, None),       # NaN is missing, never zero
])
def test_levels(query, before, after, level, breach, change):
    result = compare(query, points(*before), points(*after), warning=0.2, critical=0.5)
    assert (result.level, result.breach) == (level, breach), result.reason
    if change is None:
        assert result.change is None
    else:
        assert result.change == pytest.approx(change)


def test_a_failed_query_is_no_data_with_the_providers_words():
    result = compare(ERRORS, [], [], warning=0.2, critical=0.5, error="Prometheus rejected the query (bad_data)")
    assert (result.level, result.reason) == ("no-data", "Prometheus rejected the query (bad_data)")


def session_for(root: Path, document: dict):
    from bayat_deploy.context import RunContext
    from bayat_deploy.platform import for_context
    from bayat_deploy.policy.loader import load_policy
    from bayat_deploy.session import Session

    (root / ".bayat").mkdir(parents=True, exist_ok=True)
    (root / ".bayat" / "deploy.yml").write_text(yaml.safe_dump({
        "target": {"type": "docker-host", "state_dir": str(root / "state" / "{environment}")}, **document}))
    context = RunContext.from_environment({}, cwd=root)
    return Session(load_policy(root / ".bayat" / "deploy.yml"), context, for_context(context, root))


def test_queries_are_rendered_from_the_policy(tmp_path):
    from bayat_deploy.errors import BadInput
    from bayat_deploy.gates.monitor import queries_for

    session = session_for(tmp_path, {
        "project": "shop", "monitoring": {"url": "http://127.0.0.1:9090"},
        "environments": {"production": {
            "rollback": {"triggers": {"latency": {"percentile": 99, "max": "300ms"}}},
            "monitoring": {"queries": {"checkout_rate": 'sum(rate(checkouts_total{job="{job}"}[{interval}]))'}}}}})
    queries = {q.name: q for q in queries_for(session.policy, "production", 30)}
    assert list(queries) == ["error_rate", "latency_p99", "cpu", "memory", "checkout_rate"]
    assert queries["error_rate"].expr == session.policy.monitoring.error_rate.format(
        selector='job="shop-production"', interval="30s")
    assert 'http_requests_total{job="shop-production",status=~"5.."}[30s]' in queries["error_rate"].expr
    assert queries["latency_p99"].expr.startswith("histogram_quantile(0.99, ")
    assert (queries["latency_p99"].threshold, queries["error_rate"].threshold) == (0.3, 0.01)  # production: 1%
    assert queries["checkout_rate"].expr == 'sum(rate(checkouts_total{job="shop-production"}[30s]))'
    assert queries["checkout_rate"].worse == "down" and queries["cpu"].threshold is None
    bare = session_for(tmp_path / "bare", {"project": "shop"})
    with pytest.raises(BadInput, match="the policy names no metrics provider"):
        queries_for(bare.policy, "production", 30)


class Clock:
    def __init__(self, start: float):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FunctionProvider:
    """Answers every query with f(t) at each step; records the ranges asked for."""

    name = "function"

    def __init__(self, value, clock: Clock):
        self.value, self.clock, self.calls = value, clock, []

    def query(self, expr, start, end, step):
        self.calls.append((expr, start, end, step))
        if expr == "broken":
            raise MetricsError("Prometheus rejected the query (bad_data): parse error")
        at, found = start, []
        while at <= min(end, self.clock.now) + 1e-9:
            found.append((at, self.value(at)))
            at += step
        return [Series({}, tuple(found))]


def test_watch_polls_every_interval_until_the_after_window_is_complete():
    deployed = 10_000.0
    clock = Clock(deployed + 1)
    provider = FunctionProvider(lambda t: 0.0 if t <= deployed else 0.2, clock)
    windows = Windows(deployed - 20, deployed, duration=60, interval=10)
    seen = []
    final = watch(provider, [ERRORS, MetricQuery("broken", "Broken", "broken", "value")], windows, warning=0.2,
                  critical=0.5, observe=lambda comparisons, last: seen.append((clock.now, last,
                                                                               comparisons[0].level)) and False,
                  clock=clock, sleep=clock.sleep)
    before_calls = [c for c in provider.calls if c[0] == "e" and c[2] <= deployed - 20]
    assert [(c[1], c[2]) for c in before_calls] == [(deployed - 80, deployed - 20)]  # once, before the rollout
    assert [round(t - deployed) for t, _, _ in seen] == [1, 11, 21, 31, 41, 51, 60]  # bounded by the window
    assert [last for _, last, _ in seen] == [False] * 6 + [True]
    assert seen[0][2] == "no-data" and {level for _, _, level in seen[1:]} == {"critical"}
    after_starts = {c[1] for c in provider.calls if c[0] == "e" and c[1] >= deployed}
    assert after_starts == {deployed + 10}  # the first point whose rate window lies wholly after the deploy
    assert final[0].breach and final[1].level == "no-data" and "parse error" in final[1].reason


def test_watch_stops_when_the_observer_says_so_and_judges_a_past_window_at_once():
    clock = Clock(50_000.0)
    provider = FunctionProvider(lambda t: 0.5, clock)
    polls = []
    watch(provider, [ERRORS], Windows(40_000, 40_000, 600, 30), warning=0.2, critical=0.5,
          observe=lambda c, last: polls.append(last) or False, clock=clock, sleep=clock.sleep)
    assert polls == [True] and clock.now == 50_000.0  # the after window is past: one poll, no waiting
    stopped = []
    watch(provider, [ERRORS], Windows(50_000, 50_000, 600, 30), warning=0.2, critical=0.5,
          observe=lambda c, last: stopped.append(last) or len(stopped) == 3, clock=clock, sleep=clock.sleep)
    assert stopped == [False, False, False]


# ---------------------------------------------------------------------------------------------- the chart
@pytest.mark.parametrize("low, high, expected", [
    (0, 0.11, [0, 0.025, 0.05, 0.075, 0.1, 0.125]),
    (0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    (0, 440, [0, 100, 200, 300, 400, 500]),
    (-15, 12, [-20, -10, 0, 10, 20]),
])
def test_nice_ticks(low, high, expected):
    from bayat_deploy.gates.chart import nice_ticks

    assert nice_ticks(low, high) == pytest.approx(expected)


def test_chart_is_valid_svg_with_a_panel_per_metric_and_renders(tmp_path):
    from bayat_deploy.gates.chart import Panel, render

    deployed = 1_767_225_600.0
    before = [(deployed - 600 + 15 * i, 0.004 + 0.001 * (i % 3)) for i in range(38)]
    after = [(deployed + 15 * i, 0.09 if i != 4 else math.nan) for i in range(1, 41)]
    panels = [Panel("Error rate", "ratio", before, after, "critical", 0.05, 0.005, 0.09),
              Panel("Orders <per s> & more", "value", before, [], "no-data")]
    text = render(panels, title="shop production: before / after 1.4.0", subtitle="10m before and after",
                  before=(deployed - 630, deployed - 30), after=(deployed, deployed + 600))
    root = ET.fromstring(text.encode())
    assert root.tag == f"{SVG}svg" and root.find(f"{SVG}title").text == "shop production: before / after 1.4.0"
    groups = root.findall(f".//{SVG}g[@class='panel']")
    assert [g.get("aria-label") for g in groups] == ["Error rate", "Orders <per s> & more"]
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert "rollback trigger 5%" in texts and "no data" in texts and "deployed" in texts and "-10m" in texts
    assert len(groups[0].findall(f"{SVG}path")) == 3  # the before line, and the after line broken by a NaN
    path = tmp_path / "chart.svg"
    path.write_text(text)
    assert shutil.which("rsvg-convert"), "rsvg-convert (Debian librsvg2-bin) is installed by scripts/setup"
    subprocess.run(["rsvg-convert", str(path), "-o", str(tmp_path / "chart.png")], check=True)
    assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"


# ---------------------------------------------------------------------------------------------- the command
def monitor_cli(root: Path, *args: str):
    from tests.conftest import BIN

    return subprocess.run([str(BIN / "bayat-deploy"), "monitor", *args], cwd=root, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "GITHUB_ACTIONS": "", "GITLAB_CI": ""})


def write_policy(root: Path, url: str, on_no_data: str = "fail") -> None:
    (root / ".bayat").mkdir(parents=True, exist_ok=True)
    (root / ".bayat" / "deploy.yml").write_text(yaml.safe_dump({
        "project": "shop", "monitoring": {"url": url},
        "target": {"type": "docker-host", "state_dir": str(root / "state" / "{environment}")},
        "environments": {"staging": {"analysis": {"on_no_data": on_no_data}}}}))


@pytest.fixture(scope="module")
def empty_prometheus(tmp_path_factory):
    from tests.support.prometheus import start_prometheus

    root = tmp_path_factory.mktemp("monitor-prometheus")
    (root / "sd").mkdir()
    (root / "sd" / "targets.json").write_text("[]\n")
    instance = start_prometheus(root, root / "sd" / "targets.json")
    yield instance
    instance.stop()


@pytest.mark.parametrize("args, message", [
    (["--for", "10s", "--interval", "2s"], "no successful deployment of staging in the record; give --deployed-at"),
    (["--deployed-at", "yesterday"], "--deployed-at: 'yesterday' is not an ISO 8601 time"),
    (["--for", "soon", "--deployed-at", "2026-01-01T00:00:00Z"], "--for: 'soon' is not a duration"),
    (["--for", "10s", "--interval", "1m", "--deployed-at", "2026-01-01T00:00:00Z"], "--interval (1m) is longer"),
])
def test_bad_input_exits_two(tmp_path, args, message):
    write_policy(tmp_path, "http://127.0.0.1:9")
    result = monitor_cli(tmp_path, "--env", "staging", *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_without_a_metrics_provider_monitor_is_bad_input(tmp_path):
    (tmp_path / ".bayat").mkdir()
    (tmp_path / ".bayat" / "deploy.yml").write_text("project: shop\n")
    result = monitor_cli(tmp_path, "--env", "staging", "--deployed-at", "2026-01-01T00:00:00Z")
    assert result.returncode == 2 and "names no metrics provider" in result.stderr


@pytest.mark.parametrize("on_no_data, code", [("fail", 1), ("pass", 0)])
def test_no_series_at_all_is_no_data_and_the_policy_decides(tmp_path, empty_prometheus, on_no_data, code):
    write_policy(tmp_path, empty_prometheus.url, on_no_data)
    deployed = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 30))
    started = time.monotonic()
    result = monitor_cli(tmp_path, "--env", "staging", "--deployed-at", deployed, "--for", "10s",
                         "--interval", "2s")
    assert result.returncode == code, result.stdout + result.stderr
    assert time.monotonic() - started < 20  # a past window is judged at once
    document = json.loads((tmp_path / ".bayat/evidence/monitor-staging.json").read_text())
    assert {m["level"] for m in document["details"]["metrics"]} == {"no-data"}
    assert document["details"]["alerts"] == [] and document["details"]["polls"] == 1
    svg = ET.parse(tmp_path / ".bayat/reports/monitor-staging.svg").getroot()
    assert len(svg.findall(f".//{SVG}g[@class='panel']")) == 4
    assert "| Error rate | - | - | - | 5.00% | no-data |" in result.stdout
