"""Semantic rules: what a schema cannot say. Each rule reads the typed policy and yields diagnostics.

Positions come from the converter's record of where each effective value was written; when a rule
is about two values, the one the user wrote is the place to point at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from bayat_deploy.errors import Diagnostic
from bayat_deploy.policy.convert import Context
from bayat_deploy.policy.model import (STANDARD_CHECKS, Canary, DockerHost, Environment, FeatureFlags, Policy,
                                       Terraform)
from bayat_deploy.policy.types import Severity
from bayat_deploy.policy.yamlpos import Mark

APPROVAL_WORDS = {
    "testing": "lead developer approval",
    "staging": "QA approval and product owner sign-off",
    "production": "management approval",
}
DEFAULT_PORTS = {"development": 8081, "testing": 8082, "staging": 8083, "production": 8084}


class Reporter:
    def __init__(self, ctx: Context, user_file: str):
        self.ctx, self.user_file = ctx, user_file
        self.found: list[Diagnostic] = []
        self.rule = ""  # the id of the rule running now, printed with what it finds

    def where(self, *paths: str) -> Mark:
        marks = [m for m in (self.ctx.mark_of(p) for p in paths) if m is not None]
        for mark in marks:
            if mark.file == self.user_file:
                return mark
        return marks[0] if marks else Mark(self.user_file, 1, 1, paths[0] if paths else "")

    def error(self, message: str, *paths: str) -> None:
        self.found.append(self._at(message, "error", paths))

    def warning(self, message: str, *paths: str) -> None:
        self.found.append(self._at(message, "warning", paths))

    def _at(self, message: str, level: str, paths: tuple[str, ...]) -> Diagnostic:
        mark = self.where(*paths)
        # A rule about a value inherited from the standard is reported at the user's file, naming the value.
        if mark.file != self.user_file:
            return Diagnostic(self.user_file, 1, 1, paths[0], message, level, self.rule)
        return mark.diagnostic(message, level, self.rule)


def check_rules(policy: Policy, ctx: Context, user_file: str, *, partial: bool = False) -> list[Diagnostic]:
    """Run every rule. With ``partial`` (some values already failed to convert) a rule that meets
    one of those values is skipped instead of guessing."""
    report = Reporter(ctx, user_file)
    for rule in RULES:
        report.rule = rule_id(rule)
        if not partial:
            rule(policy, report)
            continue
        before = len(report.found)
        try:
            rule(policy, report)
        except (TypeError, AttributeError):
            del report.found[before:]
    return report.found


def rule_id(rule) -> str:
    """A rule's id is its name, with dashes: `ports_do_not_clash` is `ports-do-not-clash`."""
    return rule.__name__.replace("_", "-")


def _envs(policy: Policy) -> Iterator[tuple[str, str, Environment]]:
    for name, env in policy.environments.items():
        yield name, f"environments.{name}", env


ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


def environment_names_are_usable(policy: Policy, report: Reporter) -> None:
    """Environment names become job, namespace and DNS names: lower-case letters, digits and dashes, starting
    with a letter, at most 31 characters."""
    for name, path, _ in _envs(policy):
        if not ENVIRONMENT_NAME.fullmatch(name):
            report.error("environment names become job, namespace and DNS names: use lower-case letters, digits "
                         "and dashes, starting with a letter (at most 31 characters)", path)


def standard_environments_keep_their_tier(policy: Policy, report: Reporter) -> None:
    """development, testing, staging and production keep the tier of the same name."""
    for name, path, env in _envs(policy):
        if name in DEFAULT_PORTS and env.tier != name:
            report.error(f"{name} is the standard's {name} environment; its tier cannot be {env.tier}",
                         f"{path}.tier")


def promotion_order_is_known(policy: Policy, report: Reporter) -> None:
    """`promote_from` names another known environment, and promotion never loops."""
    for name, path, env in _envs(policy):
        if env.promote_from is None:
            continue
        if env.promote_from == name:
            report.error("an environment cannot promote from itself", f"{path}.promote_from")
        elif env.promote_from not in policy.environments:
            report.error(f"unknown environment {env.promote_from!r}", f"{path}.promote_from")
    for name, path, _ in _envs(policy):
        seen, current = {name}, policy.environments[name].promote_from
        while current in policy.environments:
            if current in seen:
                report.error(f"promotion order loops back to {current!r}", f"{path}.promote_from")
                break
            seen.add(current)
            current = policy.environments[current].promote_from


