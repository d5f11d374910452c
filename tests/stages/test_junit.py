"""JUnit XML dialects (written by hand after real pytest, jest-junit and Maven Surefire output): counts,
failing cases with their messages and locations, nested suites, suite-level errors, merging."""

from __future__ import annotations

from pathlib import Path

import pytest

from bayat_deploy.testing.junit import Counts, JUnitError, merge, parse_bytes, parse_file, truncate

PYTEST_XUNIT2 = """<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest"
 errors="1" failures="1" skipped="1" tests="4" time="0.031" timestamp="2024-05-02T10:00:00" hostname="ci">
<testcase classname="app.tests.test_orders" name="test_total" time="0.001" />
<testcase classname="app.tests.test_orders" name="test_discount[10%]" time="0.002"><failure
 message="AssertionError: discount not applied&#10;assert 100 == 90">def test_discount(rate):
&gt;       assert total(100, rate) == 90, "discount not applied"
E       AssertionError: discount not applied

app/tests/test_orders.py:14: AssertionError</failure></testcase>
<testcase classname="app.tests.test_orders" name="test_later" time="0.000"><skipped type="pytest.skip"
 message="not ready">app/tests/test_orders.py:20: not ready</skipped></testcase>
<testcase classname="app.tests.test_db" name="test_query" time="0.000"><error
 message="failed on setup with &quot;RuntimeError: db down&quot;">@pytest.fixture
    def db():
&gt;       raise RuntimeError("db down")
E       RuntimeError: db down

app/tests/conftest.py:7: RuntimeError</error></testcase>
</testsuite></testsuites>"""

# junit_family=xunit1 adds file and a 0-based line of the test's definition.
PYTEST_XUNIT1 = """<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest"
 errors="0" failures="1" skipped="0" tests="2" time="0.01"><testcase classname="test_x" name="test_a"
 file="test_x.py" line="2" time="0.001"><failure message="assert 1 == 2">def test_a():
&gt;       assert 1 == 2
E       assert 1 == 2

test_x.py:4: AssertionError</failure></testcase><testcase classname="test_x" name="test_b" file="test_x.py"
 line="6" time="0.001"/></testsuite></testsuites>"""

JEST_JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="jest tests" tests="4" failures="1" errors="0" time="1.234">
  <testsuite name="sum" errors="0" failures="1" skipped="1" timestamp="2024-05-02T10:00:00" time="0.5" tests="3">
    <testcase classname="sum adds numbers" name="sum adds numbers" time="0.002">
    </testcase>
    <testcase classname="sum handles negatives" name="sum handles negatives" time="0.003">
      <failure>Error: expect(received).toBe(expected) // Object.is equality

Expected: -3
Received: 3
    at Object.toBe (/home/ci/app/node_modules/expect/build/index.js:1:1)
    at Object.&lt;anonymous&gt; (/home/ci/app/src/sum.test.js:9:22)
    at Promise.then.completed (/home/ci/app/node_modules/jest-circus/build/utils.js:298:28)</failure>
    </testcase>
    <testcase classname="sum is pending" name="sum is pending" time="0">
      <skipped/>
    </testcase>
  </testsuite>
  <testsuite name="api" errors="0" failures="0" skipped="0" timestamp="2024-05-02T10:00:01" time="0.2" tests="1">
    <testcase classname="api returns 200" name="api returns 200" time="0.1"/>
  </testsuite>
