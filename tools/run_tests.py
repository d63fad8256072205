#!/usr/bin/env python3
"""`make test`: host-side tests and checks, then the kernel booted on
several machines, then one summary of every result.

    tools/run_tests.py [--host-cmd CMD]... [--check NAME=CMD]...
                       [--matrix ENTRY]... [--boot-check NAME]... [-j 2]

    --host-cmd "make host-tests"    a command that prints KTAP on stdout;
                                    its output goes to
                                    build/test/host-<command>.log
    --check "clang=make CC=clang"   a command whose exit status is the
                                    verdict (0: passed); one test; its
                                    output goes to build/test/check-NAME.log
    --matrix uefi:4:qemu64:selftest=tlb*
                                    FIRMWARE:SMP[/single][:CPU[:KERNEL
                                    OPTIONS]]; default: DEFAULT_MATRIX
                                    below.  "/single" runs the vCPUs in one
                                    host thread (qemu_run.py --tcg-thread)
    --boot-check no-long-mode       a boot whose kernel must refuse bad
                                    input in one precise way (BOOT_CHECKS
                                    below; "all" for every one); one test

Every option but -j, --timeout and -v is repeatable.  Host commands and
checks run first, one at a time, then the boots (-j of them at once).

Each boot's serial log is build/test/<name>.log (name as in "uefi-smp4").
A boot counts as one more failure when QEMU's status disagrees with the
log: the kernel crashed, hung, or reported a failure the log does not show.

The count is every KTAP result (of host commands and boots) plus one per
--check and --boot-check.  The last line is "N passed, N failed" (", N
skipped" when some were); the exit status is 0 only when nothing failed
and something passed.
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
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ktap_summary as ktap  # noqa: E402  (found through the line above)
import qemu_run  # noqa: E402
import scenario  # noqa: E402
import timeline  # noqa: E402

TEST_DIR = qemu_run.BUILD / "test"

# The firmware paths differ (SeaBIOS vs OVMF hand over different memory
# maps and multiboot2 tags), and so do 1 CPU and several (no IPI at all
# vs real shootdowns).  -cpu max offers 1 GiB pages, PCID and INVPCID;
# qemu64 has none of them, so the fallbacks run too.
#
# Multi-threaded TCG (the default) gives each vCPU a host thread, so the
# vCPUs truly run at once: the only way races between CPUs show up.  With
# more vCPUs than host cores it is slow (spinning vCPUs steal the cores of
# the ones they wait for), so -smp 8 runs in one thread ("/single"), which
# still tests that 8 CPUs come up and take part in every call.  Wall times
# of each entry on the 2-core CI machine: docs/testing.md.
DEFAULT_MATRIX = [
    "bios:1",
    "bios:2",                  # as many vCPUs as the CI machine has cores
    "bios:4",                  # more vCPUs than cores, still in parallel
    "bios:4:qemu64",           # no 1 GiB pages, no PCID/INVPCID
    "bios:8/single",
    "uefi:1",
    "uefi:4",
    "uefi:8/single",
]

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
        smp, _, tcg_thread = smp.partition("/")
        tcg_thread = tcg_thread or "multi"
        cpu = parts[2] if len(parts) > 2 and parts[2] else "max"
        cmdline = parts[3] if len(parts) > 3 else None
        if firmware not in ("bios", "uefi") or not smp.isdigit() \
                or int(smp) < 1 or tcg_thread not in qemu_run.TCG_THREADS:
            raise ValueError(f"bad --matrix entry '{entry}': want "
                             "bios|uefi:SMP[/single][:CPU[:KERNEL OPTIONS]]")
        name = f"{firmware}-smp{smp}"
        name += "-single" if tcg_thread == "single" else ""
        name += f"-{slug(cpu)}" if cpu != "max" else ""
        name += f"-{slug(cmdline)}" if cmdline else ""
        unique, n = name, 2
        while unique in names:         # two entries, one slug: keep both logs
            unique, n = f"{name}-{n}", n + 1
        names.add(unique)
        configs.append(Config(unique, qemu_run.Boot(
            firmware=firmware, smp=int(smp), cpu=cpu, tcg_thread=tcg_thread,
            cmdline=cmdline)))
    return configs


def rerun_command(boot: qemu_run.Boot) -> str:
    """The qemu_run.py command that boots @boot again, for a reader to
    copy from a failure report."""
    cmd = ["tools/qemu_run.py", "--firmware", boot.firmware,
           "--smp", str(boot.smp), "--cpu", boot.cpu]
    if boot.maxcpus is not None:
        cmd += ["--maxcpus", str(boot.maxcpus)]
    if boot.mem != qemu_run.Boot.mem:
        cmd += ["--mem", boot.mem]
    if boot.machine is not None:
        cmd += ["--machine", boot.machine]
    if boot.tcg_thread != "multi":
        cmd += ["--tcg-thread", boot.tcg_thread]
    if boot.cmdline is not None:
        cmd += ["--cmdline", boot.cmdline]
    return shlex.join(cmd)


# --- Boot checks: bad input the kernel must refuse in one precise way -------

# Fed to every check's judge: the serial log's lines, and how QEMU ended.
Judge = Callable[[list[str], qemu_run.Outcome], list[str]]


@dataclass
class BootCheck:
    about: str                         # what is being checked, for humans
    boot: qemu_run.Boot
    judge: Judge                       # the problems seen; none: passed
    stop_on: str | None = None         # see qemu_run.run()
    # These boots run one selftest suite at most, or none: 60 s is ample,
    # and a check that misses its text ends without the default 300 s.
    timeout: float = 60.0


def ktap_starts(lines: list[str]) -> list[int]:
    """The indices of the lines that begin a top-level KTAP document."""
    return [i for i, line in enumerate(lines)
            if line.rstrip() == "KTAP version 1"]


def judge_no_suite_matched(lines: list[str],
                           outcome: qemu_run.Outcome) -> list[str]:
    """selftest= naming no suite: a plan "1..0", a diagnostic naming what
    matched nothing, and a failing exit status (nothing was tested)."""
    problems = []
    plans = [i for i in ktap_starts(lines)
             if i + 1 < len(lines) and lines[i + 1].strip() == "1..0"]
    if not plans:
        problems.append("no KTAP document with the plan 1..0")
    elif not any(line.startswith("#") and "nomatch" in line
                 for line in lines[plans[0] + 2:]):
        problems.append("no '#' diagnostic after the plan naming 'nomatch'")
    if outcome.status != qemu_run.EXIT_FAILED:
        problems.append("want the kernel to report a failure (QEMU status "
                        f"{qemu_run.QEMU_FAILED}); got: {outcome.message}")
    return problems


LONG_MODE_MESSAGE = "this CPU has no long mode"


def judge_no_long_mode(lines: list[str],
                       outcome: qemu_run.Outcome) -> list[str]:
    """A CPU without long mode: the 32-bit entry writes a message straight
    to COM1 and halts; the kernel proper never runs."""
    problems = []
    if not any(LONG_MODE_MESSAGE in line and "halting" in line
               for line in lines):
        problems.append(f"no '{LONG_MODE_MESSAGE} ... halting' message on "
                        "COM1")
    elif outcome.status != qemu_run.EXIT_STOPPED:
        problems.append("after the message the machine did not stay "
                        f"halted: {outcome.message}")
    if ktap_starts(lines):
        problems.append("KTAP output: the kernel ran on a 32-bit CPU")
    return problems


UNKNOWN_OPTION = "no_such_option"


def judge_unknown_option(lines: list[str],
                         outcome: qemu_run.Outcome) -> list[str]:
    """An unknown kernel option: a warning naming it, then the boot goes on
    to run the selected selftests, which pass."""
    problems = []
    warnings = [i for i, line in enumerate(lines)
                if "warning" in line and f"'{UNKNOWN_OPTION}'" in line]
    if not warnings:
        problems.append(f"no warning naming '{UNKNOWN_OPTION}'")
    elif not any(i > warnings[0] for i in ktap_starts(lines)):
        problems.append("the boot stopped after the warning: no selftest "
                        "ran")
    if outcome.status != qemu_run.EXIT_PASSED:
        problems.append(f"want every selected test to pass; got: "
                        f"{outcome.message}")
    return problems


# The suites the machine checks run: the ones that touch what differs
# between machines (CPUs, IPIs, memory, mappings), a few seconds each.
MACHINE_SUITES = "smp,shootdown,fixmap,nmi,vmalloc"


def judge_boots_saying(*messages: str) -> Judge:
    """A machine unlike the usual one: the kernel must say what it found
    (each of @messages appears in the log, in this order, the next on
    the same line or a later one) and
    every selected selftest must pass (or skip with its reason)."""
    def judge(lines: list[str], outcome: qemu_run.Outcome) -> list[str]:
        problems, at = [], 0
        for message in messages:
            found = next((i for i in range(at, len(lines))
                          if message in lines[i]), None)
            if found is None:
                problems.append(f"no line saying '{message}'" +
                                (" after the ones before" if at else ""))
            else:
                at = found             # the next may be on this line too
        if not ktap_starts(lines):
            problems.append("no KTAP output: no selftest ran")
        if outcome.status != qemu_run.EXIT_PASSED:
            problems.append(f"want every selected test to pass; got: "
                            f"{outcome.message}")
        return problems
    judge.__doc__ = f"says {messages!r}; the selftests pass"
    return judge


def judge_poison_checked(lines: list[str],
                         outcome: qemu_run.Outcome) -> list[str]:
    """The boot says poisoning is on, and the poison test ran, not skipped."""
    problems = judge_boots_saying("frame poisoning edges")(lines, outcome)
    ran = [line for line in lines if "free_poisons_the_frame" in line]
    if not ran or any("SKIP" in line for line in ran):
        problems.append(f"want free_poisons_the_frame run, not skipped; saw "
                        f"{ran or 'no such line'}")
    return problems


def judge_trace_free_after_acks(lines: list[str],
                                outcome: qemu_run.Outcome) -> list[str]:
    """The trace suite's dump of a vunmap at -smp 4, read by
    tools/timeline.py's checker: every free after the last ack of its
    shootdown.  The suite must pass too."""
    import io
    report = io.StringIO()
    problems = []
    if timeline.run_check(timeline.parse("\n".join(lines)), report):
        problems += report.getvalue().splitlines()
    if outcome.status != qemu_run.EXIT_PASSED:
        problems.append(f"want every selected test to pass; got: "
                        f"{outcome.message}")
    return problems


def judge_scenario(variant: str) -> Judge:
    """A seed scenario's verdict must be the one its variant must give
    (broken: the hazard seen; fixed: none, and tools/timeline.py finds
    every free after every ack)."""
    def judge(lines: list[str], outcome: qemu_run.Outcome) -> list[str]:
        dumps = timeline.parse("\n".join(lines))
        return scenario.judge(lines, outcome, variant, dumps)
    judge.__doc__ = f"the {variant} variant's verdict"
    return judge


# Bad boot input.  BIOS only: under OVMF a 32-bit CPU cannot run
# the (64-bit) firmware at all, and the other two take the same path in
# the kernel whatever the firmware.
BOOT_CHECKS: dict[str, BootCheck] = {
    "no-suite-matched": BootCheck(
        "selftest= naming no suite gives plan 1..0 and fails",
        qemu_run.Boot(firmware="bios", smp=1, cmdline="selftest=nomatch"),
        judge_no_suite_matched),
    "no-long-mode": BootCheck(
        "a CPU without long mode gets a message on COM1, then a halt",
        qemu_run.Boot(firmware="bios", smp=1, cpu="qemu32"),
        judge_no_long_mode, stop_on=LONG_MODE_MESSAGE),
    "unknown-option": BootCheck(
        "an unknown kernel option gets a warning; the boot goes on",
        qemu_run.Boot(firmware="bios", smp=1,
                      cmdline=f"selftest=cmdline {UNKNOWN_OPTION}=1"),
        judge_unknown_option),
    # -smp 2 so that a second CPU exists which nothing announces.
    "no-acpi": BootCheck(
        "no ACPI at all: the local APIC from its MSR, the boot CPU alone",
        qemu_run.Boot(firmware="bios", smp=2, machine="pc,acpi=off",
                      cmdline="selftest=smp,shootdown,fixmap"),
        judge_boots_saying("acpi: no RSDP",
                           "from the IA32_APIC_BASE MSR",
                           "running on the boot CPU alone")),
    # 20 > MAX_CPUS (16): the MADT's last four stay in wait-for-STARTUP,
    # and the broadcast shorthand would reach them.  Single-threaded TCG:
    # 20 vCPUs on 2 cores.
    "more-cpus-than-max": BootCheck(
        "-smp 20: 16 CPUs online, calls to all go one IPI per CPU",
        qemu_run.Boot(firmware="bios", smp=20, tcg_thread="single",
                      cmdline="selftest=smp,shootdown"),
        judge_boots_saying("4 more enabled CPUs beyond MAX_CPUS",
                           "20 CPUs present, 16 online",
                           "broadcasts sent one IPI per CPU")),
    # Machines a user may boot.  Single-threaded TCG and a few suites
    # keep each to a few seconds; what they must say is what differs.
    "mem-6g": BootCheck(
        "-m 6G: RAM above 4 GiB is in the memory map and the direct map",
        qemu_run.Boot(firmware="bios", smp=2, tcg_thread="single", mem="6G",
                      cmdline=f"selftest={MACHINE_SUITES},acpi"),
        judge_boots_saying("[0x000100000000-", "available",
                           "mm: direct map: 6291328 KiB of RAM",
                           "XSDT at 0x1")),
    "mem-64m": BootCheck(
        "-m 64M: very little RAM, and the suites still pass",
        qemu_run.Boot(firmware="bios", smp=2, tcg_thread="single", mem="64M",
                      cmdline=f"selftest={MACHINE_SUITES}"),
        judge_boots_saying("mm: direct map: 65408 KiB of RAM")),
    "maxcpus": BootCheck(
        "-smp 2,maxcpus=8: six MADT entries not enabled are left alone",
        qemu_run.Boot(firmware="bios", smp=2, maxcpus=8, tcg_thread="single",
                      cmdline=f"selftest={MACHINE_SUITES}"),
        judge_boots_saying("acpi: MADT: 2 CPUs", "6 not enabled",
                           "smp: 2 CPUs online")),
    "q35": BootCheck(
        "-machine q35: the newer chipset's ACPI tables and memory map",
        qemu_run.Boot(firmware="bios", smp=2, tcg_thread="single",
                      machine="q35", cmdline=f"selftest={MACHINE_SUITES}"),
        judge_boots_saying("acpi: MADT: 2 CPUs", "smp: 2 CPUs online")),
    # Poisoning is off by default (mm/frame.h says why): one machine
    # keeps the debug check itself tested.
    "poison-edges": BootCheck(
        "frame_poison=edges: freed frames poisoned, the poison checked",
        qemu_run.Boot(firmware="bios", smp=2,
                      cmdline="selftest=mm_frame,vmalloc frame_poison=edges"),
        judge_poison_checked),
    # The trace, end to end: the kernel dumps a vunmap's shootdown and the
    # host tool, not the kernel, judges the order of its events.
    "trace": BootCheck(
        "-smp 4: the traced vunmap's frees follow every ack (tools/timeline.py)",
        qemu_run.Boot(firmware="bios", smp=4, cmdline="selftest=trace"),
        judge_trace_free_after_acks),
    # Seed 000 staged on four CPUs (scenarios/seed000_huge_ioremap.c).
    "scenario-huge-ioremap-broken": BootCheck(
        "seed 000 broken: old 4 KiB entries used, a cached table freed",
        qemu_run.Boot(firmware="bios", smp=4,
                      cmdline="scenario=huge-ioremap:broken"),
        judge_scenario("broken")),
    "scenario-huge-ioremap-fixed": BootCheck(
        "seed 000 fixed: the new page only; every free after every ack",
        qemu_run.Boot(firmware="bios", smp=4, cmdline="scenario=huge-ioremap"),
        judge_scenario("fixed")),
    # Seed 001 staged on four CPUs (scenarios/seed001_nmi_fixmap.c).
    "scenario-nmi-fixmap-broken": BootCheck(
        "seed 001 broken: no local invalidation on map; the old buffer read",
        qemu_run.Boot(firmware="bios", smp=4,
                      cmdline="scenario=nmi-fixmap:broken"),
        judge_scenario("broken")),
    "scenario-nmi-fixmap-fixed": BootCheck(
        "seed 001 fixed: invalidation on map; a shootdown in NMI refused",
        qemu_run.Boot(firmware="bios", smp=4, cmdline="scenario=nmi-fixmap"),
        judge_scenario("fixed")),
    # Seed 002 staged on four CPUs (scenarios/seed002_no_ack_wait.c).
    "scenario-no-ack-wait-broken": BootCheck(
        "seed 002 broken: a frame freed before the acks is overwritten",
        qemu_run.Boot(firmware="bios", smp=4,
                      cmdline="scenario=no-ack-wait:broken"),
        judge_scenario("broken")),
    "scenario-no-ack-wait-fixed": BootCheck(
        "seed 002 fixed: no stale write; every free after every ack",
        qemu_run.Boot(firmware="bios", smp=4, cmdline="scenario=no-ack-wait"),
        judge_scenario("fixed")),
    # Seed 002's second case (scenarios/seed002_dirty_bit.c).
    "scenario-dirty-bit-broken": BootCheck(
        "seed 002 broken: D read before the acks, a write lost to writeback",
        qemu_run.Boot(firmware="bios", smp=4,
                      cmdline="scenario=dirty-bit:broken"),
        judge_scenario("broken")),
    "scenario-dirty-bit-fixed": BootCheck(
        "seed 002 fixed: D read after every ack, no write lost",
        qemu_run.Boot(firmware="bios", smp=4, cmdline="scenario=dirty-bit"),
        judge_scenario("fixed")),
    # Seed 003 staged on four CPUs (scenarios/seed003_device_tlb.c).
    "scenario-device-tlb-broken": BootCheck(
        "seed 003 broken: a device told after the free reads a reused frame",
        qemu_run.Boot(firmware="bios", smp=4,
                      cmdline="scenario=device-tlb:broken"),
        judge_scenario("broken")),
    "scenario-device-tlb-fixed": BootCheck(
        "seed 003 fixed: the device told before the free; frees after acks",
        qemu_run.Boot(firmware="bios", smp=4, cmdline="scenario=device-tlb"),
        judge_scenario("fixed")),
    # Seed 004 staged on four CPUs (scenarios/seed004_no_alloc_free.c).
    "scenario-no-alloc-free-broken": BootCheck(
        "seed 004 broken: a free path needing a scratch page fails and leaks",
        qemu_run.Boot(firmware="bios", smp=4,
                      cmdline="scenario=no-alloc-free:broken"),
        judge_scenario("broken")),
    "scenario-no-alloc-free-fixed": BootCheck(
        "seed 004 fixed: every free path done, the allocator never asked",
        qemu_run.Boot(firmware="bios", smp=4, cmdline="scenario=no-alloc-free"),
        judge_scenario("fixed")),
}


def progress(kind: str, name: str, verdict: str, seconds: float) -> None:
    # One write per line: with -j, two boots may finish at once.
    sys.stdout.write(f"{kind:<5} {name:<24} {verdict:<11} {seconds:6.1f} s\n")
    sys.stdout.flush()


def tail(path: Path, count: int = 20) -> list[str]:
    """The last @count lines of the file at @path, for a failure report."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as e:
        return [str(e)]
    return ["last lines of the log:", *lines[-count:]] if lines \
        else ["empty log"]


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


