"""The built-in HTTP load probe against real local servers: the bundled example service (with its fault
injection: FAIL_RATE, LATENCY_MS) and a ThreadingHTTPServer that counts connections."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bayat_deploy.testing.loadprobe import ProbeResult, evaluate, probe

EXAMPLE_APP = Path(__file__).resolve().parents[2] / "examples" / "hello-api" / "app"


@contextmanager
def hello_api(tmp_path: Path, **faults: str):
    """The example service on a free loopback port (PORT=0); yields its base URL."""
    log = tmp_path / f"hello-api-{time.monotonic_ns()}.log"
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": "0", "FAULT_SEED": "7", "PYTHONPATH": str(EXAMPLE_APP),
           **faults}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hello_api"], cwd=EXAMPLE_APP, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        port = None
        while port is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"hello-api did not start: {log.read_text()}")
            first = log.read_text().splitlines()[:1]
            if first and first[0].endswith("}"):
                port = json.loads(first[0])["port"]
            else:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class CountingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections: set = set()
    delay = 0.0

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).connections.add(self.client_address)
        time.sleep(self.delay)
        status = 404 if self.path == "/missing" else (302 if self.path == "/moved" else 200)
        body = b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if status == 302:
            self.send_header("Location", "/")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def counting_server(delay: float = 0.0):
    handler = type("Handler", (CountingHandler,), {"connections": set(), "delay": delay})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_probe_passes_against_the_example_service(tmp_path):
    with hello_api(tmp_path) as url:
        result = probe(url + "/", requests=120, concurrency=6, time_limit=30)
    assert result.sent == 120 and result.failed == 0 and result.statuses == {200: 120}
    assert evaluate(result, percentile=95, max_latency=1.0, max_error_rate=0.01) == []
    summary = result.as_dict(90)
    assert set(summary["latency_ms"]) == {"p50", "p90", "p95", "p99", "max", "mean"}
    assert summary["latency_ms"]["p50"] <= summary["latency_ms"]["p99"] <= summary["latency_ms"]["max"]


def test_error_rate_breach_with_injected_failures(tmp_path):
    with hello_api(tmp_path, FAIL_RATE="0.5") as url:
        result = probe(url + "/", requests=100, concurrency=5, time_limit=30)
    assert 25 <= result.statuses.get(500, 0) <= 75
    breaches = evaluate(result, percentile=95, max_latency=1.0, max_error_rate=0.01)
    assert [b.id for b in breaches] == ["performance.error-rate"]
    assert "exceeds the allowed 1%" in breaches[0].title and "HTTP 500" in breaches[0].detail


def test_latency_breach_with_injected_latency(tmp_path):
    with hello_api(tmp_path, LATENCY_MS="300") as url:
        result = probe(url + "/", requests=20, concurrency=10, time_limit=30)
    assert result.failed == 0
    assert result.percentile(50) >= 0.3
    breaches = evaluate(result, percentile=95, max_latency=0.15, max_error_rate=0.01)
    assert [b.id for b in breaches] == ["performance.latency"]
    assert "p95 latency" in breaches[0].title and "exceeds the allowed 150 ms" in breaches[0].title


def test_connections_are_kept_alive():
    with counting_server() as (url, handler):
        result = probe(url + "/", requests=60, concurrency=4, time_limit=30)
    assert result.sent == 60 and result.failed == 0
    assert len(handler.connections) <= 4, "every request opened a new connection"


@pytest.mark.parametrize("path, failed", [("/moved", 0), ("/missing", 10)])
def test_redirects_count_as_success_and_client_errors_as_failures(path, failed):
    with counting_server() as (url, _):
        result = probe(url + path, requests=10, concurrency=2, time_limit=30)
    assert result.failed == failed


def test_refused_connections_are_errors():
    result = probe(f"http://127.0.0.1:{closed_port()}/", requests=10, concurrency=3, time_limit=10)
    assert result.sent == 10 and result.connection_errors == 10 and result.error_rate == 1.0
    ids = [b.id for b in evaluate(result, percentile=95, max_latency=1.0, max_error_rate=0.01)]
    assert ids == ["performance.error-rate", "performance.latency"]


def test_the_time_limit_stops_the_probe():
    with counting_server(delay=0.2) as (url, _):
        started = time.monotonic()
        result = probe(url + "/", requests=10_000, concurrency=2, time_limit=0.5)
        elapsed = time.monotonic() - started
    assert result.stopped_by_time_limit
    assert 2 <= result.sent <= 10
    assert elapsed < 2


@pytest.mark.parametrize("latencies, p, expected", [
    ([0.1], 95, 0.1),
    ([0.1, 0.2, 0.3, 0.4], 50, 0.2),
    ([float(i) for i in range(1, 101)], 95, 95.0),
    ([float(i) for i in range(1, 101)], 99, 99.0),
    ([float(i) for i in range(1, 101)], 100, 100.0),
    ([], 95, None),
])
def test_nearest_rank_percentiles(latencies, p, expected):
    result = ProbeResult("http://x", len(latencies), 1, latencies=latencies)
    assert result.percentile(p) == expected


def test_only_http_urls_are_probed():
    with pytest.raises(ValueError, match="not an absolute http"):
        probe("ftp://127.0.0.1/", requests=1, concurrency=1, time_limit=1)
