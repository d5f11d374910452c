"""Loading a policy: read, layer over the standard, convert to typed objects, check the rules. Once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from bayat_deploy.errors import Diagnostic, PolicyError
from bayat_deploy.policy.convert import Context, convert
from bayat_deploy.policy.merge import adapt_standard, layer
from bayat_deploy.policy.model import Policy
from bayat_deploy.policy.resolve import resolve
from bayat_deploy.policy.rules import check_rules
from bayat_deploy.policy.yamlpos import Mapping, load_file, load_text

DEFAULT_POLICY = Path(".bayat/deploy.yml")
STANDARD_NAME = "<standard>"


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy with where it came from and the warnings it produced."""

    policy: Policy
    path: Path
    warnings: tuple[Diagnostic, ...] = ()

    @property
    def root(self) -> Path:
        """The repository the policy belongs to (the folder holding `.bayat/`)."""
        parent = self.path.resolve().parent
        return parent.parent if parent.name == ".bayat" else parent


@lru_cache(maxsize=1)
def standard_document() -> Mapping:
    text = resources.files("bayat_deploy.policy").joinpath("standard.yml").read_text(encoding="utf-8")
    node = load_text(text, STANDARD_NAME)
    assert isinstance(node, Mapping)
    return node


def load_policy(path: Path | str | None = None) -> LoadedPolicy:
    """Read and validate the policy; raise PolicyError with every problem found."""
    file = Path(path) if path is not None else DEFAULT_POLICY
    user = load_file(file)
    if user is None:
        raise PolicyError([Diagnostic(str(file), 1, 1, "project",
                                      "the policy is empty; it needs at least `project: <name>`", rule="shape")])
    if not isinstance(user, Mapping):
        raise PolicyError([user.mark.diagnostic(
            "the policy must be a mapping (key: value), e.g. `project: my-service`", rule="shape")])
    return build_policy(user, file)


def build_policy(user: Mapping, file: Path) -> LoadedPolicy:
    errors: list[Diagnostic] = []
    document = layer(adapt_standard(standard_document(), user), user, errors)
    ctx = Context()
    policy = convert(Policy, document, "", ctx)
    errors.extend(ctx.diagnostics)
    if errors:
        # Keep going with what did convert, so one run reports every problem in the file.
        if isinstance(policy, Policy):
            errors.extend(d for d in check_rules(policy, ctx, str(file), partial=True) if d.level == "error")
        raise PolicyError(_unique(errors))
    policy = resolve(policy)
    findings = check_rules(policy, ctx, str(file))
    if any(d.level == "error" for d in findings):  # the errors alone: warnings wait until the file is valid
        raise PolicyError(_unique([d for d in findings if d.level == "error"]))
    return LoadedPolicy(policy, file, tuple(_unique(findings)))


def _unique(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Errors under `defaults:` are found once per environment; report each place once."""
    return list(dict.fromkeys(diagnostics))
