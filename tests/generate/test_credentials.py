"""Target credentials in the generated pipelines: for a Kubernetes, a serverless, a terraform and a docker-host
policy, the deploy, verify and rollback jobs carry the policy's credentials step and runner placement;
`id-token: write` is on those jobs only where a cloud login uses it; the workflows pass actionlint, GitHub's
workflow schema and zizmor (default persona, no findings), and the GitLab pipeline GitLab's schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bayat_deploy.generate.github import PINS
from bayat_deploy.generate.render import render_files, write
from bayat_deploy.policy.loader import load_policy
from tests.support.lint import assert_gitlab_passes, assert_workflows_pass

ROLE = "arn:aws:iam::123456789012:role/deploy-{environment}"
POLICIES = {
    # GitHub-hosted -> EKS through OIDC in production, kubeconfig secrets elsewhere
    "kubernetes": f"""project: shop
target: {{ type: kubernetes, chart: chart }}
monitoring: {{ url: "http://prometheus.monitoring:9090" }}
environments:
  production:
    credentials:
      aws: {{ role: "{ROLE}", region: eu-west-1, cluster: shop-prod }}
""",
    "serverless": f"""project: api
target: {{ type: serverless, region: eu-central-1 }}
defaults:
  credentials:
    aws: {{ role: "{ROLE}" }}
""",
    "terraform": """project: estate
target: { type: terraform, directory: infra }
defaults:
  runner: { group: infra-deployers }
  credentials:
    azure:
      client_id: 11111111-2222-3333-4444-555555555555
      tenant_id: 66666666-7777-8888-9999-000000000000
      subscription_id: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee
""",
    "docker-host": """project: shop
target: { type: docker-host }
environments:
  production:
    runner: { labels: [self-hosted, linux, prod-host], tags: [prod-host] }
