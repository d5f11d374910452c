"""Pushing an image: check every tag against the registry first (versions are immutable), then push
through the Docker engine with retries, and read back the digest the registry stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from bayat_deploy.building.tags import is_immutable
from bayat_deploy.registry.client import RegistryClient, RegistryError
from bayat_deploy.registry.credentials import Credentials
from bayat_deploy.registry.reference import ImageReference
from bayat_deploy.registry.retry import DEFAULT_ATTEMPTS, TransientError, is_transient_message, with_retries


@dataclass
class TagPlan:
    tag: str
    action: str  # push | skip | conflict
    reason: str
    remote_digest: str | None = None


def plan_tags(client: RegistryClient, repository: ImageReference, tags: list[str], image_id: str,
              local_digests: set[str]) -> list[TagPlan]:
    """What to do with each tag: push it, skip it (the same content is there) or refuse (immutable)."""
    plans = []
    for tag in tags:
        remote = client.manifest(repository.repository, tag)
        if remote is None:
            plans.append(TagPlan(tag, "push", "new tag"))
        elif remote.config_digest == image_id or remote.digest in local_digests:
            plans.append(TagPlan(tag, "skip", "already in the registry with the same content", remote.digest))
        elif is_immutable(tag):
            plans.append(TagPlan(tag, "conflict",
                                 f"{repository.with_tag(tag)} already exists with different content "
                                 f"({remote.digest}); versions are immutable: release a new version instead",
                                 remote.digest))
        else:
            plans.append(TagPlan(tag, "push", f"moving tag, now pointing at {remote.digest}", remote.digest))
    return plans


def local_repo_digests(docker, image_id: str, repository: ImageReference) -> set[str]:
    """Manifest digests the engine knows this image by in this repository (from earlier pushes or pulls)."""
    image = docker.images.get(image_id)
    digests = set()
    for item in image.attrs.get("RepoDigests") or []:
        name, _, digest = item.partition("@")
        if name == repository.name:
            digests.add(digest)
    return digests


def push_tag(docker, repository: ImageReference, tag: str, image_id: str, credentials: Credentials, *,
             attempts: int = DEFAULT_ATTEMPTS, say: Callable[[str], None] = print) -> str:
    """Push one tag through the Docker engine; returns the manifest digest the registry reported."""
    import docker as sdk

    docker.api.tag(image_id, repository.name, tag, force=True)
    auth = {"username": credentials.username, "password": credentials.password}
    reference = repository.with_tag(tag)

    def once() -> str:
        digest = None
        try:
            for chunk in docker.api.push(repository.name, tag=tag, auth_config=auth, stream=True, decode=True):
                if "error" in chunk or "errorDetail" in chunk:
                    message = (chunk.get("errorDetail") or {}).get("message") or chunk.get("error", "")
                    if is_transient_message(message):
                        raise TransientError(message)
                    raise RegistryError(f"pushing {reference} failed: {message}")
                aux = chunk.get("aux")
                if isinstance(aux, dict) and aux.get("Digest"):
                    digest = aux["Digest"]
        except sdk.errors.APIError as exc:
            message = str(exc.explanation or exc)
            if exc.is_server_error() or is_transient_message(message):
                raise TransientError(message) from None
            raise RegistryError(f"pushing {reference} failed: {message}") from None
        except sdk.errors.DockerException as exc:
            raise TransientError(f"the Docker engine connection failed: {exc}") from None
        if not digest:
            raise RegistryError(f"pushing {reference}: the engine reported no digest")
        return digest

    return with_retries(once, what=f"push {reference}", attempts=attempts, say=say)
