"""A session for the version commands, which must work in any git repository, with or without a policy.

Where the policy comes from: `--policy` when given (it must exist); else `<repo>/.bayat/deploy.yml`
(`--repo` defaults to the current directory); else the standard's defaults alone, as if the repository
had the minimal policy `project: <directory name>`. The loader does the same work in every case.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from bayat_deploy.context import RunContext
from bayat_deploy.errors import BadInput
from bayat_deploy.platform import for_context
from bayat_deploy.policy.loader import DEFAULT_POLICY, build_policy, load_policy
from bayat_deploy.policy.yamlpos import load_text
from bayat_deploy.session import Session

DEFAULTS_NAME = "<standard defaults>"


def project_name(directory: Path) -> str:
    """A valid policy project name made from a directory name (`My_Repo` -> `my-repo`)."""
    name = re.sub(r"[^a-z0-9-]+", "-", directory.name.lower()).strip("-")[:63].strip("-")
    return name or "project"


def open_repo_session(policy: str | Path | None, repo: str | Path | None) -> Session:
    directory = Path(repo) if repo is not None else Path.cwd()
    if not directory.is_dir():
        raise BadInput(f"--repo {directory}: not a directory")
    directory = directory.resolve()
    if policy is not None:
        loaded = load_policy(policy)
    elif (directory / DEFAULT_POLICY).is_file():
        loaded = load_policy(directory / DEFAULT_POLICY)
    else:
        minimal = load_text(f"project: {project_name(directory)}\n", DEFAULTS_NAME)
        loaded = build_policy(minimal, directory / DEFAULT_POLICY)
    for warning in loaded.warnings:
        print(warning.format(), file=sys.stderr)
    context = RunContext.from_environment(cwd=directory)
    return Session(loaded, context, for_context(context, loaded.root))
