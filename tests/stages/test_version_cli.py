"""`bayat-deploy version next|current|tag|write` run as a user runs them, on real repositories."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bayat_deploy.errors import BadInput
from bayat_deploy.versioning import resolve_version
from bayat_deploy.versioning.version_file import version_info, write_version_file
from tests.conftest import BIN
from tests.support.gitrepo import GitRepo
from tests.versioning.support import LOCAL_ENV, ci_context, session_for, write_policy


@pytest.fixture
def released(git_repo: GitRepo) -> GitRepo:
    """A repository released as v1.3.0, with a feature and a fix since (next: 1.4.0)."""
    write_policy(git_repo.root, "project: shop\n")
    git_repo.write(".gitignore", ".bayat/evidence/\nversion.json\n")
    git_repo.commit("feat: catalogue")
    git_repo.tag("v1.3.0")
    git_repo.commit("feat(cart): add cart")
    git_repo.commit("fix: rounding")
    return git_repo


def test_next_prints_only_the_version(bayat, released):
    result = bayat("version", "next", cwd=released.root, env=LOCAL_ENV)
    assert (result.code, result.stdout) == (0, "1.4.0\n")
    assert not (released.root / ".bayat" / "evidence").exists()  # next and current leave no evidence


def test_next_in_shell_command_substitution(released):
    script = f'v=$("{BIN / "bayat-deploy"}" version next) && printf "[%s]" "$v"'
    out = subprocess.run(["bash", "-c", script], cwd=released.root, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(released.root)}, check=True)
    assert out.stdout == "[1.4.0]"


def test_notes_go_to_stderr(bayat, released):
    released.tag("v1.4.0")
    released.commit("docs: guide")
    result = bayat("version", "next", cwd=released.root, env=LOCAL_ENV)
    assert result.stdout == "1.4.0\n"
    assert "no release-worthy commits since v1.4.0 (1 docs)" in result.stderr


def test_current_without_any_tag_prints_zero(bayat, git_repo):
    git_repo.commit("feat: a")
    result = bayat("version", "current", cwd=git_repo.root, env=LOCAL_ENV)
    assert (result.code, result.stdout) == (0, "0.0.0\n")
    assert "no release tag (vX.Y.Z)" in result.stderr


def test_repo_option_works_in_any_repository_without_a_policy(bayat, tmp_path):
    repo = GitRepo(tmp_path / "Some_Other.Repo")
    repo.commit("feat: a")
    repo.tag("v2.0.0")
    repo.commit("fix: b")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for action, expected in (("next", "2.0.1\n"), ("current", "2.0.0\n")):
        result = bayat("version", action, "--repo", str(repo.root), cwd=elsewhere, env=LOCAL_ENV)
        assert (result.code, result.stdout, result.stderr) == (0, expected, "")
    assert list(elsewhere.iterdir()) == [] and not (repo.root / ".bayat").exists()


def test_repo_option_uses_that_repositorys_policy(bayat, tmp_path, git_repo):
    write_policy(git_repo.root, "project: shop\nversioning: {tag_prefix: rel-}\n")
    git_repo.commit("feat: a")
    git_repo.tag("rel-4.0.0")
    git_repo.tag("v9.9.9")
    result = bayat("version", "current", "--repo", str(git_repo.root), cwd=tmp_path, env=LOCAL_ENV)
    assert result.stdout == "4.0.0\n"
    # --policy still wins over the repository's own file.
    other = tmp_path / "other.yml"
    other.write_text("project: shop\n")
    result = bayat("version", "current", "--repo", str(git_repo.root), "--policy", str(other), cwd=tmp_path,
                   env=LOCAL_ENV)
    assert result.stdout == "9.9.9\n"


def test_projects_in_subdirectories_count_their_own_commits(bayat, git_repo):
    for name in ("api", "web"):
        write_policy(git_repo.root / name, f"project: {name}\nversioning: {{tag_prefix: {name}-v}}\n")
    git_repo.commit("feat: both", {"api/a.txt": "1\n", "web/w.txt": "1\n"})
    git_repo.tag("api-v1.0.0")
    git_repo.tag("web-v2.0.0")
    git_repo.commit("fix(api): a", {"api/a.txt": "2\n"})
    git_repo.commit("feat(web): w", {"web/w.txt": "2\n"})
    git_repo.commit("feat!: repository tooling", {"tools/t.txt": "1\n"})
    assert bayat("version", "next", cwd=git_repo.root / "api", env=LOCAL_ENV).stdout == "1.0.1\n"
    assert bayat("version", "next", "--repo", "web", cwd=git_repo.root, env=LOCAL_ENV).stdout == "2.1.0\n"


def test_not_a_repository_is_bad_input(bayat, tmp_path):
    result = bayat("version", "next", cwd=tmp_path, env=LOCAL_ENV)
    assert result.code == 2 and "is not a git repository" in result.stderr and result.stdout == ""


def test_tag_creates_an_annotated_tag_listing_the_commits(bayat, released):
    result = bayat("version", "tag", "--summary", "Carts arrive", cwd=released.root, env=LOCAL_ENV)
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "v1.4.0"
    assert released.git("cat-file", "-t", "v1.4.0") == "tag"
    message = released.git("tag", "--list", "--format=%(contents)", "v1.4.0")
    assert message.startswith("Carts arrive\n\nChanges since v1.3.0:\n- fix: rounding (")
    assert "- feat(cart): add cart (" in message
    evidence = json.loads((released.root / ".bayat/evidence/version.json").read_text())
    assert (evidence["stage"], evidence["status"], evidence["version"]) == ("version", "pass", "1.4.0")
    details = evidence["details"]
    assert details["tag"] == "v1.4.0" and details["bump"] == "minor" and details["previous_tag"] == "v1.3.0"
    assert "minor bump from v1.3.0" in details["reason"]
    assert [c["subject"] for c in details["commits"]] == ["fix: rounding", "feat(cart): add cart"]
    assert bayat("version", "current", cwd=released.root, env=LOCAL_ENV).stdout == "1.4.0\n"


def test_tag_refuses_an_existing_tag(bayat, released):
    released.checkout("side", create=True)
    released.commit("chore: elsewhere")
    released.tag("v1.4.0")  # the version main computes, on a commit main does not contain
    released.checkout("main")
    result = bayat("version", "tag", cwd=released.root, env=LOCAL_ENV)
    assert result.code == 2
    assert "tag v1.4.0 already exists on commit" in result.stderr and "Nothing was tagged" in result.stderr


def test_tagging_again_on_the_same_commit_is_a_no_op(bayat, released, tmp_path):
    # A re-run of a pipeline tags the commit it already tagged: that is not an error.
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    released.git("remote", "add", "origin", str(bare))
    first = bayat("version", "tag", "--push", cwd=released.root, env=LOCAL_ENV)
    again = bayat("version", "tag", "--push", cwd=released.root, env=LOCAL_ENV)
    assert first.code == again.code == 0, again.stderr
    assert again.stdout.startswith("v1.4.0") and "already on HEAD" in again.stderr
    assert subprocess.run(["git", "tag"], cwd=bare, capture_output=True, text=True).stdout.split() == [
        "v1.4.0"]  # only the release tag was pushed


def test_tag_refuses_a_dirty_work_tree(bayat, released):
    (released.root / "change-1.txt").write_text("edited\n")
    result = bayat("version", "tag", cwd=released.root, env=LOCAL_ENV)
    assert result.code == 2 and "uncommitted changes (change-1.txt)" in result.stderr
    assert released.git("tag", "--list", "v1.4.0") == ""


def test_tag_on_a_feature_branch_numbers_pre_releases(bayat, released):
    released.checkout("feature/search", create=True)
    made = []
    for message in ("feat: search", "fix: search typo", "test: more"):
        released.commit(message)
        result = bayat("version", "tag", cwd=released.root, env=LOCAL_ENV)
        assert result.code == 0, result.stderr
        made.append(result.stdout.splitlines()[0])
    assert made == ["v1.4.0-rc.1", "v1.4.0-rc.2", "v1.4.0-rc.3"]  # build metadata stays out of tag names
    next_version = bayat("version", "next", cwd=released.root, env=LOCAL_ENV).stdout
    assert next_version == f"1.4.0-rc.3+{released.head[:7]}\n"  # HEAD is rc.3 already


def test_tag_push_sends_the_tag_to_origin(bayat, released, tmp_path):
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    released.git("remote", "add", "origin", str(origin))
    result = bayat("version", "tag", "--push", cwd=released.root, env=LOCAL_ENV)
    assert result.code == 0, result.stderr
    remote_tags = subprocess.run(["git", "tag", "--list"], cwd=origin, capture_output=True, text=True).stdout
    assert remote_tags.split() == ["v1.4.0"]
    evidence = json.loads((released.root / ".bayat/evidence/version.json").read_text())
    assert evidence["details"]["pushed"] is True


def test_tag_push_failure_fails_the_stage(bayat, released):
    result = bayat("version", "tag", "--push", "--remote", "nowhere", cwd=released.root, env=LOCAL_ENV)
    assert result.code == 1 and "created but not pushed to nowhere" in result.stdout
    assert released.git("tag", "--list", "v1.4.0") == "v1.4.0"


def test_write_creates_the_version_file(bayat, released):
    github = {"GITHUB_ACTIONS": "true", "GITHUB_SHA": released.head, "GITHUB_REF_NAME": "main",
              "GITHUB_REF_TYPE": "branch", "GITHUB_ACTOR": "alice", "GITHUB_SERVER_URL": "https://github.com",
              "GITHUB_REPOSITORY": "bayat/shop", "GITHUB_RUN_ID": "99",
              "GITHUB_OUTPUT": str(released.root / ".bayat/evidence/out"), "GITHUB_STEP_SUMMARY": ""}
    result = bayat("version", "write", cwd=released.root, env=github)
    assert result.code == 0, result.stderr
    path = released.root / "version.json"
    assert result.stdout.splitlines()[0] == str(path)
    info = json.loads(path.read_text())
    assert info["version"] == "1.4.0" and info["git_sha"] == released.head and info["ref"] == "main"
    assert info["pipeline_url"] == "https://github.com/bayat/shop/actions/runs/99" and info["triggered_by"] == "alice"
    assert info["build_time"].endswith("Z") and len(info["build_time"]) == 20
    assert "version<<" in (outputs := (released.root / ".bayat/evidence/out").read_text()) and "\n1.4.0\n" in outputs
    evidence = json.loads((released.root / ".bayat/evidence/version.json").read_text())
    assert evidence["details"]["version_file"] == str(path) and evidence["details"]["bump"] == "minor"


def test_write_with_explicit_version_and_output(bayat, released, tmp_path):
    target = tmp_path / "out" / "v.json"
    result = bayat("version", "write", "--version", "2.0.0-rc.1+build.5", "--output", str(target),
                   cwd=released.root, env=LOCAL_ENV)
    assert result.code == 0 and json.loads(target.read_text())["version"] == "2.0.0-rc.1+build.5"
    bad = bayat("version", "write", "--version", "v2", cwd=released.root, env=LOCAL_ENV)
    assert bad.code == 2 and "'v2' is not a SemVer" in bad.stderr


def test_version_file_ships_with_the_example_service(tmp_path):
    # The example's Dockerfile copies version.json from the build context, i.e. the policy's repository root.
    example = Path(__file__).resolve().parents[2] / "examples" / "hello-api"
    assert "version.jso[n]" in (example / "Dockerfile").read_text()
    session = session_for(example)
    assert session.root == example and session.policy.versioning.version_file == "version.json"
    path = write_version_file(session, "1.2.3", tmp_path / "version.json")
    assert set(json.loads(path.read_text())) == {"version", "git_sha", "build_time", "pipeline_url",
                                                  "triggered_by", "ref"}


def test_resolve_version(released):
    session = session_for(released.root)
    assert resolve_version(session, "3.0.0-rc.1") == "3.0.0-rc.1"
    with pytest.raises(BadInput):
        resolve_version(session, "3.0")
    assert resolve_version(session) == "1.4.0"
    released.tag("v1.4.0-rc.2")
    released.tag("v1.4.0-rc.10")
    assert resolve_version(session) == "1.4.0-rc.10"  # the highest version tag on HEAD


def test_version_info_from_a_ci_context(released):
    session = session_for(released.root, ci_context(branch="main", sha=released.head))
    info = version_info(session, "1.4.0")
    assert (info["git_sha"], info["ref"], info["triggered_by"]) == (released.head, "main", "carol")
    assert info["pipeline_url"] == "https://gitlab.example.com/p/-/pipelines/7"


@pytest.mark.parametrize("platform", [
    {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF_NAME": "12/merge",
     "GITHUB_HEAD_REF": "main", "GITLAB_CI": ""},
    {"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "merge_request_event", "CI_COMMIT_REF_NAME": "main",
     "GITHUB_ACTIONS": ""},
], ids=["github-pull-request", "gitlab-merge-request"])
def test_a_pull_request_from_a_branch_named_main_gets_a_pre_release(bayat, released, platform):
    """A fork's `main` is still only a proposal: its pipeline never computes the next release's version."""
    result = bayat("version", "next", cwd=released.root, env=platform)
    assert result.code == 0 and result.stdout.startswith("1.4.0-rc."), result.stdout + result.stderr
