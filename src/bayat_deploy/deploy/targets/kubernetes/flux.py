"""Flux's sync signal, read with kubectl through the command runner.

The HelmRelease takes its chart from the config repository with `reconcileStrategy: Revision`, so
the chart version Flux releases is `<chart version>+<first 12 characters of the commit>[.<n>]`
(source-controller's format). A commit is live when the HelmRelease reports `Ready=True` for its
current generation and `status.lastAttemptedRevision` (or `lastAppliedRevision`) carries that commit.
Before waiting, the GitRepository is annotated with `reconcile.fluxcd.io/requestedAt`, which is what
`flux reconcile source git` does to make source-controller fetch at once.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

from bayat_deploy.deploy.targets.commands import CommandRunner
from bayat_deploy.errors import BayatError

FAILED_REASONS = ("InstallFailed", "UpgradeFailed", "RollbackFailed", "UninstallFailed", "ArtifactFailed",
                  "InitFailed", "ChartPullError", "RetriesExceeded")


def _ready(helm_release: dict) -> dict:
    for condition in (helm_release.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition
    return {}


def describe(helm_release: dict) -> str:
    status = helm_release.get("status") or {}
    ready = _ready(helm_release)
    revision = status.get("lastAttemptedRevision") or status.get("lastAppliedRevision") or "no revision"
    text = f"Ready={ready.get('status', 'Unknown')} at {revision}"
    if ready.get("reason"):
        text += f" ({ready['reason']}: {ready.get('message', '')})"
    return text


class FluxSync:
    def __init__(self, runner: CommandRunner, *, application: str, source: str, namespace: str,
                 context: str | None):
        self.runner, self.application, self.source, self.namespace = runner, application, source, namespace
        self.context = ["--context", context] if context else []

    def kubectl(self, *args: str, options: tuple[str, ...] = ()) -> list[str]:
        return ["kubectl", *args, "--namespace", self.namespace, *options, *self.context]

    def request_fetch(self) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        # best effort: without it source-controller fetches at its next interval
        self.runner.run(self.kubectl("annotate", "gitrepository", self.source,
                                     f"reconcile.fluxcd.io/requestedAt={stamp}", options=("--overwrite",)))

    def wait(self, commit: str, *, timeout: float, poll: float, fetch: bool = True) -> str:
        if fetch:
            self.request_fetch()
        deadline = time.monotonic() + timeout
        last = "not found"
        marker = "+" + commit[:12]
        while True:
            result = self.runner.run(self.kubectl("get", "helmrelease", self.application, options=("--output", "json")))
            if result.ok:
                release = json.loads(result.stdout)
                status, ready = release.get("status") or {}, _ready(release)
                last = describe(release)
                revisions = (status.get("lastAttemptedRevision") or "", status.get("lastAppliedRevision") or "")
                at_commit = any(marker in revision for revision in revisions)
                current = status.get("observedGeneration") == (release.get("metadata") or {}).get("generation")
                if at_commit and current and ready.get("status") == "True":
                    return f"Flux: HelmRelease {self.application} {last}"
                if at_commit and ready.get("status") == "False" and ready.get("reason") in FAILED_REASONS:
                    raise BayatError(f"Flux could not release {commit[:12]} of {self.application}: {last}")
            else:
                last = result.message(3) or last
            if time.monotonic() >= deadline:
                raise BayatError(f"Flux HelmRelease {self.application} did not become Ready at {commit[:12]} within "
                                 f"{timeout:g}s; last seen: {last}")
            time.sleep(poll)
