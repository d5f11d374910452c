"""The serverless target: Lambda versions behind the `live` alias, driven by the real strategies.

No AWS account is reachable from here. The target's commands go through a RecordingRunner; `FakeLambda`
answers them the way the AWS CLI does, with JSON in the shapes the AWS CLI reference documents for
`lambda get-alias / update-alias / create-alias / publish-version / get-function-configuration /
list-versions-by-function / invoke`, `sts get-caller-identity` and `cloudformation describe-stacks`
(written from those documented shapes, not captured from an account), and remembers what the
commands changed. The generated SAM templates are checked with the real cfn-lint (which runs the
real SAM transform).
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
from bayat_deploy.deploy.targets.serverless import ServerlessTarget, health_event
from bayat_deploy.deploy.targets.serverless_template import (deployment_preference, read_template,
                                                             render_sam_template, render_serverless_config)
from bayat_deploy.errors import BadInput, BayatError
from bayat_deploy.policy.model.strategies import BlueGreen, Canary, CanaryStep, Rolling
from bayat_deploy.policy.types import Duration
from bayat_deploy.session import Session

ACCOUNT = "222222222222"
REGION = "eu-west-1"
FUNCTION = "hello-api-production"
AWS_TAIL = ["--region", REGION, "--output", "json"]
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-api"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"


# ----------------------------------------------------------------------------- the stand-in for AWS
class FakeLambda:
    """The AWS side of one function, answering the AWS CLI's commands with its documented JSON."""

    def __init__(self, account: str = ACCOUNT):
        self.account = account
        self.alias: dict | None = None
        self.versions: list[dict] = []
        self.latest_description = ""
        self.unhealthy: set[str] = set()  # versions whose invocation fails
        self.runner = RecordingRunner()
        for prefix, handler in {
            ("aws", "sts", "get-caller-identity"): self.identity,
            ("aws", "lambda", "get-alias"): self.get_alias,
            ("aws", "lambda", "update-alias"): self.update_alias,
            ("aws", "lambda", "create-alias"): self.create_alias,
            ("aws", "lambda", "publish-version"): self.publish_version,
            ("aws", "lambda", "get-function-configuration"): self.configuration,
            ("aws", "lambda", "list-versions-by-function"): self.list_versions,
            ("aws", "lambda", "invoke"): self.invoke,
            ("aws", "cloudformation", "describe-stacks"): self.describe_stacks,
            ("sam", "deploy"): self.sam_deploy,
            ("serverless", "deploy"): self.serverless_deploy,
        }.items():
            self.runner.answer(list(prefix), handler)

    @staticmethod
    def flag(argv: list[str], name: str) -> str | None:
        return argv[argv.index(name) + 1] if name in argv else None

    @staticmethod
    def ok(document: dict) -> CommandResult:
        return CommandResult(0, json.dumps(document, indent=4) + "\n", "")

    def _configuration(self, version: str, description: str) -> dict:
        return {"FunctionName": FUNCTION, "Version": version, "Description": description,
                "FunctionArn": f"arn:aws:lambda:{REGION}:{self.account}:function:{FUNCTION}:{version}",
                "Role": f"arn:aws:iam::{self.account}:role/hello-api-production-ApiRole",
                "CodeSha256": f"{int(version) if version.isdigit() else 0:064x}", "CodeSize": 0,
                "Timeout": 30, "MemorySize": 512, "LastModified": "2026-11-27T10:00:00.000+0000",
                "State": "Active", "LastUpdateStatus": "Successful", "PackageType": "Image",
                "Architectures": ["x86_64"]}

    def _publish(self, description: str) -> dict:
        if self.versions and self.versions[-1]["Description"] == description:
            return self.versions[-1]  # nothing changed since the last version: Lambda publishes none
        version = self._configuration(str(len(self.versions) + 1), description)
        self.versions.append(version)
        return version

    # --- answers
    def identity(self, argv, _input):
        return self.ok({"UserId": "AIDAEXAMPLEDEPLOYER", "Account": self.account,
                        "Arn": f"arn:aws:iam::{self.account}:user/deployer"})

    def get_alias(self, argv, _input):
        if self.alias is None:
            return CommandResult(254, "", "\nAn error occurred (ResourceNotFoundException) when calling the GetAlias "
                                          f"operation: Alias not found: arn:aws:lambda:{REGION}:{self.account}:"
                                          f"function:{FUNCTION}:live\n")
        return self.ok(self.alias)

    def update_alias(self, argv, _input):
        if self.flag(argv, "--function-version"):
            self.alias["FunctionVersion"] = self.flag(argv, "--function-version")
        routing = self.flag(argv, "--routing-config")
        if routing is not None:
            weights = json.loads(routing)["AdditionalVersionWeights"]
            if weights:
                self.alias["RoutingConfig"] = {"AdditionalVersionWeights": weights}
            else:
                self.alias.pop("RoutingConfig", None)
        if self.flag(argv, "--description") is not None:
            self.alias["Description"] = self.flag(argv, "--description")
        self.alias["RevisionId"] = f"rev-{len(self.runner.calls)}"
        return self.ok(self.alias)

    def create_alias(self, argv, _input):
        self.alias = {"AliasArn": f"arn:aws:lambda:{REGION}:{self.account}:function:{FUNCTION}:live", "Name": "live",
                      "FunctionVersion": self.flag(argv, "--function-version"),
                      "Description": self.flag(argv, "--description") or "", "RevisionId": "rev-0"}
        return self.ok(self.alias)

    def publish_version(self, argv, _input):
        return self.ok(self._publish(self.latest_description or self.flag(argv, "--description")))

    def configuration(self, argv, _input):
        version = self.flag(argv, "--qualifier")
        return self.ok(next(v for v in self.versions if v["Version"] == version))

    def list_versions(self, argv, _input):
        latest = self._configuration("1", self.latest_description)
        return self.ok({"Versions": [{**latest, "Version": "$LATEST", "FunctionArn": latest["FunctionArn"][:-2]},
                                     *self.versions]})

    def invoke(self, argv, _input):
        version = self.flag(argv, "--qualifier")
        outfile = Path(argv[argv.index("--region") - 1])  # the CLI writes the function's response there
        outfile.write_text(json.dumps({"statusCode": 500 if version in self.unhealthy else 200, "body": "{}"}))
        return self.ok({"StatusCode": 200, "ExecutedVersion": version})

    def describe_stacks(self, argv, _input):
        stack = self.flag(argv, "--stack-name")
        return self.ok({"Stacks": [{
            "StackId": f"arn:aws:cloudformation:{REGION}:{self.account}:stack/{stack}/1f2e3d4c",
            "StackName": stack, "StackStatus": "UPDATE_COMPLETE", "CreationTime": "2026-11-27T10:00:00.000Z",
            "Outputs": [{"OutputKey": "ApiUrl", "OutputValue": "https://a1b2c3.execute-api.eu-west-1.amazonaws.com/"},
                        {"OutputKey": "PreviewUrl",
                         "OutputValue": "https://p4q5r6.execute-api.eu-west-1.amazonaws.com/"}]}]})

    def sam_deploy(self, argv, _input):
        """What the generated template does: AutoPublishAlias `candidate` publishes a version described
        with AppVersion; on the first deployment the live alias is created on it."""
        overrides = dict(p.split("=", 1) for p in argv[argv.index("--parameter-overrides") + 1:argv.index("--tags")])
        self.latest_description = overrides["AppVersion"]
        version = self._publish(overrides["AppVersion"])
        if self.alias is None and overrides.get("LiveVersion", "") == "":
            self.create_alias(["--function-version", version["Version"]], None)
        return CommandResult(0, "Successfully created/updated stack", "")

    def serverless_deploy(self, argv, _input):
        self.latest_description = next(a for a in argv if a.startswith("--param=appVersion=")).split("=", 2)[2]
        return CommandResult(0, "✔ Service deployed", "")


