"""Everything a command needs, built once per invocation: the policy, the run context, the platform."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from bayat_deploy import redact
from bayat_deploy.context import RunContext
from bayat_deploy.platform import Platform, for_context
from bayat_deploy.policy.loader import LoadedPolicy, load_policy
from bayat_deploy.policy.model import Policy


@dataclass
class Session:
    loaded: LoadedPolicy
    context: RunContext
    platform: Platform

    @classmethod
    def open(cls, policy_path: str | Path | None = None) -> "Session":
        import sys

        loaded = load_policy(policy_path)
        for warning in loaded.warnings:
            print(warning.format(), file=sys.stderr)
        context = RunContext.from_environment(cwd=loaded.root)
        platform = for_context(context, loaded.root)
        redact.announce_to(platform.mask)
        return cls(loaded, context, platform)

    @property
    def policy(self) -> Policy:
        return self.loaded.policy

    @property
    def root(self) -> Path:
        """The repository: stage commands run relative to it, wherever they were started."""
        return self.loaded.root

    @cached_property
    def evidence_dir(self) -> Path:
        return self.root / self.policy.evidence_dir

    @cached_property
    def reports_dir(self) -> Path:
        """Machine-readable reports for the CI platform (SARIF, JUnit, GitLab scanning reports)."""
        path = self.root / ".bayat" / "reports"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @cached_property
    def policy_fingerprint(self) -> str:
        from bayat_deploy.policy.dump import fingerprint

        return fingerprint(self.policy)


def open_session(args) -> Session:
    """The session for a parsed command line (`--policy` may come before or after the command)."""
    return Session.open(getattr(args, "policy", None))
