"""`bayat-deploy approvals record --env ENV`: write `approvals-<env>.json`, who approved this deployment.

On GitHub it reads the workflow run's review history, on GitLab the deployment's approvals; anywhere,
`--approved-by LOGIN` records a manual attestation instead (marked as one). Exit 0 when the recorded
approvals satisfy every approval rule of the environment, 1 when not (the evidence is written either way).
"""

from __future__ import annotations

import argparse

from bayat_deploy import argtypes


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="approvals_command", metavar="ACTION", required=True)
    record = sub.add_parser("record", help="record the approvals of a deployment as approvals-ENV.json evidence")
    from bayat_deploy.stages.deploy import add_environment

    add_environment(record)
    record.add_argument("--approved-by", action="append", metavar="LOGIN[,LOGIN]", type=argtypes.logins,
                        help="record a manual attestation that LOGIN approved (repeatable or comma-separated) "
                             "instead of asking the CI platform; it satisfies rules that name LOGIN in `users`")
    record.add_argument("--rule", metavar="NAME", type=argtypes.word,
                        help="the approval rule to record: with --approved-by, the rule the attestation is for; "
                             "from the platform, judge only this party of a chained approval (e.g. qa), or "
                             "'emergency' for an emergency deployment outside the window")
    record.add_argument("--comment", default="", metavar="TEXT", type=argtypes.paragraph, help="comment recorded with the attestation")
    record.add_argument("--deployment-id", metavar="ID", type=argtypes.word,
                        help="GitLab: the deployment to read (default: the deployment of this job or pipeline)")
    record.add_argument("--policy", metavar="PATH", type=argtypes.path_text, default=argparse.SUPPRESS,
                        help="policy file (default: .bayat/deploy.yml)")
    record.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="print tracebacks and debug output")
    record.set_defaults(handler=run_record)


def run_record(args: argparse.Namespace) -> int:
    from bayat_deploy import evidence
    from bayat_deploy.errors import BadInput
    from bayat_deploy.gates import approvals as rules
    from bayat_deploy.gates.emergency import split_list
    from bayat_deploy.gates.sources import load
    from bayat_deploy.session import open_session
    from bayat_deploy.stages.run import StageRun

    session = open_session(args)
    name, context = args.environment, session.context
    env = session.policy.environment(name)
    logins = split_list(args.approved_by)
    known = [rule.name for rule in env.approvals.rules] + [rules.SIGNOFF]
    if env.maintenance.emergency.allowed:
        known.append("emergency")
    if args.rule and args.rule not in known:
        raise BadInput(f"--rule {args.rule}: {name} has no such approval rule; it has: {', '.join(known)}")

    if logins:
        source, request = "manual", {"attested_by": context.actor}
        found = rules.manual(logins, name, args.rule, args.comment, evidence.now())
    else:
        source, request, found = _from_platform(session, name, args.deployment_id)
        if source == "github":
            found = rules.attribute_chained(found, name, [rule.name for rule in env.approvals.rules])
    kept = _earlier_attestations(load(session, "approvals", name), context.sha, found)

    run = StageRun(session, "approvals", environment=name,
                   inputs={"source": source, "approved_by": logins, "rule": args.rule})
    recorded = kept + found
    results = rules.evaluate(env, recorded, name, context.actor)
    if args.rule == "emergency":
        results = rules.evaluate(env, recorded, name, context.actor, (rules.emergency_rule(session.policy, env),))
    elif args.rule and not logins:  # one party of a chain (e.g. QA before the product owner): judge only it
        results = [r for r in results if r.rule == args.rule]
    if "security-signoff" in env.checks and not any(r.name == rules.SIGNOFF for r in env.approvals.rules):
        signoff = rules.signoff_rule(session.policy, env)
        results += rules.evaluate(env, recorded, name, context.actor, (signoff,))
    run.details.update(source=source, request=request, approvals=[a.to_dict() for a in recorded],
                       rules=[r.to_dict() for r in results], actor=context.actor,
                       kept_attestations=len(kept))
    run.summary.update(approvals=len([a for a in recorded if a.state == "approved"]),
                       rules=len(results), unmet=[r.rule for r in results if not r.passed], source=source)
    for result in results:
        if not result.passed:
            run.finding(id=f"approvals.{result.rule}", severity="INFO", tool="bayat-deploy", blocking=True,
                        title=f"approval rule {result.rule} is not met: {result.reason}")
    table = _markdown(recorded, results)
    print(table)
    passed = all(r.passed for r in results)
    met = sum(r.passed for r in results)
    mark = "manual attestation" if source == "manual" else f"{source} approvals"
    return run.finish(passed, f"{len(recorded)} approval record(s) ({mark}); {met} of {len(results)} rule(s) met"
                      + ("" if passed else f": unmet {', '.join(r.rule for r in results if not r.passed)}"), table)


