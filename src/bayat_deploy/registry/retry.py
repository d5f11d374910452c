"""Retrying what a registry refuses only for a moment: connection errors, 5xx answers and 429."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from bayat_deploy.errors import BayatError

T = TypeVar("T")

TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
DEFAULT_ATTEMPTS = 4
BASE_DELAY = 1.0  # seconds; doubles after each failed attempt
MAX_DELAY = 30.0

# Phrases the Docker engine uses when a push fails for a reason worth another try.
_TRANSIENT_PHRASES = ("connection refused", "connection reset", "broken pipe", "i/o timeout", "timeout",
                      "unexpected eof", ": eof", "toomanyrequests", "too many requests", "500 internal",
                      "502 bad gateway", "503 service", "504 gateway", "status: 5", "status 5",
                      "no route to host", "temporary failure")


class TransientError(BayatError):
    """Raised when a registry call failed in a way that may succeed when tried again."""


def is_transient_message(message: str) -> bool:
    text = message.lower()
    if any(word in text for word in ("unauthorized", "denied", "authentication required", "manifest invalid")):
        return False
    return any(phrase in text for phrase in _TRANSIENT_PHRASES)


def with_retries(action: Callable[[], T], *, what: str, attempts: int = DEFAULT_ATTEMPTS,
                 base_delay: float = BASE_DELAY, say: Callable[[str], None] = print,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """Run `action`; after a TransientError wait 1s, 2s, 4s... and try again, `attempts` times in all."""
    attempts = max(1, attempts)
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except TransientError as exc:
            if attempt == attempts:
                raise BayatError(f"{what} failed after {attempts} attempt(s): {exc}") from None
            delay = min(MAX_DELAY, base_delay * 2 ** (attempt - 1))
            say(f"{what}: {exc}; retrying in {delay:g}s (attempt {attempt + 1} of {attempts})")
            sleep(delay)
    raise AssertionError("unreachable")
