"""Target credentials as the tools see them: the policy's `credentials:` become the environment of kubectl, helm,
aws, gcloud, az and terraform.

Kubeconfig paths run end to end through the real `kubectl` against the stand-in API server of
tests/support/kubeapi.py (no real cluster here), from fresh "runners" whose only link to the cluster is the
secret (GitHub: the kubeconfig's text) or the File-type variable (GitLab: a path). The cloud CLIs (aws, gcloud,
az, kubelogin) are not on this machine and their services need the internet, so for them the test checks
the exact command lines and the federation files against the providers' documented formats.
"""

from __future__ import annotations

import json
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from bayat_deploy.context import RunContext
from bayat_deploy.deploy.access import target_env
from bayat_deploy.deploy.targets.commands import RecordingRunner
from bayat_deploy.policy.loader import load_policy
from tests.conftest import REPO
from tests.deploy.kube import TOOLS, make_repo
from tests.support.kubeapi import KubeAPI

BAYAT = str(REPO / ".venv" / "bin" / "bayat-deploy")


@pytest.fixture
def api():
    server = KubeAPI()
    yield server
    server.shutdown()
    assert server.invalid == []


def runner_env(tmp_path: Path, name: str, **extra: str) -> dict:
    home = tmp_path / name
    (home / "tmp").mkdir(parents=True)
    return {"HOME": str(home), "TMPDIR": str(home / "tmp"), "PATH": f"{TOOLS}:/usr/bin:/bin", **extra}


def policy(tmp_path: Path, **credentials) -> dict:
    environment = {"credentials": credentials} if credentials else {}
    return {"project": "hello-api", "environments": {"development": environment},
            "target": {"type": "kubernetes", "chart": "chart", "state_dir": str(tmp_path / "scratch")}}


