"""build: Docker images with the Docker SDK (labels, tags, version file), failures, static analysis, packages."""

from __future__ import annotations

import json
import subprocess
import tarfile

import pytest

from tests.support.gitrepo import GitRepo
from tests.support.imagerepo import BASE_IMAGE_ARG, example_repo, remove_images, tools_env, unique_namespace

IMAGE_POLICY = """project: tiny
registries:
  containers:
    url: 127.0.0.1:5999/{namespace}
    insecure: true
"""


def evidence(root, stage="build"):
    return json.loads((root / ".bayat" / "evidence" / f"{stage}.json").read_text())


@pytest.fixture
def namespace():
    name = unique_namespace("build")
    yield name
    remove_images(f"127.0.0.1:5999/{name}/")


@pytest.mark.docker
def test_version_file_labels_and_latest_follow_the_repository(bayat, registry, tmp_path):
    namespace = unique_namespace("build")
    repo = example_repo(tmp_path / "hello-api", registry, namespace)
    repo.tag("v3.1.0")
    image = f"{registry.host}/{namespace}/hello-api"
    try:
        # Without --version: the version tag on HEAD.
        built = bayat("build", "--no-sbom", *BASE_IMAGE_ARG, cwd=repo.root)
        assert built.code == 0, built.stdout + built.stderr
        report = evidence(repo.root)
        [record] = report["details"]["images"]
        assert report["version"] == "3.1.0"
        assert record["tags"] == ["3.1.0", "3.1", "3", "latest", f"sha-{repo.head[:7]}"]
        assert not (repo.root / "version.json").exists()

        import docker

        engine = docker.from_env()
        shipped = engine.containers.run(f"{image}:3.1.0", ["cat", "/app/version.json"], remove=True)
        version_file = json.loads(shipped)
        assert version_file["version"] == "3.1.0" and version_file["git_sha"] == repo.head
        labels = engine.images.get(record["image_id"]).labels
        assert labels["org.opencontainers.image.version"] == "3.1.0"
        assert labels["org.opencontainers.image.revision"] == repo.head
        assert labels["io.bayat.branch"] == "main"

        # A hotfix of an older line does not take `latest`; a version file already there stays.
        (repo.root / "version.json").write_text("{}\n")
        hotfix = bayat("build", "--version", "3.0.5", "--no-sbom", *BASE_IMAGE_ARG, cwd=repo.root)
        assert hotfix.code == 0, hotfix.stdout + hotfix.stderr
        assert evidence(repo.root)["details"]["images"][0]["tags"] == ["3.0.5", "3.0", "3", f"sha-{repo.head[:7]}"]
        assert json.loads((repo.root / "version.json").read_text())["version"] == "3.0.5"
    finally:
        remove_images(f"{image}:")


@pytest.mark.docker
def test_a_failing_docker_step_is_reported_with_its_log(bayat, tmp_path, namespace):
    repo = GitRepo(tmp_path / "tiny")
    repo.commit("feat: tiny", {
        ".bayat/deploy.yml": IMAGE_POLICY.format(namespace=namespace),
        "Dockerfile": "FROM bayat/python-base:bookworm\nRUN echo compiling the tiny service && exit 3\n",
    })
    result = bayat("build", "--version", "1.0.0", cwd=repo.root)
    assert result.code == 1
    assert "build: FAILED" in result.stdout and "docker-image tiny did not build" in result.stdout
    [finding] = evidence(repo.root)["findings"]
    assert "Step 2/" in finding["detail"] and "returned a non-zero code: 3" in finding["detail"]
    assert "compiling the tiny service" in finding["detail"]


def test_static_analysis_failure_stops_the_build(bayat, tmp_path, namespace):
    repo = GitRepo(tmp_path / "tiny")
    repo.commit("feat: tiny", {".bayat/deploy.yml": IMAGE_POLICY.format(namespace=namespace) + """build:
  static_analysis:
    - name: format
      run: "true"
    - name: lint
      run: 'echo "tiny.py:1: unused import" >&2; exit 4'
""", "Dockerfile": "FROM bayat/python-base:bookworm\n"})
    result = bayat("build", "--version", "1.0.0", cwd=repo.root)
    assert result.code == 1
    assert "static analysis failed (lint); nothing was built" in result.stdout
    report = evidence(repo.root)
    assert [f["title"] for f in report["findings"]] == [
        'static analysis `lint` failed (exit 4): echo "tiny.py:1: unused import" >&2; exit 4']
    assert report["artifacts"] == []
    assert [a["exit_code"] for a in report["details"]["static_analysis"]] == [0, 4]


@pytest.mark.parametrize("args, message", [
    (["--build-arg", "NOVALUE"], "argument --build-arg: 'NOVALUE' is not KEY=VALUE"),
    (["--only", "wheel"], "--only wheel: no artifact of that type or name in the policy"),
    (["--version", "1.0"], "--version: '1.0' is not a SemVer"),
])
def test_bad_input_is_exit_2(bayat, tmp_path, namespace, args, message):
    repo = GitRepo(tmp_path / "tiny")
    repo.commit("feat: tiny", {".bayat/deploy.yml": IMAGE_POLICY.format(namespace=namespace)})
    result = bayat("build", *args, cwd=repo.root)
    assert result.code == 2, result.stdout + result.stderr
    assert message in result.stderr


