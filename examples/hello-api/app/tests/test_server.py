"""Tests for hello-api: a real server on an ephemeral port, driven over HTTP."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hello_api import server as hello

APP_DIR = Path(__file__).resolve().parents[1]

SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


# ------------------------------------------------------------------------- helpers


@pytest.fixture
def no_version_files(tmp_path, monkeypatch):
    """Make sure a version.json lying around on this machine cannot leak into a test."""
    monkeypatch.setattr(hello, "PACKAGE_VERSION_FILE", tmp_path / "no-package-version.json")
    return {"VERSION_FILE": str(tmp_path / "no-version.json")}


@pytest.fixture
def start_server(no_version_files):
    servers = []

    def start(**env):
        environ = {"HOST": "127.0.0.1", "PORT": "0", **no_version_files, **env}
        srv = hello.create_server(hello.Config.from_env(environ), environ)
        threading.Thread(target=srv.serve_forever, args=(0.02,), daemon=True).start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        if not srv.draining.is_set():
            srv.graceful_shutdown(timeout=5)


def request(srv, path, method="GET", body=None, timeout=10):
    """Return (status, headers, body bytes), also for 4xx/5xx answers."""
    req = urllib.request.Request(f"http://127.0.0.1:{srv.port}{path}", data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers, err.read()


def get_json(srv, path):
    status, headers, body = request(srv, path)
    assert headers["Content-Type"] == "application/json"
    return status, json.loads(body)


def parse_metrics(text):
    """Parse exposition text into ({(name, frozenset(labels)): value}, {family: type})."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ", 3)
            types[family] = kind
        elif line and not line.startswith("#"):
            match = SAMPLE_RE.match(line)
            assert match, f"malformed sample line: {line!r}"
            name, _, labels, value = match.groups()
            key = (name, frozenset(LABEL_RE.findall(labels or "")))
            assert key not in samples, f"duplicate sample: {line!r}"
            samples[key] = float(value)
    return samples, types


def scrape(srv):
    status, headers, body = request(srv, "/metrics")
    assert status == 200
    return parse_metrics(body.decode("utf-8"))


