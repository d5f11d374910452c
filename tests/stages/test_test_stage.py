"""`bayat-deploy test` as a user runs it: the bundled example's real test suite, failing and report-less
variants, several suites merged, time limits, and the performance test against the running example."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.stages.test_junit import JEST_JUNIT, SUREFIRE
from tests.stages.test_loadprobe import closed_port, hello_api

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello-api"
VENV_PATH = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
FAILING_TEST = '''
def test_greeting_is_polite():
    greeting = "hello"
    assert greeting == "good day", "the greeting changed"
'''


@pytest.fixture
def example(tmp_path) -> Path:
    """A copy of examples/hello-api (policy, app, its own pytest.ini and tests)."""
    target = tmp_path / "hello-api"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(
        "__pycache__", ".pytest_cache", "reports", "evidence", ".bayat/reports"))
    return target


def evidence(repo: Path, name: str = "test") -> dict:
    return json.loads((repo / ".bayat" / "evidence" / f"{name}.json").read_text())


def pytest_passed(output: str) -> int:
    return int(re.search(r"(\d+) passed in ", output).group(1))


def write_policy(repo: Path, text: str) -> Path:
    (repo / ".bayat").mkdir(parents=True, exist_ok=True)
    (repo / ".bayat" / "deploy.yml").write_text(text)
    return repo


def test_the_example_suite_passes_with_its_counts(bayat, example):
    result = bayat("test", cwd=example, env=VENV_PATH)
    assert result.code == 0, result.stdout + result.stderr
    count = pytest_passed(result.stdout)  # pytest's own output, streamed
    assert count >= 25
    assert f"test: passed: {count} tests: {count} passed, 0 failed, 0 errors, 0 skipped in 1 suite(s)" in result.stdout
    report = evidence(example)
    assert report["status"] == "pass" and report["findings"] == []
    unit = report["summary"]["suites"]["unit"]
    assert (unit["tests"], unit["passed"], unit["exit_code"], unit["reports"]) == (
        count, count, 0, ["reports/junit-unit.xml"])
    assert report["summary"]["performance"] == "not run"
    copied = example / ".bayat" / "reports" / "junit" / "unit.xml"
    assert unit["merged_report"] == ".bayat/reports/junit/unit.xml" and copied.is_file()
    assert report["artifacts"] == [{"type": "junit", "name": "unit tests", "reference": "", "digest": None,
                                    "path": ".bayat/reports/junit/unit.xml"}]


def test_a_failing_test_fails_the_stage_and_is_named(bayat, example):
    (example / "app" / "tests" / "test_greeting.py").write_text(FAILING_TEST)
    result = bayat("test", cwd=example, env=VENV_PATH)
    assert result.code == 1
    passed = pytest_passed(result.stdout)
    assert f"1 failed, {passed} passed" in result.stdout
    assert f"test: FAILED: {passed + 1} tests: {passed} passed, 1 failed" in result.stdout
    report = evidence(example)
    (finding,) = report["findings"]
    assert finding["id"] == "app.tests.test_greeting.test_greeting_is_polite"
    assert (finding["file"], finding["line"], finding["blocking"]) == ("app/tests/test_greeting.py", 4, True)
    assert finding["detail"].startswith("AssertionError: the greeting changed")
    assert "app/tests/test_greeting.py:4: error: unit test failed: app.tests.test_greeting.test_greeting_is_polite" \
        in result.stderr


def test_a_command_that_writes_no_report_fails(bayat, example):
    policy = example / ".bayat" / "deploy.yml"
    text = policy.read_text()
    assert "python3 -m pytest -q --junitxml=reports/junit-unit.xml" in text, "the example's test command changed"
    policy.write_text(text.replace("python3 -m pytest -q --junitxml=reports/junit-unit.xml",
                                   "python3 -m pytest -q -k health"))
    result = bayat("test", cwd=example, env=VENV_PATH)
    assert result.code == 1
    assert "no JUnit report at reports/junit-unit.xml" in result.stdout
    assert [f["id"] for f in evidence(example)["findings"]] == ["unit.no-report"]


def test_a_report_left_from_an_earlier_run_does_not_count(bayat, tmp_path):
    repo = write_policy(tmp_path / "repo", "project: demo\ntests:\n  unit:\n    run: 'true'\n"
                                           "    junit: reports/*.xml\n")
    (repo / "reports").mkdir()
    (repo / "reports" / "old.xml").write_text(SUREFIRE.replace('errors="1"', 'errors="0"'))
    result = bayat("test", cwd=repo)
    assert result.code == 1
    assert "no JUnit report at reports/*.xml (1 older report(s) there were not written by this run)" in result.stdout


def test_suites_are_summed_and_their_reports_merged(bayat, tmp_path):
    repo = write_policy(tmp_path / "repo", """project: demo