# ----------------------------------------------------------------------------- fixtures
def write_policy(root: Path, production: dict, **target) -> Path:
    document = {"project": "hello-api",
                "target": {"type": "serverless", "region": REGION, "reserved_concurrency": 50,
                           "state_dir": str(root / "state" / "{environment}"), **target},
                "environments": {"production": {"target": {"account": ACCOUNT}, "resources": {"replicas": 2},
                                                **production}}}
    path = root / ".bayat" / "deploy.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def open_session(tmp_path: Path, strategy: dict, **target) -> Session:
    session = Session.open(write_policy(tmp_path, {"strategy": strategy}, **target))
    (tmp_path / "template.yaml").write_text(render_sam_template(session, "production"))
    return session


CANARY = {"type": "canary", "analysis": False, "steps": [{"weight": 10, "pause": "0s"}, {"weight": 50, "pause": "0s"},
                                                         {"weight": 100}]}


class Checks:
    """The strategies' hooks: here they only note which URL the smoke tests would hit."""

    def __init__(self, target: ServerlessTarget, fail_direct: bool = False, sleep=lambda seconds: None):
        self.urls: list[str] = []
        self.target, self.fail_direct, self.sleep = target, fail_direct, sleep

    def hooks(self) -> Hooks:
        def direct(track):
            self.urls.append(self.target.direct_url(track))
            return Verdict("fail", "smoke test failed") if self.fail_direct else Verdict("pass")

        def routed():
            self.urls.append(self.target.url())
            return Verdict("pass")

        return Hooks(check_direct=direct, check_routed=routed, analyze=lambda step: Verdict("pass"),
                     say=lambda text: None, sleep=self.sleep)


