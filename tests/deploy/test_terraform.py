"""The terraform target: blue/green instance groups behind a weighted load balancer, with the real terraform.

No AWS account is reachable and the hashicorp/aws provider cannot be downloaded here (no package
registry ships the provider binary), so:
* terraform itself runs for real on the provider-free part of the generated module (variables,
  `terraform_data` release records with `create_before_destroy`, preconditions, outputs) plus a
  stand-in file for the AWS part's outputs (`target_group_arns`, `test_urls`, `url`): every apply the
  strategies cause is checked by terraform's own type checks and preconditions, and the state is read
  back with `terraform output -json`;
* `aws elbv2 describe-target-health` and `ansible-playbook` are recorded and answered by a
  RecordingRunner, the target health in the JSON shape the AWS CLI reference documents (written from
  that documentation, not captured from an account);
* the whole module, AWS resources included, is checked with `terraform fmt -check` (HCL syntax and
  style) and `trivy config` (AWS misconfiguration checks, offline); `terraform validate` runs on the
  provider-free part, which is all it can check without the provider's schema;
* the generated playbook passes `ansible-playbook --syntax-check` (ansible-core from PyPI).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bayat_deploy.deploy.strategies import Hooks, Verdict, strategy_for
from bayat_deploy.deploy.targets.base import Release
from bayat_deploy.deploy.targets.commands import CommandResult, RecordingRunner
from bayat_deploy.deploy.targets.terraform import TerraformTarget
from bayat_deploy.deploy.targets.terraform_module import render_playbook, write_module
from bayat_deploy.errors import BayatError
from bayat_deploy.session import Session

BIN = Path(sys.executable).parent
ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/{colour}-tg/0123456789abcdef"
IMAGE = "registry.example.com/hello-api"

# The AWS part's outputs, as aws.tf computes them, for the offline module.
STAND_IN = """
output "target_group_arns" {
  value = { for colour in keys(local.colours) : colour => replace("%s", "{colour}", colour) }
}

output "test_urls" {
  value = { blue = "https://web.example.com:8443", green = "https://web.example.com:9443" }
}

