#!/usr/bin/env python3
"""Unit tests for tools/ktap_summary.py, on the sample logs in ktap/.

    python3 tests/tools/test_ktap_summary.py -v
"""

import io
import re
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "tools"))
import ktap_summary as ks  # noqa: E402  (path set up just above)

LOGS = HERE / "ktap"


def totals_of(cases):
    t = ks.count(cases)
    return t[ks.PASS], t[ks.FAIL], t[ks.SKIP]


def failed_titles(cases):
    return [c.title() for c in cases if c.status == ks.FAIL]


def parse_text(text):
    return ks.parse_log(io.StringIO(text), "test")


class SampleLogs(unittest.TestCase):
    """Each sample log: (passed, failed, skipped) and the failures named."""

    cases = {
        "all_pass.log": ((6, 0, 1), []),
        "failures.log": ((2, 2, 0), ["shootdown.free_after_ack",
                                     "pte.walk_present"]),
        "crash.log": ((3, 3, 0), ["shootdown.#3",
                                  "shootdown: missing results 4",
                                  "(top level): missing results 3"]),
        "short_plan.log": ((3, 3, 0), ["pmm: missing results 3..5"]),
        "no_ktap.log": ((0, 1, 0), ["(top level): no KTAP output"]),
        "none_matched.log": ((0, 1, 0), ["(top level): no tests ran"]),
        "nested.log": ((2, 1, 0), ["mm.walk.pud"]),
        "host.log": ((3, 0, 0), []),
    }

    def test_sample_logs(self):
        for name, (totals, failures) in self.cases.items():
            with self.subTest(log=name):
                cases = ks.read_log(str(LOGS / name))
                self.assertEqual(totals_of(cases), totals)
                self.assertEqual(failed_titles(cases), failures)

    def test_every_sample_is_checked(self):
        on_disk = {p.name for p in LOGS.glob("*.log")}
        self.assertEqual(on_disk, set(self.cases))


class Diagnostics(unittest.TestCase):
    def test_lines_before_a_result_belong_to_it(self):
        cases = ks.read_log(str(LOGS / "failures.log"))
        first = [c for c in cases if c.status == ks.FAIL][0]
        self.assertEqual(first.diag, [
            "# free_after_ack: expected acked == 4, saw 3 (0x3) and 4 (0x4)",
            "# free_after_ack: at mm/shootdown_test.c:88"])
        self.assertEqual(first.source, str(LOGS / "failures.log"))

    def test_crash_keeps_the_panic_and_says_why(self):
        cases = ks.read_log(str(LOGS / "crash.log"))
        running = [c for c in cases if c.path == "shootdown.#3"][0]
        self.assertIn("PANIC on CPU 2", running.diag[0])
        self.assertEqual(running.diag[-1], "log ended before the result")

    def test_none_matched_keeps_its_reason(self):
        cases = ks.read_log(str(LOGS / "none_matched.log"))
        self.assertEqual(cases[0].diag,
                         ['# selftest: no suite matches "nosuch*"'])