</testsuites>"""

SUREFIRE = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
 xsi:noNamespaceSchemaLocation="https://maven.apache.org/surefire/maven-surefire-plugin/xsd/surefire-test-report.xsd"
 version="3.0" name="com.example.CalculatorTest" time="1,052.5" tests="4" errors="1" skipped="1" failures="1">
  <properties><property name="java.version" value="17.0.9"/></properties>
  <testcase name="adds" classname="com.example.CalculatorTest" time="0.001"/>
  <testcase name="divides" classname="com.example.CalculatorTest" time="0.01">
    <failure message="expected: &lt;2&gt; but was: &lt;3&gt;" type="org.opentest4j.AssertionFailedError"
>org.opentest4j.AssertionFailedError: expected: &lt;2&gt; but was: &lt;3&gt;
	at org.junit.jupiter.api.AssertionUtils.fail(AssertionUtils.java:55)
	at com.example.CalculatorTest.divides(CalculatorTest.java:21)</failure>
    <system-out><![CDATA[dividing 6 by 3]]></system-out>
  </testcase>
  <testcase name="connects" classname="com.example.CalculatorTest" time="0.03">
    <error message="Connection refused" type="java.net.ConnectException">java.net.ConnectException: Connection refused
	at com.example.CalculatorTest.connects(CalculatorTest.java:30)</error>
  </testcase>
  <testcase name="later" classname="com.example.CalculatorTest" time="0">
    <skipped message="not yet"/>
  </testcase>
</testsuite>"""

NESTED = """<testsuites>
  <testsuite name="root" tests="3" failures="1">
    <testsuite name="child-a" tests="2" failures="1">
      <testcase classname="a" name="one" time="0.5"/>
      <testcase classname="a" name="two"><failure message="boom"/></testcase>
    </testsuite>
    <testsuite name="child-b" tests="1">
      <testsuite name="grandchild"><testcase classname="b" name="three"/></testsuite>
    </testsuite>
  </testsuite>
</testsuites>"""

# A module that failed to import: the suite says so, no test case carries it (e.g. Go, some mocha reporters).
SUITE_LEVEL_ERROR = """<testsuite name="broken-module" tests="0" errors="1">
  <system-err>ImportError: cannot import name 'Orders'</system-err>
</testsuite>"""

NAMESPACED = """<ns:testsuite xmlns:ns="urn:example" name="ns"><ns:testcase classname="c" name="n">
<ns:failure message="nope"/></ns:testcase></ns:testsuite>"""

# Several failures on one case and an error: the error wins; a rerun-flaky entry is not a failure.
MIXED_CHILDREN = """<testsuite name="mix"><testcase classname="m" name="both">
<failure message="first"/><error message="crashed"/></testcase>
<testcase classname="m" name="flaky"><flakyFailure message="passed on rerun"/></testcase></testsuite>"""


def counts(tests, passed, failed, errors, skipped) -> dict:
    return {"tests": tests, "passed": passed, "failed": failed, "errors": errors, "skipped": skipped}


CASES = [
    # (name, xml, counts, {broken id: (status, message start, file, line)}, suite names)
    ("pytest", PYTEST_XUNIT2, counts(4, 1, 1, 1, 1), {
        "app.tests.test_orders.test_discount[10%]": ("failed", "AssertionError: discount not applied",
                                                     "app/tests/test_orders.py", 14),
        "app.tests.test_db.test_query": ("error", 'failed on setup with "RuntimeError: db down"',
                                         "app/tests/conftest.py", 7),
    }, ["pytest"]),
    ("pytest-xunit1", PYTEST_XUNIT1, counts(2, 1, 1, 0, 0), {
        "test_x.test_a": ("failed", "assert 1 == 2", "test_x.py", 4),
    }, ["pytest"]),
    ("jest-junit", JEST_JUNIT, counts(4, 2, 1, 0, 1), {
        "sum handles negatives.sum handles negatives": (
            "failed", "Error: expect(received).toBe(expected)", "/home/ci/app/src/sum.test.js", 9),
    }, ["sum", "api"]),
    ("surefire", SUREFIRE, counts(4, 1, 1, 1, 1), {
        "com.example.CalculatorTest.divides": ("failed", "expected: <2> but was: <3>", "CalculatorTest.java", 21),
        "com.example.CalculatorTest.connects": ("error", "Connection refused", "CalculatorTest.java", 30),
    }, ["com.example.CalculatorTest"]),
    ("nested", NESTED, counts(3, 2, 1, 0, 0), {"a.two": ("failed", "boom", None, None)},
     ["root / child-a", "root / child-b / grandchild"]),
    ("suite-level-error", SUITE_LEVEL_ERROR, counts(1, 0, 0, 1, 0), {
        "broken-module": ("error", "the suite reports 1 failure(s)/error(s) outside its test cases", None, None),
    }, ["broken-module"]),
    ("namespaced", NAMESPACED, counts(1, 0, 1, 0, 0), {"c.n": ("failed", "nope", None, None)}, ["ns"]),
    ("mixed-children", MIXED_CHILDREN, counts(2, 1, 0, 1, 0), {"m.both": ("error", "crashed", None, None)}, ["mix"]),
]