""",
}
TARGET_JOBS = ("deploy", "verify", "rollback")


def render(tmp_path: Path, kind: str) -> tuple[Path, dict]:
    repo = tmp_path / kind
    (repo / ".bayat").mkdir(parents=True)
    (repo / ".bayat" / "deploy.yml").write_text(POLICIES[kind])
    loaded = load_policy(repo / ".bayat" / "deploy.yml")
    # serverless and terraform keep their record in state_dir until they have a remote store: that warning stays
    about_access = [w.format() for w in loaded.warnings if "target.state_dir" not in w.message]
    assert about_access == []
    files = {**render_files(loaded, "github"), **render_files(loaded, "gitlab")}
    write(repo, files)
    return repo, files


def jobs_of(files: dict, name: str = "deploy") -> dict:
    return yaml.safe_load(files[f".github/workflows/{name}.yml"])["jobs"]


def uses(job: dict) -> list[str]:
    return [step["uses"].split("@")[0] for step in job["steps"] if "uses" in step]


def step_env(job: dict, action: str) -> dict:
    return next(step.get("env", {}) for step in job["steps"] if step.get("uses", "").startswith(action))


@pytest.mark.parametrize("kind", list(POLICIES))
def test_workflows_pass_actionlint_the_schema_and_zizmor(tmp_path, kind):
    repo, _ = render(tmp_path, kind)
    assert_workflows_pass(repo)
    assert_gitlab_passes(repo / ".gitlab-ci.yml")


def test_id_token_write_only_on_the_jobs_that_log_in_to_a_cloud(tmp_path):
    for kind in POLICIES:
        _, files = render(tmp_path, kind)
        for workflow in ("deploy", "rollback"):
            for name, job in jobs_of(files, workflow).items():
                logs_in = any(u in uses(job) for u in (PINS[c].repository for c in ("aws", "gcp", "azure")))
                assert (job.get("permissions", {}).get("id-token") == "write") == logs_in, (kind, name)


def test_kubernetes_jobs_read_the_environments_kubeconfig_secret_or_log_in_to_eks(tmp_path):
    _, files = render(tmp_path, "kubernetes")
    jobs = jobs_of(files)
    for job in TARGET_JOBS:
        development = jobs[f"{job}-development"]
        assert PINS["aws"].repository not in uses(development)
        action = f"bayat/deploy-action/actions/{job}"
        assert step_env(development, action)["KUBECONFIG_DEVELOPMENT"] == "${{ secrets.KUBECONFIG_DEVELOPMENT }}"
        production = jobs[f"{job}-production"]
        login = next(s for s in production["steps"] if s.get("uses", "").startswith(PINS["aws"].repository))
        assert login["uses"] == PINS["aws"].reference
        assert login["with"] == {"role-to-assume": "arn:aws:iam::123456789012:role/deploy-production",
                                 "aws-region": "eu-west-1", "role-session-name": "bayat-deploy-production"}
        assert not any(k.startswith("KUBECONFIG") for k in step_env(production, action))
        assert production["runs-on"] == "ubuntu-latest"
        # the login comes before the first bayat-deploy step that talks to the target
        order = uses(production)
        assert order.index(PINS["aws"].repository) < order.index(action)
    # the monitor step reads the deployment record, which is in the cluster
    assert step_env(jobs["verify-development"], "bayat/deploy-action/actions/monitor")["KUBECONFIG_DEVELOPMENT"]
    # no other job sees a cluster secret
    for name, job in jobs.items():
        if not name.startswith(TARGET_JOBS):
            assert "KUBECONFIG" not in json.dumps(job), name
    manual = jobs_of(files, "rollback")
    assert set(manual) == {f"rollback-{e}" for e in ("development", "testing", "staging", "production")}
    assert PINS["aws"].repository in uses(manual["rollback-production"])
    gitlab = yaml.safe_load(files[".gitlab-ci.yml"])
    for job in ("deploy-production", "verify-production", "rollback-production", "rollback-production-manual"):
        assert gitlab[job]["id_tokens"] == {"BAYAT_AWS_ID_TOKEN": {"aud": "sts.amazonaws.com"}}, job
    assert "id_tokens" not in gitlab["deploy-development"] and "id_tokens" not in gitlab["build"]
    assert "File-type CI/CD variable KUBECONFIG_DEVELOPMENT" in files[".gitlab-ci.yml"]


def test_serverless_assumes_the_environments_role_in_the_targets_region(tmp_path):
    _, files = render(tmp_path, "serverless")
    jobs = jobs_of(files)
    for env in ("development", "production"):
        for job in TARGET_JOBS:
            login = next(s for s in jobs[f"{job}-{env}"]["steps"] if "configure-aws-credentials" in s.get("uses", ""))
            assert login["with"]["role-to-assume"] == f"arn:aws:iam::123456789012:role/deploy-{env}"
            assert login["with"]["aws-region"] == "eu-central-1"
    assert "secrets.AWS" not in files[".github/workflows/deploy.yml"]  # never a long-lived key


def test_terraform_logs_in_to_azure_on_the_policys_runner_group(tmp_path):
    _, files = render(tmp_path, "terraform")
    jobs = jobs_of(files)
    deploy = jobs["deploy-staging"]
    assert deploy["runs-on"] == {"group": "infra-deployers"}
    login = next(s for s in deploy["steps"] if s.get("uses", "").startswith("Azure/login"))
    assert login["uses"] == PINS["azure"].reference
    assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}
    gitlab = yaml.safe_load(files[".gitlab-ci.yml"])
    assert gitlab["deploy-staging"]["id_tokens"] == {"BAYAT_AZURE_ID_TOKEN": {"aud": "api://AzureADTokenExchange"}}


def test_a_docker_host_runs_on_its_own_runner_and_needs_no_cloud_login(tmp_path):
    _, files = render(tmp_path, "docker-host")
    jobs = jobs_of(files)
    assert jobs["deploy-production"]["runs-on"] == ["self-hosted", "linux", "prod-host"]
    assert jobs["deploy-staging"]["runs-on"] == ["self-hosted", "staging"]
    for name, job in jobs.items():
        assert "id-token" not in job.get("permissions", {}), name
        assert not set(uses(job)) & {PINS[c].repository for c in ("aws", "gcp", "azure")}
    gitlab = yaml.safe_load(files[".gitlab-ci.yml"])
    assert gitlab["deploy-production"]["tags"] == ["prod-host"]
    assert "id_tokens" not in files[".gitlab-ci.yml"]


def test_validate_wants_an_identity_for_a_cloud_target_on_hosted_runners(bayat, tmp_path):
    (tmp_path / "bare.yml").write_text("project: api\ntarget: { type: serverless }\n")
    result = bayat("policy", "validate", "--policy", "bare.yml")
    assert result.code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if ": warning: " in line]
    assert any("bare.yml:2:" in w and "set `credentials.aws.role`" in w for w in warnings), warnings
    (tmp_path / "gke.yml").write_text(
        "project: shop\ntarget: { type: kubernetes }\nenvironments:\n  staging:\n    credentials:\n      gcp:\n"
        "        workload_identity_provider: projects/1/locations/global/workloadIdentityPools/p/providers/q\n"
        "        service_account: d@shop.iam.gserviceaccount.com\n        cluster: shop\n")
    result = bayat("policy", "validate", "--policy", "gke.yml")
    assert result.code != 0
    assert "gke.yml:9:" in result.stderr and "location" in result.stderr, result.stderr
    (tmp_path / "key.yml").write_text("project: api\ntarget: { type: serverless }\ndefaults:\n  credentials:\n"
                                      "    aws: { role: AKIAIOSFODNN7EXAMPLE }\n")
    result = bayat("policy", "validate", "--policy", "key.yml")
    assert result.code != 0 and "key.yml:5:" in result.stderr and "IAM role ARN" in result.stderr, result.stderr