def approvals_match_the_standard(policy: Policy, report: Reporter) -> None:
    """Testing, staging and production have the standard's approvals (each rule names approvers who can reach
    its count, once); production needs a change ticket."""
    for name, path, env in _envs(policy):
        rules_path = f"{path}.approvals.rules"
        if env.tier in APPROVAL_WORDS and not env.approvals.rules:
            report.error(f"the standard requires {APPROVAL_WORDS[env.tier]} before {env.tier} deployments; "
                         "add at least one approval rule", rules_path, f"{path}.approvals")
        seen: set[str] = set()
        for i, rule in enumerate(env.approvals.rules):
            rule_path = f"{rules_path}[{i}]"
            if not rule.groups and not rule.users:
                report.error(f"approval rule {rule.name!r} names no approvers; add `groups` or `users`",
                             f"{rule_path}.groups", rule_path)
            elif not rule.groups and rule.count > len(rule.users):
                report.error(f"needs {rule.count} approvals but only {len(rule.users)} user(s) may approve",
                             f"{rule_path}.count", rule_path)
            if rule.name in seen:
                report.error(f"approval rule {rule.name!r} is defined twice", f"{rule_path}.name")
            seen.add(rule.name)
        if env.tier == "production" and not env.change_ticket.required:
            report.error("the standard requires a change-management ticket for production deployments",
                         f"{path}.change_ticket.required", f"{path}.change_ticket")


def required_checks_are_kept(policy: Policy, report: Reporter) -> None:
    """An environment's `checks` keep every check the standard requires (production: the change ticket too)."""
    for _, path, env in _envs(policy):
        missing = [c for c in STANDARD_CHECKS if c not in env.checks]
        if env.tier == "production" and "change-ticket" not in env.checks:
            missing.append("change-ticket")
        if missing:
            report.error(f"the standard's required checks cannot be dropped: {', '.join(missing)}",
                         f"{path}.checks")


def severity_gate_is_strict_enough(policy: Policy, report: Reporter) -> None:
    """`scan.severity` fails on HIGH and CRITICAL findings at least."""
    if Severity("HIGH") < policy.scan.severity:
        report.error("the standard requires failing on HIGH and CRITICAL findings; "
                     "severity may be HIGH or lower, not CRITICAL", "scan.severity")


def canary_steps_ascend(policy: Policy, report: Reporter) -> None:
    """Canary weights ascend; canary analysis needs `monitoring:`; a last step under 100% is a warning."""
    for _, path, env in _envs(policy):
        strategy = env.strategy
        if not isinstance(strategy, Canary):
            continue
        weights = [step.weight for step in strategy.steps]
        for i in range(1, len(weights)):
            if weights[i] <= weights[i - 1]:
                report.error(f"canary weights must ascend: step {i + 1} ({weights[i]}%) does not exceed "
                             f"step {i} ({weights[i - 1]}%)", f"{path}.strategy.steps[{i}].weight",
                             f"{path}.strategy.steps")
        if weights and weights[-1] != 100:
            report.warning(f"the last canary step sends {weights[-1]}% of traffic; promotion to 100% happens "
                           "only after it passes", f"{path}.strategy.steps[{len(weights) - 1}].weight")
        if strategy.analysis and policy.monitoring is None:
            report.error("canary analysis needs a metrics provider: add `monitoring:` (Prometheus URL) "
                         "or set `analysis: false`", f"{path}.strategy.analysis", f"{path}.strategy")