@pytest.mark.parametrize("name, xml, expected, broken, suites", CASES, ids=[c[0] for c in CASES])
def test_dialects_are_counted_and_failures_located(name, xml, expected, broken, suites):
    report = parse_bytes(xml.encode(), Path(f"{name}.xml"))
    assert {k: v for k, v in report.counts.as_dict().items() if k != "time"} == expected
    assert [suite.name for suite in report.suites] == suites
    found = {case.id: (case.status, case.message, case.file, case.line) for case in report.cases if case.broken}
    assert set(found) == set(broken)
    for case_id, (status, message, file, line) in broken.items():
        got_status, got_message, got_file, got_line = found[case_id]
        assert (got_status, got_file, got_line) == (status, file, line)
        assert got_message.startswith(message)


def test_skipped_cases_keep_their_reason():
    report = parse_bytes(PYTEST_XUNIT2.encode(), Path("r.xml"))
    skipped = [case for case in report.cases if case.status == "skipped"]
    assert [(case.name, case.message) for case in skipped] == [("test_later", "not ready")]


def test_times_with_thousands_separators_are_read():
    report = parse_bytes(SUREFIRE.encode(), Path("r.xml"))
    assert report.counts.time == pytest.approx(0.041)


@pytest.mark.parametrize("text, message", [
    ("<testsuite><testcase name='x'>", "r.xml:1:31: not well-formed XML"),
    ("<html><body/></html>", "the root element is <html>, expected <testsuites> or <testsuite>"),
    ("", "not well-formed XML"),
])
def test_unreadable_reports_are_refused_with_the_reason(text, message):
    with pytest.raises(JUnitError, match=message.replace("<", "\\<").replace(">", "\\>")):
        parse_bytes(text.encode(), Path("r.xml"))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(JUnitError, match="cannot read"):
        parse_file(tmp_path / "absent.xml")


def test_merge_keeps_every_suite_and_sums_the_attributes(tmp_path):
    first, second = tmp_path / "a.xml", tmp_path / "b.xml"
    first.write_text(JEST_JUNIT)
    second.write_text(SUREFIRE)
    merged = tmp_path / "out" / "unit.xml"
    merge([first, second], merged)
    report = parse_file(merged)
    assert [suite.name for suite in report.suites] == ["sum", "api", "com.example.CalculatorTest"]
    assert report.counts.as_dict() | {"time": 0} == counts(8, 3, 2, 1, 2) | {"time": 0}
    import xml.etree.ElementTree as ET

    assert merged.read_text().startswith('<?xml version="1.0" encoding="utf-8"?>\n<testsuites ')
    root = ET.parse(merged).getroot()
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "8", "failures": "2", "errors": "1", "skipped": "2"}


def test_long_failure_text_keeps_the_start_and_the_end():
    text = "first line\n" + "x" * 10_000 + "\nassert 1 == 2 at the end"
    cut = truncate(text, 1000)
    assert len(cut) <= 1000
    assert cut.startswith("first line") and cut.endswith("assert 1 == 2 at the end")
    assert "characters cut" in cut


def test_counts_add_up():
    total = Counts(3, 2, 1, 0, 0, 1.0).add(Counts(2, 1, 0, 0, 1, 0.5))
    assert total.as_dict() == {"tests": 5, "passed": 3, "failed": 1, "errors": 0, "skipped": 1, "time": 1.5}
    assert total.broken == 1
