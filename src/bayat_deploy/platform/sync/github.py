"""Apply a `desired.GitHubPlan` to a repository's environments through the REST API.

Three phases, so that nothing is half-written because of a typo in the policy: resolve every team
and user to its id (all unknown names reported at once), read the repository's environments and
their branch policies, then write only what differs - `PUT` an environment whose wait timer,
reviewers, prevent-self-review or branch-policy switch differ, `POST`/`DELETE` branch and tag
patterns until the set is exactly `deploy_from`. A dry run stops after the comparison.
"""

from __future__ import annotations

from bayat_deploy.platform.sync import Change, SyncResult, Unresolved
from bayat_deploy.platform.sync.desired import GitHubEnvironment, GitHubPlan


def team_ref(name: str, owner: str) -> tuple[str, str]:
    """`qa` -> (owner, qa); `acme/qa` -> (acme, qa). Teams live in organizations, found by slug."""
    org, _, slug = name.rpartition("/")
    return (org or owner), slug.lower()


def resolve(api, owner: str, plan: GitHubPlan) -> tuple[dict, dict]:
    """{(org, slug): team} and {login: user}, or Unresolved naming every name that is not there."""
    teams: dict[tuple[str, str], dict] = {}
    users: dict[str, dict] = {}
    problems: list[str] = []
    for env in plan.environments:
        for group in env.groups:
            ref = team_ref(group, owner)
            if ref in teams:
                continue
            found = api.team(*ref)
            if found is None:
                problems.append(f"team {ref[1]!r} does not exist in the organization {ref[0]} or the token cannot "
                                f"see it (GET /orgs/{ref[0]}/teams/{ref[1]}: 404; named in {env.where})")
                teams[ref] = {}
            else:
                teams[ref] = found
        for login in env.users:
            if login in users:
                continue
            found = api.user(login)
            if found is None:
                problems.append(f"user {login!r} does not exist on GitHub (GET /users/{login}: 404; named in "
                                f"{env.where})")
                users[login] = {}
            else:
                users[login] = found
    if problems:
        raise Unresolved(problems)
    return teams, users


def _reviewers(env: GitHubEnvironment, owner: str, teams: dict, users: dict) -> dict[tuple[str, int], str]:
    found = {("Team", teams[team_ref(g, owner)]["id"]): f"team {team_ref(g, owner)[1]}" for g in env.groups}
    found.update({("User", users[u]["id"]): f"user {u}" for u in env.users})
    return found


def _current(existing: dict | None) -> dict:
    """The settings this sync manages, as GitHub reports them (defaults for a missing environment)."""
    state = {"wait_timer": 0, "prevent_self_review": False, "reviewers": {}, "branch_policy": None}
    for rule in (existing or {}).get("protection_rules") or []:
        if rule.get("type") == "wait_timer":
            state["wait_timer"] = rule.get("wait_timer") or 0
        elif rule.get("type") == "required_reviewers":
            state["prevent_self_review"] = bool(rule.get("prevent_self_review"))
            for item in rule.get("reviewers") or []:
                reviewer = item.get("reviewer") or {}
                label = (f"team {reviewer.get('slug')}" if item.get("type") == "Team"
                         else f"user {reviewer.get('login')}")
                state["reviewers"][(item.get("type"), reviewer.get("id"))] = label
    policy = (existing or {}).get("deployment_branch_policy")
    if policy:
        state["branch_policy"] = {"protected_branches": bool(policy.get("protected_branches")),
                                  "custom_branch_policies": bool(policy.get("custom_branch_policies"))}
    return state


def _branch_text(policy: dict | None) -> str:
    if policy is None:
        return "all branches"
    return "selected branches and tags" if policy.get("custom_branch_policies") else "protected branches"


def _labels(reviewers: dict) -> str:
    return ", ".join(sorted(reviewers.values())) or "none"


