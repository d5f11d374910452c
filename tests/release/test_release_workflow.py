"""This repository's release workflow (.github/workflows/release.yml -> scripts/release), run under act.

Real parts: the workflow under act in host mode; the real docker-registry with htpasswd auth for the
image; pypiserver with htpasswd for the wheel and sdist; gpg signing with a key imported by the
workflow's own import step; a bare git repository as origin (fetches and pushes to the GitHub URL are
rewritten to it with git's `insteadOf`). GitHub's release API is not reachable here, so a local server
answers `repos/get-release-by-tag`, `repos/create-release` and `repos/upload-release-asset` in the shapes
GitHub documents (not validated against the OpenAPI description: no fragment of those operations is
vendored) and keeps what it was sent. PyPI's trusted publishing (the OIDC token exchange) is not run here:
the test gives pypiserver's user and password instead.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
import yaml

from tests.conftest import REPO
from tests.stages.test_publish_packages import PASSWORD, USER, pypi  # noqa: F401  (pytest fixture)
from tests.support.act import action_checkout, failures, job_results
from tests.support.gitrepo import GitRepo
from tests.support.gpgkeys import make_gpg_home
from tests.support.jsonserver import JsonServer
from tests.support.tools import tool

pytestmark = [pytest.mark.docker, pytest.mark.e2e]
REPOSITORY = "acme/deploy-action"


class FakeReleases(JsonServer):
    """GitHub's release endpoints; an asset upload arrives as raw bytes."""

    def __init__(self):
        super().__init__()
        self.releases: list[dict] = []
        self.assets: dict[str, bytes] = {}

    def answer(self, method, path, query, body, headers):
        if headers.get("Authorization") != "Bearer act-test-token":
            return 401, {"message": "Bad credentials"}
        base = f"/repos/{REPOSITORY}/releases"
        if method == "GET" and path.startswith(base + "/tags/"):
            found = [r for r in self.releases if r["tag_name"] == path.rsplit("/", 1)[1]]
            return (200, found[0]) if found else (404, {"message": "Not Found"})
        if method == "POST" and path == base:
            number = len(self.releases) + 1
            release = {**body, "id": number, "url": f"https://api.github.com{base}/{number}",
                       "html_url": f"https://github.com/{REPOSITORY}/releases/tag/{body['tag_name']}",
                       "upload_url": f"{self.url}/uploads{base}/{number}/assets{{?name,label}}", "assets": []}
            self.releases.append(release)
            return 201, release
        if method == "POST" and path.startswith(f"/uploads{base}/"):
            name = parse_qs(query)["name"][0]
            self.assets[name] = body  # the bytes, or the decoded JSON of a JSON file
            return 201, {"id": len(self.assets), "name": name, "state": "uploaded"}
        return 404, {"message": "Not Found"}


@pytest.fixture
def release_repo(tmp_path, registry, pypi):  # noqa: F811
    index_url, packages = pypi
    checkout = action_checkout(tmp_path / "deploy-action")
    policy_path = checkout / ".bayat" / "release.yml"
    policy = yaml.safe_load(policy_path.read_text())
    namespace = f"rel{uuid.uuid4().hex[:6]}"
    policy["artifacts"][1]["name"] = f"{namespace}/deploy-action"
    policy["registries"] = {
        "python": {"url": index_url, "username": "env:PYPI_USERNAME", "password": "env:PYPI_TOKEN"},
        "containers": {"url": registry.host, "insecure": True, "username": "env:REGISTRY_USERNAME",
                       "password": "env:REGISTRY_PASSWORD",
                       "signing": {"method": "gpg", "key": "releases@bayat.dev",
                                   "signature_store": str(tmp_path / "signatures")}},
    }
    policy_path.write_text(yaml.safe_dump(policy, sort_keys=False))
    repo = GitRepo(checkout)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    url = f"https://github.com/{REPOSITORY}.git"  # act names the repository after it
    repo.git("remote", "add", "origin", url)
    repo.git("config", f"url.{origin}.insteadOf", url)
    repo.commit("feat: the action pack")
    repo.git("push", "--quiet", "origin", "HEAD:refs/heads/main")
    signer = make_gpg_home("releases@bayat.dev")
    server = FakeReleases()
    yield {"repo": repo, "origin": origin, "packages": packages, "registry": registry, "namespace": namespace,
           "signer": signer, "github": server, "base": tmp_path}
    server.close()
    signer.remove()
    images = subprocess.run(["docker", "images", "-q", "--filter", f"reference={registry.host}/{namespace}/*"],
                            capture_output=True, text=True).stdout.split()
    if images:
        subprocess.run(["docker", "rmi", "-f", *set(images)], capture_output=True)


