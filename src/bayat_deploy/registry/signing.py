"""Image signatures: GPG "simple signing" with skopeo, kept in a lookaside store; cosign where installed.

Simple signing signs (manifest digest, docker reference) with a GPG key. The signatures are laid out as
containers/image reads them from a `registries.d` `lookaside` (sigstore) location:
`<store>/<repository path>@sha256=<hex>/signature-<n>`, so `podman`/`skopeo` with a signing policy can
verify the same images without this tool. A tag that later points at different content has a different
digest, and no signature exists for it: that is how tampering shows.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bayat_deploy import tools
from bayat_deploy.context import RunContext
from bayat_deploy.errors import BadInput, BayatError
from bayat_deploy.policy.model.stages import Signing
from bayat_deploy.registry.client import Manifest
from bayat_deploy.registry.reference import ImageReference

SKOPEO_HINT = "install skopeo (apt-get install skopeo) for GPG simple signing"
GPG_HINT = "install gnupg (apt-get install gnupg)"


@dataclass(frozen=True)
class Verdict:
    verified: bool
    reason: str
    signature: str | None = None
    identity: str | None = None


class SignatureStore:
    """The lookaside store: a directory (read and written) or an http(s) URL (read only)."""

    def __init__(self, location: str, root: Path):
        self.root = root.resolve()
        self.url = location.rstrip("/") if re.match(r"^https?://", location) else None
        self.directory = None if self.url else (self.root / os.path.expanduser(location)).resolve()

    def __str__(self) -> str:
        return self.url or str(self.directory)

    def folder(self, repository: ImageReference, digest: str) -> str:
        algorithm, hexdigest = digest.split(":", 1)
        return f"{repository.repository}@{algorithm}={hexdigest}"

    def read(self, repository: ImageReference, digest: str) -> list[tuple[str, bytes]]:
        """(location, bytes) of each signature-N for the digest, in order."""
        found = []
        if self.directory is not None:
            base = self.directory / self.folder(repository, digest)
            index = 1
            while (base / f"signature-{index}").is_file():
                found.append((self.shown(base / f"signature-{index}"), (base / f"signature-{index}").read_bytes()))
                index += 1
            return found
        import requests

        for index in range(1, 100):
            url = f"{self.url}/{self.folder(repository, digest)}/signature-{index}"
            try:
                response = requests.get(url, timeout=30)
            except requests.RequestException as exc:
                raise BayatError(f"signature store {self.url} is unreachable: {exc}") from None
            if response.status_code == 404:
                break
            if response.status_code != 200:
                raise BayatError(f"signature store answered {response.status_code} for {url}")
            found.append((url, response.content))
        return found

    def shown(self, path: Path) -> str:
        """A signature's path as evidence records it: relative to the repository when inside it."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def add(self, repository: ImageReference, digest: str, signature: bytes) -> str:
        if self.directory is None:
            raise BadInput(f"signature_store {self.url} is a URL, which publish cannot write to: keep signatures "
                           "in a directory and serve that directory at the URL (e.g. sync it to the web server)")
        base = self.directory / self.folder(repository, digest)
        base.mkdir(parents=True, exist_ok=True)
        index = 1
        while (base / f"signature-{index}").exists():
            index += 1
        target = base / f"signature-{index}"
        partial = base / f".signature-{index}.partial"
        partial.write_bytes(signature)
        partial.replace(target)
        return self.shown(target)


def signer_for(registry, root: Path, context: RunContext, credentials=None):
    """The signer a registry's `signing` asks for, or None for `method: none`."""
    method = registry.signing.method
    if method == "none":
        return None
    if method == "cosign":
        from bayat_deploy.registry.cosign import CosignSigning

        return CosignSigning(registry.signing, root, context, insecure=registry.insecure, credentials=credentials)
    return GpgSimpleSigning(registry.signing, root, context)


