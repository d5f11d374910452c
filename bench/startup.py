"""Start-up cost of the CLI: `bayat-deploy --version` against a bare `python -c pass`, same interpreter.

Target (issue: spine): under 5x the bare interpreter. Also times `policy validate` on the bundled
example, which imports YAML and builds the typed policy. Runs are interleaved so that machine noise
hits both sides alike; medians are printed.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 40
BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    example = REPO / "examples" / "hello-api" / ".bayat" / "deploy.yml"
    cases = {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "bayat-deploy --version": [str(BIN / "bayat-deploy"), "--version"],
        "generate-pipeline --version": [str(BIN / "generate-pipeline"), "--version"],
    }
    if example.exists():
        cases["bayat-deploy policy validate (example)"] = [str(BIN / "bayat-deploy"), "policy", "validate",
                                                           "--policy", str(example)]
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(3):  # warm the file cache
        for command in cases.values():
            timed(command)
    for _ in range(RUNS):
        for name, command in cases.items():
            samples[name].append(timed(command))
    baseline = statistics.median(samples["python -c pass (baseline)"])
    print(f"{'case':42} {'median ms':>10} {'ratio':>7}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:42} {median * 1000:10.1f} {median / baseline:6.2f}x")
    ratio = statistics.median(samples["bayat-deploy --version"]) / baseline
    verdict = "ok" if ratio < 5 else "TOO SLOW"
    print(f"\nbayat-deploy --version / python -c pass = {ratio:.2f}x (target < 5x): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
