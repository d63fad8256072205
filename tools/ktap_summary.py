#!/usr/bin/env python3
"""Summarize KTAP results from serial logs: what failed, and why.

    tools/ktap_summary.py build/test/*.log      # or a log on stdin

KTAP version 1 nests a test's subtests one level (4 spaces) deeper, and
puts a test's diagnostic lines *before* its result line:

    KTAP version 1                      depth 0: the whole run
    1..2                                plan: 2 suites follow
        KTAP version 1                  depth 1: suite "vm"
        # Subtest: vm
        1..2
        ok 1 map_one_page
        # unmap: expected x == 0, saw 1     (belongs to the next result)
        not ok 2 unmap
    not ok 1 vm                         the suite's own result, at depth 0
    ...

We count leaves, the tests that have no subtests ("vm.unmap"); a suite's
own "ok"/"not ok" only sums up its cases.  A log is a crash scene as often
as a report, so anything the log cannot vouch for counts as a failure: a
log with no KTAP at all, a planned result that never came, the case that
was running when the log stopped, a run whose plan was "1..0".

Lines that do not fit the structure (boot messages, another CPU's
printk) never abort the parse; they are kept as diagnostics of the test
that was running, which is where a panic message is most useful.

Exit status: 0 when nothing failed and at least one test passed, else 1.
The last line printed is always "N passed, N failed" (", N skipped" is
added when some were skipped), the form the CI reads.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable, TextIO

PASS, FAIL, SKIP = "pass", "fail", "skip"

VERSION_RE = re.compile(r"K?TAP version [0-9]+$")
PLAN_RE = re.compile(r"1\.\.([0-9]+)")
SUBTEST_RE = re.compile(r"# Subtest: (.*)$")
# "ok 3 name", "not ok 3 - name", "ok 3 name # SKIP reason", "ok 3 # SKIP".
# A directive needs a space before its '#', so "ok 1 a#b" is named "a#b".
RESULT_RE = re.compile(r"(ok|not ok) [0-9]+(?: -)?"     # status, number
                       r"(?: (?!#)(.*?))?"              # name
                       r"(?:\s+#\s*(.*))?$")            # directive

# A crash dump can run to hundreds of lines; show this many per failure.
MAX_DIAG_LINES = 30


@dataclass
class Case:
    """One leaf result, or a failure standing in for results a log lacks."""
    path: str                  # "suite.case"; dots join the nesting levels
    status: str                # PASS, FAIL or SKIP
    source: str                # the log it came from
    diag: list[str] = field(default_factory=list)
    what: str = ""             # for stand-ins: "missing results 3..5"
    weight: int = 1            # how many results it stands for

    def title(self) -> str:
        name = self.path or "(top level)"
        return f"{name}: {self.what}" if self.what else name


class _OpenTest:
    """A test whose result line has not been read yet.

    Its cases are named relative to it; the parent prefixes the name when
    the test closes, because a test without a "# Subtest:" header learns
    its name only from its result line.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.name = ""
        self.plan: int | None = None
        self.results = 0                  # result lines read at our depth
        self.pending: list[str] = []      # diagnostics awaiting a result
        self.cases: list[Case] = []

    def fail(self, path: str, what: str, diag: list[str],
             weight: int = 1) -> None:
        self.cases.append(Case(path, FAIL, self.source, diag, what, weight))

    def check_plan(self) -> None:
        if self.plan is None or self.results == self.plan:
            return
        if self.results < self.plan:
            first, last = self.results + 1, self.plan
            missing = str(first) if first == last else f"{first}..{last}"
            # Each missing result counts as a failure, as in Linux's kunit.
            self.fail("", f"missing results {missing}", self.pending,
                      last - first + 1)
        else:
            self.fail("", f"{self.results} results, but the plan said "
                      f"{self.plan}", self.pending)
        self.pending = []

    def adopt(self, child: _OpenTest, status: str | None,
              diag: list[str]) -> None:
        """Take @child's cases as ours, now that its result line (with
        @status, or None if it never came) has ended it."""
        if child.results == 0 and not child.cases and status is not None:
            # No subtests, so it is a leaf (perhaps one that opened an
            # empty KTAP block: "1..0" then "ok 1 name # SKIP why").
            child.cases.append(Case("", status, self.source,
                                    diag + child.pending))
        for case in child.cases:
            case.path = f"{child.name}.{case.path}" if case.path \
                else child.name
            self.cases.append(case)
        self.results += 1


