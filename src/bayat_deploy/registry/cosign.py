"""cosign signatures, where the cosign binary is installed (signatures live in the registry itself).

Not exercised by the test-suite on this machine (no cosign here); the commands follow cosign 2.x:
signing with a key pair, without the public transparency log (private registries, offline runners).
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from pathlib import Path

from bayat_deploy import tools
from bayat_deploy.context import RunContext
from bayat_deploy.errors import BayatError
from bayat_deploy.policy.model.stages import Signing
from bayat_deploy.registry.credentials import Credentials
from bayat_deploy.registry.reference import ImageReference
from bayat_deploy.registry.signing import Verdict

COSIGN_HINT = "install cosign (https://docs.sigstore.dev/cosign/system_config/installation/) or use signing.method gpg"


class CosignSigning:
    def __init__(self, signing: Signing, root: Path, context: RunContext, *, insecure: bool,
                 credentials: Credentials | None):
        if not signing.key:
            raise BayatError("signing.method cosign needs signing.key (a cosign.key file or a KMS URI)")
        self.signing, self.root, self.context = signing, root, context
        self.insecure, self.credentials = insecure, credentials

    def ready(self) -> None:
        tools.require("cosign", COSIGN_HINT)

    def _key(self, key: str | None = None) -> str:
        key = key or self.signing.key
        return key if "://" in key else str((self.root / key).resolve())

    def _run(self, argv: list[str]) -> tuple[int, str]:
        tools.require("cosign", COSIGN_HINT)
        extra = {}
        if self.signing.passphrase is not None:
            from bayat_deploy.secrets import resolve

            extra["COSIGN_PASSWORD"] = resolve(self.signing.passphrase, self.context, what="signing.passphrase") or ""
        flags = ["--allow-http-registry", "--allow-insecure-registry"] if self.insecure else []
        with tempfile.TemporaryDirectory(prefix="bayat-cosign-") as config:
            if self.credentials:
                auth = base64.b64encode(f"{self.credentials.username}:{self.credentials.password}".encode()).decode()
                host = argv[-1].split("/", 1)[0]
                Path(config, "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
                os.chmod(Path(config, "config.json"), 0o600)
                extra["DOCKER_CONFIG"] = config
            proc = tools.run(["cosign", *argv[:-1], *flags, argv[-1]], env=self.context.tool_env(**extra), timeout=300)
        return proc.returncode, (proc.stderr or proc.stdout).strip()

    def sign(self, repository: ImageReference, digest: str) -> str:
        reference = str(repository.with_digest(digest))
        code, output = self._run(["sign", "--yes", "--tlog-upload=false", "--key", self._key(), reference])
        if code != 0:
            raise BayatError(f"cosign could not sign {reference}: {output.splitlines()[-1] if output else code}")
        return f"{repository.name}:sha256-{digest.split(':', 1)[1]}.sig"

    def sign_image(self, client, repository: ImageReference, digest: str, tags: list[str]) -> list[str]:
        return [self.sign(repository, digest)]

    def verify(self, reference: ImageReference, key: str | None) -> Verdict:
        code, output = self._run(["verify", "--insecure-ignore-tlog=true", "--key", self._key(key), str(reference)])
        if code == 0:
            return Verdict(True, f"cosign verified {reference}")
        return Verdict(False, output.splitlines()[-1] if output else f"cosign verify exited {code}")