def deploy(target: ServerlessTarget, version: str, **checks):
    digest = f"sha256:{version.replace('.', '') * 16}"[:71]
    release = Release(version=version, image=f"{IMAGE}:{version}", digest=digest)
    env = target.env
    target.prepare()
    runner_checks = Checks(target, **checks)
    return strategy_for(env.strategy.type)(target, env, release, runner_checks.hooks()).run(), runner_checks


def lines(runner: RecordingRunner) -> list[str]:
    return [shlex.join(argv) for argv in runner.commands]


def aws(*args: str) -> str:
    return shlex.join(["aws", *args, *AWS_TAIL])


def alias_update(*args: str, description: dict) -> str:
    return aws("lambda", "update-alias", "--function-name", FUNCTION, "--name", "live", *args, "--description",
               json.dumps({"bayat-deploy": 1, **description}, separators=(",", ":")))


def routing(weights: dict) -> tuple[str, str]:
    return "--routing-config", json.dumps({"AdditionalVersionWeights": weights})


def sam_deploy(version: str, live: str) -> str:
    digest = f"sha256:{version.replace('.', '') * 16}"[:71]
    return shlex.join(["sam", "deploy", "--template-file", "template.yaml", "--stack-name", FUNCTION,
                       "--region", REGION, "--capabilities", "CAPABILITY_IAM", "--no-confirm-changeset",
                       "--no-fail-on-empty-changeset", "--resolve-s3", "--parameter-overrides", "Stage=production",
                       f"AppVersion={version}", f"ImageUri={IMAGE}@{digest}", f"LiveVersion={live}", "--tags",
                       "project=hello-api", "environment=production", f"version={version}"])


# ----------------------------------------------------------------------------- verbs and strategies
def test_blue_green_runs_these_commands(tmp_path):
    session = open_session(tmp_path, {"type": "blue-green", "decommission_after": "15m"})
    fake = FakeLambda()
    target = ServerlessTarget(session, "production", runner=fake.runner)
    first, _ = deploy(target, "1.0.0")
    assert first.status == "succeeded", first.reason
    fake.runner.clear()

    outcome, checks = deploy(target, "2.0.0")

    assert outcome.status == "succeeded", outcome.reason
    get_alias = aws("lambda", "get-alias", "--function-name", FUNCTION, "--name", "live")
    commands = [c for c in lines(fake.runner) if c != get_alias]
    warm_until = json.loads(fake.alias["Description"])["warm_until"]
    health_file = tmp_path / "state" / "production" / "health-2.json"
    assert commands == [
        aws("sts", "get-caller-identity"),
        aws("lambda", "list-versions-by-function", "--function-name", FUNCTION),
        sam_deploy("2.0.0", live="1"),
        aws("lambda", "publish-version", "--function-name", FUNCTION, "--description", "2.0.0"),
        alias_update(description={"stable": "1", "candidate": "2"}),
        aws("lambda", "get-function-configuration", "--function-name", FUNCTION, "--qualifier", "2"),
        aws("lambda", "invoke", "--function-name", FUNCTION, "--qualifier", "2", "--cli-binary-format",
            "raw-in-base64-out", "--payload", json.dumps(health_event("/health")), str(health_file)),
        alias_update("--function-version", "2", *routing({}), description={"stable": "1", "candidate": "2"}),
        alias_update("--function-version", "2", *routing({}),
                     description={"stable": "2", "warm": "1", "warm_until": warm_until}),
    ]
    # (the stack's outputs were read once, by the first deployment)
    assert checks.urls == ["https://p4q5r6.execute-api.eu-west-1.amazonaws.com",  # the preview: no user traffic
                           "https://a1b2c3.execute-api.eu-west-1.amazonaws.com"]
    state = target.current()
    assert {n: (t.release.version, t.weight) for n, t in state.tracks.items()} == {
        "stable": ("2.0.0", 100), "warm": ("1.0.0", 0)}


