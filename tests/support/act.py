"""Running workflows for real with act in host mode (jobs run on this machine), and reading its output."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.tools import REPO


def action_checkout(dest: Path) -> Path:
    """What users get from `uses: bayat/deploy-action@v1`: the tracked files of this tree, nothing else."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    for name in listed:
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def job_results(output: str) -> dict[str, str]:
    """job id -> success | failure, from act's log."""
    results = {}
    for line in output.splitlines():
        if "🏁  Job succeeded" in line or "🏁  Job failed" in line:
            job = line.split("]")[0].split("/")[-1].strip()
            results[job] = "success" if "succeeded" in line else "failure"
    return results


def failures(output: str) -> str:
    """The lines worth reading when a job failed: everything it printed, last 120 lines."""
    failed = {job for job, result in job_results(output).items() if result == "failure"}
    lines = [line for line in output.splitlines()
             if any(re.search(rf"/{re.escape(job)} *\]", line) for job in failed)]
    return "\n".join(lines[-120:])


class Approvals(ThreadingHTTPServer):
    """GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals -> [] (nobody needed to approve)."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"[]" if self.path.split("?")[0].endswith("/approvals") else b'{"message": "Not Found"}'
                self.send_response(200 if body == b"[]" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def artifact_actions(dest: Path) -> dict[str, Path]:
    node_modules = REPO / ".tools" / "act-actions" / "node_modules"
    assert node_modules.is_dir(), "scripts/setup installs @actions/artifact for these tests"
    actions = {}
    for kind in ("upload", "download"):
        target = dest / kind
        shutil.copytree(REPO / "tests" / "support" / "act-actions" / kind, target)
        (target / "node_modules").symlink_to(node_modules)
        actions[kind] = target
    return actions


FRESH_RUNNER_SHIM = r"""#!/bin/sh
# Every job of a run starts on a "fresh runner": its own HOME, temp directories and caches, the way a
# GitHub-hosted or GitLab SaaS runner gives each job a new machine. act (host mode) and gitlab-ci-local
# start every script through `bash`, found on PATH: this one picks the job's directories, then runs the real
# bash. Steps of one job share them; nothing is shared between jobs but what the pipeline passes on.
job="${GITHUB_JOB:-${CI_JOB_NAME:-}}"
if [ -n "$job" ] && [ -n "${FRESH_RUNNERS:-}" ] && [ -z "${FRESH_RUNNER:-}" ]; then
    FRESH_RUNNER="$FRESH_RUNNERS/$(printf '%s' "$job" | tr -c 'A-Za-z0-9._-' '_')"
    mkdir -p "$FRESH_RUNNER/home" "$FRESH_RUNNER/tmp" "$FRESH_RUNNER/runner-temp"
    HOME="$FRESH_RUNNER/home" TMPDIR="$FRESH_RUNNER/tmp" RUNNER_TEMP="$FRESH_RUNNER/runner-temp"
    export FRESH_RUNNER HOME TMPDIR RUNNER_TEMP
    unset XDG_CACHE_HOME XDG_CONFIG_HOME XDG_DATA_HOME XDG_STATE_HOME
fi
exec /bin/bash "$@"
"""


def fresh_runner_shim(dest: Path) -> Path:
    """A directory to put first on PATH: `bash` there gives every job its own HOME and temp dirs below
    $FRESH_RUNNERS/<job> (set FRESH_RUNNERS per pipeline run)."""
    dest.mkdir(parents=True, exist_ok=True)
    shim = dest / "bash"
    shim.write_text(FRESH_RUNNER_SHIM)
    shim.chmod(0o755)
    return dest
