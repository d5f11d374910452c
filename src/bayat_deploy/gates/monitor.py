"""Post-deployment monitoring (standard: Monitoring and Alerting): the same metrics before and after a deploy.

"Before" is the window of the watch's length that ends when the rollout began; "after" starts when it
finished and grows while `watch` polls, every `interval`, until it is as long as the before window. Each poll
compares every metric:

- the error ratio, the latency percentile of the rollback trigger, CPU and memory (the policy's
  `monitoring:` PromQL templates, with `{selector}` = the environment's job, `{interval}` = the poll
  interval, which is also the query step), and the environment's `monitoring.queries` (business metrics,
  `{job}` and `{interval}` filled in);
- a value is the mean of a window's points (NaN points - 0/0 when no request came - are missing data);
- the *change* is relative and signed so that positive means worse: up for errors, latency, CPU and memory,
  down for business metrics (transactions, user activity: a drop is the regression). It is measured against
  at least a noise floor (1% error ratio, 25 ms, 0.05 cores, 32 MiB; business values have none), so that a
  baseline of exactly zero does not turn one error into an infinite change, nor 2 ms -> 4 ms into a page;
- level: an absolute breach of a rollback trigger (error ratio above `rollback.triggers.error_rate`, latency
  above `rollback.triggers.latency.max`) is **critical**; otherwise a worsening of at least
  `monitoring.critical_change` is critical, of at least `monitoring.warning_change` a warning, else info;
  no point in the after window is **no-data** (and so is a query the provider could not answer).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

from bayat_deploy.errors import BadInput
from bayat_deploy.gates.metrics import MetricsError

LEVEL_ORDER = ("no-data", "info", "warning", "critical")
# A relative change is measured against at least these: below them a doubling is noise, not a regression
# (an error ratio of 0.1% -> 0.2%, 2 ms -> 4 ms of latency, 1% -> 2% of one core, 40 -> 42 MiB).
NOISE_FLOOR = {"ratio": 0.01, "seconds": 0.025, "cores": 0.05, "bytes": float(32 << 20), "value": 1e-9}
MAX_POINTS = 1000  # per query; Prometheus refuses more than 11,000


@dataclass(frozen=True)
class MetricQuery:
    name: str  # error_rate | latency_p95 | cpu | memory | a business query's name
    label: str  # shown in reports and charts
    expr: str
    unit: str  # ratio | seconds | cores | bytes | value
    worse: str = "up"  # the direction of a regression: up, or down for business metrics
    threshold: float | None = None  # the rollback trigger's absolute limit, in `unit`
    trigger: str = ""  # which rollback trigger `threshold` is (error-rate | latency)


def queries_for(policy, environment: str, interval: float) -> list[MetricQuery]:
    """The rendered queries for one environment; the policy must name a metrics provider."""
    from bayat_deploy.gates.analysis import prometheus_duration

    provider = policy.monitoring
    if provider is None:
        raise BadInput("monitoring: the policy names no metrics provider; add `monitoring: {url: <Prometheus URL>}` "
                       "to .bayat/deploy.yml")
    env = policy.environment(environment)
    job = policy.substitute(provider.job, environment)
    window = prometheus_duration(interval)
    triggers = env.rollback.triggers
    percentile = triggers.latency.percentile if triggers.latency else 95
    values = {"selector": 'job="{}"'.format(job.replace('"', '\\"')), "interval": window,
              "quantile": f"{percentile / 100:g}", "job": job}

    def fill(name: str, template: str) -> str:
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError) as exc:
            raise BadInput(f"monitoring.{name}: the query template cannot be filled in ({exc}); placeholders are "
                           "{selector}, {interval}, {quantile}, and literal braces are doubled") from None

    queries = [
        MetricQuery("error_rate", "Error rate", fill("error_rate", provider.error_rate), "ratio",
                    threshold=triggers.error_rate.fraction if triggers.error_rate else None, trigger="error-rate"),
        MetricQuery(f"latency_p{percentile}", f"Latency p{percentile}", fill("latency", provider.latency), "seconds",
                    threshold=triggers.latency.max.seconds if triggers.latency else None, trigger="latency"),
        MetricQuery("cpu", "CPU", fill("cpu", provider.cpu), "cores"),
        MetricQuery("memory", "Memory", fill("memory", provider.memory), "bytes"),
    ]
    for name, template in env.monitoring.queries.items():
        # business queries are written by hand in PromQL, braces and all: plain replacement, not format()
        expr = template.replace("{job}", job).replace("{interval}", window)
        queries.append(MetricQuery(name, name.replace("_", " ").capitalize(), expr, "value", worse="down"))
    return queries


def show(value: float | None, unit: str) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if unit == "ratio":
        return f"{value * 100:.2f}%"
    if unit == "seconds":
        return f"{value * 1000:.1f} ms"
    if unit == "bytes":
        return f"{value / (1 << 20):.1f} MiB"
    if unit == "cores":
        return f"{value:.3f} cores"
    return f"{value:.4g}"


@dataclass
class Comparison:
    query: MetricQuery
    before: float | None
    after: float | None
    change: float | None  # relative; positive = worse
    level: str  # no-data | info | warning | critical
    reason: str
    breach: bool = False  # a rollback trigger's absolute limit is exceeded
    before_points: list = field(default_factory=list)
    after_points: list = field(default_factory=list)

    def to_dict(self) -> dict:
        query = self.query
        return {"metric": query.name, "label": query.label, "unit": query.unit, "query": query.expr,
                "worse": query.worse, "before": self.before, "after": self.after, "change": self.change,
                "threshold": query.threshold, "trigger": query.trigger or None, "level": self.level,
                "breach": self.breach, "reason": self.reason,
                "samples": {"before": len(self.before_points), "after": len(self.after_points)}}


def _mean(points: list) -> float | None:
    values = [v for _, v in points if math.isfinite(v)]
    return sum(values) / len(values) if values else None


def compare(query: MetricQuery, before_points: list, after_points: list, *, warning: float,
            critical: float, error: str = "") -> Comparison:
    """One metric's verdict; `warning`/`critical` are fractions (0.2 = 20% worse)."""
    before, after = _mean(before_points), _mean(after_points)
    if error or after is None:
        reason = error or "no data after the deploy (is the service scraped and receiving traffic?)"
        return Comparison(query, before, None, None, "no-data", reason, False, before_points, after_points)
    change = None
    if before is not None:
        direction = 1 if query.worse == "up" else -1
        change = direction * (after - before) / max(abs(before), NOISE_FLOOR[query.unit])
    shown_after = show(after, query.unit)
    if query.threshold is not None and after > query.threshold:
        return Comparison(query, before, after, change, "critical",
                          f"{shown_after} exceeds the {query.trigger} rollback trigger "
                          f"({show(query.threshold, query.unit)})", True, before_points, after_points)
    if change is None:
        return Comparison(query, before, after, None, "info", f"{shown_after}; no data before the deploy to compare",
                          False, before_points, after_points)
    worse = f"{change * 100:+.0f}% ({show(before, query.unit)} -> {shown_after})"
    if change >= critical:
        level, reason = "critical", f"{worse}, at least {critical * 100:g}% worse"
    elif change >= warning:
        level, reason = "warning", f"{worse}, at least {warning * 100:g}% worse"
    else:
        level, reason = "info", worse
    return Comparison(query, before, after, change, level, reason, False, before_points, after_points)


