"""`--connect`: do the external services the configuration names answer, and do its secret references
point at something? (standard: Configuration Validation, validate connections to external services).

Secret values are resolved only here, only to use them, and never printed: a key whose value is a
reference or looks secret is reported by name, without its target.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bayat_deploy.configuration.hierarchy import Entry, Resolution
from bayat_deploy.configuration.rules import Problem
from bayat_deploy.configuration.values import host_and_port, is_empty, secret_ref
from bayat_deploy.context import RunContext
from bayat_deploy.errors import BadInput
from bayat_deploy.policy.types import SecretRef
from bayat_deploy.redact import redact

TIMEOUT = 3.0  # seconds: a service that needs longer to accept a connection is a finding anyway
DEFAULT_PORTS = {"http": 80, "https": 443, "postgres": 5432, "postgresql": 5432, "mysql": 3306, "mariadb": 3306,
                 "redis": 6379, "rediss": 6380, "amqp": 5672, "amqps": 5671, "mongodb": 27017, "nats": 4222,
                 "kafka": 9092, "ldap": 389, "ldaps": 636, "smtp": 25, "ftp": 21, "ssh": 22}


@dataclass
class Check:
    key: str
    target: str  # masked for secrets
    ok: bool
    detail: str
    seconds: float

    def as_dict(self) -> dict:
        return {"key": self.key, "target": self.target, "ok": self.ok, "detail": self.detail,
                "seconds": round(self.seconds, 3)}


def check_references(resolution: Resolution, context: RunContext, root: Path) -> list[Problem]:
    """Every reference the effective configuration uses must resolve (the value itself is dropped)."""
    problems = []
    for entry in resolution.entries.values():
        ref = secret_ref(entry.value)
        if ref is None:
            continue
        reason, level = _unresolvable(ref, context, root, entry.name)
        if reason:
            problems.append(Problem.at(entry.setting, "unresolved-secret", entry.name, reason, level=level))
    return problems


def check_connections(resolution: Resolution, context: RunContext, root: Path,
                      timeout: float = TIMEOUT) -> tuple[list[Check], list[Problem]]:
    checks, problems = [], []
    for entry in resolution.entries.values():
        if entry.spec is None or not entry.spec.check_connectivity or is_empty(entry.value):
            continue
        value, hidden = entry.value, entry.secret
        ref = secret_ref(value)
        if ref is not None:
            hidden = True
            try:
                value = _resolve(ref, context, root, entry.name)
            except BadInput:
                value = None
            if value is None:
                continue  # check_references reports it
        check = _check(entry, str(value), hidden, timeout)
        if check is None:
            problems.append(Problem.at(entry.setting, "connectivity", entry.name,
                                       f"cannot tell where to connect for a {entry.spec.type} value "
                                       f"(use a URL or host:port)", level="warning"))
            continue
        checks.append(check)
        if not check.ok:
            problems.append(Problem.at(entry.setting, "unreachable", entry.name,
                                       f"{check.target} is not reachable: {check.detail}"))
    return checks, problems


def _check(entry: Entry, value: str, hidden: bool, timeout: float) -> Check | None:
    kind = entry.spec.type
    if kind == "port":
        return None
    parts = urlsplit(value.strip())
    if parts.scheme and parts.netloc and kind in ("url", "string"):
        if parts.scheme in ("http", "https"):
            return _http(entry.name, value.strip(), hidden, timeout)
        try:
            port = parts.port or DEFAULT_PORTS.get(parts.scheme)
        except ValueError:
            port = None
        if parts.hostname and port:
            return _tcp(entry.name, parts.hostname, port, hidden, timeout)
        return None
    address = host_and_port(value)
    if address is None:
        return None
    host, port = address
    return _tcp(entry.name, host, port, hidden, timeout) if port else _dns(entry.name, host, hidden)


def _http(key: str, url: str, hidden: bool, timeout: float) -> Check:
    import urllib.error
    import urllib.request

    started = time.monotonic()
    shown = "the URL" if hidden else redact(url)
    request = urllib.request.Request(url, headers={"User-Agent": "bayat-deploy config validate"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        return Check(key, shown, False, str(getattr(exc, "reason", exc)), time.monotonic() - started)
    ok = status < 500  # any answer below 500 proves the service is there
    return Check(key, shown, ok, f"HTTP {status}", time.monotonic() - started)


def _tcp(key: str, host: str, port: int, hidden: bool, timeout: float) -> Check:
    started = time.monotonic()
    shown = "the host" if hidden else f"{host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        return Check(key, shown, False, exc.strerror or str(exc), time.monotonic() - started)
    return Check(key, shown, True, "TCP connection accepted", time.monotonic() - started)


def _dns(key: str, host: str, hidden: bool) -> Check:
    started = time.monotonic()
    shown = "the host" if hidden else host
    try:
        socket.getaddrinfo(host, None)
    except OSError as exc:
        return Check(key, shown, False, f"does not resolve ({exc.strerror or exc})", time.monotonic() - started)
    return Check(key, shown, True, "resolves (no port given, so no connection was tried)", time.monotonic() - started)


def _unresolvable(ref: SecretRef, context: RunContext, root: Path, key: str) -> tuple[str | None, str]:
    if ref.scheme == "aws-sm":
        return (f"{ref.dump()} is resolved by the pipeline (an AWS Secrets Manager step exporting a variable); "
                f"not checked here", "warning")
    try:
        value = _resolve(ref, context, root, key)
    except BadInput as exc:
        return str(exc), "error"
    if value is None:
        return f"{ref.dump()} does not resolve: the variable {ref.target} is not set", "error"
    return None, "error"


def _resolve(ref: SecretRef, context: RunContext, root: Path, key: str) -> str | None:
    from bayat_deploy import secrets

    if ref.scheme == "file":
        path = Path(ref.target)
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            raise BadInput(f"{ref.dump()} does not resolve: no file {path}")
        ref = SecretRef("file", str(path))
    return secrets.resolve(ref, context, what=f"cannot resolve {ref.dump()}")
