"""The emergency path out of a maintenance window (standard: Emergency Maintenance).

An override needs a reason and who approved it, is possible only where the policy allows it, and is
recorded three times: in the deployment record (action `emergency`), in the window evidence the gate
reads, and announced on the notification routes.

`maintenance.emergency.approvers` mixes users and groups in one list. A name is read as a group when the
policy uses it as a group anywhere (an approval rule's `groups`, the security sign-off groups) or when it
looks like one (`org/team`, `@org/team`); anything else is a user login. Group membership cannot be
resolved offline: a group approver is recorded, and the platform's protection rules enforce who is in it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bayat_deploy import evidence
from bayat_deploy.errors import BadInput


@dataclass
class Override:
    requested: bool
    granted: bool = False
    reason: str = ""
    approved_by: list[str] = field(default_factory=list)
    why: str = ""  # why it was granted or refused
    approver_users: list[str] = field(default_factory=list)  # users the policy names
    approver_groups: list[str] = field(default_factory=list)  # groups the policy names (platform-enforced)
    requested_by: str = ""
    at: str = ""
    record_entry: str = ""  # id of the deployment-record entry
    record_file: str = ""
    announced: list[dict] = field(default_factory=list)
    announce_problem: str = ""

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def split_list(values: list[str] | None) -> list[str]:
    """`--approved-by alice,bob --approved-by carol` -> [alice, bob, carol], without duplicates."""
    names: list[str] = []
    for value in values or []:
        for name in value.split(","):
            name = name.strip()
            if name and name not in names:
                names.append(name)
    return names


def validate_flags(emergency: bool, reason: str | None, approved_by: list[str]) -> None:
    """Both halves or nothing: exit 2 naming what is missing."""
    reason = (reason or "").strip()
    if not emergency:
        given = [flag for flag, value in (("--reason", reason), ("--approved-by", approved_by)) if value]
        if given:
            raise BadInput(f"{' and '.join(given)} belong to an emergency override; add --emergency "
                           "(or leave them out)")
        return
    missing = [flag for flag, value in (("--reason", reason), ("--approved-by", approved_by)) if not value]
    if missing:
        raise BadInput(f"--emergency needs {' and '.join(missing)}: say why the change cannot wait for the "
                       "next window and who approved it, e.g. --emergency --reason \"INC-42: payment outage\" "
                       "--approved-by alice")


def known_groups(policy) -> set[str]:
    groups = set(policy.compliance.security_signoff.groups)
    for env in policy.environments.values():
        for rule in env.approvals.rules:
            groups.update(rule.groups)
    return groups


def classify(policy, names) -> tuple[list[str], list[str]]:
    """(users, groups) of an approvers list."""
    groups_known = known_groups(policy)
    users, groups = [], []
    for name in names:
        is_group = name in groups_known or "/" in name or name.startswith("@")
        (groups if is_group else users).append(name)
    return users, groups


def decide(policy, environment: str, actor: str, reason: str, approved_by: list[str]) -> Override:
    env = policy.environment(environment)
    emergency = env.maintenance.emergency
    users, groups = classify(policy, emergency.approvers)
    override = Override(requested=True, reason=reason.strip(), approved_by=approved_by, approver_users=users,
                        approver_groups=groups, requested_by=actor, at=evidence.now())
    path = f"environments.{environment}.maintenance.emergency"
    if not emergency.allowed:
        override.why = f"emergency deployments are not allowed in {environment} ({path}.allowed: false)"
        return override
    approvers = approved_by
    if env.approvals.prevent_self_review and actor:
        approvers = [name for name in approved_by if name.lower() != actor.lower()]
        if not approvers:
            override.why = (f"{actor} started this run and cannot approve their own emergency "
                            f"(environments.{environment}.approvals.prevent_self_review)")
            return override
    if users:
        allowed = {name.lower() for name in users}
        matched = [name for name in approvers if name.lower() in allowed]
        if not matched:
            override.why = (f"none of {', '.join(approvers)} may approve an emergency in {environment} "
                            f"({path}.approvers users: {', '.join(users)})")
            return override
        override.why = f"approved by {', '.join(matched)} (named in {path}.approvers)"
    elif groups:
        override.why = (f"approved by {', '.join(approvers)}; membership of {', '.join(groups)} is enforced by the "
                        "platform's environment protection, not checked here")
    else:
        override.why = f"approved by {', '.join(approvers)} (the policy names no emergency approvers)"
    override.granted = True
    return override


def record(session, environment: str, override: Override, version: str | None, opening: dict | None) -> None:
    """Append the override to the environment's deployment record."""
    from bayat_deploy.deploy.engine import Deployment

    deployment = Deployment(session, environment)
    entry = deployment.entry("emergency", version or "", "approved", time.time(), reason=override.reason,
                             details={"approved_by": override.approved_by, "why": override.why,
                                      "approver_groups": override.approver_groups, "next_opening": opening})
    deployment.record.append(entry)
    override.record_entry, override.record_file = entry.id, str(deployment.record.path)


def announce(session, environment: str, override: Override, version: str | None, next_opening: str) -> None:
    """Tell the notification routes; a failed announcement is reported, never fatal to the override."""
    try:
        from bayat_deploy.gates import notify
    except ImportError as exc:  # the notification module is optional at this seam
        override.announce_problem = f"not announced: notifications are unavailable ({exc})"
        return
    text = (f"Emergency change to {environment} outside the maintenance window, approved by "
            f"{', '.join(override.approved_by)}: {override.reason}. Next regular window: {next_opening}.")
    try:
        deliveries = notify.send(session, event="maintenance", level="warning", environment=environment,
                                 title=f"Emergency maintenance in {environment}", text=text, version=version,
                                 details={"emergency": True, "reason": override.reason,
                                          "approved_by": override.approved_by, "requested_by": override.requested_by,
                                          "record_entry": override.record_entry})
    except Exception as exc:  # noqa: BLE001 - an announcement failure must not undo a granted override
        override.announce_problem = f"not announced: {type(exc).__name__}: {exc}"
        return
    override.announced = [d.to_dict() if hasattr(d, "to_dict") else {"result": str(d)} for d in deliveries or []]
    failed = [d for d in override.announced if d.get("status") == "failed"]
    if failed:
        override.announce_problem = "; ".join(f"{d.get('route')}: {d.get('detail')}" for d in failed)


def recorded_approvers(session, environment: str) -> list[str]:
    """Logins recorded by `approvals record --rule emergency` for this commit (empty when none)."""
    from bayat_deploy import evidence

    try:
        recorded = evidence.read(session.evidence_dir, "approvals", environment)
    except ValueError:
        return []
    if recorded is None or (session.context.sha and recorded.commit and recorded.commit != session.context.sha):
        return []
    return sorted({a["user"] for a in recorded.details.get("approvals", [])
                   if a.get("rule") == "emergency" and a.get("state") == "approved" and a.get("user")})
