"""`generate-pipeline init`: detection, a policy that validates, and no clobbering."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bayat_deploy.generate.detect import detect
from bayat_deploy.policy.loader import load_policy

REPOS = {
    "docker-app": ({"Dockerfile": "FROM x\n"}, None, []),
    "helm-app": ({"Dockerfile": "", "chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n"},
                 "kubernetes", ["docker-image", "helm-chart"]),
    "sam-app": ({"template.yaml": "Transform: AWS::Serverless-2016-10-31\n"}, "serverless", []),
    "serverless-fw": ({"serverless.yml": "service: x\n", "Dockerfile": ""}, "serverless", []),
    "vm-app": ({"infra/main.tf": 'resource "null_resource" "x" {}\n'}, "terraform", []),
    "py-lib": ({"pyproject.toml": '[project]\nname = "Bayat_Utils"\n', "tests/test_x.py": ""}, None,
               ["python-package"]),
    "npm-lib": ({"package.json": '{"name": "@bayat/ui", "scripts": {"test": "vitest"}}'}, None, ["npm-package"]),
    "mono": ({"services/api/Dockerfile": "", "services/worker/Dockerfile": "", "modules/net/main.tf": ""}, None,
             ["docker-image", "docker-image", "terraform-module"]),
}


def make_repo(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize("name", REPOS)
def test_init_writes_a_policy_that_validates(name, tmp_path, generate):
    files, target, artifacts = REPOS[name]
    repo = make_repo(tmp_path / name, files)

    result = generate("init", "--dir", str(repo))

    assert result.code == 0, result.stderr
    loaded = load_policy(repo / ".bayat" / "deploy.yml")
    assert loaded.policy.project == name
    assert loaded.policy.target.type == (target or "docker-host")
    written = yaml.safe_load((repo / ".bayat" / "deploy.yml").read_text())
    assert [a["type"] for a in written.get("artifacts", [])] == artifacts
    assert "bayat-deploy policy show" in (repo / ".bayat" / "deploy.yml").read_text()


def test_the_bundled_example_is_detected_as_a_tested_python_service_with_a_chart(tmp_path):
    from tests.conftest import REPO

    found = detect(REPO / "examples" / "hello-api")
    assert found.dockerfiles == [Path("Dockerfile")] and found.charts == [Path("chart")]
    assert found.python_tests and found.is_application


def test_detected_names_and_commands(tmp_path):
    repo = make_repo(tmp_path / "Shop Front", {"pyproject.toml": '[project]\nname="x"\n[tool.ruff]\n',
                                               "tests/test_a.py": "", "Dockerfile": ""})
    found = detect(repo)
    assert found.project == "shop-front" and found.is_application and found.ruff and found.python_tests


def test_init_refuses_to_overwrite_without_force(tmp_path, generate):
    repo = make_repo(tmp_path / "app", {".bayat/deploy.yml": "project: mine\n"})
    result = generate("init", "--dir", str(repo))
    assert result.code == 2 and "--force" in result.stderr
    assert (repo / ".bayat" / "deploy.yml").read_text() == "project: mine\n"
    assert generate("init", "--dir", str(repo), "--force").code == 0
    assert "project: app" in (repo / ".bayat" / "deploy.yml").read_text()


def test_init_reports_unwritable_places_clearly_and_leaves_nothing(tmp_path, generate):
    repo = make_repo(tmp_path / "app", {".bayat": "a file where a folder should be\n"})
    result = generate("init", "--dir", str(repo))
    assert result.code == 2 and "cannot write" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in repo.iterdir()) == [".bayat"]
    assert generate("init", "--dir", str(tmp_path / "missing")).code == 2


def test_rendering_without_a_policy_is_bad_input_and_writes_nothing(tmp_path, generate):
    result = generate()
    assert result.code == 2 and ".bayat/deploy.yml:1:1: error: file not found" in result.stderr
    assert list(tmp_path.iterdir()) == []
