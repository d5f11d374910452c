"""Infrastructure validation (real helm and terraform) and SAST (real bandit) inside `bayat-deploy scan`.

Terraform runs offline here: the modules use `terraform_data`, which is built into terraform, and
one module that needs a provider from the registry shows how that case is reported.
"""

from __future__ import annotations

import pytest

from tests.stages.test_scan import blocking, evidence, make_repo, scan

CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    "chart/values.yaml": "privileged: false\ndatabase:\n  host: db.internal\n",
    "chart/templates/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
spec:
  replicas: 1
  selector:
    matchLabels: {app: demo}
  template:
    metadata:
      labels: {app: demo, track: {{ .Values.track | default "stable" }}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 20001, runAsGroup: 20001, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: app
          image: registry.example.com/demo:1.0
          env:
            - name: DATABASE_HOST
              value: {{ required "database.host is required" .Values.database.host | quote }}
          securityContext:
            privileged: {{ .Values.privileged }}
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          resources:
            limits: {cpu: 100m, memory: 64Mi}
            requests: {cpu: 50m, memory: 32Mi}
""",
}
KUBERNETES_POLICY = """\
project: demo
target:
  type: kubernetes
  chart: chart
environments:
  {environment}:
    target:
      values: {values}
"""
TERRAFORM_OK = 'variable "name" {\n  type    = string\n  default = "demo"\n}\n\n' \
               'resource "terraform_data" "marker" {\n  input = var.name\n}\n'
TERRAFORM_UNDECLARED = 'resource "terraform_data" "marker" {\n  input = var.missing\n}\n'
TERRAFORM_PROVIDER = 'terraform {\n  required_providers {\n    null = { source = "hashicorp/null" }\n  }\n}\n\n' \
                     'resource "null_resource" "marker" {}\n'
SHELL_INJECTION = "import subprocess\n\n\ndef run(command):\n    return subprocess.call(command, shell=True)\n"


def infrastructure(repo) -> dict:
    return evidence(repo, "infrastructure")


def test_a_valid_chart_is_linted_and_rendered(bayat, tmp_path, trivy_cache):
    repo = make_repo(tmp_path, CHART)
    result = scan(bayat, repo, trivy_cache)
    assert result.code == 0, result.stdout + result.stderr
    document = infrastructure(repo)
    assert document["status"] == "pass"
    assert [(c["check"], c["context"]) for c in document["details"]["checks"]] == [
        ("helm-lint", None), ("helm-template", "default values")]


def test_a_template_that_does_not_parse_fails_with_its_file_and_line(bayat, tmp_path, trivy_cache):
    broken = dict(CHART)
    broken["chart/templates/service.yaml"] = "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }\n"
    repo = make_repo(tmp_path, broken)
    result = scan(bayat, repo, trivy_cache)
    assert result.code == 1
    failures = blocking(infrastructure(repo))
    assert {(f["id"], f["file"], f["line"]) for f in failures} >= {("helm-lint", "chart/templates/service.yaml", 4)}
    assert "chart/templates/service.yaml:4" in result.stdout


def test_each_environment_renders_with_its_own_values(bayat, tmp_path, trivy_cache):
    policy = KUBERNETES_POLICY.format(environment="staging", values='{database: {host: ""}}')
    repo = make_repo(tmp_path, CHART, policy=policy)
    result = scan(bayat, repo, trivy_cache)
    assert result.code == 1
    document = infrastructure(repo)
    verdicts = {c["context"]: c["passed"] for c in document["details"]["checks"] if c["check"] == "helm-template"}
    assert verdicts == {"default values": True, "development": True, "testing": True, "staging": False,
                        "production": True}
    [failure] = blocking(document)
    assert "staging's values" in failure["title"] and "database.host is required" in failure["title"]
    assert (failure["file"], failure["line"]) == ("chart/templates/deployment.yaml", 20)


def test_rendered_manifests_are_scanned_with_each_environments_values(bayat, tmp_path, trivy_cache):
    repo = make_repo(tmp_path, CHART, policy=KUBERNETES_POLICY.format(environment="production",
                                                                       values="{privileged: true}"))
    result = scan(bayat, repo, trivy_cache)
    assert result.code == 1, result.stdout + result.stderr
    # the namespace's restricted Pod Security would reject the pods: infrastructure fails, and trivy says why too
    document = infrastructure(repo)
    assert document["status"] == "fail"
    assert [f["title"] for f in blocking(document)] == [
        "production: Deployment/demo: container app: privileged containers are not allowed"]
    [finding] = [f for f in blocking(evidence(repo)) if f["id"] == "KSV-0017"]
    assert finding["file"] == "chart/templates/deployment.yaml"
    assert "rendered with production's values" in finding["detail"]
    assert "KSV-0017" in result.stdout and "production's values" in result.stdout


@pytest.mark.parametrize("source, code, says", [
    pytest.param(TERRAFORM_OK, 0, None, id="valid"),
    pytest.param(TERRAFORM_UNDECLARED, 1, "infra/main.tf:2: Reference to undeclared input variable", id="invalid"),
    pytest.param(TERRAFORM_PROVIDER, 1, "terraform init could not download provider(s) hashicorp/null",
                 id="provider-needs-the-network"),
])
def test_terraform_is_initialised_offline_and_validated(bayat, tmp_path, trivy_cache, source, code, says):
    repo = make_repo(tmp_path, {"infra/main.tf": source},
                     policy="project: demo\ntarget:\n  type: terraform\n  directory: infra\n")
    result = scan(bayat, repo, trivy_cache)
    assert result.code == code, result.stdout + result.stderr
    document = infrastructure(repo)
    assert document["inputs"]["terraform"] == {"infra": [f"the terraform target ({env})" for env in
                                                         ("development", "testing", "staging", "production")]}
    if says:
        assert says in result.stdout
        assert document["status"] == "fail"
    else:
        assert [c["check"] for c in document["details"]["checks"]] == ["terraform-init", "terraform-validate"]
    leftovers = [p.name for p in (repo / "infra").iterdir() if p.name.startswith(".terraform")]
    assert leftovers == [], "validation leaves the repository as it found it"


def test_a_target_directory_that_does_not_exist_fails(bayat, tmp_path, trivy_cache):
    repo = make_repo(tmp_path, {"README.md": "demo\n"},
                     policy="project: demo\ntarget:\n  type: terraform\n  directory: infra\n")
    result = scan(bayat, repo, trivy_cache)
    assert result.code == 1
    assert "names 'infra', but there is no *.tf there" in result.stdout


def test_switching_infrastructure_validation_off_removes_stale_evidence(bayat, tmp_path, trivy_cache):
    repo = make_repo(tmp_path, {"infra/main.tf": TERRAFORM_UNDECLARED})
    assert scan(bayat, repo, trivy_cache).code == 1
    (repo / ".bayat" / "deploy.yml").write_text("project: demo\nscan:\n  infrastructure: false\n")
    result = scan(bayat, repo, trivy_cache)
    assert result.code == 0, result.stdout
    assert not (repo / ".bayat" / "evidence" / "infrastructure.json").exists()
    assert "infrastructure validation is off" in result.stdout


@pytest.mark.parametrize("path, extra, policy, code", [
    pytest.param("app/run.py", {}, "project: demo\n", 1, id="application-code"),
    pytest.param("tests/test_run.py", {}, "project: demo\n", 0, id="tests-are-not-analysed"),
    pytest.param("app/run.py", {".trivyignore.yaml": "sast:\n  - id: B602\n    statement: command is a constant\n"
                                                     "    expired_at: 2099-01-01\n"}, "project: demo\n", 0,
                 id="ignored-with-a-reason"),
    pytest.param("app/run.py", {}, "project: demo\nscan:\n  sast: false\n", 0, id="sast-off"),
])
def test_bandit_findings_meet_the_same_gate(bayat, tmp_path, trivy_cache, path, extra, policy, code):
    repo = make_repo(tmp_path, {path: SHELL_INJECTION, **extra}, policy=policy)
    result = scan(bayat, repo, trivy_cache)
    assert result.code == code, result.stdout + result.stderr
    if code:
        [finding] = blocking(evidence(repo))
        assert (finding["id"], finding["tool"], finding["file"], finding["line"]) == ("B602", "bandit", path, 5)
        assert f"{path}:5" in result.stdout


def test_a_chart_the_kubernetes_target_cannot_switch_fails_the_infrastructure_check(bayat, tmp_path, trivy_cache):
    """Pods without the `track` label the traffic switch selects on: found at scan time, per environment."""
    files = {**CHART, "chart/templates/deployment.yaml": CHART["chart/templates/deployment.yaml"].replace(
        'labels: {app: demo, track: {{ .Values.track | default "stable" }}}', "labels: {app: demo}")}
    repo = make_repo(tmp_path, files, policy=KUBERNETES_POLICY.format(environment="staging", values="{}"))
    result = scan(bayat, repo, trivy_cache)
    assert result.code == 1, result.stdout + result.stderr
    document = infrastructure(repo)
    verdicts = {c["context"]: c["passed"] for c in document["details"]["checks"] if c["check"] == "helm-template"}
    # only the renders the target deploys are held to the contract, each environment's
    assert verdicts == {"default values": True, "development": False, "testing": False, "staging": False,
                        "production": False}, verdicts
    titles = [f["title"] for f in blocking(document)]
    assert any("staging: Deployment/" in t and "its pods carry no `track: stable` label" in t for t in titles), titles
