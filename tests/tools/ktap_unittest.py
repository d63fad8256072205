#!/usr/bin/env python3
"""Run the tools' unit tests (tests/tools/test_*.py) and print KTAP, so
`make test` counts them with every other test:

    tools/run_tests.py --host-cmd "python3 tests/tools/ktap_unittest.py"

Each TestCase class is a suite, each test method a case.  A failure's
traceback goes out as "#" lines before its "not ok", where KTAP puts a
case's diagnostics.  (For ordinary unittest output, run a test file itself:
python3 tests/tools/test_ktap_summary.py -v)
"""

import contextlib
import io
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent


def suites_in(tree: unittest.TestSuite):
    """(suite name, [tests]) for each TestCase class, in load order; the
    name is "ktap_summary.Report" for class Report in test_ktap_summary.py."""
    groups: dict[str, list[unittest.TestCase]] = {}

    def walk(suite):
        for item in suite:
            if isinstance(item, unittest.TestSuite):
                walk(item)
            else:
                cls = type(item)
                name = f"{cls.__module__.removeprefix('test_')}.{cls.__name__}"
                groups.setdefault(name, []).append(item)
    walk(tree)
    return groups.items()


def run_case(test: unittest.TestCase) -> tuple[str, str, list[str]]:
    """Run one test; return "ok" or "not ok", a directive ("" or
    " # SKIP why") and the diagnostic lines."""
    # A test's prints must not break the KTAP on stdout: buffer them (the
    # trace of a failure shows them), and send unittest's own echo of
    # them nowhere (it goes to the stdout the result was made under).
    with contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        result = unittest.TestResult()
        result.buffer = True
        test.run(result)
    if result.skipped:
        return "ok", f" # SKIP {result.skipped[0][1]}", []
    problems = result.errors + result.failures
    if problems:
        return "not ok", "", [line for _, trace in problems
                              for line in trace.rstrip().splitlines()]
    return "ok", "", []


def main() -> int:
    tree = unittest.defaultTestLoader.discover(str(HERE), pattern="test_*.py",
                                               top_level_dir=str(HERE))
    suites = list(suites_in(tree))
    failed = 0
    print("KTAP version 1")
    print(f"1..{len(suites)}")
    for n, (suite, tests) in enumerate(suites, 1):
        print("    KTAP version 1")
        print(f"    # Subtest: {suite}")
        print(f"    1..{len(tests)}")
        suite_ok = True
        for m, test in enumerate(tests, 1):
            word, directive, diag = run_case(test)
            for line in diag:
                print(f"    # {line}")
            name = test.id().rsplit(".", 1)[-1]
            print(f"    {word} {m} {name}{directive}")
            suite_ok &= word == "ok"
        failed += not suite_ok
        print(f"{'ok' if suite_ok else 'not ok'} {n} {suite}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
