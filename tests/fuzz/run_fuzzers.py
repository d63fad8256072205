#!/usr/bin/env python3
"""Run the libFuzzer targets of tests/fuzz/ (built by tests/fuzz/fuzz.mk).

    run_fuzzers.py --build build/fuzz --seconds 60 TARGET...
    run_fuzzers.py --build build/fuzz --seconds 4 --ktap TARGET...

Each target first runs every input of its seed corpus
(tests/fuzz/corpus/TARGET/), then mutates for the given seconds.  A
target fails when libFuzzer stops on a crash, a sanitizer report, a
failed check, a leak or a hang; the input is saved as
BUILD/TARGET-crash-* (or -leak-, -timeout-).  Its output is kept in
BUILD/TARGET.log.

Without --ktap (make fuzz), new inputs accumulate in
BUILD/corpus/TARGET/ from run to run, and a table of executions per
second is printed.  With --ktap (make test), every run starts from the
seed corpus alone, in a fresh BUILD/test-corpus/TARGET/, and the output
is KTAP: one case per target, its figures as a diagnostic.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import shutil
import subprocess
import sys

SEEDS = pathlib.Path("tests/fuzz/corpus")
# An input that runs longer than this is a hang (the slowest seen take
# well under a second).
PER_INPUT_TIMEOUT_S = 20
# Past the wanted run time, how long a target may take to load its
# corpus and stop before it counts as hung.
SLACK_S = 120


def run_one(build: pathlib.Path, target: str, seconds: int,
            fresh: bool) -> tuple[bool, dict[str, int], pathlib.Path]:
    """Run @target; returns (passed, libFuzzer's final stats, log)."""
    work = build / ("test-corpus" if fresh else "corpus") / target
    if fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    log = build / f"{target}.log"
    seeds = SEEDS / target
    command = [str(build / target), f"-max_total_time={seconds}",
               f"-timeout={PER_INPUT_TIMEOUT_S}", "-print_final_stats=1",
               f"-artifact_prefix={build}/{target}-",
               str(work)] + ([str(seeds)] if seeds.is_dir() else [])
    with open(log, "wb") as out:
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL,
                                  stdout=out, stderr=subprocess.STDOUT,
                                  timeout=seconds + SLACK_S)
            status = done.returncode
        except subprocess.TimeoutExpired:
            status = -1
    text = log.read_text(errors="replace")
    stats = {m.group(1): int(m.group(2)) for m in
             re.finditer(r"^stat::(\w+):\s+(\d+)$", text, re.M)}
    return status == 0, stats, log


def failure_lines(log: pathlib.Path) -> list[str]:
    """The lines of @log that say what went wrong, at most 12."""
    keep = re.compile(r"FUZZ CHECK|^  |ERROR:|SUMMARY:|runtime error|"
                      r"panic|Test unit written|^==\d+==")
    lines = [line for line in log.read_text(errors="replace").splitlines()
             if keep.search(line) and not line.startswith("    #")]
    # The input may be quoted in a message: keep the log one clean line
    # per line.
    return ["".join(c if c.isprintable() else repr(c)[1:-1] for c in line)
            for line in lines[:12]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", type=pathlib.Path, required=True)
    ap.add_argument("--seconds", type=int, required=True)
    ap.add_argument("--ktap", action="store_true")
    ap.add_argument("targets", nargs="+")
    args = ap.parse_args()

    failed = 0
    if args.ktap:
        print(f"KTAP version 1\n1..{len(args.targets)}", flush=True)
    else:
        print(f"{'target':<10} {'result':<6} {'runs':>10} {'runs/s':>8} "
              f"{'corpus':>7}  log")
    for number, target in enumerate(args.targets, 1):
        passed, stats, log = run_one(args.build, target, args.seconds,
                                     fresh=args.ktap)
        failed += not passed
        runs = stats.get("number_of_executed_units", 0)
        rate = stats.get("average_exec_per_sec", 0)
        corpus = len(list((args.build / ("test-corpus" if args.ktap else
                                         "corpus") / target).iterdir()))
        if args.ktap:
            print(f"# fuzz_{target}: {runs} runs in {args.seconds} s "
                  f"({rate}/s), {corpus} new inputs; log {log}")
            if not passed:
                for line in failure_lines(log):
                    print(f"# {line}")
            print(f"{'ok' if passed else 'not ok'} {number} fuzz_{target}",
                  flush=True)
        else:
            print(f"{target:<10} {'ok' if passed else 'FAIL':<6} {runs:>10} "
                  f"{rate:>8} {corpus:>7}  {log}", flush=True)
            if not passed:
                for line in failure_lines(log):
                    print(f"    {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
