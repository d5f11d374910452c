"""Apply the policy to a GitLab project: protected environments with approval rules, and deploy freeze
periods that are the complement of the enforced maintenance windows.

Like the GitHub applier: resolve every group and user first (all unknown names at once), read the
project's protected environments and freeze periods, then write only what differs.

* A missing protected environment is created (`POST`) with the policy's approval rules and a deploy
  access level (Maintainers for production-tier environments, Developers otherwise; the policy does
  not say who may deploy, so an existing environment's deploy access levels are left as they are).
* An existing one gets one `PUT` with only the approval-rule entries that differ: new rules without
  `id`, changed counts with `id`, rules the policy no longer has with `_destroy: true`.
* Freeze periods are made exactly the computed set (`--keep-extra-freezes` leaves others alone, such
  as a holiday freeze added by hand): an unneeded period is rewritten (`PUT`) into a missing one
  before anything is created or deleted.
"""

from __future__ import annotations

from bayat_deploy.platform.sync import Change, SyncResult, Unresolved
from bayat_deploy.platform.sync.desired import DEVELOPER, MAINTAINER, GitLabEnvironment
from bayat_deploy.platform.sync.freeze import FreezePlan

ACCESS = {DEVELOPER: "Developers + Maintainers", MAINTAINER: "Maintainers", 60: "Admins"}


def group_candidates(name: str, namespace: str) -> list[str]:
    """`qa` in project acme/shop -> acme/qa, then qa (a bare name is a group beside the project, as a bare
    team name on GitHub is a team of the repository's organization); a path with a slash is taken as is."""
    if "/" in name or not namespace:
        return [name]
    return [f"{namespace}/{name}", name]


def resolve(api, environments: tuple[GitLabEnvironment, ...], namespace: str) -> dict[tuple[str, str], dict]:
    """{(kind, name): {id, label}}, or Unresolved naming every group and user that is not there."""
    found: dict[tuple[str, str], dict] = {}
    problems: list[str] = []
    for env in environments:
        for rule in env.rules:
            key = (rule.kind, rule.principal)
            if key in found:
                continue
            if rule.kind == "group":
                candidates = group_candidates(rule.principal, namespace)
                group = next((g for g in (api.group(path) for path in candidates) if g), None)
                if group is None:
                    problems.append(f"group {rule.principal!r} not found (tried {', '.join(candidates)}; named in "
                                    f"{rule.where})")
                    found[key] = {}
                else:
                    found[key] = {"id": group["id"], "label": f"group {group.get('full_path') or rule.principal}"}
            else:
                user = api.user_by_username(rule.principal)
                if user is None:
                    problems.append(f"user {rule.principal!r} not found (GET /users?username={rule.principal}; "
                                    f"named in {rule.where})")
                    found[key] = {}
                else:
                    found[key] = {"id": user["id"], "label": f"user {user.get('username') or rule.principal}"}
    if problems:
        raise Unresolved(problems)
    return found


def _rule_text(label: str, count: int) -> str:
    return f"{label}, {count} approval{'s' if count != 1 else ''}"


def _existing_rules(protected: dict) -> dict[tuple[str, int], dict]:
    rules = {}
    for rule in protected.get("approval_rules") or []:
        if rule.get("group_id") is not None:
            key = ("group", rule["group_id"])
        elif rule.get("user_id") is not None:
            key = ("user", rule["user_id"])
        else:
            key = ("access", rule.get("access_level"))
        rules[key] = rule
    return rules


def sync(api, project: str, environments: tuple[GitLabEnvironment, ...], freeze: FreezePlan | None, *,
         namespace: str, dry_run: bool, keep_extra_freezes: bool = False) -> SyncResult:
    result = SyncResult("gitlab", project, dry_run, desired=[env.as_dict() for env in environments])
    bare = any(rule.kind == "group" and "/" not in rule.principal for env in environments for rule in env.rules)
    if bare and not namespace:
        namespace = ((api.project(project) or {}).get("namespace") or {}).get("full_path") or ""
    principals = resolve(api, environments, namespace)
    existing = {env["name"]: env for env in api.protected_environments(project)}
    steps = [_compare_environment(api, project, env, existing.get(env.name), principals, result)
             for env in environments]
    if freeze is None:
        result.notes.append("freeze periods not synced (--no-freeze)")
    else:
        result.desired.append({"freeze_periods": [p.as_api() | {"description": p.description}
                                                  for p in freeze.periods],
                               "from_windows_of": list(freeze.sources)})
        result.notes.extend(freeze.notes)
        if freeze.periods:
            result.notes.append(f"deploy freeze outside the enforced windows of {', '.join(freeze.sources)}: "
                                + "; ".join(period.description for period in freeze.periods))
            result.notes.append("freeze periods apply to the whole project; the pipeline reads $CI_DEPLOY_FREEZE in "
                                f"the deploy jobs of {', '.join(freeze.sources)}")
        steps.append(_compare_freezes(api, project, freeze, keep_extra_freezes, result))
    return result.apply(steps)