tests:
  unit:
    run: mkdir -p out && cp ../samples/jest.xml out/1.xml && cp ../samples/surefire.xml out/2.xml
    working_directory: web
    junit: out/*.xml
  integration:
    run: echo integration; exit 0
    junit: it.xml
  e2e:
    run: python3 -c "print('e2e passes')"
""")
    (repo / "web").mkdir()
    (repo / "samples").mkdir()
    (repo / "samples" / "jest.xml").write_text(JEST_JUNIT)
    (repo / "samples" / "surefire.xml").write_text(SUREFIRE)
    (repo / "it.xml").write_text("stale")  # there before the run: not this run's report
    result = bayat("test", cwd=repo)
    assert result.code == 1
    report = evidence(repo)
    summary = report["summary"]
    assert {k: summary[k] for k in ("tests", "passed", "failed", "errors", "skipped")} == {
        "tests": 8, "passed": 3, "failed": 2, "errors": 1, "skipped": 2}
    assert summary["suites"]["unit"]["reports"] == ["web/out/1.xml", "web/out/2.xml"]
    assert [summary["suites"][k]["status"] for k in ("unit", "integration", "e2e")] == ["fail", "fail", "pass"]
    ids = {f["id"] for f in report["findings"]}
    assert ids == {"sum handles negatives.sum handles negatives", "com.example.CalculatorTest.divides",
                   "com.example.CalculatorTest.connects", "integration.no-report", "e2e.no-junit"}
    assert not next(f for f in report["findings"] if f["id"] == "e2e.no-junit")["blocking"]
    merged = (repo / ".bayat" / "reports" / "junit" / "unit.xml").read_text()
    assert merged.count("<testsuite ") == 3
    table = result.stdout
    assert "unit         FAIL    8      3       2       1       2" in table
    assert "integration  FAIL    0      0       0       0       0" in table
    assert "total        FAIL    8      3       2       1       2" in table


def test_a_report_without_tests_fails(bayat, tmp_path):
    repo = write_policy(tmp_path / "repo", "project: demo\ntests:\n  unit:\n"
                                           "    run: echo '<testsuites name=\"none\"/>' > r.xml\n    junit: r.xml\n")
    result = bayat("test", cwd=repo)
    assert result.code == 1
    assert "unit: the unit JUnit report(s) hold no test case: the command ran no test" in result.stdout


def test_only_the_asked_kinds_run(bayat, tmp_path):
    repo = write_policy(tmp_path / "repo", "project: demo\ntests:\n  unit:\n    run: exit 3\n"
                                           "  e2e:\n    run: 'true'\n")
    result = bayat("test", "--kind", "e2e", cwd=repo)
    assert result.code == 0, result.stdout
    assert list(evidence(repo)["summary"]["suites"]) == ["e2e"]


def test_a_suite_over_its_time_limit_is_stopped_and_fails(bayat, tmp_path):
    repo = write_policy(tmp_path / "repo", "project: demo\ntests:\n  unit:\n    run: sleep 20\n    timeout: 1s\n"
                                           "    junit: r.xml\n")
    result = bayat("test", cwd=repo)
    assert result.code == 1
    assert "unit tests did not finish within 1s (tests.unit.timeout) and were stopped" in result.stdout
    assert evidence(repo)["summary"]["suites"]["unit"]["timed_out"] is True


def test_without_configured_tests_the_stage_fails(bayat, tmp_path):
    repo = write_policy(tmp_path / "repo", "project: demo\n")
    result = bayat("test", cwd=repo)
    assert result.code == 1
    assert "no automated tests are configured" in result.stdout
    assert evidence(repo)["findings"][0]["id"] == "tests.none-configured"


@pytest.mark.parametrize("args, message", [
    (("--kind", "integration"), "tests.integration is not configured"),
    (("--kind", "performance"), "--kind performance needs --env ENV"),
    (("--url", "http://127.0.0.1:1"), "--url is the performance test's target and needs --env ENV"),
    (("--env", "qa"), "unknown environment 'qa'"),
    (("--kind", "performance", "--env", "staging", "--url", "not a url"), "argument --url: 'not a url' is not an http(s) URL"),
    (("--kind", "performance", "--env", "staging"), "the performance probe needs a URL for staging"),
    (("--kind", "e2e"), "tests.e2e.working_directory: 'missing' is not a directory"),
])
def test_bad_input_exits_2_before_anything_runs(bayat, tmp_path, args, message):
    repo = write_policy(tmp_path / "repo", "project: demo\ntests:\n  unit:\n    run: touch ran\n"
                                           "  e2e:\n    run: touch ran\n    working_directory: missing\n")
    result = bayat("test", *args, cwd=repo)
    assert result.code == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert not (repo / "ran").exists()


def test_performance_probe_against_the_running_example(bayat, example, tmp_path):
    with hello_api(tmp_path) as url:
        result = bayat("test", "--kind", "performance", "--env", "staging", "--url", url, cwd=example)
    assert result.code == 0, result.stdout + result.stderr
    assert "test: passed: performance (staging): within thresholds" in result.stdout
    assert "p95 latency" in result.stdout and "<= 500 ms" in result.stdout
    report = evidence(example, "test-staging")
    assert report["environment"] == "staging"
    performance = report["details"]["performance"]
    assert (performance["method"], performance["sent"], performance["failed"]) == ("probe", 200, 0)
    assert performance["url"] == url + "/"
    assert report["summary"]["performance"] == "pass"


@pytest.mark.parametrize("faults, settings, breach", [
    ({"FAIL_RATE": "0.5"}, {}, "performance.error-rate"),
    ({"LATENCY_MS": "300"}, {"max_latency": "100ms", "requests": "20", "percentile": "99"}, "performance.latency"),
])
def test_performance_breaches_fail_the_stage(bayat, example, tmp_path, faults, settings, breach):
    policy = example / ".bayat" / "deploy.yml"
    block = "".join(f"    {key}: {value}\n" for key, value in settings.items())
    policy.write_text(policy.read_text().replace(
        "    junit: reports/junit-unit.xml\n", f"    junit: reports/junit-unit.xml\n  performance:\n{block}"
        if block else "    junit: reports/junit-unit.xml\n"))
    with hello_api(tmp_path, **faults) as url:
        result = bayat("test", "--kind", "performance", "--env", "production", "--url", url, cwd=example)
    assert result.code == 1, result.stdout + result.stderr
    report = evidence(example, "test-production")
    assert [f["id"] for f in report["findings"]] == [breach]
    assert report["summary"]["performance"] == "fail"
    assert "FAIL" in result.stdout


def test_performance_runs_with_the_suites_for_a_listed_environment(bayat, tmp_path):
    repo = write_policy(tmp_path / "repo", f"""project: demo
tests:
  e2e:
    run: 'true'
  performance:
    requests: 5
environments:
  staging:
    url: http://127.0.0.1:{closed_port()}
""")
    result = bayat("test", "--env", "staging", cwd=repo)
    assert result.code == 1
    report = evidence(repo, "test-staging")
    assert report["summary"]["suites"]["e2e"]["status"] == "pass"
    assert {f["id"] for f in report["findings"]} >= {"performance.error-rate", "performance.latency"}
    assert "testing" not in report["details"]
    # testing is not a performance environment: the suites run, the probe does not.
    assert bayat("test", "--env", "testing", cwd=repo).code == 0
    assert evidence(repo, "test-testing")["summary"]["performance"] == "not run"


def test_a_load_command_decides_by_its_exit_status(bayat, tmp_path):
    repo = write_policy(tmp_path / "repo", """project: demo
tests:
  unit:
    run: 'true'
  performance:
    run: test "$BAYAT_TARGET_URL" = http://staging.internal && test "$BAYAT_ENVIRONMENT" = staging
environments:
  staging:
    url: http://staging.internal
""")
    result = bayat("test", "--kind", "performance", "--env", "staging", cwd=repo)
    assert result.code == 0, result.stdout + result.stderr
    assert evidence(repo, "test-staging")["details"]["performance"]["exit_code"] == 0
    result = bayat("test", "--kind", "performance", "--env", "staging", "--url", "http://elsewhere", cwd=repo)
    assert result.code == 1
    assert evidence(repo, "test-staging")["findings"][0]["id"] == "performance.command"
