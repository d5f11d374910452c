"""Scalar value types of the policy: each parses from YAML, describes itself in JSON Schema and dumps back.

A type here is a small frozen class with three class-level hooks the converter relies on:
``parse(value)`` (raise ``ValueError`` with a message a person can act on), ``json_schema()`` and
``dump()``. Keeping the three together is what lets the published schema and the validator agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from bayat_deploy.policy.cron import Cron as _Cron

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_PATTERN = r"^(\d+(\.\d+)?(ms|s|m|h|d|w))+$"


@dataclass(frozen=True, order=True)
class Duration:
    """A length of time: ``90s``, ``5m``, ``1h30m``, ``2d``, ``500ms``; a bare number means seconds."""

    seconds: float

    @classmethod
    def parse(cls, value: Any) -> "Duration":
        if isinstance(value, bool):
            raise ValueError("expected a duration such as 30s, 5m or 1h30m")
        if isinstance(value, (int, float)):
            if value < 0:
                raise ValueError("a duration cannot be negative")
            return cls(float(value))
        text = str(value).strip().lower().replace(" ", "")
        if not text or _DURATION_PART.sub("", text):
            raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 5m, 1h30m, 2d)")
        return cls(sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(text)))

    @classmethod
    def json_schema(cls) -> dict:
        return {"oneOf": [{"type": "string", "pattern": _DURATION_PATTERN}, {"type": "number", "minimum": 0}],
                "description": "Duration such as 30s, 5m, 1h30m, 2d (a bare number is seconds)."}

    @property
    def timedelta(self) -> timedelta:
        return timedelta(seconds=self.seconds)

    def dump(self) -> str:
        return str(self)

    def __str__(self) -> str:
        remaining = round(self.seconds * 1000)
        if remaining == 0:
            return "0s"
        parts = []
        for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
            count, remaining = divmod(remaining, size)
            if count:
                parts.append(f"{count}{unit}")
        return "".join(parts)


@dataclass(frozen=True, order=True)
class Percent:
    """A percentage: ``5%`` or a number from 0 to 100 (``5`` means five per cent, not 500)."""

    value: float

    @classmethod
    def parse(cls, value: Any) -> "Percent":
        if isinstance(value, bool):
            raise ValueError("expected a percentage such as 5% or 0.5%")
        text = str(value).strip()
        number = text[:-1].strip() if text.endswith("%") else text
        try:
            parsed = float(number)
        except ValueError:
            raise ValueError(f"{value!r} is not a percentage (use e.g. 5% or 0.5%)") from None
        if not 0 <= parsed <= 100:
            raise ValueError(f"{value!r} is outside 0%-100%")
        return cls(parsed)

    @classmethod
    def json_schema(cls) -> dict:
        return {"oneOf": [{"type": "string", "pattern": r"^\d+(\.\d+)?\s*%$"},
                          {"type": "number", "minimum": 0, "maximum": 100}],
                "description": "Percentage such as 5% (a bare number is per cent)."}

    @property
    def fraction(self) -> float:
        return self.value / 100

    def dump(self) -> str:
        return f"{self.value:g}%"

    __str__ = dump


SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")


@dataclass(frozen=True)
class Severity:
    """A finding severity (trivy's scale): UNKNOWN < LOW < MEDIUM < HIGH < CRITICAL."""

    name: str

    @classmethod
    def parse(cls, value: Any) -> "Severity":
        name = str(value).strip().upper()
        if name not in SEVERITIES:
            raise ValueError(f"{value!r} is not a severity; use one of {', '.join(SEVERITIES)}")
        return cls(name)

    @classmethod
    def json_schema(cls) -> dict:
        return {"type": "string", "enum": list(SEVERITIES) + [s.lower() for s in SEVERITIES]}

    @property
    def rank(self) -> int:
        return SEVERITIES.index(self.name)

    def at_or_above(self) -> tuple[str, ...]:
        """Every severity this one gates on, e.g. HIGH -> (HIGH, CRITICAL)."""
        return SEVERITIES[self.rank:]

    def __lt__(self, other: "Severity") -> bool:
        return self.rank < other.rank

    def dump(self) -> str:
        return self.name

    __str__ = dump


@dataclass(frozen=True)
class CronSchedule:
    """A five-field cron expression (minute hour day-of-month month day-of-week), e.g. ``0 2 * * SUN``."""

    cron: _Cron

    @classmethod
    def parse(cls, value: Any) -> "CronSchedule":
        if not isinstance(value, str):
            raise ValueError("expected a cron expression in quotes, e.g. '0 2 * * SUN'")
        return cls(_Cron.parse(value))

    @classmethod
    def json_schema(cls) -> dict:
        return {"type": "string", "pattern": r"^(@\w+|(\S+\s+){4}\S+)$",
                "description": "Cron start: minute hour day-of-month month day-of-week."}

    def dump(self) -> str:
        return str(self.cron)

    __str__ = dump


@lru_cache(maxsize=64)
def _zone(name: str):
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@dataclass(frozen=True)
class TimeZone:
    """An IANA time zone name such as ``UTC``, ``Europe/Berlin`` or ``America/New_York``."""

    name: str

    @classmethod
    def parse(cls, value: Any) -> "TimeZone":
        name = str(value).strip()
        if not name or _zone(name) is None:
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. UTC, Europe/Berlin)")
        return cls(name)

    @classmethod
    def json_schema(cls) -> dict:
        return {"type": "string", "description": "IANA time zone name, e.g. UTC or Europe/Berlin."}

    @property
    def zoneinfo(self):
        return _zone(self.name)

    def dump(self) -> str:
        return self.name

    __str__ = dump


