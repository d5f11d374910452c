"""`bayat-deploy scan` as a user runs it, with the real trivy, bandit and helm.

The vulnerability database is `tests.support.trivydb`'s tiny real one: it stands in for the public
trivy database because this machine cannot reach the internet. Its advisories are made up
(CVE-2099-*) for packages these tests plant: requests 2.19.0 (HIGH), pyyaml 5.3 (CRITICAL),
jinja2 2.10 (MEDIUM) and Debian's bash (HIGH, in every image).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import date, timedelta
from pathlib import Path

import jsonschema
import pytest


REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "examples" / "hello-api"
SCHEMAS = Path(__file__).parent / "schemas"
TOOLS_ENV = {"PATH": os.pathsep.join([str(Path(sys.executable).parent), str(REPO_ROOT / ".tools" / "bin"),
                                      os.environ.get("PATH", "")])}
POLICY = "project: demo\n"
FUTURE = (date.today() + timedelta(days=90)).isoformat()
FAKE_AWS_KEY = "AKIA" + "QW7RT2YU9PAS4DFG"  # built at run time so this file holds no key pattern
PRIVILEGED_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: debug
  namespace: tools
spec:
  containers:
    - name: shell
      image: registry.example.com/tools/shell:1.0
      securityContext:
        privileged: true
"""
ROOT_DOCKERFILE = 'FROM bayat/python-base:bookworm\nCOPY main.py /app/\nCMD ["python3", "/app/main.py"]\n'
VULNERABLE_REQUIREMENTS = "requests==2.19.0\npyyaml==5.3\njinja2==2.10\n"


def make_repo(tmp_path: Path, files: dict[str, str], policy: str = POLICY) -> Path:
    repo = tmp_path / "repo"
    for name, text in {".bayat/deploy.yml": policy, **files}.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return repo


def scan(bayat, repo: Path, cache: Path, *args: str, images: bool = False):
    argv = ["scan", "--cache-dir", str(cache), *([] if images else ["--skip-images"]), *args]
    return bayat(*argv, cwd=repo, env=TOOLS_ENV, timeout=300)


def evidence(repo: Path, stage: str = "scan") -> dict:
    return json.loads((repo / ".bayat" / "evidence" / f"{stage}.json").read_text())


def blocking(document: dict) -> list[dict]:
    return [f for f in document["findings"] if f["blocking"] and not f["ignored"]]


def report(repo: Path, name: str) -> dict:
    return json.loads((repo / ".bayat" / "reports" / name).read_text())


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


@pytest.mark.parametrize("files, finding_id, file", [
    pytest.param({"Dockerfile": ROOT_DOCKERFILE, "main.py": "print('hi')\n"}, "DS-0002", "Dockerfile",
                 id="dockerfile-runs-as-root"),
    pytest.param({"deploy/pod.yaml": PRIVILEGED_POD}, "KSV-0017", "deploy/pod.yaml", id="privileged-pod"),
    pytest.param({"config/settings.py": f'AWS_ACCESS_KEY_ID = "{FAKE_AWS_KEY}"\n'}, "aws-access-key-id",
                 "config/settings.py", id="aws-access-key"),
    pytest.param({"requirements.txt": "requests==2.19.0\n"}, "CVE-2099-0001", "requirements.txt",
                 id="vulnerable-dependency"),
])
def test_a_planted_problem_fails_the_stage_with_a_readable_finding(bayat, tmp_path, trivy_cache, files,
                                                                    finding_id, file):
    repo = make_repo(tmp_path, files)
    result = scan(bayat, repo, trivy_cache)
    assert result.code == 1, result.stdout + result.stderr
    assert "scan: FAILED" in result.stdout and "blocking finding" in result.stdout
    assert finding_id in result.stdout and file in result.stdout  # the blocking list names it with its file
    found = [f for f in blocking(evidence(repo)) if f["id"] == finding_id]
    assert found and found[0]["file"] == file and found[0]["severity"] in ("HIGH", "CRITICAL")
    assert found[0]["detail"], "a finding explains itself (versions, resolution or the redacted match)"


