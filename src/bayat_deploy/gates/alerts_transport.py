"""Carrying a rendered notification to its receiver: HTTP POST or SMTP, bounded, retried, never leaking secrets.

Webhook URLs are secrets (whoever has a Slack or Teams webhook URL can post to the channel), so no message
we produce contains one: errors name the route and the receiver's host at most.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

TIMEOUT = 10.0
ATTEMPTS = 3
BACKOFF = 0.5  # seconds before the second attempt; doubled before each further one
MAX_RETRY_AFTER = 10.0


@dataclass
class Attempted:
    ok: bool
    attempts: int
    detail: str


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret (and a URL's path, which is where webhook tokens live) replaced."""
    for secret in secrets:
        if not secret:
            continue
        pieces = [secret]
        parts = urlsplit(secret)
        if parts.scheme and parts.netloc:
            pieces += [p for p in (parts.path + (f"?{parts.query}" if parts.query else ""), parts.path) if len(p) > 1]
        for piece in pieces:
            text = text.replace(piece, "***")
    return text


def host_of(url: str) -> str:
    return urlsplit(url).hostname or "?"


def post_json(url: str, payload: dict, *, timeout: float = TIMEOUT, attempts: int = ATTEMPTS,
              backoff: float = BACKOFF, sleep: Callable[[float], None] = time.sleep) -> Attempted:
    """POST `payload`; retry connection errors, timeouts, 429 and 5xx with exponential backoff."""
    import requests

    detail = ""
    for attempt in range(1, attempts + 1):
        wait = backoff * 2 ** (attempt - 1)
        try:
            response = requests.post(url, json=payload, timeout=timeout,
                                     headers={"User-Agent": "bayat-deploy-notify"})
        except requests.RequestException as exc:
            detail = f"{type(exc).__name__} talking to {host_of(url)}"
        else:
            if 200 <= response.status_code < 300:
                return Attempted(True, attempt, f"HTTP {response.status_code}")
            detail = f"{host_of(url)} answered HTTP {response.status_code}: {response.text.strip()[:200]}"
            if response.status_code != 429 and response.status_code < 500:
                return Attempted(False, attempt, scrub(detail, (url,)))  # our request is wrong; retrying won't help
            retry_after = response.headers.get("Retry-After", "")
            if retry_after.isdigit():
                wait = min(float(retry_after), MAX_RETRY_AFTER)
        if attempt < attempts:
            sleep(wait)
    return Attempted(False, attempts, scrub(detail, (url,)) + f" (after {attempts} attempts)")


def send_mail(mail, *, host: str, port: int, starttls: bool, username: str | None, password: str | None,
              timeout: float = TIMEOUT, attempts: int = ATTEMPTS, backoff: float = BACKOFF,
              sleep: Callable[[float], None] = time.sleep) -> Attempted:
    """Deliver an EmailMessage; retry when the server is unreachable or answers a temporary (4xx) error."""
    import smtplib
    import ssl

    detail = ""
    for attempt in range(1, attempts + 1):
        try:
            if port == 465:  # implicit TLS ("SMTPS"); any other port speaks plain SMTP, upgraded when asked
                client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(host, port, timeout=timeout)
            with client:
                client.ehlo()
                if starttls and port != 465:
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                if username:
                    client.login(username, password or "")
                refused = client.send_message(mail)
            if refused:
                return Attempted(False, attempt, f"{host} refused: {', '.join(sorted(refused))}")
            return Attempted(True, attempt, f"accepted by {host}:{port}")
        except smtplib.SMTPResponseException as exc:
            detail = f"{host}:{port} answered {exc.smtp_code} {scrub(_text(exc.smtp_error), (password or '',))}"
            if not 400 <= exc.smtp_code < 500:
                return Attempted(False, attempt, detail)  # permanent: authentication, recipient, policy
        except smtplib.SMTPRecipientsRefused as exc:
            return Attempted(False, attempt, f"{host} refused every recipient: {', '.join(sorted(exc.recipients))}")
        except (OSError, smtplib.SMTPException) as exc:
            detail = f"{type(exc).__name__} talking to {host}:{port}: {scrub(str(exc), (password or '',))}"
        if attempt < attempts:
            sleep(backoff * 2 ** (attempt - 1))
    return Attempted(False, attempts, f"{detail} (after {attempts} attempts)")


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
