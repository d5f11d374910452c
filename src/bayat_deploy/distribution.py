"""What this copy of bayat-deploy was released as.

scripts/release publishes the image first, then stamps `release.json` (the version and the image, pinned
by digest) into the package before the wheel, the sdist and dist/ are built, so a released bayat-deploy
knows the image of its own release: `generate-pipeline --platform gitlab` runs every job in it by default.
A checkout of the source carries no stamp, and neither does the image itself: an image cannot hold its
own digest.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path

RELEASE_FILE = Path(__file__).with_name("release.json")


@dataclass(frozen=True)
class Release:
    version: str
    image: str  # <repository>:<version>@sha256:<digest>

    def within(self, ref: str) -> bool:
        """Whether an action ref names this release: `v1` and `v1.4` take 1.4.2, `v1.4.2` only itself; a
        commit or a branch names no release."""
        wanted = re.fullmatch(r"v?(\d+(?:\.\d+){0,2})", ref)
        if not wanted:
            return False
        parts = wanted.group(1).split(".")
        return self.version.split("-")[0].split(".")[:len(parts)] == parts and (
            len(parts) < 3 or self.version == wanted.group(1))


def this_release(path: Path | None = None) -> Release | None:
    """The stamp of the release this copy was built by; None for a checkout of the source."""
    from bayat_deploy import __version__, argtypes
    from bayat_deploy.errors import BadInput

    path = path or RELEASE_FILE
    try:
        stamp = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: this installation's release stamp is unreadable ({exc}); reinstall bayat-deploy") \
            from None
    release = Release(version=str(stamp.get("version", "")), image=str(stamp.get("image", "")))
    if release.version != __version__:
        raise BadInput(f"{path}: the release stamp is for {release.version or 'no version'}, this bayat-deploy is "
                       f"{__version__}; reinstall bayat-deploy")
    try:
        argtypes.pinned_image(release.image)
    except argparse.ArgumentTypeError:
        raise BadInput(f"{path}: field `image`: {release.image!r} is not an image pinned by digest; reinstall "
                       "bayat-deploy") from None
    return release


def stamp(version: str, image: str, path: Path) -> Path:
    """Write the release stamp (scripts/release, after the image is pushed)."""
    path.write_text(json.dumps({"version": version, "image": image}, indent=2) + "\n", encoding="utf-8")
    return path
