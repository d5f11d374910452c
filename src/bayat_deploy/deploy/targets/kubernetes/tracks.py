"""What bayat-deploy remembers about each track beside the cluster: the exact release behind it
(version, image digest, configuration hash - the cluster only shows a version label and an image),
when a warm track may be decommissioned, and the Helm revision or config-repository commit that
put it there. Kept in `kubernetes.json` in the environment's state directory, written atomically.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from bayat_deploy.deploy.targets.base import Release
from bayat_deploy.fsutil import write_atomic


class TrackBook:
    def __init__(self, path: Path):
        self.path = path

    def load(self) -> dict[str, dict]:
        if not self.path.exists():
            return {}
        return json.loads(self.path.read_text()).get("tracks", {})

    def save(self, tracks: dict[str, dict]) -> None:
        write_atomic(self.path, json.dumps({"tracks": tracks}, indent=2, sort_keys=True) + "\n")

    def get(self, track: str) -> dict:
        return self.load().get(track, {})

    def release(self, track: str) -> Release | None:
        data = self.get(track).get("release")
        return Release(**data) if data else None

    def put(self, track: str, release: Release, **extra) -> None:
        tracks = self.load()
        entry = {**tracks.get(track, {}), **extra, "release": asdict(release)}
        tracks[track] = entry
        self.save(tracks)

    def update(self, track: str, **extra) -> None:
        tracks = self.load()
        if track in tracks:
            tracks[track].update(extra)
            self.save(tracks)

    def drop(self, *names: str) -> None:
        tracks = self.load()
        for name in names:
            tracks.pop(name, None)
        self.save(tracks)

    def move(self, source: str, destination: str, **extra) -> None:
        tracks = self.load()
        if source in tracks:
            tracks[destination] = {**tracks.pop(source), **extra}
            self.save(tracks)


def matches(release: Release | None, version_label: str) -> bool:
    """Does the remembered release explain what the cluster shows (the chart's version label)?"""
    return release is not None and release.version.replace("+", "-") == version_label
