#!/usr/bin/env python3
"""Unit tests for tools/bench.py and tools/bench_shape.py that need no
kernel: reading the bench: lines, the shape check on real logs
(bench/*.log, two tiny boots of `selftest=bench`) and on broken copies
of them, the tables and the SVG.

    python3 tests/tools/test_bench.py -v
"""

import io
import re
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "tools"))
import bench  # noqa: E402  (path set up just above)
import bench_shape  # noqa: E402
import ktap_summary as ktap  # noqa: E402

LOGS = HERE / "bench"


def lines_of(name):
    return (LOGS / name).read_text().splitlines(keepends=True)


def check(lines):
    """The shape checks of a log given as lines: {name: problems}."""
    run = bench_shape.parse(lines)
    cases = ktap.parse_log(lines, "test")
    return {c.name: c.problems for c in bench_shape.check_run(run, cases)}


def edited(name, pattern, replacement):
    """The log @name with one bench: line changed (or removed)."""
    out, done = [], False
    for line in lines_of(name):
        if not done and re.search(pattern, line):
            done = True
            if replacement is None:
                continue
            line = re.sub(r"(bench: \S+ )\S+", rf"\g<1>{replacement}", line)
        out.append(line)
    assert done, pattern
    return out


class Parse(unittest.TestCase):
    def test_reads_lines_with_and_without_the_ktap_prefix(self):
        run = bench_shape.parse(["    # bench: vmalloc.4k.median 123 ns\n",
                           "bench: cpus 4 cpus\r\n",
                           "# bench: strategy.x.ipis 0.125 IPIs/op\n",
                           "bench: something else entirely here\n",
                           "the bench: word in a sentence is skipped?\n"])
        self.assertEqual(run.get("vmalloc.4k.median"), 123)
        self.assertEqual(run.figures["vmalloc.4k.median"].unit, "ns")
        self.assertEqual(run.cpus, 4)
        self.assertEqual(run.get("strategy.x.ipis"), 0.125)
        self.assertEqual(len(run.bad_lines), 2)

    def test_real_logs_have_every_figure(self):
        for name, cpus, figures in (("tiny-smp1.log", 1, 215),
                                    ("tiny-smp4.log", 4, 220)):
            run = bench_shape.parse(lines_of(name))
            self.assertEqual(run.cpus, cpus)
            self.assertEqual(len(run.figures), figures, name)
            self.assertEqual(set(run.figures), set(bench_shape.expected_figures(run)))


