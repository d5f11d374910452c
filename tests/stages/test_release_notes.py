"""`bayat-deploy release-notes` end to end on real repositories: ten sections, lock-file and configuration
changes, summaries, rollback plans, and the "release documentation is complete" check."""

from __future__ import annotations

import json
import re

import pytest

from tests.stages.test_release_notes_sections import PACKAGE_LOCK_V3, PIPFILE_LOCK, POETRY_LOCK, UV_LOCK
from tests.support.gitrepo import GitRepo
from tests.versioning.support import LOCAL_ENV, write_policy

TITLES = ["Summary", "Version", "Date", "Features", "Bug fixes", "Known issues", "Dependencies",
          "Configuration changes", "Migration steps", "Rollback plan"]
SECTIONS = ["summary", "version", "date", "features", "bug_fixes", "known_issues", "dependencies",
            "configuration_changes", "migration_steps", "rollback_plan"]
POLICY = """project: shop
team: web
config:
  keys:
    smtp.login: {secret: true}
release_notes:
  required: [summary, version, date, rollback_plan, known_issues, migration_steps, dependencies,
             configuration_changes]
"""


def bump_json(data: dict, path: list[str], value) -> str:
    copy = json.loads(json.dumps(data))
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return json.dumps(copy, indent=2)


@pytest.fixture
def shop(git_repo: GitRepo) -> GitRepo:
    """v1.0.0 with every lock-file format and configuration; then features, fixes and a breaking change."""
    write_policy(git_repo.root, POLICY)
    git_repo.write(".gitignore", ".bayat/evidence/\n.bayat/release-notes/\n")
    git_repo.commit("feat: first version", {
        "requirements.txt": "requests==2.31.0\nflask==3.0.0\n",
        "poetry.lock": POETRY_LOCK, "uv.lock": UV_LOCK,
        "web/package-lock.json": json.dumps(PACKAGE_LOCK_V3, indent=2),
        "Pipfile.lock": json.dumps(PIPFILE_LOCK, indent=2),
        "config/default.yml": "log:\n  level: info\ndb:\n  host: db1\n  password: hunter2\nsmtp:\n  login: s3cr3t\n",
        "config/production.yml": "replicas: 3\n",
    })
    git_repo.tag("v1.0.0")
    git_repo.commit("feat(api): order history\n\nLists past orders.\n\nMigration: run `shop migrate` before "
                    "starting the new version", {
                        "requirements.txt": "requests==2.32.3\ndjango==5.0.1\n",
                        "poetry.lock": POETRY_LOCK.replace('"2.31.0"', '"2.32.0"'),
                        "uv.lock": UV_LOCK.replace('name = "anyio"\nversion = "4.2.0"',
                                                   'name = "anyio"\nversion = "4.3.0"'),
                        "web/package-lock.json": bump_json(PACKAGE_LOCK_V3,
                                                           ["packages", "node_modules/left-pad", "version"], "1.3.1"),
                        "Pipfile.lock": bump_json(PIPFILE_LOCK, ["develop", "pytest", "version"], "==8.1.0"),
                    })
    git_repo.commit("fix: totals rounding", {
        "config/default.yml": "log:\n  level: debug\ndb:\n  host: db1\n  password: hunter3\nsmtp:\n  login: t0ps3cr3t\n"
                              "cache_ttl: 60\n",
        "config/production.yml": "replicas: 5\n",
    })
    git_repo.commit("fix(api)!: reject XML bodies\n\nBREAKING CHANGE: clients must send JSON")
    git_repo.commit("docs: describe the API")
    git_repo.commit("Tidy up", {".bayat/deploy.yml": POLICY.replace("team: web", "team: web-platform")})
    return git_repo


def notes(repo: GitRepo, version: str) -> tuple[str, dict]:
    directory = repo.root / ".bayat" / "release-notes"
    return (directory / f"{version}.md").read_text(), json.loads((directory / f"{version}.json").read_text())


def evidence(repo: GitRepo) -> dict:
    return json.loads((repo.root / ".bayat" / "evidence" / "release-notes.json").read_text())


