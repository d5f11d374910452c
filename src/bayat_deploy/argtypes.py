"""Types for command-line flags: each turns a bad value into argparse's own error, which names the flag,
prints the usage and exits 2 (bad input) before anything runs.

Every flag that takes a value uses one of these (tests/test_cli_arguments.py walks every sub-command and
fails on a flag without one). Each type lists values it must refuse in `.refuses`; the test feeds them.
Values are checked for their shape only; whether an environment exists or a version was published is
the command's business, with the policy in hand.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

_GIT_REF = re.compile(r"(?![-/.])(?!.*\.\.)(?!.*//)[A-Za-z0-9._/+-]+(?<![/.])")
# what `git rev-parse` takes besides a ref: HEAD~3, v1.2.0^, main@{1}
_REVISION = re.compile(r"(?![-/.])(?!.*\.\.)(?!.*//)[A-Za-z0-9._/+-]+(?:[~^][0-9]*|@\{[0-9]+\})*")
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,127}")
_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# registry/path:tag@digest, as docker and skopeo accept it (lower-case path components, tag charset)
_IMAGE = re.compile(r"(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._/-][a-z0-9]+)*"
                    r"(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(?:@sha256:[0-9a-f]{64})?")
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?")
_OWNER_REPO = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
_PROJECT = re.compile(r"[0-9]+|[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+")
_FINGERPRINT = re.compile(r"(?:[0-9A-Fa-f]{16}|[0-9A-Fa-f]{40}|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _refusing(*examples: str) -> Callable[[Callable[[str], object]], Callable[[str], object]]:
    def mark(function):
        function.refuses = examples
        return function
    return mark


def _fail(value: str, expected: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"{value!r} is not {expected}")


def _matching(pattern: re.Pattern, expected: str, *, refuses: tuple[str, ...], doc: str = ""):
    """A type that accepts exactly the values `pattern` matches in full."""
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise _fail(value, expected)
        return value
    check.__doc__, check.refuses = doc, refuses
    return check


git_ref = _matching(
    _GIT_REF, "a git tag, branch or commit (letters, digits and . _ / + -, e.g. v1 or a 40-digit SHA)",
    refuses=("v1\nrun: x", "-x", "a..b", "main #x"),
    doc="A tag, branch, commit SHA or revision (`HEAD~3`), as `uses: owner/repo@REF` and git accept it.")


revision = _matching(
    _REVISION, "a git revision (a tag, branch or SHA, optionally with ~N, e.g. v1.2.0 or HEAD~3)",
    refuses=("HEAD~3\n", "-x", "a b", "a..b"),
    doc="A git revision: a ref or a SHA, optionally with ~N / ^N / @{N}.")


version = _matching(
    _VERSION, "a version (letters, digits and . + _ -, e.g. 1.4.0 or 1.4.0-rc.1, at most 128)",
    refuses=("1.2.3\n", "1.2.3; rm -rf /", "", "-1", "x" * 129),
    doc="A release version as it becomes an image tag and a record entry (SemVer such as 1.4.0 or 1.4.0-rc.1).")


environment = _matching(
    _NAME, "an environment name (lower-case letters, digits and -, e.g. staging)",
    refuses=("Prod", "staging\n", "-x", "a_b", ""),
    doc="An environment's name as the policy spells it.")


track = _matching(
    _NAME, "a track name (lower-case letters, digits and -, e.g. canary)",
    refuses=("Canary", "a b", ""))


@_refusing("5 minutes", "-1m", "10x", "", "0s")
def duration(value: str) -> float:
    """A duration longer than zero as the policy writes it (30s, 5m, 1h30m), in seconds."""
    from bayat_deploy.policy.types import Duration

    try:
        seconds = Duration.parse(value).seconds
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise _fail(value, "longer than 0s")
    return seconds


@_refusing("yesterday", "2026-13-01T00:00:00Z", "", "1733400000")
def instant(value: str):
    """A moment in ISO 8601 (2026-12-05T14:00:00Z, with an offset, or without one: UTC), as a UTC datetime."""
    from bayat_deploy.gates.window import parse_instant

    try:
        return parse_instant(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@_refusing("NOEQUALS", "=x", "A B=1", "X=a\nb")
def key_value(value: str) -> str:
    """KEY=VALUE with an environment-variable-like key and a single-line value."""
    key, sep, rest = value.partition("=")
    if not sep or not _KEY.fullmatch(key) or _CONTROL.search(rest) or "\n" in rest:
        raise _fail(value, "KEY=VALUE (a key of letters, digits and _, a one-line value)")
    return value


@_refusing("-1", "x", "1.5")
def count(value: str) -> int:
    """A whole number, zero or more."""
    try:
        number = int(value)
    except ValueError:
        raise _fail(value, "a whole number") from None
    if number < 0:
        raise _fail(value, "zero or more")
    return number


@_refusing("-1", "x", "nan", "inf")
def seconds(value: str) -> float:
    """A non-negative, finite number of seconds."""
    import math

    try:
        number = float(value)
    except ValueError:
        raise _fail(value, "a number of seconds") from None
    if number < 0 or not math.isfinite(number):
        raise _fail(value, "a finite number of seconds, zero or more")
    return number


image = _matching(
    _IMAGE, "an image reference (registry/path:tag or @sha256:digest)",
    refuses=("Shop:1.0", "shop:1.0\n", "shop:tag with space", "-x"),
    doc="An image reference: [registry[:port]/]path[:tag][@sha256:digest].")


pinned_image = _matching(
    re.compile(_IMAGE.pattern.split("(?:@sha256")[0] + r"@sha256:[0-9a-f]{64}"),
    "an image pinned by digest (registry/path:tag@sha256:<64 hex digits>)",
    refuses=("ghcr.io/bayat/deploy-action:1", "shop:1.0@sha256:abc", "shop@sha256:" + "a" * 64 + "\n"),
    doc="An image pinned by its digest, as a pipeline runs it: [registry[:port]/]path[:tag]@sha256:digest.")


@_refusing("a\nb", "cr\rhere", "esc\x1b[31m", "bidi\u202e")
def text(value: str) -> str:
    """Free text for a record or a message (a reason, a title): one line, no control characters."""
    if "\n" in value or "\r" in value or _CONTROL.search(value):
        raise _fail(value, "one line of text without control characters")
    return value


@_refusing("esc\x1b[2J", "nul\x00")
def paragraph(value: str) -> str:
    """Free text that may span lines (a notification body, a release summary)."""
    if _CONTROL.search(value):
        raise _fail(value, "text without control characters")
    return value


@_refusing("ftp://x", "http://", "https://a b", "localhost:8080")
def url(value: str) -> str:
    """An http(s) URL."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise _fail(value, "an http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", value) \
            or _CONTROL.search(value):
        raise _fail(value, "an http(s) URL such as https://shop.example.com")
    return value