output "url" {
  value = "https://web.example.com"
}
""" % ARN


class Runner(RecordingRunner):
    """Runs terraform for real and keeps each generated tfvars as it was applied; the rest is scripted."""

    def __init__(self, env: dict):
        super().__init__(real=[["terraform"]], env=env)
        self.applied: list[dict] = []
        self.unhealthy: set[str] = set()
        self.answer(["aws", "elbv2", "describe-target-health"], self.target_health)
        self.answer(["ansible-playbook"], CommandResult(0, "PLAY RECAP *** ok=4 changed=1 failed=0\n", ""))

    def run(self, argv, *, input=None, cwd=None):
        result = super().run(argv, input=input, cwd=cwd)
        if argv[:3] == ["terraform", argv[1], "apply"] and result.ok:
            self.applied.append(json.loads(Path(argv[-1].split("=", 1)[1]).read_text()))
        return result

    def target_health(self, argv, _input):
        colour = argv[argv.index("--target-group-arn") + 1].split("/")[1].split("-")[0]
        count = self.applied[-1][colour]["instances"] if self.applied else 0
        state = ({"State": "unhealthy", "Reason": "Target.ResponseCodeMismatch",
                  "Description": "Health checks failed with these codes: [500]"}
                 if colour in self.unhealthy else {"State": "healthy"})
        return CommandResult(0, json.dumps({"TargetHealthDescriptions": [
            {"Target": {"Id": f"i-0{colour}{n:012d}", "Port": 8080, "AvailabilityZone": "eu-west-1a"},
             "HealthCheckPort": "8080", "TargetHealth": state} for n in range(count)]}, indent=4), "")


def make_repo(tmp_path: Path, environment: dict) -> Session:
    root = tmp_path / "repo"
    document = {"project": "hello-api",
                "target": {"type": "terraform", "directory": "infra",
                           "state_dir": str(root / "state" / "{environment}"),
                           "ansible": {"playbook": "ansible/site.yml",
                                       "inventory": "ansible/{environment}.aws_ec2.yml"}},
                "environments": {"staging": environment}}
    (root / ".bayat").mkdir(parents=True)
    (root / ".bayat" / "deploy.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    session = Session.open(root / ".bayat" / "deploy.yml")
    write_module(session, "staging", root / "infra", aws=False)
    (root / "infra" / "stand_in.tf").write_text(STAND_IN)
    return session


@pytest.fixture
def terraform_env(tmp_path) -> dict:
    import os

    return {**os.environ, "TF_CLI_CONFIG_FILE": "/dev/null", "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}


def hooks(urls: list[str], target) -> Hooks:
    def direct(track):
        urls.append(target.direct_url(track))
        return Verdict("pass")

    return Hooks(check_direct=direct, check_routed=lambda: Verdict("pass"),
                 analyze=lambda step: Verdict("pass"), say=lambda text: None, sleep=lambda seconds: None)


def deploy(target: TerraformTarget, version: str, urls: list[str] | None = None):
    release = Release(version=version, image=f"{IMAGE}:{version}", digest="sha256:" + version[0] * 64)
    target.prepare()
    checks = hooks([] if urls is None else urls, target)
    return strategy_for(target.env.strategy.type)(target, target.env, release, checks).run()


def colours(applied: dict) -> dict:
    """blue/green as (track, version, instances, weight)."""
    return {c: (applied[c]["track"], applied[c]["version"], applied[c]["instances"], applied[c]["weight"])
            for c in ("blue", "green")}


def tf(*args: str) -> str:
    return shlex.join(["terraform", "-chdir=infra", *args])


def test_blue_green_applies_each_step_and_hands_over_to_ansible(tmp_path, terraform_env):
    session = make_repo(tmp_path, {"resources": {"replicas": 2},
                                   "strategy": {"type": "blue-green", "decommission_after": "15m"}})
    runner = Runner(terraform_env)
    target = TerraformTarget(session, "staging", runner=runner)
    assert deploy(target, "1.0.0").status == "succeeded"
    runner.clear()
    runner.applied.clear()
    urls: list[str] = []

    outcome = deploy(target, "2.0.0", urls)

    assert outcome.status == "succeeded", outcome.reason
    apply = tf("apply", "-auto-approve", "-input=false", "-no-color", f"-var-file={target.tfvars}")
    output = tf("output", "-json", "-no-color")
    green = ARN.format(colour="green")
    extra = {"version": "2.0.0", "deploy_environment": "staging", "colour": "green",
             "artifact": f"{IMAGE}@sha256:{'2' * 64}"}
    assert [shlex.join(argv) for argv in runner.commands] == [
        tf("init", "-input=false", "-no-color"),
        tf("workspace", "select", "-or-create", "-no-color", "staging"),
        output, apply,  # launch: green raised, no traffic
        shlex.join(["ansible-playbook", "-i", "ansible/staging.aws_ec2.yml", "ansible/site.yml", "--extra-vars",
                    json.dumps(extra)]),
        output,
        shlex.join(["aws", "elbv2", "describe-target-health", "--target-group-arn", green, "--region", "eu-west-1",
                    "--output", "json"]),
        apply,  # switch (the state was read after the last apply)
        output, apply,  # promote: blue kept warm
    ]
    assert urls == ["https://web.example.com:9443"]  # green's test listener, before any traffic
    assert [colours(a) for a in runner.applied] == [
        {"blue": ("stable", "1.0.0", 2, 100), "green": ("candidate", "2.0.0", 2, 0)},
        {"blue": ("stable", "1.0.0", 2, 0), "green": ("candidate", "2.0.0", 2, 100)},
        {"blue": ("warm", "1.0.0", 2, 0), "green": ("stable", "2.0.0", 2, 100)},
    ]
    # terraform's state (read back with `terraform output -json`) is what was applied last
    state = target.current()
    assert {n: (t.release.version, len(t.instances), t.weight) for n, t in state.tracks.items()} == {
        "warm": ("1.0.0", 2, 0), "stable": ("2.0.0", 2, 100)}
    assert state.tracks["warm"].retire_after


def test_rolling_replaces_instances_batch_by_batch(tmp_path, terraform_env):
    session = make_repo(tmp_path, {"resources": {"replicas": 3}, "strategy": {"type": "rolling", "batch_size": 1}})
    runner = Runner(terraform_env)
    target = TerraformTarget(session, "staging", runner=runner)
    assert deploy(target, "1.0.0").status == "succeeded"
    runner.clear()
    runner.applied.clear()

    outcome = deploy(target, "2.0.0")

    assert outcome.status == "succeeded", outcome.reason
    assert [colours(a) for a in runner.applied] == [
        {"blue": ("stable", "1.0.0", 3, 100), "green": ("candidate", "2.0.0", 1, 0)},
        {"blue": ("stable", "1.0.0", 3, 67), "green": ("candidate", "2.0.0", 1, 33)},
        {"blue": ("stable", "1.0.0", 2, 67), "green": ("candidate", "2.0.0", 1, 33)},
        {"blue": ("stable", "1.0.0", 2, 67), "green": ("candidate", "2.0.0", 2, 33)},
        {"blue": ("stable", "1.0.0", 2, 33), "green": ("candidate", "2.0.0", 2, 67)},
        {"blue": ("stable", "1.0.0", 1, 33), "green": ("candidate", "2.0.0", 2, 67)},
        {"blue": ("stable", "1.0.0", 1, 33), "green": ("candidate", "2.0.0", 3, 67)},
        {"blue": ("stable", "1.0.0", 1, 0), "green": ("candidate", "2.0.0", 3, 100)},
        {"blue": ("", "", 0, 0), "green": ("candidate", "2.0.0", 3, 100)},
        {"blue": ("", "", 0, 0), "green": ("stable", "2.0.0", 3, 100)},
    ]
    assert sum(argv[0] == "ansible-playbook" for argv in runner.commands) == 3  # a hand-off per batch


def test_unhealthy_instances_get_no_traffic_and_are_scaled_away(tmp_path, terraform_env):
    session = make_repo(tmp_path, {"resources": {"replicas": 2},
                                   "strategy": {"type": "blue-green", "health_timeout": "0s"}})
    runner = Runner(terraform_env)
    target = TerraformTarget(session, "staging", runner=runner)
    assert deploy(target, "1.0.0").status == "succeeded"
    runner.unhealthy.add("green")
    runner.applied.clear()

    outcome = deploy(target, "2.0.0")

    assert outcome.status == "failed" and not outcome.traffic_switched
    assert "0 of 2 green instance(s) healthy" in outcome.reason
    assert "Health checks failed with these codes: [500]" in outcome.reason
    assert [colours(a) for a in runner.applied] == [
        {"blue": ("stable", "1.0.0", 2, 100), "green": ("candidate", "2.0.0", 2, 0)},
        {"blue": ("stable", "1.0.0", 2, 100), "green": ("candidate", "2.0.0", 2, 0)},  # restore: all on stable
        {"blue": ("stable", "1.0.0", 2, 100), "green": ("", "", 0, 0)},  # green scaled to zero
    ]
    assert target.current().serving() == "1.0.0"


def test_a_failing_ansible_run_stops_the_rollout_before_any_traffic(tmp_path, terraform_env):
    session = make_repo(tmp_path, {"strategy": {"type": "blue-green"}})
    runner = Runner(terraform_env)
    target = TerraformTarget(session, "staging", runner=runner)
    assert deploy(target, "1.0.0").status == "succeeded"
    runner.answer(["ansible-playbook"], CommandResult(2, "fatal: [i-0green]: FAILED! => unreachable\n", ""))
    outcome = deploy(target, "2.0.0")
    assert outcome.status == "failed" and "configuring 2.0.0 on green with Ansible" in outcome.reason
    assert colours(runner.applied[-1])["green"] == ("", "", 0, 0)
    assert target.current().serving() == "1.0.0"


def test_terraform_itself_refuses_weights_that_do_not_add_up(tmp_path, terraform_env):
    session = make_repo(tmp_path, {"strategy": {"type": "blue-green"}})
    target = TerraformTarget(session, "staging", runner=Runner(terraform_env))
    deploy(target, "1.0.0")
    broken = target.colours()
    broken["blue"]["weight"], broken["green"]["weight"] = 90, 0
    with pytest.raises(BayatError, match="The weights of blue and green must add up to 100"):
        target.apply(broken, "a broken split")
    assert target.current().tracks["stable"].weight == 100  # the state did not change


def test_retiring_a_track_with_traffic_is_refused(tmp_path, terraform_env):
    session = make_repo(tmp_path, {"strategy": {"type": "blue-green"}})
    target = TerraformTarget(session, "staging", runner=Runner(terraform_env))
    deploy(target, "1.0.0")
    with pytest.raises(BayatError, match="still receives 100% of traffic"):
        target.retire("stable")


# ----------------------------------------------------------------------------- the generated files
def test_generated_module_passes_the_validation_possible_offline(tmp_path, terraform_env):
    session = make_repo(tmp_path, {"strategy": {"type": "blue-green"}})
    full, offline = tmp_path / "module", tmp_path / "offline"
    write_module(session, "staging", full)
    write_module(session, "staging", offline, aws=False)

    def run(*argv, cwd):
        return subprocess.run(argv, cwd=cwd, env=terraform_env, capture_output=True, text=True, timeout=120)

    fmt = run("terraform", "fmt", "-check", "-diff", "-no-color", cwd=full)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr  # every file parses and is formatted, aws.tf included
    assert run("terraform", "init", "-backend=false", "-input=false", "-no-color", cwd=offline).returncode == 0
    validate = run("terraform", "validate", "-json", "-no-color", cwd=offline)
    assert json.loads(validate.stdout)["valid"] is True, validate.stdout
    text = (full / "aws.tf").read_text() + (full / "releases.tf").read_text()
    assert text.count("create_before_destroy = true") == 6

    trivy = subprocess.run([str(BIN / "trivy"), "config", "--skip-check-update", "--quiet", "--format", "json",
                            "--cache-dir", str(tmp_path / "trivy-cache"), "."], cwd=full, capture_output=True,
                           text=True, timeout=300)
    assert trivy.returncode == 0, trivy.stderr
    results = json.loads(trivy.stdout)["Results"]
    assert sum(r.get("MisconfSummary", {}).get("Successes", 0) for r in results) > 50
    failures = [m for r in results for m in r.get("Misconfigurations", []) if m.get("Status") == "FAIL"]
    assert failures == [], [(m["ID"], m["Title"]) for m in failures]


def test_generated_playbook_passes_ansible_syntax_check(tmp_path):
    session = make_repo(tmp_path, {"strategy": {"type": "blue-green"}})
    playbook = tmp_path / "site.yml"
    playbook.write_text(render_playbook(session, "staging"))
    extra = json.dumps({"version": "2.0.0", "deploy_environment": "staging", "colour": "green",
                        "artifact": f"{IMAGE}:2.0.0"})
    check = subprocess.run([str(BIN / "ansible-playbook"), "--syntax-check", "-i", "localhost,", str(playbook),
                            "--extra-vars", extra], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "WARNING" not in check.stderr, check.stderr  # e.g. no reserved variable name such as `environment`


def test_the_warm_colour_is_scaled_to_zero_once_its_time_is_up(tmp_path, terraform_env):
    from datetime import datetime, timedelta, timezone

    session = make_repo(tmp_path, {"strategy": {"type": "blue-green", "decommission_after": "10m"}})
    runner = Runner(terraform_env)
    target = TerraformTarget(session, "staging", runner=runner)
    deploy(target, "1.0.0")
    deploy(target, "2.0.0")
    assert target.decommission_due() is False
    assert target.decommission_due(datetime.now(timezone.utc) + timedelta(minutes=11)) is True
    assert colours(runner.applied[-1]) == {"blue": ("", "", 0, 0), "green": ("stable", "2.0.0", 2, 100)}


# ----------------------------------------------------------------------------- where the state lives
class HttpStateServer:
    """A Terraform `http` state backend on loopback, in the protocol Terraform's http backend documents (GET
    the state, POST a new one with `?ID=<lock id>`, LOCK / UNLOCK on the lock address, 423 while locked): what
    GitLab-managed Terraform state speaks. No GitLab is reachable here; terraform itself is the real client."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.states: dict[str, bytes] = {}
        self.locks: dict[str, bytes] = {}
        self.calls: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, body: bytes = b""):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self):  # noqa: N802
                server.calls.append(f"GET {self.path}")
                state = server.states.get(self.path.split("?")[0])
                self._reply(200, state) if state else self._reply(404)

            def do_POST(self):  # noqa: N802
                server.calls.append(f"POST {self.path.split('?')[0]}")
                server.states[self.path.split("?")[0]] = self._body()
                self._reply(200)

            def do_LOCK(self):  # noqa: N802
                server.calls.append(f"LOCK {self.path}")
                body = self._body()
                if self.path in server.locks:
                    return self._reply(423, server.locks[self.path])
                server.locks[self.path] = body
                self._reply(200)

            def do_UNLOCK(self):  # noqa: N802
                server.calls.append(f"UNLOCK {self.path}")
                server.locks.pop(self.path, None)
                self._reply(200)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def env(self, name: str) -> dict:
        """The variables a GitLab job sets for GitLab-managed state (environment-scoped CI/CD variables)."""
        return {"TF_HTTP_ADDRESS": f"{self.url}/state/{name}", "TF_HTTP_LOCK_ADDRESS": f"{self.url}/lock/{name}",
                "TF_HTTP_UNLOCK_ADDRESS": f"{self.url}/lock/{name}", "TF_HTTP_USERNAME": "gitlab-ci-token",
                "TF_HTTP_PASSWORD": "job-token"}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def in_ci(session: Session, platform: str = "gitlab") -> Session:
    """The same repository as a job of a hosted runner sees it."""
    from bayat_deploy.context import RunContext
    from bayat_deploy.platform import for_context

    variables = {"gitlab": {"GITLAB_CI": "true", "CI_COMMIT_SHA": "a" * 40},
                 "github": {"GITHUB_ACTIONS": "true", "GITHUB_SHA": "a" * 40}}[platform]
    context = RunContext.from_environment(variables)
    return Session(session.loaded, context, for_context(context, session.root))


