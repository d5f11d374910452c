"""Set-up overhead of the composite actions, measured in act (host mode): cold vs warm.

One job runs the same action step three times. The first step creates the job's virtualenv and
installs bayat-deploy from the action's checkout (cold); the next ones find it and only run the
command (warm). The baseline, measured in the same run, is the same command called directly with an
installed CLI: warm minus baseline is what the action itself costs per step.
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
    proc = subprocess.run([str(Path(sys.executable).parent / "act"), "push", "-W", ".github/workflows/boot.yml",
                           "-P", "ubuntu-latest=-self-hosted", "--no-cache-server", "--artifact-server-addr",
                           "127.0.0.1", "--env", f"BAYAT_VENV={venv}"], cwd=checkout, capture_output=True,
                          text=True, timeout=900, env={**os.environ, "PATH": f"{tools}:{os.environ['PATH']}"})
    if proc.returncode != 0:
        raise SystemExit(proc.stdout[-3000:] + proc.stderr[-2000:])
    return {int(n): float(v) / (1000 if unit == "ms" else 1) for n, v, unit in STEP.findall(proc.stdout)}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bayat-bench-") as scratch:
        base = Path(scratch)
        checkout = action_checkout(base / "checkout")
        (checkout / ".github" / "workflows" / "boot.yml").write_text(WORKFLOW)
        GitRepo(checkout).commit("bench")
        cold_runs, warm_runs = [], []
        for run in range(2):
            steps = act_run(checkout, base / f"venv-{run}")  # a new virtualenv: the first step is cold
            cold_runs.append(steps[1])
            warm_runs += [steps[2], steps[3]]
        baseline = []
        for _ in range(5):
            started = time.perf_counter()
            subprocess.run([str(Path(sys.executable).parent / "bayat-deploy"), "policy", "validate"],
                           cwd=REPO / "examples" / "hello-api", check=True, capture_output=True)
            baseline.append(time.perf_counter() - started)
    cold, warm, direct = statistics.median(cold_runs), statistics.median(warm_runs), statistics.median(baseline)
    print(f"{'step':44} {'median s':>9} {'vs direct CLI':>14}")
    print(f"{'direct CLI (baseline)':44} {direct:9.2f} {1:13.1f}x")
    print(f"{'action, cold (venv created, package installed)':44} {cold:9.2f} {cold / direct:13.1f}x")
    print(f"{'action, warm (same job, venv reused)':44} {warm:9.2f} {warm / direct:13.1f}x")
    print(f"\nwarm overhead per step: {warm - direct:.2f}s; cold costs {cold / warm:.1f}x a warm step, once per job")
    return 0


if __name__ == "__main__":
    sys.exit(main())
