"""How a test run is told: Markdown for the CI summary, plain columns for the terminal."""

from __future__ import annotations

from bayat_deploy.testing.junit import Counts
from bayat_deploy.testing.performance import PerformanceResult
from bayat_deploy.testing.suites import SuiteResult

MAX_LISTED_FAILURES = 20
SUITE_HEADERS = ("suite", "result", "tests", "passed", "failed", "errors", "skipped", "time")


def suite_rows(results: list[SuiteResult], total: Counts) -> list[tuple[str, ...]]:
    rows = [(r.kind, "pass" if r.passed else "FAIL", *_counts(r.counts)) for r in results]
    if len(results) > 1:
        rows.append(("total", "pass" if all(r.passed for r in results) else "FAIL", *_counts(total)))
    return rows


def markdown(results: list[SuiteResult], total: Counts, performance: PerformanceResult | None,
             notes: list[str]) -> str:
    parts = []
    if results:
        parts.append(markdown_table(SUITE_HEADERS, suite_rows(results, total)))
    problems = [f"- **{r.kind}**: {message}" for r in results for _, message in r.problems]
    if problems:
        parts.append("\n".join(problems))
    broken = [(r.kind, case) for r in results for case in r.cases if case.broken]
    if broken:
        lines = [f"- `{case.id}` ({kind}, {case.status}): {_one_line(case.message)}"
                 for kind, case in broken[:MAX_LISTED_FAILURES]]
        if len(broken) > MAX_LISTED_FAILURES:
            lines.append(f"- ... and {len(broken) - MAX_LISTED_FAILURES} more (see the JUnit report)")
        parts.append("**Failing tests**\n\n" + "\n".join(lines))
    if performance is not None:
        how = "load command" if performance.method == "command" else "built-in HTTP load probe"
        parts.append(f"**Performance ({performance.environment}, {how})**\n\n"
                     + markdown_table(("metric", "value", "threshold", "result"), performance.rows))
    parts.extend(f"_{note}_" for note in notes)
    return "\n\n".join(parts)


def text(results: list[SuiteResult], total: Counts, performance: PerformanceResult | None) -> str:
    blocks = []
    if results:
        blocks.append(text_table(SUITE_HEADERS, suite_rows(results, total)))
    for r in results:
        blocks.extend(f"{r.kind}: {message}" for _, message in r.problems)
    if performance is not None:
        blocks.append(text_table(("performance", "value", "threshold", "result"), performance.rows))
    return "\n".join(blocks)


def markdown_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    def cells(values):
        return "| " + " | ".join(str(v).replace("|", "\\|") for v in values) + " |"
    return "\n".join([cells(headers), "|" + "---|" * len(headers)] + [cells(row) for row in rows])


def text_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(v)) for v in column) for column in zip(headers, *rows)]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip()
                     for row in [headers, *rows])


def _counts(counts: Counts) -> tuple[str, ...]:
    return (str(counts.tests), str(counts.passed), str(counts.failed), str(counts.errors), str(counts.skipped),
            f"{counts.time:.2f}s")


def _one_line(message: str, limit: int = 160) -> str:
    line = " ".join(message.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