def act_release(ctx) -> subprocess.CompletedProcess:
    registry = ctx["registry"]
    secret_key = ctx["signer"].gpg("--armor", "--export-secret-keys", "releases@bayat.dev")
    (ctx["base"] / "secrets").write_text(f"RELEASE_SIGNING_KEY={json.dumps(secret_key)}\n"
                                         "GITHUB_TOKEN=act-test-token\n")
    config = Path.home() / ".config" / "pip" / "pip.conf"
    argv = [tool("act"), "workflow_dispatch", "-W", ".github/workflows/release.yml",
            "-P", "ubuntu-latest=-self-hosted", "--no-cache-server", "--artifact-server-addr", "127.0.0.1",
            "--secret-file", str(ctx["base"] / "secrets"),
            "--env", f"GITHUB_API_URL={ctx['github'].url}", "--env", f"GITHUB_REPOSITORY={REPOSITORY}",
            "--env", f"PYPI_USERNAME={USER}", "--env", f"PYPI_TOKEN={PASSWORD}",
            "--env", f"REGISTRY_USERNAME={registry.username}", "--env", f"REGISTRY_PASSWORD={registry.password}",
            "--env", f"RELEASE_BASE_IMAGE={os.environ.get('BAYAT_BASE_IMAGE', 'bayat/python-base:bookworm')}",
            *(["--env", f"PIP_CONFIG_FILE={config}"] if config.is_file() else [])]
    env = {**os.environ, "PATH": f"{REPO / '.tools' / 'bin'}:{os.environ['PATH']}"}
    proc = subprocess.run(argv, cwd=ctx["repo"].root, capture_output=True, text=True, env=env, timeout=1800)
    (ctx["base"] / f"act-release-{uuid.uuid4().hex[:4]}.log").write_text(proc.stdout + proc.stderr)
    return proc


def origin_git(ctx, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=ctx["origin"], capture_output=True, text=True, check=True).stdout.strip()


