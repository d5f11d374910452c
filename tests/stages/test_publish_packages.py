"""publish for packages: a Helm chart to the OCI registry, Terraform module and deb files to a generic
file registry (nginx WebDAV with basic auth), Python distributions to pypiserver with twine, npm
packages to verdaccio (installed by scripts/setup)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from bayat_deploy.registry.client import RegistryClient
from tests.support.gitrepo import GitRepo
from tests.support.example import EXAMPLE
from tests.support.imagerepo import credentials_env, tools_env, unique_namespace
from tests.support.registry import free_port

USER, PASSWORD = "uploader", "pa55-for-tests"


def evidence(root, stage="publish"):
    return json.loads((root / ".bayat" / "evidence" / f"{stage}.json").read_text())


def wait_for(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{url} did not come up:\n{log.read_text() if log.exists() else ''}")


def htpasswd(path: Path) -> None:
    hashed = subprocess.run(["htpasswd", "-mbn", USER, PASSWORD], capture_output=True, text=True, check=True).stdout
    path.write_text(hashed)


@pytest.fixture
def file_registry(tmp_path):
    """nginx serving a directory, PUT enabled (WebDAV), basic auth: a generic file registry."""
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed")
    root = tmp_path / "nginx"
    (root / "files").mkdir(parents=True)
    (root / "tmp").mkdir()
    htpasswd(root / "htpasswd")
    port = free_port()
    import os

    user = "user root;" if os.geteuid() == 0 else ""
    temp = " ".join(f"{kind}_temp_path {root}/tmp/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                         "scgi"))
    (root / "nginx.conf").write_text(f"""{user}
daemon off; worker_processes 1; pid {root}/nginx.pid; error_log {root}/error.log;
events {{}}
http {{
  access_log off; {temp}
  server {{
    listen 127.0.0.1:{port};
    root {root}/files;
    location / {{
      auth_basic "bayat-test"; auth_basic_user_file {root}/htpasswd;
      dav_methods PUT; create_full_put_path on; client_max_body_size 50m;
    }}
  }}
}}
""")
    process = subprocess.Popen(["nginx", "-c", str(root / "nginx.conf"), "-p", str(root),
                                "-e", str(root / "error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_for(f"http://127.0.0.1:{port}/", process, root / "error.log")
    yield f"http://127.0.0.1:{port}", root / "files"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def pypi(tmp_path):
    """pypiserver on loopback; uploads, listing and downloads need the htpasswd user."""
    pytest.importorskip("pypiserver")
    from bayat_deploy.tools import find

    if find("pypi-server") is None or find("twine") is None:
        pytest.skip("pypiserver / twine are not installed (pip install pypiserver passlib twine)")
    root = tmp_path / "pypi"
    (root / "packages").mkdir(parents=True)
    htpasswd(root / "htpasswd")
    port = free_port()
    log = root / "server.log"
    process = subprocess.Popen([find("pypi-server"), "run", "-i", "127.0.0.1", "-p", str(port), "-P",
                                str(root / "htpasswd"), "-a", "update,download,list", str(root / "packages")],
                               stdout=log.open("w"), stderr=subprocess.STDOUT)
    wait_for(f"http://127.0.0.1:{port}/", process, log)
    yield f"http://127.0.0.1:{port}", root / "packages"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def npm_registry(tmp_path):
    """verdaccio on loopback with htpasswd users only (no registration, no uplinks)."""
    verdaccio = shutil.which("verdaccio", path=tools_env()["PATH"])
    assert verdaccio, "verdaccio is installed by scripts/setup (npm, under .tools)"
    root = tmp_path / "verdaccio"
    root.mkdir()
    htpasswd(root / "htpasswd")
    port = free_port()
    (root / "config.yaml").write_text(f"""storage: {root}/storage
auth:
  htpasswd: {{file: {root}/htpasswd, max_users: -1}}
uplinks: {{}}
packages:
  '**': {{access: $authenticated, publish: $authenticated, unpublish: $authenticated}}
