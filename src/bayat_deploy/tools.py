"""Running the external tools the stages drive (docker CLI, trivy, helm, git...), with clear failures."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Mapping, Sequence

from bayat_deploy.errors import BayatError, ToolMissing

INSTALL_HINT = "run scripts/setup (or install it and put it on PATH)"


def find(name: str) -> str | None:
    """A tool on PATH, or installed beside this Python (the virtualenv's bin/, used without activation)."""
    return shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))


def require(name: str, hint: str = INSTALL_HINT) -> str:
    path = find(name)
    if path is None:
        raise ToolMissing(f"{name} is not installed: {hint}")
    return path


def run(argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None,
        timeout: float | None = None, check: bool = False, input: str | None = None,
        capture: bool = True) -> subprocess.CompletedProcess:
    """Run a tool; the first element is looked up with `require`. Output is captured as text."""
    executable = require(argv[0])
    try:
        proc = subprocess.run([executable, *argv[1:]], cwd=cwd, env=dict(env) if env is not None else None,
                              timeout=timeout, input=input, text=True,
                              capture_output=capture)
    except subprocess.TimeoutExpired:
        raise BayatError(f"{argv[0]} did not finish within {timeout:g}s: {' '.join(argv)}") from None
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout or "").strip().splitlines()[-20:]
        raise BayatError(f"{' '.join(argv[:3])} failed (exit {proc.returncode}):\n" + "\n".join(detail))
    return proc


def shell(command: str, *, cwd: Path, env: Mapping[str, str] | None = None, timeout: float | None = None
          ) -> subprocess.CompletedProcess:
    """Run a command written in the policy (a test or analysis command) through the shell, output streamed.

    It runs in its own process group, so a timeout stops everything it started (`cd x && pytest`
    leaves no pytest behind), not only the shell.
    """
    import os
    import signal

    process = subprocess.Popen(["bash", "-o", "pipefail", "-c", command], cwd=cwd,
                               env=dict(env) if env is not None else None, text=True, start_new_session=True)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        raise BayatError(f"command did not finish within {timeout:g}s: {command}") from None
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode)
