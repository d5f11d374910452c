"""publish against the real docker-registry with htpasswd auth: the bundled example end to end,
immutability, idempotency, missing credentials, retries."""

from __future__ import annotations

import io
import json

import pytest

from bayat_deploy.registry.client import RegistryClient
from tests.support.gpgkeys import make_gpg_home
from tests.support.imagerepo import (BASE_IMAGE_ARG, credentials_env, example_repo, remove_images,
                                     unique_namespace)
from tests.support.registry import free_port

pytestmark = pytest.mark.docker


@pytest.fixture
def gpg():
    home = make_gpg_home("signer@example.com")
    yield home
    home.remove()


@pytest.fixture
def namespace(registry):
    name = unique_namespace("pub")
    yield name
    remove_images(f"{registry.host}/{name}/")


def client_for(registry) -> RegistryClient:
    return RegistryClient(registry.host, username=registry.username, password=registry.password, insecure=True)


def evidence(root, stage):
    return json.loads((root / ".bayat" / "evidence" / f"{stage}.json").read_text())


def test_example_builds_publishes_signs_and_tampering_fails_verification(bayat, registry, tmp_path, gpg, namespace):
    repo = example_repo(tmp_path / "hello-api", registry, namespace, signing="      key: signer@example.com\n")
    repo.git("remote", "add", "origin", "https://git.example.com/bayat/hello-api.git")
    env = {**credentials_env(registry), **gpg.env}
    image = f"{registry.host}/{namespace}/hello-api"

    built = bayat("build", "--version", "1.0.0", *BASE_IMAGE_ARG, cwd=repo.root, env=env)
    assert built.code == 0, built.stdout + built.stderr
    assert "build: passed" in built.stdout
    sbom = json.loads((repo.root / ".bayat" / "reports" / "sbom-hello-api.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX" and sbom["components"]
    assert not (repo.root / "version.json").exists(), "the version file written for the build must be removed"

    published = bayat("publish", cwd=repo.root, env=env)
    assert published.code == 0, published.stdout + published.stderr
    assert registry.tags(f"{namespace}/hello-api") == sorted(["1.0.0", "1.0", "1", "latest", f"sha-{repo.head[:7]}"])

    # The labels, read from the image configuration in the registry.
    client = client_for(registry)
    manifest = client.manifest(f"{namespace}/hello-api", "1.0.0")
    labels = client.config(f"{namespace}/hello-api", manifest)["config"]["Labels"]
    assert labels["org.opencontainers.image.version"] == "1.0.0"
    assert labels["org.opencontainers.image.revision"] == repo.head
    assert labels["org.opencontainers.image.source"] == "https://git.example.com/bayat/hello-api.git"
    assert labels["org.opencontainers.image.title"] == "hello-api"
    assert labels["org.opencontainers.image.created"].endswith("Z")
    assert labels["io.bayat.branch"] == "main"

    report = evidence(repo.root, "publish")
    assert report["status"] == "pass"
    [pushed] = report["details"]["published"]
    assert pushed["digest"] == manifest.digest and pushed["image"] == f"{image}@{manifest.digest}"
    assert pushed["signatures"] and all((repo.root / p).is_file() for p in pushed["signatures"])
    store = repo.root / ".bayat" / "signatures" / namespace / f"hello-api@sha256={manifest.digest.split(':')[1]}"
    assert sorted(p.name for p in store.iterdir()) == [f"signature-{n}" for n in range(1, 6)]

    verified = bayat("verify-signature", "--image", f"{image}:1.0.0", cwd=repo.root, env=env)
    assert verified.code == 0, verified.stdout + verified.stderr
    assert evidence(repo.root, "signature")["details"]["verified"] is True

    # Tamper: push other content under the same tag by hand, with the Docker SDK.
    import docker

    engine = docker.from_env()
    dockerfile = f"FROM {image}:1.0.0\nLABEL tampered=yes\n".encode()
    engine.images.build(fileobj=io.BytesIO(dockerfile), tag=f"{image}:1.0.0", rm=True)
    for _ in engine.api.push(image, tag="1.0.0", stream=True, decode=True,
                             auth_config={"username": registry.username, "password": registry.password}):
        pass
    assert client.manifest(f"{namespace}/hello-api", "1.0.0").digest != manifest.digest

    tampered = bayat("verify-signature", "--image", f"{image}:1.0.0", cwd=repo.root, env=env)
    assert tampered.code == 1, tampered.stdout + tampered.stderr
    assert "NOT verified" in tampered.stdout and "no signature for this digest" in tampered.stdout
    assert evidence(repo.root, "signature")["status"] == "fail"
    # The untouched tags still verify.
    assert bayat("verify-signature", "--image", f"{image}:sha-{repo.head[:7]}", cwd=repo.root, env=env).code == 0


def test_a_version_is_published_once_identical_content_is_skipped(bayat, registry, tmp_path, gpg, namespace):
    repo = example_repo(tmp_path / "hello-api", registry, namespace, signing="      key: signer@example.com\n")
    env = {**credentials_env(registry), **gpg.env}
    repository = f"{namespace}/hello-api"
    assert bayat("build", "--version", "2.0.0", "--no-sbom", *BASE_IMAGE_ARG, cwd=repo.root, env=env).code == 0
    first = bayat("publish", cwd=repo.root, env=env)
    assert first.code == 0, first.stdout + first.stderr
    digest = client_for(registry).manifest(repository, "2.0.0").digest

    again = bayat("publish", "--version", "2.0.0", cwd=repo.root, env=env)
    assert again.code == 0, again.stdout + again.stderr
    assert "0 pushed, 5 already there (same content)" in again.stdout
    assert evidence(repo.root, "publish")["details"]["published"][0]["digest"] == digest

    # Same version, different content: refused before anything is pushed.
    repo.commit("fix: greet differently", {"app/hello_api/greeting.txt": "changed\n"})
    assert bayat("build", "--version", "2.0.0", "--no-sbom", *BASE_IMAGE_ARG, cwd=repo.root, env=env).code == 0
    conflict = bayat("publish", cwd=repo.root, env=env)
    assert conflict.code == 1, conflict.stdout + conflict.stderr
    assert (f"{registry.host}/{repository}:2.0.0 already exists with different content ({digest}); "
            "versions are immutable") in conflict.stdout
    assert "nothing was pushed" in conflict.stdout
    assert f"sha-{repo.head[:7]}" not in registry.tags(repository)
    assert client_for(registry).manifest(repository, "latest").digest == digest
    report = evidence(repo.root, "publish")
    assert report["status"] == "fail" and report["findings"][0]["id"] == "publish/immutable/hello-api:2.0.0"


def test_publish_needs_a_build_first(bayat, registry, tmp_path, namespace):
    repo = example_repo(tmp_path / "hello-api", registry, namespace)
    result = bayat("publish", cwd=repo.root, env=credentials_env(registry))
    assert result.code == 2
    assert "run `bayat-deploy build` first" in result.stderr


def test_no_anonymous_push_and_retries_when_the_registry_is_down(bayat, registry, tmp_path, namespace):
    repo = example_repo(tmp_path / "hello-api", registry, namespace, signing="      method: none\n")
    policy = repo.root / ".bayat" / "deploy.yml"
    closed = f"127.0.0.1:{free_port()}"
    policy.write_text(policy.read_text().replace(registry.host, closed))
    assert bayat("build", "--version", "1.0.0", "--no-sbom", *BASE_IMAGE_ARG, cwd=repo.root).code == 0
    try:
        refused = bayat("publish", cwd=repo.root, env={"REGISTRY_USERNAME": "", "REGISTRY_PASSWORD": ""})
        assert refused.code == 1
        assert f"registry 'containers' ({closed}/{namespace}) requires authentication" in refused.stdout
        assert "set REGISTRY_USERNAME and REGISTRY_PASSWORD" in refused.stdout
        assert "Refusing to push anonymously" in refused.stdout
        assert "retrying" not in refused.stdout, "without credentials nothing may be attempted"

        down = bayat("publish", "--retries", "2", cwd=repo.root, env=credentials_env(registry))
        assert down.code == 1
        assert "retrying in 1s (attempt 2 of 2)" in down.stdout
        assert "failed after 2 attempt(s)" in down.stdout and "cannot reach the registry" in down.stdout
    finally:
        remove_images(f"{closed}/")


def test_an_image_built_in_another_job_travels_as_an_archive(bayat, registry, tmp_path, gpg, namespace, trivy_cache):
    # On CI the build, scan and publish jobs run on different machines: the publish job's engine has
    # never seen the image. `build --save-images` leaves an archive; scan and publish load it back.
    repo = example_repo(tmp_path / "hello-api", registry, namespace, signing="      key: signer@example.com\n")
    env = {**credentials_env(registry), **gpg.env}
    built = bayat("build", "--version", "2.0.0", "--save-images", *BASE_IMAGE_ARG, cwd=repo.root, env=env)
    assert built.code == 0, built.stdout + built.stderr
    [record] = evidence(repo.root, "build")["details"]["images"]
    assert (repo.root / record["archive"]).is_file()
    remove_images(f"{registry.host}/{namespace}/")  # a fresh engine, as on the next job's machine
    scanned = bayat("scan", "--cache-dir", str(trivy_cache), cwd=repo.root, env=env)
    assert f"{registry.host}/{namespace}/hello-api:2.0.0" in json.dumps(evidence(repo.root, "scan")["details"])
    assert "is not in this Docker engine" not in scanned.stdout + scanned.stderr
    remove_images(f"{registry.host}/{namespace}/")
    published = bayat("publish", cwd=repo.root, env=env)
    assert published.code == 0, published.stdout + published.stderr
    assert "loaded " in published.stdout and "2.0.0" in registry.tags(f"{namespace}/hello-api")
