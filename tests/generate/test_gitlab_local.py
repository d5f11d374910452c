"""The generated `.gitlab-ci.yml` of the bundled example, and every CI/CD component, run for real in
gitlab-ci-local 4.70.1 (shell executor: the jobs run on this machine).

`--shell-isolation` gives every job its own copy of the repository, so evidence reaches a job only as
the artifacts of the jobs it `needs:`, as on GitLab. What gitlab-ci-local does not have, and how the
tests stand in for it:
- protected environments, deployment approvals and deploy freezes: none. Jobs that wait for an approval
  are `when: manual`; they run only when named (`--manual`). The development path the tests drive needs no
  approval; the approval, freeze and emergency rules are checked on the YAML (test_gitlab.py,
  test_parity.py), and the emergency path of the components runs with a manual attestation;
- a job whose `needs:` include a skipped job never starts (GitLab starts it), so the broken release fails in
  the verify job, not the deploy job, to reach the rollback job; and later stages wait for an on_failure job
  that never ran, so the components put the rollback job in the last stage;
- `after_script` runs in a fresh copy of the job's directory, so what `script` wrote there (a deploy job's
  evidence) is not in its artifacts; the tests read such results from the log;
- `release:` is not performed (the job's script runs, the release is not created); `image:` cannot be
  pulled here, so `--force-shell-executor` runs image jobs on this machine too, and then gives them
  CI_PROJECT_DIR=/builds/<path>: the component run points it at the job's own directory;
- GITLAB_CI is `false` in gitlab-ci-local; the runs set it to `true` so bayat-deploy talks GitLab
  (dotenv outputs in bayat.env, the Markdown summary in .bayat/reports/summary.md);
- the release tag goes to a local bare repository (the push URL of `origin`; its fetch URL must look like
  a GitLab project for gitlab-ci-local), which accepts the `ci.skip` push option the pipeline sends.
Everything else is real: the registry with htpasswd, Docker, nginx, Prometheus, trivy (a tiny real
database), helm, gpg, skopeo, and bayat-deploy installed from this working tree by the jobs' bootstrap.
The generated pipeline runs every job on a "fresh runner" (tests/support/act.py's bash shim: its own HOME,
temp dirs and virtualenv, as GitLab SaaS gives each job a new machine); the docker-host target's jobs are
placed on the host's runner (`tags: [development]`), so between jobs and runs only the host's state_dir
and what the pipeline passes on survive. The component runs share one virtualenv, as a runner's cache would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO
from tests.support.act import fresh_runner_shim
from tests.support.gitrepo import GitRepo
from tests.support.example import copy_example, local_policy, stop_deployments, write_policy
from tests.support.gpgkeys import make_gpg_home
from tests.support.prometheus import start_prometheus
from tests.support.registry import free_port
from tests.support.trivydb import DEFAULT_ADVISORIES, build_trivy_db

pytestmark = [pytest.mark.docker, pytest.mark.e2e]
GITLAB_URL = "https://gitlab.example.com/acme/{project}.git"


def gitlab_ci_local() -> str:
    path = REPO / ".tools" / "bin" / "gitlab-ci-local"
    assert path.exists(), "scripts/setup installs gitlab-ci-local"
    return str(path)


def results(output: str) -> dict[str, str]:
    """job -> PASS | FAIL | WARN, from gitlab-ci-local's summary at the end of a run."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"^\s*(PASS|FAIL|WARN)\s+(\S+)\s*$", re.sub(r"\x1b\[[0-9;]*m", "", line))
        if match:
            found[match.group(2)] = match.group(1)
    return found


def job_log(output: str, job: str) -> str:
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
    return "\n".join(line for line in plain.splitlines() if re.match(rf"^{re.escape(job)}\s", line))


