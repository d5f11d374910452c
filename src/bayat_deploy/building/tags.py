"""Image tags from a version, with the rules of docker/metadata-action's semver type.

A stable ``X.Y.Z`` gets ``X.Y.Z``, ``X.Y`` and ``X`` (not ``0``: a 0.x major promises nothing), and
``latest`` only when it is at least every stable version already released. A pre-release gets only
its full version — never a moving tag — with ``+`` written as ``-`` because a Docker tag cannot hold
``+``. Every build also gets ``sha-<short sha>``. The classification below decides what publishing
may overwrite (moving tags) and what retention may delete (pre-release and SHA tags).
"""

from __future__ import annotations

import re

from bayat_deploy.policy.types import SEMVER_PATTERN

_SEMVER = re.compile(SEMVER_PATTERN)
_DOCKER_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_RELEASE_TAG = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_PRERELEASE_TAG = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)-[0-9A-Za-z.-]+$")
_MOVING_TAG = re.compile(r"^(latest|(0|[1-9]\d*)(\.(0|[1-9]\d*))?)$")
_SHA_TAG = re.compile(r"^sha-[0-9a-f]{7,40}$")


def parse(version: str) -> tuple[tuple[int, int, int], str, str]:
    """(major, minor, patch), pre-release, build metadata; ValueError when it is not SemVer."""
    match = _SEMVER.match(version.strip())
    if not match:
        raise ValueError(f"{version!r} is not a SemVer version (MAJOR.MINOR.PATCH, e.g. 1.4.0)")
    major, minor, patch, pre, build = match.groups()
    return (int(major), int(minor), int(patch)), pre or "", build or ""


def is_stable(version: str) -> bool:
    return not parse(version)[1]


def image_tags(version: str, short_sha: str, released: list[str]) -> list[str]:
    """The tags an image of `version` built from commit `short_sha` gets.

    `released` are the versions already released (git tags without their prefix); anything that is
    not a stable SemVer version among them is ignored.
    """
    core, pre, _build = parse(version)
    major, minor, patch = core
    if pre:
        tags = [version.replace("+", "-")]
    else:
        tags = [f"{major}.{minor}.{patch}", f"{major}.{minor}"]
        if major > 0:
            tags.append(str(major))
        if all(core >= other for other in _stable_cores(released)):
            tags.append("latest")
    if short_sha:
        tags.append(f"sha-{short_sha}")
    for tag in tags:
        if not _DOCKER_TAG.match(tag):
            raise ValueError(f"{tag!r} is not a valid Docker tag (letters, digits, '_', '.', '-'; at most 128)")
    return list(dict.fromkeys(tags))


def _stable_cores(released: list[str]) -> list[tuple[int, int, int]]:
    cores = []
    for text in released:
        try:
            core, pre, _ = parse(text)
        except ValueError:
            continue
        if not pre:
            cores.append(core)
    return cores


def tag_kind(tag: str) -> str:
    """release (X.Y.Z), prerelease (X.Y.Z-...), sha (sha-...), moving (latest, X, X.Y) or other."""
    if _RELEASE_TAG.match(tag):
        return "release"
    if _PRERELEASE_TAG.match(tag):
        return "prerelease"
    if _SHA_TAG.match(tag):
        return "sha"
    if _MOVING_TAG.match(tag):
        return "moving"
    return "other"


def is_immutable(tag: str) -> bool:
    """Version and SHA tags name one content forever; moving tags follow the newest release."""
    return tag_kind(tag) in ("release", "prerelease", "sha")
