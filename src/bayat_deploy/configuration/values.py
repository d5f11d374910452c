"""Key names and value formats: how a key is recognised in every layer, which names look secret, and
whether a value fits its declared type (string, int, float, bool, url, enum, duration, email, hostname, port)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from bayat_deploy.policy.model.stages import ConfigKey
from bayat_deploy.policy.types import Duration, SecretRef

# A word of a key name that marks a secret (DB_PASSWORD, GITHUB_TOKEN, API_KEY, JWT_SECRET, TLS_PRIVATE_KEY).
SECRET_WORDS = ("PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "APIKEY", "API_KEY", "PRIVATE_KEY",
                "ACCESS_KEY", "CLIENT_SECRET", "CREDENTIAL", "CREDENTIALS", "AUTH", "SIGNING_KEY", "ENCRYPTION_KEY")
# ...unless the name ends in a word saying the value is *about* the secret, not the secret (TOKEN_TTL, PASSWORD_FILE).
NOT_SECRET_SUFFIXES = ("LENGTH", "LEN", "TTL", "TIMEOUT", "EXPIRY", "EXPIRES", "LIFETIME", "FILE", "PATH", "URL",
                       "URI", "ENDPOINT", "HEADER", "NAME", "ENABLED", "REQUIRED", "TYPE", "ALGORITHM", "ROTATION",
                       "ID", "USER", "USERNAME", "ISSUER", "AUDIENCE", "SCOPE", "SCOPES", "METHOD", "MODE")
TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def normal_name(name: str) -> str:
    """`database.url`, `database-url` and `DATABASE_URL` are one key (the environment-variable spelling)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()


def looks_secret(name: str) -> bool:
    normal = normal_name(name)
    words = normal.split("_")
    if words[-1] in NOT_SECRET_SUFFIXES:
        return False
    padded = f"_{normal}_"
    return any(f"_{word}_" in padded for word in SECRET_WORDS)


def secret_ref(value: Any) -> SecretRef | None:
    """The value as a secret reference (env:, vault:, aws-sm:, file:), or None when it is a plain value."""
    if not isinstance(value, str):
        return None
    try:
        return SecretRef.parse(value)
    except ValueError:
        return None


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check(spec: ConfigKey, value: Any) -> str | None:
    """Why the value does not fit the key's type, format and pattern; None when it does."""
    if isinstance(value, (list, dict)):
        return f"expected a single {spec.type} value, got a {'list' if isinstance(value, list) else 'mapping'}"
    problem = _TYPE_CHECKS[spec.type](value, spec)
    if problem is None and spec.pattern is not None and not spec.pattern.search(_text(value)):
        problem = f"does not match the pattern {spec.pattern.text!r}"
    return problem


def host_and_port(value: str) -> tuple[str, int | None] | None:
    """`host`, `host:port` or `[v6]:port` split, or None when it is not a host name or address."""
    text = value.strip()
    port: int | None = None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                return None
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, raw = text.partition(":")
        if not raw.isdigit():
            return None
        port = int(raw)
    else:
        host = text
    if port is not None and not 0 < port < 65536:
        return None
    return (host, port) if _is_host(host) else None


def _is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host
    return 0 < len(name) <= 253 and all(_LABEL.match(label) for label in name.split("."))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _string(value, spec):
    return None


def _int(value, spec):
    if isinstance(value, bool) or not re.fullmatch(r"[+-]?\d+", _text(value).strip()):
        return "is not an integer"
    return None


def _float(value, spec):
    if isinstance(value, bool):
        return "is not a number"
    try:
        float(_text(value))
    except ValueError:
        return "is not a number"
    return None


def _bool(value, spec):
    if isinstance(value, bool) or _text(value).strip().lower() in TRUE_WORDS + FALSE_WORDS:
        return None
    return "is not a boolean (true/false, yes/no, on/off, 1/0)"


def _url(value, spec):
    parts = urlsplit(_text(value).strip())
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme or "") or not parts.netloc:
        return "is not an absolute URL (scheme://host[:port][/path])"
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "has an invalid port"
    if not parts.hostname or not _is_host(parts.hostname):
        return "has no valid host name"
    return None


def _enum(value, spec):
    if _text(value) not in spec.values:
        return f"is not one of {', '.join(spec.values)}"
    return None


def _duration(value, spec):
    try:
        Duration.parse(value)
    except ValueError:
        return "is not a duration (e.g. 30s, 5m, 1h30m)"
    return None


def _email(value, spec):
    return None if _EMAIL.match(_text(value).strip()) else "is not an e-mail address"


def _hostname(value, spec):
    return None if host_and_port(_text(value)) else "is not a host name or host:port"


def _port(value, spec):
    text = _text(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 0 < int(text) < 65536:
        return "is not a port number (1-65535)"
    return None


_TYPE_CHECKS = {"string": _string, "int": _int, "float": _float, "bool": _bool, "url": _url, "enum": _enum,
                "duration": _duration, "email": _email, "hostname": _hostname, "port": _port}
