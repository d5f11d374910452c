"""`bayat-deploy environments sync --platform github|gitlab`: create or update the platform's environments
so that the approvals the pipeline relies on are enforced by the platform itself.

GitHub: every environment of the policy, the chained approval environments of multi-party approvals
(`staging-qa`) and the emergency environments (`production-emergency`), with required reviewers,
prevent self-review, wait timer and deployment branch/tag policies. GitLab: protected environments
with one approval rule per policy rule, and deploy freeze periods that are the complement of the
enforced maintenance windows.

Only what differs is written, so a second run changes nothing and says so; `--dry-run` reads and
compares but writes nothing. Exit 0 when the platform matches the policy (or would, for a dry run),
1 when a name does not resolve or the API refused a change (nothing is written before every name
resolves), 2 for bad input (no token, a policy the platform cannot express). Evidence:
`environments.json`.
"""

from __future__ import annotations

import argparse

from bayat_deploy import argtypes


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="environments_command", metavar="ACTION", required=True)
    sync = sub.add_parser(
        "sync", help="create/update the CI platform's environments from the policy (reviewers, branch policies, "
                     "GitLab approval rules and freeze periods)",
        description="Make the platform's environments match the policy; only differences are written.")
    sync.add_argument("--platform", choices=("github", "gitlab"),
                      help="the platform to configure (default: the CI system this runs in)")
    sync.add_argument("--dry-run", action="store_true",
                      help="read the platform and print what would change, without writing anything")
    sync.add_argument("--repository", metavar="OWNER/REPO", type=argtypes.owner_repo,
                      help="GitHub: the repository (default: $GITHUB_REPOSITORY)")
    sync.add_argument("--project", metavar="ID|PATH", type=argtypes.project,
                      help="GitLab: the project id or full path (default: $CI_PROJECT_ID)")
    sync.add_argument("--api-url", metavar="URL", type=argtypes.url,
                      help="API base URL (default: $GITHUB_API_URL or https://api.github.com; $CI_API_V4_URL or "
                           "https://gitlab.com/api/v4)")
    sync.add_argument("--no-freeze", action="store_true",
                      help="GitLab: leave the project's deploy freeze periods alone")
    sync.add_argument("--keep-extra-freezes", action="store_true",
                      help="GitLab: keep freeze periods the policy does not produce (e.g. a holiday freeze added by "
                           "hand); by default the project's freeze periods become exactly the computed ones")
    sync.add_argument("--policy", metavar="PATH", type=argtypes.path_text, default=argparse.SUPPRESS,
                      help="policy file (default: .bayat/deploy.yml)")
    sync.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                      help="print tracebacks and debug output")
    sync.set_defaults(handler=run_sync)


def run_sync(args: argparse.Namespace) -> int:
    from bayat_deploy.errors import BadInput
    from bayat_deploy.platform.sync import Unresolved
    from bayat_deploy.session import open_session
    from bayat_deploy.stages.run import StageRun

    session = open_session(args)
    context = session.context
    platform = args.platform or (context.platform if context.platform in ("github", "gitlab") else None)
    if platform is None:
        raise BadInput("say which platform to configure: --platform github or --platform gitlab")
    if platform == "github":
        target, apply = _github(session, args)
    else:
        target, apply = _gitlab(session, args)
    run = StageRun(session, "environments", inputs={"platform": platform, "target": target,
                                                   "dry_run": args.dry_run})
    try:
        result = apply()
    except Unresolved as exc:
        for problem in exc.problems:
            run.finding(id="environments.unresolved", severity="HIGH", tool="bayat-deploy", blocking=True,
                        title=problem)
        run.details.update(platform=platform, target=target, dry_run=args.dry_run, unresolved=exc.problems)
        text = "\n".join(f"- {problem}" for problem in exc.problems)
        print(text)
        return run.finish(False, f"nothing written: {len(exc.problems)} name(s) in the policy do not resolve on "
                                 f"{platform}", text)
    table = result.markdown()
    print(table)
    run.details.update(platform=platform, target=target, dry_run=args.dry_run,
                       changes=[c.as_dict() for c in result.changes], unchanged=result.unchanged,
                       notes=result.notes, desired=result.desired, error=result.error)
    run.summary.update(changes=len(result.changes), applied=result.applied, unchanged=len(result.unchanged),
                       dry_run=args.dry_run)
    run.output("changes", str(len(result.changes)))
    if result.error:
        run.finding(id="environments.api", severity="HIGH", tool="bayat-deploy", blocking=True, title=result.error)
        return run.finish(False, f"stopped after {result.applied} of {len(result.changes)} change(s) on {target}: "
                                 f"{result.error}", table)
    if not result.changes:
        headline = f"nothing to change: {target} already matches the policy ({len(result.unchanged)} checked)"
    elif args.dry_run:
        headline = f"dry run: {len(result.changes)} change(s) would be made on {target}; nothing written"
    else:
        touched = list(dict.fromkeys(change.target for change in result.changes if change.done))
        headline = f"{result.applied} change(s) made on {target}: {', '.join(touched)}"
    return run.finish(True, headline, table)