def run_check(spec: str) -> list[ktap.Case]:
    """Run one --check "NAME=COMMAND": a single test, passed when the
    command exits 0."""
    name, _, command = spec.partition("=")
    log = TEST_DIR / f"check-{slug(name)}.log"
    start = time.monotonic()
    with open(log, "wb") as out:
        done = subprocess.run(command, shell=True, cwd=qemu_run.ROOT,
                              stdin=subprocess.DEVNULL, stdout=out,
                              stderr=subprocess.STDOUT)
    passed = done.returncode == 0
    progress("check", name, "passed" if passed else
             f"FAILED ({done.returncode})", time.monotonic() - start)
    if passed:
        return [ktap.Case(f"check {name}", ktap.PASS, shown(log))]
    return [ktap.Case(f"check {name}", ktap.FAIL, shown(log),
                      [f"command: {command}", *tail(log)],
                      f"exited {done.returncode}")]


def run_boot_check(name: str, timeout: float | None,
                   echo: bool) -> list[ktap.Case]:
    """Boot BOOT_CHECKS[@name] and judge its log: a single test.
    @timeout, when given, replaces the check's own."""
    check = BOOT_CHECKS[name]
    log = TEST_DIR / f"check-{name}.log"
    outcome = qemu_run.run(check.boot, log, timeout or check.timeout, echo,
                           stop_on=check.stop_on)
    if not outcome.command:            # QEMU never started
        problems = [outcome.message]
    else:
        try:
            lines = log.read_text(errors="replace").splitlines()
        except OSError as e:
            lines = [f"log unreadable: {e}"]
        problems = check.judge(lines, outcome)
    progress("check", name, "FAILED" if problems else "passed",
             outcome.seconds)
    if not problems:
        return [ktap.Case(f"check {name}", ktap.PASS, shown(log))]
    return [ktap.Case(f"check {name}", ktap.FAIL, shown(log),
                      [*problems, "reproduce: " + rerun_command(check.boot),
                       *tail(log)], check.about)]


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
    ap.add_argument("--check", action="append", default=[],
                    metavar="NAME=CMD", help="command whose exit status "
                    "is one test's verdict (repeatable)")
    ap.add_argument("--matrix", action="append", metavar="ENTRY",
                    help="FIRMWARE:SMP[/single][:CPU[:KERNEL OPTIONS]] "
                    "(repeatable; default: " + " ".join(DEFAULT_MATRIX) +
                    ")")
    ap.add_argument("--boot-check", action="append", default=[],
                    choices=[*BOOT_CHECKS, "all"], metavar="NAME",
                    help="a bad-input boot check (repeatable): " +
                    ", ".join(BOOT_CHECKS) + ", or all")
    ap.add_argument("-j", "--jobs", type=int, default=1,
                    help="boots at once (default 1; each QEMU keeps a core "
                    "busy)")
    ap.add_argument("--timeout", type=float,
                    help="seconds per boot before QEMU is killed (default "
                    f"{qemu_run.DEFAULT_TIMEOUT:g}; boot checks: "
                    f"{BootCheck.timeout:g})")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="echo each boot's serial output (best with -j 1)")
    args = ap.parse_args(argv)
    try:
        configs = parse_matrix(args.matrix or DEFAULT_MATRIX)
    except ValueError as e:
        ap.error(str(e))
    for spec in args.check:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+=.+", spec):
            ap.error(f"bad --check '{spec}': want NAME=COMMAND")
    boot_checks = list(BOOT_CHECKS) if "all" in args.boot_check \
        else list(dict.fromkeys(args.boot_check))    # once each, in order
    TEST_DIR.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()

    cases: list[ktap.Case] = []
    for command in args.host_cmd:
        cases += run_host(command)
    for spec in args.check:
        cases += run_check(spec)

    # Every boot is a task returning its cases; map() hands results back
    # in this order, whatever finishes first.
    boot_timeout = args.timeout or qemu_run.DEFAULT_TIMEOUT
    tasks: list[Callable[[], list[ktap.Case]]] = [
        lambda c=c: run_boot(c, boot_timeout, args.verbose) for c in configs]
    tasks += [lambda n=n: run_boot_check(n, args.timeout, args.verbose)
              for n in boot_checks]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for task_cases in pool.map(lambda task: task(), tasks):
            cases += task_cases

    progress("total", "", "", time.monotonic() - start)
    print(flush=True)
    return ktap.report(cases)


if __name__ == "__main__":
    sys.exit(main())
