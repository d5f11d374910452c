"""verify-signature: GPG simple signing with skopeo, signatures in the lookaside store."""

from __future__ import annotations

import json
import shutil

import pytest

from bayat_deploy.registry.client import RegistryClient
from tests.support.gpgkeys import make_gpg_home
from tests.support.imagerepo import BASE_IMAGE_ARG, credentials_env, example_repo, remove_images, unique_namespace

pytestmark = pytest.mark.docker
SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture
def gpg():
    home = make_gpg_home("signer@example.com", "other@example.com")
    yield home
    home.remove()


def push_unsigned(client: RegistryClient, repository: str, tag: str) -> str:
    """Other content under a new tag, put straight into the registry (as someone bypassing publish would)."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"x": tag}},
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    digest = client.upload_blob(repository, config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": SCHEMA2, "layers": [], "config": {
        "mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config), "digest": digest}})
    return client.put_manifest(repository, tag, manifest.encode(), SCHEMA2)


def test_verify_signature_says_why(bayat, registry, tmp_path, gpg):
    namespace = unique_namespace("sig")
    # The keyring comes from the policy here (no GNUPGHOME in the environment).
    repo = example_repo(tmp_path / "hello-api", registry, namespace,
                        signing=f"      key: signer@example.com\n      keyring: {gpg.path}\n")
    env = credentials_env(registry)
    image = f"{registry.host}/{namespace}/hello-api"
    try:
        assert bayat("build", "--version", "1.2.0", "--no-sbom", *BASE_IMAGE_ARG, cwd=repo.root, env=env).code == 0
        published = bayat("publish", cwd=repo.root, env=env)
        assert published.code == 0, published.stdout + published.stderr
    finally:
        remove_images(f"{registry.host}/{namespace}/")
    digest = json.loads((repo.root / ".bayat/evidence/publish.json").read_text())["details"]["published"][0]["digest"]
    signer = gpg.fingerprints["signer@example.com"]

    def verify(*args: str):
        return bayat("verify-signature", *args, cwd=repo.root, env=env)

    ok = verify("--image", f"{image}:1.2.0")
    assert ok.code == 0, ok.stdout + ok.stderr
    assert f"signed by {signer} for {image}:1.2.0" in ok.stdout

    by_digest = verify("--image", f"{image}@{digest}", "--key", signer)
    assert by_digest.code == 0, by_digest.stdout + by_digest.stderr

    wrong_key = verify("--image", f"{image}:1.2.0", "--key", "other@example.com")
    assert wrong_key.code == 1
    assert f"wrong key: signed by {signer}, expected {gpg.fingerprints['other@example.com']}" in wrong_key.stdout

    missing = verify("--image", f"{image}:9.9.9")
    assert missing.code == 1 and "does not exist in the registry" in missing.stdout

    # A signature copied next to other content does not vouch for it.
    client = RegistryClient(registry.host, username=registry.username, password=registry.password, insecure=True)
    other = push_unsigned(client, f"{namespace}/hello-api", "1.2.1")
    unsigned = verify("--image", f"{image}:1.2.1")
    assert unsigned.code == 1 and f"no signature for this digest ({other})" in unsigned.stdout
    store = repo.root / ".bayat" / "signatures" / namespace
    copied = store / f"hello-api@sha256={other.split(':')[1]}"
    copied.mkdir()
    shutil.copy(store / f"hello-api@sha256={digest.split(':')[1]}" / "signature-1", copied / "signature-1")
    forged = verify("--image", f"{image}:1.2.1")
    assert forged.code == 1
    assert "signature does not match the manifest" in forged.stdout

    report = json.loads((repo.root / ".bayat/evidence/signature.json").read_text())
    assert report["status"] == "fail" and report["details"]["digest"] == other


def test_verify_signature_needs_a_registry_of_the_policy(bayat, registry, tmp_path):
    repo = example_repo(tmp_path / "hello-api", registry, unique_namespace("sig"))
    result = bayat("verify-signature", "--image", "registry.example.org/team/app:1.0.0", cwd=repo.root)
    assert result.code == 2
    assert "no registry in the policy serves registry.example.org" in result.stderr
    assert bayat("verify-signature", "--image", "app:1.0.0", cwd=repo.root).code == 2
