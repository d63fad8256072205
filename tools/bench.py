#!/usr/bin/env python3
"""`make bench` and `make bench-sweep`: boot the kernel's bench suite,
collect its figures, print them as tables, write CSV and SVG plots.

    tools/bench.py                        # -smp 4, bench=full: a table
    tools/bench.py --smp 8
    tools/bench.py --sweep 1,2,4,8        # CSV + plots under build/bench/
    tools/bench.py --from-log LOG         # the table of a log, no boot
    tools/bench.py --check                # boot bench=tiny, check its shape
    tools/bench.py --check-log LOG        # check the shape of a log
    tools/bench.py --kernel build/clang/kernel.elf   # another build

--check and --check-log print KTAP (a suite "bench_shape") on stdout, for
tools/run_tests.py --host-cmd; tools/bench_shape.py reads the kernel's
figures and says what a run must hold.  Never a time.  docs/bench.md
explains every figure.

Exit status: 0 when the boots passed and the shape is right, 1 when not,
2 when nothing could be measured (no log, QEMU did not start).
Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ktap_summary as ktap  # noqa: E402  (found through the line above)
import qemu_run  # noqa: E402
from bench_shape import POLICIES, Run, check_log, check_run, read_run  # noqa: E402
from bench_svg import COLORS, Series, svg_plot  # noqa: E402

BENCH_DIR = qemu_run.BUILD / "bench"
# A full run took about 210 s at -smp 4 on the 2-core machine of
# docs/bench.md (Linux's loop counts); -smp 8 there is far slower (8
# vCPUs take turns on 2 cores).
DEFAULT_TIMEOUT = 1800.0

# --- Tables --------------------------------------------------------------------

SECTIONS = {
    "vmalloc": "vmalloc + touch every page + vfree, per pair (lazy vfree); "
               "all_*: every CPU at once; IPIs and page tables: one CPU",
    "ioremap": "ioremap + one read + iounmap, per pair (lazy iounmap)",
    "shootdown": "one shootdown round (local flush, broadcast IPI, every "
                 "ack) against the broadcast IPI + acks floor",
    "strategy": "the same unmaps under each flush policy, per unmap",
    "linux": "Linux's workload with Linux's loop counts: mean ns per op of "
             "the median of 3 batches (the purge each batch owes included), "
             "median and p99 of that batch's ops, x floor = mean / the "
             "floor's mean; IPIs handled and page tables per op, all CPUs",
    "pt_live": "live page-table pages per level before and after the suite",
}


def fmt(value: float) -> str:
    """Up to three decimals, none from 1000 up."""
    if value == int(value) or abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:.3f}".rstrip("0").rstrip(".")


def fmt_wide(value: float) -> str:
    """fmt() with thousands separated, for tables read by people."""
    text = fmt(value)
    return f"{round(value):,}" if "." not in text else text


# Columns in reading order (others follow in the kernel's order).
COLUMN_ORDER = ["batch", "mean", "floor_x", "median", "p99", "ops",
                "all_median", "all_p99", "all_ops",
                "ratio", "shootdowns", "ipis", "ipis_recv", "ipis_total", "cycles", "ns",
                "pt_alloc", "pt_free"]


def render_table(header: list[str], units: list[str] | None,
                 rows: list[list[str]]) -> list[str]:
    """Columns right-aligned but the first; @units under the header."""
    heads = [header, units] if units else [header]
    cols = list(zip(*heads, *rows))
    widths = [max(len(x) for x in col) for col in cols]
    lines = []
    for r in heads + rows:
        cells = [r[0].ljust(widths[0])] + \
            [x.rjust(w) for x, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
    lines.insert(len(heads), "  ".join("-" * w for w in widths))
    return lines


def split(name: str) -> tuple[str, str, str] | None:
    parts = name.split(".")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None


def table(run: Run) -> str:
    facts = [f for f in run.figures.values() if split(f.name) is None]
    out = ["  ".join(f"{f.name}={fmt(f.value)}" for f in facts)]
    out += run.notes + [""]
    sections: dict[str, tuple[list[str], list[str]]] = {}
    for f in run.figures.values():
        s = split(f.name)
        if not s:
            continue
        rows, cols = sections.setdefault(s[0], ([], []))
        if s[1] not in rows:
            rows.append(s[1])
        if s[2] not in cols:
            cols.append(s[2])
    for sec, (rows, cols) in sections.items():
        cols.sort(key=lambda c: COLUMN_ORDER.index(c)
                  if c in COLUMN_ORDER else len(COLUMN_ORDER))
        units = [next((f.unit for f in run.figures.values()
                       if split(f.name) and split(f.name)[0] == sec
                       and split(f.name)[2] == c), "") for c in cols]
        body = []
        for r in rows:
            body.append([r] + [fmt_wide(v) if (v := run.get(f"{sec}.{r}.{c}"))
                               is not None else "-" for c in cols])
        out.append(f"{sec}: {SECTIONS.get(sec, '')}")
        out += render_table([sec] + cols, [""] + units, body)
        out.append("")
    return "\n".join(out)


def sweep_table(runs: dict[int, Run]) -> str:
    cpus = sorted(runs)
    names: list[str] = []
    units: dict[str, str] = {}
    for n in reversed(cpus):        # the most CPUs has every figure
        for f in runs[n].figures.values():
            if f.name not in units:
                names.append(f.name)
                units[f.name] = f.unit
    body = [[name, units[name]] + [fmt_wide(v) if (v := runs[n].get(name))
                                   is not None else "-" for n in cpus]
            for name in names]
    return "\n".join(render_table(["figure", "unit"] +
                                  [f"smp {n}" for n in cpus], None, body))


# --- Plots (tools/bench_svg.py draws them) ------------------------------------

def series_of(runs: dict[int, Run], name: str, label: str, color: str,
              dashed: bool = False, scale: float = 1.0) -> Series:
    pts = [(float(n), runs[n].get(name) * scale) for n in sorted(runs)
           if runs[n].get(name) is not None]
    return Series(label, pts, color, dashed)


def plots(runs: dict[int, Run], out_dir: Path) -> list[Path]:
    us = 1e-3
    latency = [
        series_of(runs, "shootdown.floor.median", "IPI floor (bcast + acks)",
                  COLORS[7], True, us),
        series_of(runs, "shootdown.1p.median", "shootdown, 1 page",
                  COLORS[0], scale=us),
        series_of(runs, "shootdown.32p.median", "shootdown, 32 pages",
                  COLORS[1], scale=us),
        series_of(runs, "shootdown.512p.median", "shootdown, 512 pages",
                  COLORS[2], scale=us),
        series_of(runs, "vmalloc.4k.median", "vmalloc+vfree 4 KiB, 1 CPU",
                  COLORS[3], scale=us),
        series_of(runs, "vmalloc.4k.all_median",
                  "vmalloc+vfree 4 KiB, all CPUs", COLORS[3], True, us),
        series_of(runs, "vmalloc.2m.median", "vmalloc+vfree 2 MiB, 1 CPU",
                  COLORS[4], scale=us),
        series_of(runs, "vmalloc.2m.all_median",
                  "vmalloc+vfree 2 MiB, all CPUs", COLORS[4], True, us),
    ]
    cost, ipis = [], []
    for i, (w, label) in enumerate([("vfree_4k", "4 KiB"),
                                    ("vfree_64p", "64 pages")]):
        for j, p in enumerate(POLICIES):
            color = COLORS[j]
            row = f"strategy.{w}_{p}"
            name = f"{label}, {p.replace('_', ' ')}"
            cost.append(series_of(runs, row + ".ns", name, color,
                                  i == 1, us))
            ipis.append(series_of(runs, row + ".ipis_recv", name, color,
                                  i == 1))
            if p == "per_page":   # often on top of per unmap: show both
                cost[-1].width = ipis[-1].width = 7.0
    files = {
        "latency.svg": svg_plot(
            "Median latency against CPU count", "microseconds (log)",
            latency, "medians; p99 in the CSV\nsolid: one CPU working,\n"
            "dashed: all CPUs at once / floor"),
        "strategy_cost.svg": svg_plot(
            "Cost of one vfree by flush policy", "microseconds per vfree (log)",
            cost, "solid: 1,000 x 4 KiB areas\ndashed: 100 x 64-page areas\n"
            "lazy includes its purge"),
        "ipis_per_op.svg": svg_plot(
            "IPIs handled per vfree, by flush policy",
            "IPI handler entries per vfree, all CPUs (log)", ipis,
            "sent: one broadcast per shootdown;\nhandled: x (CPUs - 1)\n"
            "-smp 1 sends none (not drawn)\nsolid: 4 KiB, dashed: 64 pages\n"
            "4 KiB per page = per unmap (wide line);\n"
            "per unmap: the same for both sizes"),
    }
    paths = []
    for name, svg in files.items():
        path = out_dir / name
        path.write_text(svg)
        paths.append(path)
    return paths


# --- Boots -----------------------------------------------------------------------

def boot(args, smp: int, size: str, log: Path, echo: bool) \
        -> qemu_run.Outcome:
    b = qemu_run.Boot(firmware=args.firmware, smp=smp, mem=args.mem,
                      cpu=args.cpu, cmdline=f"selftest=bench bench={size}"
                      + (f" bench_row={args.row}" if args.row else "")
                      + (f" {args.options}" if args.options else ""))
    return qemu_run.run(b, log, args.timeout, echo=echo)


def say(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def measure(args, smp: int) -> tuple[Run, bool, Path]:
    """Boot once at @smp with bench=full; the run, whether it was sound,
    and its log."""
    log = args.out / f"bench-smp{smp}.log"
    say(f"booting -smp {smp} -cpu {args.cpu} (bench={args.size}), log in "
        f"{log} ...")
    outcome = boot(args, smp, args.size, log, args.verbose)
    say(f"-smp {smp}: {outcome.message} after {outcome.seconds:.1f} s")
    if not outcome.command or not log.exists():
        return Run(), False, log
    run = read_run(log)
    shape = check_run(run, ktap.read_log(str(log)))
    bad = [p for c in shape for p in c.problems]
    for p in bad[:10]:
        say(f"-smp {smp}: shape: {p}")
    return run, outcome.status == qemu_run.EXIT_PASSED and not bad, log


def write_csv(path: Path, runs: dict[int, Run]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["cpus", "name", "value", "unit"])
        for n in sorted(runs):
            for fig in runs[n].figures.values():
                w.writerow([n, fig.name, fmt(fig.value) if fig.value !=
                            int(fig.value) else int(fig.value), fig.unit])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Boot the kernel's bench suite and report its figures.")
    ap.add_argument("--smp", type=int, default=4, help="CPUs (default 4)")
    ap.add_argument("--sweep", metavar="N,N,...",
                    help="boot once per CPU count; CSV and plots")
    ap.add_argument("--size", choices=["full", "tiny"], default="full",
                    help="bench= kernel option (default full)")
    ap.add_argument("--firmware", choices=["bios", "uefi"], default="bios")
    ap.add_argument("--cpu", default="max", help="QEMU CPU model")
    ap.add_argument("--mem", default="512M", help="guest memory (default "
                    "512M: the huge ioremaps need a free GiB above RAM)")
    ap.add_argument("--row", help="linux table: the floor and the rows whose "
                    "name begins with ROW only (kernel option bench_row=)")
    ap.add_argument("--options", help="more kernel options, e.g. "
                    "frame_poison=off (the table's debug line says which)")
    ap.add_argument("--kernel", type=Path, default=qemu_run.KERNEL,
                    help="kernel to boot (default build/kernel.elf; "
                    "the Makefile passes $(BUILD)/kernel.elf)")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                    help=f"seconds per boot (default {DEFAULT_TIMEOUT:g})")
    ap.add_argument("--out", type=Path, default=BENCH_DIR,
                    help="where serial logs, CSV and plots go (default "
                    "build/bench)")
    ap.add_argument("--from-log", type=Path, metavar="LOG",
                    help="print the table of a log; no boot")
    ap.add_argument("--check", action="store_true",
                    help="boot bench=tiny and print its shape check as KTAP")
    ap.add_argument("--check-log", type=Path, metavar="LOG",
                    help="print the shape check of LOG as KTAP; no boot")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="echo the serial console")
    args = ap.parse_args(argv)
    if args.smp < 1:
        ap.error("--smp must be at least 1")
    # qemu_run makes the --cmdline ISO from its KERNEL.
    qemu_run.KERNEL = args.kernel.resolve()
    if not (args.check_log or args.from_log) and not args.kernel.exists():
        say(f"no kernel at {args.kernel}: run `make` first")
        return 2

    if args.check_log:
        return 0 if check_log(args.check_log) else 1
    if args.from_log:
        if not args.from_log.exists():
            say(f"no log {args.from_log}")
            return 2
        print(table(read_run(args.from_log)))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    if args.check:
        log = args.out / f"check-smp{args.smp}.log"
        outcome = boot(args, args.smp, "tiny", log, args.verbose)
        if not outcome.command:
            print(f"KTAP version 1\n1..1\n# {outcome.message}\n"
                  "not ok 1 bench_shape")
            return 1
        ok = check_log(log)
        if outcome.status != qemu_run.EXIT_PASSED:
            print(f"# boot: {outcome.message}")
            ok = False
        return 0 if ok else 1

    start = time.monotonic()
    if not args.sweep:
        run, ok, log = measure(args, args.smp)
        if not run.figures:
            return 2
        print(table(run))
        csv_path = args.out / f"bench-smp{args.smp}.csv"
        write_csv(csv_path, {args.smp: run})
        say(f"{len(run.figures)} figures; CSV {csv_path}; "
            f"{time.monotonic() - start:.0f} s in all")
        return 0 if ok else 1

    try:
        counts = sorted({int(x) for x in args.sweep.split(",") if x})
    except ValueError:
        ap.error(f"--sweep {args.sweep}: want CPU counts like 1,2,4,8")
    if not counts or min(counts) < 1:
        ap.error("--sweep needs CPU counts of at least 1")
    runs, all_ok = {}, True
    for n in counts:
        run, ok, _ = measure(args, n)
        all_ok &= ok
        if run.figures:
            runs[n] = run
    if not runs:
        return 2
    csv_path = args.out / "sweep.csv"
    write_csv(csv_path, runs)
    print(sweep_table(runs))
    for p in plots(runs, args.out):
        say(f"plot {p}")
    say(f"CSV {csv_path}; {time.monotonic() - start:.0f} s in all")
    return 0 if all_ok and len(runs) == len(counts) else 1


if __name__ == "__main__":
    sys.exit(main())
