"""The Docker SDK client, built from the run context (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH)
rather than os.environ; a target may name its own engine."""

from __future__ import annotations

from bayat_deploy.errors import ToolMissing

DOCKER_TIMEOUT = 900  # seconds without output before the SDK gives up on a build, push or pull


def docker_client(context, base_url: str | None = None):
    import docker

    settings = docker.utils.kwargs_from_env(environment=dict(context.env))
    if base_url:
        settings["base_url"] = base_url
    where = settings.get("base_url") or "the local socket"
    try:
        client = docker.DockerClient(**settings, timeout=DOCKER_TIMEOUT)
        client.ping()
    except docker.errors.DockerException as exc:
        raise ToolMissing(f"the Docker engine at {where} does not answer ({exc}); start it (scripts/start-docker) "
                          "or point DOCKER_HOST at one") from None
    return client