listen: 127.0.0.1:{port}
log: {{type: stdout, format: pretty, level: error}}
""")
    log = root / "server.log"
    process = subprocess.Popen([verdaccio, "--config", str(root / "config.yaml")], stdout=log.open("w"),
                               stderr=subprocess.STDOUT)
    wait_for(f"http://127.0.0.1:{port}/-/ping", process, log)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def package_env() -> dict[str, str]:
    return {"UPLOAD_USER": USER, "UPLOAD_PASSWORD": PASSWORD, **tools_env()}


def test_helm_chart_goes_to_the_oci_registry_once(bayat, registry, tmp_path):
    namespace = unique_namespace("charts")
    repo = GitRepo(tmp_path / "charts")
    shutil.copytree(EXAMPLE / "chart", repo.root / "chart")
    repo.commit("feat: chart", {".bayat/deploy.yml": f"""project: hello-api
artifacts:
  - {{type: helm-chart, name: hello-api, path: chart}}
registries:
  charts: {{url: "{registry.host}/{namespace}", insecure: true}}
"""})
    env = {**credentials_env(registry), **tools_env()}
    assert bayat("build", "--version", "1.4.0", cwd=repo.root, env=env).code == 0
    published = bayat("publish", cwd=repo.root, env=env)
    assert published.code == 0, published.stdout + published.stderr
    assert registry.tags(f"{namespace}/hello-api") == ["1.4.0"]
    client = RegistryClient(registry.host, username=registry.username, password=registry.password, insecure=True)
    chart = repo.root / ".bayat" / "dist" / "hello-api-1.4.0.tgz"
    from bayat_deploy.registry.client import sha256_digest

    assert sha256_digest(chart.read_bytes()) in client.manifest(f"{namespace}/hello-api", "1.4.0").layer_digests

    again = bayat("publish", cwd=repo.root, env=env)
    assert again.code == 0 and "0 pushed, 1 already there" in again.stdout

    (repo.root / "chart" / "values.yaml").write_text((repo.root / "chart" / "values.yaml").read_text() + "\n# x\n")
    assert bayat("build", "--version", "1.4.0", cwd=repo.root, env=env).code == 0
    conflict = bayat("publish", cwd=repo.root, env=env)
    assert conflict.code == 1
    assert (f"oci://{registry.host}/{namespace}/hello-api:1.4.0 already exists with different content; "
            "versions are immutable") in conflict.stdout


def test_module_archives_and_debs_go_to_a_generic_file_registry(bayat, tmp_path, file_registry):
    url, served = file_registry
    repo = GitRepo(tmp_path / "infra")
    repo.commit("feat: infra", {
        ".bayat/deploy.yml": f"""project: network
artifacts:
  - {{type: terraform-module, name: network, path: infra}}
  - {{type: os-package, name: hello-agent, path: package}}
registries:
  modules: {{url: "{url}/modules", username: "env:UPLOAD_USER", password: "env:UPLOAD_PASSWORD"}}
  os-packages: {{url: "{url}/os", username: "env:UPLOAD_USER", password: "env:UPLOAD_PASSWORD"}}
