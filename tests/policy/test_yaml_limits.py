"""The loader's limits, measured on the real command: a hostile policy in a pull request is refused with
a located error, fast and small, before it can take a runner down.

Time and memory come from GNU time (`/usr/bin/time -v`: elapsed wall clock and maximum resident set
size) around `bayat-deploy policy validate`; the limits are the issue's (1 s, 100 MB), far above what
a refusal costs here (about 0.3 s and 20 MB), so a slow CI machine still passes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bayat_deploy.policy import yamlpos
from tests.conftest import BIN

BROKEN = Path(__file__).parent / "corpus" / "broken"
LOCATED = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): error: ")
HOSTILE = ["51-alias-bomb", "52-merge-key-bomb", "53-binary-tag", "54-int-tag-on-text", "55-timestamp-tag",
           "56-python-object-tag", "57-nul-byte", "58-not-utf8", "59-nesting-too-deep"]


def _measured(policy: Path) -> tuple[int, str, float, float]:
    """exit code, stderr, seconds, megabytes of `bayat-deploy policy validate`."""
    if not Path("/usr/bin/time").exists():
        pytest.fail("GNU time is not installed; run scripts/setup")
    report = policy.with_suffix(".time")
    proc = subprocess.run(["/usr/bin/time", "-v", "-o", str(report), str(BIN / "bayat-deploy"), "policy", "validate",
                           "--policy", policy.name], cwd=policy.parent, capture_output=True, text=True, timeout=60)
    text = report.read_text()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", text)
    seconds = int(wall[1] or 0) * 3600 + int(wall[2]) * 60 + float(wall[3])
    megabytes = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)[1]) / 1024
    return proc.returncode, proc.stderr, seconds, megabytes


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_policy_is_refused_located_and_bounded(name, tmp_path):
    policy = tmp_path / f"{name}.yml"
    shutil.copy(BROKEN / f"{name}.yml", policy)
    code, stderr, seconds, megabytes = _measured(policy)
    print(f"{name}: exit {code}, {seconds:.2f}s, {megabytes:.0f} MB")
    assert code == 2, stderr
    errors = stderr.splitlines()[:-1]
    assert errors and all(LOCATED.match(line) and line.startswith(policy.name) for line in errors), stderr
    assert "internal error" not in stderr and "Traceback" not in stderr
    # Memory is the deterministic bound (an expanded "billion laughs" needs gigabytes). The time bound only
    # tells "stopped early" from "expanded it" (minutes), with room for a loaded CI machine: a fraction of a
    # second is what an unloaded one takes.
    assert megabytes < 100 and seconds < 10, (seconds, megabytes)


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(bayat, tmp_path):
    padding = "# " + "x" * 1000 + "\n"
    (tmp_path / "deploy.yml").write_text("project: demo\n" + padding * (yamlpos.MAX_BYTES // len(padding) + 1))
    result = bayat("policy", "validate", "--policy", "deploy.yml")
    assert result.code == 2
    assert result.stderr.startswith("deploy.yml:1:1: error: ") and "over the limit" in result.stderr, result.stderr


def test_a_large_honest_policy_stays_below_the_limits(bayat, tmp_path):
    """Fifty environments with their settings are far below the node limit: the limits leave room."""
    environments = "".join(f"  env{i}:\n    tier: development\n    url: https://env{i}.example.com\n"
                           f"    deploy_from:\n      branches: [main, 'release/*']\n" for i in range(50))
    (tmp_path / "deploy.yml").write_text("project: demo\nenvironments:\n" + environments)
    result = bayat("policy", "validate", "--policy", "deploy.yml")
    assert result.code == 0, result.stderr


def test_one_anchor_used_a_few_times_is_fine(bayat, tmp_path):
    (tmp_path / "deploy.yml").write_text(
        "project: demo\nenvironments:\n  staging:\n    deploy_from: &refs\n      branches: [main]\n"
        "  production:\n    deploy_from: *refs\n")
    result = bayat("policy", "validate", "--policy", "deploy.yml")
    assert result.code == 0, result.stderr