def test_the_secret_itself_never_reaches_the_evidence_or_reports(bayat, tmp_path, trivy_cache):
    repo = make_repo(tmp_path, {"config/settings.py": f'AWS_ACCESS_KEY_ID = "{FAKE_AWS_KEY}"\n'})
    result = scan(bayat, repo, trivy_cache)
    assert result.code == 1
    written = [path.read_text() for path in (repo / ".bayat").rglob("*") if path.is_file()]
    assert written and not any(FAKE_AWS_KEY in text for text in written)
    assert FAKE_AWS_KEY not in result.stdout + result.stderr


def ignore_file(entry: str) -> dict[str, str]:
    return {"requirements.txt": "requests==2.19.0\n", ".trivyignore.yaml": f"vulnerabilities:\n{entry}"}


@pytest.mark.parametrize("entry, code, says", [
    pytest.param(f"  - id: CVE-2099-0001\n    statement: only used by a CLI that never follows redirects\n"
                 f"    expired_at: {FUTURE}\n", 0, "ignored", id="reason-and-future-expiry"),
    pytest.param(f"  - id: cve-2099-0001\n    purls: [pkg:pypi/requests]\n    statement: accepted until upgrade\n"
                 f"    expired_at: {FUTURE}\n", 0, "ignored", id="by-purl"),
    pytest.param("  - id: CVE-2099-0001\n    statement: accepted for the old release\n    expired_at: 2020-01-01\n",
                 1, "expired on 2020-01-01", id="expired"),
    pytest.param(f"  - id: CVE-2099-0001\n    paths: [services/legacy/requirements.txt]\n    statement: legacy only\n"
                 f"    expired_at: {FUTURE}\n", 1, "CVE-2099-0001", id="other-path"),
])
def test_ignores_with_a_reason_count_until_they_expire(bayat, tmp_path, trivy_cache, entry, code, says):
    repo = make_repo(tmp_path, ignore_file(entry))
    result = scan(bayat, repo, trivy_cache)
    assert result.code == code, result.stdout + result.stderr
    assert says in result.stdout
    finding = next(f for f in evidence(repo)["findings"] if f["id"] == "CVE-2099-0001")
    if code == 0:
        assert finding["ignored"] and f"until {FUTURE}" in finding["ignored"]
        assert evidence(repo)["summary"]["counts"]["HIGH"] == {"total": 1, "blocking": 0, "ignored": 1}
    else:
        assert finding["blocking"] and not finding["ignored"]


def test_nothing_in_the_repository_or_environment_can_narrow_what_trivy_reports(bayat, tmp_path, trivy_cache):
    repo = make_repo(tmp_path, {"requirements.txt": "requests==2.19.0\n", "trivy.yaml": "severity: [CRITICAL]\n",
                                ".trivyignore": "CVE-2099-0001\n"})
    result = bayat("scan", "--skip-images", "--cache-dir", str(trivy_cache), cwd=repo, timeout=300,
                   env={**TOOLS_ENV, "TRIVY_SEVERITY": "CRITICAL", "TRIVY_IGNORE_UNFIXED": "true",
                        "TRIVY_OUTPUT": str(tmp_path / "elsewhere.json")})
    assert result.code == 1, result.stdout + result.stderr
    assert [f["id"] for f in blocking(evidence(repo))] == ["CVE-2099-0001"]
    assert ".trivyignore is not used" in result.stdout


def test_a_misconfiguration_ignore_may_use_trivys_old_check_id(bayat, tmp_path, trivy_cache):
    repo = make_repo(tmp_path, {"Dockerfile": ROOT_DOCKERFILE, "main.py": "print('hi')\n", ".trivyignore.yaml": (
        f"misconfigurations:\n  - id: AVD-DS-0002\n    paths: [Dockerfile]\n"
        f"    statement: the base image drops privileges at run time\n    expired_at: {FUTURE}\n")})
    result = scan(bayat, repo, trivy_cache)
    assert result.code == 0, result.stdout
    assert next(f for f in evidence(repo)["findings"] if f["id"] == "DS-0002")["ignored"]


