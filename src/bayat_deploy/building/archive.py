"""Images travel between pipeline jobs as archives: build saves them, scan and publish load them.

On CI every job may run on a different machine with its own Docker engine, so the image the build job
made is not in the engine the publish job talks to. `build --save-images` writes a `docker save`
archive next to the packages in `.bayat/dist/images/`, the pipeline passes `.bayat/dist/` on as a job
artifact, and `ensure_loaded` puts the exact image (same id) back into the local engine when needed.
"""

from __future__ import annotations

from pathlib import Path

from bayat_deploy.errors import BayatError

FOLDER = Path(".bayat") / "dist" / "images"


def archive_path(root: Path, name: str, version: str) -> Path:
    return root / FOLDER / f"{name.replace('/', '-')}-{version.replace('+', '-')}.tar"


def save(docker, image_id: str, references: list[str], path: Path) -> Path:
    """`docker save` of the image with all its tags, written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tar.partial")
    image = docker.images.get(image_id)
    with partial.open("wb") as handle:
        for chunk in image.save(named=references[0] if references else False):
            handle.write(chunk)
    partial.replace(path)
    return path


def ensure_loaded(docker, record: dict, root: Path) -> bool:
    """Make sure the built image (by id) is in the engine; load it from its archive if not.
    True when it had to be loaded."""
    import docker as sdk

    try:
        docker.images.get(record["image_id"])
        return False
    except sdk.errors.ImageNotFound:
        pass
    archive = record.get("archive")
    if not archive or not (root / archive).exists():
        raise BayatError(f"image {record['image_id'][:19]} ({record['references'][0]}) is not in this Docker "
                         "engine and no archive of it came with the job (build with --save-images and pass "
                         f"{FOLDER.parent}/ on to this job)")
    with (root / archive).open("rb") as handle:
        loaded = docker.images.load(handle.read())
    image = next((i for i in loaded if i.id == record["image_id"]), None)
    if image is None:
        raise BayatError(f"{archive} holds {', '.join(i.id[:19] for i in loaded)}, not the built image "
                         f"{record['image_id'][:19]}")
    for reference in record["references"]:  # the archive names one tag; scans and pushes use all of them
        repository, _, tag = reference.rpartition(":")
        image.tag(repository, tag)
    return True