def make_project(base: Path, registry, *, project: str, port: int, gpg, prometheus_url: str) -> GitRepo:
    """The example service with a policy for this machine, in a git repository whose `origin` gitlab-ci-local
    accepts and whose pushes land in a local bare repository."""
    repo_dir = copy_example(base / "repo")
    policy = local_policy(base, project=project, registry=registry, gpg=gpg, prometheus_url=prometheus_url,
                          port=port)
    # `rollback.automatic: false`: a failed verification is left for the pipeline's rollback job to undo,
    # so the job is what brings the previous version back.
    policy["environments"]["development"]["rollback"] = {"automatic": False}
    # An emergency approver a manual attestation can stand for (group membership cannot be checked offline).
    policy["environments"]["production"]["maintenance"] = {"emergency": {"approvers": ["ops-lead"]}}
    write_policy(repo_dir, policy)
    repo = GitRepo(repo_dir)
    origin = base / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    # GitLab accepts push options (the release tag is pushed with ci.skip); so does this one.
    subprocess.run(["git", "config", "receive.advertisePushOptions", "true"], cwd=origin, check=True)
    repo.git("remote", "add", "origin", GITLAB_URL.format(project=project))
    repo.git("remote", "set-url", "--push", "origin", str(origin))
    return repo


SECRET_VARIABLES = ("REGISTRY_USERNAME", "REGISTRY_PASSWORD")


class Runner:
    """gitlab-ci-local in one repository, with the CI/CD variables a GitLab project would hold."""

    def __init__(self, base: Path, repo: GitRepo, variables: dict[str, str], env: dict[str, str]):
        self.base, self.repo, self.variables, self.env = base, repo, variables, env
        self.runs = 0
        self.fresh_runners: list[Path] | None = None  # set: every job on a fresh runner (own HOME, temp, install)

    def __call__(self, *jobs: str, needs: bool = True, manual: tuple[str, ...] = (),
                 variables: dict[str, str] | None = None, secrets: bool = True) -> subprocess.CompletedProcess:
        # A fresh state directory per run: gitlab-ci-local keeps each job's directory between runs, and a
        # runner starts every job from a clean checkout.
        self.runs += 1
        argv = [gitlab_ci_local(), "--shell-isolation", "--force-shell-executor", "--no-artifacts-to-source",
                "--state-dir", f".gitlab-ci-local-{self.runs}", "--home", str(self.base / "gcl-home"),
                "--max-job-name-padding", "0", "--no-color"]
        if needs and jobs:
            argv.append("--needs")
        for job in manual:
            argv += ["--manual", job]
        env = self.env
        variables = {**self.variables, **(variables or {})}
        if not secrets:  # as GitLab hides protected variables from a merge request's pipeline
            variables = {name: value for name, value in variables.items() if name not in SECRET_VARIABLES}
        if self.fresh_runners is not None:
            runners = self.base / f"runners-{self.runs}"
            self.fresh_runners.append(runners)
            variables["FRESH_RUNNERS"] = str(runners)
            # the pipeline's own `cache:` carries its virtualenv and pip cache, not a directory of this machine
            variables.pop("BAYAT_VENV", None)
            variables.pop("PIP_CACHE_DIR", None)
            pip_config = Path.home() / ".config" / "pip" / "pip.conf"  # the runner image's package mirror
            if pip_config.is_file():
                variables["PIP_CONFIG_FILE"] = str(pip_config)
            env = {**env, "PATH": f"{fresh_runner_shim(self.base / 'shim')}:{env['PATH']}"}
        for name, value in variables.items():
            argv += ["--variable", f"{name}={value}"]
        argv += list(jobs)
        (self.repo.root / ".git" / "info" / "exclude").write_text(".gitlab-ci-local*/\n")
        proc = subprocess.run(argv, cwd=self.repo.root, capture_output=True, text=True, env=env, timeout=1200)
        (self.base / f"gitlab-ci-local-{self.runs}.log").write_text(proc.stdout + proc.stderr)
        return proc


