"""Publishing one built image: check its tags, push the new ones, sign what the registry now holds."""

from __future__ import annotations

from pathlib import Path

from dataclasses import dataclass, field
from typing import Callable

from bayat_deploy.errors import BayatError
from bayat_deploy.policy.model.stages import Registry
from bayat_deploy.registry.client import RegistryClient
from bayat_deploy.registry.credentials import Credentials
from bayat_deploy.registry.push import TagPlan, local_repo_digests, plan_tags, push_tag
from bayat_deploy.registry.reference import ImageReference


@dataclass
class ImageJob:
    record: dict  # the build evidence's description of the image
    registry_name: str
    registry: Registry
    credentials: Credentials
    repository: ImageReference
    client: RegistryClient
    plans: list[TagPlan] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)  # tag -> manifest digest, after the push

    @property
    def conflicts(self) -> list[TagPlan]:
        return [p for p in self.plans if p.action == "conflict"]

    @property
    def digest(self) -> str:
        """The digest of the version tag (the first tag)."""
        return self.digests[self.record["tags"][0]]


def prepare(record: dict, registry_name: str, registry: Registry, credentials: Credentials, docker, *,
            attempts: int, say: Callable[[str], None], root: Path = Path(".")) -> ImageJob:
    """Check the image is still in the engine and plan each tag against the registry."""
    import docker as sdk

    repository = ImageReference.parse(record["repository"])
    client = RegistryClient(repository.host, username=credentials.username, password=credentials.password,
                            insecure=registry.insecure, attempts=attempts, say=say)
    job = ImageJob(record, registry_name, registry, credentials, repository, client)
    if record.get("archive"):  # built in another job: bring the exact image into this engine first
        from bayat_deploy.building.archive import ensure_loaded

        if ensure_loaded(docker, record, root):
            say(f"loaded {record['references'][0]} from {record['archive']}")
    try:
        known = local_repo_digests(docker, record["image_id"], repository)
    except sdk.errors.ImageNotFound:
        raise BayatError(f"image {record['image_id'][:19]} ({record['references'][0]}) is no longer in the Docker "
                         f"engine; run `bayat-deploy build` again") from None
    job.plans = plan_tags(client, repository, record["tags"], record["image_id"], known)
    return job


def push(job: ImageJob, docker, *, attempts: int, say: Callable[[str], None]) -> None:
    for plan in job.plans:
        reference = job.repository.with_tag(plan.tag)
        if plan.action == "skip":
            job.digests[plan.tag] = plan.remote_digest
            say(f"{reference}: {plan.reason}; not pushed again")
            continue
        digest = push_tag(docker, job.repository, plan.tag, job.record["image_id"], job.credentials,
                          attempts=attempts, say=say)
        job.digests[plan.tag] = digest
        say(f"pushed {reference} ({digest})")


def sign(job: ImageJob, signer) -> list[str]:
    """Sign every tag for the digest it now has; returns where the signatures are."""
    by_digest: dict[str, list[str]] = {}
    for tag, digest in job.digests.items():
        by_digest.setdefault(digest, []).append(tag)
    locations = []
    for digest, tags in by_digest.items():
        locations += signer.sign_image(job.client, job.repository, digest, tags)
    return list(dict.fromkeys(locations))
