"""`bayat-deploy test`: the standard's automated tests — unit, integration, end-to-end, and performance
tests for staging/production — with JUnit reports collected for the CI and evidence for the gate."""

from __future__ import annotations

import argparse

from bayat_deploy import argtypes

SUITE_KINDS = ("unit", "integration", "e2e")
MAX_CASE_FINDINGS = 200  # beyond this, one finding says how many more failed (the JUnit report has them all)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", action="append", choices=(*SUITE_KINDS, "performance"), metavar="KIND",
                        help="run only this kind: unit, integration, e2e or performance (repeatable; default: "
                             "every suite configured under `tests:`, plus the performance test when --env "
                             "names an environment in tests.performance.environments)")
    parser.add_argument("--env", "--environment", dest="environment", metavar="ENV", type=argtypes.environment,
                        help="the environment being tested; performance tests run for the environments in "
                             "tests.performance.environments (the standard: staging and production), and the "
                             "evidence is written as test-ENV.json")
    parser.add_argument("--url", metavar="URL", type=argtypes.url,
                        help="URL the built-in load probe targets (default: environments.ENV.url)")
    parser.set_defaults(handler=run_tests)


def run_tests(args: argparse.Namespace) -> int:
    from bayat_deploy.errors import BadInput
    from bayat_deploy.policy.types import Url
    from bayat_deploy.session import open_session

    session = open_session(args)
    policy, tests = session.policy, session.policy.tests
    requested = list(dict.fromkeys(args.kind or ()))
    for kind in requested:
        if kind != "performance" and getattr(tests, kind) is None:
            raise BadInput(f"tests.{kind} is not configured in {session.loaded.path}; add it, e.g.\n"
                           f"tests:\n  {kind}:\n    run: python -m pytest --junitxml=reports/{kind}.xml\n"
                           f"    junit: reports/{kind}.xml")
    suites = [k for k in requested if k != "performance"] if requested else \
        [k for k in SUITE_KINDS if getattr(tests, k) is not None]
    environment = args.environment
    if environment is not None:
        env = policy.environment(environment)
    if "performance" in requested and environment is None:
        raise BadInput("--kind performance needs --env ENV: performance tests run against an environment")
    if args.url is not None and environment is None:
        raise BadInput("--url is the performance test's target and needs --env ENV")
    run_performance = environment is not None and (
        "performance" in requested or (not requested and environment in tests.performance.environments))
    try:
        given = str(Url.parse(args.url)) if args.url else None
    except ValueError as exc:
        raise BadInput(f"--url: {exc}") from None
    url = None
    if run_performance:
        url = given or (str(env.url) if env.url else None)
        if url is None and not tests.performance.run:
            raise BadInput(f"the performance probe needs a URL for {environment}: set "
                           f"environments.{environment}.url in the policy or pass --url URL")
    from bayat_deploy.testing.suites import working_directory

    for kind in suites:
        working_directory(session.root, getattr(tests, kind), kind)  # a wrong directory is bad input, up front
    return _run(session, suites, environment, run_performance, url, checked_all=not requested)


