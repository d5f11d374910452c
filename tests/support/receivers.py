"""Local receivers for notifications: an HTTP server that records every POST, and a real SMTP server.

Both listen on loopback only and are stopped by the fixtures that start them. The HTTP receiver can be
told to answer a path with a scripted sequence of status codes first (to exercise retries); the SMTP
server is aiosmtpd's, with optional AUTH (plain text is allowed only because it never leaves loopback).
"""

from __future__ import annotations

import collections
import email
import email.policy
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


class HttpReceiver:
    """`receiver.url("/slack")` is a webhook URL; `receiver.at("/slack")` lists what arrived there."""

    def __init__(self):
        self.requests: list[Received] = []
        self._scripts: dict[str, collections.deque] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(Received(self.path, dict(self.headers), body))
                    script = receiver._scripts.get(self.path)
                    status = script.popleft() if script else 200
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"scripted failure")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *statuses: int) -> None:
        """Answer the next requests to `path` with these status codes (then 200)."""
        with self._lock:
            self._scripts[path] = collections.deque(statuses)

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.at(path)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        return self.at(path)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class SmtpReceiver:
    controller: object
    host: str
    port: int
    username: str
    password: str
    messages: list = field(default_factory=list)
    envelopes: list = field(default_factory=list)

    def stop(self) -> None:
        self.controller.stop()


def start_smtp(username: str = "notifier", password: str = "smtp-secret-for-tests") -> SmtpReceiver:
    """A real SMTP server (aiosmtpd) on a free loopback port, with AUTH PLAIN/LOGIN for one user."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from tests.support.registry import free_port

    received: SmtpReceiver | None = None

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's naming
            received.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            received.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
            return "250 OK"

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login.decode() == username and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, authenticator=authenticate,
                            auth_require_tls=False)
    controller.start()
    received = SmtpReceiver(controller, "127.0.0.1", port, username, password)
    return received


@pytest.fixture
def receiver():
    """A webhook receiver on loopback for one test (a pytest plugin, see tests/conftest.py)."""
    instance = HttpReceiver()
    yield instance
    instance.stop()