def sample(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def subprocess_env(**env):
    environ = {**os.environ, "PYTHONPATH": str(APP_DIR), "VERSION_FILE": "/nonexistent/version.json"}
    environ.update(env)
    return environ


# ----------------------------------------------------------------------- endpoints


def test_root_greets_with_version(start_server):
    srv = start_server(APP_VERSION="1.2.3")
    status, headers, body = request(srv, "/")
    assert status == 200
    assert json.loads(body) == {"message": "hello", "version": "1.2.3"}
    assert headers["X-App-Version"] == "1.2.3"
    assert headers["Content-Length"] == str(len(body))


def test_query_string_does_not_change_the_route(start_server):
    srv = start_server()
    assert request(srv, "/health?probe=1")[0] == 200


def test_health_reports_ok(start_server):
    srv = start_server(APP_VERSION="2.0.0")
    assert get_json(srv, "/health") == (200, {"status": "ok", "version": "2.0.0"})


def test_unknown_path_is_json_404(start_server):
    srv = start_server()
    assert get_json(srv, "/nope") == (404, {"error": "not found", "path": "/nope"})


def test_other_methods_get_405_with_allow(start_server):
    srv = start_server()
    status, headers, body = request(srv, "/", method="POST", body=b"x=1")
    assert status == 405
    assert headers["Allow"] == "GET, HEAD"
    assert json.loads(body)["error"] == "method not allowed"


def test_head_sends_headers_only(start_server):
    srv = start_server()
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        conn.request("HEAD", "/health")
        resp = conn.getresponse()
        assert resp.status == 200
        assert int(resp.getheader("Content-Length")) > 0
        assert resp.read() == b""
    finally:
        conn.close()


def test_keep_alive_reuses_one_connection(start_server):
    srv = start_server()
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        conn.request("GET", "/")
        first = conn.getresponse()
        assert first.version == 11 and first.status == 200
        first.read()
        sock = conn.sock
        for path in ("/health", "/version", "/nope"):
            conn.request("GET", path)
            conn.getresponse().read()
            assert conn.sock is sock, "server closed a keep-alive connection"
    finally:
        conn.close()


def test_every_request_logs_one_json_line(start_server, capsys):
    srv = start_server(APP_VERSION="3.1.4")
    request(srv, "/nope?x=1")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    records = [r for r in lines if r.get("msg") == "request"]
    assert len(records) == 1
    record = records[0]
    assert record["version"] == "3.1.4"
    assert (record["method"], record["path"], record["route"], record["status"]) == ("GET", "/nope", "other", 404)
    assert isinstance(record["duration_ms"], float) and record["duration_ms"] >= 0


# ------------------------------------------------------------------------- version


def test_version_file_is_served(start_server, tmp_path):
    info = {
        "version": "1.4.0",
        "git_sha": "0123456789abcdef0123456789abcdef01234567",
        "build_time": "2024-05-01T12:00:00Z",
        "pipeline_url": "https://ci.example/pipelines/42",
        "triggered_by": "alice",
    }
    version_file = tmp_path / "version.json"
    version_file.write_text(json.dumps(info))
    srv = start_server(VERSION_FILE=str(version_file))
    assert get_json(srv, "/version") == (200, info)
    assert get_json(srv, "/")[1]["version"] == "1.4.0"
    assert sample(scrape(srv)[0], "app_info", version="1.4.0") == 1


def test_app_version_overrides_the_file(start_server, tmp_path):
    version_file = tmp_path / "version.json"
    version_file.write_text(json.dumps({"version": "1.0.0", "git_sha": "abc"}))
    srv = start_server(VERSION_FILE=str(version_file), APP_VERSION="1.0.1-canary")
    assert get_json(srv, "/version")[1] == {"version": "1.0.1-canary", "git_sha": "abc"}


def test_version_file_next_to_the_package_is_the_fallback(start_server, tmp_path, monkeypatch):
    package_file = tmp_path / "package-version.json"
    package_file.write_text(json.dumps({"version": "0.9.0"}))
    monkeypatch.setattr(hello, "PACKAGE_VERSION_FILE", package_file)
    srv = start_server()
    assert get_json(srv, "/version")[1] == {"version": "0.9.0"}


def test_without_version_file_the_version_is_dev(start_server):
    srv = start_server()
    assert get_json(srv, "/version")[1] == {"version": "0.0.0-dev"}


def test_invalid_version_file_is_ignored(start_server, tmp_path, capsys):
    version_file = tmp_path / "version.json"
    version_file.write_text("{not json")
    srv = start_server(VERSION_FILE=str(version_file), APP_VERSION="5.0.0")
    assert get_json(srv, "/version")[1] == {"version": "5.0.0"}
    assert "unreadable version file" in capsys.readouterr().out


# ------------------------------------------------------------------------- metrics


def test_metrics_exposition_format(start_server):
    srv = start_server(APP_VERSION="1.2.3")
    request(srv, "/")
    status, headers, body = request(srv, "/metrics")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = body.decode("utf-8")
    assert text.endswith("\n")
    samples, types = parse_metrics(text)
    assert types == {
        "http_requests_total": "counter",
        "http_request_duration_seconds": "histogram",
        "http_requests_in_flight": "gauge",
        "app_info": "gauge",
        "process_cpu_seconds_total": "counter",
        "process_resident_memory_bytes": "gauge",
        "process_start_time_seconds": "gauge",
    }
    histogram_suffixes = ("_bucket", "_sum", "_count")
    for name, _labels in samples:
        family = next((name[: -len(s)] for s in histogram_suffixes if name.endswith(s)), name)
        assert family in types, f"sample {name} has no # TYPE line"
    assert sample(samples, "app_info", version="1.2.3") == 1
    assert sample(samples, "process_resident_memory_bytes") > 0
    assert 0 < sample(samples, "process_start_time_seconds") <= time.time()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_metrics_pass_promtool(start_server):
    srv = start_server()
    for path in ("/", "/health", "/nope"):
        request(srv, path)
    body = request(srv, "/metrics")[2]
    result = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_request_counter_increments_per_route_and_status(start_server):
    srv = start_server()
    before, _ = scrape(srv)
    for _ in range(3):
        request(srv, "/")
    request(srv, "/does-not-exist")
    request(srv, "/another/unknown")
    after, _ = scrape(srv)

    def delta(**labels):
        return sample(after, "http_requests_total", **labels) - sample(before, "http_requests_total", **labels)

    assert delta(method="GET", path="/", status="200") == 3
    assert delta(method="GET", path="other", status="404") == 2
    # The first scrape is counted too, under its own route.
    assert delta(method="GET", path="/metrics", status="200") == 1
    assert not any("does-not-exist" in str(labels) for _, labels in after)


def test_duration_histogram_is_cumulative(start_server):
    srv = start_server(LATENCY_MS="30")
    request(srv, "/")
    samples, _ = scrape(srv)
    labels = {"method": "GET", "path": "/"}
    bounds = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "+Inf"]
    buckets = [sample(samples, "http_request_duration_seconds_bucket", le=le, **labels) for le in bounds]
    assert buckets == sorted(buckets), "buckets must be cumulative"
    assert buckets[2] == 0, "a 30 ms request cannot fall in le=0.025"
    assert buckets[-1] == sample(samples, "http_request_duration_seconds_count", **labels) == 1
    assert sample(samples, "http_request_duration_seconds_sum", **labels) >= 0.03


def test_label_values_are_escaped():
    metrics = hello.Metrics()
    text = metrics.render('1.0"\\\nx', in_flight=0)
    assert 'app_info{version="1.0\\"\\\\\\nx"} 1' in text


