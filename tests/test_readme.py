"""The README's reference tables are generated from the action.yml files and the components' spec:
keeping them current is a test, so the documentation cannot drift from the interface."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_reference_tables_are_current():
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "render-docs"), "--check"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr


def test_the_readme_names_the_two_setup_commands_first():
    text = (REPO / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "scripts/demo" in quick and "scripts/test" in quick
    run = (REPO / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert run == "scripts/test" and run in quick