@pytest.fixture(scope="module")
def trivy_db(tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("gitlab-trivy")
    build_trivy_db(cache, [a for a in DEFAULT_ADVISORIES if a.package != "bash"])  # a clean base image
    return cache


@contextmanager
def project_on_this_machine(base: Path, registry, trivy_db: Path):
    """A project, its Prometheus and GPG key, the CI/CD variables; afterwards its containers, nginx and
    Prometheus are gone."""
    project = f"gcl-{uuid.uuid4().hex[:6]}"
    port = free_port()
    gpg = make_gpg_home("release@example.com")
    state = base / "state"
    prometheus = start_prometheus(base / "prometheus", state / "development" / "prometheus" / "targets.json")
    try:
        repo = make_project(base, registry, project=project, port=port, gpg=gpg, prometheus_url=prometheus.url)
        variables = {
            "GITLAB_CI": "true",
            # the bootstrap installs this working tree, into one virtualenv every job reuses (a runner's cache)
            "BAYAT_DEPLOY_PACKAGE": str(REPO), "BAYAT_VENV": str(base.parent / "gitlab-venv"),
            "PIP_CACHE_DIR": str(base.parent / "gitlab-pip-cache"), "TRIVY_CACHE_DIR": str(trivy_db),
            "REGISTRY_USERNAME": registry.username, "REGISTRY_PASSWORD": registry.password,
        }
        env = {**os.environ, "PATH": f"{REPO / '.tools' / 'bin'}:{REPO / '.venv' / 'bin'}:{os.environ['PATH']}",
               **gpg.env}
        yield {"base": base, "repo": repo, "project": project, "port": port, "registry": registry,
               "run": Runner(base, repo, variables, env), "origin": base / "origin.git"}
    finally:
        prometheus.stop()
        stop_deployments(project, state)
        gpg.remove()


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, registry, trivy_db):
    with project_on_this_machine(tmp_path_factory.mktemp("generated"), registry, trivy_db) as context:
        repo = context["repo"]
        generated = subprocess.run([str(REPO / ".venv" / "bin" / "generate-pipeline"), "--platform", "gitlab"],
                                   cwd=repo.root, capture_output=True, text=True)
        assert generated.returncode == 0, generated.stderr
        repo.commit("feat: the hello service")
        context["run"].fresh_runners = []
        # the jobs have an `image:` (BAYAT_JOB_IMAGE), which --force-shell-executor runs on this machine with
        # CI_PROJECT_DIR=/builds/<path>; their directory is the job's own, where they run
        context["run"].variables["CI_PROJECT_DIR"] = "."
        yield context


def serving(port: int) -> str:
    return requests.get(f"http://127.0.0.1:{port}/version", timeout=5).json()["version"]


