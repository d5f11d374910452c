"""Traffic switches on the Docker host target, under a real load tool (wrk) through the router.

wrk runs one phase at a time (16 connections, 2 threads): a steady-state baseline with no deployment,
then blue/green, the rollback to the warm version, a canary, a rolling update and a rollback that
restarts the old version. Each phase prints wrk's requests, its socket errors (connect, read, write,
timeout) and its non-2xx answers separately, and its throughput as a ratio of the baseline. wrk never
retries: a connection the router closes under a request is a read error.

Two connection modes: keep-alive (wrk's default: connections are reused for every request) and a fresh
connection per request (`Connection: close`). Each router the target offers is measured
(`target.router`: haproxy, nginx). The rollback times are the tool's own (decision to 100% of traffic).

    bench/switch.py [--router haproxy|nginx]... [--mode keepalive|fresh]...
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.example import stop_deployments  # noqa: E402
from tests.support.registry import free_port  # noqa: E402

BIN = Path(sys.executable).parent
IMAGE = "bayat-bench/hello-api:switch"
BLUE_GREEN = {"type": "blue-green", "decommission_after": "10m"}
CANARY = {"type": "canary", "analysis": False, "steps": [{"weight": 10, "pause": "2s"}, {"weight": 50, "pause": "2s"},
                                                         {"weight": 100}]}
ROLLING = {"type": "rolling", "batch_size": 1}


class Wrk:
    """One wrk run over a phase: started before the operation, interrupted (SIGINT: it prints) after it."""

    def __init__(self, url: str, mode: str):
        argv = ["wrk", "-t2", "-c16", "-d600s", "--timeout", "5s", url]
        if mode == "fresh":
            argv[1:1] = ["-H", "Connection: close"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.started = time.monotonic()
        time.sleep(0.5)  # connected and running before the operation begins

    def stop(self) -> dict:
        seconds = time.monotonic() - self.started
        self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=30)
        return parse_wrk(out, seconds)


def parse_wrk(out: str, seconds: float) -> dict:
    requests = re.search(r"(\d+) requests in ([\d.]+)(m?s|m)\b", out)
    if not requests:
        raise SystemExit(f"wrk printed no summary:\n{out}")
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = dict(zip(("connect", "read", "write", "timeout"), map(int, sockets.groups()))) if sockets else {}
    return {"requests": int(requests.group(1)), "socket_errors": sum(errors.values()), "by_kind": errors,
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0, "rate": int(requests.group(1)) / seconds}


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(BIN / "bayat-deploy"), *args], cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bayat-deploy {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def policy(root: Path, project: str, port: int, state: Path, router: str, strategy: dict) -> None:
    import yaml

    document = {"project": project,
                "target": {"type": "docker-host", "router": router, "state_dir": str(state / "{environment}")},
                "defaults": {"verify": {"retries": 2, "retry_delay": "200ms",
                                        "smoke_tests": [{"name": "home", "path": "/", "expect": {"body": "hello"}}]}},
                "environments": {"staging": {"target": {"port": port}, "resources": {"replicas": 2},
                                             "strategy": strategy}}}
    (root / ".bayat").mkdir(exist_ok=True)
    (root / ".bayat" / "deploy.yml").write_text(yaml.safe_dump(document, sort_keys=False))


def run(router: str, mode: str) -> tuple[dict, list[float]]:
    scratch = Path(tempfile.mkdtemp(prefix="bayat-bench-"))
    project, port = f"b{uuid.uuid4().hex[:6]}", free_port()
    root, state = scratch / "repo", scratch / "state"
    root.mkdir()
    url = f"http://127.0.0.1:{port}/"

    def deploy(version: str, strategy: dict) -> None:
        policy(root, project, port, state, router, strategy)
        cli(root, "deploy", "--env", "staging", "--version", version, "--image", IMAGE)

    def rollback(*extra: str) -> None:
        cli(root, "rollback", "--env", "staging", "--reason", "benchmark", *extra)

    phases: dict[str, dict] = {}
    try:
        deploy("1.0.0", BLUE_GREEN)
        operations = [
            ("baseline (no deployment)", lambda: time.sleep(4)),
            ("blue/green 1.0.0 -> 2.0.0", lambda: deploy("2.0.0", BLUE_GREEN)),
            ("rollback to the warm 1.0.0", lambda: rollback()),
            ("canary 1.0.0 -> 2.1.0", lambda: deploy("2.1.0", CANARY)),
            ("rolling 2.1.0 -> 2.2.0", lambda: deploy("2.2.0", ROLLING)),
            ("rollback restarting 2.1.0", lambda: rollback("--to", "2.1.0")),
        ]
        for name, operation in operations:
            load = Wrk(url, mode)
            operation()
            time.sleep(0.5)
            phases[name] = load.stop()
        record = [json.loads(line) for line in (state / "staging" / "records.jsonl").read_text().splitlines()]
        timings = [e["details"]["seconds_to_traffic"] for e in record if e["action"] == "rollback"]
    finally:
        stop_deployments(project, state)
        shutil.rmtree(scratch, ignore_errors=True)
    return phases, timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--router", action="append", choices=("haproxy", "nginx"))
    parser.add_argument("--mode", action="append", choices=("keepalive", "fresh"))
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: scripts/setup installs it (Debian package wrk)")
    base = os.environ.get("BAYAT_BASE_IMAGE", "bayat/python-base:bookworm")
    subprocess.run(["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={base}", "-t", IMAGE,
                    str(REPO / "examples" / "hello-api")], check=True, capture_output=True)
    for router in args.router or ("haproxy", "nginx"):
        for mode in args.mode or ("keepalive", "fresh"):
            phases, timings = run(router, mode)
            baseline = phases["baseline (no deployment)"]["rate"]
            print(f"\n== router: {router}, connections: {mode} (wrk -t2 -c16)")
            print(f"{'phase':30} {'requests':>9} {'socket errors':>14} {'non-2xx':>8} {'throughput vs baseline':>23}")
            for name, phase in phases.items():
                kinds = ",".join(f"{k}={v}" for k, v in phase["by_kind"].items() if v)
                print(f"{name:30} {phase['requests']:9} {phase['socket_errors']:14} {phase['non_2xx']:8} "
                      f"{phase['rate'] / baseline:22.2f}x  {kinds}")
            for name, seconds in zip(("rollback to the warm version", "rollback restarting the old version"), timings):
                print(f"{name:36} {seconds:.2f}s to 100% of traffic = {seconds / 2.0:.2f}x the 2 s goal")
            errors = sum(p["socket_errors"] for p in phases.values())
            non_2xx = sum(p["non_2xx"] for p in phases.values())
            verdict = "ok" if errors == non_2xx == 0 else "NOT ZERO"
            print(f"total: {errors} socket errors, {non_2xx} non-2xx ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
