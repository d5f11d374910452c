"""Pure rules of build and publish: image tags, tag kinds, package versions, references, retries."""

from __future__ import annotations

import pytest

from bayat_deploy.building.packages import debian_version, pep440
from bayat_deploy.building.tags import image_tags, is_immutable, tag_kind
from bayat_deploy.errors import BadInput, BayatError
from bayat_deploy.registry.reference import ImageReference, image_repository, split_registry_url
from bayat_deploy.registry.retry import TransientError, is_transient_message, with_retries


@pytest.mark.parametrize("version, released, expected", [
    # stable: X.Y.Z, X.Y, X, latest when highest
    ("1.4.2", [], ["1.4.2", "1.4", "1", "latest", "sha-abc1234"]),
    ("1.4.2", ["1.4.1", "1.3.0", "0.9.0"], ["1.4.2", "1.4", "1", "latest", "sha-abc1234"]),
    ("1.4.2", ["1.4.2"], ["1.4.2", "1.4", "1", "latest", "sha-abc1234"]),  # rebuilding the newest release
    # a hotfix of an older line never takes latest
    ("1.4.3", ["2.0.0", "1.4.2"], ["1.4.3", "1.4", "1", "sha-abc1234"]),
    ("2.0.0", ["2.0.1"], ["2.0.0", "2.0", "2", "sha-abc1234"]),
    # 0.x: no bare major tag "0"
    ("0.3.1", [], ["0.3.1", "0.3", "latest", "sha-abc1234"]),
    ("0.3.1", ["0.4.0"], ["0.3.1", "0.3", "sha-abc1234"]),
    # pre-releases: only the full version, "+" written as "-", never latest
    ("1.5.0-rc.3", ["1.4.2"], ["1.5.0-rc.3", "sha-abc1234"]),
    ("1.5.0-rc.3+abc1234", [], ["1.5.0-rc.3-abc1234", "sha-abc1234"]),
    ("2.0.0-alpha", ["1.0.0"], ["2.0.0-alpha", "sha-abc1234"]),
    # pre-release and non-SemVer tags among the released do not count against latest
    ("1.0.0", ["1.1.0-rc.1", "not-a-version", "1.0.0-beta"], ["1.0.0", "1.0", "1", "latest", "sha-abc1234"]),
    # stable with build metadata: the version tag is X.Y.Z
    ("3.0.0+build.7", [], ["3.0.0", "3.0", "3", "latest", "sha-abc1234"]),
])
def test_image_tags(version, released, expected):
    assert image_tags(version, "abc1234", released) == expected


def test_image_tags_without_a_commit_has_no_sha_tag():
    assert image_tags("1.0.0", "", []) == ["1.0.0", "1.0", "1", "latest"]


@pytest.mark.parametrize("bad", ["1.0", "v1.0.0", "1.0.0-", "01.0.0", "latest"])
def test_image_tags_refuse_what_is_not_semver(bad):
    with pytest.raises(ValueError, match="not a SemVer version"):
        image_tags(bad, "abc1234", [])


@pytest.mark.parametrize("tag, kind, immutable", [
    ("1.2.3", "release", True),
    ("0.1.0", "release", True),
    ("1.2.3-rc.1", "prerelease", True),
    ("1.2.3-rc.1-abc1234", "prerelease", True),
    ("sha-abc1234", "sha", True),
    ("latest", "moving", False),
    ("1", "moving", False),
    ("1.2", "moving", False),
    ("main", "other", False),
    ("sha-XYZ", "other", False),
])
def test_tag_kinds(tag, kind, immutable):
    assert tag_kind(tag) == kind
    assert is_immutable(tag) is immutable


@pytest.mark.parametrize("semver, python, debian", [
    ("1.4.0", "1.4.0", "1.4.0"),
    ("1.4.0-rc.3", "1.4.0rc3", "1.4.0~rc.3"),
    ("1.4.0-rc.3+abc1234", "1.4.0rc3+abc1234", "1.4.0~rc.3+abc1234"),
    ("2.0.0-alpha.1", "2.0.0a1", "2.0.0~alpha.1"),
    ("2.0.0-beta", "2.0.0b0", "2.0.0~beta"),
    ("2.0.0-nightly.5", "2.0.0.dev0+nightly.5", "2.0.0~nightly.5"),
])
def test_package_versions(semver, python, debian):
    assert pep440(semver) == python
    assert debian_version(semver) == debian


@pytest.mark.parametrize("text, host, repository, tag, digest", [
    ("127.0.0.1:5000/bayat/hello-api:1.0.0", "127.0.0.1:5000", "bayat/hello-api", "1.0.0", None),
    ("harbor.example.com/team/app", "harbor.example.com", "team/app", None, None),
    ("localhost/app@sha256:" + "a" * 64, "localhost", "app", None, "sha256:" + "a" * 64),
    ("127.0.0.1:5000/x/y:1.0@sha256:" + "b" * 64, "127.0.0.1:5000", "x/y", "1.0", "sha256:" + "b" * 64),
])
def test_image_references(text, host, repository, tag, digest):
    reference = ImageReference.parse(text)
    assert (reference.host, reference.repository, reference.tag, reference.digest) == (host, repository, tag, digest)
    assert str(reference) == text


@pytest.mark.parametrize("text", ["hello-api:1.0", "bayat/hello-api", "127.0.0.1:5000/Upper/x:1",
                                  "127.0.0.1:5000/x@sha256:short"])
def test_image_references_must_be_complete(text):
    with pytest.raises(BadInput):
        ImageReference.parse(text)


def test_registry_urls():
    assert split_registry_url("https://harbor.example.com/bayat/") == ("harbor.example.com", "bayat")
    assert str(image_repository("127.0.0.1:5000/bayat", "hello-api")) == "127.0.0.1:5000/bayat/hello-api"
    assert str(image_repository("127.0.0.1:5000", "hello-api")) == "127.0.0.1:5000/hello-api"


@pytest.mark.parametrize("message, transient", [
    ("received unexpected HTTP status: 503 Service Unavailable", True),
    ("dial tcp 127.0.0.1:5000: connect: connection refused", True),
    ("toomanyrequests: rate limit exceeded", True),
    ("unauthorized: authentication required", False),
    ("denied: requested access to the resource is denied", False),
    ("manifest invalid: manifest invalid", False),
])
def test_transient_push_errors(message, transient):
    assert is_transient_message(message) is transient


def test_retries_back_off_and_give_up():
    said, slept, calls = [], [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise TransientError("the registry answered 503")
        return "done"

    assert with_retries(flaky, what="push x", attempts=4, say=said.append, sleep=slept.append) == "done"
    assert slept == [1.0, 2.0]
    assert said[0] == "push x: the registry answered 503; retrying in 1s (attempt 2 of 4)"

    def down():
        raise TransientError("cannot reach the registry")

    with pytest.raises(BayatError, match="push x failed after 3 attempt"):
        with_retries(down, what="push x", attempts=3, say=said.append, sleep=slept.append)
    assert slept[2:] == [1.0, 2.0]
