"""The built-in HTTP load probe: N requests over C keep-alive connections, latency percentiles, error rate.

It is deliberately small (a load *probe*, not a load-testing tool): enough to catch a release that is
much slower or fails more often than the policy allows, before or right after it reaches staging or
production. It only ever talks to the one URL it is given, and stops after `requests` requests or at
its time limit, whichever comes first.
"""

from __future__ import annotations

import http.client
import math
import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

REQUEST_TIMEOUT = 10.0  # seconds one request may take before it counts as an error
MAX_ERROR_SAMPLES = 5


@dataclass
class ProbeResult:
    url: str
    requested: int
    concurrency: int
    latencies: list[float] = field(default_factory=list)  # seconds, for every request that got a response
    statuses: dict[int, int] = field(default_factory=dict)
    failed: int = 0  # non-2xx/3xx responses and connection errors
    connection_errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    duration: float = 0.0
    stopped_by_time_limit: bool = False

    @property
    def sent(self) -> int:
        return len(self.latencies) + self.connection_errors

    @property
    def error_rate(self) -> float:
        return self.failed / self.sent if self.sent else 1.0

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile of the response latencies, in seconds."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return ordered[rank - 1]

    def as_dict(self, percentile: int) -> dict:
        points = sorted({50, 95, 99, percentile})
        return {
            "url": self.url, "requests": self.requested, "sent": self.sent, "concurrency": self.concurrency,
            "failed": self.failed, "connection_errors": self.connection_errors,
            "error_rate_percent": round(self.error_rate * 100, 3),
            "status_counts": {str(k): v for k, v in sorted(self.statuses.items())},
            "latency_ms": {f"p{p}": _ms(self.percentile(p)) for p in points}
                          | {"max": _ms(max(self.latencies, default=None)),
                             "mean": _ms(sum(self.latencies) / len(self.latencies) if self.latencies else None)},
            "duration_seconds": round(self.duration, 3),
            "requests_per_second": round(self.sent / self.duration, 1) if self.duration else None,
            "stopped_by_time_limit": self.stopped_by_time_limit, "error_samples": self.error_samples,
        }


def probe(url: str, *, requests: int, concurrency: int, time_limit: float,
          request_timeout: float = REQUEST_TIMEOUT) -> ProbeResult:
    """Send `requests` GET requests to `url` from `concurrency` threads, each on its own keep-alive connection."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an absolute http(s) URL")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    result = ProbeResult(url, requests, min(concurrency, requests))
    lock = threading.Lock()
    issued = [0]
    started = time.monotonic()
    deadline = started + time_limit

    def take_slot() -> bool:
        with lock:
            if issued[0] >= requests:
                return False
            if time.monotonic() >= deadline:
                result.stopped_by_time_limit = True
                return False
            issued[0] += 1
            return True

    def record(latency: float | None, status: int | None, error: str | None) -> None:
        with lock:
            if latency is not None:
                result.latencies.append(latency)
            if status is not None:
                result.statuses[status] = result.statuses.get(status, 0) + 1
            if status is None:
                result.connection_errors += 1
            if error is not None:
                result.failed += 1
                if len(result.error_samples) < MAX_ERROR_SAMPLES:
                    result.error_samples.append(error)

    def worker() -> None:
        connection = None
        try:
            while take_slot():
                if connection is None:
                    connection = _connect(parts, request_timeout)
                begin = time.perf_counter()
                try:
                    connection.request("GET", target, headers={"User-Agent": "bayat-deploy-loadprobe",
                                                               "Connection": "keep-alive"})
                    response = connection.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException) as exc:
                    record(None, None, f"{type(exc).__name__}: {exc}")
                    connection.close()
                    connection = None
                    continue
                latency = time.perf_counter() - begin
                ok = 200 <= response.status < 400
                record(latency, response.status, None if ok else f"HTTP {response.status}")
                if response.will_close:
                    connection.close()
                    connection = None
        finally:
            if connection is not None:
                connection.close()

    threads = [threading.Thread(target=worker, name=f"loadprobe-{i}", daemon=True)
               for i in range(result.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        # A worker ends at the deadline plus at most one request's timeout.
        thread.join(timeout=max(0.0, deadline - time.monotonic()) + request_timeout + 1)
    result.duration = time.monotonic() - started
    return result


def _connect(parts, timeout: float) -> http.client.HTTPConnection:
    if parts.scheme == "https":
        return http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout,
                                           context=ssl.create_default_context())
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


@dataclass(frozen=True)
class Breach:
    id: str
    title: str
    detail: str


def evaluate(result: ProbeResult, *, percentile: int, max_latency: float, max_error_rate: float) -> list[Breach]:
    """Compare the probe with the policy's thresholds (seconds, fraction); an empty list means it passed."""
    breaches = []
    if result.sent == 0:
        return [Breach("performance.no-requests", "the load probe sent no request",
                       "the time limit was reached before the first request")]
    if result.error_rate > max_error_rate:
        samples = "; ".join(result.error_samples)
        breaches.append(Breach(
            "performance.error-rate",
            f"error rate {result.error_rate * 100:.2f}% exceeds the allowed {max_error_rate * 100:g}%",
            f"{result.failed} of {result.sent} requests to {result.url} failed"
            + (f" (e.g. {samples})" if samples else "")))
    observed = result.percentile(percentile)
    if observed is None:
        breaches.append(Breach("performance.latency", f"no response to measure p{percentile} latency from",
                               f"every request to {result.url} failed to connect"))
    elif observed > max_latency:
        breaches.append(Breach(
            "performance.latency",
            f"p{percentile} latency {observed * 1000:.0f} ms exceeds the allowed {max_latency * 1000:g} ms",
            f"measured over {len(result.latencies)} responses from {result.url}"))
    return breaches
