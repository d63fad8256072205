#!/usr/bin/env python3
"""Boot shootdown under QEMU: serial console on the terminal and in a log.

    tools/qemu_run.py                           # BIOS, 1 CPU, all selftests
    tools/qemu_run.py --firmware uefi --smp 4
    tools/qemu_run.py --cmdline "selftest=tlb*" # other kernel options
    tools/qemu_run.py --smp 8 --tcg-thread single   # see below
    tools/qemu_run.py --gdb                     # paused; then `make gdb`

The kernel reports its verdict through QEMU's isa-debug-exit device:
writing v to port 0xf4 makes QEMU exit with status (v << 1) | 1.  Our
exit status:

    0    every selected test passed (the kernel wrote 0x10: QEMU status 33)
    1    some test failed           (the kernel wrote 0x11: QEMU status 35)
    2    anything else: the kernel crashed (a triple fault under -no-reboot
         ends QEMU with status 0), QEMU could not start, no ISO to boot
    124  the --timeout watchdog killed QEMU
    130  interrupted (Ctrl-C); 143: killed by SIGTERM (QEMU goes too)

Always TCG: CI machines have no KVM, and TCG is what the tests are timed
on.  TCG runs each vCPU in a host thread of its own (multi-threaded TCG,
QEMU's default on x86): the vCPUs really run at once, which is what the
SMP code must survive.  With more vCPUs than host cores, though, they
fight for the cores, and a spinning CPU waiting for another one's
acknowledgment can burn its whole time slice: a 100,000-call storm took
70 s at -smp 8 on 2 cores.  --tcg-thread single runs every vCPU in one
thread, round robin (1.4 s for the same storm): still SMP, interleaved
instead of parallel.

tools/run_tests.py imports this file and calls run().
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
RUN_DIR = BUILD / "run"                # generated ISOs, OVMF variable stores
DEFAULT_ISO = BUILD / "shootdown.iso"
KERNEL = BUILD / "kernel.elf"
GRUB_TEMPLATE = ROOT / "boot" / "grub.cfg"

DEBUG_EXIT = "isa-debug-exit,iobase=0xf4,iosize=0x04"
QEMU_PASSED = (0x10 << 1) | 1          # 33
QEMU_FAILED = (0x11 << 1) | 1          # 35
EXIT_PASSED, EXIT_FAILED, EXIT_BROKEN = 0, 1, 2
EXIT_TIMEOUT = 124                     # what timeout(1) returns
# Only from run(stop_on=...): the awaited text came and QEMU was still
# running STOP_GRACE_SECONDS later, so we stopped it (a halted CPU).
EXIT_STOPPED = 3
EXIT_INTERRUPTED = 130                 # 128 + SIGINT, as shells report it

# Seconds before the watchdog kills QEMU.  A boot running every selftest
# took 1.3 s (SeaBIOS, -smp 1) to about 35 s (-smp 4, multi-threaded TCG,
# where the 100,000-call storm dominates) on the 2-core CI machine
# (2026-11-23; docs/testing.md has every configuration); 300 leaves room
# for slow tests and a slow host, and still ends a hung kernel well inside
# CI's 90 minutes.
DEFAULT_TIMEOUT = 300.0

# After the text run(stop_on=...) waits for, how long QEMU may go on before
# we stop it.  Long enough for a kernel that printed the text and then did
# not halt (it crashed, or booted on) to show that: a triple fault ends
# QEMU within microseconds, more output within milliseconds.  Never a
# reason for a correct kernel to fail: it only delays a passing check.
STOP_GRACE_SECONDS = 2.0

TCG_THREADS = ("multi", "single")      # QEMU's -accel tcg,thread=...

# UEFI firmware from Debian's ovmf package, in order of preference.  The
# split images go on two pflash drives: code read-only, variables in a
# private writable copy.  Debian 12 ships all three; Debian 13 dropped the
# 2 MiB OVMF_CODE.fd, hence the 4 MiB pair first.
OVMF_SPLIT = [
    ("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"),
    ("/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"),
]
OVMF_UNIFIED = "/usr/share/ovmf/OVMF.fd"   # code + variables, used as -bios

# What boot/grub.cfg says, for a tree that lacks it.
FALLBACK_GRUB_CFG = """\
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=0
set default=0

