#!/usr/bin/env python3
"""Unit tests for tools/timeline.py: reading a dump, the free-after-acks
checker on a real log (trace/vunmap-smp4.log, a `selftest=trace` boot at
-smp 4) and on hand-made dumps that break the rule, the Chrome Trace JSON
(loads, one flow pair per IPI and per ack) and the SVG (well-formed, a
lane per CPU, frees and hazards marked).

    python3 tests/tools/test_timeline.py -v
"""

import io
import json
import sys
import unittest
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "tools"))
import qemu_run  # noqa: E402  (path set up just above)
import run_tests  # noqa: E402
import scenario  # noqa: E402
import timeline  # noqa: E402
import timeline_render  # noqa: E402

REAL_LOG = HERE / "trace" / "vunmap-smp4.log"
SVG = "{http://www.w3.org/2000/svg}"

# A shootdown by CPU 0 on three CPUs, the free after both acks; the
# lines as the kernel prints them inside a KTAP case.
GOOD = """\
    # TRACE BEGIN cpus=3 hz=1000000000 since=100
    # T 0 100 step text=unmap, then shoot down
    # T 0 110 unmap va=0xffffc90000000000 size=0x1000
    # T 0 120 sd_begin id=1 start=0xffffc90000000000 end=0xffffc90000001000
    # T 0 130 ipi_send call=7 mask=0x6 fn=shootdown_on_target
    # T 1 140 ipi_recv from=0 call=7
    # T 0 145 inv_pages start=0xffffc90000000000 pages=1
    # T 1 150 inv_pages start=0xffffc90000000000 pages=1
    # T 1 160 ack to=0 call=7
    # T 2 170 ipi_recv from=0 call=7
    # T 2 180 inv_pages start=0xffffc90000000000 pages=1
    # T 2 190 ack to=0 call=7
    # T 0 200 all_acks id=1
    # T 0 210 free id=1 frames=1
    # TRACE END records=14 lost=0 wrapped=0x0
"""


def check(text):
    """(status, output) of the checker on @text."""
    out = io.StringIO()
    return timeline.run_check(timeline.parse(text), out), out.getvalue()


class Parse(unittest.TestCase):
    def test_reads_ktap_prefixed_lines_and_text_with_spaces(self):
        dumps = timeline.parse(GOOD)
        self.assertEqual(len(dumps), 1)
        d = dumps[0]
        self.assertEqual((d.cpus, d.hz, len(d.events)), (3, 10**9, 13))
        self.assertEqual(d.events[0].args, {"text": "unmap, then shoot down"})
        self.assertEqual(d.events[3].args["mask"], 6)
        self.assertEqual(d.events[3].args["fn"], "shootdown_on_target")

    def test_an_unfinished_dump_is_not_read(self):
        self.assertEqual(timeline.parse(GOOD.replace("TRACE END", "XX")), [])

    def test_calls_and_shootdowns_are_linked(self):
        d = timeline.parse(GOOD)[0]
        sds = timeline.shootdowns_of(d, timeline.calls_of(d))
        sd = sds[(0, 1)]
        self.assertEqual(len(sd.calls), 1)
        self.assertEqual(sorted(sd.calls[0].ack), [1, 2])
        self.assertEqual(sd.all_acks.tsc, 200)
        self.assertEqual([f.tsc for f in sd.frees], [210])


class CheckFreeAfterAcks(unittest.TestCase):
    def test_real_log_passes(self):
        status, out = check(REAL_LOG.read_text())
        self.assertEqual(status, 0, out)
        self.assertIn("ok: 1 shootdowns, 1 frees", out)

    def test_hand_made_good_dump_passes(self):
        status, out = check(GOOD)
        self.assertEqual(status, 0, out)

    def test_free_before_an_ack_fails(self):
        # The free moved before CPU 2's ack: seed 002's mistake.
        status, out = check(GOOD.replace("T 0 210 free", "T 0 185 free"))
        self.assertEqual(status, 1, out)
        self.assertIn("before CPU 2's ack at tsc 190", out)

    def test_missing_ack_fails(self):
        status, out = check(GOOD.replace("    # T 2 190 ack to=0 call=7\n", ""))
        self.assertEqual(status, 1, out)
        self.assertIn("CPU 2 never acknowledged call 7", out)

    def test_free_with_no_ipi_fails(self):
        text = "".join(line + "\n" for line in GOOD.splitlines()
                       if "call=7" not in line)
        status, out = check(text)
        self.assertEqual(status, 1, out)
        self.assertIn("no IPI to the other 2 CPUs", out)

    def test_an_ack_of_another_call_does_not_count(self):
        status, out = check(GOOD.replace("T 2 190 ack to=0 call=7",
                                         "T 2 190 ack to=0 call=8"))
        self.assertEqual(status, 1, out)

    def test_no_dump_fails(self):
        status, out = check("KTAP version 1\n1..0\n")
        self.assertEqual(status, 1)
        self.assertIn("no trace dump", out)

    def test_command_line_exit_status(self):
        self.assertEqual(timeline.main([str(REAL_LOG), "--check-free-after-acks"]), 0)