def test_end_to_end_all_sections_and_the_completeness_check(bayat, shop):
    result = bayat("release-notes", "--check", cwd=shop.root, env=LOCAL_ENV)
    assert result.code == 1, result.stderr
    assert "release documentation for production is incomplete: required section(s) empty: known_issues" \
        in result.stdout
    markdown, data = notes(shop, "2.0.0")

    # Every section, in the standard's order, in both outputs.
    assert re.findall(r"^## (.+)$", markdown, re.M) == TITLES + ["Other changes"]
    assert list(data["sections"]) == SECTIONS
    assert [s["title"] for s in data["sections"].values()] == TITLES
    sections = data["sections"]

    assert sections["summary"]["content"] == "1 feature, 2 fixes, 1 breaking change"
    assert sections["version"]["content"]["previous_version"] == "1.0.0" and data["range"]["from"] == "v1.0.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", sections["date"]["content"])
    assert [e["description"] for e in sections["features"]["content"]] == ["order history"]
    assert [(e["description"], e["breaking"]) for e in sections["bug_fixes"]["content"]] == [
        ("reject XML bodies", True), ("totals rounding", False)]
    assert "- **api:** reject XML bodies (" in markdown and "**BREAKING**" in markdown
    assert [e["description"] for e in data["other_changes"]] == ["Tidy up", "describe the API"]

    deps = {(c["file"], c["name"]): (c["change"], c["before"], c["after"])
            for c in sections["dependencies"]["content"]["changes"]}
    assert deps == {
        ("requirements.txt", "requests"): ("changed", "2.31.0", "2.32.3"),
        ("requirements.txt", "flask"): ("removed", "3.0.0", None),
        ("requirements.txt", "django"): ("added", None, "5.0.1"),
        ("poetry.lock", "requests"): ("changed", "2.31.0", "2.32.0"),
        ("uv.lock", "anyio"): ("changed", "4.2.0", "4.3.0"),
        ("web/package-lock.json", "left-pad"): ("changed", "1.0.0, 1.3.0", "1.0.0, 1.3.1"),
        ("Pipfile.lock", "pytest"): ("changed", "8.0.0", "8.1.0"),
    }
    assert "| added | `django` |  | 5.0.1 | requirements.txt |" in markdown

    config = {(c["file"], c["key"]): c for c in sections["configuration_changes"]["content"]["changes"]}
    assert set(config) == {("config/default.yml", "log.level"), ("config/default.yml", "db.password"),
                           ("config/default.yml", "smtp.login"), ("config/default.yml", "cache_ttl"),
                           ("config/production.yml", "replicas"), (".bayat/deploy.yml", "team")}
    assert config[("config/production.yml", "replicas")]["environments"] == ["production"]
    assert (config[("config/default.yml", "log.level")]["before"], config[("config/default.yml", "log.level")]
            ["after"]) == ("info", "debug")
    assert config[("config/default.yml", "db.password")]["secret"] and config[("config/default.yml", "smtp.login")][
        "secret"]
    for text in (markdown, json.dumps(data)):
        assert not any(secret in text for secret in ("hunter2", "hunter3", "s3cr3t", "t0ps3cr3t"))
    assert "| changed | `db.password` | (secret: not shown) | (secret: not shown) |" in markdown

    assert [(s["source"], s["step"]) for s in sections["migration_steps"]["content"]] == [
        ("Migration", "run `shop migrate` before starting the new version"),
        ("BREAKING CHANGE", "clients must send JSON")]
    assert sections["rollback_plan"]["content"]["command"] == "bayat-deploy rollback --env production --to 1.0.0"
    assert "```sh\nbayat-deploy rollback --env production --to 1.0.0\n```" in markdown

    assert not sections["known_issues"]["filled"] and "KNOWN_ISSUES.md does not exist" in markdown
    report = evidence(shop)
    assert report["status"] == "fail" and report["stage"] == "release-notes"
    assert report["details"]["sections"] == {name: name != "known_issues" for name in SECTIONS}
    assert report["details"]["missing"] == ["known_issues"]
    assert [f["id"] for f in report["findings"]] == ["release-notes-known-issues"]
    assert report["summary"]["dependencies"] == 7 and report["summary"]["breaking_changes"] == 1

    # An explicit "None" fills the known-issues section; then the documentation is complete.
    shop.write("KNOWN_ISSUES.md", "# Known issues\n\nNone.\n")
    result = bayat("release-notes", "--check", cwd=shop.root, env=LOCAL_ENV)
    assert result.code == 0, result.stdout + result.stderr
    markdown, data = notes(shop, "2.0.0")
    assert data["sections"]["known_issues"]["none"] and "## Known issues\n\nNone (KNOWN_ISSUES.md says: None.)." \
        in markdown
    assert evidence(shop)["status"] == "pass" and all(evidence(shop)["details"]["sections"].values())


