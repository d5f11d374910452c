"""Set-up overhead of the composite actions, measured in act (host mode): cold vs warm, released vs not.

One job runs the same action step three times, in two checkouts of the action:
* a branch checkout (no dist/): the first step creates the job's virtualenv and installs bayat-deploy
  (cold, no pip cache: a fresh runner); the next ones reuse it (warm);
* a release checkout (`@v1`: dist/ built by scripts/build-action-dist): every step runs the shipped CLI
  with the runner's python3, nothing installed; its first step is as cold as a fresh runner gets.
The baseline, measured in the same run, is the same command called directly with an installed CLI. The
last lines price one run of the example's generated pipeline: jobs x first step + the other steps.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.act import action_checkout  # noqa: E402
from tests.support.gitrepo import GitRepo  # noqa: E402

WORKFLOW = """name: bootstrap
on: push
permissions: {}
jobs:
  steps:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
""" + "".join(f"""      - name: step {n}
        uses: ./
        with:
          command: policy validate
          working-directory: examples/hello-api
""" for n in (1, 2, 3))
STEP = re.compile(r"Success - Main step (\d) \[([\d.]+)(ms|s)\]")


def act_run(checkout: Path, venv: Path) -> dict[int, float]:
    tools = REPO / ".tools" / "bin"
    # a fresh runner: an empty pip cache, and the runner's own python3 first on PATH (not this virtualenv's)
    env = {**os.environ, "PATH": f"{tools}:/usr/bin:{os.environ['PATH']}", "PIP_NO_CACHE_DIR": "1"}
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run([str(Path(sys.executable).parent / "act"), "push", "-W", ".github/workflows/boot.yml",
                           "-P", "ubuntu-latest=-self-hosted", "--no-cache-server", "--artifact-server-addr",
                           "127.0.0.1", "--env", f"BAYAT_VENV={venv}", "--env", "PIP_NO_CACHE_DIR=1"],
                          cwd=checkout, capture_output=True, text=True, timeout=900, env=env)
    if proc.returncode != 0:
        raise SystemExit(proc.stdout[-3000:] + proc.stderr[-2000:])
    return {int(n): float(v) / (1000 if unit == "ms" else 1) for n, v, unit in STEP.findall(proc.stdout)}


def pipeline_shape() -> tuple[int, int]:
    """(jobs, bayat-deploy steps) of one run of the example's generated GitHub pipeline."""
    import yaml

    from bayat_deploy.generate.render import render_files
    from bayat_deploy.policy.loader import load_policy

    files = render_files(load_policy(REPO / "examples" / "hello-api" / ".bayat" / "deploy.yml"), "github")
    jobs = yaml.safe_load(files[".github/workflows/deploy.yml"])["jobs"].values()
    counts = [sum("deploy-action" in str(step.get("uses", "")) for step in job.get("steps", [])) for job in jobs]
    return sum(1 for c in counts if c), sum(counts)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bayat-bench-") as scratch:
        base = Path(scratch)
        measured = {}
        for kind in ("branch", "release"):
            checkout = action_checkout(base / kind)
            (checkout / ".github" / "workflows" / "boot.yml").write_text(WORKFLOW)
            if kind == "release":
                subprocess.run([sys.executable, str(REPO / "scripts" / "build-action-dist"), "--out",
                                str(checkout / "dist")], check=True, capture_output=True)
                subprocess.run(["git", "init", "-q"], cwd=checkout, check=True)
                subprocess.run(["git", "add", "-f", "dist"], cwd=checkout, check=True)
            GitRepo(checkout).commit("bench")
            cold_runs, warm_runs = [], []
            for run in range(2):
                steps = act_run(checkout, base / f"venv-{kind}-{run}")  # a new runner: the first step is cold
                cold_runs.append(steps[1])
                warm_runs += [steps[2], steps[3]]
            measured[kind] = statistics.median(cold_runs), statistics.median(warm_runs)
        baseline = []
        for _ in range(5):
            started = time.perf_counter()
            subprocess.run([str(Path(sys.executable).parent / "bayat-deploy"), "policy", "validate"],
                           cwd=REPO / "examples" / "hello-api", check=True, capture_output=True)
            baseline.append(time.perf_counter() - started)
    direct = statistics.median(baseline)
    rows = [("direct CLI (baseline)", direct),
            ("branch checkout, cold (venv made, pip install)", measured["branch"][0]),
            ("branch checkout, warm (venv reused)", measured["branch"][1]),
            ("release checkout (dist/), first step of a job", measured["release"][0]),
            ("release checkout (dist/), later step", measured["release"][1])]
    print(f"{'step':48} {'median s':>9} {'vs direct CLI':>14}")
    for name, seconds in rows:
        print(f"{name:48} {seconds:9.2f} {seconds / direct:13.1f}x")
    jobs, steps = pipeline_shape()
    before = jobs * measured["branch"][0] + (steps - jobs) * measured["branch"][1]
    after = jobs * measured["release"][0] + (steps - jobs) * measured["release"][1]
    overhead = [before - steps * direct, after - steps * direct]
    print(f"\none run of the example pipeline: {jobs} jobs, {steps} bayat-deploy steps")
    print(f"  setup + commands, branch checkout:  {before:7.1f}s  (set-up overhead {overhead[0]:.1f}s)")
    print(f"  setup + commands, release checkout: {after:7.1f}s  (set-up overhead {overhead[1]:.1f}s), "
          f"{before / after:.1f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
