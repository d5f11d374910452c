"""This repository's `.gitlab-ci.yml`: the pipeline of a vX.Y.Z tag publishes the components as X.Y.Z, and
only from a release commit of scripts/release. Run in gitlab-ci-local (shell executor; `release:` itself is
not performed there, the job's script and its dotenv variables are), on release commits stamped by
scripts/release's own functions."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
from pathlib import Path

import pytest

from tests.generate.test_gitlab_local import gitlab_ci_local, job_log, results
from tests.support.act import action_checkout
from tests.support.gitrepo import GitRepo

pytestmark = [pytest.mark.e2e]


def release_module(checkout: Path):
    path = checkout / "scripts" / "release"
    loader = importlib.machinery.SourceFileLoader(f"release_{abs(hash(path))}", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def tagged_checkout(base: Path, *, stamped: bool) -> GitRepo:
    checkout = action_checkout(base / "deploy-action")
    repo = GitRepo(checkout)
    repo.git("remote", "add", "origin", "https://gitlab.example.com/bayat/deploy-action.git")
    repo.commit("feat: the action pack")
    if stamped:
        release = release_module(checkout)
        release.stamp_version("1.2.3")
        release.pin_components("registry.example.com/bayat/deploy-action:1.2.3@sha256:" + "ab" * 32)
        notes = base / "1.2.3.md"
        notes.write_text("# Release 1.2.3\n\n## Summary\n\nThe components, at 1.2.3.\n")
        release.changelog(notes)
    repo.commit("chore(release): 1.2.3")
    repo.git("tag", "-a", "v1.2.3", "-m", "1.2.3")
    return repo


def run(repo: GitRepo, base: Path, *jobs: str) -> subprocess.CompletedProcess:
    argv = [gitlab_ci_local(), "--shell-isolation", "--force-shell-executor", "--no-color",
            "--home", str(base / "gcl-home"), "--max-job-name-padding", "0",
            "--variable", "CI_COMMIT_TAG=v1.2.3", *jobs]
    (repo.root / ".git" / "info" / "exclude").write_text(".gitlab-ci-local*/\n")
    return subprocess.run(argv, cwd=repo.root, capture_output=True, text=True, timeout=600)


def test_a_release_commit_tag_becomes_catalog_version_1_2_3(tmp_path):
    repo = tagged_checkout(tmp_path, stamped=True)
    proc = run(repo, tmp_path, "components", "catalog-release")
    assert results(proc.stdout) == {"components": "PASS", "catalog-release": "PASS"}, proc.stdout[-3000:]
    assert "publishing 1.2.3 of the components to the CI/CD Catalog" in job_log(proc.stdout, "catalog-release")
    artifacts = repo.root / ".gitlab-ci-local" / "artifacts" / "components"
    assert (artifacts / "release-notes.md").read_text().startswith("## Release 1.2.3")
    assert (artifacts / ".gitlab-ci-reports" / "dotenv" / "catalog.env").read_text() == "CATALOG_VERSION=1.2.3\n"


def test_a_tag_on_a_commit_scripts_release_did_not_make_is_refused(tmp_path):
    repo = tagged_checkout(tmp_path, stamped=False)
    proc = run(repo, tmp_path, "components")
    assert results(proc.stdout) == {"components": "FAIL"}, proc.stdout[-3000:]
    assert "do not pin the image 1.2.3@sha256:" in proc.stdout + proc.stderr
