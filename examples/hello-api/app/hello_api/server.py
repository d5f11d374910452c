"""hello-api HTTP server, written against the Python standard library only.

Endpoints: ``/`` (greeting), ``/health``, ``/version`` and ``/metrics``
(Prometheus text format 0.0.4).  Faults can be injected through environment
variables so that tests can simulate a bad release; see README.md.
"""

from __future__ import annotations

import bisect
import json
import os
import itertools
import random
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Mapping, NamedTuple, Optional
from urllib.parse import urlsplit

DEFAULT_PORT = 8080
DEFAULT_VERSION_FILE = "/app/version.json"
# "Next to the package": /app/version.json in the image, app/version.json in a checkout.
PACKAGE_VERSION_FILE = Path(__file__).resolve().parent.parent / "version.json"
FALLBACK_VERSION = "0.0.0-dev"
DEFAULT_DRAIN_TIMEOUT = 10.0
# Longer than nginx's upstream keepalive_timeout (60 s), so the proxy, not us,
# closes idle upstream connections and never writes into one we just closed.
IDLE_CONNECTION_TIMEOUT = 75

ROUTES = ("/", "/health", "/version", "/metrics")
OTHER_ROUTE = "other"
ALLOWED_METHODS = ("GET", "HEAD")
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

JSON_TYPE = "application/json"
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"

PROCESS_START_TIME = time.time()

_log_lock = threading.Lock()


def log_event(stream=None, **fields) -> None:
    """Write one JSON object per line (stdout unless another stream is given)."""
    record = {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **fields}
    line = json.dumps(record, separators=(",", ":"), default=str)
    out = stream if stream is not None else sys.stdout
    with _log_lock:
        out.write(line + "\n")
        out.flush()


# --------------------------------------------------------------------------- config


def _env_float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def _env_flag(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Config:
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    fail_rate: float = 0.0
    fail_after_requests: Optional[int] = None
    latency_ms: float = 0.0
    health_fail: bool = False
    crash_on_start: bool = False
    fault_seed: Optional[int] = None
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "Config":
        port = _env_float(environ, "PORT", DEFAULT_PORT)
        if port != int(port) or not 0 <= port <= 65535:
            raise ValueError(f"PORT must be an integer between 0 and 65535, got {port!r}")
        seed = environ.get("FAULT_SEED", "").strip()
        fail_after = environ.get("FAIL_AFTER_REQUESTS", "").strip()
        return cls(
            host=environ.get("HOST", "0.0.0.0"),
            port=int(port),
            fail_rate=min(max(_env_float(environ, "FAIL_RATE", 0.0), 0.0), 1.0),
            fail_after_requests=max(int(_env_float(environ, "FAIL_AFTER_REQUESTS", 0)), 0) if fail_after else None,
            latency_ms=max(_env_float(environ, "LATENCY_MS", 0.0), 0.0),
            health_fail=_env_flag(environ, "HEALTH_FAIL"),
            crash_on_start=_env_flag(environ, "CRASH_ON_START"),
            fault_seed=int(seed) if seed else None,
            drain_timeout=max(_env_float(environ, "DRAIN_TIMEOUT", DEFAULT_DRAIN_TIMEOUT), 0.0),
        )


# -------------------------------------------------------------------------- version


def _read_json_object(path) -> Optional[dict]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log_event(level="warning", msg="unreadable version file", file=str(path), error=str(exc))
        return None
    if not isinstance(data, dict):
        log_event(level="warning", msg="version file is not a JSON object", file=str(path))
        return None
    return data


def load_version_info(environ: Mapping[str, str]) -> dict:
    """The deploy tool's version.json, with APP_VERSION overriding ``version``."""
    candidates = (environ.get("VERSION_FILE") or DEFAULT_VERSION_FILE, PACKAGE_VERSION_FILE)
    info = next((data for data in map(_read_json_object, candidates) if data is not None), {})
    if environ.get("APP_VERSION"):
        info["version"] = environ["APP_VERSION"]
    info["version"] = str(info.get("version") or FALLBACK_VERSION)
    return info


# -------------------------------------------------------------------------- metrics


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_escape_label(str(v))}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    return repr(float(value))


