"""Canary analysis decisions (gates/analysis.py): the per-metric rules, the no-data outcomes, the report,
and many analyses replayed from series recorded once from the real example (tests/gates/data).

The recording came from the bundled example behind nginx under load, scraped every second by a real
Prometheus (`python bench/analysis.py --record`); replaying it runs the real analysis code through the
metrics-provider interface. End-to-end runs against a live Prometheus are in test_analysis_prometheus.py.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest

from bayat_deploy.deploy.targets.base import Release, State, Track
from bayat_deploy.errors import BadInput
from bayat_deploy.gates.analysis import Metric, Settings, analyze, judge, metrics_for, render, tracks_to_compare
from bayat_deploy.policy.model.operations import MetricsProvider
from tests.support.prometheus import load_recording, replay_provider

RECORDING = Path(__file__).parent / "data" / "canary-series.json"
SETTINGS = Settings(interval=10.0, window=2.0, min_samples=5)
ERRORS = Metric("error-rate", "error rate", "", "ratio", 0.05)
LATENCY = Metric("latency", "p95 latency", "", "seconds", 0.5)
CLEAN = [0.0] * 11


@pytest.mark.parametrize("metric, canary, baseline, outcome, data, words", [
    (ERRORS, CLEAN, CLEAN, "pass", "ok", "no significant worsening"),
    (ERRORS, [0.04, 0.05, 0.06, 0.05, 0.04, 0.05, 0.06, 0.03, 0.05, 0.04, 0.05], CLEAN, "fail", "ok",
     "significantly worse at 95% confidence"),
    # the old version breaches the trigger too: a breach is still a breach
    (ERRORS, [0.06] * 11, [0.06] * 11, "fail", "ok", "exceeds the threshold 5.00% by +1.00 pp"),
    # significantly but harmlessly worse (0.5 pp, tolerance 1 pp)
    (ERRORS, [0.005] * 11, CLEAN, "pass", "ok", "within tolerance"),
    # looks worse (2.2 pp) but one failing window is not evidence
    (ERRORS, [0.0] * 8 + [0.2], [0.0] * 9, "pass", "ok", "looks worse, not significant at 95%"),
    (ERRORS, CLEAN, None, "pass", "ok", "thresholds only: no baseline receives traffic"),
    (ERRORS, [0.07] * 6, None, "fail", "ok", "exceeds the threshold"),
    (LATENCY, [0.030, 0.031, 0.029, 0.030, 0.032, 0.030], [0.020, 0.021, 0.019, 0.020, 0.020, 0.021], "fail",
     "ok", "significantly worse"),
    # below the latency floor (5 ms): the histogram cannot tell such differences apart
    (LATENCY, [0.0049] * 6, [0.0047] * 6, "pass", "ok", "within tolerance"),
    (LATENCY, [0.6] * 6, [0.02] * 6, "fail", "ok", "exceeds the threshold 500.0 ms"),
    (Metric("latency", "p95 latency", "", "seconds", None), [0.02] * 6, None, "pass", "ok",
     "not judged: no threshold in the policy"),
])
def test_judge(metric, canary, baseline, outcome, data, words):
    result = judge(metric, canary, baseline, SETTINGS)
    assert (result.outcome, result.data) == (outcome, data), result.reason
    assert words in result.reason


@pytest.mark.parametrize("on_no_data, outcome", [("fail", "fail"), ("pause", "inconclusive"), ("pass", "pass")])
@pytest.mark.parametrize("canary, baseline, data, words", [
    ([], CLEAN, "no-data", "no data: the canary has no error rate samples"),
    ([0.0, 0.0, 0.0], CLEAN, "too-little-data", "too little data: 3 error rate sample(s) for the canary, at least 5"),
    # a baseline that receives traffic but has no data cannot be compared with: not a silent "thresholds only"
    (CLEAN, [], "no-data", "within the threshold 5.00%, but the baseline has 0 error rate sample(s), at least 5"),
    (CLEAN, [0.0] * 3, "too-little-data", "but the baseline has 3 error rate sample(s), at least 5 needed"),
])
def test_no_data_is_an_explicit_outcome_chosen_by_the_policy(on_no_data, outcome, canary, baseline, data, words):
    settings = Settings(interval=10.0, window=2.0, min_samples=5, on_no_data=on_no_data)
    result = judge(ERRORS, canary, baseline, settings)
    assert (result.outcome, result.data) == (outcome, data)
    assert words in result.reason and f"on_no_data: {on_no_data} -> {outcome}" in result.reason


def test_too_few_samples_to_show_a_difference_are_inconclusive():
    """3 against 3 samples cannot be significant at 99% even when every canary sample is worse."""
    settings = Settings(interval=4.0, window=2.0, min_samples=3, confidence=0.99)
    result = judge(ERRORS, [0.05, 0.06, 0.04], [0.0] * 3, settings)
    assert result.outcome == "inconclusive", result.reason
    assert "looks worse, but 3 and 3 samples cannot show a difference at 99%" in result.reason
    assert judge(ERRORS, [0.05, 0.06, 0.04], [0.0] * 3, dataclasses.replace(settings, confidence=0.95)).outcome == \
        "fail"


def test_settings_come_from_the_environment(tmp_path):
    from bayat_deploy.policy.loader import load_policy

    (tmp_path / ".bayat").mkdir()
    (tmp_path / ".bayat" / "deploy.yml").write_text(
        "project: shop\nenvironments:\n  staging:\n"
        "    analysis: {interval: 2m, confidence: 0.99, min_samples: 8, on_no_data: pause, error_rate_tolerance: 2%}\n"
        "    rollback: {triggers: {error_rate: 2%, latency: {percentile: 99, max: 300ms}}}\n")
    env = load_policy(tmp_path / ".bayat" / "deploy.yml").policy.environment("staging")
    settings = Settings.from_environment(env)
    assert (settings.interval, settings.window, settings.confidence, settings.min_samples) == (120, 26, 0.99, 8)
    assert (settings.error_rate_threshold, settings.latency_quantile, settings.latency_max) == (0.02, 0.99, 0.3)
    assert (settings.on_no_data, settings.error_rate_tolerance, settings.latency_tolerance) == ("pause", 0.02, 0.2)
    assert (settings.samples, settings.step) == (8, 13)
    assert Settings.from_environment(env, interval=20).window == 4


@pytest.mark.parametrize("interval, window", [(4, 4), (60, 30), (10, 0)])
def test_an_interval_too_short_for_min_samples_windows_is_bad_input(interval, window):
    with pytest.raises(BadInput, match=r"analysis.interval \(.*\) gives \d+ sample\(s\) of .* windows .* "
                                       r"fewer than analysis.min_samples \(10\)"):
        Settings(interval=interval, window=window)


def test_default_templates_render_to_promql_with_the_track_selector():
    metrics = metrics_for(MetricsProvider(), SETTINGS)
    assert [m.label for m in metrics] == ["error rate", "p95 latency"]
    errors = render(metrics[0].template, job="shop-staging", track="canary", window=2, quantile=0.95,
                    traffic=SETTINGS.traffic_filter)
    assert errors == ('(sum(rate(http_requests_total{job="shop-staging",track="canary",path!~"/metrics|/health",'
                      'status=~"5.."}[2s])) or vector(0)) / sum(rate(http_requests_total{job="shop-staging",'
                      'track="canary",path!~"/metrics|/health"}[2s]))')
    assert render("up{{{selector}}}", job="j", track="stable", window=60, quantile=0.5) == \
        'up{job="j",track="stable"}'
    latency = render(metrics[1].template, job="shop-staging", track="stable", window=1.5, quantile=0.95,
                     traffic=SETTINGS.traffic_filter)
    assert latency == ("histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket"
                       '{job="shop-staging",track="stable",path!~"/metrics|/health"}[1500ms])))')


def test_a_broken_template_is_reported_per_metric_not_raised():
    metric = Metric("error-rate", "error rate", "rate(x{{{selector}}}[{window}])", "ratio", 0.05)
    provider = replay_provider({"job": "j", "scenarios": {"s": {"series": {}}}}, "s", [], SETTINGS)
    report = analyze(provider, SETTINGS, [metric], job="j", end=1000.0)
    assert report.outcome == "fail" and report.metrics[0].data == "error"
    assert "cannot be filled in (KeyError: 'window')" in report.metrics[0].reason


def _state(**weights: int) -> State:
    release = Release("1.0.0", "img:1")
    return State("staging", {name: Track(name, release, [], weight) for name, weight in weights.items()})


@pytest.mark.parametrize("state, expected", [
    (_state(stable=75, candidate=25), ("canary", "stable")),
    (_state(stable=0, candidate=100), ("canary", None)),  # blue/green after the switch: thresholds only
    (_state(stable=0, warm=10, candidate=90), ("canary", "warm")),
    (_state(stable=100), ("stable", None)),
])
def test_which_tracks_are_compared(state, expected):
    assert tracks_to_compare(state) == expected


# ------------------------------------------------------------------------------ recorded real series
@pytest.fixture(scope="module")
def recording():
    if not RECORDING.exists():
        pytest.fail(f"{RECORDING} is missing; record it with `python bench/analysis.py --record`")
    return load_recording(RECORDING)


def _ends(recording, scenario, settings):
    times = sorted({t for points in recording["scenarios"][scenario]["series"].values() for t, _ in points})
    return [t for t in times if t >= times[0] + (settings.samples - 1) * settings.step]


def test_the_recording_was_made_with_the_settings_replayed(recording):
    assert Settings(**recording["settings"]) == SETTINGS
    assert {"healthy", "healthy, 1% background", "bad +5pp", "bad +5pp over 1%"} <= set(recording["scenarios"])


@pytest.mark.parametrize("scenario", ["healthy", "healthy, 1% background"])
def test_healthy_canaries_are_not_rolled_back(recording, scenario):
    """Over 100+ analyses per scenario (every disjoint interval of the recording, then resampled pairs with
    the baseline shifted in time), at most 1% fail."""
    metrics = metrics_for(MetricsProvider(), SETTINGS)
    ends = _ends(recording, scenario, SETTINGS)
    rng = random.Random(11)
    pairs = [(end, 0.0) for end in ends[::round(SETTINGS.interval / SETTINGS.step)]]  # aligned, disjoint
    pairs += [(rng.choice(ends), 0.0) for _ in range(10)]
    pairs += [(end, rng.choice(ends) - end) for end in (rng.choice(ends) for _ in range(150 - len(pairs)))]
    outcomes = []
    for end, shift in pairs:
        provider = replay_provider(recording, scenario, metrics, SETTINGS, shift={"stable": shift})
        report = analyze(provider, SETTINGS, metrics, job=recording["job"], end=end)
        assert all(m.data == "ok" for m in report.metrics), report.reason
        outcomes.append(report.outcome)
    assert len(outcomes) >= 100
    assert outcomes.count("fail") / len(outcomes) <= 0.01, outcomes.count("fail")


@pytest.mark.parametrize("scenario", ["bad +5pp", "bad +5pp over 1%"])
def test_a_canary_five_points_worse_is_caught_within_three_intervals(recording, scenario):
    metrics = metrics_for(MetricsProvider(), SETTINGS)
    ends = _ends(recording, scenario, SETTINGS)
    rng = random.Random(3)
    shifts = [t - SETTINGS.interval for t in ends if t + 2 * SETTINGS.interval <= ends[-1]]
    detections = []
    for shift in (rng.choice(shifts) for _ in range(40)):
        inconclusive, found = 0, None
        for k in (1, 2, 3):
            provider = replay_provider(recording, scenario, metrics, SETTINGS)
            report = analyze(provider, SETTINGS, metrics, job=recording["job"], end=shift + k * SETTINGS.interval)
            inconclusive += report.outcome == "inconclusive"
            if report.outcome == "fail" or inconclusive > 2:
                found = k
                break
        detections.append(found)
        if found == 1:
            assert report.reason.startswith("error rate: error rate ")
            assert "on the canary vs" in report.reason or "on the canary exceeds the threshold" in report.reason
    assert None not in detections, detections


def test_the_report_says_which_metric_failed_and_by_how_much(recording):
    metrics = metrics_for(MetricsProvider(), SETTINGS)
    provider = replay_provider(recording, "bad +5pp", metrics, SETTINGS)
    ends = _ends(recording, "bad +5pp", SETTINGS)
    report = next(r for r in (analyze(provider, SETTINGS, metrics, job=recording["job"], end=end)
                              for end in ends[::10]) if r.outcome == "fail")
    failed = next(m for m in report.metrics if m.outcome == "fail")
    assert failed.metric == "error-rate" and failed.canary > failed.baseline and failed.p_value is not None
    table, markdown, document = report.table(), report.markdown(), report.to_dict()
    assert table.splitlines()[0].split() == ["metric", "result", "canary", "baseline", "threshold", "p-value",
                                             "samples"]
    assert "FAIL" in table and "5.00%" in table and "| error rate | FAIL |" in markdown
    assert document["metrics"][0]["queries"]["canary"].endswith('track="canary",path!~"/metrics|/health"}[2s]))')
    assert document["outcome"] == "fail" and "error rate" in document["reason"]
