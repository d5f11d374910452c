"""Values derived from other values, filled in once after conversion so no consumer re-derives them."""

from __future__ import annotations

from dataclasses import replace

from bayat_deploy.policy.model import ApprovalRule, DockerImage, Environment, Policy


def resolve(policy: Policy) -> Policy:
    artifacts = tuple(
        replace(a, name=policy.project) if isinstance(a, DockerImage) and a.name is None else a
        for a in policy.artifacts
    )
    environments = {name: _credentials(policy, name, _runner(name, _resolve_environment(policy, env))) for name, env in policy.environments.items()}
    return replace(policy, artifacts=artifacts, environments=environments)


def _runner(name: str, env: Environment) -> Environment:
    """Where the environment's jobs run: a docker-host target's jobs on the host's own runner, others on
    the platform's hosted runners, unless the policy says."""
    on_host = env.target is not None and env.target.type == "docker-host"
    runner = env.runner
    labels = runner.labels if runner.labels is not None else (
        ("self-hosted", name) if on_host else () if runner.group else ("ubuntu-latest",))
    tags = runner.tags if runner.tags is not None else ((name,) if on_host else ())
    return replace(env, runner=replace(runner, labels=labels, tags=tags))


def _credentials(policy: Policy, name: str, env: Environment) -> Environment:
    """Placeholders filled, the AWS region from a serverless target, and the kubeconfig secret a Kubernetes
    target needs when no cloud login gives it one."""
    creds = env.credentials
    if creds.from_runner:
        return env
    fill = lambda text: policy.substitute(text, name) if text else text  # noqa: E731
    target = env.target
    aws, gcp, azure = creds.aws, creds.gcp, creds.azure
    if aws:
        region = aws.region or getattr(target, "region", None) or "us-east-1"
        aws = replace(aws, role=fill(aws.role), region=region, cluster=fill(aws.cluster))
    if gcp:
        gcp = replace(gcp, workload_identity_provider=fill(gcp.workload_identity_provider),
                      service_account=fill(gcp.service_account), project=fill(gcp.project), cluster=fill(gcp.cluster))
    if azure:
        azure = replace(azure, cluster=fill(azure.cluster), resource_group=fill(azure.resource_group))
    creds = replace(creds, aws=aws, gcp=gcp, azure=azure)
    if creds.kubeconfig is None and target is not None and target.type == "kubernetes" \
            and not creds.cluster_from_cloud:
        creds = replace(creds, kubeconfig="KUBECONFIG_" + name.upper().replace("-", "_"))
    return replace(env, credentials=creds)


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
