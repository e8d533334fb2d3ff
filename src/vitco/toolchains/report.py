"""What a test run found, in a form every toolchain produces: counts and trimmed failures.

Test runners write a JUnit XML report (pytest's ``--junitxml``, Node's ``--test-reporter=junit``);
``parse_junit`` reads it instead of scraping console output.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from pydantic import BaseModel, Field

MAX_FAILURE_CHARS = 2_000
MAX_OUTPUT_CHARS = 4_000


class Failure(BaseModel):
    test: str
    output: str


class TestReport(BaseModel):
    """The outcome of one test run."""

    __test__ = False  # not a pytest test class

    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    exit_code: int | None = None
    duration_s: float = 0.0
    limit_hit: str | None = None
    failures: list[Failure] = Field(default_factory=list)
    output: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.failed == 0 and self.errors == 0 and self.passed > 0

    def summary(self) -> str:
        text = f"{self.passed} passed, {self.failed} failed, {self.errors} errors"
        if self.limit_hit:
            text += f" (stopped by the {self.limit_hit} limit)"
        return text

    def feedback(self) -> str:
        """What a developer needs to fix the failures, trimmed."""
        parts = [self.summary()]
        for f in self.failures:
            parts.append(f"--- {f.test}\n{f.output}")
        if not self.failures and self.output:
            parts.append(self.output)
        return "\n".join(parts)[: MAX_FAILURE_CHARS * 4]


def trim(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... [{len(text) - limit} characters trimmed] ...\n{text[-half:]}"


def parse_junit(xml: bytes) -> TestReport:
    """Counts and failures from a pytest JUnit XML report."""
    report = TestReport()
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        return TestReport(errors=1, output=f"unreadable JUnit report: {exc}")
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}".strip(":")
        failure = case.find("failure")
        error = case.find("error")
        if failure is not None or error is not None:
            node = failure if failure is not None else error
            assert node is not None
            if failure is not None:
                report.failed += 1
            else:
                report.errors += 1
            body = f"{node.get('message', '')}\n{node.text or ''}"
            report.failures.append(Failure(test=name, output=trim(body, MAX_FAILURE_CHARS)))
        elif case.find("skipped") is not None:
            report.skipped += 1
        else:
            report.passed += 1
    return report