def test_the_example_pipeline_deploys_development_then_rolls_a_broken_release_back(pipeline):
    run = pipeline["run"]
    first = run("verify-development", "release")
    jobs = results(first.stdout)
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-2000:]
    assert jobs == {job: "PASS" for job in ("version", "build", "test", "release-notes", "scan", "publish",
                                             "release", "deploy-development", "verify-development")}, jobs
    assert serving(pipeline["port"]) == "0.1.0"
    assert "0.1.0" in pipeline["registry"].tags(f"bayat/{pipeline['project']}")
    assert subprocess.run(["git", "tag"], cwd=pipeline["origin"], capture_output=True,
                          text=True).stdout == "v0.1.0\n"
    # the version travelled as a dotenv report; every job ran on a fresh runner and installed bayat-deploy itself
    assert "deploying 0.1.0 to development" in job_log(first.stdout, "deploy-development")
    homes = sorted(p.parent.name for p in run.fresh_runners[0].glob("*/home"))
    assert set(homes) >= set(jobs) - {"release"}, homes  # release runs release-cli, no bash of ours
    plain = re.sub(r"\x1b\[[0-9;]*m", "", first.stdout)
    bootstraps = re.findall(r"^(\S+) +> bayat-deploy \S+: (installed|reused)", plain, re.MULTILINE)
    assert {job for job, _ in bootstraps} >= set(jobs) - {"release"}, bootstraps
    # evidence reached the gate only through `needs:` artifacts: it read the files of every earlier stage
    gate = job_log(first.stdout, "deploy-development")
    for check, evidence in (("tests", "test.json"), ("security-scan", "scan.json"),
                            ("infrastructure", "infrastructure.json"), ("release-notes", "release-notes.json")):
        assert re.search(rf"> {check} +pass .*\[\.bayat/evidence/{evidence} @ ", gate), gate

    # A release that passes its own tests and the deploy job's smoke tests (its one instance answers the
    # direct and the routed home check), then degrades (its home page fails from the third request on):
    # the verify job's smoke test fails, the rollback job runs, and
    # 0.1.0 serves on. (A failure inside the deploy job starts the rollback job on GitLab too, but
    # gitlab-ci-local never starts a job whose `needs:` include a skipped one - verify, here.)
    repo = pipeline["repo"]
    repo.git("fetch", "--quiet", str(pipeline["origin"]), "refs/tags/*:refs/tags/*")
    dockerfile = repo.root / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("PORT=8080", "PORT=8080 FAIL_AFTER_REQUESTS=2"))
    repo.commit("fix: tune the container environment")
    second = run("rollback-development")
    jobs = results(second.stdout)
    assert jobs.get("deploy-development") == "PASS", second.stdout[-6000:]
    assert jobs.get("verify-development") == "FAIL", job_log(second.stdout, "verify-development")
    assert jobs.get("rollback-development") == "PASS", job_log(second.stdout, "rollback-development")
    assert serving(pipeline["port"]) == "0.1.0"
    records = [json.loads(line) for line in (pipeline["base"] / "state" / "development" / "records.jsonl")
               .read_text().splitlines()]
    # each attempt written ahead (in-progress), then its result pointing back at it
    assert [(r["action"], r["version"], r["outcome"]) for r in records][-4:] == [
        ("deploy", "0.1.1", "in-progress"), ("deploy", "0.1.1", "succeeded"),
        ("rollback", "0.1.0", "in-progress"), ("rollback", "0.1.0", "succeeded")]
    assert [r["details"].get("attempt") for r in records[-4:]][1::2] == [r["id"] for r in records[-4:]][0::2]
    assert "verification failed: home: GET /: status 500" in job_log(second.stdout, "verify-development")
    # a third machine (a fresh clone, a fresh HOME) on the host reads the whole story from the target's state
    third = pipeline["base"] / "third-machine"
    subprocess.run(["git", "clone", "-q", str(repo.root), str(third / "repo")], check=True)
    (third / "home").mkdir()
    history = subprocess.run([str(REPO / ".venv" / "bin" / "bayat-deploy"), "history", "--environment",
                              "development", "--format", "json"], cwd=third / "repo", capture_output=True,
                             text=True, env={"HOME": str(third / "home"), "PATH": "/usr/bin:/bin"})
    assert history.returncode == 0, history.stderr
    assert [(e["action"], e["version"], e["outcome"]) for e in json.loads(history.stdout)] == [
        ("deploy", "0.1.0", "succeeded"), ("deploy", "0.1.1", "succeeded"), ("rollback", "0.1.0", "succeeded")]


def test_a_merge_request_pipeline_builds_tests_and_scans_and_publishes_or_deploys_nothing(pipeline):
    repo, registry = pipeline["repo"], pipeline["registry"]
    image = f"bayat/{pipeline['project']}"
    records = pipeline["base"] / "state" / "development" / "records.jsonl"

    def outside() -> tuple:
        return (registry.tags(image), records.read_text() if records.exists() else "",
                subprocess.run(["git", "tag"], cwd=pipeline["origin"], capture_output=True, text=True).stdout)

    before = outside()
    repo.git("checkout", "-q", "-b", "feature/greeting")
    (repo.root / "app" / "NOTES.md").write_text("a proposed change\n")
    repo.commit("feat: a proposed greeting")
    try:
        # what GitLab sets for a merge request's pipeline; its protected variables (the registry's) are hidden
        run = pipeline["run"](variables={"CI_PIPELINE_SOURCE": "merge_request_event", "CI_COMMIT_BRANCH": "",
                                         "CI_MERGE_REQUEST_IID": "7"}, secrets=False)
    finally:
        repo.git("checkout", "-q", "main")
    jobs = results(run.stdout)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert jobs == {job: "PASS" for job in ("version", "build", "test", "scan")}, jobs
    # a pre-release version, never the next release: a merge request proposes, it does not release
    assert re.search(r"> \d+\.\d+\.\d+-rc\.\d+\+[0-9a-f]{7}$", job_log(run.stdout, "version"), re.M), \
        job_log(run.stdout, "version")
    assert outside() == before, "a merge request published, tagged or deployed something"