menuentry "shootdown" {
	multiboot2 /boot/kernel.elf
	boot
}
"""

# ISOs made for --cmdline are kept for reuse; past this many, the least
# recently used go (each is about 20 MB).
CMDLINE_ISOS_KEPT = 8


class SetupError(Exception):
    """Something to fix before QEMU can start; the message says what."""


@dataclass
class Boot:
    """One machine to boot."""
    firmware: str = "bios"             # "bios" (SeaBIOS) or "uefi" (OVMF)
    smp: int = 1
    maxcpus: int | None = None         # -smp N,maxcpus=M: M - N hotpluggable
    mem: str = "512M"
    cpu: str = "max"
    machine: str | None = None         # -machine value; None: QEMU's default
    tcg_thread: str = "multi"          # "multi": a host thread per vCPU
    cmdline: str | None = None         # kernel options; None: the ISO's own
    iso: Path | None = None            # None: build/shootdown.iso
    gdb: bool = False
    gdb_port: int = 1234               # QEMU's default, as `make gdb` expects


@dataclass
class Outcome:
    status: int                        # our exit status (see the top)
    message: str                       # one line for humans
    seconds: float = 0.0
    qemu_status: int | None = None
    command: list[str] = field(default_factory=list)


def log(message: str) -> None:
    print(f"qemu_run: {message}", flush=True)


# --- The ISO ---------------------------------------------------------------

def grub_quote(word: str) -> str:
    """Quote @word for GRUB's script parser, which would otherwise act on
    characters like $ ; ' and expand wildcards like selftest=tlb*."""
    return "'" + word.replace("'", "'\\''") + "'"


def grub_cfg(cmdline: str, template: str) -> str:
    """@template with @cmdline as the options of every multiboot2 line, and
    the menu timeout forced to 0 (a test run must not wait at a menu)."""
    try:
        words = shlex.split(cmdline)   # shell-style, as it was typed
    except ValueError as e:
        raise SetupError(f"--cmdline {cmdline!r}: {e}") from None
    options = " ".join(grub_quote(w) for w in words)
    out, saw_timeout = [], False
    for line in template.splitlines():
        loader = re.match(r"(\s*multiboot2\s+\S+)", line)  # and its path
        if loader:
            line = f"{loader.group(1)} {options}".rstrip()
        if re.match(r"\s*set\s+timeout=", line):
            line, saw_timeout = re.sub(r"timeout=\S*", "timeout=0", line), True
        out.append(line)
    if not saw_timeout:
        out.insert(0, "set timeout=0")
    return "\n".join(out) + "\n"


def cmdline_iso(cmdline: str) -> Path:
    """An ISO that boots build/kernel.elf with @cmdline, without rebuilding
    the kernel.  Named by a hash of its contents, so a rebuilt kernel or
    other options give a new one and an unchanged pair is reused."""
    if not KERNEL.exists():
        raise SetupError(f"no {KERNEL.relative_to(ROOT)}: run `make` first")
    template = GRUB_TEMPLATE.read_text() if GRUB_TEMPLATE.exists() \
        else FALLBACK_GRUB_CFG
    cfg = grub_cfg(cmdline, template).encode()
    kernel = KERNEL.read_bytes()
    digest = hashlib.sha256(cfg + b"\0" + kernel).hexdigest()[:12]
    iso = RUN_DIR / f"cmdline-{digest}.iso"
    if iso.exists():
        iso.touch()                    # recently used: keep it when pruning
        return iso

    RUN_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=RUN_DIR) as tmp:
        stage = Path(tmp) / "iso"
        (stage / "boot" / "grub").mkdir(parents=True)
        (stage / "boot" / "grub" / "grub.cfg").write_bytes(cfg)
        (stage / "boot" / "kernel.elf").write_bytes(kernel)
        # Build beside the final name, then rename: two runs that need the
        # same ISO at once each see either no file or a whole one.
        partial = Path(tmp) / "out.iso"
        made = subprocess.run(["grub-mkrescue", "-o", str(partial),
                               str(stage)], capture_output=True, text=True)
        if made.returncode != 0:
            raise SetupError("grub-mkrescue failed:\n" + made.stderr)
        partial.replace(iso)
    prune_cmdline_isos()
    return iso