def _from_platform(session, environment: str, deployment_id: str | None):
    from bayat_deploy.errors import BadInput
    from bayat_deploy.gates import approvals as rules

    context = session.context
    if context.platform == "github":
        from bayat_deploy.platform.github_api import GitHubApi

        api = GitHubApi.from_context(context)
        repository, run_id = context.get("GITHUB_REPOSITORY"), context.run_id
        reviews = api.run_approvals(repository, run_id)
        return "github", {"url": api.url(f"repos/{repository}/actions/runs/{run_id}/approvals"),
                          "run_id": run_id}, rules.from_github(reviews)
    if context.platform == "gitlab":
        from bayat_deploy.platform.gitlab_api import GitLabApi

        api = GitLabApi.from_context(context)
        project = context.get("CI_PROJECT_ID")
        if not project:
            raise BadInput("CI_PROJECT_ID is not set: this command reads deployments from a GitLab CI job")
        wanted = deployment_id or context.get("BAYAT_DEPLOYMENT_ID") or context.get("CI_DEPLOYMENT_ID")
        if not wanted:
            # an emergency job deploys to `<env>-emergency`: the job's own environment is the one to read
            wanted = api.find_deployment(project, context.get("CI_ENVIRONMENT_NAME") or environment,
                                         job_id=context.get("CI_JOB_ID"),
                                         pipeline_id=context.get("CI_PIPELINE_ID"), sha=context.sha)["id"]
        deployment = api.deployment(project, wanted)
        request = {"url": api.url(f"projects/{api.project_path(project)}/deployments/{wanted}"),
                   "deployment_id": wanted, "pending_approval_count": deployment.get("pending_approval_count"),
                   "platform_rules": [{"group": r.get("access_level_description"),
                                       "required_approvals": r.get("required_approvals")}
                                      for r in (deployment.get("approval_summary") or {}).get("rules") or []]}
        return "gitlab", request, rules.from_gitlab(deployment)
    raise BadInput("no CI platform to ask for approvals here: record a manual attestation with "
                   "--approved-by LOGIN [--rule NAME]")


def _earlier_attestations(previous, commit: str, found) -> list:
    """Manual attestations already recorded for this commit are kept, so several people can attest in turn."""
    from bayat_deploy.gates.approvals import load_recorded

    envelope = previous.envelope
    if envelope is None or (commit and envelope.commit and envelope.commit != commit):
        return []
    new = {(a.user, a.rule) for a in found}
    return [a for a in load_recorded(envelope) if a.source == "manual" and (a.user, a.rule) not in new]


def _markdown(approvals, results) -> str:
    lines = ["| rule | needs | approved by | result | why |", "|---|---|---|---|---|"]
    for result in results:
        lines.append(f"| {result.rule} | {result.required} | {', '.join(result.approvers) or '-'} | "
                     f"{'ok' if result.passed else '**not met**'} | {result.reason.replace('|', '/')}"
                     f"{f' ({result.enforced_by})' if result.enforced_by and result.passed else ''} |")
    lines += ["", "| who | state | source | environments | when | comment |", "|---|---|---|---|---|---|"]
    for approval in approvals:
        source = "manual attestation" if approval.source == "manual" else approval.source
        group = f" ({approval.group})" if approval.group else ""
        lines.append(f"| {approval.user} | {approval.state} | {source}{group} | {', '.join(approval.environments)} | "
                     f"{approval.at or '-'} | "
                     f"{(approval.comment or '').replace('|', '/')} |")
    if not approvals:
        lines.append("| - | no approvals recorded | | | | |")
    return "\n".join(lines)
