"""`bayat-deploy verify --env ENV`: smoke tests, version, metrics and logs after a deployment; roll back on failure."""

from __future__ import annotations

import argparse

from bayat_deploy import argtypes
from bayat_deploy.stages.deploy import add_environment


def configure(parser: argparse.ArgumentParser) -> None:
    add_environment(parser)
    parser.add_argument("--version", type=argtypes.version, help="version that must be serving (default: what the target reports)")
    parser.add_argument("--url", type=argtypes.url, help="check this URL instead of the environment's router")
    parser.add_argument("--no-rollback", action="store_true",
                        help="do not roll back automatically when verification fails (policy: rollback.automatic)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bayat_deploy.deploy import smoke
    from bayat_deploy.deploy.engine import Deployment
    from bayat_deploy.session import open_session
    from bayat_deploy.stages.run import StageRun

    session = open_session(args)
    deployment = Deployment(session, args.environment)
    state = deployment.target.current()
    version = args.version or state.serving()
    if version is None:
        from bayat_deploy.errors import BadInput

        raise BadInput(f"nothing is deployed to {args.environment}; pass --version to say what should serve")
    url = args.url or deployment.target.url()
    stage = StageRun(session, "verify", environment=args.environment, version=version, inputs={"url": url})
    results = smoke.run_smoke_tests(url, deployment.env.verify, version)
    for result in results:
        if not result.ok:
            stage.finding(id=f"smoke:{result.name}", severity="HIGH" if result.critical else "LOW",
                          title=result.message, tool="smoke-test", blocking=result.critical)
    logging_ok = _logs_mention(deployment, version)
    if logging_ok is False:
        stage.finding(id="logging", severity="LOW", title=f"no log line of the instances mentions {version}",
                      tool="verify", blocking=False)
    scraped = _scraped(session, args.environment, version, deployment.env.verify.deadline.seconds)
    if scraped is not None:
        results.append(scraped)
        if not scraped.ok:
            stage.finding(id="metrics:scraped", severity="HIGH", title=scraped.message, tool="verify",
                          blocking=True)
    failed = smoke.failed_critical(results)
    stage.summary.update(checks=len(results), failed=len(failed), logging=logging_ok)
    stage.details["checks"] = [r.__dict__ for r in results]
    markdown = smoke.as_markdown(results)
    if not failed:
        return stage.finish(True, f"{version} verified on {url}: {len(results)} check(s)", markdown)
    reason = "verification failed: " + "; ".join(f"{r.name}: {r.message}" for r in failed)
    policy = deployment.env.rollback
    if policy.automatic and policy.triggers.smoke_test_failed and not args.no_rollback:
        from bayat_deploy.deploy.rollback import rollback

        try:
            result = rollback(deployment, reason=reason, automatic=True)
            stage.details["rollback"] = {"to": result.entry.version, "seconds_to_traffic": result.seconds_to_traffic,
                                         "incident": str(result.incident)}
            reason += f"; rolled back to {result.entry.version} in {result.seconds_to_traffic:.2f}s"
        except Exception as exc:  # the verification verdict stands; the rollback problem is reported with it
            reason += f"; automatic rollback failed: {exc}"
    return stage.finish(False, reason, markdown)


def _scraped(session, environment: str, version: str, deadline: float):
    """Metrics are working: the metrics provider scrapes the new version's instances (None: no provider)."""
    import time

    from bayat_deploy.deploy.smoke import CheckResult

    monitoring = session.policy.monitoring
    if monitoring is None:
        return None
    from bayat_deploy.gates.metrics import MetricsError, provider_for

    job = session.policy.substitute(monitoring.job, environment)
    expr = f'up{{job="{job}",version="{version}"}}'
    provider, started = provider_for(session), time.monotonic()
    while True:  # a new instance is scraped within a scrape interval or two of starting
        now = time.time()
        try:
            series = provider.query(expr, now - 60, now, 15)
            up = [s for s in series if s.values() and s.values()[-1] == 1]
            if up:
                return CheckResult("scraped", True, f"{len(up)} instance(s) of {version} scraped by "
                                                    f"{monitoring.url}", critical=True)
            problem = f"{monitoring.url} has no `up` series for {version} (job {job})"
        except MetricsError as exc:
            problem = f"{monitoring.url} did not answer: {exc}"
        if time.monotonic() - started > min(deadline, 60):
            return CheckResult("scraped", False, f"metrics are not working: {problem}", critical=True)
        time.sleep(2)


def _logs_mention(deployment, version: str) -> bool | None:
    """Logging works: the serving instances wrote a log line naming the version (None: cannot tell)."""
    try:
        text = deployment.target.logs("stable", lines=50)
    except Exception:
        return None
    if not text:
        return None
    return version in text