# ----------------------------------------------------------------- fault injection


def test_fail_rate_one_fails_every_root_request(start_server):
    srv = start_server(FAIL_RATE="1", APP_VERSION="6.6.6")
    for _ in range(5):
        assert get_json(srv, "/") == (500, {"error": "injected failure", "version": "6.6.6"})
    assert get_json(srv, "/health")[0] == 200, "faults only affect /"
    samples, _ = scrape(srv)
    assert sample(samples, "http_requests_total", method="GET", path="/", status="500") == 5


def test_fail_rate_is_a_fraction(start_server):
    srv = start_server(FAIL_RATE="0.5", FAULT_SEED="7")
    statuses = [request(srv, "/")[0] for _ in range(200)]
    assert set(statuses) == {200, 500}
    assert 60 <= statuses.count(500) <= 140


def test_fail_after_requests_degrades_after_a_warm_up(start_server):
    srv = start_server(FAIL_AFTER_REQUESTS="3")
    statuses = [request(srv, "/")[0] for _ in range(6)]
    assert statuses == [200, 200, 200, 500, 500, 500]
    assert get_json(srv, "/health")[0] == 200, "the release still looks healthy"


def test_latency_is_added_to_root_only(start_server):
    srv = start_server(LATENCY_MS="200")
    started = time.monotonic()
    assert request(srv, "/")[0] == 200
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    request(srv, "/health")
    assert time.monotonic() - started < 0.2


def test_health_fail_answers_503(start_server):
    srv = start_server(HEALTH_FAIL="1", APP_VERSION="1.0.0")
    assert get_json(srv, "/health") == (503, {"status": "unhealthy", "version": "1.0.0"})
    assert request(srv, "/")[0] == 200


def test_invalid_fault_setting_is_rejected(capsys):
    with pytest.raises(ValueError, match="FAIL_RATE"):
        hello.Config.from_env({"FAIL_RATE": "often"})
    assert hello.main({"FAIL_RATE": "often"}) == 2
    assert "invalid configuration" in capsys.readouterr().err


def test_crash_on_start_exits_3():
    result = subprocess.run(
        [sys.executable, "-m", "hello_api"],
        env=subprocess_env(CRASH_ON_START="1", PORT="0"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 3
    assert "CRASH_ON_START" in result.stderr


# --------------------------------------------------------------- graceful shutdown


def _request_in_background(srv, path="/"):
    result = {}

    def run():
        result["status"] = request(srv, path)[0]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def test_graceful_shutdown_finishes_in_flight_requests(start_server):
    srv = start_server(LATENCY_MS="500")
    thread, result = _request_in_background(srv)
    assert wait_for(lambda: srv.in_flight == 1)

    assert srv.graceful_shutdown(timeout=5) is True
    thread.join(timeout=5)
    assert result == {"status": 200}
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{srv.port}/health", timeout=2)


def test_graceful_shutdown_gives_up_after_the_timeout(start_server):
    srv = start_server(LATENCY_MS="3000")
    _request_in_background(srv)
    assert wait_for(lambda: srv.in_flight == 1)
    started = time.monotonic()
    assert srv.graceful_shutdown(timeout=0.3) is False
    assert time.monotonic() - started < 2


def test_draining_server_closes_keep_alive_connections(start_server):
    srv = start_server(LATENCY_MS="400")
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        conn.request("GET", "/")
        assert wait_for(lambda: srv.in_flight == 1)
        shutdown = threading.Thread(target=srv.graceful_shutdown, kwargs={"timeout": 5})
        shutdown.start()
        resp = conn.getresponse()
        resp.read()
        shutdown.join(timeout=5)
        assert resp.status == 200
        assert resp.getheader("Connection") == "close"
    finally:
        conn.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_drains_and_exits_zero(signum):
    proc = subprocess.Popen(
        [sys.executable, "-m", "hello_api"],
        env=subprocess_env(HOST="127.0.0.1", PORT="0", LATENCY_MS="800", APP_VERSION="9.9.9"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        started = json.loads(proc.stdout.readline())
        assert started["msg"] == "started" and started["version"] == "9.9.9"

        class Target:  # what request() needs from a server
            port = started["port"]

        thread, result = _request_in_background(Target)
        # The scrape itself is in flight too, hence >= 2.
        assert wait_for(lambda: b"http_requests_in_flight 2" in request(Target, "/metrics")[2])

        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=10)
        thread.join(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert result == {"status": 200}, "the in-flight request was lost"
    events = [json.loads(line) for line in stdout.splitlines()]
    order = [e["msg"] if e["msg"] != "request" else e["path"] for e in events if e.get("path") != "/metrics"]
    # The slow request finished after the signal arrived and before the process stopped.
    assert order[-3:] == ["shutting down", "/", "stopped"]
