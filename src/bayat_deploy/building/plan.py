"""What a build or publish run is about: the version, the selected artifacts and their names."""

from __future__ import annotations

from bayat_deploy.errors import BadInput
from bayat_deploy.policy.model.stages import Artifact, DockerImage


def version_for(session, explicit: str | None) -> str:
    """`--version` (checked to be SemVer), else the version computed from the repository's history."""
    from bayat_deploy.versioning import resolve_version

    return resolve_version(session, explicit)


def artifact_name(policy, artifact: Artifact) -> str:
    if isinstance(artifact, DockerImage):
        return artifact.name or policy.project
    return artifact.name


def matches(policy, artifact: Artifact, selectors: list[str] | None) -> bool:
    if not selectors:
        return True
    name = artifact_name(policy, artifact)
    return any(s in (artifact.type, name, name.rsplit("/", 1)[-1]) for s in selectors)


def select(policy, selectors: list[str] | None) -> list[Artifact]:
    """The policy's artifacts that `--only` selects (all without it); BadInput when a selector matches none."""
    for selector in selectors or []:
        if not any(matches(policy, a, [selector]) for a in policy.artifacts):
            known = ", ".join(f"{artifact_name(policy, a)} ({a.type})" for a in policy.artifacts) or "none"
            raise BadInput(f"--only {selector}: no artifact of that type or name in the policy (artifacts: {known})")
    return [a for a in policy.artifacts if matches(policy, a, selectors)]


def released_versions(session) -> list[str]:
    """Versions released so far: every release tag in the repository, without its prefix."""
    from bayat_deploy.git import Git

    git = Git(session.root)
    if not git.is_repository():
        return []
    prefix = session.policy.versioning.tag_prefix
    return [tag[len(prefix):] for tag in git.tags(prefix + "*", merged=False)]


def source_url(session) -> str:
    """The source repository for the OCI label: the policy's `source`, the CI's repository URL, else git's origin."""
    if session.policy.source:
        return str(session.policy.source)
    if session.context.repository_url:
        return session.context.repository_url
    from bayat_deploy.git import Git

    git = Git(session.root)
    return git.run("remote", "get-url", "origin", check=False) if git.is_repository() else ""
