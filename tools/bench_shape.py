#!/usr/bin/env python3
"""The shape of a bench run, for tools/bench.py: reading the kernel's
`bench:` lines into figures, and what a run must contain and satisfy
whatever the timings (`tools/bench.py --check` and `--check-log`).

The kernel prints one line per figure (tests/bench.c, inside a KTAP case,
so with a '# ' prefix):

    # bench: <section>.<row>.<column> <value> <unit>
    # bench: <fact> <value> <unit>          (cpus, tsc_mhz, ...)

The checks print KTAP (a suite "bench_shape"): every figure present with
its unit, the counters consistent (one broadcast IPI per shootdown,
served by every other CPU; per page >= per unmap > lazy; Linux's table:
its loop counts, ratios to the floor, IPIs per op against the count),
the live page tables back to their value before the suite, the
kernel's bench cases passed.  Never a time.  docs/bench.md explains
every figure.  Python 3 standard library only.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ktap_summary as ktap  # noqa: E402  (found through the line above)

LINE_RE = re.compile(r"^\s*(?:#\s*)?bench:\s+(\S+)\s+(\S+)\s+(\S+)\s*$")
# What the kernel says about the run: debug options, CPU model.
NOTE_RE = re.compile(r"^\s*#\s*(debug: .*?)\s*$")


@dataclass
class Figure:
    name: str
    value: float
    unit: str


@dataclass
class Run:
    """The figures of one boot, in the order the kernel printed them."""
    figures: dict[str, Figure] = field(default_factory=dict)
    bad_lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # "debug: ..." lines

    def get(self, name: str) -> float | None:
        f = self.figures.get(name)
        return f.value if f else None

    @property
    def cpus(self) -> int:
        return int(self.get("cpus") or 0)


def parse(lines) -> Run:
    run = Run()
    for line in lines:
        m = NOTE_RE.match(line.rstrip("\r\n"))
        if m:
            run.notes.append(m.group(1))
        if "bench:" not in line:
            continue
        m = LINE_RE.match(line.rstrip("\r\n"))
        if not m:
            run.bad_lines.append(line.strip())
            continue
        name, value, unit = m.groups()
        try:
            run.figures[name] = Figure(name, float(value), unit)
        except ValueError:
            run.bad_lines.append(line.strip())
    return run


def read_run(path: Path) -> Run:
    with open(path, encoding="utf-8", errors="replace") as f:
        return parse(f)


# --- What a run must contain (tests/bench.c prints the same) -----------------

FACTS = {"cpus": "cpus", "tsc_mhz": "MHz", "size_full": "bool",
         "gbpages": "bool", "huge_ioremap": "bool", "frame_poison": "mode",
         "linux_io": "bool"}
COUNTER_COLUMNS = {"ipis": "IPIs/op", "pt_alloc": "pages/op",
                   "pt_free": "pages/op"}
VMALLOC_COLUMNS = {"median": "ns", "p99": "ns", "ops": "ops/s",
                   "all_median": "ns", "all_p99": "ns", "all_ops": "ops/s",
                   **COUNTER_COLUMNS}
IOREMAP_COLUMNS = {"median": "ns", "p99": "ns", "ops": "ops/s",
                   **COUNTER_COLUMNS}
STRATEGY_COLUMNS = {"shootdowns": "shootdowns/op", "ipis_recv": "IPIs/op",
                    "cycles": "cycles/op", "ns": "ns/op", **COUNTER_COLUMNS}
WORKLOADS = {"vfree_4k": 1, "vfree_64p": 64}    # pages per area
LINUX_COLUMNS = {"batch": "ops", "mean": "ns", "median": "ns", "p99": "ns",
                 "floor_x": "x", "ipis_recv": "IPIs/op", "ipis_total": "IPIs",
                 "pt_alloc": "pages/op", "pt_free": "pages/op"}
# Linux's table (tests/bench_linux.c): row -> operations per batch (per
# CPU for all_4k) at bench=full and at bench=tiny.
LINUX_ROWS = {"floor": (100000, 100), "clock": (100000, 100),
              "vmalloc_4k": (100000, 100), "vmalloc_64k": (25000, 25),
              "vmalloc_2m": (800, 3), "all_4k": (40000, 40),
              "ioremap_4k": (100000, 100), "ioremap_2m": (30000, 30),
              "burst_vfree": (1000, 10), "purge_burst": (1, 1),
              "purge_empty": (100000, 100)}
LINUX_IO_ROWS = ("ioremap_4k", "ioremap_2m")
PT_LEVELS = ("pte", "pmd", "pud", "pgd")
BENCH_CASES = 8     # tests/bench.c's cases
POLICIES = ["per_page", "per_unmap", "lazy"]


def expected_figures(run: Run) -> dict[str, str]:
    """Name -> unit of every figure @run's facts promise."""
    want = dict(FACTS)
    cpus = run.cpus
    for row in ("4k", "64k", "2m"):
        for col, unit in VMALLOC_COLUMNS.items():
            want[f"vmalloc.{row}.{col}"] = unit
    rows = ["4k"]
    if run.get("huge_ioremap"):
        rows.append("2m")
        if run.get("gbpages"):
            rows.append("1g")
    for row in rows:
        for col, unit in IOREMAP_COLUMNS.items():
            want[f"ioremap.{row}.{col}"] = unit
    for row in (["floor"] if cpus >= 2 else []) + ["1p", "32p", "512p"]:
        want[f"shootdown.{row}.median"] = "ns"
        want[f"shootdown.{row}.p99"] = "ns"
        if row != "floor" and cpus >= 2:
            want[f"shootdown.{row}.ratio"] = "x"
    rows = [f"{w}_{p}" for w in WORKLOADS for p in POLICIES]
    for row in rows + ["vunmap_64p_eager"]:
        for col, unit in STRATEGY_COLUMNS.items():
            want[f"strategy.{row}.{col}"] = unit
    for row in linux_rows(run):
        for col, unit in LINUX_COLUMNS.items():
            want[f"linux.{row}.{col}"] = unit
    want["linux.all_4k.all_ops"] = "ops/s"
    for level in PT_LEVELS:
        want[f"pt_live.{level}.before"] = "pages"
        want[f"pt_live.{level}.after"] = "pages"
    return want


