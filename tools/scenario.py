#!/usr/bin/env python3
"""Boot one seed scenario (scenarios/scenario.h) and keep its pictures.

    tools/scenario.py no-ack-wait [--broken] [--smp 4]

prints the kernel's narration and verdict, and writes the serial log, the
SVG timeline and the Chrome Trace JSON to
build/scenarios/NAME-{fixed,broken}.{log,svg,json}.  For the fixed variant
it also runs the free-after-acks checker on the trace.  Exit status 0
when the verdict is the one the variant must give (broken: the hazard
seen; fixed: none, and every free after every ack).  `make scenario
NAME=... [BROKEN=1]` runs this.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import qemu_run  # noqa: E402  (found through the line above)
import timeline  # noqa: E402
import timeline_render  # noqa: E402

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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("name", help="the scenario, e.g. no-ack-wait")
    ap.add_argument("--broken", action="store_true", help="the broken variant")
    ap.add_argument("--smp", type=int, default=4)
    ap.add_argument("--firmware", default="bios", choices=["bios", "uefi"])
    args = ap.parse_args(argv)
    variant = "broken" if args.broken else "fixed"
    outcome, log = boot(args.name, variant, args.smp, args.firmware)
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    for line in lines:
        if line.startswith("scenario:"):
            print(line)
    dumps = pictures(log, f"{args.name} ({variant}), -smp {args.smp}")
    problems = judge(lines, outcome, variant, dumps)
    for p in problems:
        print(f"scenario.py: {p}")
    print(f"scenario.py: log, SVG and JSON in {OUT.relative_to(qemu_run.ROOT)}/"
          f"{args.name}-{variant}.*")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