def windows_are_possible(policy: Policy, report: Reporter) -> None:
    """Maintenance windows can open (a cron that fires, a duration between zero and a week, an anchor for
    `every_weeks`); an enforced window has windows and emergency approvers."""
    probe = datetime(2026, 1, 1)
    for _, path, env in _envs(policy):
        maintenance = env.maintenance
        if maintenance.enforce and not maintenance.windows:
            report.error("`enforce: true` needs at least one window", f"{path}.maintenance.enforce",
                         f"{path}.maintenance")
        for i, window in enumerate(maintenance.windows):
            wpath = f"{path}.maintenance.windows[{i}]"
            if window.duration.seconds <= 0:
                report.error("a window must last longer than zero", f"{wpath}.duration")
            elif window.duration.seconds > 7 * 86400:
                report.error("a maintenance window longer than a week never closes; use a shorter duration",
                             f"{wpath}.duration")
            if window.cron.cron.next_after(probe, horizon_days=366 * 8) is None:
                report.error(f"cron {window.cron} never fires (no such date)", f"{wpath}.cron")
            if window.every_weeks > 1 and window.anchor is None:
                report.error("`every_weeks` above 1 needs an `anchor` date to count weeks from",
                             f"{wpath}.every_weeks", wpath)
        if maintenance.enforce and maintenance.emergency.allowed and not maintenance.emergency.approvers:
            report.error("the emergency path needs approvers (standard: obtain expedited approvals)",
                         f"{path}.maintenance.emergency.approvers", f"{path}.maintenance.emergency")
        if env.tier == "production" and not maintenance.enforce:
            report.warning("production deployments are not held to a maintenance window",
                           f"{path}.maintenance.enforce", f"{path}.maintenance")


def environments_keep_parity(policy: Policy, report: Reporter) -> None:
    """Every environment deploys with the same target type unless it gives a `parity_exception`."""
    for _, path, env in _envs(policy):
        differs = env.target is not None and env.target.type != policy.target.type
        if differs and not env.parity_exception:
            report.error(f"environment parity: every environment deploys with {policy.target.type}; "
                         f"using {env.target.type} here needs `parity_exception: <reason>`",
                         f"{path}.target.type", f"{path}.target")
        elif env.parity_exception and not differs:
            report.warning("parity_exception is set but this environment deploys like the others",
                           f"{path}.parity_exception")


def state_outlives_the_job(policy: Policy, report: Reporter) -> None:
    """Deployment state (record, lock, tracks) lives in target.state_dir on the machine the job runs on unless
    the target keeps it elsewhere (a Kubernetes target's `state: cluster`); a hosted runner is a fresh
    machine per job, so history and rollback there would start from nothing."""
    for _, path, env in _envs(policy):
        target, runner = env.target, env.runner
        if target is None or getattr(target, "state", "local") == "cluster":
            continue
        hosted = [where for where, platform in (("GitHub (runner.labels)", "github"),
                                                ("GitLab (runner.tags)", "gitlab"))
                  if not runner.persistent_on(platform)]
        if not hosted:
            continue
        where = " and ".join(hosted)
        paths = (f"{path}.runner.labels", f"{path}.runner", f"{path}.target", "target")
        if target.type == "docker-host":
            report.warning(f"a docker-host target's jobs must run on the host, but on {where} they run on hosted "
                           f"runners: the containers, nginx and the deployment record would be on a throwaway "
                           f"machine", *paths)
        else:
            hint = ("set `target.state: cluster`" if target.type == "kubernetes"
                    else "run them on a self-hosted runner whose state_dir persists (the platform's deployment "
                         "history, `history --source platform`, is kept either way)")
            report.warning(f"the deployment record, lock and rollback state live in target.state_dir "
                           f"({target.state_dir}) on the runner, and on {where} the jobs run on hosted runners "
                           f"that start empty: history and rollback would not see earlier deploys; {hint}",
                           *paths)


def strategy_fits_target(policy: Policy, report: Reporter) -> None:
    """Canary and feature-flag rollouts need weighted traffic, which the Terraform target cannot shift."""
    for _, path, env in _envs(policy):
        if isinstance(env.target, Terraform) and isinstance(env.strategy, (Canary, FeatureFlags)):
            report.error(f"{env.strategy.type} needs weighted traffic, which the terraform target cannot "
                         "shift; use rolling or blue-green", f"{path}.strategy.type", f"{path}.target.type")


def ports_do_not_clash(policy: Policy, report: Reporter) -> None:
    """Two environments on the same Docker host do not listen on the same port."""
    used: dict[tuple, str] = {}
    for name, path, env in _envs(policy):
        target = env.target
        if not isinstance(target, DockerHost):
            continue
        port = target.port or DEFAULT_PORTS.get(name, 0)
        key = (target.docker_host, target.listen, port)
        if port and key in used:
            report.error(f"port {port} is already used by environment {used[key]!r}", f"{path}.target.port",
                         f"{path}.target")
        used[key] = name


