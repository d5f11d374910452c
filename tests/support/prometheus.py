"""A real Prometheus (Debian's `prometheus`) on loopback, scraping a file_sd targets file every second;
and recorded metric series replayed through the metrics-provider interface.

`start_prometheus(root, targets_file)` starts it unprivileged with its storage under `root`; the Docker
host target writes the targets file (`<state_dir>/prometheus/targets.json`) with job and track labels,
and Prometheus picks up changes within a second. `self_scrape=True` adds a job scraping Prometheus
itself, for tests that need some series without a service.

A recording holds real series of the analysis's queries (per metric and track) taken from a running
example once; `ReplayProvider` answers the analysis's queries from it, shifting each track's series in
time independently so that one recording yields many distinct analyses (resampling).
"""

from __future__ import annotations

import bisect
import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.support.registry import free_port


@dataclass
class LocalPrometheus:
    url: str
    port: int
    process: subprocess.Popen
    root: Path
    targets_file: Path

    def instant(self, expr: str) -> list[dict]:
        response = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        response.raise_for_status()
        return response.json()["data"]["result"]

    def active_targets(self, job: str | None = None) -> list[dict]:
        response = requests.get(f"{self.url}/api/v1/targets", params={"state": "active"}, timeout=10)
        response.raise_for_status()
        targets = response.json()["data"]["activeTargets"]
        return [t for t in targets if job is None or t["labels"].get("job") == job]

    def wait_until(self, expr: str, timeout: float = 20.0) -> list[dict]:
        """Wait until `expr` has a result (e.g. a series has been scraped); the result."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.instant(expr)
            if result:
                return result
            time.sleep(0.25)
        raise TimeoutError(f"Prometheus at {self.url} has no result for {expr} after {timeout}s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_prometheus(root: Path, targets_file: Path, *, scrape_interval: str = "1s",
                     self_scrape: bool = False) -> LocalPrometheus:
    binary = shutil.which("prometheus")
    if binary is None:
        raise RuntimeError("prometheus is not installed (Debian package `prometheus`); run scripts/setup")
    root.mkdir(parents=True, exist_ok=True)
    targets_file.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    jobs = [{"job_name": "file-sd", "file_sd_configs": [{"files": [str(targets_file)], "refresh_interval": "1s"}]}]
    if self_scrape:
        jobs.append({"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]})
    config = {"global": {"scrape_interval": scrape_interval, "scrape_timeout": scrape_interval,
                         "evaluation_interval": scrape_interval}, "scrape_configs": jobs}
    (root / "prometheus.yml").write_text(json.dumps(config, indent=2))  # JSON is YAML
    log = (root / "prometheus.log").open("w")
    process = subprocess.Popen([binary, f"--config.file={root / 'prometheus.yml'}",
                                f"--storage.tsdb.path={root / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                                "--log.level=warn"], stdout=log, stderr=subprocess.STDOUT, cwd=root)
    instance = LocalPrometheus(f"http://127.0.0.1:{port}", port, process, root, targets_file)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {process.returncode}: "
                               f"{(root / 'prometheus.log').read_text()[-2000:]}")
        try:
            if requests.get(f"{instance.url}/-/ready", timeout=1).status_code == 200:
                return instance
        except requests.RequestException:
            pass
        time.sleep(0.2)
    instance.stop()
    raise RuntimeError(f"prometheus did not become ready on port {port}")


# ------------------------------------------------------------------------------------- recordings
@dataclass
class ReplayProvider:
    """Answers the analysis's queries from recorded series: {(metric, track): [(t, v), ...]}.

    `queries` maps each rendered query to its (metric, track); `shift` moves a track's series in time
    (a query at time t reads the recording at t + shift[track]).
    """

    series: dict[tuple[str, str], list[tuple[float, float]]]
    queries: dict[str, tuple[str, str]]
    shift: dict[str, float] = field(default_factory=dict)
    name: str = "replay"

    def query(self, expr: str, start: float, end: float, step: float):
        from bayat_deploy.gates.metrics import MetricsError, Series

        if expr not in self.queries:
            raise MetricsError(f"the recording has no series for {expr}")
        metric, track = self.queries[expr]
        points = self.series.get((metric, track), [])
        offset = self.shift.get(track, 0.0)
        times = [t for t, _ in points]
        chosen, at = [], start
        while at <= end + 1e-6:
            wanted = at + offset
            index = bisect.bisect_left(times, wanted)
            near = min((i for i in (index - 1, index) if 0 <= i < len(points)),
                       key=lambda i: abs(times[i] - wanted), default=None)
            if near is not None and abs(times[near] - wanted) < step / 2:
                chosen.append((at, points[near][1]))
            at += step
        return [Series({"track": track}, tuple(chosen))] if chosen else []


def load_recording(path: Path) -> dict:
    document = json.loads(path.read_text())
    for scenario in document["scenarios"].values():
        scenario["series"] = {tuple(key.split("|")): [(t, float(v)) for t, v in points]
                              for key, points in scenario["series"].items()}
    return document


def replay_provider(recording: dict, scenario: str, metrics, settings, *, canary: str = "canary",
                    baseline: str = "stable", shift: dict[str, float] | None = None) -> ReplayProvider:
    """A provider answering the analysis's own rendered queries for `canary`/`baseline` from a scenario."""
    from bayat_deploy.gates.analysis import render

    queries = {}
    for metric in metrics:
        for track in (canary, baseline):
            expr = render(metric.template, job=recording["job"], track=track, window=settings.window,
                          quantile=settings.latency_quantile, traffic=settings.traffic_filter)
            queries[expr] = (metric.name, track)
    return ReplayProvider(recording["scenarios"][scenario]["series"], queries, shift or {})


def record_scenario(prometheus_url: str, metrics, settings, *, job: str, start: float, end: float,
                    tracks=("canary", "stable")) -> dict:
    """Query the analysis's series for each metric and track from a real Prometheus, at the analysis step."""
    from bayat_deploy.gates.analysis import render
    from bayat_deploy.gates.metrics import PrometheusProvider

    provider = PrometheusProvider(prometheus_url)
    series = {}
    for metric in metrics:
        for track in tracks:
            expr = render(metric.template, job=job, track=track, window=settings.window,
                          quantile=settings.latency_quantile, traffic=settings.traffic_filter)
            points = [(round(t, 3), v) for s in provider.query(expr, start, end, settings.step) for t, v in s.points]
            series[f"{metric.name}|{track}"] = [(t, repr(v)) for t, v in sorted(points)]
    return {"start": start, "end": end, "series": series}
