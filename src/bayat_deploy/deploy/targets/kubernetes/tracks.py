"""What bayat-deploy remembers about each track beside the cluster: the exact release behind it
(version, image digest, configuration hash - the cluster only shows a version label and an image),
when a warm track may be decommissioned, and the Helm revision or config-repository commit that
put it there. Kept as `kubernetes.json` in the environment's state store (the cluster by default), and
every change is one atomic update of that document.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Callable

from bayat_deploy.deploy.targets.base import Release


class TrackBook:
    KEY = "kubernetes.json"

    def __init__(self, store):
        self.store = store

    def load(self) -> dict[str, dict]:
        text = self.store.read(self.KEY)
        return json.loads(text).get("tracks", {}) if text else {}

    def _change(self, edit: Callable[[dict[str, dict]], None]) -> None:
        def apply(text: str | None) -> str:
            tracks = json.loads(text).get("tracks", {}) if text else {}
            edit(tracks)
            return json.dumps({"tracks": tracks}, indent=2, sort_keys=True) + "\n"

        self.store.update(self.KEY, apply)

    def save(self, tracks: dict[str, dict]) -> None:
        self._change(lambda current: (current.clear(), current.update(tracks)))

    def get(self, track: str) -> dict:
        return self.load().get(track, {})

    def release(self, track: str) -> Release | None:
        data = self.get(track).get("release")
        return Release(**data) if data else None

    def put(self, track: str, release: Release, **extra) -> None:
        def edit(tracks):
            tracks[track] = {**tracks.get(track, {}), **extra, "release": asdict(release)}

        self._change(edit)

    def update(self, track: str, **extra) -> None:
        def edit(tracks):
            if track in tracks:
                tracks[track].update(extra)

        self._change(edit)

    def drop(self, *names: str) -> None:
        def edit(tracks):
            for name in names:
                tracks.pop(name, None)

        self._change(edit)

    def move(self, source: str, destination: str, **extra) -> None:
        def edit(tracks):
            if source in tracks:
                tracks[destination] = {**tracks.pop(source), **extra}

        self._change(edit)


def matches(release: Release | None, version_label: str) -> bool:
    """Does the remembered release explain what the cluster shows (the chart's version label)?"""
    return release is not None and release.version.replace("+", "-") == version_label