def app_secrets_are_references(policy: Policy, report: Reporter) -> None:
    """`target.env` values written as references (`env:DATABASE_URL`) must be valid ones: the deploy resolves
    them in the job and the generated pipelines hand the named CI secrets to its deploy jobs."""
    from bayat_deploy.policy.types import secret_reference

    for _, path, env in _envs(policy):
        for key, value in (getattr(env.target, "env", None) or {}).items():
            try:
                secret_reference(value)
            except ValueError as exc:
                report.error(f"{exc}", f"{path}.target.env.{key}", f"target.env.{key}")


LOCAL_ENGINE = re.compile(r"^(unix|npipe)://|^tcp://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?/?$")


def the_engine_is_where_the_job_runs(policy: Policy, report: Reporter) -> None:
    """nginx, the record and the instances' published ports (127.0.0.1) are on the machine of the job; a remote
    engine (ssh://, tcp://host) would start the containers where nginx cannot reach them."""
    for _, path, env in _envs(policy):
        target = env.target
        if isinstance(target, DockerHost) and target.docker_host and not LOCAL_ENGINE.match(target.docker_host):
            report.error(f"docker_host {target.docker_host!r} is a remote engine, but nginx, the deployment record "
                         f"and the instances' ports (on 127.0.0.1) stay on the machine that runs the job: the "
                         f"containers would be out of nginx's reach; run the jobs on the Docker host itself (a "
                         f"self-hosted runner there, `runner:`) and leave docker_host unset",
                         f"{path}.target.docker_host", "target.docker_host")


def references_resolve(policy: Policy, report: Reporter) -> None:
    """Every name the policy refers to is defined once: routes, environments, smoke tests, feature flags,
    cohorts, registries and artifacts."""
    envs = set(policy.environments)
    routes = [route.name for route in policy.notifications.routes]
    for i, name in enumerate(routes):
        if name in routes[:i]:
            report.error(f"route {name!r} is defined twice", f"notifications.routes[{i}].name")
    for i, route in enumerate(policy.notifications.routes):
        rpath = f"notifications.routes[{i}]"
        if route.type == "email" and (not route.to or route.smtp is None):
            report.error("an email route needs `to` and `smtp`", rpath)
        if route.type != "email" and route.url is None:
            report.error(f"a {route.type} route needs a `url` (usually env:NAME)", rpath)
    for _, path, env in _envs(policy):
        for i, route in enumerate(env.notify or ()):
            if route not in routes:
                report.error(f"unknown notification route {route!r}", f"{path}.notify[{i}]")
        names = [t.name for t in env.verify.smoke_tests]
        for i, test in enumerate(names):
            if test in names[:i]:
                report.error(f"smoke test {test!r} is defined twice", f"{path}.verify.smoke_tests[{i}].name")
        if isinstance(env.strategy, FeatureFlags):
            for i, flag in enumerate(env.strategy.flags):
                if flag not in policy.feature_flags.flags:
                    report.error(f"unknown feature flag {flag!r}; define it under feature_flags.flags",
                                 f"{path}.strategy.flags[{i}]")
            for i, stage in enumerate(env.strategy.stages):
                if stage != "everyone" and stage not in policy.feature_flags.cohorts:
                    report.error(f"unknown cohort {stage!r}; define it under feature_flags.cohorts",
                                 f"{path}.strategy.stages[{i}]")
    for i, route in enumerate(policy.release_notes.distribute_to):
        if route not in routes:
            report.error(f"unknown notification route {route!r}", f"release_notes.distribute_to[{i}]")
    for field, values in (("release_notes.required_for", policy.release_notes.required_for),
                          ("tests.performance.environments", policy.tests.performance.environments)):
        for i, name in enumerate(values):
            if name not in envs:
                report.error(f"unknown environment {name!r}", f"{field}[{i}]")
    for flag_name, flag in policy.feature_flags.flags.items():
        for env_name, state in flag.environments.items():
            fpath = f"feature_flags.flags.{flag_name}.environments.{env_name}"
            if env_name not in envs:
                report.error(f"unknown environment {env_name!r}", fpath)
            for j, cohort in enumerate(state.cohorts):
                if cohort != "everyone" and cohort not in policy.feature_flags.cohorts:
                    report.error(f"unknown cohort {cohort!r}", f"{fpath}.cohorts[{j}]")
    seen_artifacts: set[tuple[str, str]] = set()
    for i, artifact in enumerate(policy.artifacts):
        if artifact.registry not in policy.registries:
            report.error(f"unknown registry {artifact.registry!r}; define it under `registries`",
                         f"artifacts[{i}].registry", f"artifacts[{i}]")
        key = (artifact.type, artifact.name)
        if key in seen_artifacts:
            report.error(f"{artifact.type} {artifact.name!r} is listed twice", f"artifacts[{i}]")
        seen_artifacts.add(key)


