"""Every action input reaches a flag the CLI really has: an input named `environment` on an action whose
command only knows `--env` would fail in the pipeline (it did once, for release-notes)."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.conftest import BIN, REPO

ACTIONS = sorted((REPO / "actions").glob("*/action.yml"))
# actions whose last command word comes from an input: their inputs may belong to any of these
SUBCOMMANDS = {"version": ("next", "current", "tag", "write"), "window": ("check", "next")}


def wiring(path):
    step = yaml.safe_load(path.read_text())["runs"]["steps"][0]
    words = re.search(r'scripts/action" ([\w -]+)', step["run"]).group(1).split()
    flags = []
    for variable in step["env"]:
        for prefix in ("BAYAT_ARG_", "BAYAT_LIST_", "BAYAT_FLAG_"):
            if variable.startswith(prefix):
                flags.append("--" + variable[len(prefix):].lower().replace("_", "-"))
    return words, flags


@pytest.mark.parametrize("path", ACTIONS, ids=lambda p: p.parent.name)
def test_every_input_is_a_flag_of_the_command(path):
    words, flags = wiring(path)
    known = set()
    for last in SUBCOMMANDS.get(words[0], ("",)):
        command = [*words, last] if last else words
        usage = subprocess.run([str(BIN / "bayat-deploy"), *command, "--help"], capture_output=True,
                               text=True).stdout
        known |= set(re.findall(r"(--[a-z][a-z-]*)", usage))
    assert flags and set(flags) <= known, f"{path}: {sorted(set(flags) - known)} not accepted by {' '.join(words)}"
