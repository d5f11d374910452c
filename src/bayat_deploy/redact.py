"""Credentials never reach an output: the terminal, evidence files, the deployment record, CI reports.

Two kinds of text are masked wherever text leaves the process:

* credentials written inside URLs (`postgres://user:PASSWORD@host/db` -> `postgres://user:***@host/db`,
  and query parameters named like secrets, `?token=...`), whatever the key holding the URL is called;
* every secret value resolved in this process (`secrets.resolve` registers it), wherever it turns up.
  On GitHub Actions a registered value is also announced with `::add-mask::`, so the runner hides it in
  the logs of every later step too.

The CLI routes stdout and stderr through `RedactingStream`; evidence and records call `redact_data`
before they serialise; the platform adapters call `redact` on what they write to the CI's own files.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TextIO

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words

# scheme://user:password@ -> the password; scheme://password@ is a user name (git@, deploy@), left alone.
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@'\"<>]*:)(?P<secret>[^\s@/'\"<>]+)(?=@)")
_SECRET_QUERY = re.compile(
    r"(?P<head>[?&](?:[A-Za-z0-9_.-]*(?:token|secret|password|passwd|api[_-]?key|signature|sig|auth|credential)"
    r"[A-Za-z0-9_.-]*)=)(?P<secret>[^&#\s'\"<>]+)", re.IGNORECASE)

_known: set[str] = set()
_announce: list[Callable[[str], None]] = []


def remember(value: str | None) -> None:
    """A secret value resolved at run time: masked from now on (and announced to the CI platform)."""
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    for text in {value, value.strip()} - _known:
        _known.add(text)
        for announce in _announce:
            announce(text)


def announce_to(callback: Callable[[str], None]) -> None:
    """Tell the CI platform about every secret resolved from now on (and those already known)."""
    _announce.append(callback)
    for value in sorted(_known):
        callback(value)


def redact(text: str) -> str:
    if not text:
        return text
    text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    text = _SECRET_QUERY.sub(lambda m: m["head"] + MASK, text)
    for value in sorted(_known, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact_data(value: Any) -> Any:
    """The same structure with every string redacted (keys included)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_data(k): redact_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(item) for item in value]
    return value


class RedactingStream:
    """A text stream that masks what is written through it, line by line (a secret split over two
    writes of one line is still caught; a line is held back until its newline arrives)."""

    def __init__(self, stream: TextIO):
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        data = self._pending + text
        if "\n" not in data:
            self._pending = data
            return len(text)
        complete, _, self._pending = data.rpartition("\n")
        self._stream.write(redact(complete) + "\n")
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._stream.write(redact(self._pending))
            self._pending = ""
        self._stream.flush()

    @property
    def raw(self) -> TextIO:
        """The stream underneath, for the one line that must carry a secret: GitHub's `::add-mask::`."""
        return self._stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
