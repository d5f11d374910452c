"""A loopback JSON HTTP server for stand-ins of platform APIs (GitHub, GitLab, token services)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import jsonschema


class JsonServer:
    """A loopback HTTP server that hands (method, path, query, body, headers) to `answer` and sends its answer
    as JSON. `body` is the decoded JSON of a JSON request, the raw bytes of any other (a file upload), or
    None; an `answer` that raises jsonschema.ValidationError is kept in `problems` and answered with a 500."""

    def __init__(self):
        self.requests: list[tuple[str, str, object]] = []
        self.problems: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                is_json = "json" in (self.headers.get("Content-Type") or "application/json")
                body = (json.loads(raw) if is_json else raw) if raw else None
                server.requests.append((self.command, parts.path, body))
                try:
                    status, answer = server.answer(self.command, unquote(parts.path), parts.query, body, self.headers)
                except jsonschema.ValidationError as exc:
                    server.problems.append(f"{self.command} {parts.path}: {exc.message}")
                    status, answer = 500, {"message": f"schema: {exc.message}"}
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = _serve

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def writes(self) -> list[tuple[str, str, object]]:
        return [r for r in self.requests if r[0] != "GET"]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