@pytest.mark.parametrize("entry, message", [
    pytest.param("  - id: CVE-2099-0001\n    expired_at: 2030-01-01\n",
                 ".trivyignore.yaml:2:5: error: vulnerabilities[0].statement: every ignore needs a reason",
                 id="no-statement"),
    pytest.param("  - id: CVE-2099-0001\n    statement: fine\n",
                 ".trivyignore.yaml:2:5: error: vulnerabilities[0].expired_at: every ignore needs an expiry date",
                 id="no-expiry"),
    pytest.param("  - id: CVE-2099-0001\n    statement: fine\n    expired_at: next spring\n",
                 ".trivyignore.yaml:4:17: error: vulnerabilities[0].expired_at: expected a date YYYY-MM-DD",
                 id="not-a-date"),
    pytest.param("  - id: CVE-2099-0001\n    statement: ''\n    expired_at: 2030-01-01\n",
                 ".trivyignore.yaml:3:16: error: vulnerabilities[0].statement: every ignore needs a reason",
                 id="empty-statement"),
    pytest.param("  - statement: fine\n    expired_at: 2030-01-01\n",
                 ".trivyignore.yaml:2:5: error: vulnerabilities[0].id:", id="no-id"),
])
def test_an_ignore_without_its_reason_or_expiry_is_bad_input(bayat, tmp_path, trivy_cache, entry, message):
    repo = make_repo(tmp_path, ignore_file(entry))
    result = scan(bayat, repo, trivy_cache)
    assert result.code == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "error(s) in the ignore file .trivyignore.yaml" in result.stderr
    assert not (repo / ".bayat" / "evidence").exists(), "bad input changes nothing"


def test_an_unknown_section_in_the_ignore_file_is_named(bayat, tmp_path, trivy_cache):
    repo = make_repo(tmp_path, {".trivyignore.yaml": "vulnerabilites:\n  - id: CVE-2099-0001\n"})
    result = scan(bayat, repo, trivy_cache)
    assert result.code == 2
    assert ".trivyignore.yaml:1:1: error: vulnerabilites: unknown section" in result.stderr
    assert "did you mean 'vulnerabilities'?" in result.stderr


def test_without_a_database_the_stage_fails_loudly_and_still_reports_secrets(bayat, tmp_path):
    empty_cache = tmp_path / "no-db"
    repo = make_repo(tmp_path, {"requirements.txt": "requests==2.19.0\n",
                                "config/settings.py": f'AWS_ACCESS_KEY_ID = "{FAKE_AWS_KEY}"\n'})
    result = scan(bayat, repo, empty_cache)
    assert result.code == 1
    for instruction in ("--download-db-only", "--db-repository", "--cache-dir", str(empty_cache / "db")):
        assert instruction in result.stdout
    assert "no usable vulnerability database" in result.stdout and "NOT scanned" in result.stdout
    document = evidence(repo)
    assert document["details"]["vulnerability_db"]["status"] == "missing"
    assert {f["id"] for f in blocking(document)} == {"aws-access-key-id"}  # secrets ran; vulnerabilities could not
    assert report(repo, "gl-dependency-scanning-report.json")["scan"]["status"] == "failure"
    assert [r["ruleId"] for r in report(repo, "scan.sarif")["runs"][0]["results"]] == ["secret/aws-access-key-id"]


def test_without_the_vuln_scanner_no_database_is_needed(bayat, tmp_path):
    repo = make_repo(tmp_path, {"requirements.txt": "requests==2.19.0\n"},
                     policy="project: demo\nscan:\n  scanners: [secret, misconfig]\n")
    result = scan(bayat, repo, tmp_path / "no-db")
    assert result.code == 0, result.stdout
    assert "vulnerability_db" not in evidence(repo)["details"]
    assert not (repo / ".bayat" / "reports" / "gl-dependency-scanning-report.json").exists()
    assert (repo / ".bayat" / "reports" / "scan.sarif").exists()