@pytest.mark.parametrize("platform", ["github", "gitlab"])
def test_a_hosted_runner_with_local_terraform_state_is_refused_before_any_apply(tmp_path, terraform_env, platform):
    session = in_ci(make_repo(tmp_path, {"strategy": {"type": "blue-green"}}), platform)
    runner = Runner(terraform_env)
    target = TerraformTarget(session, "staging", runner=runner)
    with pytest.raises(BayatError, match="keeps its Terraform state on this .* runner, which is thrown away") as caught:
        target.prepare()
    assert "environments.staging.runner" in str(caught.value) and 'backend "http"' in str(caught.value)
    assert [argv[2] for argv in runner.commands] == ["init"]  # refused right after init: nothing applied


def test_a_self_hosted_runner_may_keep_local_state(tmp_path, terraform_env):
    session = in_ci(make_repo(tmp_path, {"strategy": {"type": "blue-green"},
                                         "runner": {"labels": ["self-hosted", "infra"], "tags": ["infra"]}}))
    target = TerraformTarget(session, "staging", runner=Runner(terraform_env))
    assert deploy(target, "1.0.0").status == "succeeded"


def test_remote_state_lets_a_fresh_runner_see_what_the_last_one_deployed(tmp_path, terraform_env):
    import shutil

    server = HttpStateServer()
    try:
        first = in_ci(make_repo(tmp_path / "runner-1", {"strategy": {"type": "blue-green"}}))
        (first.root / "infra" / "backend.tf").write_text('terraform {\n  backend "http" {}\n}\n')
        pristine = tmp_path / "checkout"
        shutil.copytree(first.root, pristine)  # what a fresh runner checks out: no .terraform, no tfstate
        env = {**terraform_env, **server.env("staging")}
        runner = Runner(env)
        target = TerraformTarget(first, "staging", runner=runner)
        assert target.backend() == "local"  # nothing initialised yet
        assert deploy(target, "1.0.0").status == "succeeded"
        assert target.backend() == "http"
        assert "workspace" not in [argv[2] for argv in runner.commands]  # the address names the state
        assert not list((first.root / "infra").glob("terraform.tfstate*"))
        assert "/state/staging" in server.states and server.locks == {}
        assert any(call.startswith("LOCK /lock/staging") for call in server.calls)

        fresh = tmp_path / "runner-2" / "repo"
        shutil.copytree(pristine, fresh)
        policy = fresh / ".bayat" / "deploy.yml"  # and its own scratch directory, not the first runner's
        policy.write_text(policy.read_text().replace(str(first.root), str(fresh)))
        second = in_ci(Session.open(fresh / ".bayat" / "deploy.yml"))
        other = TerraformTarget(second, "staging", runner=Runner(env))
        other.prepare()
        state = other.current()
        assert {n: t.release.version for n, t in state.tracks.items()} == {"stable": "1.0.0"}
        assert deploy(other, "2.0.0").status == "succeeded"
        assert {n: t.release.version for n, t in other.current().tracks.items()} == {"warm": "1.0.0",
                                                                                     "stable": "2.0.0"}
    finally:
        server.close()
