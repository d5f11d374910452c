"""Finding the real tools the tests drive: on PATH, in the virtualenv, or in the project's .tools/bin."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEARCH = [Path(sys.executable).parent, REPO / ".tools" / "bin"]


def tool(name: str) -> str:
    found = shutil.which(name) or next((str(d / name) for d in SEARCH if (d / name).exists()), None)
    assert found, f"{name} is installed by scripts/setup"
    return found


def actionlint(repo: Path, *files: str) -> list[str]:
    """actionlint's command line for workflows of `repo`, with the repository's own configuration (the
    self-hosted runner labels generate-pipeline writes) even when `repo` is not a git checkout."""
    config = repo / ".github" / "actionlint.yaml"
    return [tool("actionlint"), "-no-color", *(["-config-file", str(config)] if config.exists() else []), *files]
