"""Render a platform's pipeline files from the policy, write them all or none, or check them for drift."""

from __future__ import annotations

import difflib
from pathlib import Path

from bayat_deploy.errors import BadInput

PLATFORMS = ("github", "gitlab")


def render_files(loaded, platform: str, *, action_ref: str = "v1", image: str | None = None) -> dict[str, str]:
    from bayat_deploy.generate.plan import build_plan

    root = loaded.root
    try:
        policy_path = str(loaded.path.resolve().relative_to(root.resolve()))
    except ValueError:
        policy_path = str(loaded.path)
    plan = build_plan(loaded.policy, policy_path)
    if platform == "github":
        from bayat_deploy.generate import github

        return github.render(plan, loaded.policy, ref=action_ref)
    if platform == "gitlab":
        from bayat_deploy.generate import gitlab

        return gitlab.render(plan, loaded.policy, ref=action_ref, image=image)
    raise BadInput(f"unknown platform {platform!r}; use one of {', '.join(PLATFORMS)}")


def job_image(requested: str | None, action_ref: str) -> str | None:
    """The bayat-deploy image GitLab jobs run in: the one asked for, else the image of this bayat-deploy's own
    release when the action ref names that release (`v1` names 1.4.2). None: the jobs install with pip, and
    the user is told why."""
    import sys

    from bayat_deploy.distribution import this_release

    if requested:
        return requested
    release = this_release()
    if release and release.within(action_ref):
        return release.image
    why = (f"--action-ref {action_ref} is not this bayat-deploy's release ({release.version})" if release
           else "this bayat-deploy is not a release (no image stamped)")
    print(f"note: {why}: the GitLab jobs install bayat-deploy with pip; pass --image NAME:X.Y.Z@sha256:... to run "
          "them in a bayat-deploy image instead", file=sys.stderr)
    return None


def write(root: Path, files: dict[str, str]) -> list[Path]:
    from bayat_deploy.fsutil import write_atomic

    written = []
    for relative, text in files.items():
        path = root / relative
        try:
            write_atomic(path, text)
        except OSError as exc:
            raise BadInput(f"cannot write {path}: {exc.strerror or exc}") from None
        written.append(path)
    return written


def drift(root: Path, files: dict[str, str]) -> list[str]:
    """Unified diffs of every committed file that differs from what the policy renders (empty: no drift)."""
    problems = []
    for relative, text in files.items():
        path = root / relative
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if current is None:
            problems.append(f"{relative}: missing (the policy renders it)")
            continue
        diff = difflib.unified_diff(current.splitlines(keepends=True), text.splitlines(keepends=True),
                                    f"{relative} (committed)", f"{relative} (from the policy)")
        problems.append("".join(diff))
    return problems
