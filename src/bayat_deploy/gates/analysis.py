"""Canary analysis: is the new version worse than the one it replaces, judged from real metrics?

For one analysis interval, each metric (the error ratio, and the latency percentile of the policy's
rollback trigger) is queried as a range series for the canary track and for the baseline track (the
version still serving the rest of the traffic). Each point is the metric over a rate window
(`analysis.window`, twice the scrape interval), taken every half window across the interval: with two
scrapes per window, each point holds the requests between two consecutive scrapes, so the points cover
the whole interval and no request is counted twice. Overlapping counts would make the rank test below
over-confident: with a few hundred requests an interval, chance would look "significant".

Per metric, in this order:

1. **Canary data.** Missing values (NaN: Prometheus's 0/0 when a window saw no request) are dropped,
   never read as zero (Flagger #1095). No canary sample at all is *no data*; fewer than
   `analysis.min_samples` is *too little data*; a query the provider could not answer (Prometheus down,
   bad PromQL) is an *error*, reported with the provider's text. All three are explicit outcomes decided
   by `analysis.on_no_data`: fail -> fail, pause -> inconclusive, pass -> pass, and the report says so.
   Nothing indexes into an empty result (Argo Rollouts #1466 aborted rollouts with "reflect: slice
   index out of range"), and an idle canary is not silently promoted (Flagger #1035 halted it with no
   policy choice). Scrapes and health probes are left out by the default queries, so an idle canary
   really has no data.
2. **Threshold.** The canary's value over the interval (mean of its samples) above the policy's rollback
   trigger (`rollback.triggers.error_rate`, `.latency.max`) fails, whatever the baseline does: an SLA
   breach is a breach even if the old version breaches it too.
3. **No baseline by design** (blue/green after the switch: the previous version has no traffic left):
   the threshold alone decides; the report says "thresholds only". A baseline that receives traffic but
   has too little data is *not* skipped: the comparison cannot be made, which is again the
   `on_no_data` outcome.
4. **Comparison.** A one-sided Mann-Whitney U test asks whether the canary's samples tend to be larger
   (worse) than the baseline's, at `analysis.confidence`. As in Kayenta, significance alone does not
   fail a canary: enough samples make tiny, harmless differences significant. The difference of the
   means must also exceed a tolerance: `error_rate_tolerance` percentage points for the error ratio; for
   latency, `latency_tolerance` of the baseline and at least `latency_min_change`.
   - significantly worse *and* beyond the tolerance -> **fail**;
   - beyond the tolerance, but so few samples that even a complete separation could not be significant
     at this confidence -> **inconclusive** (the test cannot decide; the strategy analyses again and
     fails after `max_inconclusive` such intervals);
   - otherwise -> **pass**: either within the tolerance, or worse by chance as far as the test can tell
     (the report says "looks worse, not significant").

The analysis fails when any metric fails, is inconclusive when any is (and none failed), else passes.
"""

from __future__ import annotations

import math
import statistics as stats
from dataclasses import asdict, dataclass, field

from bayat_deploy.errors import BadInput
from bayat_deploy.gates.metrics import MetricsError, MetricsProvider, MetricsUnavailable
from bayat_deploy.gates.statistics import mann_whitney_u

NO_DATA_OUTCOME = {"fail": "fail", "pause": "inconclusive", "pass": "pass"}


@dataclass(frozen=True)
class Settings:
    """The numbers an analysis needs, from the environment's `analysis` and `rollback.triggers`."""

    interval: float
    window: float
    confidence: float = 0.95
    min_samples: int = 10
    on_no_data: str = "fail"
    error_rate_threshold: float | None = 0.05  # a ratio, not per cent
    latency_quantile: float = 0.95
    latency_max: float | None = 0.5  # seconds
    error_rate_tolerance: float = 0.01  # ratio points
    latency_tolerance: float = 0.2  # share of the baseline
    latency_min_change: float = 0.005  # seconds
    traffic_filter: str = 'path!~"/metrics|/health"'  # label matchers for user traffic only

    def __post_init__(self):
        if not 0 < self.window <= self.interval or self.samples < self.min_samples:
            needed = self.window / 2 * (self.min_samples + 1)
            raise BadInput(
                f"analysis.interval ({self.interval:g}s) gives {self.samples} sample(s) of {self.window:g}s windows "
                f"(analysis.window) taken every half window, fewer than analysis.min_samples ({self.min_samples}): "
                f"lengthen the interval to {needed:g}s or shorten the window")

    @property
    def step(self) -> float:
        """Half a window: with a window of two scrapes, each sample holds one scrape-to-scrape increment."""
        return self.window / 2

    @property
    def samples(self) -> int:
        """Samples per track and interval: windows ending every `step`, all inside the interval."""
        if self.window <= 0 or self.window > self.interval:
            return 0
        return math.floor((self.interval - self.window) / self.step + 1e-9) + 1

    @classmethod
    def from_environment(cls, env, interval: float | None = None) -> "Settings":
        analysis, triggers = env.analysis, env.rollback.triggers
        length = interval if interval is not None else analysis.interval.seconds
        longest = 2 * length / (analysis.min_samples + 1)  # the longest window still giving min_samples samples
        window = (analysis.window.seconds if analysis.window is not None
                  else math.floor(longest) if longest >= 1 else longest)
        latency = triggers.latency
        return cls(interval=length, window=window, confidence=analysis.confidence,
                   min_samples=analysis.min_samples, on_no_data=analysis.on_no_data,
                   error_rate_threshold=None if triggers.error_rate is None else triggers.error_rate.value / 100,
                   latency_quantile=(latency.percentile if latency else 95) / 100,
                   latency_max=latency.max.seconds if latency else None,
                   error_rate_tolerance=analysis.error_rate_tolerance.value / 100,
                   latency_tolerance=analysis.latency_tolerance.value / 100,
                   latency_min_change=analysis.latency_min_change.seconds,
                   traffic_filter=analysis.traffic_filter.strip().strip(","))


