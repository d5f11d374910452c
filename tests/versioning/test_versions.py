"""SemVer 2.0.0: precedence as §11 specifies it, what is and is not a version, and the bump rules."""

from __future__ import annotations

from itertools import combinations

import pytest

from bayat_deploy.errors import BadInput
from bayat_deploy.versioning import versions
from bayat_deploy.versioning.versions import Bump

# §11.4's example, lowest first.
SPEC_CHAIN = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
              "1.0.0-rc.1", "1.0.0"]


@pytest.mark.parametrize("lower, higher", list(combinations(SPEC_CHAIN, 2)))
def test_spec_precedence_example(lower, higher):
    assert versions.parse(lower) < versions.parse(higher)
    assert not versions.parse(higher) < versions.parse(lower)


@pytest.mark.parametrize("lower, higher", [
    ("1.0.0", "2.0.0"), ("2.0.0", "2.1.0"), ("2.1.0", "2.1.1"),  # §11.2: numerically, major, minor, patch
    ("1.9.0", "1.10.0"), ("1.0.0-rc.9", "1.0.0-rc.10"),  # numbers are not compared as text
    ("1.0.0-alpha", "1.0.0"),  # §11.3: a pre-release is lower than its release
    ("1.0.0-1", "1.0.0-a"), ("1.0.0-999", "1.0.0-0a"),  # §11.4.3: numeric identifiers sort below alphanumeric
    ("1.0.0-a", "1.0.0-a.0"),  # §11.4.4: more fields, higher
    ("1.0.0-Z", "1.0.0-a"),  # §11.4.2: ASCII order
])
def test_precedence_rules(lower, higher):
    assert versions.parse(lower) < versions.parse(higher)


@pytest.mark.parametrize("a, b", [("1.0.0+build.1", "1.0.0+build.2"), ("1.0.0-rc.1+x", "1.0.0-rc.1"),
                                  ("1.0.0+20130313144700", "1.0.0")])
def test_build_metadata_is_ignored_for_precedence(a, b):
    left, right = versions.parse(a), versions.parse(b)
    assert not left < right and not right < left and left.compare(right) == 0


def test_highest_picks_by_precedence():
    found = versions.highest(versions.parse(v) for v in ["1.0.0-rc.1", "0.9.9", "1.0.0-beta.11", "1.0.0-beta.2"])
    assert str(found) == "1.0.0-rc.1"
    assert versions.highest([]) is None


@pytest.mark.parametrize("text", ["1.0", "1", "01.0.0", "1.02.0", "1.0.0-01", "1.0.0-", "1.0.0+", "1.0.0-a..b",
                                  "v1.0.0", "1.0.0-rc_1", " ", "1.0.0.0", "-1.0.0"])
def test_not_semver(text):
    with pytest.raises(ValueError, match="not a SemVer"):
        versions.parse(text)


def test_user_input_is_bad_input_with_a_hint():
    with pytest.raises(BadInput, match=r"--version: 'v1.2.0' is not a SemVer .*without the tag prefix"):
        versions.parse_input("v1.2.0")
    assert str(versions.parse_input(" 1.2.0-rc.1+abc ")) == "1.2.0-rc.1+abc"


@pytest.mark.parametrize("tag, prefix, expected", [
    ("v1.2.3", "v", "1.2.3"), ("v1.2.3-rc.1+abc", "v", "1.2.3-rc.1+abc"), ("release-2.0.0", "release-", "2.0.0"),
    ("3.0.0", "", "3.0.0"), ("v1.2", "v", None), ("1.2.3", "v", None), ("vnext", "v", None), ("V1.2.3", "v", None),
])
def test_from_tag(tag, prefix, expected):
    found = versions.from_tag(tag, prefix)
    assert (str(found) if found else None) == expected


@pytest.mark.parametrize("start, level, expected", [
    ("1.2.3", Bump.PATCH, "1.2.4"), ("1.2.3", Bump.MINOR, "1.3.0"), ("1.2.3", Bump.MAJOR, "2.0.0"),
    ("1.2.3", Bump.NONE, "1.2.3"),
    ("0.3.2", Bump.PATCH, "0.3.3"), ("0.3.2", Bump.MINOR, "0.4.0"), ("0.3.2", Bump.MAJOR, "0.4.0"),
    ("0.99.5", Bump.MAJOR, "0.100.0"),  # 1.0.0 is never computed
    ("1.2.3-rc.1+abc", Bump.PATCH, "1.2.4"),  # bumps start from the core version
])
def test_bump(start, level, expected):
    assert str(versions.bump(versions.parse(start), level)) == expected


def test_tag_name_drops_build_metadata():
    assert versions.tag_name(versions.parse("1.4.0-rc.3+abc1234"), "v") == "v1.4.0-rc.3"


@pytest.mark.parametrize("text, expected", [("1.4.0-rc.3", 3), ("1.4.0-rc.3+abc", 3), ("1.4.0-rc.0", 0),
                                            ("1.4.0-rc", None), ("1.4.0-rc.3.1", None), ("1.4.0-beta.3", None),
                                            ("1.5.0-rc.3", None), ("1.4.0", None)])
def test_prerelease_number(text, expected):
    assert versions.prerelease_number(versions.parse(text), versions.parse("1.4.0"), "rc") == expected
