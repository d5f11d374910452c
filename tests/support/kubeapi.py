"""A local HTTP server standing in for a Kubernetes API server, for the cluster state store's tests.

No cluster runs here. This server answers the few endpoints the store uses, the way the API server
does, so that the real `kubectl` binary talks to it through an ordinary kubeconfig:

- ConfigMaps (`/api/v1/namespaces/{ns}/configmaps[/{name}]`), Leases
  (`/apis/coordination.k8s.io/v1/namespaces/{ns}/leases[/{name}]`) and Namespaces (`/api/v1/namespaces`),
  with GET, POST (create), PUT (replace) and DELETE;
- optimistic concurrency as the API server implements it: every write bumps `metadata.resourceVersion`,
  a PUT whose resourceVersion is not the current one gets 409 Conflict, a POST of an existing name 409
  AlreadyExists, anything in a missing namespace 404 NotFound;
- errors as `metav1.Status` objects (`kind: Status, status: Failure, reason, code, message`);
- a bearer token from the kubeconfig is required (401 otherwise), so a test proves the credentials
  the job was given are the ones used;
- request bodies are validated against tests/deploy/schemas/kubernetes-state.json, written from the
  API's published OpenAPI definitions (a body the real server would refuse fails the test here);
- a ConfigMap's data is limited to 1 MiB (422 Invalid, "Too long"), as the real server limits it.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import subprocess
import tempfile
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "deploy" / "schemas" / "kubernetes-state.json")
                    .read_text())
ROUTES = [
    (re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/configmaps(?:/(?P<name>[^/]+))?$"), "ConfigMap", "configmaps", "v1"),
    (re.compile(r"^/apis/coordination\.k8s\.io/v1/namespaces/(?P<ns>[^/]+)/leases(?:/(?P<name>[^/]+))?$"),
     "Lease", "leases", "coordination.k8s.io/v1"),
]
CONFIGMAP_LIMIT = 1024 * 1024


def status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


class KubeAPI:
    def __init__(self, token: str = "test-token-" + uuid.uuid4().hex[:8], namespaces: tuple[str, ...] = ()):
        self.token = token
        self.lock = threading.Lock()
        self.version = 100
        self.namespaces: set[str] = set(namespaces)
        self.objects: dict[tuple[str, str, str], dict] = {}  # (kind, ns, name) -> object
        self.requests: list[tuple[str, str]] = []
        self.invalid: list[str] = []  # bodies that failed the OpenAPI-derived schema
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.certificate = self._serve_tls()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _serve_tls(self) -> bytes:
        """TLS with a throw-away self-signed certificate: kubectl sends a bearer token only over TLS."""
        folder = Path(tempfile.mkdtemp(prefix="kubeapi-"))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=kube-apiserver", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                       check=True, capture_output=True)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        return (folder / "cert.pem").read_bytes()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def kubeconfig(self, path: Path, *, token: str | None = None, namespace: str = "default") -> Path:
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "stand-in",
            "clusters": [{"name": "stand-in", "cluster": {
                "server": self.url, "certificate-authority-data": base64.b64encode(self.certificate).decode()}}],
            "users": [{"name": "deployer", "user": {"token": token or self.token}}],
            "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "deployer",
                                                          "namespace": namespace}}]}))
        path.chmod(0o600)
        return path

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        with self.lock:
            found = self.objects.get((kind, namespace, name))
            return json.loads(json.dumps(found)) if found else None

    # ------------------------------------------------------------------ the API
    def _stamp(self, body: dict) -> dict:
        self.version += 1
        body["metadata"]["resourceVersion"] = str(self.version)
        body["metadata"].setdefault("uid", str(uuid.uuid4()))
        body["metadata"].setdefault("creationTimestamp",
                                    datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        return body

    def handle(self, method: str, path: str, body: dict | None) -> tuple[int, dict]:
        if path == "/api/v1/namespaces" and method == "POST":
            return self._write_namespace(body)
        for pattern, kind, plural, api_version in ROUTES:
            match = pattern.match(path)
            if match:
                return self._object(method, kind, plural, match["ns"], match["name"], body)
        return 404, status(404, "NotFound", "the server could not find the requested resource")

    def _valid(self, kind: str, body: dict | None) -> str | None:
        try:
            jsonschema.validate(body, {**SCHEMA, "$ref": f"#/$defs/{kind}"})
        except jsonschema.ValidationError as exc:
            self.invalid.append(f"{kind}: {exc.message}")
            return exc.message
        return None

    def _write_namespace(self, body: dict | None) -> tuple[int, dict]:
        problem = self._valid("Namespace", body)
        if problem:
            return 422, status(422, "Invalid", f"Namespace is invalid: {problem}")
        name = body["metadata"]["name"]
        with self.lock:
            if name in self.namespaces:
                return 409, status(409, "AlreadyExists", f'namespaces "{name}" already exists')
            self.namespaces.add(name)
            return 201, self._stamp(body)

    def _object(self, method, kind, plural, namespace, name, body) -> tuple[int, dict]:
        with self.lock:
            if namespace not in self.namespaces:
                return 404, status(404, "NotFound", f'namespaces "{namespace}" not found')
            key = (kind, namespace, name or (body or {}).get("metadata", {}).get("name", ""))
            current = self.objects.get(key)
            if method == "GET":
                if name is None:
                    items = [o for (k, ns, _), o in self.objects.items() if k == kind and ns == namespace]
                    return 200, {"kind": f"{kind}List", "apiVersion": "v1", "items": items,
                                 "metadata": {"resourceVersion": str(self.version)}}
                if current is None:
                    return 404, status(404, "NotFound", f'{plural} "{name}" not found')
                return 200, current
            if method == "DELETE":
                if current is None:
                    return 404, status(404, "NotFound", f'{plural} "{name}" not found')
                del self.objects[key]
                return 200, status(200, "", "") | {"status": "Success"}
            problem = self._valid(kind, body)
            if problem:
                return 422, status(422, "Invalid", f'{kind} "{key[2]}" is invalid: {problem}')
            if body["metadata"].get("namespace", namespace) != namespace:
                return 400, status(400, "BadRequest", "the namespace of the object does not match the request")
            if kind == "ConfigMap" and sum(len(k) + len(v.encode()) for k, v in (body.get("data") or {}).items()) \
                    > CONFIGMAP_LIMIT:
                return 422, status(422, "Invalid", f'ConfigMap "{key[2]}" is invalid: []: Too long: '
                                                   f"must have at most {CONFIGMAP_LIMIT} bytes")
            body["metadata"]["namespace"] = namespace
            if method == "POST":
                if current is not None:
                    return 409, status(409, "AlreadyExists", f'{plural} "{key[2]}" already exists')
                self.objects[key] = self._stamp(body)
                return 201, self.objects[key]
            if method == "PUT":
                if current is None:
                    return 404, status(404, "NotFound", f'{plural} "{name}" not found')
                sent = body["metadata"].get("resourceVersion")
                if sent and sent != current["metadata"]["resourceVersion"]:
                    return 409, status(409, "Conflict", f'Operation cannot be fulfilled on {plural} "{name}": the '
                                                        f"object has been modified; please apply your changes to "
                                                        f"the latest version and try again")
                body["metadata"]["uid"] = current["metadata"]["uid"]
                body["metadata"]["creationTimestamp"] = current["metadata"]["creationTimestamp"]
                self.objects[key] = self._stamp(body)
                return 200, self.objects[key]
        return 405, status(405, "MethodNotAllowed", f"{method} is not supported")

    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self, method: str):
                api.requests.append((method, self.path))
                if self.headers.get("Authorization") != f"Bearer {api.token}":
                    code, answer = 401, status(401, "Unauthorized", "Unauthorized")
                else:
                    raw = self._body()
                    try:
                        body = json.loads(raw) if raw else None
                    except json.JSONDecodeError:
                        code, answer = 400, status(400, "BadRequest", "the body is not JSON")
                    else:
                        code, answer = api.handle(method, self.path.split("?", 1)[0], body)
                data = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":  # how kubectl streams -f -
                    data = b""
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

            def do_PUT(self):
                self._serve("PUT")

            def do_DELETE(self):
                self._serve("DELETE")

        return Handler
