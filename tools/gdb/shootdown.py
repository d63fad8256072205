"""gdb helpers for shootdown, loaded by tools/gdb/gdbinit.

Type `help shootdown` in gdb for the list.  Each helper reads the kernel's
own data structures or the CPU's registers through gdb's Python API; the
page-table helpers read physical memory through the kernel's direct map.
"""
import gdb

DIRECT_MAP = 0xFFFF888000000000
ADDR_MASK = 0x000FFFFFFFFFF000
LEVELS = ("pgd", "pud", "pmd", "pte")          # SDM: PML4, PDPT, PD, PT
SDM_NAMES = ("PML4", "PDPT", "PD", "PT")
PAGE_BITS = (                                   # bit, name (SDM Vol. 3A, 4.5)
    (63, "NX"), (8, "G"), (7, "PS/PAT"), (6, "D"), (5, "A"),
    (4, "PCD"), (3, "PWT"), (2, "U"), (1, "W"), (0, "P"),
)


def read_u64(addr):
    inferior = gdb.selected_inferior()
    return int.from_bytes(bytes(inferior.read_memory(addr, 8)), "little")


def phys_read_u64(phys):
    return read_u64(DIRECT_MAP + phys)


def entry_bits(entry):
    return " ".join(name for bit, name in PAGE_BITS if entry & (1 << bit))


def eval_address(expr):
    """An address from any gdb expression: a number, a symbol, a function."""
    return int(gdb.parse_and_eval(f"(unsigned long)({expr})")) & 0xFFFFFFFFFFFFFFFF


def cr3():
    return int(gdb.parse_and_eval("$cr3")) & ADDR_MASK


class ShootdownPrefix(gdb.Command):
    """shootdown: helpers for this kernel.

    pt-walk ADDR       walk the page tables from CR3 for virtual ADDR,
                       printing every level (pgd/pud/pmd/pte = SDM
                       PML4/PDPT/PD/PT) with its bits
    pt-dump [LEVEL]    list the present entries of the top-level table
                       (pgd), or of the table at physical LEVEL
    percpu [CPU]       show a CPU's per-CPU area (default: all started)
    sym ADDR           the function containing ADDR
    mm-counters        live and linked page tables per level, each CPU's
                       shootdown counters and step, vmalloc counters
    frame PHYS         the struct frame of physical address PHYS: its
                       use and flags (linked, gathered, pinned, poisoned)
    """

    def __init__(self):
        super().__init__("shootdown", gdb.COMMAND_USER, prefix=True)


class PtWalk(gdb.Command):
    """pt-walk ADDR: walk the page tables from CR3 for virtual address ADDR."""

    def __init__(self):
        super().__init__("pt-walk", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        va = eval_address(arg)
        table = cr3()
        print(f"walk of {va:#018x} from CR3 {table:#x}")
        for level in range(4):
            index = (va >> (39 - 9 * level)) & 511
            try:
                entry = phys_read_u64(table + 8 * index)
            except gdb.MemoryError:
                print(f"  {LEVELS[level]}: table {table:#x} is not readable")
                return
            print(f"  {LEVELS[level]:3} ({SDM_NAMES[level]:4}) [{index:3}] = "
                  f"{entry:016x}  {entry_bits(entry)}")
            huge = level in (1, 2) and entry & 0x80
            if not entry & 1:
                print("  -> not present")
                return
            if huge or level == 3:
                size = {1: 1 << 30, 2: 1 << 21, 3: 1 << 12}[level]
                pa = (entry & ADDR_MASK & ~(size - 1)) + (va & (size - 1))
                print(f"  -> physical {pa:#x} ({size >> 10} KiB page)")
                return
            table = entry & ADDR_MASK


class PtDump(gdb.Command):
    """pt-dump [PHYS]: present entries of the pgd (or the table at PHYS)."""

    def __init__(self):
        super().__init__("pt-dump", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        table = eval_address(arg) if arg else cr3()
        print(f"table at physical {table:#x}:")
        for i in range(512):
            entry = phys_read_u64(table + 8 * i)
            if entry & 1:
                print(f"  [{i:3}] {entry:016x}  {entry_bits(entry)}")


class PerCpu(gdb.Command):
    """percpu [CPU]: a CPU's struct percpu (all CPUs with a self pointer)."""

    def __init__(self):
        super().__init__("percpu", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        areas = gdb.parse_and_eval("percpu_areas")
        count = areas.type.range()[1] + 1
        cpus = [int(arg)] if arg else range(count)
        for cpu in cpus:
            area = areas[cpu]
            if int(area["self"]) == 0:
                continue
            print(f"CPU {cpu}: apic_id {int(area['apic_id'])} "
                  f"running_test {area['running_test']} "
                  f"last_fault vector {int(area['last_fault']['vector'])} "
                  f"cr2 {int(area['last_fault']['cr2']):#x}")


class Sym(gdb.Command):
    """sym ADDR: the function that contains ADDR."""

    def __init__(self):
        super().__init__("sym", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        gdb.execute(f"info symbol {arg}")


FRAME_FLAGS = ((0x01, "linked"), (0x02, "gathered"), (0x04, "poisoned"),
               (0x08, "pinned"))


def enum_name(value):
    """The enumerator name gdb prints for an enum value."""
    return str(value)


class MmCounters(gdb.Command):
    """mm-counters: page tables per level, shootdown and vmalloc counters."""

    def __init__(self):
        super().__init__("mm-counters", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        frames = gdb.parse_and_eval("frame_stats")["frames"]
        linked = gdb.parse_and_eval("kpt")["stats"]["tables_linked"]
        use = {name: int(gdb.parse_and_eval(name)) for name in
               ("FRAME_PT_PTE", "FRAME_PT_PMD", "FRAME_PT_PUD", "FRAME_PT_PGD")}
        print("page tables   live  linked   (live - linked = waiting on a gather)")
        for level, name in enumerate(use, start=1):
            print(f"  {LEVELS[4 - level]:3} {int(frames[use[name]]):9} "
                  f"{int(linked[level]):7}")
        online = bin(int(gdb.parse_and_eval("online_bits"))).count("1")
        stats = gdb.parse_and_eval("shootdown_cpu_stats")
        steps = gdb.parse_and_eval("shootdown_cpu_step")
        fields = [f.name for f in stats[0].type.fields()]
        print("cpu " + " ".join(f"{f[:12]:>12}" for f in fields) + "  step")
        for cpu in range(online):
            row = " ".join(f"{int(stats[cpu][f]):12}" for f in fields)
            print(f"{cpu:3} {row}  {enum_name(steps[cpu])}")
        print("vm_stats:", gdb.parse_and_eval("vm_stats"))


class Frame(gdb.Command):
    """frame PHYS: the struct frame of physical address PHYS."""

    def __init__(self):
        super().__init__("frame", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        pa = eval_address(arg)
        f = gdb.parse_and_eval(f"frame_table[{pa >> 12}]")
        flags = int(f["flags"])
        names = [n for bit, n in FRAME_FLAGS if flags & bit] or ["-"]
        use = gdb.parse_and_eval(f"(enum frame_use){int(f['use'])}")
        print(f"frame {pa >> 12:#x} (pa {pa & ~0xfff:#x}): use {use}, "
              f"flags {' '.join(names)}, entries {int(f['entries'])}, "
              f"order {int(f['order'])}")


ShootdownPrefix()
MmCounters()
Frame()
PtWalk()
PtDump()
PerCpu()
Sym()
print("shootdown gdb helpers loaded: type 'help shootdown'")
