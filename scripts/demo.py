"""The main job on the bundled example: policy -> pipeline -> a real run of that pipeline on this machine.

1. `generate-pipeline init` on a copy of examples/hello-api (its own policy removed): what it detects.
2. The example's policy, adapted to this machine (a local registry with htpasswd, a GPG signing key,
   state under a scratch directory, a local Prometheus), and the GitHub workflow `generate-pipeline`
   renders from it, checked with actionlint and zizmor.
3. That workflow run with act in host mode up to `verify-development`: version, build, test, scan,
   release notes, publish (+ tag), deploy to development behind nginx, verify and monitor.
4. What it left: the deployment history and each stage's evidence.

Offline stand-ins, said where they are used: trivy reads a tiny vulnerability database built locally (the
public one cannot be downloaded here); GitHub's artifact actions are replaced by local actions built on
GitHub's own artifact client; the run's approvals come from a local server answering GitHub's shape.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from tests.support.act import action_checkout, job_results  # noqa: E402 - test support doubles as demo kit
from tests.support.example import copy_example, local_policy, stop_deployments, write_policy  # noqa: E402
from tests.support.gitrepo import GitRepo  # noqa: E402
from tests.support.gpgkeys import make_gpg_home  # noqa: E402
from tests.support.prometheus import start_prometheus  # noqa: E402
from tests.support.registry import free_port, start_registry  # noqa: E402
from tests.support.trivydb import DEFAULT_ADVISORIES, build_trivy_db  # noqa: E402

BIN = REPO / ".venv" / "bin"


def banner(text: str) -> None:
    print(f"\n== {text}", flush=True)


def run(*argv: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), cwd=cwd, text=True, **kwargs)


def main() -> int:
    base = Path(tempfile.mkdtemp(prefix="bayat-demo-"))
    project = f"hello-demo-{uuid.uuid4().hex[:4]}"
    registry = gpg = prometheus = approvals = None
    try:
        banner("1. generate-pipeline init on a copy of examples/hello-api (its policy removed)")
        fresh = base / "fresh"
        copy_example(fresh)
        run(str(BIN / "generate-pipeline"), "init", "--dir", str(fresh), cwd=base, check=True)
        text = (fresh / ".bayat" / "deploy.yml").read_text()
        print(text[text.index("project:"):].rstrip())

        banner("2. The example's policy on this machine, and the pipeline rendered from it")
        registry = start_registry(base / "registry")
        gpg = make_gpg_home("release@example.com")
        port = free_port()
        prometheus = start_prometheus(base / "prometheus", base / "state" / "development" / "prometheus" /
                                      "targets.json")
        repo_dir = copy_example(base / "repo")
        write_policy(repo_dir, local_policy(base, project=project, registry=registry, gpg=gpg,
                                            prometheus_url=prometheus.url, port=port))
        repo = GitRepo(repo_dir)
        origin = base / "origin.git"  # the release tag is pushed here
        run("git", "init", "-q", "--bare", str(origin), cwd=base, check=True)
        # act names the repository after origin's URL (links in the deployment record use it)
        repo.git("remote", "add", "origin", f"https://github.com/bayat-demo/{project}.git")
        repo.git("remote", "set-url", "--push", "origin", str(origin))
        run(str(BIN / "bayat-deploy"), "policy", "validate", cwd=repo_dir, check=True)
        run(str(BIN / "generate-pipeline"), cwd=repo_dir, check=True)
        run(str(BIN / "actionlint"), ".github/workflows/deploy.yml", cwd=repo_dir, check=True)
        run(str(BIN / "zizmor"), "--offline", "--min-severity", "medium", "-q", ".github/workflows", cwd=repo_dir,
            check=True)
        print("actionlint and zizmor: no findings")
        repo.commit("feat: the hello service")
        workflow = yaml.safe_load((repo_dir / ".github" / "workflows" / "deploy.yml").read_text())
        print("jobs:", ", ".join(workflow["jobs"]))

        banner("3. The pipeline, run by act on this machine up to verify-development (about two minutes)")
        cache = base / "trivy"
        build_trivy_db(cache, [a for a in DEFAULT_ADVISORIES if a.package != "bash"])
        print(f"(trivy uses a tiny vulnerability database built locally in {cache}: no public download here)")
        from bayat_deploy.generate.github import PINS
        from tests.support.act import Approvals, artifact_actions

        approvals = Approvals()
        actions = artifact_actions(base / "artifact-actions")
        argv = [str(BIN / "act"), "push", "-j", "verify-development", "-W", ".github/workflows/deploy.yml",
                "-P", "ubuntu-latest=-self-hosted", "-P", "self-hosted=-self-hosted",
                "--local-repository", f"bayat/deploy-action@v1={action_checkout(base / 'action')}",
                "--local-repository", f"{PINS['upload'].repository}@{PINS['upload'].sha}={actions['upload']}",
                "--local-repository", f"{PINS['download'].repository}@{PINS['download'].sha}={actions['download']}",
                "--artifact-server-path", str(base / "artifacts"), "--artifact-server-addr", "127.0.0.1",
                "--artifact-server-port", str(free_port()), "--no-cache-server",
                "-s", f"REGISTRY_USERNAME={registry.username}", "-s", f"REGISTRY_PASSWORD={registry.password}",
                "-s", "GITHUB_TOKEN=demo-token", "--env", f"TRIVY_CACHE_DIR={cache}",
                "--env", f"GITHUB_API_URL={approvals.url}", "--env", f"BAYAT_VENV={base / 'venv'}"]
        env = {**os.environ, **gpg.env, "PATH": f"{REPO / '.tools' / 'bin'}:{os.environ['PATH']}"}
        proc = run(*argv, cwd=repo_dir, capture_output=True, env=env)
        (base / "act.log").write_text(proc.stdout + proc.stderr)
        for job, result in job_results(proc.stdout).items():
            print(f"  {job:22} {result}")
        print(f"(the full log: {base / 'act.log'})")
        if proc.returncode != 0:
            print("the pipeline failed; see the log above", file=sys.stderr)
            return 1

        banner("4. What it left behind")
        import requests

        print("development serves:", requests.get(f"http://127.0.0.1:{port}/version", timeout=5).json())
        print("registry tags:", registry.tags(f"bayat/{project}"))
        print("release tag:", run("git", "tag", cwd=origin, capture_output=True).stdout.strip())
        run(str(BIN / "bayat-deploy"), "history", "--env", "development", cwd=repo_dir, check=True)
        return 0
    finally:
        stop_deployments(project, base / "state")
        for thing in (prometheus, registry):
            if thing is not None:
                thing.stop()
        if approvals is not None:
            approvals.shutdown()
        if gpg is not None:
            gpg.remove()
        print(f"\n(scratch files kept in {base})")


if __name__ == "__main__":
    sys.exit(main())
