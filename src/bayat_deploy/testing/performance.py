"""Performance tests for staging/production: the policy's load command, or the built-in HTTP load probe."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from bayat_deploy import tools
from bayat_deploy.errors import BayatError
from bayat_deploy.policy.model.stages import Performance
from bayat_deploy.testing.loadprobe import Breach, evaluate, probe


@dataclass
class PerformanceResult:
    environment: str
    method: str  # "command" | "probe"
    details: dict = field(default_factory=dict)
    breaches: list[Breach] = field(default_factory=list)
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)  # metric, value, threshold, verdict

    @property
    def passed(self) -> bool:
        return not self.breaches


def target_url(base: str, path: str) -> str:
    """The environment URL with the probe's path appended (a URL given with its own path keeps it)."""
    from urllib.parse import urlsplit

    if urlsplit(base).path not in ("", "/"):
        return base
    return base.rstrip("/") + "/" + path.lstrip("/")


def run_command(performance: Performance, environment: str, url: str | None, root: Path,
                env: Mapping[str, str]) -> PerformanceResult:
    """Run the policy's load command; its exit status decides. It learns the target from BAYAT_TARGET_URL."""
    extra = {"BAYAT_ENVIRONMENT": environment, **({"BAYAT_TARGET_URL": url} if url else {})}
    result = PerformanceResult(environment, "command")
    started = time.monotonic()
    try:
        proc = tools.shell(performance.run, cwd=root, env={**env, **extra}, timeout=performance.timeout.seconds)
        code = proc.returncode
    except BayatError:
        code = None
    elapsed = time.monotonic() - started
    result.details = {"method": "command", "command": performance.run, "url": url, "exit_code": code,
                      "timed_out": code is None, "duration_seconds": round(elapsed, 3)}
    verdict = "ok" if code == 0 else "FAIL"
    result.rows.append(("load command", "timed out" if code is None else f"exit {code}", "exit 0", verdict))
    if code is None:
        result.breaches.append(Breach("performance.timeout", f"the load command did not finish within "
                                      f"{performance.timeout} (tests.performance.timeout)", performance.run))
    elif code != 0:
        result.breaches.append(Breach("performance.command", f"the load command exited with status {code}",
                                      performance.run))
    return result


def run_probe(performance: Performance, environment: str, url: str) -> PerformanceResult:
    target = target_url(url, performance.path)
    measured = probe(target, requests=performance.requests, concurrency=performance.concurrency,
                     time_limit=performance.timeout.seconds)
    max_latency, max_error = performance.max_latency.seconds, performance.max_error_rate.fraction
    breaches = evaluate(measured, percentile=performance.percentile, max_latency=max_latency,
                        max_error_rate=max_error)
    result = PerformanceResult(environment, "probe", breaches=breaches)
    result.details = {"method": "probe", **measured.as_dict(performance.percentile),
                      "thresholds": {"percentile": performance.percentile,
                                     "max_latency_ms": round(max_latency * 1000, 3),
                                     "max_error_rate_percent": performance.max_error_rate.value},
                      "breaches": [b.title for b in breaches]}
    latency = result.details["latency_ms"]
    failed_ids = {b.id for b in breaches}
    result.rows.append(("requests", f"{measured.sent} of {measured.requested} on {result.details['concurrency']} "
                        f"connections in {measured.duration:.2f}s", "", ""))
    result.rows.append(("error rate", f"{measured.error_rate * 100:.2f}% ({measured.failed} failed)",
                        f"<= {performance.max_error_rate}", _verdict("performance.error-rate", failed_ids)))
    for point in sorted({50, 95, 99, performance.percentile}):
        gated = point == performance.percentile
        result.rows.append((f"p{point} latency", _format_ms(latency[f"p{point}"]),
                            f"<= {max_latency * 1000:g} ms" if gated else "",
                            _verdict("performance.latency", failed_ids) if gated else ""))
    if measured.stopped_by_time_limit:
        result.rows.append(("time limit", f"reached after {measured.sent} requests",
                            str(performance.timeout), ""))
    return result


def _verdict(breach_id: str, failed: set[str]) -> str:
    return "FAIL" if breach_id in failed else "ok"


def _format_ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"