def test_canary_moves_the_alias_weights_step_by_step(tmp_path):
    session = open_session(tmp_path, CANARY)
    fake = FakeLambda()
    target = ServerlessTarget(session, "production", runner=fake.runner)
    assert deploy(target, "1.0.0")[0].status == "succeeded"
    fake.runner.clear()

    outcome, _ = deploy(target, "2.0.0")

    assert outcome.status == "succeeded", outcome.reason
    moves = [c for c in lines(fake.runner) if " update-alias " in c]
    both = {"stable": "1", "candidate": "2"}
    warm_until = json.loads(fake.alias["Description"])["warm_until"]
    assert moves == [
        alias_update(description=both),  # launch: the candidate is known, no traffic yet
        alias_update("--function-version", "1", *routing({"2": 0.1}), description=both),
        alias_update("--function-version", "1", *routing({"2": 0.5}), description=both),
        alias_update("--function-version", "2", *routing({}), description=both),
        alias_update("--function-version", "2", *routing({}),
                     description={"stable": "2", "warm": "1", "warm_until": warm_until}),
    ]
    assert fake.alias["FunctionVersion"] == "2" and "RoutingConfig" not in fake.alias


def test_the_first_deployment_creates_the_stack_and_serves_it(tmp_path):
    session = open_session(tmp_path, CANARY)  # no baseline: the canary deploys blue/green
    fake = FakeLambda()
    target = ServerlessTarget(session, "production", runner=fake.runner)
    outcome, _ = deploy(target, "1.0.0")
    assert outcome.status == "succeeded", outcome.reason
    assert sam_deploy("1.0.0", live="") in lines(fake.runner)
    assert aws("lambda", "list-versions-by-function", "--function-name", FUNCTION) not in lines(fake.runner)
    assert target.current().serving() == "1.0.0"


def test_an_unhealthy_version_gets_no_traffic_and_stable_keeps_serving(tmp_path):
    session = open_session(tmp_path, CANARY)
    fake = FakeLambda()
    target = ServerlessTarget(session, "production", runner=fake.runner)
    deploy(target, "1.0.0")
    fake.unhealthy.add("2")
    fake.runner.clear()

    outcome, _ = deploy(target, "2.0.0")

    assert outcome.status == "failed" and "GET /health answered 500" in outcome.reason
    assert not outcome.traffic_switched
    moves = [c for c in lines(fake.runner) if " update-alias " in c]
    assert moves[-2:] == [alias_update("--function-version", "1", *routing({}), description={"stable": "1",
                                                                                            "candidate": "2"}),
                          alias_update(description={"stable": "1"})]  # the candidate is forgotten
    assert fake.alias["FunctionVersion"] == "1" and "RoutingConfig" not in fake.alias
    assert set(target.current().tracks) == {"stable"}


def test_a_failing_canary_step_returns_all_traffic_to_stable(tmp_path):
    session = open_session(tmp_path, CANARY)
    fake = FakeLambda()
    target = ServerlessTarget(session, "production", runner=fake.runner)
    deploy(target, "1.0.0")
    release = Release(version="2.0.0", image=f"{IMAGE}:2.0.0")
    verdicts = iter([Verdict("pass"), Verdict("fail", "error rate 9% > 5%")])
    hooks = Hooks(check_direct=lambda track: Verdict("pass"), check_routed=lambda: Verdict("pass"),
                  analyze=lambda step: next(verdicts), say=lambda text: None, sleep=lambda s: None)
    fake.runner.clear()

    outcome = strategy_for("canary")(target, target.env, release, hooks).run()

    assert outcome.status == "failed" and outcome.traffic_switched and "error rate" in outcome.reason
    moves = [c for c in lines(fake.runner) if " update-alias " in c]
    both = {"stable": "1", "candidate": "2"}
    assert moves[1:] == [
        alias_update("--function-version", "1", *routing({"2": 0.1}), description=both),
        alias_update("--function-version", "1", *routing({"2": 0.5}), description=both),
        alias_update("--function-version", "1", *routing({}), description=both),  # restore: all on stable
        alias_update(description={"stable": "1"}),  # forget the candidate (its version stays published)
    ]


