"""This repository's own workflow (.github/workflows/actions.yml) runs the actions with `uses: ./actions/...`
under act in host mode; its negative steps must fail and the assertion step must see that they did."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import REPO
from tests.support.act import action_checkout, failures, job_results
from tests.support.gitrepo import GitRepo
from tests.support.tools import tool

pytestmark = [pytest.mark.e2e]


def test_the_actions_workflow_passes_with_its_negative_steps_failing(tmp_path):
    checkout = action_checkout(tmp_path / "deploy-action")
    GitRepo(checkout).commit("feat: the action pack")  # version and release notes read history
    proc = subprocess.run([tool("act"), "push", "-W", ".github/workflows/actions.yml",
                           "-P", "ubuntu-latest=-self-hosted", "--no-cache-server",
                           "--artifact-server-addr", "127.0.0.1",
                           "--env", f"BAYAT_VENV={tmp_path / 'venv'}"],
                          cwd=checkout, capture_output=True, text=True, timeout=1200,
                          env={**os.environ, "PATH": f"{REPO / '.tools' / 'bin'}:{os.environ['PATH']}"})
    assert job_results(proc.stdout) == {"policy, version, config, test, release notes": "success",
                                        "gates fail closed": "success"}, failures(proc.stdout)
    assert proc.returncode == 0
    assert "gate=failure window=failure inside=success unknown=failure" in proc.stdout
    assert "required check(s) failed for production" in proc.stdout  # the gate said why
