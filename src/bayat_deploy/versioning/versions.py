"""SemVer 2.0.0 values: parsing, precedence (§11) and the bump rules, on top of the `semver` package.

`semver.Version` already orders versions as §11 says (numeric identifiers numerically, numeric below
alphanumeric, a longer pre-release above its prefix, build metadata ignored); this module adds
what the versioning stage needs around it: tags with a prefix, stable vs. pre-release, and bumps
with the 0.x rules.
"""

from __future__ import annotations

import re
from enum import IntEnum

import semver

from bayat_deploy.errors import BadInput

Version = semver.Version


class Bump(IntEnum):
    """How much a change moves the version; ordered so that `max()` picks the strongest."""

    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    @property
    def label(self) -> str:
        return self.name.lower()


def parse(text: str) -> Version:
    """A SemVer version, or ValueError naming what is wrong with it."""
    try:
        return Version.parse(text)
    except (ValueError, TypeError):
        hint = " (without the tag prefix)" if re.match(r"^[A-Za-z]+\d", text or "") else ""
        raise ValueError(f"{text!r} is not a SemVer 2.0.0 version{hint}: use MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD],"
                         " e.g. 1.4.0 or 1.4.0-rc.3") from None


def parse_input(text: str, what: str = "--version") -> Version:
    """A version given by the user; BadInput (exit 2) when it is not SemVer."""
    try:
        return parse(text.strip())
    except ValueError as exc:
        raise BadInput(f"{what}: {exc}") from None


def from_tag(tag: str, prefix: str) -> Version | None:
    """The version a tag names (`v1.2.3` with prefix `v`), or None when it is not a SemVer tag."""
    if not tag.startswith(prefix):
        return None
    try:
        return Version.parse(tag[len(prefix):])
    except (ValueError, TypeError):
        return None


def tag_name(version: Version, prefix: str) -> str:
    """The git tag for a version; build metadata is dropped (the tag itself names the commit)."""
    return f"{prefix}{version.replace(build=None)}"


def is_stable(version: Version) -> bool:
    return version.prerelease is None


def core(version: Version) -> Version:
    """MAJOR.MINOR.PATCH without pre-release or build metadata."""
    return Version(version.major, version.minor, version.patch)


def bump(version: Version, level: Bump) -> Version:
    """The release after `version` for a change of `level`, with the 0.x rules.

    While MAJOR is 0 (SemVer's initial development) a breaking change bumps MINOR, like a feature;
    `1.0.0` is a decision a person makes (an explicit version or tag), never a computed bump.
    """
    base = core(version)
    if level is Bump.MAJOR:
        return base.bump_minor() if base.major == 0 else base.bump_major()
    if level is Bump.MINOR:
        return base.bump_minor()
    if level is Bump.PATCH:
        return base.bump_patch()
    return base


def prerelease_number(version: Version, base: Version, identifier: str) -> int | None:
    """K when `version` is `base-<identifier>.K` (build metadata aside), else None."""
    if core(version) != base or version.prerelease is None:
        return None
    match = re.fullmatch(rf"{re.escape(identifier)}\.(0|[1-9]\d*)", version.prerelease)
    return int(match.group(1)) if match else None


def highest(versions) -> Version | None:
    return max(versions, default=None)
