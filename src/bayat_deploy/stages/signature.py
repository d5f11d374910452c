"""`bayat-deploy verify-signature --image REF`: does the content REF names now carry a valid signature?

The manifest is fetched from the registry as it is *now* (authenticated with the policy's
credentials for that registry), its digest computed, and the signature for that digest looked up
and checked for the expected key and identity. Pushing other content under the same tag changes the
digest, so verification fails.
"""

from __future__ import annotations

import re

from bayat_deploy import argtypes
from bayat_deploy.errors import BadInput, BayatError
from bayat_deploy.session import open_session


def configure(parser) -> None:
    parser.add_argument("--image", required=True, type=argtypes.image, metavar="REF",
                        help="image to verify: registry-host[:port]/path/name:tag (or @sha256:...)")
    parser.add_argument("--key", metavar="FPR", type=argtypes.text,
                        help="expected signer: GPG fingerprint, key id or e-mail (cosign: public key file); "
                             "default: the registry's signing.key")
    parser.set_defaults(handler=handle)


def registry_for(policy, reference) -> tuple[str, object]:
    """The policy's registry entry serving this reference (the longest matching URL wins)."""
    from bayat_deploy.registry.reference import split_registry_url

    best = None
    for name, registry in policy.registries.items():
        host, prefix = split_registry_url(registry.url)
        if host != reference.host or (prefix and not reference.repository.startswith(prefix + "/")):
            continue
        if best is None or len(prefix) > best[0]:
            best = (len(prefix), name, registry)
    if best is None:
        known = ", ".join(f"{n} ({r.url})" for n, r in policy.registries.items()) or "none"
        raise BadInput(f"--image {reference}: no registry in the policy serves {reference.host} (registries: {known}); "
                       "verification needs its credentials and signing settings")
    return best[1], best[2]


def handle(args) -> int:
    from bayat_deploy.registry.client import RegistryClient
    from bayat_deploy.registry.credentials import read_credentials
    from bayat_deploy.registry.reference import ImageReference
    from bayat_deploy.registry.signing import Verdict, signer_for
    from bayat_deploy.stages.run import StageRun

    session = open_session(args)
    reference = ImageReference.parse(args.image)
    if not reference.tag and not reference.digest:
        raise BadInput(f"--image {args.image}: name a tag or a digest (name:tag or name@sha256:...)")
    name, registry = registry_for(session.policy, reference)
    credentials = read_credentials(name, registry, session.context)
    run = StageRun(session, "signature", inputs={"image": str(reference), "key": args.key, "registry": name,
                                                  "method": registry.signing.method})
    client = RegistryClient(reference.host, username=credentials.username if credentials else None,
                            password=credentials.password if credentials else None, insecure=registry.insecure)
    signer = signer_for(registry, session.root, session.context, credentials)
    try:
        manifest = client.manifest(reference.repository, reference.digest or reference.tag)
        if manifest is None:
            verdict, expected = Verdict(False, f"{reference} does not exist in the registry"), None
        elif signer is None:
            verdict, expected = Verdict(False, f"registry {name!r} has signing.method none: nothing is signed"), None
        elif registry.signing.method == "cosign":
            expected = args.key or registry.signing.key
            verdict = signer.verify(reference, args.key)
        else:
            expected = _fingerprint(signer, args.key or registry.signing.key)
            verdict = signer.verify(manifest, reference, expected)
    except BayatError as exc:
        hint = "" if credentials else (f" (no credentials: set the variables registries.{name}.username/password "
                                       f"refer to)")
        verdict, expected, manifest = Verdict(False, f"{exc}{hint}"), None, None
    digest = manifest.digest if manifest else None
    run.details.update(image=str(reference), digest=digest, verified=verdict.verified, reason=verdict.reason,
                       signature=verdict.signature, identity=verdict.identity, key=expected,
                       method=registry.signing.method)
    run.output("verified", "true" if verdict.verified else "false")
    if digest:
        run.output("digest", digest)
    if verdict.verified:
        run.artifact(type="signature", name=reference.repository, reference=f"{reference.name}@{digest}",
                     digest=digest, path=verdict.signature)
        return run.finish(True, f"{reference} ({digest}) is signed: {verdict.reason}")
    run.finding(id="signature/not-verified", severity="HIGH", tool=registry.signing.method, blocking=True,
                title=f"{reference} is not verified", detail=verdict.reason)
    return run.finish(False, f"{reference}{f' ({digest})' if digest else ''} is NOT verified: {verdict.reason}")


def _fingerprint(signer, key: str | None) -> str:
    """A full fingerprint for `key`; a 40-digit fingerprint not in the keyring is kept (skopeo says why)."""
    if key and re.fullmatch(r"[0-9A-Fa-f]{40}", key):
        try:
            return signer.fingerprint(key, secret=False)
        except BayatError:
            return key.upper()
    return signer.fingerprint(key, secret=False)