def history(repo: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([BAYAT, "history", "--environment", "development", "--format", "json"], cwd=repo,
                          env=env, capture_output=True, text=True)


def test_a_github_secret_with_the_kubeconfigs_text_reaches_the_cluster(tmp_path, api):
    repo = make_repo(tmp_path / "repo", policy(tmp_path))
    text = api.kubeconfig(tmp_path / "from-the-cluster-admin").read_text()
    github = runner_env(tmp_path, "github-runner", GITHUB_ACTIONS="true", KUBECONFIG_DEVELOPMENT=text)
    proc = history(repo, github)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
    assert any("/namespaces/hello-api-development/configmaps/bayat-deploy-development" in path
               for _, path in api.requests)  # kubectl really asked the cluster
    assert list((tmp_path / "github-runner" / "tmp").glob("bayat-access-*")) == []  # the copy is gone afterwards


def test_a_gitlab_file_variable_is_a_path_and_is_used_where_it_is(tmp_path, api):
    repo = make_repo(tmp_path / "repo", policy(tmp_path))
    path = api.kubeconfig(tmp_path / "gitlab-file-variable")
    proc = history(repo, runner_env(tmp_path, "gitlab-runner", GITLAB_CI="true", KUBECONFIG_DEVELOPMENT=str(path)))
    assert proc.returncode == 0, proc.stderr
    assert api.requests


def test_a_missing_secret_in_ci_is_named_with_where_to_create_it(tmp_path, api):
    repo = make_repo(tmp_path / "repo", policy(tmp_path))
    for platform, where in (("GITHUB_ACTIONS", "a secret of the GitHub environment 'development'"),
                            ("GITLAB_CI", "a File-type CI/CD variable scoped to the environment")):
        proc = history(repo, runner_env(tmp_path, platform, **{platform: "true"}))
        assert proc.returncode != 0
        assert "KUBECONFIG_DEVELOPMENT is empty" in proc.stderr and where in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    proc = history(repo, runner_env(tmp_path, "garbage", GITHUB_ACTIONS="true", KUBECONFIG_DEVELOPMENT="hunter2"))
    assert proc.returncode != 0 and "neither a kubeconfig" in proc.stderr and "hunter2" not in proc.stderr


def test_a_laptop_without_the_variable_uses_its_own_kubeconfig(tmp_path, api):
    repo = make_repo(tmp_path / "repo", policy(tmp_path))
    laptop = runner_env(tmp_path, "laptop", KUBECONFIG=str(api.kubeconfig(tmp_path / "mine")))
    assert history(repo, laptop).returncode == 0


def test_the_secret_name_is_the_policys(tmp_path, api):
    repo = make_repo(tmp_path / "repo", policy(tmp_path, kubeconfig="DEV_CLUSTER"))
    text = api.kubeconfig(tmp_path / "kc").read_text()
    proc = history(repo, runner_env(tmp_path, "r", GITHUB_ACTIONS="true", DEV_CLUSTER=text))
    assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------------- clouds


@dataclass
class FakeSession:
    """What target_env reads from a session: the policy and the run context (nothing else)."""

    policy: object
    context: RunContext


def session_for(tmp_path: Path, env: dict, **credentials) -> FakeSession:
    repo = make_repo(tmp_path / "repo", policy(tmp_path, **credentials))
    loaded = load_policy(repo / ".bayat" / "deploy.yml")
    return FakeSession(loaded.policy, RunContext.from_environment(env, cwd=repo))


def private(path: str) -> str:
    mode = stat.S_IMODE(Path(path).stat().st_mode)
    assert mode == 0o600, oct(mode)
    return Path(path).read_text()


AWS = {"role": "arn:aws:iam::123456789012:role/deploy-{environment}", "region": "eu-west-1",
       "cluster": "shop-{environment}"}
GCP = {"workload_identity_provider": "projects/123456/locations/global/workloadIdentityPools/ci/providers/gitlab",
       "service_account": "deploy@shop-prod.iam.gserviceaccount.com", "cluster": "shop", "location": "europe-west1"}
AZURE = {"client_id": "11111111-2222-3333-4444-555555555555", "tenant_id": "66666666-7777-8888-9999-000000000000",
         "subscription_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "cluster": "shop", "resource_group": "shop-rg"}


def test_aws_on_gitlab_assumes_the_role_with_the_jobs_id_token(tmp_path):
    """AWS CLI, SDKs, SAM and Terraform's provider read AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE (AWS's
    documented web-identity variables) and call sts:AssumeRoleWithWebIdentity themselves."""
    runner = RecordingRunner()
    session = session_for(tmp_path, {"GITLAB_CI": "true", "BAYAT_AWS_ID_TOKEN": "eyJ.gitlab.jwt"}, aws=AWS)
    env = target_env(session, "development", runner)
    assert env["AWS_ROLE_ARN"] == "arn:aws:iam::123456789012:role/deploy-development"
    assert private(env["AWS_WEB_IDENTITY_TOKEN_FILE"]) == "eyJ.gitlab.jwt"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["AWS_ROLE_SESSION_NAME"] == "bayat-deploy-development"
    kubeconfig = env["KUBECONFIG"]
    assert runner.commands == [["aws", "eks", "update-kubeconfig", "--name", "shop-development", "--region",
                                "eu-west-1", "--kubeconfig", kubeconfig]]
    assert "KUBECONFIG_DEVELOPMENT" not in str(runner.calls)  # a cloud cluster needs no kubeconfig secret


def test_aws_on_github_uses_what_the_login_action_exported(tmp_path):
    runner = RecordingRunner()
    session = session_for(tmp_path, {"GITHUB_ACTIONS": "true", "AWS_ACCESS_KEY_ID": "ASIA-from-the-action"},
                          aws=AWS)
    env = target_env(session, "development", runner)
    assert "AWS_ROLE_ARN" not in env and "AWS_WEB_IDENTITY_TOKEN_FILE" not in env
    assert runner.env["AWS_ACCESS_KEY_ID"] == "ASIA-from-the-action"  # the cloud CLI runs with the action's keys
    assert runner.commands[0][:3] == ["aws", "eks", "update-kubeconfig"]


def test_gcp_on_gitlab_writes_an_external_account_file(tmp_path):
    """The external_account format of Google's workload identity federation (credential_source.file)."""
    runner = RecordingRunner()
    session = session_for(tmp_path, {"GITLAB_CI": "true", "BAYAT_GCP_ID_TOKEN": "eyJ.gcp"}, gcp=GCP)
    env = target_env(session, "development", runner)
    config = json.loads(private(env["GOOGLE_APPLICATION_CREDENTIALS"]))
    assert config["type"] == "external_account"
    assert config["audience"] == "//iam.googleapis.com/" + GCP["workload_identity_provider"]
    assert config["subject_token_type"] == "urn:ietf:params:oauth:token-type:jwt"
    assert private(config["credential_source"]["file"]) == "eyJ.gcp"
    assert config["service_account_impersonation_url"].endswith(
        "serviceAccounts/deploy@shop-prod.iam.gserviceaccount.com:generateAccessToken")
    assert env["CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE"] == env["GOOGLE_APPLICATION_CREDENTIALS"]
    assert env["CLOUDSDK_CORE_PROJECT"] == "shop-prod"
    assert runner.commands == [["gcloud", "container", "clusters", "get-credentials", "shop", "--location",
                                "europe-west1", "--project", "shop-prod"]]
    assert runner.env["KUBECONFIG"] == env["KUBECONFIG"]  # gcloud wrote into the private kubeconfig


def test_azure_on_gitlab_logs_in_with_the_federated_token_and_converts_the_kubeconfig(tmp_path):
    runner = RecordingRunner()
    session = session_for(tmp_path, {"GITLAB_CI": "true", "BAYAT_AZURE_ID_TOKEN": "eyJ.azure"}, azure=AZURE)
    env = target_env(session, "development", runner)
    assert (env["ARM_USE_OIDC"], env["ARM_OIDC_TOKEN"], env["ARM_CLIENT_ID"]) == ("true", "eyJ.azure",
                                                                                  AZURE["client_id"])
    kubeconfig = env["KUBECONFIG"]
    assert [argv[:3] for argv in runner.commands] == [["az", "login", "--service-principal"],
                                                      ["az", "account", "set"], ["az", "aks", "get-credentials"],
                                                      ["kubelogin", "convert-kubeconfig", "--login"]]
    assert runner.commands[2][-3:] == ["--file", kubeconfig, "--overwrite-existing"]
    assert runner.env["AZURE_CONFIG_DIR"].startswith(str(Path(kubeconfig).parent))  # this job's login only


def test_a_gitlab_job_without_its_id_token_is_told_what_to_declare(tmp_path):
    from bayat_deploy.errors import BadInput

    session = session_for(tmp_path, {"GITLAB_CI": "true"}, aws=AWS)
    with pytest.raises(BadInput, match="BAYAT_AWS_ID_TOKEN.*id_tokens"):
        target_env(session, "development", RecordingRunner())