def prune_cmdline_isos() -> None:
    """Keep the CMDLINE_ISOS_KEPT most recently used --cmdline ISOs.  A
    QEMU still booting a deleted one keeps reading it (Linux frees the
    file at the last close)."""
    def last_used(iso: Path) -> float:
        try:
            return iso.stat().st_mtime
        except FileNotFoundError:      # a parallel run pruned it first
            return 0.0
    isos = sorted(RUN_DIR.glob("cmdline-*.iso"), key=last_used, reverse=True)
    for old in isos[CMDLINE_ISOS_KEPT:]:
        old.unlink(missing_ok=True)


def iso_for(boot: Boot) -> Path:
    if boot.cmdline is not None:
        if boot.iso is not None:
            raise SetupError("--cmdline builds its own ISO from "
                             "build/kernel.elf; it cannot be used with --iso")
        return cmdline_iso(boot.cmdline)
    if boot.iso is not None and not boot.iso.exists():
        raise SetupError(f"no ISO at {boot.iso}")
    if boot.iso is None and not DEFAULT_ISO.exists():
        raise SetupError(f"no {DEFAULT_ISO.relative_to(ROOT)}: run `make` "
                         "first")
    return boot.iso or DEFAULT_ISO


# --- The command line ------------------------------------------------------

def drive_path(path: Path | str) -> str:
    """@path as a value inside a -drive option: QEMU splits options at
    commas and reads ",," as one comma (a log named after a command line
    like "selftest=smp,pit" names the variable store's copy)."""
    return str(path).replace(",", ",,")


def uefi_firmware(vars_copy: Path) -> list[str]:
    """QEMU options for OVMF.  Each run gets a fresh copy of the variable
    store: QEMU locks it, so two parallel runs cannot share one, and a
    fresh one keeps boot entries from leaking between runs."""
    for code, variables in OVMF_SPLIT:
        if Path(code).exists() and Path(variables).exists():
            vars_copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(variables, vars_copy)
            return ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,"
                    f"file={drive_path(code)}",
                    "-drive", f"if=pflash,format=raw,unit=1,"
                    f"file={drive_path(vars_copy)}"]
    if Path(OVMF_UNIFIED).exists():
        return ["-bios", OVMF_UNIFIED]
    raise SetupError("no OVMF firmware found: install the ovmf package "
                     "(tools/install-deps.sh)")


def qemu_command(boot: Boot, iso: Path, vars_copy: Path) -> list[str]:
    if boot.firmware not in ("bios", "uefi"):
        raise SetupError(f"--firmware must be bios or uefi, not "
                         f"'{boot.firmware}'")
    if boot.tcg_thread not in TCG_THREADS:
        raise SetupError(f"--tcg-thread must be multi or single, not "
                         f"'{boot.tcg_thread}'")
    cmd = ["qemu-system-x86_64",
           "-accel", f"tcg,thread={boot.tcg_thread}",
           "-cpu", boot.cpu,
           "-smp", str(boot.smp) + (f",maxcpus={boot.maxcpus}"
                                    if boot.maxcpus else ""),
           "-m", boot.mem,
           # A triple fault stops QEMU (status 0) instead of rebooting into
           # the same tests forever.
           "-no-reboot",
           "-display", "none", "-monitor", "none",
           "-serial", "stdio",                # COM1: our pipe
           "-device", DEBUG_EXIT,
           # No network to test, and without a NIC OVMF skips its network
           # boot drivers: 3.9 s instead of 4.9 s per UEFI boot.
           "-nic", "none",
           "-cdrom", str(iso)]
    if boot.machine is not None:
        cmd += ["-machine", boot.machine]
    if boot.firmware == "uefi":
        cmd += uefi_firmware(vars_copy)
    if boot.gdb:
        # The stub on localhost only; -S: every CPU stopped until gdb
        # says continue.
        cmd += ["-gdb", f"tcp:localhost:{boot.gdb_port}", "-S"]
    return cmd


