#!/usr/bin/env python3
"""Unit tests for the parts of tools/run_tests.py and tools/qemu_run.py
that `make test` leans on beyond the boots themselves: the boot checks'
judges, --check, qemu_run.run(stop_on=...) and the summary line.  No
kernel and no QEMU: a small Python program stands in for QEMU.

    python3 tests/tools/test_run_tests.py -v
"""

import io
import shutil
import sys
import tempfile
import unittest
from contextlib import redirect_stdout
from pathlib import Path
from unittest import mock

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "tools"))
import ktap_summary as ktap  # noqa: E402  (path set up just above)
import qemu_run  # noqa: E402
import run_tests  # noqa: E402


def outcome(status):
    return qemu_run.Outcome(status, f"status {status}", command=["qemu"])


class NoSuiteMatched(unittest.TestCase):
    GOOD = ["boot: ...", "KTAP version 1", "1..0",
            "# selftest=nomatch matched no suite; the suites are: a b"]

    def judge(self, lines, status=qemu_run.EXIT_FAILED):
        return run_tests.judge_no_suite_matched(lines, outcome(status))

    def test_the_kernel_s_answer_passes(self):
        self.assertEqual(self.judge(self.GOOD), [])

    def test_a_passing_exit_status_fails(self):
        self.assertTrue(self.judge(self.GOOD, qemu_run.EXIT_PASSED))

    def test_no_plan_or_no_diagnostic_fails(self):
        self.assertTrue(self.judge(self.GOOD[:1]))
        self.assertTrue(self.judge(self.GOOD[:3]))
        self.assertTrue(self.judge(["KTAP version 1", "1..1", *self.GOOD[3:]]))


class NoLongMode(unittest.TestCase):
    GOOD = ["  Booting `shootdown'",
            "\rshootdown: this CPU has no long mode (64-bit); halting."]

    def judge(self, lines, status=qemu_run.EXIT_STOPPED):
        return run_tests.judge_no_long_mode(lines, outcome(status))

    def test_message_then_halt_passes(self):
        self.assertEqual(self.judge(self.GOOD), [])

    def test_no_message_fails(self):
        self.assertTrue(self.judge(self.GOOD[:1], qemu_run.EXIT_TIMEOUT))

    def test_message_then_a_crash_fails(self):
        self.assertTrue(self.judge(self.GOOD, qemu_run.EXIT_BROKEN))

    def test_message_then_selftests_fails(self):
        self.assertTrue(self.judge([*self.GOOD, "KTAP version 1", "1..1"]))


class UnknownOption(unittest.TestCase):
    GOOD = ["cmdline: warning: unknown option 'no_such_option'; ignored",
            "KTAP version 1", "1..1", "ok 1 cmdline"]

    def judge(self, lines, status=qemu_run.EXIT_PASSED):
        return run_tests.judge_unknown_option(lines, outcome(status))

    def test_warning_then_tests_passes(self):
        self.assertEqual(self.judge(self.GOOD), [])

    def test_no_warning_fails(self):
        self.assertTrue(self.judge(self.GOOD[1:]))

    def test_stopping_at_the_warning_fails(self):
        self.assertTrue(self.judge(self.GOOD[:1], qemu_run.EXIT_TIMEOUT))

    def test_a_failing_boot_fails(self):
        self.assertTrue(self.judge(self.GOOD, qemu_run.EXIT_FAILED))


class BootsSaying(unittest.TestCase):
    """judge_boots_saying: an unusual machine boots, says what it found
    (in order) and passes its selftests."""
    GOOD = ["acpi: no RSDP in the EBDA", "lapic: from the MSR",
            "smp: the boot CPU alone", "KTAP version 1", "1..1", "ok 1 smp"]

    def judge(self, lines, status=qemu_run.EXIT_PASSED):
        return run_tests.judge_boots_saying(
            "no RSDP", "MSR", "alone")(lines, outcome(status))

    def test_every_message_then_tests_passes(self):
        self.assertEqual(self.judge(self.GOOD), [])

    def test_a_missing_message_is_named(self):
        problems = self.judge([self.GOOD[0], *self.GOOD[2:]])
        self.assertEqual(len(problems), 1)
        self.assertIn("'MSR'", problems[0])

    def test_messages_out_of_order_fail(self):
        self.assertTrue(self.judge([self.GOOD[1], self.GOOD[0],
                                    *self.GOOD[2:]]))

    def test_no_selftest_or_a_failing_boot_fails(self):
        self.assertTrue(self.judge(self.GOOD[:3]))
        self.assertTrue(self.judge(self.GOOD, qemu_run.EXIT_FAILED))
        self.assertTrue(self.judge(self.GOOD, qemu_run.EXIT_BROKEN))


