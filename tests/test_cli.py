"""The CLI's shape: lazy sub-commands, help, and exit codes."""

from __future__ import annotations

import subprocess
import sys


def test_version_does_not_import_the_heavy_modules():
    code = ("import sys; from bayat_deploy.cli import main\n"
            "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
            "heavy = sorted(m for m in ('yaml', 'jinja2', 'requests', 'docker', 'bayat_deploy.policy.loader')"
            " if m in sys.modules)\nprint(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("[]")


def test_help_lists_commands(bayat):
    result = bayat("--help")
    assert result.code == 0 and "policy" in result.stdout
