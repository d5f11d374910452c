"""Building one artifact of the policy and describing what came out (for the evidence and publish)."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from bayat_deploy.building import packages
from bayat_deploy.building.docker_image import build_image, oci_labels
from bayat_deploy.dockerclient import docker_client
from bayat_deploy.building.plan import artifact_name, released_versions, source_url
from bayat_deploy.building.sbom import make_sbom
from bayat_deploy.building.tags import image_tags
from bayat_deploy.errors import BadInput
from bayat_deploy.policy.model.stages import (DockerImage, HelmChart, NpmPackage, OsPackage, PythonPackage,
                                              TerraformModule)
from bayat_deploy.registry.credentials import registry_of
from bayat_deploy.registry.reference import image_repository

DIST_DIR = Path(".bayat") / "dist"


@dataclass
class Built:
    """What one artifact produced; `record` goes into the build evidence's details."""

    kind: str  # "image" or "package"
    record: dict[str, Any]
    files: list[Path] = field(default_factory=list)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


class Builder:
    def __init__(self, session, version: str, build_args: dict[str, str], *, sbom: bool = True,
                 save_images: bool = False,
                 say: Callable[[str], None] = print):
        self.session, self.version, self.build_args, self.sbom, self.say = session, version, build_args, sbom, say
        self.save_images = save_images
        self.dist = session.root / DIST_DIR
        self._docker = None
        self._released: list[str] | None = None

    def build(self, artifact) -> Built:
        registry_of(self.session.policy, artifact.registry)  # an unknown registry is a policy mistake: say so now
        if isinstance(artifact, DockerImage):
            return self.image(artifact)
        root, version, context = self.session.root, self.version, self.session.context
        name = artifact_name(self.session.policy, artifact)
        if isinstance(artifact, PythonPackage):
            files = packages.build_python(root, artifact.path, version, self.dist, context)
        elif isinstance(artifact, NpmPackage):
            files = packages.build_npm(root, artifact.path, version, self.dist, context)
        elif isinstance(artifact, HelmChart):
            files = packages.build_helm(root, artifact.path, version, self.dist, context)
        elif isinstance(artifact, TerraformModule):
            files = packages.build_terraform(root, artifact.path, name, version, self.dist)
        elif isinstance(artifact, OsPackage) and artifact.format == "deb":
            files = packages.build_deb(root, artifact.path, name, version, self.dist, context)
        elif isinstance(artifact, OsPackage):
            files = packages.build_rpm(root, artifact.path, name, version, self.dist, context)
        else:  # pragma: no cover - the policy model admits no other type
            raise BadInput(f"artifact type {artifact.type} cannot be built")
        record = {"type": artifact.type, "name": name, "registry": artifact.registry,
                  "files": [{"path": str(p.relative_to(root)), "sha256": sha256_file(p), "size": p.stat().st_size}
                            for p in files]}
        return Built("package", record, files)

    # -- images -----------------------------------------------------------------------------------
    def image(self, artifact: DockerImage) -> Built:
        session, context = self.session, self.session.context
        policy = session.policy
        name = artifact_name(policy, artifact)
        repository = image_repository(registry_of(policy, artifact.registry).url, name)
        if self._released is None:
            self._released = released_versions(session)
        tags = image_tags(self.version, context.short_sha, self._released)
        references = [str(repository.with_tag(tag)) for tag in tags]
        labels = oci_labels(version=self.version, revision=context.sha,
                            source=source_url(session), title=policy.project,
                            description=policy.description, branch=context.branch,
                            pipeline=context.pipeline_url or context.run_id)
        build_args = {**artifact.build_args, **self.build_args}
        context_dir = (session.root / artifact.context).resolve()
        if not context_dir.is_dir():
            raise BadInput(f"docker-image {name}: the build context {artifact.context} is not a directory "
                           f"in {session.root}")
        if self._docker is None:
            self._docker = docker_client(context)
        self.say(f"building image {references[0]} from {artifact.context}/{artifact.dockerfile}")
        with self._version_file(context_dir):
            built = build_image(self._docker, context_dir=context_dir, dockerfile=artifact.dockerfile,
                                target=artifact.target, build_args=build_args, labels=labels,
                                references=references, say=self.say)
        record = {"type": artifact.type, "name": name, "registry": artifact.registry,
                  "repository": repository.name, "tags": tags, "references": references,
                  "image_id": built.image_id, "labels": labels, "sign": artifact.sign, "sbom": None}
        files = []
        if self.save_images:  # for scan and publish jobs on other machines
            from bayat_deploy.building.archive import archive_path, save

            path = save(self._docker, built.image_id, references, archive_path(session.root, name, self.version))
            record["archive"] = str(path.relative_to(session.root))
            self.say(f"saved {references[0]} to {record['archive']}")
        if self.sbom and artifact.sbom:
            output = session.reports_dir / f"sbom-{name.replace('/', '-')}.cdx.json"
            components = make_sbom(references[0], output, context)
            record["sbom"] = {"path": str(output.relative_to(session.root)), "components": components,
                              "sha256": sha256_file(output)}
            files.append(output)
        return Built("image", record, files)

    @contextlib.contextmanager
    def _version_file(self, context_dir: Path) -> Iterator[None]:
        """The version file in the build context for the Dockerfile to copy; removed again if it was not there."""
        from bayat_deploy.versioning.version_file import write_version_file

        target = context_dir / Path(self.session.policy.versioning.version_file).name
        existed = target.exists()
        write_version_file(self.session, self.version, target)
        try:
            yield
        finally:
            if not existed:
                target.unlink(missing_ok=True)
