"""The scan's pure parts: ignore matching, expiry, the gate, report shapes, the database check."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest

from bayat_deploy.context import RunContext
from bayat_deploy.scanning import gate, gitlab, helm, ignores, sarif, vulndb
from bayat_deploy.scanning.findings import ScanFinding
from bayat_deploy.scanning.ignores import IgnoreEntry, IgnoreFile
from tests.support.trivydb import build_trivy_db

SCHEMAS = Path(__file__).parent / "schemas"
TODAY = date(2026, 6, 1)


def finding(**overrides) -> ScanFinding:
    fields = dict(id="CVE-2099-0001", severity="HIGH", title="requests: leak", tool="trivy", category="vulnerability",
                  file="requirements.txt", line=1, package="requests", installed_version="2.19.0",
                  fixed_version="2.20.0", purl="pkg:pypi/requests@2.19.0")
    return ScanFinding(**{**fields, **overrides})


def entry(**overrides) -> IgnoreEntry:
    fields = dict(section="vulnerabilities", id="CVE-2099-0001", statement="not reachable", expires=date(2026, 9, 1),
                  file=".trivyignore.yaml", line=2)
    return IgnoreEntry(**{**fields, **overrides})


@pytest.mark.parametrize("wanted, found, same", [
    ("AVD-DS-0002", "DS-0002", True),
    ("DS002", "DS-0002", True),
    ("ds-0002", "DS-0002", True),
    ("KSV017", "KSV-0017", True),
    ("AVD-KSV-0017", "KSV-0117", False),
    ("DS-0002", "DS-0026", False),
])
def test_misconfiguration_ids_match_in_every_spelling_trivy_used(wanted, found, same):
    assert entry(section="misconfigurations", id=wanted).matches(
        finding(id=found, category="misconfiguration", package=None, purl=None)) is same


@pytest.mark.parametrize("overrides, same", [
    ({}, True),
    ({"id": "cve-2099-0001"}, True),
    ({"id": "CVE-2099-0002"}, False),
    ({"section": "secrets"}, False),
    ({"paths": ("requirements.txt",)}, True),
    ({"paths": ("services/*/requirements.txt",)}, False),
    ({"paths": ("*.txt",)}, True),
    ({"purls": ("pkg:pypi/requests",)}, True),
    ({"purls": ("pkg:pypi/requests@2.19.0",)}, True),
    ({"purls": ("pkg:pypi/requests@2.18.0",)}, False),
    ({"purls": ("pkg:pypi/urllib3",)}, False),
])
def test_an_entry_matches_by_id_then_paths_then_purls(overrides, same):
    assert entry(**overrides).matches(finding()) is same


@pytest.mark.parametrize("expires, expired", [
    (TODAY + timedelta(days=1), False),
    (TODAY, True),  # trivy's meaning: the entry stops counting on its date
    (TODAY - timedelta(days=1), True),
])
def test_an_ignore_stops_counting_on_its_expiry_date(expires, expired):
    assert entry(expires=expires).expired(TODAY) is expired


@pytest.mark.parametrize("severity, gate_name, blocks", [
    ("CRITICAL", "HIGH", True), ("HIGH", "HIGH", True), ("MEDIUM", "HIGH", False), ("UNKNOWN", "HIGH", False),
    ("MEDIUM", "MEDIUM", True), ("LOW", "MEDIUM", False),
])
def test_the_gate_blocks_at_or_above_its_severity(severity, gate_name, blocks):
    item = finding(severity=severity)
    gate.apply([item], gate_name, IgnoreFile(None), TODAY)
    assert item.blocking is blocks and item.counts is blocks


def test_an_ignore_in_force_is_recorded_with_its_reason_and_an_expired_one_is_reported():
    active, expired = finding(), finding(id="CVE-2099-0002")
    rules = IgnoreFile(".trivyignore.yaml", (entry(), entry(id="CVE-2099-0002", expires=date(2026, 1, 1), line=6)))
    gate.apply([active, expired], "HIGH", rules, TODAY)
    assert active.ignored == "not reachable (ignored until 2026-09-01, .trivyignore.yaml:2)" and not active.counts
    assert expired.ignored is None and expired.counts
    assert "expired on 2026-01-01" in expired.ignore_note and ".trivyignore.yaml:6" in expired.detail()
    counts = gate.tally([active, expired, finding(severity="LOW")])
    assert counts["HIGH"] == {"total": 2, "blocking": 1, "ignored": 1}
    assert counts["LOW"] == {"total": 1, "blocking": 0, "ignored": 0}
    assert counts["TOTAL"] == {"total": 3, "blocking": 1, "ignored": 1}
    assert [name for name in counts] == ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN", "TOTAL"]


def test_an_ignore_file_entry_is_read_with_its_line(tmp_path):
    (tmp_path / ".trivyignore.yaml").write_text(
        "# accepted risks\nsecrets:\n  - id: aws-access-key-id\n    paths: [docs/*.md]\n"
        "    statement: documentation example key\n    expired_at: 2026-12-31\n")
    loaded = ignores.load(tmp_path, ".trivyignore.yaml")
    assert loaded.entries == (IgnoreEntry("secrets", "aws-access-key-id", "documentation example key",
                                          date(2026, 12, 31), ".trivyignore.yaml", 3, ("docs/*.md",)),)
    assert ignores.load(tmp_path, "absent.yaml") == IgnoreFile(None)


def test_sarif_levels_rules_and_locations_follow_the_findings():
    items = [finding(), finding(id="DS-0002", category="misconfiguration", severity="CRITICAL", file="Dockerfile",
                                line=None, package=None, title="root user"),
             finding(id="CVE-2099-0101", image="registry.example.com/demo:1.0", file=None, line=None, package="bash"),
             finding(id="B602", tool="bandit", category="sast", severity="MEDIUM", file="app/run.py", line=5,
                     end_line=5, package=None)]
    document = json.loads(sarif.render(items, {"trivy": "0.76.0"}, {"registry.example.com/demo:1.0": "Dockerfile"}))
    jsonschema.Draft4Validator(json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text())).validate(document)
    runs = {run["tool"]["driver"]["name"]: run for run in document["runs"]}
    assert set(runs) == {"trivy", "bandit"}
    levels = {r["ruleId"]: r["level"] for run in runs.values() for r in run["results"]}
    assert levels == {"vulnerability/CVE-2099-0001": "error", "misconfiguration/DS-0002": "error",
                      "vulnerability/CVE-2099-0101": "error", "sast/B602": "warning"}
    image_result = next(r for r in runs["trivy"]["results"] if r["ruleId"].endswith("0101"))
    assert image_result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "Dockerfile"
    assert image_result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "registry.example.com/demo:1.0"
    rule = runs["trivy"]["tool"]["driver"]["rules"][0]
    assert rule["properties"]["security-severity"] == "8.0"


def test_an_empty_sarif_log_is_still_valid():
    document = json.loads(sarif.render([], {}, {}))
    jsonschema.Draft4Validator(json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text())).validate(document)
    assert document["runs"][0]["results"] == []


def test_the_container_report_matches_gitlabs_schema():
    item = finding(id="CVE-2099-0101", image="registry.example.com/demo:1.0", operating_system="debian:12.15",
                   file=None, package="bash", installed_version="5.2.15-2+b13", fixed_version=None)
    moment = datetime(2026, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
    document = json.loads(gitlab.container_report([item], "0.76.0", moment, moment))
    schema = json.loads((SCHEMAS / "container-scanning-report-format.json").read_text())
    jsonschema.Draft7Validator(schema).validate(document)
    assert document["version"] == schema["self"]["version"]
    [vulnerability] = document["vulnerabilities"]
    assert vulnerability["location"]["operating_system"] == "debian:12.15" and "solution" not in vulnerability
    again = json.loads(gitlab.container_report([item], "0.76.0", moment, moment))
    assert again["vulnerabilities"][0]["id"] == vulnerability["id"], "a finding keeps its id between runs"


def test_rendered_manifests_are_split_by_the_template_that_made_them():
    manifest = ("---\n# Source: demo/templates/service.yaml\nkind: Service\n"
                "---\n# Source: demo/templates/deployment.yaml\nkind: Deployment\n"
                "---\n# Source: demo/templates/service.yaml\nkind: Service\nmetadata: {name: second}\n")
    split = helm.split_by_source(manifest)
    assert set(split) == {"templates/service.yaml", "templates/deployment.yaml"}
    assert split["templates/service.yaml"].count("kind: Service") == 2


def test_the_database_check(tmp_path):
    assert not vulndb.inspect(tmp_path).usable
    assert "no vulnerability database" in vulndb.inspect(tmp_path).problem
    build_trivy_db(tmp_path)
    status = vulndb.inspect(tmp_path)
    assert status.usable and status.warning() is None
    build_trivy_db(tmp_path, updated_at=datetime.now(timezone.utc) - timedelta(days=30))
    assert "30 days ago" in vulndb.inspect(tmp_path).warning()
    (tmp_path / "db" / "metadata.json").write_text('{"Version": 1}')
    assert "schema version 1" in vulndb.inspect(tmp_path).problem
    (tmp_path / "db" / "metadata.json").write_text("not json")
    assert "unreadable" in vulndb.inspect(tmp_path).problem


@pytest.mark.parametrize("env, expected", [
    ({"TRIVY_CACHE_DIR": "/srv/trivy", "XDG_CACHE_HOME": "/x", "HOME": "/home/ci"}, "/srv/trivy"),
    ({"XDG_CACHE_HOME": "/x", "HOME": "/home/ci"}, "/x/trivy"),
    ({"HOME": "/home/ci"}, "/home/ci/.cache/trivy"),
])
def test_the_cache_directory_is_where_trivy_itself_looks(env, expected):
    assert vulndb.default_cache_dir(RunContext(platform="local", env=env)) == Path(expected)