@dataclass(frozen=True)
class Windows:
    """Before: `duration` up to when the rollout began; after: from when it finished, for `duration`.

    The rollout itself (a canary's steps, a rolling update) mixes old and new and belongs to neither.
    Given one deploy time, both are that moment."""

    started: float  # the rollout began: the before window ends here
    deployed_at: float  # the rollout finished: the after window starts here
    duration: float
    interval: float

    @property
    def before(self) -> tuple[float, float]:
        return self.started - self.duration, self.started

    @property
    def after(self) -> tuple[float, float]:
        return self.deployed_at, self.end

    @property
    def end(self) -> float:
        return self.deployed_at + self.duration

    @property
    def step(self) -> float:
        return max(self.interval, self.duration / MAX_POINTS)


def _points(provider, expr: str, start: float, end: float, step: float) -> list[tuple[float, float]]:
    """The query's points; several series (a business query without `sum`) are added up per timestamp."""
    totals: dict[float, float] = {}
    for series in provider.query(expr, start, end, step):
        for at, value in series.points:
            totals[at] = totals.get(at, 0.0) + value
    return sorted(totals.items())


Observer = Callable[[list[Comparison], bool], bool]


def watch(provider, queries: list[MetricQuery], windows: Windows, *, warning: float, critical: float,
          observe: Observer, clock: Callable[[], float] = time.time,
          sleep: Callable[[float], None] = time.sleep) -> list[Comparison]:
    """Poll until the after window is complete (or `observe` returns True to stop); the last comparisons.

    `observe(comparisons, final)` sees every poll. The loop is bounded: it ends once the clock passes the
    end of the after window, at most one interval later than that end."""
    before: dict[str, tuple[list, str]] = {}
    for query in queries:
        try:
            before[query.name] = (_points(provider, query.expr, *windows.before, windows.step), "")
        except MetricsError as exc:
            before[query.name] = ([], str(exc))
    while True:
        now = clock()
        end = min(now, windows.end)
        final = now >= windows.end
        comparisons = []
        for query in queries:
            points, error = [], ""
            # a point at t covers (t - interval, t]: the first one wholly after the deploy is one step in
            first = windows.deployed_at + windows.step
            if end >= first:
                try:
                    points = _points(provider, query.expr, first, end, windows.step)
                except MetricsError as exc:
                    error = str(exc)
            comparisons.append(compare(query, before[query.name][0], points, warning=warning, critical=critical,
                                       error=error))
        if observe(comparisons, final) or final:
            return comparisons
        sleep(max(0.0, min(windows.interval, windows.end - now)))


def worst(levels) -> str:
    return max(levels, key=LEVEL_ORDER.index, default="info")
