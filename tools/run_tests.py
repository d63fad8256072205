#!/usr/bin/env python3
"""`make test`: host-side tests, then the kernel booted on several machines,
then one summary of every KTAP result.

    tools/run_tests.py [--host-cmd CMD]... [--matrix ENTRY]... [-j 2]

    --host-cmd "make host-tests"    a command that prints KTAP on stdout;
                                    repeatable; its output goes to
                                    build/test/host-<command>.log
    --matrix uefi:4:qemu64:selftest=tlb*
                                    FIRMWARE:SMP[:CPU[:KERNEL OPTIONS]],
                                    repeatable; default: BIOS and UEFI,
                                    each with 1 and 4 CPUs, -cpu max

Each boot's serial log is build/test/<name>.log (name as in "uefi-smp4").
A boot counts as one more failure when QEMU's status disagrees with the
log: the kernel crashed, hung, or reported a failure the log does not show.

The last line is "N passed, N failed" (", N skipped" when some were); the
exit status is 0 only when nothing failed and something passed.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ktap_summary as ktap  # noqa: E402  (found through the line above)
import qemu_run  # noqa: E402

TEST_DIR = qemu_run.BUILD / "test"

# The firmware paths differ (SeaBIOS vs OVMF hand over different memory
# maps and multiboot2 tags), and so do 1 CPU and several (no IPI at all
# vs real shootdowns).
DEFAULT_MATRIX = ["bios:1:max", "bios:4:max", "uefi:1:max", "uefi:4:max"]

# What qemu_run's exit statuses mean in a progress line.
VERDICTS = {
    qemu_run.EXIT_PASSED: "passed",
    qemu_run.EXIT_FAILED: "FAILED",
    qemu_run.EXIT_BROKEN: "CRASHED",     # or QEMU could not start
    qemu_run.EXIT_TIMEOUT: "TIMEOUT",
    qemu_run.EXIT_INTERRUPTED: "interrupted",
}


@dataclass
class Config:
    name: str                          # also the log's name
    boot: qemu_run.Boot


def shown(path: Path) -> str:
    """@path as the reader should see it: relative to the tree's top."""
    return str(path.relative_to(qemu_run.ROOT))


def slug(text: str) -> str:
    """@text made safe as part of a file name."""
    return re.sub(r"[^A-Za-z0-9=.,_-]+", "_", text).strip("_")[:40]


def parse_matrix(entries: list[str]) -> list[Config]:
    configs: list[Config] = []
    names: set[str] = set()
    for entry in entries:
        parts = entry.split(":", 3)    # kernel options may contain ':'
        firmware, smp = parts[0], parts[1] if len(parts) > 1 else "1"
        cpu = parts[2] if len(parts) > 2 and parts[2] else "max"
        cmdline = parts[3] if len(parts) > 3 else None
        if firmware not in ("bios", "uefi") or not smp.isdigit() \
                or int(smp) < 1:
            raise ValueError(f"bad --matrix entry '{entry}': want "
                             "bios|uefi:SMP[:CPU[:KERNEL OPTIONS]]")
        name = f"{firmware}-smp{smp}"
        name += f"-{slug(cpu)}" if cpu != "max" else ""
        name += f"-{slug(cmdline)}" if cmdline else ""
        unique, n = name, 2
        while unique in names:         # two entries, one slug: keep both logs
            unique, n = f"{name}-{n}", n + 1
        names.add(unique)
        configs.append(Config(unique, qemu_run.Boot(
            firmware=firmware, smp=int(smp), cpu=cpu, cmdline=cmdline)))
    return configs


def rerun_command(boot: qemu_run.Boot) -> str:
    """The qemu_run.py command that boots @boot again, for a reader to
    copy from a failure report."""
    cmd = ["tools/qemu_run.py", "--firmware", boot.firmware,
           "--smp", str(boot.smp), "--cpu", boot.cpu]
    if boot.cmdline is not None:
        cmd += ["--cmdline", boot.cmdline]
    return shlex.join(cmd)


