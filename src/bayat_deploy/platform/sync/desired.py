"""What the platform's environments must look like, computed from the policy alone (no API calls).

GitHub (one reviewer list per environment, so a multi-party approval is a chain of environments, as
the generated workflow uses them):

* `<env>-<rule>` for every earlier party of a multi-party approval (`staging-qa`), reviewed by that
  rule's teams and users;
* `<env>` itself, reviewed by the last party, with the wait timer and prevent-self-review;
* `<env>-emergency` where the emergency path exists (enforced windows, emergency allowed), reviewed by
  `maintenance.emergency.approvers` (groups and users told apart as the emergency gate does);
* each with the deployment branch and tag policies of `deploy_from`.

GitLab (one protected environment per environment with approval rules; one GitLab approval rule per
policy rule, so "QA and product owner" is two rules, each naming exactly one group or user; and
`<env>-emergency`, approved by the emergency approvers, where the emergency path exists).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bayat_deploy.errors import BadInput

GITHUB_MAX_REVIEWERS = 6  # "You can list up to six users or teams as reviewers" (PUT environment)
DEVELOPER, MAINTAINER = 30, 40  # GitLab deploy access levels


def _name(value: str) -> str:
    return value.strip().lstrip("@")


@dataclass(frozen=True)
class GitHubEnvironment:
    name: str
    environment: str  # the policy environment it serves
    purpose: str  # deploy | approval | emergency
    rule: str | None
    wait_timer: int  # minutes
    prevent_self_review: bool
    groups: tuple[str, ...]
    users: tuple[str, ...]
    branches: tuple[str, ...]
    tags: tuple[str, ...]
    where: str  # the policy path the reviewers come from

    @property
    def reviewer_count(self) -> int:
        return len(self.groups) + len(self.users)

    @property
    def branch_policy(self) -> dict | None:
        """`deployment_branch_policy` of the PUT body: custom patterns, or None (every branch)."""
        if not (self.branches or self.tags):
            return None
        return {"protected_branches": False, "custom_branch_policies": True}

    @property
    def patterns(self) -> frozenset[tuple[str, str]]:
        return frozenset([(b, "branch") for b in self.branches] + [(t, "tag") for t in self.tags])

    def as_dict(self) -> dict:
        return {"name": self.name, "environment": self.environment, "purpose": self.purpose, "rule": self.rule,
                "wait_timer": self.wait_timer, "prevent_self_review": self.prevent_self_review,
                "teams": list(self.groups), "users": list(self.users), "branches": list(self.branches),
                "tags": list(self.tags)}


@dataclass(frozen=True)
class GitHubPlan:
    environments: tuple[GitHubEnvironment, ...]
    notes: tuple[str, ...] = ()


def github(policy) -> GitHubPlan:
    from bayat_deploy.gates.approvals import emergency_rule
    from bayat_deploy.generate.github import approval_environment
    from bayat_deploy.generate.plan import build_plan

    plan = build_plan(policy)
    found: list[GitHubEnvironment] = []
    notes: list[str] = []
    for env in plan.environments or (plan.release_environment,):  # a library: the one its publish job uses
        rules = policy.environment(env.name).approvals.rules
        base = dict(environment=env.name, branches=env.branches, tags=env.tags,
                    prevent_self_review=env.prevent_self_review)
        for index, party in enumerate(env.chained):
            found.append(GitHubEnvironment(
                name=approval_environment(env.name, party.rule), purpose="approval", rule=party.rule, wait_timer=0,
                groups=_names(party.groups), users=_names(party.users),
                where=f"environments.{env.name}.approvals.rules[{index}]", **base))
        final = env.final
        found.append(GitHubEnvironment(
            name=env.name, purpose="deploy", rule=final.rule if final else None, wait_timer=env.wait_timer_minutes,
            groups=_names(final.groups) if final else (), users=_names(final.users) if final else (),
            where=f"environments.{env.name}.approvals.rules[{len(rules) - 1}]" if final else "", **base))
        if env.window and env.emergency and not plan.library:
            rule = emergency_rule(policy, policy.environment(env.name))  # the validator requires approvers
            found.append(GitHubEnvironment(name=f"{env.name}-emergency", purpose="emergency", rule="emergency",
                                           wait_timer=0, groups=_names(rule.groups), users=_names(rule.users),
                                           where=f"environments.{env.name}.maintenance.emergency.approvers",
                                           **base))
        for party in env.approvals:
            if party.count > 1:
                notes.append(f"environments.{env.name}: rule {party.rule} needs {party.count} approvals; a GitHub "
                             "environment proceeds on one reviewer's approval, so the approvals gate checks the count")
    crowded = [f"{e.name} has {e.reviewer_count} ({e.where})" for e in found
               if e.reviewer_count > GITHUB_MAX_REVIEWERS]
    if crowded:
        raise BadInput(f"a GitHub environment takes at most {GITHUB_MAX_REVIEWERS} reviewers (teams and users); "
                       f"{'; '.join(crowded)}: name a team instead of several people")
    return GitHubPlan(tuple(found), tuple(notes))


def _names(values) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_name(v) for v in values if _name(v)))


@dataclass(frozen=True)
class GitLabRule:
    rule: str
    kind: str  # group | user
    principal: str
    required_approvals: int
    where: str

    def as_dict(self) -> dict:
        return {"rule": self.rule, self.kind: self.principal, "required_approvals": self.required_approvals}


@dataclass(frozen=True)
class GitLabEnvironment:
    name: str
    tier: str
    deploy_access_level: int  # given when the environment is first protected
    rules: tuple[GitLabRule, ...] = field(default=())

    def as_dict(self) -> dict:
        return {"name": self.name, "tier": self.tier, "deploy_access_level": self.deploy_access_level,
                "approval_rules": [r.as_dict() for r in self.rules]}


def gitlab(policy) -> tuple[GitLabEnvironment, ...]:
    """Protected environments: each environment with approval rules, and `<env>-emergency` (the generated
    pipeline's emergency job, generate/gitlab.py) where the emergency path exists, whose one rule is
    `maintenance.emergency.approvers`."""
    from bayat_deploy.gates.approvals import emergency_rule

    from bayat_deploy.generate.plan import build_plan

    release = build_plan(policy).release_environment  # a library's pipeline protects only its publish job's
    found, problems = [], []
    for name, env in policy.environments.items():
        if release is not None and name != release.name:
            continue
        access = MAINTAINER if env.tier == "production" else DEVELOPER
        if env.approvals.rules:
            rules = [_gitlab_rule(rule, f"environments.{name}.approvals.rules[{index}]", problems)
                     for index, rule in enumerate(env.approvals.rules)]
            found.append(GitLabEnvironment(name, env.tier, access, tuple(r for r in rules if r)))
        if env.maintenance.enforce and env.maintenance.windows and env.maintenance.emergency.allowed \
                and release is None:
            rule = _gitlab_rule(emergency_rule(policy, env), f"environments.{name}.maintenance.emergency.approvers",
                                problems)
            found.append(GitLabEnvironment(f"{name}-emergency", env.tier, access, (rule,) if rule else ()))
    if problems:
        raise BadInput("a GitLab approval rule names exactly one group or user (several rules must all be met): "
                       + "; ".join(problems) + " - split the rule per party, or make one group of the approvers")
    return tuple(found)


def _gitlab_rule(rule, where: str, problems: list[str]) -> GitLabRule | None:
    groups, users = _names(rule.groups), _names(rule.users)
    if len(groups) + len(users) != 1:
        named = ", ".join([f"group {g}" for g in groups] + [f"user {u}" for u in users]) or "nobody"
        problems.append(f"{where} ({rule.name}) names {named}")
        return None
    kind, principal = ("group", groups[0]) if groups else ("user", users[0])
    return GitLabRule(rule.name, kind, principal, rule.count, where)
