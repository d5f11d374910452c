"""Approval evidence: who approved a deployment, from where, and whether the policy's rules are met.

Sources, each normalised to the same `Approval` record:

* GitHub: the workflow run's review history (environments, state, comment; GitHub gives no time).
* GitLab: the deployment's `approvals` and, with multiple approval rules, `approval_summary` (which
  attributes each approval to the group rule it counted for).
* A manual attestation (`--approved-by`), marked as such.

How a policy rule (`environments.ENV.approvals.rules`) is satisfied: `count` distinct people, each of
whom is named in the rule's `users`, or approved on the platform for this environment — where the
platform's protection rule is what enforces group membership. GitLab names the group an approval
counted for, and then the group must be one of the rule's `groups`. A manual attestation can only
satisfy a rule through `users`: group membership cannot be resolved offline. With
`prevent_self_review`, the person who started the run does not count. Any platform rejection of the
environment fails every rule.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from bayat_deploy.policy.model.environment import ApprovalRule

SIGNOFF = "security-signoff"


@dataclass
class Approval:
    user: str
    state: str  # approved | rejected | pending
    source: str  # github | gitlab | manual
    environments: list[str] = field(default_factory=list)
    comment: str = ""
    at: str | None = None  # when it was given, where the platform says
    group: str | None = None  # the platform rule (group) it counted for (GitLab approval_summary)
    rule: str | None = None  # the policy rule it is meant for (manual --rule)
    name: str = ""  # display name

    @property
    def platform(self) -> bool:
        return self.source in ("github", "gitlab")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Approval":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class RuleResult:
    rule: str
    required: int
    approvers: list[str]
    passed: bool
    reason: str
    enforced_by: str = ""  # who vouches for membership: "policy users", "GitHub environment protection"...

    def to_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------------------------------- sources
def from_github(reviews: list[dict]) -> list[Approval]:
    """GitHub `environment-approvals` items -> approvals."""
    return [Approval(user=(item.get("user") or {}).get("login", ""), state=item.get("state", ""), source="github",
                     environments=[e.get("name", "") for e in item.get("environments") or []],
                     comment=item.get("comment") or "", name=(item.get("user") or {}).get("name") or "")
            for item in reviews]


def attribute_chained(approvals: list[Approval], environment: str, rule_names: list[str]) -> list[Approval]:
    """Tie GitHub approvals to policy rules through the environments the generated pipeline uses.

    A GitHub environment has one reviewer list, so a multi-party approval is a chain of environments:
    `<env>-<rule>` for each earlier party (staging-qa), then `<env>` itself for the last party, and
    `<env>-emergency` for an emergency deployment outside the window. An approval in `<env>-<rule>`
    counts for that rule of `<env>`; one in `<env>` counts for its last rule.
    """
    parties = {f"{environment}-{name}": name for name in [*rule_names, "emergency"]}
    for approval in approvals:
        for name in approval.environments:
            if name in parties:
                approval.rule, approval.environments = parties[name], [environment]
                break
            if name == environment and len(rule_names) > 1:
                approval.rule = rule_names[-1]
    return approvals


def from_gitlab(deployment: dict) -> list[Approval]:
    """A GitLab deployment's `approvals` and `approval_summary.rules[].deployment_approvals` -> approvals."""
    environment = (deployment.get("environment") or {}).get("name", "")
    found: dict[tuple, Approval] = {}

    def add(item: dict, group: str | None) -> None:
        user = item.get("user") or {}
        approval = Approval(user=user.get("username", ""), state=item.get("status", ""), source="gitlab",
                            environments=[environment], comment=item.get("comment") or "",
                            at=item.get("created_at"), group=group, name=user.get("name") or "")
        found[(approval.user, group)] = approval

    for rule in (deployment.get("approval_summary") or {}).get("rules") or []:
        group = rule.get("access_level_description") if rule.get("group_id") is not None else None
        for item in rule.get("deployment_approvals") or []:
            add(item, group)
    attributed = {user for user, group in found if group}
    for item in deployment.get("approvals") or []:
        if (item.get("user") or {}).get("username") not in attributed:
            add(item, None)
    return list(found.values())


