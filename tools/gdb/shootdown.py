"""gdb helpers for shootdown, loaded by tools/gdb/gdbinit.

Type `help shootdown` in gdb for the list.  Each helper reads the kernel's
own data structures or the CPU's registers through gdb's Python API
(tools/gdb/sd_*.py); the page-table helpers read physical memory through
the kernel's direct map.  tests/gdb/test_gdb.py runs every one of them.
"""
import importlib
import sys
from pathlib import Path

import gdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sd_mem      # noqa: E402  (found through the line above)
import sd_tables   # noqa: E402
import sd_flight   # noqa: E402

for module in (sd_mem, sd_tables, sd_flight):    # `source` again: new code
    importlib.reload(module)


class ShootdownPrefix(gdb.Command):
    """shootdown: helpers for this kernel (docs/gdb.md walks through them).

    pt-walk ADDR       walk the page tables from CR3 for virtual ADDR,
                       printing every level (pgd/pud/pmd/pte = SDM
                       PML4/PDPT/PD/PT): entry address, value, bits
    pt-dump [PHYS]     list the present entries of the top-level table
                       (pgd), or of the table at physical PHYS
    frame-info PHYS    the struct frame of physical address PHYS: its
                       use and flags (linked, gathered, pinned, poisoned,
                       poison-full)
    mm-counters        live and linked page tables per level, each CPU's
                       shootdown counters and step, vmalloc counters
    vm-areas           live vmalloc/vmap/ioremap areas (range, kind,
                       state, size), lazily freed ones, pages waiting
                       for the purge and the limit
    tlb-gather [ADDR]  a struct pt_gather (default: the shootdown in
                       flight on each CPU): its frames with their level
                       or use, its stale range, INVLPG or full flush
    shootdown-state    per CPU: its step, the request it sent, which CPUs
                       acknowledged and which it still waits for
    cpus               per vCPU (gdb thread N = QEMU vCPU N-1): mode,
                       IRQs, where it runs, CPU id, APIC id, test, counters
    percpu [CPU]       a CPU's per-CPU area (default: every one set up)
    sym ADDR           the function containing ADDR

    Any helper may be used at any stop; what is not set up yet is said,
    not shown.  Early boot: the kernel's direct map holds the first GiB
    from the 64-bit switch on (boot/multiboot2.S), all of RAM after
    mm_init; helpers that read physical memory fall back to QEMU's
    physical mode ("maintenance packet Qqemu.PhyMemMode:1") when the
    direct map does not reach; and a CPU with paging off has no tables
    to walk: pick another thread.
    """

    def __init__(self):
        super().__init__("shootdown", gdb.COMMAND_USER, prefix=True)


ShootdownPrefix()
for command in sd_tables.COMMANDS + sd_flight.COMMANDS:
    command()
print("shootdown gdb helpers loaded: type 'help shootdown'")
