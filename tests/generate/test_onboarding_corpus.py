"""Ten repositories shaped like real ones (web services in Python, Node, Java and Go, PyPI and npm libraries,
a Helm chart repository, a Terraform module, a SAM app, a Serverless app, a monorepo), each a git repository
with its own default branch and tag scheme, written here in miniature.

For each: `generate-pipeline init` writes the policy a maintainer would keep (asserted field by field), it
validates, and the pipelines generated from it pass actionlint, GitHub's workflow schema, zizmor and GitLab's
CI schema. The pull-request pipeline itself runs under act and gitlab-ci-local in test_github_act.py and
test_gitlab_local.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN
from tests.generate.test_init import make_repo
from tests.support.lint import assert_gitlab_passes, assert_workflows_pass

PY_SERVICE = {
    "Dockerfile": "FROM python:3.12-slim\nEXPOSE 8000\nCMD [\"gunicorn\", \"app:app\"]\n",
    "pyproject.toml": '[tool.poetry]\nname = "shop"\n[tool.ruff]\nline-length = 100\n',
    "poetry.lock": "", "tests/test_app.py": "def test_ok():\n    assert True\n",
}
NODE_SERVICE = {
    "Dockerfile": "FROM node:22 AS build\nRUN npm ci\nFROM node:22-slim\nEXPOSE 3000\n",
    "Dockerfile.dev": "FROM node:22\n",
    "package.json": json.dumps({"name": "web", "private": True, "scripts": {"test": "jest"}}), "yarn.lock": "",
}
JAVA_SERVICE = {"Dockerfile": "FROM eclipse-temurin:21\nEXPOSE 8080\n", "pom.xml": "<project/>", "mvnw": ""}
GO_SERVICE = {"Dockerfile.prod": "FROM golang:1.23 AS b\nFROM gcr.io/distroless/static\nEXPOSE 9090\n",
              "Dockerfile": "FROM golang:1.23\n", "go.mod": "module example.com/api\n"}
PYPI_LIBRARY = {"pyproject.toml": '[project]\nname = "bayat-utils"\n', "uv.lock": "", "tests/test_x.py": ""}
NPM_LIBRARY = {"package.json": json.dumps({"name": "@bayat/ui", "scripts": {"test": "vitest"}}),
               "pnpm-lock.yaml": ""}
CHARTS = {"charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.0.0\n",
          "charts/web/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"}
TERRAFORM_MODULE = {"main.tf": 'resource "aws_s3_bucket" "this" { bucket = var.name }\n',
                    "variables.tf": 'variable "name" { type = string }\n', "outputs.tf": ""}
SAM_APP = {"template.yaml": "Transform: AWS::Serverless-2016-10-31\nResources:\n  Api:\n"
                            "    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: nodejs20.x\n"
                            "      Handler: index.handler\n      CodeUri: src/\n",
           "samconfig.toml": '[default.deploy.parameters]\nregion = "eu-west-1"\n', "src/index.js": ""}
SERVERLESS_APP = {"serverless.yml": "service: orders\nprovider: {name: aws}\n", "Dockerfile": "FROM scratch\n",
                  "package.json": json.dumps({"name": "orders", "scripts": {"test": "jest"}})}
MONOREPO = {"services/api/Dockerfile": "FROM scratch\n", "services/worker/Dockerfile": "FROM scratch\n",
            "modules/network/main.tf": 'variable "cidr" {}\n', "Makefile": "test:\n\tgo test ./...\n"}

CORPUS = {
    # name: (files, default branch, tags, what the written policy must say)
    "shop-python": (PY_SERVICE, "master", ("2.1.0", "2.2.0"), {
        "default_branch": "master", "versioning": {"tag_prefix": ""},
        "target": {"type": "docker-host", "container_port": 8000},
        "tests": {"unit": {"run": "poetry run pytest -q --junitxml=reports/junit-unit.xml",
                           "junit": "reports/junit-unit.xml"}},
        "build": {"static_analysis": [{"name": "ruff", "run": "ruff check ."}]}}),
    "web-node": (NODE_SERVICE, "main", ("v6.14.1",), {
        "target": {"type": "docker-host", "container_port": 3000}, "tests": {"unit": {"run": "yarn test"}}}),
    "orders-java": (JAVA_SERVICE, "master", (), {
        "default_branch": "master", "tests": {"unit": {"run": "./mvnw --batch-mode test",
                                                       "junit": "target/surefire-reports/*.xml"}}}),
    "api-go": (GO_SERVICE, "main", ("release-1.4.0",), {
        "versioning": {"tag_prefix": "release-"},
        "artifacts": [{"type": "docker-image", "name": "api-go", "dockerfile": "Dockerfile.prod"}],
        "target": {"type": "docker-host", "container_port": 9090}, "tests": {"unit": {"run": "go test ./..."}}}),
    "bayat-utils": (PYPI_LIBRARY, "master", ("1.0.0",), {
        "kind": "library", "default_branch": "master", "versioning": {"tag_prefix": ""},
        "artifacts": [{"type": "python-package", "name": "bayat-utils"}],
        "tests": {"unit": {"run": "uv run pytest -q --junitxml=reports/junit-unit.xml",
                           "junit": "reports/junit-unit.xml"}}}),
    "ui-kit": (NPM_LIBRARY, "main", (), {
        "kind": "library", "artifacts": [{"type": "npm-package", "name": "@bayat/ui"}],
        "tests": {"unit": {"run": "pnpm test"}}}),
    "helm-charts": (CHARTS, "master", (), {
        "kind": "library", "default_branch": "master",
        "artifacts": [{"type": "helm-chart", "name": "web", "path": "charts/web"}]}),
    "terraform-aws-bucket": (TERRAFORM_MODULE, "master", ("v0.3.0",), {
        "kind": "library", "default_branch": "master",
        "artifacts": [{"type": "terraform-module", "name": "terraform-aws-bucket", "path": "."}]}),
    "hello-sam": (SAM_APP, "main", (), {
        "target": {"type": "serverless", "framework": "sam", "template": "template.yaml", "function": "Api",
                   "region": "eu-west-1"}}),
    "orders-sls": (SERVERLESS_APP, "main", (), {
        "target": {"type": "serverless", "framework": "serverless", "template": "serverless.yml"},
        "tests": {"unit": {"run": "npm test"}}}),
    "platform-mono": (MONOREPO, "trunk", (), {
        "default_branch": "trunk",
        "artifacts": [{"type": "docker-image", "name": "platform-mono-api", "context": "services/api"},
                      {"type": "docker-image", "name": "platform-mono-worker", "context": "services/worker"},
                      {"type": "terraform-module", "name": "network", "path": "modules/network"}],
        "tests": {"unit": {"run": "make test"}}}),
}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo, check=True,
                   capture_output=True)


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("corpus")
    repos = {}
    for name, (files, branch, tags, _) in CORPUS.items():
        repo = make_repo(base / name, files)
        git(repo, "init", "-q", "-b", branch)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "feat: first")
        for tag in tags:
            git(repo, "tag", tag)
        init = subprocess.run([str(BIN / "generate-pipeline"), "init", "--dir", str(repo)], capture_output=True,
                              text=True)
        assert init.returncode == 0, (name, init.stderr)
        rendered = subprocess.run([str(BIN / "generate-pipeline"), "--dir", str(repo), "--platform", "all"],
                                  capture_output=True, text=True)
        assert rendered.returncode == 0, (name, rendered.stderr)
        repos[name] = repo
    return repos


@pytest.mark.parametrize("name", CORPUS)
def test_init_writes_the_policy_a_maintainer_would_keep(onboarded, name):
    written = yaml.safe_load((onboarded[name] / ".bayat" / "deploy.yml").read_text())
    expected = CORPUS[name][3]
    assert written == {"project": name, **expected}, written


@pytest.mark.parametrize("name", CORPUS)
def test_the_generated_pipelines_pass_the_linters_and_the_schemas(onboarded, name):
    repo = onboarded[name]
    assert_workflows_pass(repo)
    assert_gitlab_passes(repo / ".gitlab-ci.yml")
    names = {p.name for p in (repo / ".github" / "workflows").glob("*.yml")}
    library = CORPUS[name][3].get("kind") == "library"
    # a service also rolls back by hand and announces its maintenance windows; a library does neither
    assert names == ({"deploy.yml", "pull-request.yml"} | (set() if library else {"rollback.yml", "maintenance.yml"}))
