"""The Prometheus metrics provider (gates/metrics.py) against a real Prometheus on loopback.

Prometheus scrapes itself here, so these tests need no service and no Docker. What a provider must
never do: turn an empty answer into an error, read NaN as a number, or hide why a query failed.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bayat_deploy.gates.metrics import MetricsError, MetricsUnavailable, PrometheusProvider, provider_for
from tests.support.prometheus import start_prometheus
from tests.support.registry import free_port


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    root = tmp_path_factory.mktemp("prometheus")
    instance = start_prometheus(root, root / "targets" / "targets.json", self_scrape=True)
    instance.wait_until('up{job="prometheus"}')
    time.sleep(2)  # a few scrapes, for a range
    yield instance
    instance.stop()


def test_a_range_query_gives_labelled_series_of_points(prometheus):
    now = time.time()
    series = PrometheusProvider(prometheus.url).query('up{job="prometheus"}', now - 2, now, 0.5)
    assert len(series) == 1 and series[0].labels["job"] == "prometheus"
    times = [t for t, _ in series[0].points]
    assert all(b - a == pytest.approx(0.5) for a, b in zip(times, times[1:]))
    assert series[0].values() and set(series[0].values()) == {1.0}


def test_nan_is_missing_data_not_zero(prometheus):
    now = time.time()
    series = PrometheusProvider(prometheus.url).query("vector(0) / vector(0)", now - 2, now, 1)
    assert series and series[0].points and series[0].values() == []


def test_no_series_is_an_empty_answer_not_an_error(prometheus):
    now = time.time()
    assert PrometheusProvider(prometheus.url).query('http_requests_total{job="nobody"}', now - 5, now, 1) == []


def test_a_rejected_query_says_what_prometheus_said(prometheus):
    now = time.time()
    with pytest.raises(MetricsError, match=r"Prometheus rejected the query \(bad_data\): .*parse error"):
        PrometheusProvider(prometheus.url).query("sum(", now - 5, now, 1)


def test_an_unreachable_prometheus_is_its_own_error():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(MetricsUnavailable, match=rf"Prometheus at {url} is unreachable \(ConnectionError: "
                                                 r"\[Errno 111\] Connection refused\)"):
        PrometheusProvider(url, timeout=2).query("up", 0, 10, 1)


class _Recorder(BaseHTTPRequestHandler):
    """A stand-in HTTP server that is not Prometheus, or answers one fixed matrix; records headers."""

    seen: list[dict] = []
    answer: tuple[int, str, str] = (200, "application/json", "{}")

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).seen.append({"path": self.path, "authorization": self.headers.get("Authorization")})
        status, content_type, body = type(self).answer
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def stand_in():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_bearer_token_is_sent_and_strings_are_parsed(stand_in):
    server, url = stand_in
    matrix = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"track": "canary"}, "values": [[100, "0.5"], [101, "NaN"], [102, "+Inf"]]}]}}
    _Recorder.answer = (200, "application/json", json.dumps(matrix))
    series = PrometheusProvider(url, token="t0ken").query("up", 100, 102, 1)
    assert series[0].labels == {"track": "canary"} and series[0].values() == [0.5]
    assert _Recorder.seen[0]["authorization"] == "Bearer t0ken"
    assert _Recorder.seen[0]["path"].startswith("/api/v1/query_range?query=up&start=100&end=102&step=1")


@pytest.mark.parametrize("answer, words", [
    ((404, "text/html", "<html>not here</html>"), "answered HTTP 404 without JSON"),
    ((200, "application/json", '{"status": "success", "data": {"resultType": "vector", "result": []}}'),
     "answered a 'vector' to a range query"),
    ((503, "application/json", '{"status": "error", "errorType": "unavailable", "error": "shutting down"}'),
     "Prometheus rejected the query (unavailable): shutting down"),
])
def test_answers_that_are_not_results_are_errors_with_the_reason(stand_in, answer, words):
    _, url = stand_in
    _Recorder.answer = answer
    with pytest.raises(MetricsError) as caught:
        PrometheusProvider(url).query("up", 0, 10, 1)
    assert words in str(caught.value) and not isinstance(caught.value, MetricsUnavailable)


def test_the_provider_comes_from_the_policy_with_its_token(tmp_path, monkeypatch):
    from bayat_deploy.session import Session

    (tmp_path / ".bayat").mkdir()
    (tmp_path / ".bayat" / "deploy.yml").write_text(
        "project: shop\nmonitoring: {url: 'http://127.0.0.1:9/prom/', token: 'env:PROM_TOKEN'}\n")
    monkeypatch.setenv("PROM_TOKEN", "abc")
    provider = provider_for(Session.open(tmp_path / ".bayat" / "deploy.yml"))
    assert isinstance(provider, PrometheusProvider)
    assert (provider.url, provider.token) == ("http://127.0.0.1:9/prom", "abc")