def manual(logins: list[str], environment: str, rule: str | None, comment: str, at: str) -> list[Approval]:
    return [Approval(user=login, state="approved", source="manual", environments=[environment], comment=comment,
                     at=at, rule=rule) for login in logins]


# ------------------------------------------------------------------------------------------- rules
def signoff_rule(policy, env) -> ApprovalRule:
    """The security sign-off rule: the environment's own, else the compliance section's."""
    for rule in env.approvals.rules:
        if rule.name == SIGNOFF:
            return rule
    signoff = policy.compliance.security_signoff
    return ApprovalRule(name=SIGNOFF, description="Security sign-off", groups=signoff.groups, users=signoff.users)


def emergency_rule(policy, env) -> ApprovalRule:
    """The emergency path's approvers (`maintenance.emergency.approvers`) as a rule of one approval."""
    from bayat_deploy.gates.emergency import known_groups

    groups = known_groups(policy)
    named = env.maintenance.emergency.approvers
    return ApprovalRule(name="emergency", description="Emergency approval",
                        groups=tuple(n for n in named if n in groups or "/" in n),
                        users=tuple(n for n in named if n not in groups and "/" not in n), count=1)


def _same_group(recorded: str, wanted: str) -> bool:
    def short(name: str) -> str:
        return name.strip().lstrip("@").lower().rsplit("/", 1)[-1]
    return recorded.strip().lower() == wanted.strip().lower() or short(recorded) == short(wanted)


def _counts_for(approval: Approval, rule: ApprovalRule) -> str:
    """Why this approval counts for the rule ('' when it does not)."""
    if approval.rule and approval.rule != rule.name:
        return ""
    if approval.user.lower() in {u.lower() for u in rule.users}:
        return "policy users"
    if not rule.groups or not approval.platform:
        return ""
    platform = "GitHub" if approval.source == "github" else "GitLab"
    if approval.group:
        return f"{platform} approval rule for group {approval.group}" if any(
            _same_group(approval.group, g) for g in rule.groups) else ""
    return f"{platform} environment protection (group membership enforced by the platform)"


def evaluate_rule(rule: ApprovalRule, approvals: list[Approval], environment: str, actor: str,
                  prevent_self_review: bool) -> RuleResult:
    relevant = [a for a in approvals if not a.environments or environment in a.environments]
    rejected = sorted({a.user for a in relevant if a.state == "rejected" and a.platform})
    who = f"{rule.count} approval(s) from " + ", ".join(
        [f"group {g}" for g in rule.groups] + [f"user {u}" for u in rule.users])
    if rejected:
        return RuleResult(rule.name, rule.count, [], False, f"rejected by {', '.join(rejected)}")
    counted: dict[str, str] = {}
    skipped: list[str] = []
    for approval in relevant:
        if approval.state != "approved" or approval.user in counted:
            continue
        if prevent_self_review and actor and approval.user.lower() == actor.lower():
            skipped.append(f"{approval.user} started this run (self-review)")
            continue
        why = _counts_for(approval, rule)
        if why:
            counted[approval.user] = why
        elif approval.source == "manual" and rule.groups and (approval.rule in (None, rule.name)):
            skipped.append(f"{approval.user}: a manual attestation cannot prove membership of "
                           f"{', '.join(rule.groups)}")
    approvers = list(counted)
    enforced = sorted(set(counted.values()))
    if len(approvers) >= rule.count:
        return RuleResult(rule.name, rule.count, approvers, True,
                          f"approved by {', '.join(approvers)}", "; ".join(enforced))
    have = f"{len(approvers)} of {rule.count}" + (f" ({', '.join(approvers)})" if approvers else "")
    extra = f"; not counted: {'; '.join(skipped)}" if skipped else ""
    return RuleResult(rule.name, rule.count, approvers, False, f"needs {who}; has {have}{extra}",
                      "; ".join(enforced))


def evaluate(env, approvals: list[Approval], environment: str, actor: str,
             rules: tuple[ApprovalRule, ...] | None = None) -> list[RuleResult]:
    chosen = env.approvals.rules if rules is None else rules
    return [evaluate_rule(rule, approvals, environment, actor, env.approvals.prevent_self_review)
            for rule in chosen]


def load_recorded(envelope) -> list[Approval]:
    return [Approval.from_dict(item) for item in (envelope.details.get("approvals") or [])]