def test_known_issues_are_listed(bayat, shop):
    shop.write("KNOWN_ISSUES.md", "# Known issues\n\n- Exports over 10k rows time out\n* PDF totals lag by a day\n")
    result = bayat("release-notes", cwd=shop.root, env=LOCAL_ENV)
    assert result.code == 0
    markdown, data = notes(shop, "2.0.0")
    assert data["sections"]["known_issues"]["content"] == ["Exports over 10k rows time out", "PDF totals lag by a day"]
    assert "## Known issues\n\n- Exports over 10k rows time out\n- PDF totals lag by a day\n" in markdown


def test_missing_migration_steps_named_then_filled_by_an_explicit_none(bayat, git_repo):
    write_policy(git_repo.root, "project: shop\nrelease_notes:\n  required: [summary, migration_steps]\n")
    git_repo.commit("feat: a")
    git_repo.tag("v1.0.0")
    git_repo.commit("fix: b")
    result = bayat("release-notes", "--check", cwd=git_repo.root, env=LOCAL_ENV)
    assert result.code == 1 and "required section(s) empty: migration_steps" in result.stdout
    git_repo.commit("chore: release prep\n\nMigration: none")
    result = bayat("release-notes", "--check", cwd=git_repo.root, env=LOCAL_ENV)
    assert result.code == 0, result.stdout
    _, data = notes(git_repo, "1.0.1")
    assert data["sections"]["migration_steps"]["none"] and data["sections"]["migration_steps"]["filled"]


def test_check_applies_only_to_the_environments_that_require_notes(bayat, shop):
    result = bayat("release-notes", "--check", "--env", "staging", cwd=shop.root, env=LOCAL_ENV)
    assert result.code == 0 and "not required for staging; empty: known_issues" in result.stdout
    report = evidence(shop)
    assert report["details"]["required_for_environment"] is False and report["details"]["sections"]["known_issues"] \
        is False
    _, data = notes(shop, "2.0.0")
    assert data["sections"]["rollback_plan"]["content"]["command"] == "bayat-deploy rollback --env staging --to 1.0.0"


def test_without_check_incomplete_notes_pass_and_say_so(bayat, shop):
    result = bayat("release-notes", cwd=shop.root, env=LOCAL_ENV)
    assert result.code == 0 and "incomplete (not checked): known_issues" in result.stdout
    assert evidence(shop)["details"]["complete"] is False


def test_first_release_rolls_back_by_removing_the_deployment(bayat, git_repo):
    write_policy(git_repo.root, "project: shop\n")
    git_repo.commit("feat: a")
    result = bayat("release-notes", "--check", cwd=git_repo.root, env=LOCAL_ENV)
    assert result.code == 0, result.stdout  # the standard's required sections are generated
    markdown, data = notes(git_repo, "0.1.0")
    plan = data["sections"]["rollback_plan"]["content"]
    assert plan["previous_version"] is None and plan["command"] == "bayat-deploy rollback --env production --remove"
    assert "first release: there is no earlier version, so rolling back means removing the deployment" in markdown
    assert data["sections"]["version"]["content"]["previous_version"] is None and data["range"]["from"] is None
    assert not data["sections"]["dependencies"]["filled"]  # no lock file at all: nothing to go on
    assert data["sections"]["configuration_changes"]["content"]["changes"][0] == {
        "file": ".bayat/deploy.yml", "change": "added", "key": "project", "before": None, "after": "shop",
        "secret": False, "environments": []}