# --- Running ---------------------------------------------------------------

class Watch:
    """What copy_lines() tells run() while QEMU runs: whether a line held
    the awaited text, and (through @changed) when that or the end of the
    output happened."""

    def __init__(self, text: str | None) -> None:
        self.text = text.encode() if text is not None else None
        self.seen = False
        self.changed = threading.Event()


def copy_lines(source: BinaryIO, log_file: BinaryIO, echo: bool,
               watch: Watch) -> None:
    """Copy QEMU's output to the log and, a whole line at a time, to the
    terminal.  The serial port sends CRLF; the log gets plain LF."""
    for raw in iter(source.readline, b""):
        line = raw.rstrip(b"\r\n") + b"\n" if raw.endswith(b"\n") else raw
        log_file.write(line)
        log_file.flush()               # a crash must not lose the last lines
        if echo:
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()
        if watch.text is not None and not watch.seen and watch.text in line:
            watch.seen = True
            watch.changed.set()
    watch.changed.set()                # QEMU closed its output: it is ending


class _Stopped(Exception):
    """QEMU printed the awaited text and went on running: stop it."""


def wait_for(qemu: subprocess.Popen, watch: Watch,
             timeout: float | None) -> int:
    """QEMU's exit status, as Popen.wait(@timeout) gives it; but once a
    line holds @watch.text, wait only STOP_GRACE_SECONDS more, then raise
    _Stopped."""
    if watch.text is None:
        return qemu.wait(timeout=timeout)
    if not watch.changed.wait(timeout=timeout):
        raise subprocess.TimeoutExpired(qemu.args, timeout)
    if not watch.seen:                 # the output ended: QEMU is exiting
        return qemu.wait()
    try:
        return qemu.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        raise _Stopped() from None


def verdict(qemu_status: int) -> tuple[int, str]:
    if qemu_status == QEMU_PASSED:
        return EXIT_PASSED, "all selected tests passed"
    if qemu_status == QEMU_FAILED:
        return EXIT_FAILED, "some tests failed"
    return EXIT_BROKEN, (f"kernel crashed or exited without reporting "
                         f"(QEMU status {qemu_status})")