class _Histogram:
    def __init__(self, bucket_count: int) -> None:
        self.counts = [0] * (bucket_count + 1)  # the last slot is +Inf only
        self.total = 0.0

    def observe(self, index: int, seconds: float) -> None:
        self.counts[index] += 1
        self.total += seconds


class Metrics:
    """Thread-safe request counter and latency histogram."""

    def __init__(self, buckets=DURATION_BUCKETS) -> None:
        self._buckets = tuple(buckets)
        self._lock = threading.Lock()
        self._requests: dict = {}
        self._durations: dict = {}

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        index = bisect.bisect_left(self._buckets, seconds)  # first bucket with le >= seconds
        with self._lock:
            key = (method, path, str(status))
            self._requests[key] = self._requests.get(key, 0) + 1
            histogram = self._durations.get((method, path))
            if histogram is None:
                histogram = self._durations[(method, path)] = _Histogram(len(self._buckets))
            histogram.observe(index, seconds)

    def render(self, version: str, in_flight: int) -> str:
        with self._lock:
            requests = sorted(self._requests.items())
            durations = sorted((key, list(h.counts), h.total) for key, h in self._durations.items())
        lines = [
            "# HELP http_requests_total HTTP requests handled, by method, route and status.",
            "# TYPE http_requests_total counter",
        ]
        for (method, path, status), count in requests:
            lines.append(f"http_requests_total{_labels(method=method, path=path, status=status)} {count}")
        lines += [
            "# HELP http_request_duration_seconds HTTP request latency, by method and route.",
            "# TYPE http_request_duration_seconds histogram",
        ]
        for (method, path), counts, total in durations:
            lines += self._histogram_lines(method, path, counts, total)
        lines += [
            "# HELP http_requests_in_flight HTTP requests currently being served.",
            "# TYPE http_requests_in_flight gauge",
            f"http_requests_in_flight {in_flight}",
            "# HELP app_info Application build information; the value is always 1.",
            "# TYPE app_info gauge",
            f"app_info{_labels(version=version)} 1",
        ]
        lines += process_metric_lines()
        return "\n".join(lines) + "\n"

    def _histogram_lines(self, method, path, counts, total):
        name = "http_request_duration_seconds"
        lines, cumulative = [], 0
        for bound, count in zip(self._buckets + (float("inf"),), counts):
            cumulative += count
            lines.append(f"{name}_bucket{_labels(method=method, path=path, le=_number(bound))} {cumulative}")
        lines.append(f"{name}_sum{_labels(method=method, path=path)} {_number(total)}")
        lines.append(f"{name}_count{_labels(method=method, path=path)} {cumulative}")
        return lines


def _proc_cpu_seconds() -> Optional[float]:
    try:
        with open("/proc/self/stat", encoding="ascii") as handle:
            stat = handle.read()
        # The command name (field 2) may contain spaces; fields after it start at "state" (field 3).
        fields = stat.rsplit(")", 1)[1].split()
        utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15
        return (utime + stime) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, AttributeError):
        return None


def _proc_resident_bytes() -> Optional[int]:
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            resident_pages = int(handle.read().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError, AttributeError):
        return None


def process_metric_lines() -> list:
    lines = []
    cpu = _proc_cpu_seconds()
    if cpu is not None:
        lines += [
            "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.",
            "# TYPE process_cpu_seconds_total counter",
            f"process_cpu_seconds_total {_number(cpu)}",
        ]
    rss = _proc_resident_bytes()
    if rss is not None:
        lines += [
            "# HELP process_resident_memory_bytes Resident memory size in bytes.",
            "# TYPE process_resident_memory_bytes gauge",
            f"process_resident_memory_bytes {rss}",
        ]
    lines += [
        "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.",
        "# TYPE process_start_time_seconds gauge",
        f"process_start_time_seconds {_number(PROCESS_START_TIME)}",
    ]
    return lines


