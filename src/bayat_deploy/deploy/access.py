"""How a target's tools reach the target: the environment of helm, kubectl, aws, terraform... for one environment.

The policy's `credentials:` say where access comes from; the same rules hold on every platform:
- a kubeconfig secret/variable holds the kubeconfig's text (a GitHub secret, an exported variable on a laptop)
  or, as a GitLab File-type variable, the path of a file holding it; either way the tools get `KUBECONFIG`;
- a cloud identity comes from the platform's OIDC token. On GitHub the pipeline's login step (the cloud's
  own action) has already put the credentials into the job's environment; on GitLab the job's `id_tokens:`
  hold the token, and it is handed to the cloud's tools through their own federation settings (AWS web
  identity, a Google external-account file, Azure's federated token);
- a cloud cluster's kubeconfig is fetched with the cloud's CLI once per command, into a private directory.

Nothing here stores a long-lived key: everything written lives in a 0700 temporary directory that is
removed when the command ends.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

from bayat_deploy.errors import BadInput

# GitLab `id_tokens:` variable names the generated jobs declare, with the audience each cloud expects.
GITLAB_ID_TOKENS = {"aws": "BAYAT_AWS_ID_TOKEN", "gcp": "BAYAT_GCP_ID_TOKEN", "azure": "BAYAT_AZURE_ID_TOKEN"}
AZURE_AUDIENCE = "api://AzureADTokenExchange"
AWS_AUDIENCE = "sts.amazonaws.com"


def gcp_audience(provider: str) -> str:
    return f"https://iam.googleapis.com/{provider}"


def target_env(session, environment: str, runner=None, **extra: str) -> dict[str, str]:
    """The child-process environment for the environment's target tools (computed once per command)."""
    cache = session.__dict__.setdefault("_target_env", {})
    if environment not in cache:
        cache[environment] = _Access(session, environment, runner).resolve()
    return {**cache[environment], **extra}


