"""Traffic switches on the Docker host target, under load through nginx.

For each phase it prints the requests sent, the failed ones, and the throughput as a ratio of a
steady-state baseline measured first in the same run (no deployment going on). Then the rollback
time, from the decision (the `rollback` command starting) to 100% of answers coming from the old
version, as the client saw it and as the tool measured it, against the 2 s goal.

Both connection modes of the load generator are measured: keep-alive (with the one retry of an
idempotent request on a stale pooled connection that HTTP clients make) and a fresh connection per
request (no retry at all).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.example import stop_deployments  # noqa: E402
from tests.support.load import LoadGenerator  # noqa: E402
from tests.support.registry import free_port  # noqa: E402

BIN = Path(sys.executable).parent
IMAGE = "bayat-bench/hello-api:switch"


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(BIN / "bayat-deploy"), *args], cwd=root, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"bayat-deploy {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def policy(root: Path, project: str, port: int, state: Path, strategy: dict) -> None:
    import yaml

    document = {"project": project,
                "target": {"type": "docker-host", "state_dir": str(state / "{environment}")},
                "defaults": {"verify": {"retries": 2, "retry_delay": "200ms",
                                        "smoke_tests": [{"name": "home", "path": "/", "expect": {"body": "hello"}}]}},
                "environments": {"staging": {"target": {"port": port}, "resources": {"replicas": 2},
                                             "strategy": strategy}}}
    (root / ".bayat").mkdir(exist_ok=True)
    (root / ".bayat" / "deploy.yml").write_text(yaml.safe_dump(document, sort_keys=False))


def run_mode(mode: str) -> dict:
    scratch = Path(tempfile.mkdtemp(prefix="bayat-bench-"))
    project, port = f"b{uuid.uuid4().hex[:6]}", free_port()
    root, state = scratch / "repo", scratch / "state"
    root.mkdir()
    blue_green = {"type": "blue-green", "decommission_after": "10m"}
    canary = {"type": "canary", "analysis": False, "steps": [{"weight": 10, "pause": "2s"},
                                                             {"weight": 50, "pause": "2s"}, {"weight": 100}]}
    policy(root, project, port, state, blue_green)
    deploy = lambda version, *extra: cli(root, "deploy", "--env", "staging", "--version", version,  # noqa: E731
                                         "--image", IMAGE, *extra)
    results = {}
    try:
        deploy("1.0.0")
        with LoadGenerator(f"http://127.0.0.1:{port}/", threads=4, mode=mode,
                           phase="baseline (no deployment)") as load:
            time.sleep(4)
            load.during("blue/green 1.0.0 -> 2.0.0")
            deploy("2.0.0")
            policy(root, project, port, state, canary)
            load.during("canary 2.0.0 -> 2.1.0")
            deploy("2.1.0")
            load.during("rollback 2.1.0 -> 2.0.0 (kept warm)")
            decided = time.monotonic()
            warm = cli(root, "rollback", "--env", "staging", "--reason", "benchmark")
            time.sleep(1)
            seen_warm = load.first_time_only("2.0.0", decided)
            load.during("rollback 2.0.0 -> 1.0.0 (restarted)")
            decided = time.monotonic()
            cold = cli(root, "rollback", "--env", "staging", "--to", "1.0.0", "--reason", "benchmark")
            time.sleep(1)
            seen_cold = load.first_time_only("1.0.0", decided)
        phases = {}
        for phase in dict.fromkeys(s.phase for s in load.samples):
            chosen = [s for s in load.samples if s.phase == phase]
            span = (chosen[-1].at - chosen[0].at) if len(chosen) > 1 else 1.0
            phases[phase] = {"requests": len(chosen), "failed": sum(not s.ok for s in chosen),
                             "rate": len(chosen) / max(span, 1e-6)}
        tool = [json.loads(line) for line in (state / "staging" / "records.jsonl").read_text().splitlines()]
        rollbacks = [e["details"]["seconds_to_traffic"] for e in tool if e["action"] == "rollback"]
        results = {"phases": phases,
                   "rollback to a warm version": (seen_warm, rollbacks[0]),
                   "rollback restarting the old version": (seen_cold, rollbacks[1]),
                   "ok": warm.returncode == 0 and cold.returncode == 0}
    finally:
        stop_deployments(project, state)
    return results


def main() -> int:
    base = os.environ.get("BAYAT_BASE_IMAGE", "bayat/python-base:bookworm")
    subprocess.run(["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={base}", "-t", IMAGE,
                    str(REPO / "examples" / "hello-api")], check=True, capture_output=True)
    for mode in ("keepalive", "fresh"):
        results = run_mode(mode)
        phases = results["phases"]
        baseline = phases["baseline (no deployment)"]["rate"]
        print(f"\n== connections: {mode}")
        print(f"{'phase':44} {'requests':>9} {'failed':>7} {'throughput vs baseline':>23}")
        for name, phase in phases.items():
            print(f"{name:44} {phase['requests']:9} {phase['failed']:7} {phase['rate'] / baseline:22.2f}x")
        for name in ("rollback to a warm version", "rollback restarting the old version"):
            seen, tool = results[name]
            client_text = f"{seen:.2f}s" if seen is not None else "n/a"
            print(f"{name:44} client saw 100% old after {client_text}, tool measured {tool:.2f}s "
                  f"= {tool / 2.0:.2f}x the 2 s goal")
        failed = sum(p["failed"] for p in phases.values())
        print(f"total failed requests: {failed} ({'ok' if failed == 0 else 'NOT ZERO'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
