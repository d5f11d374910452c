"""The only place that knows which CI system it runs in.

Stage code calls `platform.set_output`, `platform.summary` and `platform.annotate`; the adapter
turns them into GitHub outputs / step summary / workflow commands, GitLab dotenv and report files,
or plain terminal output on a laptop.
"""

from __future__ import annotations

from pathlib import Path

from bayat_deploy.context import RunContext
from bayat_deploy.platform.base import Annotation, Platform


def for_context(context: RunContext, root: Path) -> Platform:
    if context.platform == "github":
        from bayat_deploy.platform.github import GitHub

        return GitHub(context)
    if context.platform == "gitlab":
        from bayat_deploy.platform.gitlab import GitLab

        return GitLab(context, root)
    from bayat_deploy.platform.local import Local

    return Local(context)


__all__ = ["Annotation", "Platform", "for_context"]