@dataclass(frozen=True)
class Metric:
    """One metric to judge: its PromQL template and how its values read."""

    name: str  # error-rate | latency
    label: str  # shown in reports: "error rate", "p95 latency"
    template: str
    unit: str  # ratio | seconds
    threshold: float | None

    def allowed_increase(self, baseline: float, settings: Settings) -> float:
        if self.unit == "ratio":
            return settings.error_rate_tolerance
        return max(settings.latency_tolerance * baseline, settings.latency_min_change)

    def show(self, value: float | None) -> str:
        return show(value, self.unit)

    def show_change(self, value: float) -> str:
        return f"{value * 100:+.2f} pp" if self.unit == "ratio" else f"{value * 1000:+.1f} ms"


def show(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value * 100:.2f}%" if unit == "ratio" else f"{value * 1000:.1f} ms"


def metrics_for(monitoring, settings: Settings) -> list[Metric]:
    """The metrics the analysis judges, from the policy's `monitoring:` templates."""
    percentile = round(settings.latency_quantile * 100)
    return [Metric("error-rate", "error rate", monitoring.error_rate, "ratio", settings.error_rate_threshold),
            Metric("latency", f"p{percentile} latency", monitoring.latency, "seconds", settings.latency_max)]


def prometheus_duration(seconds: float) -> str:
    return f"{int(seconds)}s" if float(seconds).is_integer() else f"{round(seconds * 1000)}ms"


def render(template: str, *, job: str, track: str, window: float, quantile: float, traffic: str = "") -> str:
    """Fill a PromQL template (a Python format string: literal braces are doubled)."""
    selector = 'job="{}",track="{}"'.format(job.replace('"', '\\"'), track) + (f",{traffic}" if traffic else "")
    try:
        return template.format(selector=selector, interval=prometheus_duration(window), quantile=f"{quantile:g}",
                               job=job, track=track)
    except (KeyError, IndexError, ValueError) as exc:
        raise MetricsError(f"the query template cannot be filled in ({type(exc).__name__}: {exc}); placeholders "
                           "are {selector}, {interval}, {quantile}, and literal braces are doubled: {template}"
                           .replace("{template}", template)) from None


@dataclass
class MetricResult:
    metric: str
    label: str
    unit: str
    outcome: str  # pass | fail | inconclusive
    data: str  # ok | no-data | too-little-data | error
    reason: str
    canary: float | None = None
    baseline: float | None = None
    threshold: float | None = None
    p_value: float | None = None
    change: float | None = None  # canary - baseline, in the metric's unit
    allowed: float | None = None  # the tolerance for `change`
    canary_samples: int = 0
    baseline_samples: int | None = None
    queries: dict[str, str] = field(default_factory=dict)


def _mean(values: list[float]) -> float | None:
    return stats.fmean(values) if values else None


def _no_data(metric: Metric, settings: Settings, kind: str, text: str, **fields) -> MetricResult:
    outcome = NO_DATA_OUTCOME[settings.on_no_data]
    return MetricResult(metric.name, metric.label, metric.unit, outcome, kind,
                        f"{text}; policy analysis.on_no_data: {settings.on_no_data} -> {outcome}", **fields)


