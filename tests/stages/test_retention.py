"""retention: the rules as a table, then against a real registry seeded with images from two branches."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from bayat_deploy.policy.model.stages import Retention
from bayat_deploy.registry.client import RegistryClient
from bayat_deploy.registry.retention import TagInfo, parse_time, plan
from tests.support.imagerepo import credentials_env, unique_namespace

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


def image(digest: str, branch: str, age_days: float, *tags: str) -> list[TagInfo]:
    return [TagInfo(tag, digest, branch, days_ago(age_days)) for tag in tags]


# Each build carries a version tag and a sha- tag; a release also carries the moving tags.
HISTORY = [
    *image("sha256:r1", "main", 40, "1.0.0", "1.0", "1", "sha-1111111"),
    *image("sha256:r2", "main", 30, "1.1.0", "latest", "1.1", "sha-2222222", "1.1.0-rc.9"),
    *image("sha256:m1", "main", 25, "1.2.0-rc.1-aaaaaaa", "sha-aaaaaaa"),
    *image("sha256:m2", "main", 20, "1.2.0-rc.2-bbbbbbb", "sha-bbbbbbb"),
    *image("sha256:m3", "main", 10, "1.2.0-rc.3-ccccccc", "sha-ccccccc"),
    *image("sha256:f1", "feature/login", 9, "1.2.0-rc.4-ddddddd", "sha-ddddddd"),
    *image("sha256:f2", "feature/login", 3, "1.2.0-rc.5-eeeeeee", "sha-eeeeeee"),
    *image("sha256:f3", "feature/login", 1, "1.2.0-rc.6-fffffff", "sha-fffffff"),
    # a fresh release takes none of main's pre-release slots
    *image("sha256:r3", "main", 0.5, "1.2.0", "sha-3333333"),
    TagInfo("nightly", "sha256:n1", "main", days_ago(50)),
]


def deleted(retention: Retention, history=HISTORY) -> set[str]:
    return {d.tag for d in plan(history, retention, now=NOW) if d.delete}


@pytest.mark.parametrize("keep, days, gone", [
    (2, None, {"1.2.0-rc.1-aaaaaaa", "sha-aaaaaaa", "1.2.0-rc.4-ddddddd", "sha-ddddddd"}),
    (1, None, {"1.2.0-rc.1-aaaaaaa", "sha-aaaaaaa", "1.2.0-rc.2-bbbbbbb", "sha-bbbbbbb",
               "1.2.0-rc.4-ddddddd", "sha-ddddddd", "1.2.0-rc.5-eeeeeee", "sha-eeeeeee"}),
    (1, 21, {"1.2.0-rc.1-aaaaaaa", "sha-aaaaaaa"}),  # younger than 21 days stays
    (1, 5, {"1.2.0-rc.1-aaaaaaa", "sha-aaaaaaa", "1.2.0-rc.2-bbbbbbb", "sha-bbbbbbb",
            "1.2.0-rc.4-ddddddd", "sha-ddddddd"}),
    (3, None, set()),
])
def test_retention_rules(keep, days, gone):
    assert deleted(Retention(keep_prereleases=keep, keep_days=days)) == gone


def test_releases_and_what_they_share_are_never_deleted():
    decisions = {d.tag: d for d in plan(HISTORY, Retention(keep_prereleases=1), now=NOW)}
    for tag in ("1.0.0", "1.1.0", "latest", "1", "1.0", "1.1", "nightly"):
        assert not decisions[tag].delete
    # sha-2222222 and 1.1.0-rc.9 are old candidates, but they name the 1.1.0 release's manifest.
    assert not decisions["1.1.0-rc.9"].delete
    assert "same image as kept tag(s) 1.1, 1.1.0" in decisions["1.1.0-rc.9"].reason
    assert not decisions["sha-2222222"].delete
    assert "released version" in decisions["1.0.0"].reason


@pytest.mark.parametrize("text, expected", [
    ("2025-05-01T10:00:00Z", datetime(2025, 5, 1, 10, tzinfo=timezone.utc)),
    ("2025-05-01T10:00:00.123456789Z", datetime(2025, 5, 1, 10, tzinfo=timezone.utc)),
    ("2025-05-01T12:00:00+02:00", datetime(2025, 5, 1, 10, tzinfo=timezone.utc)),
    ("yesterday", None),
    (None, None),
])
def test_creation_times(text, expected):
    parsed = parse_time(text)
    assert parsed == expected if expected is None else parsed.replace(microsecond=0) == expected


def seed(client: RegistryClient, repository: str, branch: str, created: datetime, *tags: str) -> str:
    """An image as publish would leave it: config labels carrying the branch and creation time."""
    labels = {"io.bayat.branch": branch, "org.opencontainers.image.created": created.isoformat().replace("+00:00", "Z"),
              "org.opencontainers.image.version": tags[0]}
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": labels},
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    digest = client.upload_blob(repository, config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": SCHEMA2, "layers": [], "config": {
        "mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config), "digest": digest}})
    for tag in tags:
        client.put_manifest(repository, tag, manifest.encode(), SCHEMA2)
    return digest


def test_retention_against_the_registry(bayat, registry, tmp_path):
    namespace = unique_namespace("ret")
    repository = f"{namespace}/hello-api"
    client = RegistryClient(registry.host, username=registry.username, password=registry.password, insecure=True)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    seed(client, repository, "main", now - timedelta(days=40), "1.0.0", "1.0", "1", "sha-1111111")
    seed(client, repository, "main", now - timedelta(days=30), "1.1.0", "1.1", "latest", "sha-2222222")
    seed(client, repository, "main", now - timedelta(days=25), "1.2.0-rc.1-aaaaaaa", "sha-aaaaaaa")
    seed(client, repository, "main", now - timedelta(days=20), "1.2.0-rc.2-bbbbbbb", "sha-bbbbbbb")
    seed(client, repository, "main", now - timedelta(days=10), "1.2.0-rc.3-ccccccc", "sha-ccccccc")
    seed(client, repository, "feature/login", now - timedelta(days=9), "1.2.0-rc.4-ddddddd", "sha-ddddddd")
    seed(client, repository, "feature/login", now - timedelta(days=3), "1.2.0-rc.5-eeeeeee", "sha-eeeeeee")
    seed(client, repository, "feature/login", now - timedelta(days=1), "1.2.0-rc.6-fffffff", "sha-fffffff")
    before = registry.tags(repository)

    (tmp_path / ".bayat").mkdir()
    (tmp_path / ".bayat" / "deploy.yml").write_text(
        f"project: hello-api\nregistries:\n  containers:\n    url: {registry.host}/{namespace}\n    insecure: true\n"
        f"retention:\n  keep_prereleases: 2\n")
    env = credentials_env(registry)

    dry = bayat("retention", "--dry-run", env=env)
    assert dry.code == 0, dry.stdout + dry.stderr
    assert f"would delete {registry.host}/{repository}:1.2.0-rc.1-aaaaaaa" in dry.stdout
    assert "would delete 4 tag(s) (2 image(s))" in dry.stdout
    assert registry.tags(repository) == before, "a dry run deletes nothing"

    applied = bayat("retention", env=env)
    assert applied.code == 0, applied.stdout + applied.stderr
    gone = {"1.2.0-rc.1-aaaaaaa", "sha-aaaaaaa", "1.2.0-rc.4-ddddddd", "sha-ddddddd"}
    assert registry.tags(repository) == sorted(set(before) - gone)
    report = json.loads((tmp_path / ".bayat" / "evidence" / "retention.json").read_text())
    [entry] = report["details"]["repositories"]
    assert {d["tag"] for d in entry["delete"]} == gone and len(entry["deleted_digests"]) == 2
    assert {d["branch"] for d in entry["delete"]} == {"main", "feature/login"}

    again = bayat("retention", env=env)
    assert again.code == 0 and "deleted 0 tag(s)" in again.stdout

    refused = bayat("retention", env={"REGISTRY_USERNAME": "", "REGISTRY_PASSWORD": ""})
    assert refused.code == 1 and "set REGISTRY_USERNAME and REGISTRY_PASSWORD" in refused.stdout
