"""Metrics providers: one question, `query(expr, start, end, step) -> [Series]`, answered from a backend.

Analysis code asks for an expression over a time range and gets series of (timestamp, value) points;
it never builds URLs. Prometheus's HTTP API is the first provider. A provider raises `MetricsError`
(with the backend's own words) when it cannot answer, and `MetricsUnavailable` when the backend cannot
be reached at all; an empty answer is an empty list, never an error, so that "no data" stays a separate,
explicit outcome for the caller to judge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

from bayat_deploy.errors import BayatError


class MetricsError(BayatError):
    """Raised when the metrics provider rejects a query or answers something that is not a result."""


class MetricsUnavailable(MetricsError):
    """Raised when the metrics provider cannot be reached (connection refused, timeout, DNS)."""


@dataclass(frozen=True)
class Series:
    """One labelled series; values are floats and may be NaN (Prometheus's answer for 0/0)."""

    labels: dict[str, str] = field(default_factory=dict)
    points: tuple[tuple[float, float], ...] = ()

    def values(self) -> list[float]:
        """The finite values: NaN and infinities are missing data, never zero."""
        return [v for _, v in self.points if math.isfinite(v)]


class MetricsProvider(Protocol):
    name: str

    def query(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        """Evaluate `expr` at every `step` seconds from `start` to `end` (Unix times)."""


def _number(text: str) -> float:
    try:
        return float(text)  # Prometheus writes NaN, +Inf and -Inf; float() reads all three
    except (TypeError, ValueError):
        raise MetricsError(f"the metrics provider answered a value that is not a number: {text!r}") from None


def _why(exc: Exception) -> str:
    """The useful part of a requests error: "ConnectionError: [Errno 111] Connection refused"."""
    import re

    text = str(exc)
    found = re.search(r"\[Errno -?\d+\][^'\")]*", text) or re.search(r"timed out[^'\")]*", text)
    return f"{type(exc).__name__}: {found.group(0).strip() if found else text[:200]}"


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


class PrometheusProvider:
    """The Prometheus HTTP API: GET /api/v1/query_range (https://prometheus.io/docs/prometheus/latest/querying/api/)."""

    name = "prometheus"

    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0):
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout

    def query(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        import requests

        params = {"query": expr, "start": _seconds(start), "end": _seconds(end), "step": _seconds(step),
                  "timeout": f"{max(1, int(self.timeout))}s"}
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = requests.get(f"{self.url}/api/v1/query_range", params=params, headers=headers,
                                    timeout=self.timeout)
        except requests.RequestException as exc:
            raise MetricsUnavailable(f"Prometheus at {self.url} is unreachable ({_why(exc)})") from None
        try:
            document = response.json()
        except ValueError:
            raise MetricsError(f"Prometheus at {self.url} answered HTTP {response.status_code} without JSON: "
                               f"{response.text[:200]!r}") from None
        if response.status_code != 200 or document.get("status") != "success":
            kind = document.get("errorType", f"HTTP {response.status_code}")
            raise MetricsError(f"Prometheus rejected the query ({kind}): {document.get('error', response.reason)}")
        data = document.get("data") or {}
        if data.get("resultType") != "matrix":
            raise MetricsError(f"Prometheus answered a {data.get('resultType')!r} to a range query, not a matrix")
        return [Series(dict(item.get("metric", {})),
                       tuple((float(t), _number(v)) for t, v in item.get("values", [])))
                for item in data.get("result", [])]


def provider_for(session) -> MetricsProvider:
    """The provider the policy's `monitoring:` names (the caller checks that it is set)."""
    from bayat_deploy.secrets import resolve

    settings = session.policy.monitoring
    token = resolve(settings.token, session.context, what="monitoring.token")
    if settings.type == "prometheus":
        return PrometheusProvider(str(settings.url), token)
    raise MetricsError(f"monitoring.type {settings.type!r} has no provider")
