"""Layering a repository's policy over the standard.

Order, lowest first, for every environment E:
    standard `defaults` -> standard `environments.<E or E's tier>` -> user `defaults` -> user `environments.E`
and the environment's `target` is the top-level target with the environment's own settings on top.
Mappings merge key by key; lists and plain values replace; a mapping with a different `type:` replaces
the whole mapping (switching strategy from rolling to canary must not inherit `batch_size`).
"""

from __future__ import annotations

from bayat_deploy.errors import Diagnostic
from bayat_deploy.policy.model import TIERS
from bayat_deploy.policy.yamlpos import Mapping, Mark, Node, Scalar, Sequence

ENVIRONMENT_KEYS = ("defaults", "environments")


def adapt_standard(standard: Mapping, user: Mapping) -> Mapping:
    """The standard in the repository's own words: its `main` becomes the user's `default_branch`, its `v*`
    release-tag filters the user's `versioning.tag_prefix`. Only the standard's values change; what the
    user writes is layered on top as always."""
    import re

    from bayat_deploy.policy.model.fields import BRANCH_PATTERN, REF_PATTERN

    if not isinstance(user, Mapping):
        return standard
    branch = user.get("default_branch")
    versioning = user.get("versioning")
    prefix = versioning.get("tag_prefix") if isinstance(versioning, Mapping) else None
    renames: dict[str, tuple[str, Scalar]] = {}
    # a value that is not a valid branch or prefix is left to its own field's check, which names the user's line
    if _text(branch) not in (None, "main") and re.match(BRANCH_PATTERN, _text(branch)):
        renames["branches"] = renames["release_branches"] = ("main", branch)
    if _text(prefix) not in (None, "v") and re.match(REF_PATTERN, f"{_text(prefix)}*"):
        renames["tags"] = ("v*", Scalar(f"{prefix.value}*", prefix.mark))
    return _rename(standard, "", renames) if renames else standard


def _text(node: Node | None) -> str | None:
    return node.value if isinstance(node, Scalar) and isinstance(node.value, str) else None


def _rename(node: Node, key: str, renames: dict[str, tuple[str, Scalar]]) -> Node:
    if isinstance(node, Mapping):
        return Mapping(node.mark, {k: (m, _rename(v, k, renames)) for k, (m, v) in node.entries.items()})
    if isinstance(node, Sequence):
        return Sequence(node.mark, [_rename(item, key, renames) for item in node.items])
    if isinstance(node, Scalar) and key in renames and node.value == renames[key][0]:
        return renames[key][1]  # the user's value, and the user's line for any message about it
    return node


def merge(base: Node | None, override: Node | None) -> Node | None:
    if override is None:
        return base
    if base is None or not (isinstance(base, Mapping) and isinstance(override, Mapping)):
        return override
    if _type_of(base) is not None and _type_of(override) not in (None, _type_of(base)):
        return override
    result = Mapping(override.mark, dict(base.entries))
    for key, (key_mark, value) in override.entries.items():
        if key in base.entries:
            result.entries[key] = (key_mark, merge(base.entries[key][1], value))
        else:
            result.entries[key] = (key_mark, value)
    return result


def _type_of(node: Mapping) -> object:
    tag = node.get("type")
    return tag.value if isinstance(tag, Scalar) else None


def _without(node: Mapping, keys: tuple[str, ...]) -> Mapping:
    return Mapping(node.mark, {k: v for k, v in node.entries.items() if k not in keys})


def _mapping(node: Node | None, mark: Mark) -> Mapping:
    return node if isinstance(node, Mapping) else Mapping(mark)


def layer(standard: Mapping, user: Mapping, errors: list[Diagnostic]) -> Mapping:
    """The effective document: the user's file over the standard, environments fully expanded."""
    top = merge(_without(standard, ENVIRONMENT_KEYS), _without(user, ENVIRONMENT_KEYS))
    std_defaults = standard.get("defaults")
    std_envs = _mapping(standard.get("environments"), standard.mark)
    user_defaults = user.get("defaults")
    if user_defaults is not None and not isinstance(user_defaults, Mapping):
        errors.append(user_defaults.mark.diagnostic("expected a mapping of environment settings", rule="type"))
        user_defaults = None
    user_envs_node = user.get("environments")
    if user_envs_node is not None and not (isinstance(user_envs_node, Mapping) or _is_null(user_envs_node)):
        errors.append(user_envs_node.mark.diagnostic("expected a mapping of environment names to settings",
                                                            rule="type"))
        user_envs_node = None
    user_envs = _mapping(user_envs_node, user.mark)
    tier_base = {_tier_of(env): name for name, (_, env) in std_envs.entries.items()}

    merged_envs: list[tuple[int, int, str, Mark, Node]] = []
    for order, name in enumerate(dict.fromkeys([*std_envs.entries, *user_envs.entries])):
        user_entry = user_envs.entries.get(name)
        user_env = user_entry[1] if user_entry else None
        if user_entry and _is_null(user_env) and name in std_envs.entries:
            errors.append(user_entry[0].diagnostic(
                f"the standard requires the {name} environment; it cannot be removed (change its settings instead)",
                rule="standard-environments-stay"))
            user_env, user_entry = None, None  # carry on with the standard's settings so nothing else cascades
        if user_env is not None and not isinstance(user_env, Mapping):
            errors.append(user_env.mark.diagnostic("expected a mapping of environment settings", rule="type"))
            continue
        if name in std_envs.entries:
            base = std_envs.get(name)
        else:
            tier = _tier_of(user_env)
            if tier not in tier_base:
                where = user_env.get("tier").mark if user_env.get("tier") else user_env.mark.child("tier")
                errors.append(where.diagnostic(
                    f"a new environment needs a `tier` ({', '.join(TIERS)}) to know which standard settings apply",
                    rule="required-key"))
                continue
            base = std_envs.get(tier_base[tier])
        env = merge(merge(merge(std_defaults, base), user_defaults), user_env)
        env = _with_target(env, top.get("target"))
        key_mark = user_entry[0] if user_entry else std_envs.entries[name][0]
        rank = TIERS.index(_tier_of(env)) if _tier_of(env) in TIERS else len(TIERS)
        merged_envs.append((rank, order, name, key_mark, env))

    envs = Mapping(user_envs.mark if user_envs_node is not None else std_envs.mark)
    for _, _, name, key_mark, env in sorted(merged_envs, key=lambda item: item[:2]):  # promotion order by tier
        envs.entries[name] = (key_mark, env)
    top.entries["environments"] = (user.entries.get("environments", (envs.mark, None))[0], envs)
    return top


def _with_target(env: Mapping, top_target: Node | None) -> Mapping:
    own = env.get("target")
    if own is None and top_target is None:
        return env
    effective = merge(top_target, own)
    key_mark = env.entries["target"][0] if "target" in env.entries else effective.mark
    result = Mapping(env.mark, dict(env.entries))
    result.entries["target"] = (key_mark, effective)
    return result


def _tier_of(env: Node | None) -> object:
    if isinstance(env, Mapping):
        tier = env.get("tier")
        if isinstance(tier, Scalar):
            return tier.value
    return None


def _is_null(node: Node | None) -> bool:
    return isinstance(node, Scalar) and node.value is None
