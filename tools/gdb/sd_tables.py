"""gdb helpers for the page tables and the frames behind them:
pt-walk, pt-dump, frame-info, mm-counters, percpu, sym."""
import gdb

from sd_mem import (ADDR_MASK, Unavailable, cr3, enum_name, eval_address,
                    frame_at, frame_entries, frame_flags, frame_use, helper,
                    lookup, online_cpus, phys_read_u64, to_int)

LEVELS = ("pgd", "pud", "pmd", "pte")          # SDM: PML4, PDPT, PD, PT
SDM_NAMES = ("PML4", "PDPT", "PD", "PT")
PAGE_BITS = (                                   # bit, name (SDM Vol. 3A, 4.5)
    (63, "NX"), (8, "G"), (7, "PS/PAT"), (6, "D"), (5, "A"),
    (4, "PCD"), (3, "PWT"), (2, "U"), (1, "W"), (0, "P"),
)


def entry_bits(entry):
    return " ".join(name for bit, name in PAGE_BITS if entry & (1 << bit))


class PtWalk(gdb.Command):
    """pt-walk ADDR: walk the page tables from CR3 for virtual address ADDR.

Prints each level (pgd/pud/pmd/pte = SDM PML4/PDPT/PD/PT) with the
physical address of the entry, its value and its bits, and where the
walk ends: a page and the physical address, or "not present"."""

    def __init__(self):
        self.name = "pt-walk"
        super().__init__("pt-walk", gdb.COMMAND_DATA)

    @helper
    def invoke(self, arg, from_tty):
        va = eval_address(arg)
        table = cr3()
        print(f"walk of {va:#018x} from CR3 {table:#x}")
        for level in range(4):
            index = (va >> (39 - 9 * level)) & 511
            slot = table + 8 * index
            entry = phys_read_u64(slot)
            print(f"  {LEVELS[level]:3} ({SDM_NAMES[level]:4}) [{index:3}] "
                  f"@ {slot:#x} = {entry:016x}  {entry_bits(entry)}")
            huge = level in (1, 2) and entry & 0x80
            if not entry & 1:
                print(f"  -> not present at the {LEVELS[level]}")
                return
            if huge or level == 3:
                size = {1: 1 << 30, 2: 1 << 21, 3: 1 << 12}[level]
                pa = (entry & ADDR_MASK & ~(size - 1)) + (va & (size - 1))
                print(f"  -> physical {pa:#x} ({size >> 10} KiB page)")
                return
            table = entry & ADDR_MASK


class PtDump(gdb.Command):
    """pt-dump [PHYS]: present entries of the pgd (or of the table at PHYS)."""

    def __init__(self):
        self.name = "pt-dump"
        super().__init__("pt-dump", gdb.COMMAND_DATA)

    @helper
    def invoke(self, arg, from_tty):
        table = eval_address(arg) if arg.strip() else cr3()
        print(f"table at physical {table:#x}:")
        present = 0
        for i in range(512):
            entry = phys_read_u64(table + 8 * i)
            if entry & 1:
                present += 1
                print(f"  [{i:3}] {entry:016x}  {entry_bits(entry)}")
        print(f"  {present} present entries")


class FrameInfo(gdb.Command):
    """frame-info PHYS: the struct frame of physical address PHYS.

Its recorded use (FRAME_FREE, FRAME_PT_PTE, ...), its flags (linked,
gathered, pinned, poisoned, poison-full), the present entries if it is a page table,
and its buddy order.  (Not named "frame": that is gdb's own command.)"""

    def __init__(self):
        self.name = "frame-info"
        super().__init__("frame-info", gdb.COMMAND_DATA)

    @helper
    def invoke(self, arg, from_tty):
        pa = eval_address(arg)
        f = frame_at(pa >> 12)
        order = to_int(f["order"])
        print(f"frame {pa >> 12:#x} (pa {pa & ~0xfff:#x}): use {frame_use(f)}, "
              f"flags {frame_flags(to_int(f['flags']))}, "
              f"entries {frame_entries(f)}, order "
              f"{'tail' if order == 0xff else order}")


FRAME_PT_USES = ("FRAME_PT_PTE", "FRAME_PT_PMD", "FRAME_PT_PUD", "FRAME_PT_PGD")


class MmCounters(gdb.Command):
    """mm-counters: page tables per level, shootdown and vmalloc counters."""

    def __init__(self):
        self.name = "mm-counters"
        super().__init__("mm-counters", gdb.COMMAND_DATA)

    @helper
    def invoke(self, arg, from_tty):
        frames = lookup("frame_stats")["frames"]
        linked = lookup("kpt")["stats"]["tables_linked"]
        print("page tables   live  linked   (live - linked = waiting on a gather)")
        for level, name in enumerate(FRAME_PT_USES, start=1):
            use = to_int(lookup(name))
            print(f"  {LEVELS[4 - level]:3} {to_int(frames[use]):9} "
                  f"{to_int(linked[level]):7}")
        stats = lookup("shootdown_cpu_stats")
        steps = lookup("shootdown_cpu_step")
        fields = [f.name for f in stats[0].type.fields()]
        print("cpu " + " ".join(f"{f[:12]:>12}" for f in fields) + "  step")
        for cpu in online_cpus():
            row = " ".join(f"{to_int(stats[cpu][f]):12}" for f in fields)
            print(f"{cpu:3} {row}  {enum_name(steps[cpu])}")
        print("vm_stats:", lookup("vm_stats"))


def selftest_name(test_ptr):
    """The case a struct selftest * runs, or "-"."""
    if to_int(test_ptr) == 0:
        return "-"
    try:
        return test_ptr["c"]["name"].string()
    except (gdb.MemoryError, gdb.error):
        return f"<struct selftest at {to_int(test_ptr):#x}>"


class PerCpu(gdb.Command):
    """percpu [CPU]: a CPU's struct percpu (default: every CPU set up)."""

    def __init__(self):
        self.name = "percpu"
        super().__init__("percpu", gdb.COMMAND_DATA)

    @helper
    def invoke(self, arg, from_tty):
        areas = lookup("percpu_areas")
        count = areas.type.range()[1] + 1
        cpus = [int(arg)] if arg.strip() else range(count)
        shown = 0
        for cpu in cpus:
            area = areas[cpu]
            if to_int(area["self"]) == 0:
                if arg.strip():
                    print(f"CPU {cpu}: per-CPU area not set up yet")
                continue
            shown += 1
            print(f"CPU {cpu}: apic_id {to_int(area['apic_id'])} "
                  f"running_test {selftest_name(area['running_test'])} "
                  f"last_fault vector {to_int(area['last_fault']['vector'])} "
                  f"cr2 {to_int(area['last_fault']['cr2']):#x}")
        if not shown and not arg.strip():
            print("no per-CPU area set up yet (percpu_init_this_cpu "
                  "has not run)")


class Sym(gdb.Command):
    """sym ADDR: the function that contains ADDR."""

    def __init__(self):
        self.name = "sym"
        super().__init__("sym", gdb.COMMAND_DATA)

    @helper
    def invoke(self, arg, from_tty):
        gdb.execute(f"info symbol {eval_address(arg):#x}")


COMMANDS = (PtWalk, PtDump, FrameInfo, MmCounters, PerCpu, Sym)
__all__ = ["COMMANDS", "LEVELS", "Unavailable", "selftest_name"]