class Robustness(unittest.TestCase):
    def test_crlf_and_tabs(self):
        text = ("KTAP version 1\r\n1..1\r\n\tKTAP version 1\r\n"
                "\t# Subtest: s\r\n\t1..2\r\n\tok 1 a\r\n\tnot ok 2 b\r\n"
                "not ok 1 s\r\n")
        cases = parse_text(text)
        self.assertEqual(totals_of(cases), (1, 1, 0))
        self.assertEqual(failed_titles(cases), ["s.b"])

    def test_cut_between_suites(self):
        text = ("KTAP version 1\n1..3\n    KTAP version 1\n"
                "    # Subtest: s\n    1..1\n    ok 1 a\nok 1 s\n")
        # Suite 2 was starting; suite 3 never came.
        self.assertEqual(failed_titles(parse_text(text)),
                         ["#2", "(top level): missing results 3"])

    def test_cut_before_suite_result(self):
        text = ("KTAP version 1\n1..1\n    KTAP version 1\n"
                "    # Subtest: s\n    1..1\n    ok 1 a\n")
        cases = parse_text(text)
        self.assertEqual(totals_of(cases), (1, 1, 0))
        self.assertEqual(failed_titles(cases), ["s"])

    def test_too_many_results(self):
        text = ("KTAP version 1\n1..1\n    KTAP version 1\n"
                "    # Subtest: s\n    1..1\n    ok 1 a\n    ok 2 b\n"
                "ok 1 s\n")
        self.assertEqual(failed_titles(parse_text(text)),
                         ["s: 2 results, but the plan said 1"])

    def test_skipped_empty_suite_is_one_skip(self):
        text = ("KTAP version 1\n1..1\n    KTAP version 1\n"
                "    # Subtest: pcid\n    1..0\nok 1 pcid # SKIP no PCID\n")
        self.assertEqual(totals_of(parse_text(text)), (0, 0, 1))

    def test_result_forms(self):
        text = ("KTAP version 1\n1..5\nok 1 - dash\nok 2 plain\n"
                "ok 3 # SKIP unnamed\nnot ok 4 odd # TODO later\n"
                "ok 5 a#b\n")
        cases = parse_text(text)
        self.assertEqual([(c.path, c.status) for c in cases],
                         [("dash", ks.PASS), ("plain", ks.PASS),
                          ("", ks.SKIP), ("odd", ks.FAIL), ("a#b", ks.PASS)])

    def test_subtest_header_without_version_line(self):
        text = ("TAP version 14\n1..1\n    # Subtest: s\n    1..1\n"
                "    ok 1 a\nok 1 s\n")
        self.assertEqual([c.path for c in parse_text(text)], ["s.a"])

    def test_unrelated_lines_anywhere(self):
        text = ("boot\nKTAP version 1\ncpu1 up\n1..1\n    KTAP version 1\n"
                "cpu2 up\n    # Subtest: s\n    1..1\nnoise ok 1 x\n"
                "    ok 1 a\ncpu3 up\nok 1 s\nbye\n")
        self.assertEqual(totals_of(parse_text(text)), (1, 0, 0))

    def test_empty_input(self):
        self.assertEqual(failed_titles(parse_text("")),
                         ["(top level): no KTAP output"])

    def test_missing_file_is_a_failure(self):
        cases = ks.read_log(str(LOGS / "does-not-exist.log"))
        self.assertEqual(failed_titles(cases), ["(top level): log unreadable"])


class Report(unittest.TestCase):
    LAST = re.compile(r"^\d+ passed, \d+ failed(, \d+ skipped)?$")

    def run_report(self, cases):
        if isinstance(cases, str):     # a sample log's name
            cases = ks.read_log(str(LOGS / cases))
        out = io.StringIO()
        status = ks.report(cases, out)
        return status, out.getvalue().splitlines()

    def test_pass_exit_and_last_line(self):
        status, lines = self.run_report("all_pass.log")
        self.assertEqual(status, 0)
        self.assertEqual(lines, ["6 passed, 0 failed, 1 skipped"])

    def test_failure_exit_and_last_line(self):
        status, lines = self.run_report("failures.log")
        self.assertEqual(status, 1)
        self.assertRegex(lines[-1], self.LAST)
        self.assertEqual(lines[-1], "2 passed, 2 failed")
        self.assertIn("FAILED shootdown.free_after_ack", lines[0])

    def test_nothing_ran_is_a_failure(self):
        status, lines = self.run_report([])
        self.assertEqual((status, lines), (1, ["0 passed, 0 failed"]))

    def test_long_diagnostics_are_cut(self):
        diag = [f"line {i}" for i in range(99)]
        case = ks.Case("s.a", ks.FAIL, "x.log", diag)
        _, lines = self.run_report([case])
        self.assertEqual(len(lines), 1 + ks.MAX_DIAG_LINES + 1 + 1)
        self.assertIn("69 more lines in x.log", lines[-2])

    def test_main_reads_several_logs(self):
        logs = [str(LOGS / "all_pass.log"), str(LOGS / "nested.log")]
        out = io.StringIO()
        old, sys.stdout = sys.stdout, out
        try:
            status = ks.main(logs)
        finally:
            sys.stdout = old
        self.assertEqual(status, 1)
        self.assertEqual(out.getvalue().splitlines()[-1],
                         "8 passed, 1 failed, 1 skipped")


if __name__ == "__main__":
    unittest.main()