def _github(session, args):
    from bayat_deploy.errors import BadInput
    from bayat_deploy.platform.github_api import GitHubApi
    from bayat_deploy.platform.sync import desired
    from bayat_deploy.platform.sync import github as applier

    context = session.context
    repository = (args.repository or context.get("GITHUB_REPOSITORY")).strip()
    if repository.count("/") != 1 or not all(repository.split("/")):
        raise BadInput(f"--repository: expected OWNER/REPO, got {repository!r}" if repository else
                       "no repository: pass --repository OWNER/REPO (or run in GitHub Actions, which sets "
                       "$GITHUB_REPOSITORY)")
    plan = desired.github(session.policy)  # exit 2 before any request when the policy cannot be expressed
    token = context.get("GITHUB_TOKEN") or context.get("GH_TOKEN")
    if not token:
        raise BadInput("GITHUB_TOKEN is not set: environments sync needs a token with the `Administration: write` "
                       "repository permission and `Members: read` on the organization (a GitHub App or fine-grained "
                       "token; classic: `repo` and `read:org`). A workflow's own GITHUB_TOKEN cannot manage "
                       "environments: pass a secret, e.g. env: GITHUB_TOKEN: ${{ secrets.ENVIRONMENTS_TOKEN }}")
    api = GitHubApi(args.api_url or context.get("GITHUB_API_URL") or "https://api.github.com", token)
    return repository, lambda: applier.sync(api, repository, plan, dry_run=args.dry_run)


def _gitlab(session, args):
    from bayat_deploy.errors import BadInput
    from bayat_deploy.platform.gitlab_api import GitLabApi
    from bayat_deploy.platform.sync import desired
    from bayat_deploy.platform.sync import freeze as freezes
    from bayat_deploy.platform.sync import gitlab as applier

    context = session.context
    project = (args.project or context.get("CI_PROJECT_ID") or context.get("CI_PROJECT_PATH")).strip()
    if not project:
        raise BadInput("no project: pass --project ID (or the full path, group/project), or run in GitLab CI, "
                       "which sets $CI_PROJECT_ID")
    environments = desired.gitlab(session.policy)
    freeze = None if args.no_freeze else freezes.plan(session.policy)
    token = context.get("GITLAB_TOKEN") or context.get("BAYAT_GITLAB_TOKEN")
    if not token:
        job = " (CI_JOB_TOKEN cannot manage protected environments or freeze periods)" if context.get(
            "CI_JOB_TOKEN") else ""
        raise BadInput(f"GITLAB_TOKEN is not set{job}: environments sync needs a project or personal access token "
                       "with the `api` scope and the Maintainer role, e.g. a masked CI/CD variable GITLAB_TOKEN")
    namespace = (project.rpartition("/")[0] if "/" in project else context.get("CI_PROJECT_NAMESPACE"))
    api = GitLabApi(args.api_url or context.get("CI_API_V4_URL") or "https://gitlab.com/api/v4", token)
    return f"project {project}", lambda: applier.sync(api, project, environments, freeze, namespace=namespace,
                                         dry_run=args.dry_run, keep_extra_freezes=args.keep_extra_freezes)