class Shape(unittest.TestCase):
    def assert_only_fails(self, problems, name):
        failing = {k for k, v in problems.items() if v}
        self.assertEqual(failing, {name}, problems)

    def test_real_logs_pass(self):
        for name in ("tiny-smp1.log", "tiny-smp4.log"):
            problems = check(lines_of(name))
            self.assertFalse(any(problems.values()), (name, problems))

    def test_a_missing_figure_fails(self):
        self.assert_only_fails(check(edited(
            "tiny-smp4.log", r"bench: ioremap\.2m\.p99 ", None)),
            "every_figure_present")

    def test_an_unknown_figure_fails(self):
        lines = lines_of("tiny-smp4.log")
        i = next(i for i, l in enumerate(lines) if "bench: cpus" in l)
        lines.insert(i, "    # bench: vmalloc.8k.median 5 ns\n")
        self.assert_only_fails(check(lines), "every_figure_present")

    def test_a_floor_at_one_cpu_would_be_unknown(self):
        lines = lines_of("tiny-smp1.log")
        i = next(i for i, l in enumerate(lines) if "bench: cpus" in l)
        lines.insert(i, "    # bench: shootdown.floor.median 5 ns\n")
        self.assertTrue(check(lines)["every_figure_present"])

    def test_a_wrong_unit_fails(self):
        lines = [l.replace(" ns\n", " us\n") if "vmalloc.4k.median" in l
                 else l for l in lines_of("tiny-smp4.log")]
        self.assert_only_fails(check(lines), "units_as_documented")

    def test_lazy_as_dear_as_per_unmap_fails(self):
        lines = edited("tiny-smp4.log",
                       r"bench: strategy\.vfree_4k_lazy\.shootdowns ", "1")
        lines = [re.sub(r"(strategy\.vfree_4k_lazy\.ipis )\S+", r"\g<1>1", l)
                 for l in lines]
        lines = [re.sub(r"(strategy\.vfree_4k_lazy\.ipis_recv )\S+",
                        r"\g<1>3", l) for l in lines]
        self.assert_only_fails(check(lines), "strategies_ordered")

    def test_ipis_not_matching_shootdowns_fails(self):
        self.assert_only_fails(check(edited(
            "tiny-smp4.log", r"bench: strategy\.vfree_64p_per_unmap\.ipis_recv ",
            "2")), "ipis_match_shootdowns")

    def test_ipis_at_one_cpu_fail(self):
        self.assertTrue(check(edited(
            "tiny-smp1.log", r"bench: vmalloc\.4k\.ipis ", "0.5"))
            ["ipis_match_shootdowns"])

    def test_zero_latency_fails(self):
        self.assert_only_fails(check(edited(
            "tiny-smp4.log", r"bench: shootdown\.32p\.median ", "0")),
            "latencies_measured")

    def test_a_failed_kernel_case_fails(self):
        lines = [l.replace("ok 4 shootdown_rounds", "not ok 4 shootdown_rounds")
                 for l in lines_of("tiny-smp4.log")]
        self.assert_only_fails(check(lines), "kernel_bench_cases_passed")

    def test_linux_rows_break_one_check_each(self):
        for pattern, value, name in (
                (r"linux\.vmalloc_2m\.batch ", "800", "linux_counts_consistent"),
                (r"linux\.vmalloc_4k\.floor_x ", "5", "linux_counts_consistent"),
                (r"linux\.floor\.ipis_recv ", "0.01", "linux_counts_consistent"),
                (r"linux\.clock\.pt_alloc ", "1", "linux_counts_consistent"),
                (r"linux\.all_4k\.all_ops ", "1", "linux_counts_consistent"),
                (r"pt_live\.pte\.after ", "6", "page_tables_back"),
                (r"pt_live\.pgd\.before ", "2", "page_tables_back")):
            with self.subTest(pattern=pattern):
                self.assert_only_fails(check(edited(
                    "tiny-smp4.log", r"bench: " + pattern, value)), name)

    def test_linux_ipis_at_one_cpu_fail(self):
        self.assert_only_fails(check(edited(
            "tiny-smp1.log", r"bench: linux\.vmalloc_4k\.ipis_recv ", "0.03")),
            "linux_counts_consistent")

    def test_a_missing_linux_row_fails(self):
        lines = [l for l in lines_of("tiny-smp4.log")
                 if "bench: linux.purge_empty." not in l]
        problems = check(lines)
        self.assertEqual({k for k, v in problems.items() if v},
                         {"every_figure_present", "linux_counts_consistent"},
                         problems)

    def test_a_log_without_the_bench_fails_everywhere_it_should(self):
        problems = check(["KTAP version 1\n", "1..0\n"])
        self.assertTrue(problems["kernel_bench_cases_passed"])
        self.assertTrue(problems["every_figure_present"])

    def test_ktap_output_is_read_back_by_the_summary(self):
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "a.log"
            log.write_text("".join(edited("tiny-smp4.log",
                                          r"bench: cpus ", None)))
            out = io.StringIO()
            self.assertFalse(bench_shape.check_log(log, out))
            cases = ktap.parse_log(io.StringIO(out.getvalue()), "x")
            status = {c.path: c.status for c in cases}
            self.assertEqual(status["bench_shape.every_figure_present"],
                             ktap.FAIL)
            self.assertEqual(status["bench_shape.strategies_ordered"],
                             ktap.PASS)
            self.assertEqual(len(cases), 8)


class Output(unittest.TestCase):
    def test_table_has_a_section_per_prefix(self):
        text = bench.table(bench_shape.parse(lines_of("tiny-smp4.log")))
        for sec in ("vmalloc:", "ioremap:", "shootdown:", "strategy:",
                    "linux:", "pt_live:"):
            self.assertIn(sec, text)
        self.assertRegex(text, r"(?m)^debug: frame poisoning full; 4 CPUs")
        self.assertRegex(text, r"(?m)^floor\s+100\s+\S+\s+1\s")
        self.assertRegex(text, r"(?m)^vfree_64p_per_page\s+64\s+64\s+192\s")

    def test_sweep_table_marks_what_a_run_lacks(self):
        runs = {1: bench_shape.parse(lines_of("tiny-smp1.log")),
                4: bench_shape.parse(lines_of("tiny-smp4.log"))}
        text = bench.sweep_table(runs)
        self.assertRegex(text, r"(?m)^shootdown\.floor\.median\s+ns\s+-\s+\S")

    def test_plots_are_svg(self):
        runs = {1: bench_shape.parse(lines_of("tiny-smp1.log")),
                4: bench_shape.parse(lines_of("tiny-smp4.log"))}
        with tempfile.TemporaryDirectory() as tmp:
            paths = bench.plots(runs, Path(tmp))
            self.assertEqual(len(paths), 3)
            for p in paths:
                root = ET.parse(p).getroot()
                self.assertTrue(root.tag.endswith("svg"))
                self.assertGreater(len(root.findall(   # data points
                    "{http://www.w3.org/2000/svg}circle")), 2)

    def test_fmt(self):
        self.assertEqual(bench.fmt(3.0), "3")
        self.assertEqual(bench.fmt(0.125), "0.125")
        self.assertEqual(bench.fmt(0.5), "0.5")
        self.assertEqual(bench.fmt_wide(1234567.0), "1,234,567")
        self.assertEqual(bench.fmt_wide(120.429), "120.429")


if __name__ == "__main__":
    unittest.main()