class BootCheckJudge(unittest.TestCase):
    """tools/run_tests.py's "trace" boot check judges the log with the
    checker above: it passes the real log and fails a log whose free was
    moved before an ack, or whose boot failed."""

    def judge(self, text, status=qemu_run.EXIT_PASSED):
        outcome = qemu_run.Outcome(status, f"status {status}", command=["qemu"])
        return run_tests.judge_trace_free_after_acks(text.splitlines(), outcome)

    def test_real_log_passes(self):
        self.assertEqual(self.judge(REAL_LOG.read_text()), [])

    def test_free_before_ack_fails(self):
        problems = self.judge(GOOD.replace("T 0 210 free", "T 0 185 free"))
        self.assertTrue(any("before CPU 2's ack" in p for p in problems), problems)

    def test_failed_boot_fails(self):
        problems = self.judge(GOOD, qemu_run.EXIT_FAILED)
        self.assertTrue(any("want every selected test to pass" in p
                            for p in problems), problems)


class ScenarioJudge(unittest.TestCase):
    """tools/scenario.py's judge on real logs of seed 002 at -smp 4: each
    variant passes as it is, and fails when it shows the other's result."""

    def judge(self, name, variant, edit=lambda t: t):
        text = edit((HERE / "trace" / name).read_text())
        outcome = qemu_run.Outcome(qemu_run.EXIT_PASSED, "passed", command=["q"])
        return scenario.judge(text.splitlines(), outcome, variant,
                              timeline.parse(text))

    def test_both_variants_pass(self):
        self.assertEqual(self.judge("no-ack-wait-broken.log", "broken"), [])
        self.assertEqual(self.judge("no-ack-wait-fixed.log", "fixed"), [])

    def test_broken_without_its_hazard_fails(self):
        problems = self.judge("no-ack-wait-fixed.log", "broken", lambda t: t.replace(
            "as expected for this variant", "the broken variant failed to show its hazard"))
        self.assertTrue(any("failed to show" in p for p in problems), problems)

    def test_the_broken_trace_fails_the_free_after_acks_check(self):
        # Judged as a fixed run, the broken log's verdict line passes
        # ("as expected"), but its trace shows the free before the acks.
        problems = self.judge("no-ack-wait-broken.log", "fixed")
        self.assertTrue(any("before CPU 1's ack" in p for p in problems), problems)


def render(text):
    d = timeline.parse(text)[-1]
    calls = timeline.calls_of(d)
    return d, calls, timeline.shootdowns_of(d, calls)


class ChromeJson(unittest.TestCase):
    def flows(self, text):
        d, calls, sds = render(text)
        trace = json.loads(timeline_render.chrome_json(d, calls, sds))
        self.assertIn("traceEvents", trace)
        return d, trace["traceEvents"]

    def test_a_flow_pair_for_every_ipi_and_every_ack(self):
        for name, text in (("hand-made", GOOD), ("real", REAL_LOG.read_text())):
            d, events = self.flows(text)
            pairs = Counter((e["cat"], e["id"], e["ph"]) for e in events
                            if e["ph"] in "sf")
            for cat, event in (("ipi", "ipi_recv"), ("ack", "ack")):
                want = sum(1 for e in d.events if e.name == event)
                starts = {i for (c, i, ph) in pairs if c == cat and ph == "s"}
                ends = {i for (c, i, ph) in pairs if c == cat and ph == "f"}
                self.assertEqual((len(starts), starts), (want, ends),
                                 f"{name}: {cat} flows")

    def test_each_cpu_is_a_thread_with_slices(self):
        d, events = self.flows(GOOD)
        names = {e["tid"]: e["args"]["name"] for e in events
                 if e["ph"] == "M" and e["name"] == "thread_name"}
        self.assertEqual(names, {0: "CPU 0", 1: "CPU 1", 2: "CPU 2"})
        kinds = Counter(e["ph"] for e in events)
        self.assertGreater(kinds["X"], 0)
        self.assertGreater(kinds["i"], 0)


class Svg(unittest.TestCase):
    def draw(self, text):
        tree = ET.fromstring(timeline_render.svg(*render(text), "test"))
        return tree, [t.text for t in tree.iter(SVG + "text")]

    def test_a_lane_per_cpu_and_the_free_marked(self):
        tree, texts = self.draw(GOOD)
        for cpu in range(3):
            self.assertIn(f"CPU {cpu}", texts)
        self.assertIn("free 1", texts)
        self.assertTrue(any(r.get("fill") == "#ff7f0e" for r in tree.iter(SVG + "rect")))

    def test_a_stale_read_is_red(self):
        bad = GOOD.replace("    # TRACE END", "    # T 1 220 stale_read "
                           "va=0xffffc90000000000 expected=0x1 seen=0x2\n"
                           "    # TRACE END")
        tree, texts = self.draw(bad)
        self.assertIn("stale_read 0xffffc90000000000", texts)
        red = [c for c in tree.iter(SVG + "circle") if c.get("fill") == "#d62728"]
        self.assertEqual(len(red), 1)

    def test_ipi_and_ack_arrows(self):
        tree, _ = self.draw(GOOD)
        lines = [ln for ln in tree.iter(SVG + "line") if ln.get("marker-end")]
        ipis = [ln for ln in lines if not ln.get("stroke-dasharray")]
        acks = [ln for ln in lines if ln.get("stroke-dasharray")]
        self.assertEqual((len(ipis), len(acks)), (2, 2))


if __name__ == "__main__":
    unittest.main()