class GpgSimpleSigning:
    def __init__(self, signing: Signing, root: Path, context: RunContext):
        self.signing, self.root, self.context = signing, root, context
        self.store = SignatureStore(signing.signature_store, root)
        home = signing.keyring or context.get("GNUPGHOME")
        self.home = str((root / os.path.expanduser(home)).resolve()) if home else None
        self.env = context.tool_env(**({"GNUPGHOME": self.home} if self.home else {}))

    # -- keys ---------------------------------------------------------------------------------------
    def fingerprint(self, key: str | None, *, secret: bool) -> str:
        """The full fingerprint of `key` (fingerprint, key id, e-mail) or of the first key in the keyring."""
        tools.require("gpg", GPG_HINT)
        listing = "--list-secret-keys" if secret else "--list-keys"
        proc = tools.run(["gpg", "--batch", "--with-colons", listing, *([key] if key else [])], env=self.env,
                         timeout=30)
        fingerprints = [line.split(":")[9] for line in proc.stdout.splitlines() if line.startswith("fpr:")]
        where = f"GPG home {self.home}" if self.home else "the default GPG home (set GNUPGHOME or signing.keyring)"
        if proc.returncode != 0 or not fingerprints:
            kind = "secret key" if secret else "public key"
            wanted = f"{kind} {key!r}" if key else f"{kind}"
            raise BayatError(f"no {wanted} in {where}; import it (gpg --import) or set registries.<name>.signing.key")
        return fingerprints[0]

    def _passphrase_args(self, scratch: "_Scratch") -> list[str]:
        if self.signing.passphrase is None:
            return []
        from bayat_deploy.secrets import resolve

        value = resolve(self.signing.passphrase, self.context, what="signing.passphrase")
        if not value:
            raise BayatError(f"signing.passphrase ({self.signing.passphrase}) resolves to nothing")
        return ["--passphrase-file", scratch.write(value.encode())]

    def ready(self) -> None:
        """Fail before anything is pushed when signing could not work (no skopeo, no key)."""
        tools.require("skopeo", SKOPEO_HINT)
        self.fingerprint(self.signing.key, secret=True)

    # -- signing ------------------------------------------------------------------------------------
    def sign(self, manifest: Manifest, references: list[ImageReference]) -> list[str]:
        """Sign the manifest for each reference; an existing valid signature is reused. Returns the paths."""
        tools.require("skopeo", SKOPEO_HINT)
        fingerprint = self.fingerprint(self.signing.key, secret=True)
        repository = references[0]
        existing = self.store.read(repository, manifest.digest)
        paths = []
        with _Scratch() as scratch:
            manifest_file = scratch.write(manifest.body)
            for reference in references:
                reused = next((where for where, blob in existing
                               if self._check(manifest_file, str(reference), fingerprint, blob, scratch)[0]), None)
                if reused:
                    paths.append(reused)
                    continue
                output = scratch.path()
                proc = tools.run(["skopeo", "standalone-sign", *self._passphrase_args(scratch), manifest_file,
                                  str(reference), fingerprint, "--output", output], env=self.env, timeout=120)
                if proc.returncode != 0:
                    raise BayatError(f"skopeo could not sign {reference}: {_skopeo_message(proc.stderr)}")
                paths.append(self.store.add(repository, manifest.digest, Path(output).read_bytes()))
        return paths

    def sign_image(self, client, repository: ImageReference, digest: str, tags: list[str]) -> list[str]:
        manifest = client.manifest(repository.repository, digest)
        if manifest is None:
            raise BayatError(f"{repository.name}@{digest} vanished from the registry before it was signed")
        return self.sign(manifest, [repository.with_tag(tag) for tag in tags])

    # -- verifying ----------------------------------------------------------------------------------
    def verify(self, manifest: Manifest, reference: ImageReference, fingerprint: str) -> Verdict:
        """Is there a signature by `fingerprint` for this manifest and this reference (or, for a digest
        reference, for any tag of the same repository)?"""
        tools.require("skopeo", SKOPEO_HINT)
        signatures = self.store.read(reference, manifest.digest)
        if not signatures:
            return Verdict(False, f"no signature for this digest ({manifest.digest}) in {self.store}: the content "
                                  f"behind {reference} was not signed (was it pushed by other means?)")
        reasons = []
        with _Scratch() as scratch:
            manifest_file = scratch.write(manifest.body)
            for where, blob in signatures:
                identity = str(reference) if reference.tag else self._claimed_identity(blob, scratch)
                if identity is None or not identity.startswith(reference.name + ":"):
                    reasons.append(f"signed for {identity}, not for {reference.name}")
                    continue
                ok, reason = self._check(manifest_file, identity, fingerprint, blob, scratch)
                if ok:
                    return Verdict(True, f"signed by {fingerprint} for {identity}", where, identity)
                reasons.append(reason)
        unique = list(dict.fromkeys(reasons))
        return Verdict(False, f"none of the {len(signatures)} signature(s) for {manifest.digest} in {self.store} "
                              f"is valid: " + "; ".join(unique))

    def _check(self, manifest_file: str, identity: str, fingerprint: str, blob: bytes,
               scratch: "_Scratch") -> tuple[bool, str]:
        proc = tools.run(["skopeo", "standalone-verify", manifest_file, identity, fingerprint, scratch.write(blob)],
                         env=self.env, timeout=60)
        if proc.returncode == 0:
            return True, "verified"
        return False, _skopeo_message(proc.stderr)

    def _claimed_identity(self, blob: bytes, scratch: "_Scratch") -> str | None:
        """The docker reference a signature claims (read without trusting it; skopeo checks it after)."""
        proc = tools.run(["gpg", "--batch", "--quiet", "--decrypt", scratch.write(blob)], env=self.env, timeout=30)
        try:
            return json.loads(proc.stdout)["critical"]["identity"]["docker-reference"]
        except (ValueError, KeyError, TypeError):
            return None


class _Scratch:
    """A private temporary directory for manifests, signatures and passphrase files, removed afterwards."""

    def __enter__(self) -> "_Scratch":
        self._dir = tempfile.TemporaryDirectory(prefix="bayat-sign-")
        self._count = 0
        return self

    def __exit__(self, *exc) -> None:
        self._dir.cleanup()

    def path(self) -> str:
        self._count += 1
        return os.path.join(self._dir.name, f"f{self._count}")

    def write(self, data: bytes) -> str:
        path = self.path()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return path


def _skopeo_message(stderr: str) -> str:
    """skopeo's reason in plain words: the wrong key, the wrong reference, or a different manifest."""
    text = stderr.strip().splitlines()[-1] if stderr.strip() else "skopeo failed without a message"
    match = re.search(r'msg="(.*)"', text)
    message = match.group(1).replace('\\"', '"') if match else text
    message = message.removeprefix("Error verifying signature: ")
    wrong_key = re.search(r"Signature by (\w+) does not match expected fingerprint (\w+)", message)
    if wrong_key:
        return f"wrong key: signed by {wrong_key[1]}, expected {wrong_key[2]}"
    wrong_ref = re.search(r"Docker reference (\S+) does not match (\S+)", message)
    if wrong_ref:
        return f"signature is for {wrong_ref[1]}, not {wrong_ref[2]}"
    if "does not match" in message and "digest" in message:
        return "signature does not match the manifest (it was made for other content)"
    return message