COMPONENT_PIPELINE = """\
# Every CI/CD component of this working tree, included with `include: local` and inputs.
stages: [build, test, scan, publish, deploy, verify, monitor]
include:
  - local: templates/full-pipeline.yml
    inputs:
      environment: development
      url: {url}
      package: {package}
  # Emergency Maintenance in production: an approval (a manual attestation here: no GitLab approvals
  # outside GitLab), then the window opened as an emergency at a time outside every window.
  - local: templates/approvals.yml
    inputs:
      as: production-emergency-approval
      stage: deploy
      environment: production
      rule: emergency
      approved_by: ops-lead
      comment: expedited approval on the bridge call
      package: {package}
  - local: templates/window.yml
    inputs:
      as: production-emergency-window
      stage: verify
      environment: production
      emergency: true
      reason: "INC-7: the payment page is down"
      at: "2026-12-02T12:00:00Z"
      package: {package}
  - local: templates/gate.yml
    inputs:
      as: development-gate
      stage: verify
      environment: development
      package: {package}
  - local: templates/notify.yml
    inputs:
      as: announce
      stage: monitor
      environment: development
      event: deploy-succeeded
      package: {package}
"""


@pytest.fixture(scope="module")
def components(tmp_path_factory, registry, trivy_db):
    with project_on_this_machine(tmp_path_factory.mktemp("components"), registry, trivy_db) as context:
        repo = context["repo"]
        shutil.copytree(REPO / "templates", repo.root / "templates")
        shutil.copytree(REPO / "templates-lib", repo.root / "templates-lib")  # what the components include
        (repo.root / ".gitlab-ci.yml").write_text(COMPONENT_PIPELINE.format(
            url=f"http://127.0.0.1:{context['port']}", package=REPO))
        repo.commit("feat: the hello service, deployed with the CI/CD components")
        # gitlab-ci-local runs jobs that have an `image:` on this machine (--force-shell-executor) but gives
        # them CI_PROJECT_DIR=/builds/<path>; their directory is the job's own, where they run.
        context["run"].variables["CI_PROJECT_DIR"] = "."
        yield context


def test_every_component_runs_from_the_working_tree(components):
    run = components["run"]
    first = run(needs=False, manual=("production-emergency-approval",))
    jobs = results(first.stdout)
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-2000:]
    expected = ["version", "build", "test", "release-notes", "config", "scan", "publish", "window", "deploy",
                "verify", "monitor", "production-emergency-approval", "production-emergency-window",
                "development-gate", "announce"]
    assert jobs == {job: "PASS" for job in expected}, jobs
    assert "emergency" not in jobs  # the full pipeline's emergency approval waits for BAYAT_EMERGENCY=true
    assert serving(components["port"]) == "0.1.0"
    assert "0.1.0" in components["registry"].tags(f"bayat/{components['project']}")
    assert re.search(r"EMERGENCY|emergency", job_log(first.stdout, "production-emergency-window"))
    window = job_log(first.stdout, "production-emergency-window")
    assert "ops-lead" in window, window
    gate = job_log(first.stdout, "development-gate")
    assert re.search(r"> tests +pass .*\[\.bayat/evidence/test\.json @ ", gate), gate

    # The rollback component, in its own role: a release whose verification fails is undone.
    repo = components["repo"]
    repo.git("fetch", "--quiet", str(components["origin"]), "refs/tags/*:refs/tags/*")
    dockerfile = repo.root / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("PORT=8080", "PORT=8080 FAIL_AFTER_REQUESTS=2"))
    repo.commit("fix: tune the container environment")
    second = run("rollback")
    jobs = results(second.stdout)
    assert jobs.get("verify") == "FAIL", second.stdout[-6000:]
    assert jobs.get("rollback") == "PASS", job_log(second.stdout, "rollback")
    assert serving(components["port"]) == "0.1.0"