def test_the_release_workflow_publishes_tags_and_refuses_the_same_version_twice(release_repo):
    ctx = release_repo
    first = act_release(ctx)
    assert job_results(first.stdout) == {"release": "success"}, failures(first.stdout) + first.stderr[-3000:]

    # tags: v1.0.0 on the release commit, v1 and v1.0 moved to it; main untouched
    release_commit = origin_git(ctx, "rev-parse", "v1.0.0^{commit}")
    assert origin_git(ctx, "rev-parse", "v1^{commit}") == origin_git(ctx, "rev-parse", "v1.0^{commit}") \
        == release_commit
    assert origin_git(ctx, "cat-file", "-t", "refs/tags/v1.0.0") == "tag"  # annotated, by `version tag`
    assert origin_git(ctx, "log", "-1", "--format=%s", release_commit) == "chore(release): 1.0.0"
    assert origin_git(ctx, "rev-parse", f"{release_commit}^") == origin_git(ctx, "rev-parse", "main")
    files = origin_git(ctx, "ls-tree", "-r", "--name-only", release_commit).splitlines()
    assert "dist/DIST.json" in files and "dist/bayat-deploy" in files and "CHANGELOG.md" in files
    manifest = json.loads(origin_git(ctx, "show", f"{release_commit}:dist/DIST.json"))
    assert manifest["bayat_deploy"] == "1.0.0" and not [f for f in manifest["files"] if f.endswith(".so")]
    assert '__version__ = "1.0.0"' in origin_git(ctx, "show", f"{release_commit}:src/bayat_deploy/__init__.py")
    component = origin_git(ctx, "show", f"{release_commit}:templates/deploy.yml")
    pinned = re.search(r'image:\n      type: string\n      default: "([^"]+:1\.0\.0@sha256:[0-9a-f]{64})"', component)
    assert pinned, component[:3000]  # the components run in the image of this release, by digest
    assert 'package:\n      type: string\n      default: ""' in component  # ...and install nothing
    assert pinned[1] in origin_git(ctx, "show", f"{release_commit}:docs/gitlab.md")  # reference regenerated
    changelog = origin_git(ctx, "show", f"{release_commit}:CHANGELOG.md")
    assert changelog.startswith("# Changelog") and re.search(r"^## .*1\.0\.0", changelog, re.M), changelog[:400]

    # the wheel and sdist on the index, the image in the registry, signed
    assert sorted(p.name for p in ctx["packages"].iterdir()) == ["bayat_deploy-1.0.0-py3-none-any.whl",
                                                                  "bayat_deploy-1.0.0.tar.gz"]
    image = f"{ctx['namespace']}/deploy-action"
    assert "1.0.0" in ctx["registry"].tags(image)
    signatures = list((ctx["base"] / "signatures").rglob("signature-*"))
    assert signatures, "no simple-signing signature was written"

    # the GitHub release, with the notes and the assets
    (release,) = ctx["github"].releases
    assert (release["tag_name"], release["prerelease"], release["make_latest"]) == ("v1.0.0", False, "true")
    assert "1.0.0" in release["body"]
    assert {"bayat_deploy-1.0.0-py3-none-any.whl", "bayat_deploy-1.0.0.tar.gz", "DIST.json"} <= set(
        ctx["github"].assets), ctx["github"].assets
    wheel = ctx["packages"] / "bayat_deploy-1.0.0-py3-none-any.whl"
    assert ctx["github"].assets["bayat_deploy-1.0.0-py3-none-any.whl"] == wheel.read_bytes()
    assert ctx["github"].assets["DIST.json"] == manifest

    # the image's digest is stamped into the package: the published wheel generates GitLab pipelines that
    # run in the image of its release, and so does the tag's dist/
    stamp = json.loads(origin_git(ctx, "show", f"{release_commit}:src/bayat_deploy/release.json"))
    assert stamp == {"version": "1.0.0", "image": pinned[1]}
    assert any(f.endswith("bayat_deploy/release.json") for f in manifest["files"]), manifest["files"]
    site = ctx["base"] / "installed"
    with zipfile.ZipFile(wheel) as archive:
        assert json.loads(archive.read("bayat_deploy/release.json")) == stamp
        archive.extractall(site)
    app = ctx["base"] / "app"
    (app / ".bayat").mkdir(parents=True)
    (app / ".bayat" / "deploy.yml").write_text("project: app\n")
    generated = subprocess.run([sys.executable, "-m", "bayat_deploy.generate", "--platform", "gitlab", "--dir", str(app)],
                               capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(site)})
    assert generated.returncode == 0 and "note:" not in generated.stderr, generated.stderr
    assert f"image: {pinned[1]}" in (app / ".gitlab-ci.yml").read_text()

    # the image runs the released CLI with nothing installed
    pulled = subprocess.run(["docker", "run", "--rm", f"{ctx['registry'].host}/{image}:1.0.0", "bayat-deploy",
                             "--version"], capture_output=True, text=True, timeout=120)
    assert pulled.returncode == 0 and pulled.stdout.strip() == "bayat-deploy 1.0.0", pulled.stderr
    # ... and carries the tools the stages drive, at the versions release/tools.json pins
    lock = json.loads((REPO / "release" / "tools.json").read_text())
    probe = ("trivy --version; helm version --short; kubectl version --client; bandit --version; "
             "dpkg-query -W -f='${Package}=${Version}\\n' git gnupg skopeo")
    tools = subprocess.run(["docker", "run", "--rm", pinned[1], "sh", "-c", probe],
                           capture_output=True, text=True, timeout=120)
    assert tools.returncode == 0, tools.stderr
    for name in ("trivy", "helm", "kubectl", "bandit"):
        assert lock["tools"][name]["version"] in tools.stdout, (name, tools.stdout)
    for name, version in lock["debian"]["packages"].items():
        assert f"{name}={version}" in tools.stdout.splitlines(), tools.stdout

    # the same commit again: refused before anything is built; nothing changes
    second = act_release(ctx)
    assert job_results(second.stdout) == {"release": "failure"}
    assert "refused: 1.0.0 is released already (tag v1.0.0" in second.stdout
    assert origin_git(ctx, "rev-parse", "v1.0.0^{commit}") == release_commit
    assert len(ctx["github"].releases) == 1 and len(list(ctx["packages"].iterdir())) == 2
    assert requests.get(f"{ctx['registry'].url}/v2/", timeout=5).status_code == 401  # still behind auth