@pytest.mark.parametrize("gate, expected", [
    ("HIGH", {"CVE-2099-0001"}),
    ("MEDIUM", {"CVE-2099-0001", "CVE-2099-0003"}),
])
def test_sarif_and_gitlab_reports_hold_exactly_what_closes_the_gate(bayat, tmp_path, trivy_cache, gate, expected):
    repo = make_repo(tmp_path, {"requirements.txt": VULNERABLE_REQUIREMENTS, ".trivyignore.yaml": (
        f"vulnerabilities:\n  - id: CVE-2099-0002\n    statement: full_load is never called\n"
        f"    expired_at: {FUTURE}\n")}, policy=f"project: demo\nscan:\n  severity: {gate}\n")
    result = scan(bayat, repo, trivy_cache)
    assert result.code == 1
    sarif = report(repo, "scan.sarif")
    jsonschema.Draft4Validator(schema("sarif-schema-2.1.0.json")).validate(sarif)
    results = [r for run in sarif["runs"] for r in run["results"]]
    assert {r["ruleId"].split("/")[1] for r in results} == expected  # not the ignored CRITICAL, nothing below
    assert all(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "requirements.txt"
               for r in results)
    rules = {rule["id"] for run in sarif["runs"] for rule in run["tool"]["driver"]["rules"]}
    assert rules == {f"vulnerability/{vuln_id}" for vuln_id in expected}

    gitlab = report(repo, "gl-dependency-scanning-report.json")
    jsonschema.Draft7Validator(schema("dependency-scanning-report-format.json")).validate(gitlab)
    assert {v["identifiers"][0]["value"] for v in gitlab["vulnerabilities"]} == expected
    assert {v["location"]["dependency"]["package"]["name"] for v in gitlab["vulnerabilities"]} <= {"requests", "jinja2"}

    counts = evidence(repo)["summary"]["counts"]
    assert counts["CRITICAL"] == {"total": 1, "blocking": 0, "ignored": 1}
    assert counts["MEDIUM"]["blocking"] == (1 if gate == "MEDIUM" else 0)


def test_the_bundled_example_passes_the_scan(bayat, tmp_path, trivy_cache):
    repo = tmp_path / "hello-api"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "reports",
                                                                 ".bayat/evidence", ".bayat/reports"))
    result = scan(bayat, repo, trivy_cache)
    assert result.code == 0, result.stdout + result.stderr
    assert evidence(repo)["details"]["vulnerability_db"]["status"] == "ok"
    assert evidence(repo, "infrastructure")["status"] == "pass"
    assert report(repo, "scan.sarif")["runs"][0]["results"] == []
    assert {"Python"} == {s["language"] for s in evidence(repo)["details"]["sast"] if s["files"]}


def test_built_images_need_the_build_evidence(bayat, tmp_path, trivy_cache):
    repo = make_repo(tmp_path, {"README.md": "demo\n"})
    result = scan(bayat, repo, trivy_cache, images=True)
    assert result.code == 1
    assert "run `bayat-deploy build` first" in result.stdout and "--skip-images" in result.stdout


@pytest.mark.docker
def test_images_from_the_build_evidence_are_scanned(bayat, tmp_path, trivy_cache):
    from bayat_deploy import evidence as evidence_module

    base = os.environ.get("BAYAT_BASE_IMAGE", "bayat/python-base:bookworm")
    repo = make_repo(tmp_path, {"Dockerfile": f"FROM {base}\nUSER 10001\n"})
    build = evidence_module.Envelope(stage="build", status="pass", started="", finished="", duration_seconds=0,
                                     artifacts=[evidence_module.Artifact(type="docker-image", name="demo",
                                                                         reference=base)])
    evidence_module.write(repo / ".bayat" / "evidence", build)
    result = scan(bayat, repo, trivy_cache, images=True)
    assert result.code == 1, result.stdout + result.stderr
    assert f"image {base}" in result.stdout and "CVE-2099-0101" in result.stdout
    gitlab = report(repo, "gl-container-scanning-report.json")
    jsonschema.Draft7Validator(schema("container-scanning-report-format.json")).validate(gitlab)
    [vulnerability] = gitlab["vulnerabilities"]
    assert vulnerability["location"]["image"] == base
    assert vulnerability["location"]["operating_system"].startswith("debian:12")
    sarif = report(repo, "scan.sarif")
    jsonschema.Draft4Validator(schema("sarif-schema-2.1.0.json")).validate(sarif)
    [result_] = [r for run in sarif["runs"] for r in run["results"]]
    assert result_["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "Dockerfile"