def versioning_is_sane(policy: Policy, report: Reporter) -> None:
    """`versioning.initial` is a release version (MAJOR.MINOR.PATCH), not a pre-release."""
    if "-" in policy.versioning.initial.text or "+" in policy.versioning.initial.text:
        report.error("the initial version must be a release (MAJOR.MINOR.PATCH), not a pre-release",
                     "versioning.initial")


def config_keys_are_consistent(policy: Policy, report: Reporter) -> None:
    """An enum key has `values`; a secret key has no default in the policy."""
    for key, spec in policy.config.keys.items():
        path = f"config.keys.{key}"
        if spec.type == "enum" and not spec.values:
            report.error("an enum key needs `values`", f"{path}.values", path)
        if spec.secret and spec.default is not None:
            report.error("a secret cannot have a default value in the policy; reference it instead",
                         f"{path}.default")


def rollback_has_something_to_watch(policy: Policy, report: Reporter) -> None:
    """Rollback on a failed smoke test needs at least one critical smoke test (a warning)."""
    for _, path, env in _envs(policy):
        triggers = env.rollback.triggers
        if triggers.smoke_test_failed and not any(t.critical for t in env.verify.smoke_tests):
            report.warning("rollback on a failed smoke test is on, but no smoke test is critical",
                           f"{path}.rollback.triggers.smoke_test_failed")


def credentials_reach_the_target(policy: Policy, report: Reporter) -> None:
    """A cloud cluster needs its location; one kubeconfig per job; a cloud target on hosted runners needs an
    identity (the alternative would be a long-lived key the standard does not allow)."""
    for _, path, env in _envs(policy):
        creds, target = env.credentials, env.target
        at = f"{path}.credentials"
        if creds.gcp and creds.gcp.cluster and not creds.gcp.location:
            report.error("a GKE cluster needs `location` (its region or zone)", f"{at}.gcp.cluster", at)
        if creds.azure and creds.azure.cluster and not creds.azure.resource_group:
            report.error("an AKS cluster needs `resource_group`", f"{at}.azure.cluster", at)
        clusters = [cloud for cloud in ("aws", "gcp", "azure") if getattr(getattr(creds, cloud), "cluster", None)]
        if len(clusters) > 1:
            report.error(f"the jobs get one kubeconfig, but {' and '.join(clusters)} both name a cluster",
                         f"{at}.{clusters[1]}.cluster", at)
        if clusters and target is not None and target.type != "kubernetes":
            report.warning(f"credentials.{clusters[0]}.cluster is only used by a kubernetes target, this "
                           f"environment deploys with {target.type}", f"{at}.{clusters[0]}.cluster", at)
        hosted = not ("self-hosted" in (env.runner.labels or ()) or env.runner.group)
        if target is None or creds.from_runner or not hosted:
            continue
        if target.type == "serverless" and not creds.aws:
            report.warning("a serverless target needs AWS access, and on a hosted runner the job has none: set "
                           "`credentials.aws.role` (an IAM role trusted through GitHub/GitLab OIDC)",
                           at, f"{path}.target", "target")
        elif target.type == "terraform" and not creds.oidc:
            report.warning("terraform plans and applies against a cloud, and on a hosted runner the job has no "
                           "identity: set `credentials.aws`, `gcp` or `azure` (OIDC), or `from_runner: true`",
                           at, f"{path}.target", "target")


RULES = (
    environment_names_are_usable,
    app_secrets_are_references,
    standard_environments_keep_their_tier,
    promotion_order_is_known,
    approvals_match_the_standard,
    required_checks_are_kept,
    severity_gate_is_strict_enough,
    canary_steps_ascend,
    windows_are_possible,
    environments_keep_parity,
    state_outlives_the_job,
    strategy_fits_target,
    ports_do_not_clash,
    the_engine_is_where_the_job_runs,
    references_resolve,
    versioning_is_sane,
    config_keys_are_consistent,
    rollback_has_something_to_watch,
    credentials_reach_the_target,
)