def _compare_environment(api, project, env: GitLabEnvironment, protected, principals, result: SyncResult):
    wanted = {(rule.kind, principals[(rule.kind, rule.principal)]["id"]): rule for rule in env.rules}
    changes: list[Change] = []
    if protected is None:
        body = {"name": env.name, "deploy_access_levels": [{"access_level": env.deploy_access_level}],
                "approval_rules": [{f"{kind}_id": ident, "required_approvals": rule.required_approvals}
                                   for (kind, ident), rule in wanted.items()]}
        changes.append(Change(env.name, "protected environment", "-",
                              f"deploy: {ACCESS[env.deploy_access_level]}", "create"))
        for (kind, ident), rule in wanted.items():
            label = principals[(rule.kind, rule.principal)]["label"]
            changes.append(Change(env.name, f"approval rule {rule.rule}", "-",
                                  _rule_text(label, rule.required_approvals), "create"))
        result.changes.extend(changes)

        def create() -> None:
            api.protect_environment(project, body)
            for change in changes:
                change.done = True
        return create

    current = _existing_rules(protected)
    entries = []
    for key, rule in wanted.items():
        label = principals[(rule.kind, rule.principal)]["label"]
        have = current.get(key)
        if have is None:
            entries.append({f"{key[0]}_id": key[1], "required_approvals": rule.required_approvals})
            changes.append(Change(env.name, f"approval rule {rule.rule}", "-",
                                  _rule_text(label, rule.required_approvals), "create"))
        elif have.get("required_approvals") != rule.required_approvals:
            entries.append({"id": have["id"], f"{key[0]}_id": key[1], "required_approvals": rule.required_approvals})
            changes.append(Change(env.name, f"approval rule {rule.rule}",
                                  _rule_text(label, have.get("required_approvals") or 0),
                                  _rule_text(label, rule.required_approvals), "update"))
    for key, have in current.items():
        if key not in wanted:
            entries.append({"id": have["id"], "_destroy": True})
            label = have.get("access_level_description") or f"{key[0]} {key[1]}"
            changes.append(Change(env.name, "approval rule", _rule_text(label, have.get("required_approvals") or 0),
                                  "-", "delete"))
    if not changes:
        result.unchanged.append(env.name)
        return lambda: None
    result.changes.extend(changes)

    def update() -> None:
        api.update_protected_environment(project, env.name, {"approval_rules": entries})
        for change in changes:
            change.done = True
    return update


def _compare_freezes(api, project, freeze: FreezePlan, keep_extra: bool, result: SyncResult):
    current = api.freeze_periods(project)
    wanted = {period.key: period for period in freeze.periods}
    have = {(p.get("freeze_start"), p.get("freeze_end"), p.get("cron_timezone") or "UTC"): p for p in current}
    missing = [wanted[key] for key in wanted if key not in have]
    extra = [] if keep_extra else [have[key] for key in have if key not in wanted]
    plan: list[tuple[Change, tuple]] = []
    for period in missing:
        if extra:
            old = extra.pop(0)
            plan.append((Change("freeze periods", "freeze period", _freeze_text(old), _freeze_text(period.as_api()),
                                "update"), ("update", old["id"], period)))
        else:
            plan.append((Change("freeze periods", "freeze period", "-", _freeze_text(period.as_api()), "create"),
                         ("create", None, period)))
    for old in extra:
        plan.append((Change("freeze periods", "freeze period", _freeze_text(old), "-", "delete"),
                     ("delete", old["id"], None)))
    if keep_extra and len(have) > len(set(have) & set(wanted)):
        result.notes.append(f"{len(set(have) - set(wanted))} freeze period(s) the policy does not produce were "
                            "left in place (--keep-extra-freezes)")
    if not plan:
        result.unchanged.append("freeze periods")
        return lambda: None
    result.changes.extend(change for change, _ in plan)

    def write() -> None:
        for change, (verb, ident, period) in plan:
            if verb == "create":
                api.create_freeze_period(project, period.as_api())
            elif verb == "update":
                api.update_freeze_period(project, ident, period.as_api())
            else:
                api.delete_freeze_period(project, ident)
            change.done = True
    return write


def _freeze_text(period: dict) -> str:
    return f"{period.get('freeze_start')} until {period.get('freeze_end')} ({period.get('cron_timezone') or 'UTC'})"