def _run(session, kinds: list[str], environment: str | None, run_performance: bool, url: str | None,
         checked_all: bool) -> int:
    from bayat_deploy.stages.run import StageRun
    from bayat_deploy.testing import performance as perf
    from bayat_deploy.testing import report
    from bayat_deploy.testing.junit import Counts
    from bayat_deploy.testing.suites import case_location, run_suite, working_directory

    tests, root = session.policy.tests, session.root
    run = StageRun(session, "test", environment=environment,
                   inputs={"kinds": kinds, "performance": run_performance, "url": url})
    notes: list[str] = []
    results = []
    if checked_all and not kinds:
        run.finding(id="tests.none-configured", severity="INFO", tool="bayat-deploy", blocking=True,
                    title="no automated tests are configured: add tests.unit (and integration, e2e) to the policy",
                    detail="The standard requires automated tests in the pipeline, e.g.\ntests:\n  unit:\n"
                           "    run: python -m pytest --junitxml=reports/junit-unit.xml\n"
                           "    junit: reports/junit-unit.xml")
    env = session.context.tool_env()
    for kind in kinds:
        suite = getattr(tests, kind)
        with session.platform.group(f"{kind} tests: {suite.run}"):
            result = run_suite(kind, suite, root, env, session.reports_dir)
        results.append(result)
        _suite_findings(run, result, case_location, working_directory(root, suite, kind), root)
        if result.merged_report:
            run.artifact(type="junit", name=f"{kind} tests", path=str(result.merged_report.relative_to(root)))
    total = Counts()
    for result in results:
        total = total.add(result.counts)

    performance = None
    if run_performance:
        settings = tests.performance
        with session.platform.group(f"performance tests: {environment}"):
            performance = (perf.run_command(settings, environment, url, root, env) if settings.run
                           else perf.run_probe(settings, environment, url))
        for breach in performance.breaches:
            run.finding(id=breach.id, severity="INFO", tool="bayat-deploy" if settings.run is None else "load-test",
                        title=breach.title, detail=breach.detail, blocking=True)
        run.details["performance"] = performance.details
    elif environment is not None:
        notes.append(f"performance tests are not required for {environment} "
                     f"(tests.performance.environments) and were not run")

    run.summary.update(total.as_dict())
    run.summary["suites"] = {r.kind: r.as_dict(root) for r in results}
    run.summary["performance"] = "not run" if performance is None else ("pass" if performance.passed else "fail")
    run.details["junit_reports"] = {r.kind: r.as_dict(root)["merged_report"] for r in results}
    for name, value in total.as_dict().items():
        run.output(name, str(value))

    print(report.text(results, total, performance))
    passed = not run.blocking
    headline = _headline(results, total, performance, run)
    return run.finish(passed, headline, report.markdown(results, total, performance, notes))


def _suite_findings(run, result, case_location, cwd, root) -> None:
    if result.junit is None:
        run.finding(id=f"{result.kind}.no-junit", severity="INFO", tool="bayat-deploy", blocking=False,
                    title=f"tests.{result.kind}.junit is not set: only the exit status was checked and no test "
                          f"counts reach the gate or the CI's test view")
    for suffix, message in result.problems:
        run.finding(id=f"{result.kind}.{suffix}", severity="INFO", tool="bayat-deploy", blocking=True,
                    title=f"{result.kind} tests: {message}", detail=f"command: {result.command}")
    broken = [case for case in result.cases if case.broken]
    for case in broken[:MAX_CASE_FINDINGS]:
        file, line = case_location(case, cwd, root)
        verb = "failed" if case.status == "failed" else "errored"
        run.finding(id=case.id, severity="INFO", tool="junit", file=file, line=line,
                    title=f"{result.kind} test {verb}: {case.id}", detail=case.detail(), blocking=True)
    if len(broken) > MAX_CASE_FINDINGS:
        run.finding(id=f"{result.kind}.more-failures", severity="INFO", tool="junit",
                    title=f"{len(broken) - MAX_CASE_FINDINGS} more failing {result.kind} tests "
                          f"(see the JUnit report)", blocking=True)


def _headline(results, total, performance, run) -> str:
    parts = []
    if results:
        parts.append(f"{total.tests} tests: {total.passed} passed, {total.failed} failed, {total.errors} errors, "
                     f"{total.skipped} skipped in {len(results)} suite(s)")
        failing = [r.kind for r in results if not r.passed]
        if failing:
            parts.append(f"failing suite(s): {', '.join(failing)}")
    elif any(f.id == "tests.none-configured" for f in run.findings):
        parts.append("no automated tests are configured")
    if performance is not None:
        parts.append(f"performance ({performance.environment}): "
                     + ("within thresholds" if performance.passed
                        else "; ".join(b.title for b in performance.breaches)))
    return "; ".join(parts) or "nothing to run"