def linux_rows(run: Run) -> list[str]:
    """The rows of Linux's table that @run's facts promise."""
    return [r for r in LINUX_ROWS
            if run.get("linux_io") or r not in LINUX_IO_ROWS]


@dataclass
class Check:
    name: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def expect(self, ok: bool, problem: str) -> bool:
        if not ok:
            self.problems.append(problem)
        return ok


def check_run(run: Run, cases: list[ktap.Case]) -> list[Check]:
    """The shape of a bench run: what must hold whatever the timings."""
    checks = []

    c = Check("kernel_bench_cases_passed")
    bench = [k for k in cases if k.path.startswith("bench.")]
    c.expect(len(bench) >= BENCH_CASES, f"{len(bench)} bench cases in the "
             f"log, expected {BENCH_CASES} (did the bench suite run? "
             "selftest=bench)")
    for k in bench:
        c.expect(k.status == ktap.PASS, f"{k.title()}: {k.status}; "
                 + " | ".join(k.diag[-3:]))
    checks.append(c)

    c = Check("every_figure_present")
    c.expect(not run.bad_lines, f"unreadable bench lines: {run.bad_lines[:3]}")
    want = expected_figures(run) if run.figures else dict(FACTS)
    missing = [n for n in want if n not in run.figures]
    unknown = [n for n in run.figures if n not in want]
    c.expect(not missing, f"{len(missing)} figures missing: "
             + ", ".join(missing[:8]))
    c.expect(not unknown, f"{len(unknown)} figures this checker does not "
             "know (update tools/bench_shape.py with tests/bench.c): "
             + ", ".join(unknown[:8]))
    c.notes.append(f"{len(run.figures)} figures, {run.cpus} CPUs")
    checks.append(c)

    c = Check("units_as_documented")
    for name, unit in want.items():
        f = run.figures.get(name)
        if f:
            c.expect(f.unit == unit, f"{name} in {f.unit}, expected {unit}")
    checks.append(c)

    c = Check("latencies_measured")
    for name, f in run.figures.items():
        if f.unit == "ns" and name.endswith("median"):
            c.expect(f.value > 0, f"{name} is {f.value:g}")
            p99 = run.get(name[:-len("median")] + "p99")
            if p99 is not None:
                c.expect(p99 >= f.value, f"{name} {f.value:g} above its "
                         f"p99 {p99:g}")
        if f.unit in ("ops/s", "cycles/op", "ns/op", "x"):
            c.expect(f.value > 0, f"{name} is {f.value:g}")
    checks.append(c)

    c = Check("ipis_match_shootdowns")
    cpus = run.cpus
    for name, f in run.figures.items():
        m = re.fullmatch(r"strategy\.(\w+)\.shootdowns", name)
        if not m:
            continue
        row = f"strategy.{m.group(1)}"
        sent, recv = run.get(row + ".ipis"), run.get(row + ".ipis_recv")
        if sent is None or recv is None:
            continue
        # Both are thousandths of the same integers: exact when equal.
        want_sent = f.value if cpus >= 2 else 0.0
        c.expect(abs(sent - want_sent) < 1e-9, f"{row}: {sent:g} IPIs/op "
                 f"for {f.value:g} shootdowns/op at {cpus} CPUs")
        c.expect(abs(recv - sent * (cpus - 1)) <= 0.0005 * cpus + 1e-9,
                 f"{row}: {recv:g} IPIs served/op, expected {sent:g} x "
                 f"{cpus - 1} other CPUs")
    for name, f in run.figures.items():
        if name.endswith(".ipis") and cpus < 2:
            c.expect(f.value == 0, f"{name} is {f.value:g} with one CPU")
    checks.append(c)

    c = Check("strategies_ordered")
    for w, pages in WORKLOADS.items():
        sd = {p: run.get(f"strategy.{w}_{p}.shootdowns") for p in POLICIES}
        ipis = {p: run.get(f"strategy.{w}_{p}.ipis") for p in POLICIES}
        if None in sd.values() or None in ipis.values():
            c.expect(False, f"{w}: strategy figures missing")
            continue
        c.expect(sd["per_page"] == pages, f"{w}: per page made "
                 f"{sd['per_page']:g} shootdowns/op, expected {pages}")
        c.expect(sd["per_unmap"] == 1, f"{w}: per unmap made "
                 f"{sd['per_unmap']:g} shootdowns/op, expected 1")
        c.expect(0 < sd["lazy"] < sd["per_unmap"], f"{w}: lazy made "
                 f"{sd['lazy']:g} shootdowns/op, expected between 0 and 1")
        if cpus >= 2:
            c.expect(ipis["lazy"] < ipis["per_unmap"] <= ipis["per_page"],
                     f"{w}: IPIs/op lazy {ipis['lazy']:g}, per unmap "
                     f"{ipis['per_unmap']:g}, per page {ipis['per_page']:g}:"
                     " expected lazy < per unmap <= per page")
    eager = run.get("strategy.vunmap_64p_eager.shootdowns")
    c.expect(eager == 1, f"vunmap made {eager} shootdowns/op, expected 1")
    checks.append(c)
    checks.append(check_linux(run))
    checks.append(check_page_tables(run))
    return checks