def progress(kind: str, name: str, verdict: str, seconds: float) -> None:
    # One write per line: with -j, two boots may finish at once.
    sys.stdout.write(f"{kind} {name:<24} {verdict:<11} {seconds:6.1f} s\n")
    sys.stdout.flush()


def run_host(command: str) -> list[ktap.Case]:
    """Run one host-side test command; its stdout is KTAP."""
    log = TEST_DIR / f"host-{slug(command)}.log"
    start = time.monotonic()
    with open(log, "wb") as out:
        # A shell, so the Makefile can pass "make host-tests" or a pipeline.
        done = subprocess.run(command, shell=True, cwd=qemu_run.ROOT,
                              stdin=subprocess.DEVNULL, stdout=out,
                              stderr=subprocess.STDOUT)
    progress("host", slug(command), f"exit {done.returncode}",
             time.monotonic() - start)
    cases = ktap.read_log(str(log), shown(log))
    if done.returncode != 0 and not any(c.status == ktap.FAIL
                                        for c in cases):
        cases.append(ktap.Case(f"host {command}", ktap.FAIL, shown(log),
                               [], f"exited {done.returncode} with no "
                               "failed test in its output"))
    return cases


def run_boot(config: Config, timeout: float, echo: bool) -> list[ktap.Case]:
    """Boot one configuration and judge its log against QEMU's status."""
    log = TEST_DIR / f"{config.name}.log"
    outcome = qemu_run.run(config.boot, log, timeout, echo)
    progress("boot", config.name, VERDICTS.get(outcome.status, "?"),
             outcome.seconds)

    def boot_failure(what: str) -> ktap.Case:
        return ktap.Case(config.name, ktap.FAIL, shown(log),
                         ["reproduce: " + rerun_command(config.boot)], what)

    if not outcome.command:            # QEMU never started: nothing to read
        return [boot_failure(outcome.message)]
    cases = ktap.read_log(str(log), shown(log))
    failed_in_log = any(c.status == ktap.FAIL for c in cases)
    if outcome.status not in (qemu_run.EXIT_PASSED, qemu_run.EXIT_FAILED):
        cases.append(boot_failure(outcome.message))
    elif outcome.status == qemu_run.EXIT_FAILED and not failed_in_log:
        cases.append(boot_failure("the kernel reported a failure, but no "
                                  "failed test is in its log"))
    return cases


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Run host tests and boot the kernel; summarize KTAP.")
    ap.add_argument("--host-cmd", action="append", default=[],
                    metavar="CMD", help="host test command printing KTAP "
                    "(repeatable)")
    ap.add_argument("--matrix", action="append", metavar="ENTRY",
                    help="FIRMWARE:SMP[:CPU[:KERNEL OPTIONS]] (repeatable; "
                    "default: " + " ".join(DEFAULT_MATRIX) + ")")
    ap.add_argument("-j", "--jobs", type=int, default=1,
                    help="boots at once (default 1; each QEMU keeps a core "
                    "busy)")
    ap.add_argument("--timeout", type=float, default=qemu_run.DEFAULT_TIMEOUT,
                    help="seconds per boot before QEMU is killed (default "
                    f"{qemu_run.DEFAULT_TIMEOUT:g})")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="echo each boot's serial output (best with -j 1)")
    args = ap.parse_args(argv)
    try:
        configs = parse_matrix(args.matrix or DEFAULT_MATRIX)
    except ValueError as e:
        ap.error(str(e))
    TEST_DIR.mkdir(parents=True, exist_ok=True)

    cases: list[ktap.Case] = []
    for command in args.host_cmd:
        cases += run_host(command)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        # map() hands results back in matrix order, whatever finishes first.
        for boot_cases in pool.map(
                lambda c: run_boot(c, args.timeout, args.verbose), configs):
            cases += boot_cases

    print(flush=True)
    return ktap.report(cases)


if __name__ == "__main__":
    sys.exit(main())
