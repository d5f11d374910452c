"""How an environment's deploy, verify and rollback jobs reach its target: a kubeconfig from a secret, or a
cloud identity through OIDC (no long-lived cloud key is ever the default)."""

from __future__ import annotations

from dataclasses import dataclass

from bayat_deploy.policy.model.fields import f

# {project} / {environment} placeholders are allowed where a platform team writes one line for every environment.
_NAME = r"^[A-Za-z0-9{}][A-Za-z0-9{}_.-]*$"
_NAME_HINT = "letters, digits and _ . - ({project} and {environment} allowed)"
_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID_HINT = "a GUID such as 00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True, kw_only=True)
class Aws:
    """AWS through OIDC: GitHub's `aws-actions/configure-aws-credentials`, GitLab's `id_tokens` with web identity."""

    role: str = f("IAM role the job assumes (its trust policy names this repository and environment).",
                  pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/{}-]+$",
                  pattern_hint="an IAM role ARN, arn:aws:iam::<12-digit account>:role/<name>")
    region: str | None = f("AWS region; default: a serverless target's region, else us-east-1.", None,
                           pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$", pattern_hint="an AWS region such as eu-west-1")
    cluster: str | None = f("EKS cluster whose kubeconfig the job fetches (`aws eks update-kubeconfig`).", None,
                            pattern=_NAME, pattern_hint=_NAME_HINT)


@dataclass(frozen=True, kw_only=True)
class Gcp:
    """Google Cloud through Workload Identity Federation: `google-github-actions/auth`, GitLab's `id_tokens`."""

    workload_identity_provider: str = f(
        "Full provider name.",
        pattern=r"^projects/\d+/locations/global/workloadIdentityPools/[a-z0-9{}-]+/providers/[a-z0-9{}-]+$",
        pattern_hint="projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>")
    service_account: str = f("Service account the job impersonates.",
                             pattern=r"^[a-z0-9{}._-]+@[a-z0-9.-]+\.iam\.gserviceaccount\.com$",
                             pattern_hint="<name>@<project>.iam.gserviceaccount.com")
    project: str | None = f("Project of the cluster; default: the service account's project.", None,
                            pattern=r"^[a-z][a-z0-9{}-]+$", pattern_hint="a Google Cloud project id")
    cluster: str | None = f("GKE cluster whose kubeconfig the job fetches.", None, pattern=_NAME,
                            pattern_hint=_NAME_HINT)
    location: str | None = f("Region or zone of the GKE cluster (needed with `cluster`).", None,
                             pattern=r"^[a-z]+-[a-z]+\d+(-[a-z])?$", pattern_hint="a region or zone such as europe-west1")


@dataclass(frozen=True, kw_only=True)
class Azure:
    """Azure through workload identity federation: `Azure/login`, GitLab's `id_tokens` with `az login`."""

    client_id: str = f("Application (client) id of the federated identity.", pattern=_UUID, pattern_hint=_UUID_HINT)
    tenant_id: str = f("Directory (tenant) id.", pattern=_UUID, pattern_hint=_UUID_HINT)
    subscription_id: str = f("Subscription id.", pattern=_UUID, pattern_hint=_UUID_HINT)
    cluster: str | None = f("AKS cluster whose kubeconfig the job fetches.", None, pattern=_NAME,
                            pattern_hint=_NAME_HINT)
    resource_group: str | None = f("Resource group of the AKS cluster (needed with `cluster`).", None,
                                   pattern=_NAME, pattern_hint=_NAME_HINT)


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """What the environment's deploy, verify and rollback jobs use to reach the target. A Kubernetes target
    without a cloud cluster reads its kubeconfig from the secret (GitHub) or File-type variable (GitLab)
    `KUBECONFIG_<ENVIRONMENT>`; clouds are reached through OIDC, with `id-token: write` only on these jobs."""

    kubeconfig: str | None = f(
        "Secret / CI/CD variable holding the kubeconfig (its content, or on GitLab a File-type variable's path); "
        "default: KUBECONFIG_<ENVIRONMENT> for a Kubernetes target that names no cloud cluster.", None,
        pattern=r"^[A-Z_][A-Z0-9_]*$", pattern_hint="an upper-case variable name such as KUBECONFIG_PRODUCTION")
    aws: Aws | None = f("AWS role assumed through OIDC.", None)
    gcp: Gcp | None = f("Google Cloud identity through Workload Identity Federation.", None)
    azure: Azure | None = f("Azure identity through workload identity federation.", None)
    from_runner: bool = f("The runner already has access (an in-cluster service account, a machine identity): "
                          "no credentials step, no secret.", False)

    @property
    def oidc(self) -> bool:
        return any((self.aws, self.gcp, self.azure))

    @property
    def cluster_from_cloud(self) -> bool:
        return any(c is not None and c.cluster for c in (self.aws, self.gcp, self.azure))