def close(a: float, b: float, rel: float) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b)) + 1e-9


def check_linux(run: Run) -> Check:
    """Linux's table: the loop counts of its size, the ratios to the
    floor and the aggregate agree with the means, the floor and the clock
    neither sent IPIs nor made page tables."""
    c = Check("linux_counts_consistent")
    full = bool(run.get("size_full"))
    floor = run.get("linux.floor.mean")
    for row in linux_rows(run):
        p = f"linux.{row}"
        want = LINUX_ROWS[row][0 if full else 1]
        got = run.get(p + ".batch")
        c.expect(got == want, f"{p}: {got} ops per batch, expected {want} "
                 f"at bench={'full' if full else 'tiny'}")
        mean, ratio = run.get(p + ".mean"), run.get(p + ".floor_x")
        if mean is None or ratio is None or not floor:
            continue
        # Both printed to three decimals: 0.5% covers the rounding.
        c.expect(close(ratio, mean / floor, 0.005) or abs(ratio - mean /
                 floor) < 0.002, f"{p}: {ratio:g} x floor, but mean "
                 f"{mean:g} / floor {floor:g} = {mean / floor:.3f}")
        if run.cpus == 1:
            c.expect(run.get(p + ".ipis_recv") == 0 and
                     run.get(p + ".ipis_total") == 0, f"{p}: "
                     f"{run.get(p + '.ipis_total')} IPIs with one CPU")
        total, per_op = run.get(p + ".ipis_total"), run.get(p + ".ipis_recv")
        ops = 3 * (got or 0) * (run.cpus if row == "all_4k" else 1)
        if total is not None and per_op is not None and ops:
            c.expect(abs(per_op - total / ops) <= 0.0005 + 1e-9,
                     f"{p}: {per_op:g} IPIs/op, but {total:g} IPIs over "
                     f"{ops:g} ops make {total / ops:.4f}")
    for row in ("floor", "clock"):
        for col in ("ipis_recv", "pt_alloc", "pt_free"):
            v = run.get(f"linux.{row}.{col}")
            c.expect(v == 0, f"linux.{row}.{col} is {v}: the {row} row "
                     "must not shoot down or build page tables")
    agg, mean = run.get("linux.all_4k.all_ops"), run.get("linux.all_4k.mean")
    if agg and mean and run.cpus:
        # all_ops = cpus x ops / wall, mean = wall / ops.
        c.expect(close(agg, run.cpus * 1e9 / mean, 0.01), f"linux.all_4k: "
                 f"{agg:g} ops/s together, but {run.cpus} CPUs at {mean:g} "
                 f"ns each make {run.cpus * 1e9 / mean:.0f}")
    return c


