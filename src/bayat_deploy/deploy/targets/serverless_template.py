"""The serverless target's infrastructure as code: an AWS SAM template (or a Serverless Framework
configuration) generated from the policy.

Two ways to shift traffic, never both on one alias:

* **bayat-deploy** (what `bayat-deploy deploy` needs): the template publishes every deployment as an
  immutable version behind a `candidate` alias (`AutoPublishAlias`) and a preview API, and declares
  the serving alias with the version bayat-deploy passes in (`LiveVersion`), so a stack update never
  moves users' traffic. bayat-deploy then moves the alias itself, step by step, with its checks.
* **CodeDeploy** (for `sam deploy` on its own): `AutoPublishAlias` on the serving alias with a
  `DeploymentPreference` mapped from the policy's strategy, the rollback triggers as CloudWatch
  alarms that stop and revert the shift, and a pre-traffic hook for blue/green.

CodeDeploy knows one canary step or equal linear steps; a policy with other steps (5 -> 25 -> 50)
is mapped to its first step held for the sum of the pauses, and the template says so.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from bayat_deploy.policy.model.strategies import BlueGreen, Canary

PUBLISH_ALIAS = "candidate"
PREDEFINED_CANARY_MINUTES = (5, 10, 15, 30)  # Canary10Percent{N}Minutes
PREDEFINED_LINEAR_MINUTES = (1, 2, 3, 10)  # Linear10PercentEvery{N}Minute(s)


@dataclass(frozen=True)
class CustomConfig:
    name: str  # logical id of the AWS::CodeDeploy::DeploymentConfig
    kind: str  # TimeBasedCanary | TimeBasedLinear
    settings: dict[str, int]


@dataclass(frozen=True)
class Preference:
    """A DeploymentPreference: a predefined CodeDeploy type or a custom deployment configuration."""

    type: str  # the predefined name, or the custom configuration's logical id
    custom: CustomConfig | None = None
    hooks: bool = False
    note: str = ""

    @property
    def first_weight(self) -> int:
        """Per cent of traffic on the new version in the first increment (100 for all at once)."""
        if self.custom:
            return next(iter(self.custom.settings.values()))
        match = re.match(r"^(?:Canary|Linear)(\d+)Percent", self.type)
        return int(match.group(1)) if match else 100


@dataclass(frozen=True)
class Alarm:
    name: str
    kind: str  # error-rate | latency
    threshold: float
    description: str
    statistic: str = ""


def _minutes(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60))


def deployment_preference(strategy) -> Preference:
    """CodeDeploy's version of the policy's strategy."""
    if isinstance(strategy, BlueGreen):
        return Preference("AllAtOnce", hooks=True, note="blue/green: the pre-traffic hook checks the new version")
    if not isinstance(strategy, Canary):
        return Preference("AllAtOnce", note=f"{strategy.type}: a function version takes all traffic at once")
    steps = [s for s in strategy.steps if s.weight < 100]
    if not steps:
        return Preference("AllAtOnce", note="canary without partial steps")
    first, minutes = steps[0].weight, _minutes(steps[0].pause.seconds)
    if len(steps) == 1:
        if first == 10 and minutes in PREDEFINED_CANARY_MINUTES:
            return Preference(f"Canary10Percent{minutes}Minutes")
        return Preference("CanaryDeploymentConfig", CustomConfig(
            "CanaryDeploymentConfig", "TimeBasedCanary", {"CanaryPercentage": first, "CanaryInterval": minutes}),
            note=f"canary: {first}% for {minutes} minute(s), then everyone")
    linear = (all(step.weight == first * number for number, step in enumerate(steps, 1))
              and len({_minutes(s.pause.seconds) for s in steps}) == 1)
    if linear:
        if first == 10 and minutes in PREDEFINED_LINEAR_MINUTES:
            return Preference(f"Linear10PercentEvery{minutes}Minute{'s' if minutes > 1 else ''}")
        return Preference("LinearDeploymentConfig", CustomConfig(
            "LinearDeploymentConfig", "TimeBasedLinear", {"LinearPercentage": first, "LinearInterval": minutes}),
            note=f"linear: {first}% more every {minutes} minute(s)")
    held = _minutes(sum(s.pause.seconds for s in steps))
    shown = " -> ".join(f"{s.weight}%" for s in strategy.steps)
    return Preference("CanaryDeploymentConfig", CustomConfig(
        "CanaryDeploymentConfig", "TimeBasedCanary", {"CanaryPercentage": first, "CanaryInterval": held}),
        note=f"CodeDeploy has one canary step: the policy's {shown} becomes {first}% for {held} minute(s), "
             "then everyone; bayat-deploy runs every step when it shifts the alias itself")


def rollback_alarms(environment) -> list[Alarm]:
    """The policy's rollback triggers as CloudWatch alarms on the serving alias."""
    triggers = environment.rollback.triggers
    alarms = []
    if triggers.error_rate is not None:
        rate = triggers.error_rate.value
        alarms.append(Alarm("ErrorRateAlarm", "error-rate", _number(rate),
                            f"error rate above {_number(rate)}% of invocations for a minute"))
    if triggers.latency is not None:
        milliseconds = _number(triggers.latency.max.seconds * 1000)
        alarms.append(Alarm("LatencyAlarm", "latency", milliseconds,
                            f"p{triggers.latency.percentile} duration above {milliseconds} ms for a minute",
                            statistic=f"p{triggers.latency.percentile}"))
    return alarms


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 3)