class TempTestDir(unittest.TestCase):
    """Logs go to a private directory, and progress lines nowhere."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp)
        for target, value in ((run_tests, "TEST_DIR"), (qemu_run, "RUN_DIR")):
            patcher = mock.patch.object(target, value, self.tmp)
            patcher.start()
            self.addCleanup(patcher.stop)
        patcher = mock.patch.object(qemu_run, "ROOT", self.tmp)
        patcher.start()
        self.addCleanup(patcher.stop)


class Check(TempTestDir):
    def run_check(self, spec):
        with redirect_stdout(io.StringIO()):
            return run_tests.run_check(spec)

    def test_exit_0_is_one_pass(self):
        [case] = self.run_check("fine=echo built")
        self.assertEqual((case.path, case.status), ("check fine", ktap.PASS))
        self.assertEqual((self.tmp / "check-fine.log").read_text(),
                         "built\n")

    def test_other_exit_is_one_failure_with_the_output(self):
        [case] = self.run_check("broken=echo 'error: x'; exit 2")
        self.assertEqual(case.status, ktap.FAIL)
        self.assertIn("exited 2", case.title())
        self.assertIn("error: x", case.diag)


# Stands in for QEMU: prints its arguments' lines, then sleeps (a halted
# machine) or exits with a status.
FAKE_QEMU = """
import sys, time
for line in sys.argv[2:]:
    print(line, flush=True)
if sys.argv[1] == "halt":
    time.sleep(60)
sys.exit(int(sys.argv[1]))
"""


class StopOn(TempTestDir):
    def run_fake(self, mode, lines, stop_on, timeout=30):
        fake = [sys.executable, "-c", FAKE_QEMU, mode, *lines]
        with mock.patch.object(qemu_run, "qemu_command",
                               return_value=fake), \
                mock.patch.object(qemu_run, "iso_for",
                                  return_value=Path("x.iso")), \
                mock.patch.object(qemu_run, "STOP_GRACE_SECONDS", 0.5):
            return qemu_run.run(qemu_run.Boot(), self.tmp / "serial.log",
                                timeout, echo=False, stop_on=stop_on)

    def test_text_then_halt_is_stopped(self):
        got = self.run_fake("halt", ["hello", "no long mode; halting"],
                            "no long mode")
        self.assertEqual(got.status, qemu_run.EXIT_STOPPED)
        self.assertIn("no long mode; halting",
                      (self.tmp / "serial.log").read_text())

    def test_text_then_exit_keeps_qemu_s_status(self):
        got = self.run_fake(str(qemu_run.QEMU_PASSED), ["no long mode"],
                            "no long mode")
        self.assertEqual(got.status, qemu_run.EXIT_PASSED)

    def test_exit_without_the_text(self):
        got = self.run_fake("0", ["something else"], "no long mode")
        self.assertEqual(got.status, qemu_run.EXIT_BROKEN)

    def test_no_text_then_timeout(self):
        got = self.run_fake("halt", ["something else"], "no long mode",
                            timeout=1)
        self.assertEqual(got.status, qemu_run.EXIT_TIMEOUT)


class SummaryIsLast(TempTestDir):
    def test_last_line_counts_every_entry(self):
        boot_case = ktap.Case("suite.case", ktap.PASS, "boot.log")
        check_case = ktap.Case("check no-long-mode", ktap.FAIL, "c.log")
        out = io.StringIO()
        with mock.patch.object(run_tests, "run_boot",
                               return_value=[boot_case, boot_case]), \
                mock.patch.object(run_tests, "run_boot_check",
                                  return_value=[check_case]), \
                redirect_stdout(out):
            status = run_tests.main(["--check", "ok=true",
                                     "--matrix", "bios:1",
                                     "--boot-check", "no-long-mode"])
        self.assertEqual(status, 1)
        self.assertEqual(out.getvalue().splitlines()[-1],
                         "3 passed, 1 failed")


if __name__ == "__main__":
    unittest.main()
