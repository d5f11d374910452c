"""Smoke tests against a real local HTTP server: expectations, retries, deadline, parallelism."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bayat_deploy.deploy.smoke import failed_critical, run_smoke_tests
from bayat_deploy.policy.model import Expect, SmokeTest, Verify
from bayat_deploy.policy.types import Duration, Pattern


class Handler(BaseHTTPRequestHandler):
    flaky_left = 0

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/flaky" and Handler.flaky_left > 0:
            Handler.flaky_left -= 1
            return self._send(503, b"not yet")
        if self.path == "/slow":
            time.sleep(0.3)
        body = {"/version": json.dumps({"version": "2.1.0", "build": {"sha": "abc"}}).encode(),
                "/metrics": b"# TYPE up gauge\nup 1\n"}.get(self.path, b"hello world")
        self._send(404 if self.path == "/missing" else 200, body)

    def _send(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def verify(*tests, **settings) -> Verify:
    return Verify(smoke_tests=tests, retries=settings.get("retries", 3), retry_delay=Duration(0.05),
                  deadline=Duration(settings.get("deadline", 10)), parallel=4)


@pytest.mark.parametrize("test, ok, message", [
    (SmokeTest(name="home", path="/", expect=Expect(body=Pattern("hello"))), True, "GET / -> 200"),
    (SmokeTest(name="body", path="/", expect=Expect(body=Pattern("^bye"))), False, "body does not match"),
    (SmokeTest(name="missing", path="/missing"), False, "status 404, expected 200"),
    (SmokeTest(name="json", path="/version", expect=Expect(json={"build.sha": "abc"})), True, "-> 200"),
    (SmokeTest(name="json-bad", path="/version", expect=Expect(json={"build.sha": "zzz"})), False,
     "JSON build.sha is 'abc', expected 'zzz'"),
    (SmokeTest(name="latency", path="/slow", expect=Expect(max_latency=Duration(0.1))), False, "limit 100ms"),
])
def test_expectations(server, test, ok, message):
    (result,) = run_smoke_tests(server, verify(test), "2.1.0", include_builtin=False)
    assert result.ok is ok and message in result.message


def test_retries_absorb_a_slow_start(server):
    Handler.flaky_left = 2
    (result,) = run_smoke_tests(server, verify(SmokeTest(name="flaky", path="/flaky")), "2.1.0",
                                include_builtin=False)
    assert result.ok and result.attempts == 3


def test_builtin_checks_compare_the_version_and_see_metrics(server):
    results = run_smoke_tests(server, verify(), "2.1.0")
    assert [(r.name, r.ok) for r in results] == [("version", True), ("metrics", True)]
    wrong = run_smoke_tests(server, verify(), "9.9.9")
    assert [r.name for r in failed_critical(wrong)] == ["version"]
    assert "expected '9.9.9'" in wrong[0].message


def test_an_unreachable_service_fails_within_the_deadline():
    started = time.monotonic()
    (result,) = run_smoke_tests("http://127.0.0.1:9", verify(SmokeTest(name="home"), retries=20, deadline=1),
                                "1.0.0", include_builtin=False)
    assert not result.ok and "ConnectionError" in result.message
    assert time.monotonic() - started < 3