""",
        "infra/main.tf": 'variable "cidr" {}\n',
        "package/DEBIAN/control": "Package: hello-agent\nVersion: 0.0.0\nArchitecture: all\n"
                                  "Maintainer: Platform <platform@example.com>\nDescription: agent\n"})
    env = package_env()
    assert bayat("build", "--version", "0.4.0", cwd=repo.root, env=env).code == 0
    published = bayat("publish", cwd=repo.root, env=env)
    assert published.code == 0, published.stdout + published.stderr
    dist = repo.root / ".bayat" / "dist"
    assert (served / "modules/network/0.4.0/network-0.4.0.tar.gz").read_bytes() == (
        dist / "network-0.4.0.tar.gz").read_bytes()
    assert (served / "os/hello-agent/0.4.0/hello-agent_0.4.0_all.deb").is_file()

    # Rebuilt unchanged: the module archive is reproducible, so publishing again is a no-op.
    assert bayat("build", "--version", "0.4.0", "--only", "terraform-module", cwd=repo.root, env=env).code == 0
    again = bayat("publish", cwd=repo.root, env=env)
    assert again.code == 0 and "0 pushed, 1 already there" in again.stdout

    (repo.root / "infra" / "main.tf").write_text('variable "cidr" { default = "10.0.0.0/16" }\n')
    assert bayat("build", "--version", "0.4.0", "--only", "network", cwd=repo.root, env=env).code == 0
    conflict = bayat("publish", cwd=repo.root, env=env)
    assert conflict.code == 1
    assert f"{url}/modules/network/0.4.0/network-0.4.0.tar.gz already exists with different content" in conflict.stdout

    wrong = bayat("publish", cwd=repo.root, env={**env, "UPLOAD_PASSWORD": "nope"})
    assert wrong.code == 1 and "refused the credentials (401)" in wrong.stdout


def test_python_distributions_go_to_a_package_index(bayat, tmp_path, pypi):
    url, served = pypi
    repo = GitRepo(tmp_path / "lib")
    repo.commit("feat: lib", {
        ".bayat/deploy.yml": f"""project: hello-lib
artifacts:
  - {{type: python-package, name: hello-lib, path: .}}
registries:
  python: {{url: "{url}/", username: "env:UPLOAD_USER", password: "env:UPLOAD_PASSWORD"}}
""",
        "pyproject.toml": '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
                          '[project]\nname = "hello-lib"\nversion = "0.3.0"\n\n[tool.setuptools]\n'
                          'py-modules = ["hello_lib"]\n',
        "hello_lib.py": "GREETING = 'hello'\n"})
    env = package_env()
    built = bayat("build", "--version", "0.3.0", cwd=repo.root, env=env, timeout=300)
    assert built.code == 0, built.stdout + built.stderr
    published = bayat("publish", cwd=repo.root, env=env)
    assert published.code == 0, published.stdout + published.stderr
    assert sorted(p.name for p in served.iterdir()) == ["hello_lib-0.3.0-py3-none-any.whl", "hello_lib-0.3.0.tar.gz"]

    again = bayat("publish", cwd=repo.root, env=env)
    assert again.code == 0 and "0 pushed, 2 already there" in again.stdout

    without = bayat("publish", cwd=repo.root, env={"UPLOAD_USER": "", "UPLOAD_PASSWORD": ""})
    assert without.code == 1 and "set UPLOAD_USER and UPLOAD_PASSWORD" in without.stdout


def test_npm_packages_go_to_an_npm_registry(bayat, tmp_path, npm_registry):
    repo = GitRepo(tmp_path / "widget")
    repo.commit("feat: widget", {
        ".bayat/deploy.yml": f"""project: widget
artifacts:
  - {{type: npm-package, name: hello-widget, path: widget}}
registries:
  npm: {{url: "{npm_registry}", username: "env:UPLOAD_USER", password: "env:UPLOAD_PASSWORD"}}
""",
        "widget/package.json": json.dumps({"name": "hello-widget", "version": "2.1.0", "main": "index.js"}),
        "widget/index.js": "module.exports = 1;\n"})
    env = package_env()
    assert bayat("build", "--version", "2.1.0", cwd=repo.root, env=env).code == 0
    published = bayat("publish", cwd=repo.root, env=env)
    assert published.code == 0, published.stdout + published.stderr
    metadata = requests.get(f"{npm_registry}/hello-widget", auth=(USER, PASSWORD), timeout=10).json()
    assert list(metadata["versions"]) == ["2.1.0"]

    again = bayat("publish", cwd=repo.root, env=env)
    assert again.code == 0 and "0 pushed, 1 already there" in again.stdout

    (repo.root / "widget" / "index.js").write_text("module.exports = 2;\n")
    assert bayat("build", "--version", "2.1.0", cwd=repo.root, env=env).code == 0
    conflict = bayat("publish", cwd=repo.root, env=env)
    assert conflict.code == 1 and "hello-widget@2.1.0 already exists with different content" in conflict.stdout
