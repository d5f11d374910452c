"""Building a Docker image through the Docker SDK, with OCI labels, its output streamed and parsed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from bayat_deploy.errors import BayatError, StageFailed

LOG_TAIL = 40  # lines of the failing step shown in the error


class BuildFailed(StageFailed):
    """Raised when `docker build` fails; carries the failing step and its log."""

    def __init__(self, message: str, step: str, log: list[str]):
        super().__init__(message)
        self.step, self.log = step, log


@dataclass(frozen=True)
class BuiltImage:
    image_id: str
    references: list[str]  # repository:tag for every tag


def oci_labels(*, version: str, revision: str, source: str, title: str, description: str, branch: str,
               pipeline: str, created: datetime | None = None) -> dict[str, str]:
    """The OCI image annotations (as labels) plus the two retention reads."""
    created = created or datetime.now(timezone.utc)
    labels = {
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.revision": revision,
        "org.opencontainers.image.source": source,
        "org.opencontainers.image.created": created.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "org.opencontainers.image.title": title,
        "org.opencontainers.image.description": description,
        "io.bayat.branch": branch,
        "io.bayat.pipeline": pipeline,
    }
    return {key: value for key, value in labels.items() if value}


def build_image(client, *, context_dir: Path, dockerfile: str, target: str | None, build_args: dict[str, str],
                labels: dict[str, str], references: list[str], say: Callable[[str], None] = print) -> BuiltImage:
    """Build, streaming the engine's output; tag the result with every reference."""
    import docker

    if not context_dir.is_dir():
        raise BayatError(f"build context {context_dir} is not a directory")
    if not (context_dir / dockerfile).is_file():
        raise BayatError(f"Dockerfile {context_dir / dockerfile} does not exist")
    step, step_log, image_id = "", [], None
    try:
        stream = client.api.build(path=str(context_dir), dockerfile=dockerfile, target=target or None,
                                  buildargs=build_args or None, labels=labels, tag=references[0], rm=True,
                                  forcerm=True, decode=True)
        for chunk in stream:
            if "stream" in chunk:
                for line in chunk["stream"].splitlines():
                    if line.startswith("Step "):
                        step, step_log = line, []
                    elif line.strip():
                        step_log.append(line)
                    if line.strip():
                        say(f"  {line}")
            if "aux" in chunk and isinstance(chunk["aux"], dict) and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
            if "error" in chunk or "errorDetail" in chunk:
                message = (chunk.get("errorDetail") or {}).get("message") or chunk.get("error", "")
                raise BuildFailed(f"docker build failed at {step or 'the start'}: {message.strip()}",
                                  step, step_log[-LOG_TAIL:])
    except docker.errors.APIError as exc:
        raise BuildFailed(f"docker build was refused: {exc.explanation or exc}", step, step_log[-LOG_TAIL:]) from None
    if image_id is None:
        image_id = client.images.get(references[0]).id
    for reference in references[1:]:
        repository, tag = reference.rsplit(":", 1)
        client.api.tag(image_id, repository, tag, force=True)
    return BuiltImage(image_id, references)