@_refusing("a b", "alice,", "-x", "bob\n")
def logins(value: str) -> str:
    """One login or several separated by commas."""
    names = value.split(",")
    if not all(_LOGIN.fullmatch(name.strip(" ")) for name in names):
        raise _fail(value, "a login or logins separated by commas (letters, digits, . _ -)")
    return value


owner_repo = _matching(
    _OWNER_REPO, "OWNER/REPO",
    refuses=("owner", "owner/repo/x", "own er/repo"))


project = _matching(
    _PROJECT, "a GitLab project id or path (group/project)",
    refuses=("group", "a b/c"),
    doc="A GitLab project: its numeric id or its full path (group/project).")


@_refusing("", "nul\x00", "a\nb")
def path(value: str) -> Path:
    if not value or "\x00" in value or _CONTROL.search(value) or "\n" in value:
        raise _fail(value, "a path")
    return Path(value)


def path_text(value: str) -> str:
    """A path the command keeps as text (relative to the repository, resolved later)."""
    return str(path(value))


path_text.refuses = path.refuses


fingerprint = _matching(
    _FINGERPRINT, "a key fingerprint (16 or 40 hex digits) or a key's e-mail address",
    refuses=("KEYID", "0x1234"),
    doc="A GnuPG key: a 16- or 40-digit hex id, or the key's e-mail address.")


@_refusing("a b", "x\n", "")
def word(value: str) -> str:
    """A name (an artifact, a rule, a remote, a deployment id): no spaces or control characters."""
    if not value or re.search(r"\s", value) or _CONTROL.search(value):
        raise _fail(value, "a name without spaces")
    return value


pipeline_file = _matching(
    re.compile(r"(?!/)(?!.*(?:^|/)\.\.(?:/|$))[A-Za-z0-9._/-]+\.ya?ml"),
    "a YAML file path inside the repository (e.g. .gitlab/bayat-deploy.yml)",
    refuses=("/etc/x.yml", "../x.yml", "a/../../x.yml", "x.txt", "a b.yml", ""),
    doc="A pipeline file, relative to the repository root, ending in .yml or .yaml.")


workflow_prefix = _matching(
    re.compile(r"[a-z0-9][a-z0-9_-]{0,39}"), "a file-name prefix (lower-case letters, digits, _ and -, e.g. bayat-)",
    refuses=("../", "a/b", "A-", "-x", "x y"),
    doc="A prefix for the generated workflow file names.")


ALL = (git_ref, revision, version, environment, track, duration, instant, key_value, count, seconds, image, pinned_image, text,
       paragraph, url, logins, owner_repo, project, path, path_text, fingerprint, word, pipeline_file, workflow_prefix)
