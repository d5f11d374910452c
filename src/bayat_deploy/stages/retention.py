"""`bayat-deploy retention`: apply the policy's retention rules to every image repository it publishes to."""

from __future__ import annotations

from bayat_deploy import argtypes
from bayat_deploy.errors import BayatError
from bayat_deploy.session import open_session


def configure(parser) -> None:
    parser.add_argument("--dry-run", action="store_true",
                        help="list what would be deleted and why, delete nothing")
    parser.add_argument("--only", action="append", metavar="NAME", type=argtypes.word,
                        help="only this image (name as in the policy; repeatable; default: every docker-image)")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    from bayat_deploy.building.plan import artifact_name, select
    from bayat_deploy.registry import retention
    from bayat_deploy.registry.client import RegistryClient
    from bayat_deploy.registry.credentials import MissingCredentials, registry_of, require_credentials
    from bayat_deploy.registry.reference import image_repository
    from bayat_deploy.stages.run import StageRun

    session = open_session(args)
    policy = session.policy
    images = [a for a in select(policy, args.only) if a.type == "docker-image"]
    rules = policy.retention
    run = StageRun(session, "retention", inputs={"dry_run": args.dry_run, "only": args.only or [],
                                                  "keep_prereleases": rules.keep_prereleases,
                                                  "keep_days": rules.keep_days})
    repositories, rows = [], []
    for artifact in images:
        name = artifact_name(policy, artifact)
        registry = registry_of(policy, artifact.registry)
        repository = image_repository(registry.url, name)
        try:
            credentials = require_credentials(artifact.registry, registry, session.context)
        except MissingCredentials as exc:
            run.finding(id=f"retention/credentials/{artifact.registry}", severity="HIGH", tool="retention",
                        blocking=True, title=str(exc).replace("Refusing to push anonymously.", "").strip())
            continue
        client = RegistryClient(repository.host, username=credentials.username, password=credentials.password,
                                insecure=registry.insecure)
        try:
            decisions = retention.plan(retention.inventory(client, repository.repository), rules)
            deleted = [] if args.dry_run else retention.apply(client, repository.repository, decisions)
        except BayatError as exc:
            run.finding(id=f"retention/{name}", severity="HIGH", tool="retention", blocking=True,
                        title=f"retention of {repository.name} failed: {exc}")
            continue
        doomed = [d for d in decisions if d.delete]
        for decision in doomed:
            verb = "would delete" if args.dry_run else "deleted"
            print(f"{verb} {repository.name}:{decision.tag} ({decision.digest[:19]}, branch {decision.branch}): "
                  f"{decision.reason}")
            rows.append((repository.name, decision))
        repositories.append({"repository": repository.name, "tags": len(decisions),
                             "delete": [d.as_dict() for d in doomed],
                             "keep": [d.as_dict() for d in decisions if not d.delete], "deleted_digests": deleted})
    run.details["repositories"] = repositories
    tags_doomed = sum(len(r["delete"]) for r in repositories)
    digests = sum(len({d["digest"] for d in r["delete"]}) for r in repositories)
    run.summary.update(repositories=len(repositories), tags_deleted=0 if args.dry_run else tags_doomed,
                       tags_to_delete=tags_doomed, images=digests, dry_run=args.dry_run)
    markdown = _markdown(rows, args.dry_run, repositories)
    if run.blocking:
        return run.finish(False, "; ".join(f.title for f in run.blocking), markdown)
    what = "would delete" if args.dry_run else "deleted"
    kept = sum(len(r["keep"]) for r in repositories)
    return run.finish(True, f"{what} {tags_doomed} tag(s) ({digests} image(s)) in {len(repositories)} "
                            f"repositor{'y' if len(repositories) == 1 else 'ies'}; kept {kept}", markdown)


def _markdown(rows, dry_run: bool, repositories: list[dict]) -> str:
    if not rows:
        return "Nothing to delete." if repositories else ""
    lines = [f"| {'would delete' if dry_run else 'deleted'} | branch | created | digest | why |",
             "|---|---|---|---|---|"]
    for name, d in rows:
        created = d.created.isoformat(timespec="seconds") if d.created else "?"
        lines.append(f"| `{name}:{d.tag}` | {d.branch} | {created} | `{d.digest[:19]}` | {d.reason} |")
    return "\n".join(lines)
