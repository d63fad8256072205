#!/usr/bin/env python3
"""Boot one seed scenario (scenarios/scenario.h) and keep its pictures.

    tools/scenario.py no-ack-wait [--broken] [--smp 4]
    tools/scenario.py --all [--smp 4]

prints the kernel's narration and verdict, and writes the serial log, the
SVG timeline and the Chrome Trace JSON to
build/scenarios/NAME-{fixed,broken}.{log,svg,json}.  For the fixed variant
it also runs the free-after-acks checker on the trace.  Exit status 0
when the verdict is the one the variant must give (broken: the hazard
seen; fixed: none, and every free after every ack).  `make scenario
NAME=... [BROKEN=1]` runs this.

--all boots every scenario, both variants, one QEMU at a time, and
prints a table of verdicts (`make scenarios`); exit status 0 when every
row is as its variant must be.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import qemu_run  # noqa: E402  (found through the line above)
import timeline  # noqa: E402
import timeline_render  # noqa: E402

# Every scenario of scenarios/scenario.c, in seed order.
NAMES = ["huge-ioremap", "nmi-fixmap", "no-ack-wait", "dirty-bit",
         "device-tlb", "no-alloc-free"]
VARIANTS = ["broken", "fixed"]
OUT = qemu_run.ROOT / "build" / "scenarios"
# A scenario boot takes about a second; a minute is a hung kernel.
TIMEOUT = 60.0


def boot(name: str, variant: str, smp: int, firmware: str) -> tuple:
    """Boot it; (outcome, log path)."""
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / f"{name}-{variant}.log"
    opt = f"scenario={name}" + (":broken" if variant == "broken" else "")
    cfg = qemu_run.Boot(firmware=firmware, smp=smp, cmdline=opt)
    return qemu_run.run(cfg, log, TIMEOUT, False), log


def pictures(log: Path, title: str) -> list:
    """Write the SVG and the JSON next to @log; the dumps found."""
    dumps = timeline.parse(log.read_text(errors="replace"))
    if dumps:
        d = dumps[-1]
        calls = timeline.calls_of(d)
        sds = timeline.shootdowns_of(d, calls)
        log.with_suffix(".svg").write_text(timeline_render.svg(d, calls, sds, title))
        log.with_suffix(".json").write_text(timeline_render.chrome_json(d, calls, sds))
    return dumps


def judge(lines: list, outcome, variant: str, dumps: list) -> list:
    """The problems of a scenario boot: none when it demonstrated what
    its variant must."""
    problems = []
    verdicts = [ln for ln in lines if ln.startswith("scenario: verdict:")]
    if not verdicts:
        problems.append("no 'scenario: verdict:' line")
    elif "as expected" not in verdicts[-1]:
        problems.append(verdicts[-1])
    if outcome.status != qemu_run.EXIT_PASSED:
        problems.append(f"the kernel's status: {outcome.message}")
    if not dumps:
        problems.append("no trace dump in the log")
    elif variant == "fixed":
        import io
        report = io.StringIO()
        if timeline.run_check(dumps, report):
            problems += report.getvalue().splitlines()
    return problems


def run_one(name: str, variant: str, smp: int, firmware: str,
            quiet: bool) -> tuple:
    """Boot @name's @variant, keep its pictures; (lines, dumps, problems)."""
    outcome, log = boot(name, variant, smp, firmware)
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    if not quiet:
        for line in lines:
            if line.startswith("scenario:"):
                print(line)
    dumps = pictures(log, f"{name} ({variant}), -smp {smp}")
    return lines, dumps, judge(lines, outcome, variant, dumps)


def row(name: str, variant: str, lines: list, dumps: list, problems: list) -> str:
    """One line of the --all table: the kernel's verdict, the checker's."""
    verdicts = [ln for ln in lines if ln.startswith("scenario: verdict:")]
    verdict = verdicts[-1].split(":")[2].strip() if verdicts else "none"
    hazards = verdicts[-1].split(":")[3].split(";")[0].strip() if verdicts else "-"
    check = "-"
    if variant == "fixed" and dumps:
        import io
        report = io.StringIO()
        check = "fail" if timeline.run_check(dumps, report) else "ok"
        if check == "ok":
            sds = sum(len(timeline.shootdowns_of(d, timeline.calls_of(d)))
                      for d in dumps)
            check = f"ok ({sds} sd)"
    return (f"{name:<16} {variant:<7} {verdict:<7} {hazards:<22} {check:<12} "
            f"{'as expected' if not problems else 'WRONG'}")


def run_all(smp: int, firmware: str) -> int:
    """Every scenario, both variants; a table; 0 when all as expected."""
    print(f"{'scenario':<16} {'variant':<7} {'verdict':<7} {'hazards':<22} "
          f"{'free-after-acks':<12} result")
    wrong = []
    for name in NAMES:
        for variant in VARIANTS:
            lines, dumps, problems = run_one(name, variant, smp, firmware, True)
            print(row(name, variant, lines, dumps, problems), flush=True)
            wrong += [f"{name} ({variant}): {p}" for p in problems]
    for w in wrong:
        print(f"scenario.py: {w}")
    print(f"scenario.py: logs, SVGs and JSON in {OUT.relative_to(qemu_run.ROOT)}/")
    return 1 if wrong else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("name", nargs="?", help="the scenario, e.g. no-ack-wait")
    ap.add_argument("--all", action="store_true",
                    help="every scenario, both variants: a table of verdicts")
    ap.add_argument("--broken", action="store_true", help="the broken variant")
    ap.add_argument("--smp", type=int, default=4)
    ap.add_argument("--firmware", default="bios", choices=["bios", "uefi"])
    args = ap.parse_args(argv)
    if args.all:
        return run_all(args.smp, args.firmware)
    if not args.name:
        ap.error("name a scenario, or --all")
    variant = "broken" if args.broken else "fixed"
    _, _, problems = run_one(args.name, variant, args.smp, args.firmware, False)
    for p in problems:
        print(f"scenario.py: {p}")
    print(f"scenario.py: log, SVG and JSON in {OUT.relative_to(qemu_run.ROOT)}/"
          f"{args.name}-{variant}.*")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
