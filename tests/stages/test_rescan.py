"""The vulnerability rollback trigger: a later scan of the image serving an environment finds an advisory at
the trigger's severity (CRITICAL by default) and the environment goes back to its previous release.

Real parts: the example image on this Docker engine behind HAProxy, trivy scanning it offline. The
vulnerability database is a small real one built here (no public database can be downloaded), with a
made-up CRITICAL advisory against Debian's bash, which the image holds."""

from __future__ import annotations

import pytest
import requests

from tests.support.trivydb import DEBIAN_12_BUCKET, Advisory, build_trivy_db

pytestmark = [pytest.mark.docker, pytest.mark.e2e]

CRITICAL_BASH = Advisory("CVE-2099-0201", DEBIAN_12_BUCKET, "bash", "CRITICAL",
                         "bash: made-up critical flaw found after the release (test advisory)",
                         fixed_version="99:1.0-1")


@pytest.fixture(scope="module")
def advisories_after_the_release(tmp_path_factory):
    cache = tmp_path_factory.mktemp("trivy-later")
    build_trivy_db(cache, [CRITICAL_BASH])
    return cache


def serving(url: str) -> str:
    return requests.get(url + "/version", timeout=5).json()["version"]


def released_twice(deploy_repo, **environment):
    deploy_repo.policy({"staging": {"strategy": {"type": "blue-green", "decommission_after": "10m"},
                                    **environment}})
    for version in ("1.0.0", "2.0.0"):
        result = deploy_repo.deploy("staging", version)
        assert result.code == 0, result.stdout + result.stderr


def test_a_critical_found_later_rolls_the_environment_back(deploy_repo, advisories_after_the_release):
    released_twice(deploy_repo)

    result = deploy_repo.run("rescan", "--env", "staging", "--cache-dir", str(advisories_after_the_release))

    assert result.code == 1, result.stdout + result.stderr
    assert "CVE-2099-0201 at CRITICAL or above in 2.0.0" in result.stdout
    assert "rolled back to 1.0.0" in result.stdout
    assert serving(deploy_repo.url("staging")) == "1.0.0"
    last = deploy_repo.history("staging")[-1]
    assert (last["action"], last["version"], last["outcome"]) == ("rollback", "1.0.0", "succeeded")
    assert "CVE-2099-0201" in last["reason"]


def test_below_the_trigger_or_with_no_rollback_nothing_changes(deploy_repo, trivy_cache,
                                                                advisories_after_the_release):
    released_twice(deploy_repo)
    url = deploy_repo.url("staging")

    below = deploy_repo.run("rescan", "--env", "staging", "--cache-dir", str(trivy_cache))  # a HIGH only
    assert below.code == 0, below.stdout + below.stderr
    assert "holds no vulnerability at CRITICAL or above" in below.stdout

    reported = deploy_repo.run("rescan", "--env", "staging", "--no-rollback", "--cache-dir",
                               str(advisories_after_the_release))
    assert reported.code == 1 and "rolled back" not in reported.stdout
    assert serving(url) == "2.0.0"


def test_the_trigger_can_be_lowered_or_turned_off(deploy_repo, trivy_cache):
    released_twice(deploy_repo, rollback={"triggers": {"vulnerability": "HIGH"}, "automatic": False})
    high = deploy_repo.run("rescan", "--env", "staging", "--cache-dir", str(trivy_cache))
    assert high.code == 1 and "CVE-2099-0101 at HIGH or above" in high.stdout, high.stdout + high.stderr
    assert serving(deploy_repo.url("staging")) == "2.0.0"  # automatic: false reports only

    deploy_repo.policy({"staging": {"rollback": {"triggers": {"vulnerability": None}}}})
    off = deploy_repo.run("rescan", "--env", "staging", "--cache-dir", str(trivy_cache))
    assert off.code == 0 and "the vulnerability trigger is off" in off.stdout


def test_without_a_database_the_rescan_fails_and_changes_nothing(deploy_repo, tmp_path):
    released_twice(deploy_repo)
    result = deploy_repo.run("rescan", "--env", "staging", "--cache-dir", str(tmp_path / "empty"))
    assert result.code == 1 and "was NOT rescanned" in result.stdout, result.stdout + result.stderr
    assert serving(deploy_repo.url("staging")) == "2.0.0"
