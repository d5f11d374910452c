"""Rollback: back to the last good release (image digest + configuration), fast, verified, recorded.

Fastest first: a warm previous version (blue/green keeps it) is a traffic shift; a stable track
still running beside a failing canary is a shift plus stopping the canary; otherwise the previous
release is started again from its recorded digest, checked, and switched to. The time from the
decision to 100% of traffic on the old version is measured and printed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bayat_deploy.deploy.record import Entry
from bayat_deploy.deploy.targets.base import Release
from bayat_deploy.errors import BadInput, BayatError, ResourceError


@dataclass
class RollbackResult:
    entry: Entry
    seconds_to_traffic: float
    incident: Path | None


def _release_of(deployment, version: str) -> Release:
    for entry in reversed(deployment.record.entries()):
        if entry.version == version and entry.image and entry.outcome in ("succeeded",):
            return Release(version=version, image=entry.image, digest=entry.digest, config_hash=entry.config_hash)
    for entry in reversed(deployment.record.entries()):
        if entry.version == version and entry.image:
            return Release(version=version, image=entry.image, digest=entry.digest, config_hash=entry.config_hash)
    from bayat_deploy.deploy.release import resolve_release

    return resolve_release(deployment.session, deployment.environment, version)


def rollback(deployment, *, to: str | None = None, reason: str, automatic: bool = False,
             lock: bool = True, failed_version: str | None = None) -> RollbackResult:
    """Roll back. `failed_version` (a pipeline's rollback job passes the version it tried to deploy)
    makes it a no-op unless that version actually reached the environment."""
    decided = time.monotonic()
    started = time.time()
    if lock:
        with deployment.locked(f"{deployment.session.context.actor or 'someone'} rolling back"):
            return _rollback(deployment, to, reason, automatic, decided, started, failed_version)
    return _rollback(deployment, to, reason, automatic, decided, started, failed_version)


def _rollback(deployment, to, reason, automatic, decided, started, failed_version=None) -> RollbackResult:
    target, say = deployment.target, deployment.say
    target.prepare()
    state = target.current()
    serving = state.serving()
    if to is None and serving and failed_version and not _reached(state, failed_version):
        return _nothing_to_undo(deployment, serving, f"{reason}; {failed_version} never took traffic here",
                                automatic, started)
    if to is None and serving and _already_restored(deployment, serving):
        return _nothing_to_undo(deployment, serving, reason, automatic, started)
    if to is None:
        good = deployment.record.last_successful(before_version=serving)
        if good is None:
            raise BayatError(f"no earlier successful deployment of {deployment.environment} to roll back to; "
                             f"for a first release, `bayat-deploy rollback --env {deployment.environment} --remove` "
                             "takes it down")
        to = good.version
    say(f"rolling back {deployment.environment}: {serving or 'nothing'} -> {to} ({reason})")
    attempt = _begin(deployment, to, serving or "", reason, automatic, started)
    try:
        result = _switch_back(deployment, to, reason, automatic, decided, started, attempt)
    except (BayatError, OSError) as exc:
        problem = str(ResourceError.of(exc)) if isinstance(exc, OSError) else str(exc)
        _stop_unrouted(deployment.target, to)
        _fail(deployment, attempt, to, serving or "", f"{reason}; the rollback failed: {problem}", started)
        if isinstance(exc, OSError):
            raise ResourceError(f"rollback of {deployment.environment} to {to} failed: {problem}") from None
        raise
    if result.entry.outcome != "succeeded":
        raise BayatError(f"rolled back to {to}, but it does not verify: {result.entry.details['verification']}")
    return result


def _begin(deployment, to: str, serving: str, reason: str, automatic: bool, started: float):
    """Write the rollback ahead, as a deployment is: killed half-way, the next command finds it and repairs."""
    try:
        attempt = deployment.record.begin(
            deployment.entry("rollback", to, "in-progress", started, previous_version=serving, reason=reason),
            returns_to=to, automatic=automatic)
    except OSError as exc:
        raise ResourceError(f"cannot record the rollback of {deployment.environment} ahead, so nothing was "
                            f"changed: {ResourceError.of(exc)}") from None
    deployment.failpoint("attempt-recorded")
    return attempt


def _stop_unrouted(target, to: str) -> None:
    """A rollback that failed before its switch stops the old version it started: no traffic reaches it."""
    try:
        for name, track in target.current().tracks.items():
            if track.release.version == to and track.weight == 0 and name != "warm":
                target.retire(name)
    except (BayatError, OSError):
        pass  # what is left unlisted, the next command's reconcile stops


def _fail(deployment, attempt, to: str, serving: str, reason: str, started: float) -> None:
    entry = deployment.entry("rollback", to, "failed", started, previous_version=serving, reason=reason)
    try:
        deployment.record.finish(attempt, entry)
    except OSError:
        pass  # the in-progress entry stays open: the next command under the lock closes it as interrupted


def _switch_back(deployment, to, reason, automatic, decided, started, attempt) -> RollbackResult:
    target, say = deployment.target, deployment.say
    tracks = target.current().tracks
    serving = target.current().serving()
    failed_version = serving or ""
    if tracks.get("warm") and tracks["warm"].release.version == to:
        target.shift({"warm": 100})
        seconds = time.monotonic() - decided
        target.promote("warm")
        how = "switched back to the warm previous version"
    elif tracks.get("stable") and tracks["stable"].release.version == to:
        if "candidate" in tracks:
            failed_version = tracks["candidate"].release.version
        target.shift({"stable": 100})
        seconds = time.monotonic() - decided
        if "candidate" in target.current().tracks:
            target.retire("candidate")
        how = "moved all traffic back to the stable version"
    else:
        release = _release_of(deployment, to)
        replicas = deployment.env.resources.replicas
        timeout = deployment.env.strategy.health_timeout.seconds
        candidate = tracks.get("candidate")
        if candidate is not None:
            failed_version = candidate.release.version
        if candidate is not None and candidate.weight > 0 and "stable" not in tracks:
            # the failed version holds all the traffic (a rolling update replaced every instance): start the
            # good one beside it as stable, switch, then stop the failed one
            _start(target, release, "stable", replicas, timeout)
            target.shift({"stable": 100})
            seconds = time.monotonic() - decided
            target.retire("candidate")
        else:
            if candidate is not None:  # a half-done rollout: its traffic goes back to stable first
                if "stable" in tracks:
                    target.shift({"stable": 100})
                target.retire("candidate")
            _start(target, release, "candidate", replicas, timeout)
            target.shift({"candidate": 100})
            seconds = time.monotonic() - decided
            target.promote("candidate")
        how = f"started {to} again from {release.pinned} and switched to it"
    say(f"100% of traffic on {to} after {seconds:.2f}s ({how})")
    if deployment.env.rollback.restore_database:
        failed = next((e for e in reversed(deployment.record.attempts())
                       if e.version == failed_version and e.details.get("backup")), None)
        if failed:
            deployment.database_restore(failed.details["backup"])
    verdict, results = deployment.smoke(target.url(), to)
    outcome = "succeeded" if verdict.passed else "failed"
    entry = deployment.entry("rollback", to, outcome, started, previous_version=failed_version,
                             reason=reason + ("" if verdict.passed else f"; verification after rollback failed: "
                                                                         f"{verdict.reason}"),
                             details={"how": how, "seconds_to_traffic": round(seconds, 3), "automatic": automatic,
                                      "verification": verdict.reason})
    release = target.current().tracks.get("stable")
    if release:
        entry.image, entry.digest = release.release.image, release.release.digest
    deployment.record.finish(attempt, entry)
    try:
        note = write_incident(deployment, entry, failed_version, seconds)
    except OSError as exc:  # the rollback is done and recorded; a missing note must not undo that
        say(f"warning: the incident note could not be written: {ResourceError.of(exc)}")
        note = None
    sla = deployment.env.rollback.max_duration.seconds
    if seconds > sla:
        say(f"warning: rollback took {seconds:.2f}s, longer than the {deployment.env.rollback.max_duration} objective")
    return RollbackResult(entry, seconds, note)


def _start(target, release: Release, track: str, replicas: int, timeout: float) -> None:
    """Start the version to roll back to on `track` and wait until it is healthy; stop it again if not."""
    target.launch(release, track, replicas)
    health = target.health(track, timeout)
    if not health.ok:
        target.retire(track)
        raise BayatError(f"rollback to {release.version} failed: the old version does not start: {health.detail}")


def _reached(state, version: str) -> bool:
    """Does `version` serve, or run beside the serving one, in this environment?"""
    return any(track.release.version == version and (track.weight > 0 or name == "candidate")
               for name, track in state.tracks.items())


def _already_restored(deployment, serving: str) -> bool:
    """The version serving now is already the good one, so a (second) rollback has nothing to undo:
    the last attempt failed and its strategy put the previous version back, or the last attempt was
    a rollback to exactly this version (verify rolled back before the pipeline's rollback job ran)."""
    state = deployment.target.current()
    if "candidate" in state.tracks:
        return False
    attempts = [e for e in deployment.record.attempts() if e.action in ("deploy", "promote", "rollback")]
    if not attempts:
        return False
    last = attempts[-1]
    if last.action == "rollback":  # interrupted after its switch: the traffic is back, only its check is missing
        return last.outcome in ("succeeded", "interrupted") and last.version == serving
    return last.outcome in ("failed", "rolled-back", "interrupted") and last.version != serving


def _nothing_to_undo(deployment, serving: str, reason: str, automatic: bool, started: float) -> RollbackResult:
    deployment.say(f"{deployment.environment} already serves {serving}, the last good release; verifying it "
                   f"(to go further back, name the version: --to VERSION)")
    verdict, _ = deployment.smoke(deployment.target.url(), serving)
    entry = deployment.entry("rollback", serving, "succeeded" if verdict.passed else "failed", started,
                             previous_version=serving, reason=f"{reason}; nothing to undo",
                             details={"how": "already serving the last good release", "seconds_to_traffic": 0.0,
                                      "automatic": automatic, "verification": verdict.reason})
    deployment.record.append(entry)
    if not verdict.passed:
        raise BayatError(f"{serving} serves but does not verify: {verdict.reason}")
    return RollbackResult(entry, 0.0, None)


def write_incident(deployment, entry: Entry, failed_version: str, seconds: float) -> Path:
    """The incident note the standard asks for: what, when, why, who, how long."""
    folder = deployment.target.state_dir / "incidents"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{stamp}-{deployment.environment}-rollback.md"
    path.write_text(
        f"# Rollback of {deployment.session.policy.project} in {deployment.environment}\n\n"
        f"- **What**: {failed_version or 'the current release'} was rolled back to {entry.version} "
        f"({entry.details.get('how', '')}).\n"
        f"- **When**: {entry.started} (finished {entry.finished}).\n"
        f"- **Why**: {entry.reason}\n"
        f"- **Who**: {entry.triggered_by or 'unknown'}"
        f"{' (automatic rollback)' if entry.details.get('automatic') else ''}.\n"
        f"- **How long**: {seconds:.2f}s to 100% traffic on {entry.version}; {entry.duration_seconds:.2f}s in all.\n"
        f"- **Verification after rollback**: {entry.outcome} ({entry.details.get('verification', '')}).\n"
        f"- **Pipeline**: {entry.pipeline_url or 'run locally'}\n\n"
        "## Follow-up\n\n- [ ] Root cause\n- [ ] Fix and release notes\n- [ ] Stakeholders informed\n")
    return path


def require_version(value: str | None) -> str | None:
    if value is None:
        return None
    from bayat_deploy.policy.types import SemVer

    try:
        return SemVer.parse(value).text
    except ValueError as exc:
        raise BadInput(f"--to: {exc}") from None