class _Access:
    def __init__(self, session, environment: str, runner=None):
        self.session, self.environment = session, environment
        self.context = session.context
        self.credentials = session.policy.environment(environment).credentials
        self.env = dict(self.context.tool_env())
        self._runner = runner
        self._dir: Path | None = None

    @property
    def runner(self):
        if self._runner is None:
            from bayat_deploy.deploy.targets.commands import CommandRunner

            self._runner = CommandRunner(timeout=120)
        self._runner.env = self.env
        return self._runner

    @property
    def directory(self) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="bayat-access-"))
            atexit.register(shutil.rmtree, self._dir, True)
        return self._dir

    def private(self, name: str, text: str) -> Path:
        path = self.directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        return path

    def resolve(self) -> dict[str, str]:
        creds = self.credentials
        if creds.from_runner:
            return self.env
        if creds.aws:
            self.aws(creds.aws)
        if creds.gcp:
            self.gcp(creds.gcp)
        if creds.azure:
            self.azure(creds.azure)
        if creds.kubeconfig:
            self.kubeconfig(creds.kubeconfig)
        return self.env

    # ------------------------------------------------------------------ kubeconfig
    def kubeconfig(self, name: str) -> None:
        value = self.context.get(name)
        if not value.strip():
            if self.context.in_ci:
                where = ("a File-type CI/CD variable scoped to the environment" if self.context.platform == "gitlab"
                         else f"a secret of the GitHub environment {self.environment!r}")
                raise BadInput(f"{name} is empty: the {self.environment} jobs reach the cluster with the kubeconfig "
                               f"it holds; create {where} (or set credentials.kubeconfig / a cloud login in the "
                               f"policy)")
            return  # a laptop: the user's own kubeconfig and context
        path = Path(value) if "\n" not in value and len(value) < 4096 else None
        if path is not None and path.is_file():
            self.env["KUBECONFIG"] = str(path)
            return
        if "clusters" not in value or "apiVersion" not in value:
            raise BadInput(f"{name} is neither a kubeconfig (no `apiVersion` and `clusters`) nor the path of one")
        self.env["KUBECONFIG"] = str(self.private("kubeconfig", value if value.endswith("\n") else value + "\n"))

    def gitlab_token(self, cloud: str) -> str | None:
        name = GITLAB_ID_TOKENS[cloud]
        token = self.context.get(name)
        if self.context.platform == "gitlab" and not token:
            raise BadInput(f"the job has no {name}: the generated job declares it under `id_tokens:`; a job "
                           f"written by hand needs the same to log in to {cloud.upper()}")
        return token or None

    # ------------------------------------------------------------------ clouds
    def aws(self, aws) -> None:
        self.env.setdefault("AWS_REGION", aws.region)
        self.env.setdefault("AWS_DEFAULT_REGION", aws.region)
        token = self.gitlab_token("aws")
        if token:  # the AWS CLI, SDKs, SAM and Terraform's provider all assume a role from these three
            self.env.update(AWS_ROLE_ARN=aws.role, AWS_WEB_IDENTITY_TOKEN_FILE=str(self.private("aws-token", token)),
                            AWS_ROLE_SESSION_NAME=f"bayat-deploy-{self.environment}")
        if aws.cluster:
            kubeconfig = self.private("kubeconfig", "")
            self.fetch(["aws", "eks", "update-kubeconfig", "--name", aws.cluster, "--region", aws.region,
                        "--kubeconfig", str(kubeconfig)], kubeconfig, "EKS")

    def gcp(self, gcp) -> None:
        token = self.gitlab_token("gcp")
        if token:
            token_file = self.private("gcp-token", token)
            config = {
                "type": "external_account",
                "audience": "//iam.googleapis.com/" + gcp.workload_identity_provider,
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                "token_url": "https://sts.googleapis.com/v1/token",
                "credential_source": {"file": str(token_file)},
                "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/"
                                                     f"serviceAccounts/{gcp.service_account}:generateAccessToken",
            }
            path = str(self.private("gcp-credentials.json", json.dumps(config, indent=2)))
            self.env.update(GOOGLE_APPLICATION_CREDENTIALS=path, CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE=path)
        project = gcp.project or gcp.service_account.split("@", 1)[1].split(".", 1)[0]
        self.env.setdefault("CLOUDSDK_CORE_PROJECT", project)
        if gcp.cluster:
            kubeconfig = self.private("kubeconfig", "")
            self.env["KUBECONFIG"] = str(kubeconfig)  # gcloud writes the context into $KUBECONFIG
            self.fetch(["gcloud", "container", "clusters", "get-credentials", gcp.cluster, "--location",
                        gcp.location, "--project", project], kubeconfig, "GKE")

    def azure(self, azure) -> None:
        token = self.gitlab_token("azure")
        self.env.update(ARM_CLIENT_ID=azure.client_id, ARM_TENANT_ID=azure.tenant_id,
                        ARM_SUBSCRIPTION_ID=azure.subscription_id)
        if token:  # Terraform's azurerm provider reads the token itself; the az CLI logs in with it
            self.env.update(ARM_USE_OIDC="true", ARM_OIDC_TOKEN=token)
            self.env.setdefault("AZURE_CONFIG_DIR", str(self.directory / "azure"))  # this job's login only
            self.check(["az", "login", "--service-principal", "--username", azure.client_id, "--tenant",
                        azure.tenant_id, "--federated-token", token, "--output", "none"], "Azure login")
            self.check(["az", "account", "set", "--subscription", azure.subscription_id], "Azure subscription")
        else:
            self.env.setdefault("ARM_USE_CLI", "true")  # after GitHub's Azure/login, through the az CLI
        if azure.cluster:
            kubeconfig = self.private("kubeconfig", "")
            self.fetch(["az", "aks", "get-credentials", "--name", azure.cluster, "--resource-group",
                        azure.resource_group, "--file", str(kubeconfig), "--overwrite-existing"], kubeconfig, "AKS")
            # AKS with Entra ID: kubectl authenticates through kubelogin with the az CLI's login
            self.check(["kubelogin", "convert-kubeconfig", "--login", "azurecli", "--kubeconfig", str(kubeconfig)],
                       "kubelogin")

    def fetch(self, argv: list[str], kubeconfig: Path, cloud: str) -> None:
        self.check(argv, f"{cloud} cluster credentials")
        self.env["KUBECONFIG"] = str(kubeconfig)

    def check(self, argv: list[str], what: str) -> None:
        self.runner.check(argv, what=f"{what} for {self.environment}")
