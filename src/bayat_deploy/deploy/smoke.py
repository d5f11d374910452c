"""Smoke tests: the declarative HTTP checks of the policy, run in parallel with retries and a deadline.

Used right after a deployment (the verify stage) and by the strategies before traffic moves (green
or a canary checked directly, bypassing the router).
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bayat_deploy.policy.model import SmokeTest, Verify


@dataclass
class CheckResult:
    name: str
    ok: bool
    message: str
    critical: bool = True
    status: int | None = None
    latency_ms: float | None = None
    attempts: int = 0


def _json_path(document: object, dotted: str) -> object:
    for part in dotted.split("."):
        if isinstance(document, dict) and part in document:
            document = document[part]
        elif isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        else:
            raise KeyError(dotted)
    return document


def _judge(test: SmokeTest, response, latency: float, version: str) -> str | None:
    """None when the response meets every expectation, else what is wrong."""
    expect = test.expect
    if response.status_code not in expect.status:
        return f"status {response.status_code}, expected {'/'.join(map(str, expect.status))}"
    if expect.body is not None and not expect.body.search(response.text):
        return f"body does not match /{expect.body.text}/"
    if expect.json:
        try:
            document = response.json()
        except ValueError:
            return "body is not JSON"
        for path, wanted in expect.json.items():
            if isinstance(wanted, str):
                wanted = wanted.replace("{version}", version)
            try:
                actual = _json_path(document, path)
            except KeyError:
                return f"JSON has no {path}"
            if actual != wanted:
                return f"JSON {path} is {actual!r}, expected {wanted!r}"
    if expect.max_latency is not None and latency > expect.max_latency.seconds:
        return f"took {latency * 1000:.0f} ms, limit {expect.max_latency}"
    return None


def _run_one(session, base_url: str, test: SmokeTest, version: str, verify: Verify, deadline: float
             ) -> CheckResult:
    url = base_url.rstrip("/") + test.path
    problem, status, latency, attempts = "not run", None, None, 0
    while attempts < verify.retries and time.monotonic() < deadline:
        attempts += 1
        started = time.monotonic()
        try:
            response = session.request(test.method, url, headers=test.headers, data=test.body,
                                       timeout=max(0.5, min(10.0, deadline - started)))
            latency = time.monotonic() - started
            status = response.status_code
            problem = _judge(test, response, latency, version)
        except Exception as exc:  # requests' connection errors and timeouts: a failed attempt, retried
            problem = f"{type(exc).__name__}: {exc}".split("(Caused by")[0].strip()
        if problem is None:
            return CheckResult(test.name, True, f"{test.method} {test.path} -> {status}", test.critical, status,
                               round(latency * 1000, 1), attempts)
        if attempts < verify.retries:
            time.sleep(min(verify.retry_delay.seconds, max(0.0, deadline - time.monotonic())))
    return CheckResult(test.name, False, f"{test.method} {test.path}: {problem}", test.critical, status,
                       round(latency * 1000, 1) if latency is not None else None, attempts)


def builtin_checks(verify: Verify) -> list[SmokeTest]:
    """The checks every environment gets: the deployed version is visible and metrics answer."""
    from bayat_deploy.policy.model import Expect

    checks = []
    if verify.version_path:
        checks.append(SmokeTest(name="version", path=verify.version_path,
                                expect=Expect(json={"version": "{version}"})))
    if verify.metrics_path:
        checks.append(SmokeTest(name="metrics", path=verify.metrics_path,
                                expect=Expect(body=_prometheus_text()), critical=False))
    return checks


def _prometheus_text():
    from bayat_deploy.policy.types import Pattern

    return Pattern(r"(?m)^(# (HELP|TYPE) \w+|\w+(\{[^}]*\})? [-+0-9.eEInaf]+)")


def run_smoke_tests(base_url: str, verify: Verify, version: str, *, include_builtin: bool = True,
                    deadline: float | None = None) -> list[CheckResult]:
    """Run every smoke test against `base_url`; results in policy order."""
    import requests

    tests = list(verify.smoke_tests) + (builtin_checks(verify) if include_builtin else [])
    stop = time.monotonic() + (deadline if deadline is not None else verify.deadline.seconds)
    with requests.Session() as http, ThreadPoolExecutor(max_workers=verify.parallel) as pool:
        futures = [pool.submit(_run_one, http, base_url, test, version, verify, stop) for test in tests]
        return [future.result() for future in futures]


def failed_critical(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if not r.ok and r.critical]


def as_markdown(results: list[CheckResult]) -> str:
    rows = ["| check | result | status | latency | attempts |", "|---|---|---|---|---|"]
    for r in results:
        mark = "pass" if r.ok else ("FAIL" if r.critical else "warn")
        latency = f"{r.latency_ms:.0f} ms" if r.latency_ms is not None else "-"
        rows.append(f"| {r.name} | {mark}: {re.sub(r'[|]', '/', r.message)} | {r.status or '-'} | {latency} | "
                    f"{r.attempts} |")
    return "\n".join(rows)