def test_rolling_back_to_the_warm_version_is_one_alias_update(tmp_path):
    session = open_session(tmp_path, {"type": "blue-green", "decommission_after": "1h"})
    fake = FakeLambda()
    target = ServerlessTarget(session, "production", runner=fake.runner)
    deploy(target, "1.0.0")
    deploy(target, "2.0.0")
    warm_until = json.loads(fake.alias["Description"])["warm_until"]
    fake.runner.clear()

    target.shift({"warm": 100})  # what `bayat-deploy rollback` does first when the old version is warm
    target.promote("warm")

    moves = [c for c in lines(fake.runner) if " update-alias " in c]
    assert moves == [
        alias_update("--function-version", "1", *routing({}),
                     description={"stable": "2", "warm": "1", "warm_until": warm_until}),
        alias_update("--function-version", "1", *routing({}), description={"stable": "1"}),
    ]
    assert target.current().serving() == "1.0.0"


def test_relaunching_a_published_release_deploys_nothing(tmp_path):
    session = open_session(tmp_path, {"type": "blue-green", "decommission_after": "0s"})
    fake = FakeLambda()
    target = ServerlessTarget(session, "production", runner=fake.runner)
    deploy(target, "1.0.0")
    deploy(target, "2.0.0")
    fake.runner.clear()

    target.launch(Release(version="1.0.0", image=f"{IMAGE}:1.0.0"), "candidate", 2)  # a rollback's relaunch

    assert not [c for c in lines(fake.runner) if c.startswith(("sam ", "aws lambda publish-version"))]
    assert target.current().tracks["candidate"].release.version == "1.0.0"


def test_redeploying_the_serving_release_says_nothing_changed(tmp_path):
    session = open_session(tmp_path, {"type": "blue-green"})
    fake = FakeLambda()
    target = ServerlessTarget(session, "production", runner=fake.runner)
    deploy(target, "1.0.0")
    with pytest.raises(BayatError, match="published no new Lambda version: version 1 is the stable track"):
        target.launch(Release(version="1.0.0", image=f"{IMAGE}:1.0.0"), "candidate", 1)


def test_the_wrong_account_is_refused_before_anything_changes(tmp_path):
    session = open_session(tmp_path, {"type": "blue-green"})
    fake = FakeLambda(account="111111111111")
    target = ServerlessTarget(session, "production", runner=fake.runner)
    with pytest.raises(BayatError, match="credentials are for account 111111111111, but production deploys to "
                                         "account 222222222222"):
        target.prepare()
    assert lines(fake.runner) == [aws("sts", "get-caller-identity")]


def test_a_template_letting_codedeploy_move_the_serving_alias_is_refused(tmp_path):
    session = open_session(tmp_path, CANARY)
    (tmp_path / "template.yaml").write_text(render_sam_template(session, "production", codedeploy=True))
    target = ServerlessTarget(session, "production", runner=FakeLambda().runner)
    with pytest.raises(BadInput, match="Api has AutoPublishAlias live with a DeploymentPreference"):
        target.prepare()


def test_a_serverless_config_letting_codedeploy_move_the_serving_alias_is_refused(tmp_path):
    session = Session.open(write_policy(tmp_path, {"strategy": CANARY}, framework="serverless",
                                        template="serverless.yml"))
    (tmp_path / "serverless.yml").write_text(render_serverless_config(session, "production"))
    target = ServerlessTarget(session, "production", runner=FakeLambda().runner)
    with pytest.raises(BadInput, match="function api has deploymentSettings for the live alias"):
        target.prepare()


def test_retiring_a_track_with_traffic_is_refused(tmp_path):
    session = open_session(tmp_path, {"type": "blue-green"})
    fake = FakeLambda()
    target = ServerlessTarget(session, "production", runner=fake.runner)
    deploy(target, "1.0.0")
    with pytest.raises(BayatError, match="still receives 100% of traffic"):
        target.retire("stable")
    with pytest.raises(BayatError, match="at most two versions"):
        target._update_alias({"stable": "1", "candidate": "2", "warm": "3"}, {"stable": 50, "candidate": 25,
                                                                               "warm": 25})