def judge(metric: Metric, canary: list[float], baseline: list[float] | None, settings: Settings,
          *, baseline_problem: str = "") -> MetricResult:
    """Decide one metric from its samples (NaN already dropped). `baseline` None: thresholds only."""
    common = {"threshold": metric.threshold, "canary_samples": len(canary),
              "baseline_samples": None if baseline is None else len(baseline)}
    if not canary:
        return _no_data(metric, settings, "no-data", f"no data: the canary has no {metric.label} samples in the "
                        f"interval (is it receiving traffic, is Prometheus scraping it, and does each "
                        f"{prometheus_duration(settings.window)} window hold two scrapes?)", **common)
    if len(canary) < settings.min_samples:
        return _no_data(metric, settings, "too-little-data", f"too little data: {len(canary)} {metric.label} "
                        f"sample(s) for the canary, at least {settings.min_samples} needed", **common)
    value, base = _mean(canary), _mean(baseline or [])
    result = MetricResult(metric.name, metric.label, metric.unit, "pass", "ok", "", value, base, **common)
    where = f"{metric.label} {metric.show(value)} on the canary"
    limit = f"threshold {metric.show(metric.threshold)}" if metric.threshold is not None else "no threshold"
    if metric.threshold is not None and value > metric.threshold:
        result.outcome = "fail"
        result.reason = (f"{where} exceeds the {limit} by {metric.show_change(value - metric.threshold)}"
                         + (f" (baseline {metric.show(base)})" if base is not None else ""))
        if baseline and len(baseline) >= settings.min_samples:
            result.p_value = mann_whitney_u(canary, baseline, "greater").p_value
        return result
    if baseline is None:
        why = baseline_problem or "no baseline receives traffic"
        result.reason = f"{where}, within the {limit}; thresholds only: {why}"
        if metric.threshold is None:
            result.reason = f"{where}; not judged: no threshold in the policy and {why}"
        return result
    if len(baseline) < settings.min_samples:
        kind = "no-data" if not baseline else "too-little-data"
        compared = _no_data(metric, settings, kind, f"{where}, within the {limit}, but the baseline has "
                            f"{len(baseline)} {metric.label} sample(s), at least {settings.min_samples} needed to "
                            "compare", **common)
        compared.canary, compared.baseline = value, base
        return compared
    test = mann_whitney_u(canary, baseline, "greater")
    alpha = 1 - settings.confidence
    result.p_value = test.p_value
    result.change = value - base
    result.allowed = metric.allowed_increase(base, settings)
    versus = (f"{where} vs {metric.show(base)} on the baseline ({metric.show_change(result.change)}, "
              f"tolerance {metric.show_change(result.allowed).lstrip('+')}, p={test.p_value:.4f}, {limit})")
    beyond = result.change > result.allowed
    confidence = f"{settings.confidence * 100:g}%"
    if beyond and test.p_value < alpha:
        result.outcome, result.reason = "fail", f"{versus}: significantly worse at {confidence} confidence"
    elif beyond and _best_possible_p(len(canary), len(baseline)) >= alpha:
        result.outcome = "inconclusive"
        result.reason = (f"{versus}: looks worse, but {len(canary)} and {len(baseline)} samples cannot show a "
                         f"difference at {confidence}")
    elif beyond:
        result.reason = f"{versus}: looks worse, not significant at {confidence}"
    else:
        result.reason = f"{versus}: " + ("within tolerance" if test.p_value < alpha else "no significant worsening")
    return result


def _best_possible_p(n_canary: int, n_baseline: int) -> float:
    """The p-value of a complete separation: the most these sample sizes can show."""
    return mann_whitney_u([1.0] * n_canary, [0.0] * n_baseline, "greater").p_value


@dataclass
class Report:
    outcome: str
    canary_track: str
    baseline_track: str | None
    start: float  # first sample time (Unix)
    end: float
    settings: Settings
    metrics: list[MetricResult]
    provider: str = "prometheus"

    @property
    def reason(self) -> str:
        chosen = [m for m in self.metrics if m.outcome == self.outcome] if self.outcome != "pass" else []
        if chosen:
            by_reason: dict[str, list[str]] = {}
            for m in chosen:  # one line per distinct reason: Prometheus down is said once, not per metric
                by_reason.setdefault(m.reason, []).append(m.label)
            return "; ".join(f"{', '.join(labels)}: {reason}" for reason, labels in by_reason.items())
        compared = "vs " + self.baseline_track if self.baseline_track else "thresholds only"
        return f"{len(self.metrics)} metric(s) passed ({self.canary_track} {compared})"

    def to_dict(self) -> dict:
        settings = {**asdict(self.settings), "step": self.settings.step, "samples": self.settings.samples}
        return _finite({"outcome": self.outcome, "reason": self.reason, "canary_track": self.canary_track,
                        "baseline_track": self.baseline_track, "provider": self.provider, "start": self.start,
                        "end": self.end, "settings": settings, "metrics": [asdict(m) for m in self.metrics]})

    def rows(self) -> list[list[str]]:
        rows = []
        for m in self.metrics:
            rows.append([m.label, m.outcome.upper() if m.outcome != "pass" else "pass", show(m.canary, m.unit),
                         show(m.baseline, m.unit), show(m.threshold, m.unit),
                         "-" if m.p_value is None else f"{m.p_value:.4f}",
                         f"{m.canary_samples}/{'-' if m.baseline_samples is None else m.baseline_samples}",
                         m.reason])
        return rows

    HEADER = ["metric", "result", "canary", "baseline", "threshold", "p-value", "samples", "why"]

    def table(self) -> str:
        rows = [self.HEADER] + [r[:-1] for r in self.rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self.HEADER) - 1)]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
        lines += [f"  {r[0]}: {r[-1]}" for r in self.rows()]
        return "\n".join(lines)

    def markdown(self) -> str:
        head = "| " + " | ".join(self.HEADER) + " |\n|" + "---|" * len(self.HEADER)
        body = "\n".join("| " + " | ".join(cell.replace("|", "\\|") for cell in r) + " |" for r in self.rows())
        return f"{head}\n{body}"