@pytest.mark.parametrize("how, expected", [
    ("generated", "1 feature, 1 fix"),
    ("option", "Order history for everyone"),
    ("file", "From a file.\n\nTwo paragraphs."),
    ("tag", "Tagged with a summary"),
])
def test_summary_sources(bayat, git_repo, how, expected):
    write_policy(git_repo.root, "project: shop\n")
    git_repo.write(".gitignore", ".bayat/evidence/\n.bayat/release-notes/\nsummary.md\n")
    git_repo.commit("feat: a")
    git_repo.tag("v1.0.0")
    git_repo.commit("feat: b")
    git_repo.commit("fix: c")
    args = []
    if how == "option":
        args = ["--summary", expected]
    elif how == "file":
        git_repo.write("summary.md", expected + "\n")
        args = ["--summary-file", "summary.md"]
    elif how == "tag":
        tagged = bayat("version", "tag", "--summary", expected, cwd=git_repo.root, env=LOCAL_ENV)
        assert tagged.code == 0, tagged.stderr
    result = bayat("release-notes", *args, cwd=git_repo.root, env=LOCAL_ENV)
    assert result.code == 0, result.stderr
    _, data = notes(git_repo, "1.1.0")
    assert data["sections"]["summary"]["content"] == expected


def test_tag_without_summary_falls_back_to_the_generated_one(bayat, git_repo):
    write_policy(git_repo.root, "project: shop\n")
    git_repo.write(".gitignore", ".bayat/\n")
    git_repo.commit("fix: a")
    assert bayat("version", "tag", cwd=git_repo.root, env=LOCAL_ENV).code == 0
    assert bayat("release-notes", "--output", "out", cwd=git_repo.root, env=LOCAL_ENV).code == 0
    data = json.loads((git_repo.root / "out" / "0.1.0.json").read_text())
    assert data["sections"]["summary"]["content"] == "1 fix" and data["version"] == "0.1.0"


def test_since_and_explicit_version(bayat, shop, tmp_path):
    since = shop.git("rev-parse", "HEAD~2")
    result = bayat("release-notes", "--version", "2.0.0-rc.1", "--since", since, "--output", str(tmp_path),
                   cwd=shop.root, env=LOCAL_ENV)
    assert result.code == 0, result.stderr
    data = json.loads((tmp_path / "2.0.0-rc.1.json").read_text())
    assert data["range"]["from"] == since and data["sections"]["version"]["content"]["commits"] == 2
    assert data["sections"]["dependencies"]["none"]  # the lock files exist and did not change in that range
    assert data["sections"]["rollback_plan"]["content"]["previous_version"] == "1.0.0"


def test_project_in_a_subdirectory_of_the_repository(bayat, git_repo):
    service = git_repo.root / "services" / "api"
    write_policy(service, "project: api\n")
    git_repo.commit("feat: api", {"services/api/requirements.txt": "fastapi==0.109.0\n", "requirements.txt": "x==1\n"})
    git_repo.tag("v1.0.0")
    git_repo.commit("fix: api", {"services/api/requirements.txt": "fastapi==0.110.0\n", "requirements.txt": "x==2\n"})
    git_repo.commit("feat: elsewhere in the repository", {"tools/x.txt": "1\n"})
    result = bayat("release-notes", "--output", "notes", cwd=service, env=LOCAL_ENV)
    assert result.code == 0, result.stderr
    data = json.loads((service / "notes" / "1.0.1.json").read_text())
    assert data["sections"]["dependencies"]["content"]["changes"] == [
        {"file": "requirements.txt", "change": "changed", "name": "fastapi", "before": "0.109.0", "after": "0.110.0"}]
    # Only the commits that touch the project's directory are its changes.
    assert [e["description"] for e in data["sections"]["bug_fixes"]["content"]] == ["api"]
    assert data["sections"]["features"]["content"] == [] and data["other_changes"] == []


@pytest.mark.parametrize("args, message", [
    (["--env", "qa"], "unknown environment 'qa'"),
    (["--since", "no-such-ref"], "--since no-such-ref: no such commit"),
    (["--version", "2"], "--version: '2' is not a SemVer"),
    (["--summary", "  "], "--summary: the text is empty"),
    (["--summary-file", "missing.md"], "--summary-file missing.md: cannot read it"),
    (["--summary", "a", "--summary-file", "b"], "not allowed with argument"),
])
def test_bad_input(bayat, shop, args, message):
    result = bayat("release-notes", *args, cwd=shop.root, env=LOCAL_ENV)
    assert result.code == 2 and message in result.stderr
    assert not (shop.root / ".bayat" / "release-notes").exists()