def test_serverless_framework_deploys_the_stage_then_publishes(tmp_path):
    session = Session.open(write_policy(tmp_path, {"strategy": {"type": "blue-green"}}, framework="serverless",
                                        template="serverless.yml"))
    fake = FakeLambda()
    target = ServerlessTarget(session, "production", runner=fake.runner)
    outcome, _ = deploy(target, "1.0.0")
    assert outcome.status == "succeeded", outcome.reason
    digest = f"sha256:{'100' * 16}"[:71]
    assert lines(fake.runner)[:5] == [
        aws("sts", "get-caller-identity"),
        aws("lambda", "get-alias", "--function-name", FUNCTION, "--name", "live"),
        aws("lambda", "get-alias", "--function-name", FUNCTION, "--name", "live"),
        shlex.join(["serverless", "deploy", "--stage", "production", "--region", REGION,
                    "--param=appVersion=1.0.0", f"--param=imageUri={IMAGE}@{digest}", "--param=liveVersion="]),
        aws("lambda", "publish-version", "--function-name", FUNCTION, "--description", "1.0.0"),
    ]
    assert any(c.startswith(shlex.join(["aws", "lambda", "create-alias", "--function-name", FUNCTION, "--name", "live",
                                        "--function-version", "1"])) for c in lines(fake.runner))


# ----------------------------------------------------------------------------- the generated templates
def canary(*steps: tuple[int, str]) -> Canary:
    return Canary(type="canary", steps=tuple(CanaryStep(weight=w, pause=Duration.parse(p)) for w, p in steps))


@pytest.mark.parametrize("strategy, expected_type, custom", [
    (canary((10, "5m"), (100, "0s")), "Canary10Percent5Minutes", None),
    (canary((10, "30m"), (100, "0s")), "Canary10Percent30Minutes", None),
    (canary((20, "90s"), (100, "0s")), "CanaryDeploymentConfig", {"CanaryPercentage": 20, "CanaryInterval": 2}),
    (canary(*[(w, "1m") for w in range(10, 100, 10)], (100, "0s")), "Linear10PercentEvery1Minute", None),
    (canary(*[(w, "10m") for w in range(10, 100, 10)], (100, "0s")), "Linear10PercentEvery10Minutes", None),
    (canary((25, "4m"), (50, "4m"), (75, "4m"), (100, "0s")), "LinearDeploymentConfig",
     {"LinearPercentage": 25, "LinearInterval": 4}),
    (canary((5, "2m"), (25, "5m"), (50, "5m"), (100, "0s")), "CanaryDeploymentConfig",
     {"CanaryPercentage": 5, "CanaryInterval": 12}),
    (BlueGreen(type="blue-green"), "AllAtOnce", None),
    (Rolling(type="rolling"), "AllAtOnce", None),
])
def test_strategies_map_to_codedeploy_deployment_preferences(strategy, expected_type, custom):
    preference = deployment_preference(strategy)
    assert preference.type == expected_type
    assert (preference.custom.settings if preference.custom else None) == custom
    assert preference.hooks == isinstance(strategy, BlueGreen)


PREDEFINED = {"AllAtOnce", "Canary10Percent5Minutes", "Canary10Percent10Minutes", "Canary10Percent15Minutes",
              "Canary10Percent30Minutes", "Linear10PercentEvery1Minute", "Linear10PercentEvery2Minutes",
              "Linear10PercentEvery3Minutes", "Linear10PercentEvery10Minutes"}  # CodeDeploy's Lambda configurations

STRATEGIES = {
    "canary-predefined": {"type": "canary", "analysis": False, "steps": [{"weight": 10, "pause": "5m"},
                                                                        {"weight": 100}]},
    "canary-steps": {"type": "canary", "analysis": False, "steps": [{"weight": 5, "pause": "2m"},
                                                                   {"weight": 25, "pause": "5m"},
                                                                   {"weight": 50, "pause": "5m"}, {"weight": 100}]},
    "linear-custom": {"type": "canary", "analysis": False, "steps": [{"weight": 25, "pause": "4m"},
                                                                    {"weight": 50, "pause": "4m"},
                                                                    {"weight": 75, "pause": "4m"}, {"weight": 100}]},
    "blue-green": {"type": "blue-green"},
}


