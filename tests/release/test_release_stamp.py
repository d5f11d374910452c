"""The release stamp (src/bayat_deploy/release.json, written by scripts/release after the image is pushed):
a released bayat-deploy generates GitLab pipelines that run in the image of its own release.

The stamped copies here are the package tree copied beside a release.json, run as a separate Python as an
installed release would be; the act release test (test_release_workflow.py) checks the published wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bayat_deploy import __version__
from bayat_deploy.distribution import Release, this_release
from bayat_deploy.errors import BadInput
from tests.conftest import REPO

IMAGE = f"registry.example/bayat/deploy-action:{__version__}@sha256:{'ab' * 32}"


@pytest.mark.parametrize(("version", "ref", "named"), [
    ("1.4.2", "v1", True), ("1.4.2", "v1.4", True), ("1.4.2", "v1.4.2", True), ("1.4.2", "1.4.2", True),
    ("1.4.2", "v2", False), ("1.4.2", "v1.3", False), ("1.4.2", "v1.4.1", False), ("1.4.2", "main", False),
    ("1.4.2", "0123456789abcdef0123456789abcdef01234567", False), ("1.5.0-rc.1", "v1.5.0", False),
    ("1.5.0-rc.1", "v1.5.0-rc.1", False),
])
def test_an_action_ref_names_the_releases_it_moves_over(version, ref, named):
    assert Release(version, IMAGE).within(ref) is named


def stamped_copy(root: Path, stamp: dict | str | None) -> Path:
    """The package as a release installs it, with `stamp` as its release.json (None: no stamp)."""
    site = root / "site"
    shutil.copytree(REPO / "src" / "bayat_deploy", site / "bayat_deploy",
                    ignore=shutil.ignore_patterns("__pycache__", "release.json"))
    if stamp is not None:
        text = stamp if isinstance(stamp, str) else json.dumps(stamp)
        (site / "bayat_deploy" / "release.json").write_text(text)
    return site


def generate(site: Path, repo: Path, *args: str) -> subprocess.CompletedProcess:
    (repo / ".bayat").mkdir(parents=True, exist_ok=True)
    (repo / ".bayat" / "deploy.yml").write_text("project: shop\n")
    return subprocess.run([sys.executable, "-m", "bayat_deploy.generate", "--dir", str(repo), *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(site)})


def test_a_released_bayat_deploy_runs_generated_gitlab_jobs_in_its_own_image(tmp_path):
    site = stamped_copy(tmp_path, {"version": __version__, "image": IMAGE})
    proc = generate(site, tmp_path / "app", "--platform", "all", "--action-ref", f"v{__version__}")
    assert proc.returncode == 0, proc.stderr
    pipeline = (tmp_path / "app" / ".gitlab-ci.yml").read_text()
    assert f"image: {IMAGE}" in pipeline and "BAYAT_DEPLOY_PACKAGE:\n    value: ''" in pipeline
    assert "note:" not in proc.stderr
    assert IMAGE not in (tmp_path / "app" / ".github" / "workflows" / "deploy.yml").read_text()


def test_an_action_ref_of_another_release_installs_that_release_and_says_why(tmp_path):
    site = stamped_copy(tmp_path, {"version": __version__, "image": IMAGE})
    proc = generate(site, tmp_path / "app", "--platform", "gitlab", "--action-ref", "v99")
    assert proc.returncode == 0, proc.stderr
    pipeline = (tmp_path / "app" / ".gitlab-ci.yml").read_text()
    assert "image: registry.example" not in pipeline and "bayat-deploy==99.*" in pipeline
    assert f"note: --action-ref v99 is not this bayat-deploy's release ({__version__})" in proc.stderr


def test_a_source_checkout_installs_with_pip_and_says_so(tmp_path):
    proc = generate(stamped_copy(tmp_path, None), tmp_path / "app", "--platform", "gitlab")
    assert proc.returncode == 0, proc.stderr
    assert "note: this bayat-deploy is not a release (no image stamped)" in proc.stderr
    assert "bayat-deploy==1.*" in (tmp_path / "app" / ".gitlab-ci.yml").read_text()


def test_image_is_refused_for_github_and_asked_for_by_digest(tmp_path):
    site = stamped_copy(tmp_path, None)
    github = generate(site, tmp_path / "app", "--platform", "github", "--image", IMAGE)
    assert github.returncode == 2 and "--image is for GitLab pipelines" in github.stderr, github.stderr
    unpinned = generate(site, tmp_path / "app", "--platform", "gitlab", "--image", "ghcr.io/bayat/deploy-action:1")
    assert unpinned.returncode == 2 and "pinned by digest" in unpinned.stderr, unpinned.stderr
    assert not (tmp_path / "app" / ".gitlab-ci.yml").exists() and not (tmp_path / "app" / ".github").exists()


@pytest.mark.parametrize(("stamp", "says"), [
    ("{not json", "release stamp is unreadable"),
    ({"version": "0.0.1", "image": IMAGE}, "the release stamp is for 0.0.1"),
    ({"version": __version__, "image": "ghcr.io/bayat/deploy-action:1"}, "field `image`"),
])
def test_a_damaged_stamp_is_a_clear_error_and_writes_nothing(tmp_path, stamp, says):
    site = stamped_copy(tmp_path, stamp)
    proc = generate(site, tmp_path / "app", "--platform", "gitlab")
    assert proc.returncode == 2, proc.stderr
    assert "release.json" in proc.stderr and says in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "app" / ".gitlab-ci.yml").exists()
    with pytest.raises(BadInput, match=says.replace("`", ".")):
        this_release(site / "bayat_deploy" / "release.json")


def test_the_source_tree_carries_no_stamp():
    assert not (REPO / "src" / "bayat_deploy" / "release.json").exists()
    assert this_release() is None