def run(boot: Boot, log_path: Path, timeout: float | None,
        echo: bool = True, stop_on: str | None = None) -> Outcome:
    """Boot @boot with the serial console copied to @log_path (and to the
    terminal if @echo).  @timeout: seconds before QEMU is killed (None or
    0: no limit).  @stop_on: a text that ends the run early: when a line
    holds it and QEMU is still running STOP_GRACE_SECONDS later, QEMU is
    stopped with status EXIT_STOPPED (for a kernel that is meant to halt,
    where waiting for the timeout would prove nothing more).  Never raises
    for a broken boot; the Outcome says."""
    start = time.monotonic()
    try:
        iso = iso_for(boot)
        vars_copy = RUN_DIR / f"{log_path.stem}-OVMF_VARS.fd"
        cmd = qemu_command(boot, iso, vars_copy)
    except (SetupError, OSError) as e:
        return Outcome(EXIT_BROKEN, str(e))
    if echo:
        log("running: " + shlex.join(cmd))
        if boot.gdb:
            log(f"QEMU waits for gdb on localhost:{boot.gdb_port}; in "
                "another terminal run: make gdb"
                + (f" GDB_PORT={boot.gdb_port}" if boot.gdb_port != 1234
                   else ""))

    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log_file:
        try:
            # stdin is /dev/null, so QEMU leaves the terminal's mode alone;
            # its own errors land in the log, next to the serial output.
            qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT)
        except OSError as e:
            return Outcome(EXIT_BROKEN, f"cannot start QEMU: {e}",
                           command=cmd)
        watch = Watch(stop_on)
        pump = threading.Thread(target=copy_lines,
                                args=(qemu.stdout, log_file, echo, watch))
        pump.start()
        try:
            qemu_status = wait_for(qemu, watch, timeout or None)
            status, message = verdict(qemu_status)
        except subprocess.TimeoutExpired:
            qemu_status, status = None, EXIT_TIMEOUT
            message = "TIMEOUT: no verdict from the kernel; QEMU killed"
        except _Stopped:
            qemu_status, status = None, EXIT_STOPPED
            message = (f"printed {stop_on!r} and was still running "
                       f"{STOP_GRACE_SECONDS:g} s later; QEMU stopped")
        except KeyboardInterrupt:
            qemu_status, status, message = None, EXIT_INTERRUPTED, \
                "interrupted"
        finally:
            qemu.kill()                # does nothing if it has exited
            qemu.wait()
            pump.join()                # the log is complete after this
            qemu.stdout.close()
    return Outcome(status, message, time.monotonic() - start, qemu_status,
                   cmd)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Boot shootdown under QEMU (TCG).",
        epilog="Exit status: 0 passed, 1 failed, 2 crashed or could not "
               "boot, 124 timed out.")
    ap.add_argument("--firmware", choices=["bios", "uefi"], default="bios")
    ap.add_argument("--smp", type=int, default=1, help="CPUs (default 1)")
    ap.add_argument("--maxcpus", type=int, help="CPUs the machine could "
                    "hold (-smp N,maxcpus=M; the MADT lists the rest as "
                    "not enabled)")
    ap.add_argument("--mem", default="512M", help="memory (default 512M)")
    ap.add_argument("--cpu", default="max", help="QEMU CPU model "
                    "(default max: every feature TCG can emulate)")
    ap.add_argument("--machine", help="QEMU machine and its options, e.g. "
                    "'pc,acpi=off' or 'q35' (default: QEMU's, pc)")
    ap.add_argument("--tcg-thread", choices=TCG_THREADS, default="multi",
                    help="multi (default): one host thread per vCPU, "
                    "truly parallel; single: all vCPUs in one thread, "
                    "much faster with more vCPUs than host cores")
    ap.add_argument("--cmdline", help="kernel options, e.g. "
                    "'selftest=tlb*'; boots build/kernel.elf from a "
                    "generated ISO, without rebuilding")
    ap.add_argument("--iso", type=Path, help="ISO to boot "
                    "(default build/shootdown.iso)")
    ap.add_argument("--gdb", action="store_true",
                    help="start paused with a gdb stub on :1234")
    ap.add_argument("--gdb-port", type=int, default=1234,
                    help="the gdb stub's TCP port (default 1234)")
    ap.add_argument("--log", type=Path, default=BUILD / "serial.log",
                    help="copy of the serial output (default "
                    "build/serial.log)")
    ap.add_argument("--timeout", type=float, help="seconds before QEMU is "
                    f"killed (default {DEFAULT_TIMEOUT:g}; none with --gdb; "
                    "0: none)")
    args = ap.parse_args(argv)
    if args.smp < 1:
        ap.error("--smp must be at least 1")
    if args.timeout is None:
        args.timeout = 0 if args.gdb else DEFAULT_TIMEOUT

    # Killed politely (kill, make interrupted): unwind through run(), which
    # takes QEMU down with us instead of leaving it running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    boot = Boot(firmware=args.firmware, smp=args.smp,
                maxcpus=args.maxcpus, mem=args.mem,
                cpu=args.cpu, machine=args.machine,
                tcg_thread=args.tcg_thread,
                cmdline=args.cmdline, iso=args.iso, gdb=args.gdb,
                gdb_port=args.gdb_port)
    outcome = run(boot, args.log, args.timeout)
    if outcome.command:
        log(f"{outcome.message} after {outcome.seconds:.1f} s; serial log "
            f"in {args.log}")
    else:
        log(outcome.message)           # QEMU never started
    return outcome.status


if __name__ == "__main__":
    sys.exit(main())