def test_generated_sam_templates_pass_cfn_lint(tmp_path):
    written = []
    for name, strategy in STRATEGIES.items():
        session = Session.open(write_policy(tmp_path / name, {"strategy": strategy}))
        for codedeploy in (False, True):
            path = tmp_path / f"{name}-{'codedeploy' if codedeploy else 'bayat'}.yaml"
            path.write_text(render_sam_template(session, "production", codedeploy=codedeploy))
            written.append(path)
        config = read_template(render_serverless_config(session, "production"))  # reads !Ref as Fn::Ref...
        # the Serverless Framework's `resources` are CloudFormation: lint them as a template of their own
        resources = tmp_path / f"{name}-serverless-resources.json"
        resources.write_text(json.dumps({"AWSTemplateFormatVersion": "2010-09-09",
                                         **config["resources"]}, indent=2))
        written.append(resources)
    lint = subprocess.run([str(CFN_LINT), "--regions", REGION, "--", *map(str, written)],
                          capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    template = yaml.safe_load((tmp_path / "canary-predefined-codedeploy.yaml").read_text().replace("!", ""))
    function = template["Resources"]["Api"]["Properties"]
    assert function["AutoPublishAlias"] == "live" and function["ReservedConcurrentExecutions"] == 50
    assert function["DeploymentPreference"]["Type"] in PREDEFINED
    assert function["DeploymentPreference"]["Alarms"] == ["Ref ErrorRateAlarm", "Ref LatencyAlarm"]
    triggers = Session.open(tmp_path / "canary-predefined" / ".bayat" / "deploy.yml").policy.environment(
        "production").rollback.triggers  # the standard's production triggers
    assert template["Resources"]["ErrorRateAlarm"]["Properties"]["Threshold"] == triggers.error_rate.value == 1
    assert template["Resources"]["LatencyAlarm"]["Properties"]["Threshold"] == triggers.latency.max.seconds * 1000
    hooks = yaml.safe_load((tmp_path / "blue-green-codedeploy.yaml").read_text().replace("!", ""))
    assert hooks["Resources"]["Api"]["Properties"]["DeploymentPreference"]["Hooks"] == {
        "PreTraffic": "Ref PreTrafficHook"}
    bayat = yaml.safe_load((tmp_path / "canary-steps-bayat.yaml").read_text().replace("!", ""))
    assert bayat["Resources"]["Api"]["Properties"]["AutoPublishAlias"] == "candidate"
    assert "DeploymentPreference" not in bayat["Resources"]["Api"]["Properties"]


class Clock:
    """Strategy time that passes only when the strategy sleeps (its pauses take no real time)."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_generated_weights_match_the_alias_weights_bayat_deploy_sets(tmp_path, monkeypatch):
    """The CodeDeploy configuration's first increment is the canary's first alias weight."""
    from bayat_deploy.deploy.strategies import base

    clock = Clock()
    monkeypatch.setattr(base, "time", clock)  # the canary's pauses (12 minutes) pass on this clock only
    session = open_session(tmp_path, STRATEGIES["canary-steps"])
    custom = yaml.safe_load(render_sam_template(session, "production", codedeploy=True).replace("!", ""))
    routing_config = custom["Resources"]["CanaryDeploymentConfig"]["Properties"]["TrafficRoutingConfig"]
    fake = FakeLambda()
    target = ServerlessTarget(session, "production", runner=fake.runner)
    deploy(target, "1.0.0", sleep=clock.sleep)
    fake.runner.clear()
    outcome, _ = deploy(target, "2.0.0", sleep=clock.sleep)
    assert outcome.status == "succeeded", outcome.reason
    first_shift = next(argv for argv in fake.runner.commands if "--routing-config" in argv
                       and json.loads(FakeLambda.flag(argv, "--routing-config"))["AdditionalVersionWeights"])
    weight = json.loads(FakeLambda.flag(first_shift, "--routing-config"))["AdditionalVersionWeights"]["2"]
    assert routing_config["TimeBasedCanary"]["CanaryPercentage"] == round(weight * 100) == 5
    assert routing_config["TimeBasedCanary"]["CanaryInterval"] == 12  # 2m + 5m + 5m held at the first step



def test_cfn_lint_catches_a_broken_generated_template(tmp_path):
    """The lint above is not a formality: the SAM transform runs, and a wrong reference fails it."""
    session = open_session(tmp_path, {"type": "blue-green"})
    broken = tmp_path / "broken.yaml"
    broken.write_text(render_sam_template(session, "production").replace("!GetAtt Api.Version.Version",
                                                                         "!GetAtt Api.Release.Version"))
    lint = subprocess.run([str(CFN_LINT), "--regions", REGION, "--", str(broken)], capture_output=True, text=True,
                          timeout=300)
    assert lint.returncode != 0 and "Release.Version" in lint.stdout, lint.stdout
