#!/usr/bin/env python3
"""The gdb helpers of tools/gdb/, checked against a live kernel; KTAP out.

    python3 tests/gdb/test_gdb.py        (make test runs it; needs `make`)

QEMU boots build/kernel.elf with selftest=pte_death, paused, its gdb stub
on a free port.  gdb attaches in batch mode through the project's own
tools/gdb/gdbinit (which stops at kmain) and runs tests/gdb/session.gdb:
every helper at an early stop (nothing set up, the APs not started), at
vfree (the area mapped), on vfree's return (the entries cleared, the
table still linked), where the purge's shootdown sends its IPI, at
pt_gather_free_all (every CPU acknowledged, the frames about to be
freed) and after it (freed).  Each check below
is one KTAP case; it compares the helpers' output with what the kernel
printed on serial (its own kpt_walk, the table's address) or with what
must hold at that stop, and prints both when they differ.

Logs: build/test/gdb-serial.log, build/test/gdb-session.log.
"""
from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import qemu_run  # noqa: E402  (found through the line above)

LOG_DIR = qemu_run.BUILD / "test"
SERIAL_LOG = LOG_DIR / "gdb-serial.log"
SESSION_LOG = LOG_DIR / "gdb-session.log"
# -smp 4: three CPUs to acknowledge, as in the walkthrough; one host
# thread for the vCPUs, since gdb stops them all at every breakpoint
# anyway and a boot with this one suite takes about 2 s that way.
BOOT = dict(smp=4, tcg_thread="single", cmdline="selftest=pte_death")
# The whole session took 2-4 s on the 2-core machine (2026-11-30); this
# only ends a hung gdb or QEMU, it is no timing assertion.
SESSION_TIMEOUT = 120
KERNEL_VIRT_BASE = 0xFFFFFFFF80000000     # kernel/bootinfo.h
APS = (2, 3, 4)                           # gdb threads of the other vCPUs
HEX = r"(0x[0-9a-f]+)"
PTE_ADDR_MASK = 0x000FFFFFFFFFF000        # PHYS_ADDR_MASK (arch/x86/arch.h): bits 51..12


def free_port() -> int:
    """A TCP port nobody listens on now (the kernel picks it)."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def run_session() -> str:
    """Boot QEMU paused, run gdb through it; gdb's output."""
    port = free_port()
    boot = qemu_run.Boot(gdb=True, gdb_port=port, **BOOT)
    cmd = qemu_run.qemu_command(boot, qemu_run.iso_for(boot),
                                qemu_run.RUN_DIR / "gdb-test-vars.fd")
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with open(SERIAL_LOG, "wb") as serial:
        qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=serial,
                                stderr=subprocess.STDOUT)
        try:
            # gdb retries a refused connection (set tcp connect-timeout),
            # so QEMU need not be listening yet.
            gdb = subprocess.run(
                ["gdb", "-q", "-nx", "-batch",
                 "-ex", f"set $gdb_port = {port}",
                 "-x", "tools/gdb/gdbinit", "-x", "tests/gdb/session.gdb",
                 str(qemu_run.KERNEL)],
                cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True,
                text=True, timeout=SESSION_TIMEOUT)
            out = gdb.stdout + gdb.stderr
        except subprocess.TimeoutExpired as e:
            out = f"gdb timed out after {SESSION_TIMEOUT} s\n{e.stdout or ''}"
        finally:
            qemu.kill()
            qemu.wait()
    SESSION_LOG.write_text(out)
    return out