def check_page_tables(run: Run) -> Check:
    """After the suite, as many live page tables per level as before."""
    c = Check("page_tables_back")
    for level in PT_LEVELS:
        before = run.get(f"pt_live.{level}.before")
        after = run.get(f"pt_live.{level}.after")
        if before is None or after is None:
            c.expect(False, f"pt_live.{level}: figures missing")
            continue
        c.expect(after == before, f"{level} tables: {after:g} live after "
                 f"the bench, {before:g} before")
    return c


def print_ktap(checks: list[Check], source: str, out=None) -> bool:
    out = out or sys.stdout
    print("KTAP version 1\n1..1", file=out)
    print("    KTAP version 1\n    # Subtest: bench_shape", file=out)
    print(f"    1..{len(checks)}", file=out)
    for i, c in enumerate(checks, 1):
        for line in c.notes + c.problems[:12]:
            print(f"    # {line}", file=out)
        if len(c.problems) > 12:
            print(f"    # ... {len(c.problems) - 12} more", file=out)
        print(f"    {'not ok' if c.problems else 'ok'} {i} {c.name}",
              file=out)
    ok = not any(c.problems for c in checks)
    print(f"    # log: {source}", file=out)
    print(f"{'ok' if ok else 'not ok'} 1 bench_shape", file=out, flush=True)
    return ok


def check_log(path: Path, out=None) -> bool:
    run = read_run(path) if path.exists() else Run()
    cases = ktap.read_log(str(path))
    return print_ktap(check_run(run, cases), str(path), out)