PACKAGES_POLICY = """project: tools
artifacts:
  - type: helm-chart
    name: hello-api
    path: chart
  - type: terraform-module
    name: network
    path: infra
  - type: os-package
    name: hello-agent
    path: package
  - type: npm-package
    name: hello-widget
    path: widget
registries:
  charts: {url: 127.0.0.1:5999/charts}
  modules: {url: "http://127.0.0.1:5999/modules"}
  os-packages: {url: "http://127.0.0.1:5999/os"}
  npm: {url: "http://127.0.0.1:5999/npm"}
"""


def packages_repo(root) -> GitRepo:
    import shutil

    from tests.support.example import EXAMPLE

    repo = GitRepo(root)
    shutil.copytree(EXAMPLE / "chart", root / "chart")
    repo.commit("feat: packages", {
        ".bayat/deploy.yml": PACKAGES_POLICY,
        "infra/main.tf": 'variable "cidr" {}\n',
        "infra/modules/subnet/main.tf": 'variable "zone" {}\n',
        "infra/terraform.tfstate": "{}\n",
        "infra/.terraform/providers/cache.bin": "cache\n",
        "package/DEBIAN/control": "Package: hello-agent\nVersion: 0.0.0\nArchitecture: all\n"
                                  "Maintainer: Platform <platform@example.com>\nDescription: example agent\n",
        "package/usr/share/hello-agent/README": "hello\n",
        "widget/package.json": json.dumps({"name": "hello-widget", "version": "2.1.0-rc.1", "main": "index.js"}),
        "widget/index.js": "module.exports = 1;\n",
    })
    return repo


def test_packages_are_built_into_dist(bayat, tmp_path):
    repo = packages_repo(tmp_path / "tools")
    result = bayat("build", "--version", "2.1.0-rc.1", cwd=repo.root, env=tools_env())
    assert result.code == 0, result.stdout + result.stderr
    dist = repo.root / ".bayat" / "dist"
    names = sorted(p.name for p in dist.iterdir())
    assert names == ["hello-agent_2.1.0~rc.1_all.deb", "hello-api-2.1.0-rc.1.tgz", "hello-widget-2.1.0-rc.1.tgz",
                     "network-2.1.0-rc.1.tar.gz"]

    chart = tarfile.open(dist / "hello-api-2.1.0-rc.1.tgz").extractfile("hello-api/Chart.yaml").read().decode()
    assert "version: 2.1.0-rc.1" in chart and "appVersion: 2.1.0-rc.1" in chart
    deb = subprocess.run(["dpkg-deb", "-f", str(dist / "hello-agent_2.1.0~rc.1_all.deb"), "Version"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert deb == "2.1.0~rc.1"
    with tarfile.open(dist / "network-2.1.0-rc.1.tar.gz") as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == ["main.tf", "modules", "modules/subnet", "modules/subnet/main.tf"]
    assert {m.mtime for m in members} == {0} and {m.uid for m in members} == {0}

    report = evidence(repo.root)
    digests = {a["reference"]: a["digest"] for a in report["artifacts"]}
    assert all(d.startswith("sha256:") for d in digests.values()) and len(digests) == 4

    # The module archive is reproducible: rebuilt later, byte for byte the same.
    again = bayat("build", "--version", "2.1.0-rc.1", "--only", "terraform-module", cwd=repo.root)
    assert again.code == 0, again.stdout + again.stderr
    assert evidence(repo.root)["artifacts"][0]["digest"] == digests[".bayat/dist/network-2.1.0-rc.1.tar.gz"]


def test_rpm_without_rpmbuild_says_what_to_install(bayat, tmp_path):
    from bayat_deploy.tools import find

    if find("rpmbuild"):
        pytest.skip("rpmbuild is installed here")
    repo = GitRepo(tmp_path / "rpm")
    repo.commit("feat: rpm", {".bayat/deploy.yml": "project: agent\nartifacts:\n  - type: os-package\n"
                                                   "    name: agent\n    format: rpm\n    path: package\n",
                              "package/agent.spec": "Name: agent\n"})
    result = bayat("build", "--version", "1.0.0", cwd=repo.root)
    assert result.code == 1
    assert "rpmbuild is not installed" in result.stdout


def test_a_failed_package_build_leaves_dist_as_it_was(bayat, tmp_path):
    repo = packages_repo(tmp_path / "tools")
    dist = repo.root / ".bayat" / "dist"
    dist.mkdir(parents=True)
    (dist / "earlier.tgz").write_text("from an earlier build\n")
    (repo.root / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: [not, a, name]\n")  # real helm refuses it
    result = bayat("build", "--version", "2.1.0", "--only", "helm-chart", cwd=repo.root, env=tools_env())
    assert result.code != 0, result.stdout + result.stderr
    assert "helm package failed" in result.stdout + result.stderr
    assert sorted(p.name for p in dist.iterdir()) == ["earlier.tgz"]  # no staging folder, no half-made chart