def sections(out: str) -> dict[str, str]:
    """gdb's output cut at the "@@ NAME" lines of session.gdb."""
    parts = re.split(r"^@@ (\w+)$", out, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def serial_facts(text: str) -> dict:
    """What the pte_death case printed: the area, the table, its walks."""
    facts: dict = {}
    m = re.search(rf"area {HEX} size {HEX}; pte table at pa {HEX}", text)
    if m:
        facts["va"], facts["size"], facts["table"] = \
            (int(g, 16) for g in m.groups())
    facts["walks"] = [tuple(int(g, 16) for g in m.groups()) for m in
                      re.finditer(rf"before vfree: kpt_walk {HEX}: mapped, "
                                  rf"level pte, entry {HEX} = {HEX}, pa {HEX}",
                                  text)]
    m = re.search(rf"after vfree: kpt_walk {HEX}: not mapped, level (\w+), "
                  rf"entry {HEX} = {HEX}", text)
    if m:
        facts["unmapped"] = (m.group(2), int(m.group(3), 16))
    return facts


# ---- the checks: each returns None, or what it saw instead -------------

def need(text: str, *patterns: str) -> str | None:
    for p in patterns:
        if not re.search(p, text, flags=re.M):
            return f"no line matching {p!r}"
    return None


def lit(s: str) -> str:
    return re.escape(s)


def walk_agrees(text, va, entry, value, pa):
    block = re.search(rf"walk of {va:#018x} from CR3.*?(?=^walk of |\Z)",
                      text, flags=re.M | re.S)
    if not block:
        return f"no walk of {va:#x}"
    return need(block.group(0),
                rf"pte \(PT\s*\) \[\s*\d+\] @ {entry:#x} = {value:016x}",
                rf"-> physical {pa:#x} \(4 KiB page\)")


def check_pt_walk_agrees(s, f, n):
    if len(f["walks"]) <= n:
        return f"the kernel printed {len(f['walks'])} walks, wanted {n + 1}"
    return walk_agrees(s["mapped"], *f["walks"][n])


def check_kmain_walk(s, f):
    m = re.search(r"breakpoint 1 at (0x[0-9a-f]+)", s["start"])
    if not m:
        return "no 'Hardware assisted breakpoint 1 at' line"
    va = int(m.group(1), 16)
    return need(s["early"], rf"walk of {va:#018x}",
                rf"-> physical {va - KERNEL_VIRT_BASE:#x} \(2048 KiB page\)")


def check_vfreed_walk(s, f):
    """On vfree's return gdb's walk ends at the cleared pte, and the pmd
    entry above it still points to the table."""
    m = re.search(r"^\s+pmd \(PD\s*\) \[\s*\d+\] @ 0x[0-9a-f]+ = ([0-9a-f]{16})",
                  s["vfreed"], flags=re.M)
    if not m:
        return "no pmd line in the walk after vfree"
    points_to = int(m.group(1), 16) & PTE_ADDR_MASK
    if points_to != f["table"]:
        return (f"after vfree the pmd entry points to {points_to:#x}, not to "
                f"the pte table {f['table']:#x}")
    return need(s["vfreed"], r"^\s+pte \(PT\s*\) .* = 0{16}",
                r"-> not present at the pte$")


def check_state_before_the_ipi(s, f):
    """At smp_call_all_but_self CPU 0 is INVALIDATING and its last call
    (the previous round's) has nothing pending: no target may be shown
    as having acknowledged this round."""
    text = s["sending"]
    problem = need(text, r"^CPU 0: SHOOTDOWN_INVALIDATING, request "
                   rf"\[{f['va']:#x}, {f['va'] + f['size']:#x}\) "
                   r"full_flush True; nothing pending: its IPI to 1 2 3 is "
                   r"not out yet")
    for cpu in (1, 2, 3):
        problem = problem or need(text, rf"^CPU {cpu}: SHOOTDOWN_IDLE$")
    return problem


def check_unmapped_walk(s, f):
    """After vfree the kernel's walk ends at the cleared pte in a table
    that stays linked; at the stop before the free, the purge has
    unlinked that table, so gdb's walk ends above it."""
    if "unmapped" not in f:
        return "the kernel printed no walk after vfree"
    level, entry = f["unmapped"]
    if level != "pte":
        return (f"after vfree the kernel's walk ended at the {level} entry "
                f"{entry:#x}; the pte table should stay linked until the purge")
    return need(s["freeing"], r"-> not present at the (pmd|pud|pgd)")


def check_state_all_acked(s, f):
    text = s["freeing"]
    problem = need(text, r"^CPU 0: SHOOTDOWN_FREEING, request "
                   rf"\[{f['va']:#x}, {f['va'] + f['size']:#x}\) "
                   r"full_flush True; IPI to 1 2 3: acked 1 2 3, "
                   r"waiting for none$")
    for cpu in (1, 2, 3):
        problem = problem or need(
            text, rf"^CPU {cpu}: SHOOTDOWN_IDLE; acknowledged CPU 0's request$")
    return problem


def check_mm_counters_waiting(s, f):
    m = re.search(r"^\s+pte\s+(\d+)\s+(\d+)$", s["freeing"], flags=re.M)
    if not m:
        return "no pte row"
    live, linked = int(m.group(1)), int(m.group(2))
    if live - linked < 1:
        return f"pte tables live {live}, linked {linked}: none waiting"
    return None


CHECKS = [
    ("no_helper_raised", lambda s, f: None if not re.search(
        r"Python Exception|Traceback|Undefined command", s["all"])
        else "a Python error or an unknown command in the session"),
    ("early_cpus_aps_before_bring_up", lambda s, f: need(
        s["early"], r"^thread 1: long mode", *[
            rf"^thread {t}: .*\n    no per-CPU area yet" for t in APS])),
    ("early_vm_areas_not_set_up", lambda s, f: need(
        s["early"], r"^vm-areas: the vmalloc space is not set up yet")),
    ("early_tlb_gather_nothing_in_flight", lambda s, f: need(
        s["early"], r"^no shootdown in flight on any CPU")),
    ("early_shootdown_state_idle", lambda s, f: need(
        s["early"], r"^online CPUs: 0$", r"^CPU 0: SHOOTDOWN_IDLE$")),
    ("early_mm_counters", lambda s, f: need(
        s["early"], r"^page tables\s+live\s+linked", r"^\s+0\s+0 .*SHOOTDOWN_IDLE$")),
    ("early_frame_info_no_table", lambda s, f: need(
        s["early"], r"^frame-info: the frame table is not set up yet")),
    ("early_pt_walk_of_kmain", check_kmain_walk),
    ("early_pt_dump", lambda s, f: need(
        s["early"], r"^table at physical 0x[0-9a-f]+:", r"^\s+\[511\] ",
        r"^\s+\d+ present entries")),
    ("early_percpu_none", lambda s, f: need(
        s["early"], r"^no per-CPU area set up yet")),
    ("early_sym", lambda s, f: need(s["early"], r"^kmain in section")),
    ("pt_walk_agrees_with_kpt_walk", lambda s, f: check_pt_walk_agrees(s, f, 0)),
    ("pt_walk_agrees_with_kpt_walk_offset",
     lambda s, f: check_pt_walk_agrees(s, f, 1)),
    ("vm_areas_lists_the_area", lambda s, f: need(
        s["mapped"], lit(f"[{f['va']:#x}, {f['va'] + f['size']:#x}) ")
        + r"VMAP_KIND_VMALLOC\s+VMAP_AREA_BUSY\s+4096 KiB",
        r"^pages waiting for the purge: \d+, limit \d+")),
    ("cpus_names_cpu_and_test", lambda s, f: need(
        s["mapped"], r"^    CPU 0 \(online\), APIC id \d+, test "
        r"vfree_frees_an_emptied_pte_table_after_every_ack", *[
            rf"^    CPU {c} \(online\), APIC id \d+, test -" for c in (1, 2, 3)])),
    ("percpu_of_cpu_1", lambda s, f: need(s["mapped"], r"^CPU 1: apic_id \d+")),
    ("pt_walk_after_vfree_ends_at_the_pte", check_vfreed_walk),
    ("frame_info_linked_after_vfree", lambda s, f: need(
        s["vfreed"], lit(f"(pa {f['table']:#x}): use FRAME_PT_PTE, "
                         "flags linked, entries 0"))),
    ("shootdown_state_before_the_ipi", check_state_before_the_ipi),
    ("tlb_gather_in_flight_lists_the_pte_table", lambda s, f: need(
        s["freeing"], r"^CPU 0's shootdown \(gather at 0x[0-9a-f]+\): \d+ frames",
        rf"^  pa {f['table']:#x}\s+FRAME_PT_PTE\s+entries dead\s+gathered$")),
    ("tlb_gather_stale_range_and_flush", lambda s, f: need(
        s["freeing"], lit(f"stale [{f['va']:#x}, {f['va'] + f['size']:#x}): "
                          "full flush"))),
    ("tlb_gather_data_pages", lambda s, f: need(
        s["freeing"], rf"^  {f['size'] // 4096} vmalloc data pages: 0x")),
    ("tlb_gather_of_an_expression", lambda s, f: need(
        s["freeing"], r"^gather at 0x[0-9a-f]+: \d+ frames",
        rf"^  pa {f['table']:#x}\s+FRAME_PT_PTE")),
    ("shootdown_state_every_cpu_acked", check_state_all_acked),
    ("frame_info_gathered", lambda s, f: need(
        s["freeing"], lit(f"(pa {f['table']:#x}): use FRAME_PT_PTE, "
                          "flags gathered"))),
    ("mm_counters_tables_waiting", check_mm_counters_waiting),
    ("pt_walk_shows_the_table_unlinked_at_the_free", check_unmapped_walk),
    ("frame_back_in_the_allocator", lambda s, f: need(
        s["freed"], lit(f"(pa {f['table']:#x}): use FRAME_FREE"))),
    ("tlb_gather_empty_after_free", lambda s, f: need(
        s["freed"], r"^gather at 0x[0-9a-f]+: 0 frames", r"^  \(empty\)$")),
]


def main() -> int:
    out = run_session()
    s = sections(out)
    s["all"] = out
    s["start"] = out.split("@@ early", 1)[0]
    serial = SERIAL_LOG.read_text(errors="replace")
    facts = serial_facts(serial)
    print("KTAP version 1")
    print(f"1..{len(CHECKS)}")
    failed = 0
    for i, (name, check) in enumerate(CHECKS, start=1):
        try:
            problem = check(s, facts)
        except KeyError as e:
            problem = f"missing {e}: the session or the serial log stopped " \
                      "early"
        if problem:
            failed += 1
            print(f"# {name}: {problem}")
            print(f"# see {SESSION_LOG} and {SERIAL_LOG}")
            print(f"not ok {i} gdb_{name}")
        else:
            print(f"ok {i} gdb_{name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
