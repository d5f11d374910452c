"""From "deploy version V to ENV" to the exact image: registry reference, digest, configuration hash."""

from __future__ import annotations

from bayat_deploy.deploy.targets.base import Release
from bayat_deploy.errors import BadInput, BayatError
from bayat_deploy.policy.dump import fingerprint
from bayat_deploy.policy.model import DockerImage


def image_reference(session, version: str) -> str:
    images = [a for a in session.policy.artifacts if isinstance(a, DockerImage)]
    if not images:
        raise BadInput("the policy has no docker-image artifact to deploy")
    image = next((a for a in images if a.name == session.policy.project), images[0])
    registry = session.policy.registries.get(image.registry)
    if registry is None:
        raise BadInput(f"artifact {image.name}: unknown registry {image.registry!r}")
    host = registry.url.split("://")[-1].rstrip("/")
    return f"{host}/{image.name}:{version.replace('+', '-')}"


def registry_auth(session, image: str) -> dict | None:
    from bayat_deploy.secrets import resolve

    for name, registry in session.policy.registries.items():
        if image.startswith(registry.url.split("://")[-1].rstrip("/") + "/"):
            what = f"registries.{name}"
            user = resolve(registry.username, session.context, what=what)
            password = resolve(registry.password, session.context, what=what)
            return {"username": user, "password": password} if user and password else None
    return None


def published_digest(session, image: str) -> str:
    """The digest the registry holds for the reference; BadInput when it was never published."""
    import docker

    from bayat_deploy.dockerclient import docker_client

    client = docker_client(session.context)
    try:
        data = client.images.get_registry_data(image, auth_config=registry_auth(session, image))
    except docker.errors.NotFound:
        raise BadInput(f"{image} was never published (the registry has no such tag); publish it first") from None
    except docker.errors.APIError as exc:
        message = str(exc.explanation or exc)
        if "not found" in message.lower() or "manifest unknown" in message.lower():
            raise BadInput(f"{image} was never published (the registry has no such tag); publish it first") \
                from None
        raise BayatError(f"cannot reach the registry for {image}: {message}") from None
    return data.id


def resolve_release(session, environment: str, version: str, *, image: str | None = None,
                    env: dict[str, str] | None = None) -> Release:
    """The release to deploy. `image` overrides the registry reference (a local image for development)."""
    env_policy = session.policy.environment(environment)
    reference = image or image_reference(session, version)
    digest = "" if image else published_digest(session, reference)
    config = {"environment": env_policy, "env": env or {}, "version": version}
    return Release(version=version, image=reference, digest=digest, config_hash=fingerprint(config),
                   env=dict(env or {}))