def _memory_mib(quantity: str) -> int:
    factors = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "k": 1 / 1048.576, "M": 1 / 1.048576, "G": 1000 / 1.048576}
    for suffix, factor in factors.items():
        if quantity.endswith(suffix):
            return max(128, min(10240, int(float(quantity[: -len(suffix)]) * factor)))
    return max(128, min(10240, int(float(quantity) / 1048576)))


@dataclass
class TemplateContext:
    project: str
    environment: str
    function: str
    function_name: str
    alias: str
    reserved_concurrency: int | None
    memory: int
    timeout: int
    health_path: str
    preference: Preference
    alarms: list[Alarm] = field(default_factory=list)
    codedeploy: bool = False
    publish_alias: str = PUBLISH_ALIAS


def template_context(session, environment: str, *, codedeploy: bool = False) -> TemplateContext:
    policy = session.policy
    env = policy.environment(environment)
    spec = env.target
    health = env.verify.health_path
    return TemplateContext(
        project=policy.project, environment=environment, function=spec.function,
        function_name=policy.substitute(spec.function_name, environment), alias=spec.alias,
        reserved_concurrency=spec.reserved_concurrency, memory=_memory_mib(str(env.resources.memory_limit)),
        timeout=30, health_path=health, preference=deployment_preference(env.strategy),
        alarms=rollback_alarms(env), codedeploy=codedeploy)


def render_sam_template(session, environment: str, *, codedeploy: bool = False) -> str:
    """template.yaml for one environment; `codedeploy` hands traffic shifting to CodeDeploy."""
    from bayat_deploy.deploy.targets.templates import render

    return render("serverless/template.yaml.j2", **template_context(
        session, environment, codedeploy=codedeploy).__dict__)


def render_serverless_config(session, environment: str) -> str:
    """serverless.yml (Serverless Framework) with the canary plugin's deploymentSettings."""
    from bayat_deploy.deploy.targets.templates import render

    policy = session.policy
    return render("serverless/serverless.yml.j2", region=policy.environment(environment).target.region,
                  **template_context(session, environment, codedeploy=True).__dict__)


# ----------------------------------------------------------------------------- reading a template
def _loader():
    import yaml

    class Loader(yaml.SafeLoader):
        """CloudFormation YAML: short-form intrinsics (!Ref, !If...) read as plain values."""

    def intrinsic(loader, suffix, node):
        if isinstance(node, yaml.MappingNode):
            return {f"Fn::{suffix}": loader.construct_mapping(node)}
        if isinstance(node, yaml.SequenceNode):
            return {f"Fn::{suffix}": loader.construct_sequence(node)}
        return {f"Fn::{suffix}": loader.construct_scalar(node)}

    Loader.add_multi_constructor("!", intrinsic)
    return Loader


def read_template(text: str) -> dict:
    import yaml

    try:
        document = yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None
    return document if isinstance(document, dict) else {}


def shifts_serving_alias(document: dict, alias: str) -> str | None:
    """The function whose DeploymentPreference lets CodeDeploy move `alias` during a stack update, if any."""
    for name, resource in (document.get("Resources") or {}).items():
        properties = (resource or {}).get("Properties") or {}
        preference = properties.get("DeploymentPreference")
        if properties.get("AutoPublishAlias") == alias and preference and preference.get("Enabled", True) is not False:
            return name
    return None
