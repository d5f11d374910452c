"""Values derived from other values, filled in once after conversion so no consumer re-derives them."""

from __future__ import annotations

from dataclasses import replace

from bayat_deploy.policy.model import ApprovalRule, DockerImage, Environment, Policy


def resolve(policy: Policy) -> Policy:
    artifacts = tuple(
        replace(a, name=policy.project) if isinstance(a, DockerImage) and a.name is None else a
        for a in policy.artifacts
    )
    environments = {name: _resolve_environment(policy, env) for name, env in policy.environments.items()}
    return replace(policy, artifacts=artifacts, environments=environments)


def _resolve_environment(policy: Policy, env: Environment) -> Environment:
    if not (policy.compliance.regulated and env.tier == "production"):
        return env
    # Compliance Verification: regulated projects need a security sign-off before production.
    signoff = policy.compliance.security_signoff
    rules = env.approvals.rules
    if not any(rule.name == "security-signoff" for rule in rules):
        rules += (ApprovalRule(name="security-signoff", description="Security sign-off",
                                groups=signoff.groups, users=signoff.users),)
    checks = env.checks if "security-signoff" in env.checks else env.checks + ("security-signoff",)
    return replace(env, approvals=replace(env.approvals, rules=rules), checks=checks)