class _LogParser:
    """Reads one log line by line.  stack[d] is the open test whose
    subtests' lines sit at depth d; stack[0] is the KTAP document."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.stack: list[_OpenTest] = []
        self.cases: list[Case] = []
        self.seen_ktap = False

    def feed(self, raw: str) -> None:
        line = raw.rstrip("\r\n")
        body = line.lstrip(" \t")
        # Older TAP producers indent with tabs: count one as a level.
        depth = len(line[:len(line) - len(body)].replace("\t", "    ")) // 4

        if VERSION_RE.match(body):
            if depth == 0:
                if self.stack:
                    self.end_document("the next KTAP output began "
                                      "before the result")
                self.stack = [_OpenTest(self.source)]
                self.seen_ktap = True
                return
            if depth == len(self.stack):
                self.stack.append(_OpenTest(self.source))
                return
        if not self.stack:
            return                      # boot log before any KTAP

        top = len(self.stack) - 1
        header = SUBTEST_RE.match(body)
        plan = PLAN_RE.fullmatch(body)
        result = RESULT_RE.match(body)
        if header and depth == top and not self.stack[top].name:
            self.stack[top].name = header.group(1).strip()
        elif header and depth == top + 1:
            # "# Subtest:" without a "KTAP version" line before it (TAP 14)
            self.stack.append(_OpenTest(self.source))
            self.stack[-1].name = header.group(1).strip()
        elif plan and depth == top and self.stack[top].plan is None:
            self.stack[top].plan = int(plan.group(1))
        elif result and depth <= top:
            self.end_result(depth, result)
        elif body.startswith("#") and depth <= top:
            self.stack[depth].pending.append(body)
        elif body:
            self.stack[top].pending.append(line)   # does not fit: keep it

    def end_result(self, depth: int, m: re.Match) -> None:
        """A result line at @depth ends a test that stack[depth] planned."""
        name, directive = m.group(2) or "", m.group(3) or ""
        if directive.upper().startswith("SKIP"):
            status = SKIP              # "not ok ... # SKIP" too, as kunit
        elif m.group(1) == "ok":
            status = PASS
        else:
            status = FAIL
        parent = self.stack[depth]
        if len(self.stack) > depth + 1:
            # It ends the subtest opened one level deeper; any test open
            # below that one lost its result line.
            self.close_down_to(depth + 2, "the enclosing test ended "
                               "before the result")
            child = self.stack.pop()
            child.name = name or child.name
            child.check_plan()
        else:
            child = _OpenTest(self.source)
            child.name = name
        parent.adopt(child, status, parent.pending)
        parent.pending = []

    def close_down_to(self, size: int, why: str) -> bool:
        """Close the open tests above stack[size - 1], innermost first:
        their result lines never came.  Returns whether there were any."""
        running = True
        while len(self.stack) > size:
            self.close_cut(self.stack.pop(), why, running)
            running = False
        return not running

    def close_cut(self, test: _OpenTest, why: str, running: bool) -> None:
        """Close @test, whose result line never came.  If it was the
        innermost open test, its next case was the one running."""
        if running and (test.plan is None or test.results < test.plan):
            test.fail(f"#{test.results + 1}", "", test.pending + [why])
            test.results += 1
            test.pending = []
        elif running:
            test.fail("", "", test.pending + [why])
            test.pending = []
        test.check_plan()
        self.stack[-1].adopt(test, None, [])

    def end_document(self, why: str) -> None:
        nested_cut = self.close_down_to(1, why)
        doc = self.stack.pop()
        cut = doc.plan is not None and doc.results < doc.plan
        if doc.results == 0 and not doc.cases:
            # "1..0" (selftest= matched nothing), or a crash before the
            # first suite: either way, nothing was tested.
            doc.fail("", "no tests ran", doc.pending + ([why] if cut else []))
        else:
            if cut and not nested_cut:
                # Between two suites: the next suite was starting.
                doc.fail(f"#{doc.results + 1}", "", doc.pending + [why])
                doc.results += 1
                doc.pending = []
            doc.check_plan()
        self.cases.extend(doc.cases)


def parse_log(lines: Iterable[str], source: str) -> list[Case]:
    """Every leaf result in @lines, plus failures for what is missing."""
    parser = _LogParser(source)
    tail: deque[str] = deque(maxlen=10)    # shown if there is no KTAP
    for line in lines:
        parser.feed(line)
        tail.append(line.rstrip("\r\n"))
    if parser.stack:
        parser.end_document("log ended before the result")
    if not parser.seen_ktap:
        diag = ["last lines of the log:", *tail] if tail else ["empty log"]
        return [Case("", FAIL, source, diag, "no KTAP output")]
    return parser.cases


def read_log(path: str, source: str | None = None) -> list[Case]:
    """parse_log() on a file ("-": stdin), its cases marked as coming from
    @source (default: @path).  A missing log is a failure."""
    source = source or path
    if path == "-":
        return parse_log(sys.stdin, "<stdin>")
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return parse_log(f, source)
    except OSError as e:
        return [Case("", FAIL, source, [str(e)], "log unreadable")]


def count(cases: Iterable[Case]) -> dict[str, int]:
    totals = {PASS: 0, FAIL: 0, SKIP: 0}
    for case in cases:
        totals[case.status] += case.weight
    return totals


def summary_line(totals: dict[str, int]) -> str:
    line = f"{totals[PASS]} passed, {totals[FAIL]} failed"
    if totals[SKIP]:
        line += f", {totals[SKIP]} skipped"
    return line


def report(cases: list[Case], out: TextIO | None = None) -> int:
    """Print each failure with its diagnostics, then the summary line.
    Returns the exit status: 0 only if nothing failed and something ran."""
    out = out or sys.stdout      # looked up now, so callers can redirect it
    for case in cases:
        if case.status != FAIL:
            continue
        print(f"FAILED {case.title()}  [{case.source}]", file=out)
        for line in case.diag[:MAX_DIAG_LINES]:
            print(f"    {line}", file=out)
        if len(case.diag) > MAX_DIAG_LINES:
            print(f"    ... {len(case.diag) - MAX_DIAG_LINES} more lines "
                  f"in {case.source}", file=out)
    totals = count(cases)
    print(summary_line(totals), file=out, flush=True)
    return 0 if totals[FAIL] == 0 and totals[PASS] > 0 else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("logs", nargs="*", default=["-"],
                    help="serial logs to read ('-' or none: stdin)")
    args = ap.parse_args(argv)
    cases = [case for path in args.logs for case in read_log(path)]
    return report(cases)


if __name__ == "__main__":
    sys.exit(main())