# The Docker host target labels each instance with its track; the candidate is scraped as "canary".
TRACK_LABELS = {"candidate": "canary", "stable": "stable", "warm": "warm"}


def tracks_to_compare(state) -> tuple[str, str | None]:
    """(canary, baseline) track labels for a target's state: the candidate against the previous version
    while that still serves traffic (stable, else warm); without a candidate, the serving version alone.
    A baseline of None means thresholds only."""
    if "candidate" not in state.tracks:
        return TRACK_LABELS["stable"], None
    for name in ("stable", "warm"):
        track = state.tracks.get(name)
        if track is not None and track.weight > 0:
            return TRACK_LABELS["candidate"], TRACK_LABELS[name]
    return TRACK_LABELS["candidate"], None


def targets_up(provider: MetricsProvider, *, job: str, track: str, version: str | None, at: float) -> int:
    """How many of a track's targets (of that version) the provider scraped successfully at `at`.

    Prometheus applies service-discovery changes in batches (every 5 s), so an instance launched a moment
    ago, or one whose track label just changed, is not yet scraped under its new labels."""
    labels = {"job": job, "track": track, **({"version": version} if version else {})}
    matchers = ",".join('{}="{}"'.format(k, v.replace("\\", "\\\\").replace('"', '\\"')) for k, v in labels.items())
    values = [v for s in provider.query(f"count(up{{{matchers}}} == 1)", at, at, 1.0) for v in s.values()]
    return int(values[-1]) if values else 0


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _samples(provider: MetricsProvider, expr: str, start: float, until: float, step: float) -> list[float]:
    return [v for series in provider.query(expr, start, until, step) for v in series.values()]


def analyze(provider: MetricsProvider, settings: Settings, metrics: list[Metric], *, job: str, end: float,
            canary: str = "canary", baseline: str | None = "stable") -> Report:
    """One analysis over the interval ending at `end`: each metric judged; never raises for missing data."""
    start = end - (settings.samples - 1) * settings.step  # the first window starts with the interval
    until = end + settings.step / 2  # the last point is `end`, whatever the rounding of the times
    unreachable: MetricsUnavailable | None = None
    results = []
    for metric in metrics:
        quantile = settings.latency_quantile
        queries = {}
        try:
            for role, track in (("canary", canary), ("baseline", baseline)):
                if track:
                    queries[role] = render(metric.template, job=job, track=track, window=settings.window,
                                           quantile=quantile, traffic=settings.traffic_filter)
            if unreachable:
                raise unreachable
            canary_values = _samples(provider, queries["canary"], start, until, settings.step)
        except MetricsError as exc:
            unreachable = exc if isinstance(exc, MetricsUnavailable) else unreachable
            text = str(exc) if isinstance(exc, MetricsUnavailable) else f"query failed: {exc}"
            result = _no_data(metric, settings, "error", f"{text}; treated as no data",
                              threshold=metric.threshold)
            result.queries = queries
            results.append(result)
            continue
        baseline_values, problem = None, ""
        if baseline:
            try:
                baseline_values = _samples(provider, queries["baseline"], start, until, settings.step)
            except MetricsError as exc:
                problem = f"the baseline query failed: {exc}"
        result = judge(metric, canary_values, baseline_values if not problem else None, settings,
                       baseline_problem=problem)
        result.queries = queries
        results.append(result)
    outcomes = {r.outcome for r in results}
    outcome = "fail" if "fail" in outcomes else "inconclusive" if "inconclusive" in outcomes else "pass"
    return Report(outcome, canary, baseline, start, end, settings, results, getattr(provider, "name", "metrics"))
