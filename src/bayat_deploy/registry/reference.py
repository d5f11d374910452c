"""Image references (`host[:port]/path/name[:tag][@sha256:...]`) and registry addresses."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bayat_deploy.errors import BadInput

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_PATH = re.compile(r"^[a-z0-9]+([._-]+[a-z0-9]+)*(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$")


@dataclass(frozen=True)
class ImageReference:
    host: str  # 127.0.0.1:5000, harbor.example.com
    repository: str  # path inside the registry: bayat/hello-api
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """host/repository: what `docker push` and signatures call the repository."""
        return f"{self.host}/{self.repository}"

    def with_tag(self, tag: str) -> "ImageReference":
        return ImageReference(self.host, self.repository, tag, None)

    def with_digest(self, digest: str) -> "ImageReference":
        return ImageReference(self.host, self.repository, None, digest)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @classmethod
    def parse(cls, text: str) -> "ImageReference":
        """A fully qualified reference; the registry host is required (no implicit Docker Hub)."""
        rest, digest = text.strip(), None
        if "@" in rest:
            rest, digest = rest.split("@", 1)
            if not _DIGEST.match(digest):
                raise BadInput(f"{text!r}: the digest must be sha256:<64 hex digits>")
        host, sep, path = rest.partition("/")
        if not sep or not ("." in host or ":" in host or host == "localhost"):
            raise BadInput(f"{text!r} is not a full image reference: write registry-host[:port]/path/name:tag")
        tag = None
        last = path.rsplit("/", 1)[-1]
        if ":" in last:
            path, tag = path.rsplit(":", 1)
            if not _TAG.match(tag):
                raise BadInput(f"{text!r}: {tag!r} is not a valid tag")
        if not _PATH.match(path):
            raise BadInput(f"{text!r}: {path!r} is not a valid repository path (lower-case, '/'-separated)")
        return cls(host, path, tag, digest)


def split_registry_url(url: str) -> tuple[str, str]:
    """`https://harbor.example.com/bayat` or `127.0.0.1:5000/bayat` -> (host, path prefix)."""
    text = re.sub(r"^[a-z]+://", "", url.strip()).rstrip("/")
    host, _, prefix = text.partition("/")
    return host, prefix


def image_repository(registry_url: str, image_name: str) -> ImageReference:
    """Where an image named `image_name` lives in the registry at `registry_url` (no tag yet)."""
    host, prefix = split_registry_url(registry_url)
    path = f"{prefix}/{image_name}" if prefix else image_name
    return ImageReference(host, path)