SEMVER_PATTERN = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
_SEMVER = re.compile(SEMVER_PATTERN)


@dataclass(frozen=True)
class SemVer:
    """A Semantic Versioning 2.0.0 version such as ``1.4.0`` or ``1.4.0-rc.3+abc1234``."""

    text: str

    @classmethod
    def parse(cls, value: Any) -> "SemVer":
        text = str(value).strip()
        if isinstance(value, float) or not _SEMVER.fullmatch(text):
            raise ValueError(f"{value!r} is not a SemVer version (MAJOR.MINOR.PATCH, e.g. 1.4.0)")
        return cls(text)

    @classmethod
    def json_schema(cls) -> dict:
        return {"type": "string", "pattern": SEMVER_PATTERN}

    def dump(self) -> str:
        return self.text

    __str__ = dump


# What each scheme's target may look like (fullmatch). An `env:` name becomes a CI secret or variable name
# in the generated pipelines (`secrets.NAME`, `$NAME`), so it is held to the portable environment-variable
# spelling that GitHub and GitLab both accept.
SECRET_TARGETS = {
    "env": (r"[A-Z_][A-Z0-9_]*", "an environment variable name: upper-case letters, digits and underscores, "
                                  "not starting with a digit (env:REGISTRY_PASSWORD)"),
    "vault": (r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+#[A-Za-z0-9_.-]+", "vault:<mount>/<path>#<key>"),
    "aws-sm": (r"[A-Za-z0-9/_+=.@:-]+", "a secret name or ARN (letters, digits and /_+=.@:-)"),
    "file": (r"[^\s]+", "a file path without spaces"),
}
_SECRET_SCHEMES = tuple(SECRET_TARGETS)


@dataclass(frozen=True)
class SecretRef:
    """A reference to a secret, never the secret: ``env:NAME``, ``vault:path#key``, ``aws-sm:name``, ``file:path``."""

    scheme: str
    target: str

    @classmethod
    def parse(cls, value: Any) -> "SecretRef":
        text = str(value).strip()
        scheme, sep, target = text.partition(":")
        if not sep or scheme not in _SECRET_SCHEMES or not target:
            raise ValueError(
                "secrets are written as references, never as values: "
                "env:NAME, vault:path#key, aws-sm:name or file:path"
            )
        pattern, hint = SECRET_TARGETS[scheme]
        if not re.fullmatch(pattern, target):
            raise ValueError(f"{text!r} is not a valid {scheme}: reference; write {hint}")
        return cls(scheme, target)

    @classmethod
    def json_schema(cls) -> dict:
        alternatives = "|".join(f"{scheme}:{pattern}" for scheme, (pattern, _) in SECRET_TARGETS.items())
        return {"type": "string", "pattern": f"^({alternatives})$",
                "description": "Secret reference: env:NAME (NAME: A-Z, 0-9, _), vault:mount/path#key, aws-sm:name "
                               "or file:path."}

    def dump(self) -> str:
        return f"{self.scheme}:{self.target}"

    __str__ = dump


def secret_reference(value: str) -> "SecretRef | None":
    """`value` as a secret reference when it is written as one (`env:DATABASE_URL`), else None (a plain value)."""
    scheme, sep, _ = str(value).partition(":")
    return SecretRef.parse(value) if sep and scheme in _SECRET_SCHEMES else None


# RFC 3986 characters, without `$` (GitLab expands $NAME in environment URLs: a URL must not read a CI
# variable into the environment page) and without quotes, which no URL needs unescaped.
_URL_CHARACTERS = r"[A-Za-z0-9._~:/?#\[\]@!&()*+,;=%-]"
URL_PATTERN = rf"https?://{_URL_CHARACTERS}+"


@dataclass(frozen=True)
class Url:
    """An absolute http(s) URL (RFC 3986 characters; percent-encode anything else, `$` as %24)."""

    text: str

    @classmethod
    def parse(cls, value: Any) -> "Url":
        text = str(value).strip()
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not an absolute http(s) URL")
        bad = re.search(rf"(?!{_URL_CHARACTERS}).", text)
        if bad:
            raise ValueError(f"{text!r} is not a URL: {bad.group()!r} must be percent-encoded")
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a URL: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{text!r} is not an absolute http(s) URL")
        return cls(text)

    @classmethod
    def json_schema(cls) -> dict:
        return {"type": "string", "pattern": f"^{URL_PATTERN}$", "format": "uri"}

    def dump(self) -> str:
        return self.text

    __str__ = dump


_QUANTITY = re.compile(r"^\d+(\.\d+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")


@dataclass(frozen=True)
class Quantity:
    """A Kubernetes-style resource quantity: CPU ``500m`` or ``2``, memory ``512Mi`` or ``1Gi``."""

    text: str

    @classmethod
    def parse(cls, value: Any) -> "Quantity":
        text = str(value).strip()
        if isinstance(value, bool) or not _QUANTITY.fullmatch(text):
            raise ValueError(f"{value!r} is not a resource quantity (e.g. 500m, 2, 512Mi, 1Gi)")
        return cls(text)

    @classmethod
    def json_schema(cls) -> dict:
        return {"oneOf": [{"type": "string", "pattern": _QUANTITY.pattern}, {"type": "number", "minimum": 0}]}

    def dump(self) -> str:
        return self.text

    __str__ = dump


@dataclass(frozen=True)
class IsoDate:
    """A calendar date, ``YYYY-MM-DD``."""

    value: date

    @classmethod
    def parse(cls, value: Any) -> "IsoDate":
        if isinstance(value, date):
            return cls(value)
        try:
            return cls(date.fromisoformat(str(value).strip()))
        except ValueError:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None

    @classmethod
    def json_schema(cls) -> dict:
        return {"type": "string", "format": "date"}

    def dump(self) -> str:
        return self.value.isoformat()

    __str__ = dump


@dataclass(frozen=True)
class Pattern:
    """A regular expression (Python syntax), checked when the policy loads."""

    text: str

    @classmethod
    def parse(cls, value: Any) -> "Pattern":
        text = str(value)
        try:
            re.compile(text)
        except re.error as exc:
            raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from None
        return cls(text)

    @classmethod
    def json_schema(cls) -> dict:
        return {"type": "string", "format": "regex"}

    def search(self, text: str) -> bool:
        return re.search(self.text, text) is not None

    def dump(self) -> str:
        return self.text

    __str__ = dump


SCALAR_TYPES = (Duration, Percent, Severity, CronSchedule, TimeZone, SemVer, SecretRef, Url, Quantity, IsoDate, Pattern)