# --------------------------------------------------------------------------- server


class Response(NamedTuple):
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: tuple = ()


def json_response(status: int, payload: dict, headers: tuple = ()) -> Response:
    return Response(status, json.dumps(payload).encode("utf-8"), JSON_TYPE, headers)


class HelloServer(ThreadingHTTPServer):
    # Idle keep-alive connections must not keep the process alive; in-flight
    # requests are waited for explicitly by graceful_shutdown().
    daemon_threads = True
    # The socketserver default backlog of 5 drops connections under a load test.
    request_queue_size = 128

    def __init__(self, config: Config, environ: Mapping[str, str]) -> None:
        self.config = config
        self.version_info = load_version_info(environ)
        self.version = self.version_info["version"]
        # Header values must be printable ASCII (no CR/LF injection from a version file).
        self.version_header = re.sub(r"[^\x21-\x7e]", "?", self.version)
        self.metrics = Metrics()
        self.random = random.Random(config.fault_seed)
        self.root_requests = itertools.count(1)  # for FAIL_AFTER_REQUESTS; next() is thread-safe in CPython
        self.draining = threading.Event()
        self._in_flight = 0
        self._in_flight_changed = threading.Condition()
        super().__init__((config.host, config.port), RequestHandler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def request_started(self) -> None:
        with self._in_flight_changed:
            self._in_flight += 1

    def request_finished(self) -> None:
        with self._in_flight_changed:
            self._in_flight -= 1
            self._in_flight_changed.notify_all()

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        """Wait until no request is being served; False on timeout."""
        with self._in_flight_changed:
            return self._in_flight_changed.wait_for(lambda: self._in_flight == 0, timeout)

    def graceful_shutdown(self, timeout: Optional[float] = None) -> bool:
        """Stop accepting connections, then wait for in-flight requests.

        Must be called from a thread other than the one running serve_forever().
        Returns False if requests were still running when the timeout expired.
        """
        self.draining.set()
        self.shutdown()  # returns once serve_forever() has left its loop
        self.server_close()  # closes the listening socket: new connections are refused
        return self.wait_idle(self.config.drain_timeout if timeout is None else timeout)


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle plus delayed ACKs stall each
    # keep-alive response by ~40 ms.
    disable_nagle_algorithm = True
    server_version = "hello-api"
    timeout = IDLE_CONNECTION_TIMEOUT
    server: HelloServer

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def version_string(self) -> str:
        return self.server_version  # no Python version in the Server header

    def log_message(self, format, *args) -> None:  # noqa: A002 - signature from the base class
        """Silence the default stderr access log; _log_request() writes JSON instead."""

    def _handle(self) -> None:
        self.server.request_started()
        try:
            self._send(self._respond_and_record())
        except OSError:
            self.close_connection = True  # the client went away mid-response
        finally:
            self.server.request_finished()

    def _respond_and_record(self) -> Response:
        # Metrics and the log line are written before the response is sent, so a
        # client that has its answer will find it counted in the next scrape.
        started = time.perf_counter()
        path = urlsplit(self.path).path
        try:
            response = self._dispatch(path)
        except Exception as exc:  # a bug in a handler must still produce a logged 500
            log_event(level="error", msg="unhandled error", version=self.server.version, error=repr(exc))
            response = json_response(500, {"error": "internal error"})
        duration = time.perf_counter() - started
        route = path if path in ROUTES else OTHER_ROUTE
        self.server.metrics.observe(self.command, route, response.status, duration)
        self._log_request(path, route, response.status, duration)
        return response

    def _dispatch(self, path: str) -> Response:
        if self.command not in ALLOWED_METHODS:
            return json_response(
                405,
                {"error": "method not allowed", "method": self.command},
                headers=(("Allow", ", ".join(ALLOWED_METHODS)),),
            )
        handler = {
            "/": self._root,
            "/health": self._health,
            "/version": self._version,
            "/metrics": self._metrics,
        }.get(path)
        if handler is None:
            return json_response(404, {"error": "not found", "path": path})
        return handler()

    def _root(self) -> Response:
        config, version = self.server.config, self.server.version
        if config.latency_ms > 0:
            time.sleep(config.latency_ms / 1000.0)
        if config.fail_rate > 0 and self.server.random.random() < config.fail_rate:
            return json_response(500, {"error": "injected failure", "version": version})
        if config.fail_after_requests is not None:
            # A release that degrades once it has served a while: passes its first checks, then fails.
            if next(self.server.root_requests) > config.fail_after_requests:
                return json_response(500, {"error": "injected failure after warm-up", "version": version})
        return json_response(200, {"message": "hello", "version": version})

    def _health(self) -> Response:
        version = self.server.version
        if self.server.config.health_fail:
            return json_response(503, {"status": "unhealthy", "version": version})
        if self.server.draining.is_set():
            return json_response(503, {"status": "draining", "version": version})
        return json_response(200, {"status": "ok", "version": version})

    def _version(self) -> Response:
        return json_response(200, self.server.version_info)

    def _metrics(self) -> Response:
        # This scrape itself is counted after rendering, i.e. it shows up in the next scrape.
        text = self.server.metrics.render(self.server.version, self.server.in_flight)
        return Response(200, text.encode("utf-8"), METRICS_TYPE)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-App-Version", self.server.version_header)
        for name, value in response.headers:
            self.send_header(name, value)
        # A request body we did not read would corrupt the next request on this
        # connection, and a draining server should shed its keep-alive clients.
        if self.command not in ALLOWED_METHODS or self.server.draining.is_set():
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _log_request(self, path: str, route: str, status: int, duration: float) -> None:
        log_event(
            level="info",
            msg="request",
            version=self.server.version,
            method=self.command,
            path=path,
            route=route,
            status=status,
            duration_ms=round(duration * 1000.0, 3),
            remote=self.client_address[0],
        )


# ------------------------------------------------------------------------ lifecycle


def create_server(config: Config, environ: Optional[Mapping[str, str]] = None) -> HelloServer:
    return HelloServer(config, os.environ if environ is None else environ)


def _install_stop_handlers() -> list:
    """Record SIGTERM/SIGINT in a list the main loop polls.

    The handler only appends to a list: taking a lock inside a signal handler
    (as threading.Event.set does) can deadlock the main thread.
    """
    received: list = []

    def on_signal(signum, _frame):
        received.append(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    return received


def main(environ: Optional[Mapping[str, str]] = None) -> int:
    environ = os.environ if environ is None else environ
    try:
        config = Config.from_env(environ)
    except ValueError as exc:
        log_event(sys.stderr, level="error", msg="invalid configuration", error=str(exc))
        return 2
    if config.crash_on_start:
        log_event(sys.stderr, level="error", msg="CRASH_ON_START is set: exiting with status 3")
        return 3

    received = _install_stop_handlers()
    try:
        server = create_server(config, environ)
    except OSError as exc:
        log_event(sys.stderr, level="error", msg="cannot listen", port=config.port, error=str(exc))
        return 1
    # A short poll interval keeps shutdown() (and so `docker stop`) fast.
    threading.Thread(target=server.serve_forever, args=(0.1,), name="http-server", daemon=True).start()
    log_event(
        level="info",
        msg="started",
        version=server.version,
        host=config.host,
        port=server.port,
        fail_rate=config.fail_rate,
        latency_ms=config.latency_ms,
        health_fail=config.health_fail,
    )

    while not received:
        time.sleep(0.1)

    log_event(level="info", msg="shutting down", version=server.version, signal=signal.Signals(received[0]).name)
    drained = server.graceful_shutdown(config.drain_timeout)
    log_event(
        level="info" if drained else "warning",
        msg="stopped" if drained else "stopped with requests still in flight",
        version=server.version,
        in_flight=server.in_flight,
    )
    return 0