def sync(api, repository: str, plan: GitHubPlan, *, dry_run: bool) -> SyncResult:
    owner = repository.split("/", 1)[0]
    result = SyncResult("github", repository, dry_run, notes=list(plan.notes),
                        desired=[env.as_dict() for env in plan.environments])
    teams, users = resolve(api, owner, plan)
    existing = {env["name"]: env for env in api.environments(repository)}
    steps = []
    for env in plan.environments:
        steps.append(_compare(api, repository, env, existing.get(env.name), owner, teams, users, result))
    managed = {env.name for env in plan.environments} | {env.environment for env in plan.environments}
    for name in sorted(existing):
        if name not in managed and any(name.startswith(f"{source}-") for source in managed):
            result.notes.append(f"{name} exists but the policy no longer uses it: left in place (delete it by hand "
                                "if nothing else needs it)")
    return result.apply(steps)


def _compare(api, repository, env: GitHubEnvironment, existing, owner, teams, users, result: SyncResult):
    """Record what differs for one environment; return the function that writes it."""
    now = _current(existing)
    reviewers = _reviewers(env, owner, teams, users)
    wanted = {"wait_timer": env.wait_timer, "prevent_self_review": env.prevent_self_review if reviewers else False,
              "reviewers": reviewers, "branch_policy": env.branch_policy}
    changes: list[Change] = []
    action = "create" if existing is None else "update"
    if existing is None:
        changes.append(Change(env.name, "environment", "-", f"{env.purpose} environment of {env.environment}",
                              "create"))
    if set(now["reviewers"]) != set(reviewers):
        changes.append(Change(env.name, "reviewers", _labels(now["reviewers"]), _labels(reviewers), action))
    if now["wait_timer"] != wanted["wait_timer"]:
        changes.append(Change(env.name, "wait timer", f"{now['wait_timer']} min", f"{wanted['wait_timer']} min",
                              action))
    if reviewers and now["prevent_self_review"] != wanted["prevent_self_review"]:
        changes.append(Change(env.name, "prevent self-review", str(now["prevent_self_review"]).lower(),
                              str(wanted["prevent_self_review"]).lower(), action))
    if now["branch_policy"] != wanted["branch_policy"]:
        changes.append(Change(env.name, "deployment branches", _branch_text(now["branch_policy"]),
                              _branch_text(wanted["branch_policy"]), action))
    put_changes = list(changes)
    body = {"wait_timer": wanted["wait_timer"], "prevent_self_review": wanted["prevent_self_review"],
            "reviewers": [{"type": kind, "id": ident} for kind, ident in sorted(reviewers)],
            "deployment_branch_policy": wanted["branch_policy"]}

    current_patterns: dict[tuple[str, str], int] = {}
    if existing is not None and (now["branch_policy"] or {}).get("custom_branch_policies"):
        for item in api.branch_policies(repository, env.name):
            current_patterns[(item.get("name"), item.get("type") or "branch")] = item.get("id")
    wanted_patterns = env.patterns if env.branch_policy else frozenset()
    creates = sorted(wanted_patterns - set(current_patterns))
    deletes = sorted(set(current_patterns) - wanted_patterns) if env.branch_policy else []
    pattern_changes = ([(Change(env.name, f"{kind} pattern", "-", name, "create"), ("create", name, kind))
                        for name, kind in creates]
                       + [(Change(env.name, f"{kind} pattern", name, "-", "delete"), ("delete", name, kind))
                          for name, kind in deletes])
    changes += [change for change, _ in pattern_changes]
    if changes:
        result.changes.extend(changes)
    else:
        result.unchanged.append(env.name)

    def write() -> None:
        if put_changes:
            api.put_environment(repository, env.name, body)
            for change in put_changes:
                change.done = True
        for change, (verb, name, kind) in pattern_changes:
            if verb == "create":
                api.create_branch_policy(repository, env.name, name, kind)
            else:
                api.delete_branch_policy(repository, env.name, current_patterns[(name, kind)])
            change.done = True

    return write
