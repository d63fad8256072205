"""Reading the kernel from gdb, for the helpers of tools/gdb/shootdown.py.

Every helper may be typed at any stop: before a structure is set up,
with a CPU still in real mode, in the middle of a shootdown.  So every
read goes through here, and what cannot be read becomes an Unavailable
with a sentence saying why, which the helper prints in place of the
value (helper() turns one that escapes into a one-line message instead
of a Python traceback).

Globals are named plainly ("vm_space", never "'file.c'::vm_space"): the
helpers keep working when a static moves to another file.
"""
import functools
import re
from pathlib import Path

import gdb

# The kernel's direct map of physical memory (mm/layout.h:
# DIRECT_MAP_START).  boot/multiboot2.S maps the first GiB there before
# kmain; mm/mm_init.c maps all of RAM.
DIRECT_MAP = 0xFFFF888000000000
ADDR_MASK = 0x000FFFFFFFFFF000          # bits 51:12 of an entry
PAGE_SIZE = 4096
FRAME_NIL = 0xFFFFFFFF                  # mm/frame.h: "no frame" in a link
MASK64 = (1 << 64) - 1

SRC = Path(__file__).resolve().parents[2]   # the checkout: for #defines


class Unavailable(Exception):
    """A value the helper cannot show at this stop; str() says why."""


def helper(invoke):
    """Wrap a gdb.Command.invoke: an Unavailable, a memory error or a
    missing symbol ends the command with one line, not a traceback."""
    @functools.wraps(invoke)
    def run(self, arg, from_tty):
        try:
            invoke(self, arg, from_tty)
        except Unavailable as e:
            print(f"{self.name}: {e}")
        except gdb.MemoryError as e:
            print(f"{self.name}: cannot read memory ({e}); "
                  "see 'help shootdown' on early boot")
        except gdb.error as e:
            print(f"{self.name}: {e}")
    return run


def lookup(name):
    """The kernel global @name as a gdb.Value, or Unavailable."""
    try:
        return gdb.parse_and_eval(name)
    except gdb.error as e:
        raise Unavailable(f"no symbol '{name}' in this kernel ({e})") from None


def to_int(value):
    try:
        return int(value) & MASK64
    except gdb.MemoryError as e:
        raise Unavailable(f"cannot read it ({e})") from None


def eval_address(expr):
    """An address from any gdb expression: a number, a symbol, a function."""
    if not expr.strip():
        raise Unavailable("an address is needed")
    return to_int(gdb.parse_and_eval(f"(unsigned long)({expr})"))


def read_u64(addr):
    inferior = gdb.selected_inferior()
    return int.from_bytes(bytes(inferior.read_memory(addr, 8)), "little")


def _physical_mode(on):
    """QEMU's gdb stub reads physical memory after this packet
    (Qqemu.PhyMemMode); gdb forwards it with 'maintenance packet'."""
    gdb.execute(f"maintenance packet Qqemu.PhyMemMode:{1 if on else 0}",
                to_string=True)


def phys_read_u64(phys):
    """The 8 bytes at physical @phys: through the direct map, or, when
    that is not mapped (early boot), through QEMU's physical mode."""
    try:
        return read_u64(DIRECT_MAP + phys)
    except gdb.MemoryError:
        pass
    try:
        _physical_mode(True)
        try:
            return read_u64(phys)
        finally:
            _physical_mode(False)
    except (gdb.MemoryError, gdb.error) as e:
        raise Unavailable(f"physical {phys:#x} is readable neither through "
                          f"the direct map nor in QEMU's physical mode "
                          f"({e})") from None


def register(name):
    """A register of the selected thread (gdb thread = QEMU vCPU)."""
    try:
        return int(gdb.parse_and_eval(f"${name}")) & MASK64
    except gdb.error as e:
        raise Unavailable(f"no register ${name} ({e})") from None


CR0_PG = 1 << 31
EFER_LMA = 1 << 10


def cpu_mode():
    """What the selected vCPU runs in: real, protected or long mode,
    and whether paging is on."""
    cr0 = register("cr0")
    if not cr0 & 1:
        return "real mode", False
    if register("efer") & EFER_LMA:
        return "long mode", True
    return ("protected mode, paging" if cr0 & CR0_PG else
            "protected mode, no paging"), bool(cr0 & CR0_PG)


def cr3():
    mode, paging = cpu_mode()
    if not paging:
        raise Unavailable(f"this CPU is in {mode}: no page tables to walk "
                          "(pick another thread, or stop later)")
    return register("cr3") & ADDR_MASK


def enum_name(value):
    """The enumerator name gdb prints for an enum value, without the
    common prefix noise gdb never adds (it is the C name)."""
    return str(value)


def cstring(value):
    """A C string, or a note why not."""
    if to_int(value) == 0:
        return "(null)"
    try:
        return value.string()
    except (gdb.MemoryError, gdb.error, UnicodeDecodeError):
        return f"<unreadable {to_int(value):#x}>"


def source_define(header, name):
    """The value of `#define NAME value` in @header of this checkout:
    macros are not in the kernel's debug information (-g, not -g3)."""
    try:
        text = (SRC / header).read_text()
    except OSError:
        return None
    m = re.search(rf"#define\s+{name}\s+(0x[0-9a-fA-F]+|\d+)[uUlL]*\b", text)
    return int(m.group(1), 0) if m else None


def online_mask():
    """kernel/smp.c's online CPUs, one bit each."""
    return to_int(lookup("online_bits"))


def online_cpus():
    mask = online_mask()
    return [cpu for cpu in range(64) if mask >> cpu & 1]


def max_cpus():
    return lookup("shootdown_cpu_step").type.range()[1] + 1


def frame_table():
    """(first struct frame *, count, sizeof) or Unavailable before
    frame_table_init()."""
    table = lookup("frame_table")
    count = to_int(lookup("frame_count"))
    if to_int(table) == 0 or count == 0:
        raise Unavailable("the frame table is not set up yet "
                          "(frame_table_init has not run)")
    return table, count, table.dereference().type.sizeof


def frame_at(pfn):
    table, count, _ = frame_table()
    if pfn >= count:
        raise Unavailable(f"pfn {pfn:#x} is past the end of RAM "
                          f"(frame_count {count:#x})")
    return table[pfn]


def frame_pfn(frame_ptr):
    """The frame number of a struct frame * (its index in frame_table)."""
    table, _, size = frame_table()
    return (to_int(frame_ptr) - to_int(table)) // size


FRAME_FLAGS = ((0x01, "linked"), (0x02, "gathered"), (0x04, "poisoned"),
               (0x08, "pinned"), (0x10, "poison-full"))  # mm/frame.h FRAME_F_*


def frame_flags(flags):
    return " ".join(n for bit, n in FRAME_FLAGS if flags & bit) or "-"


def frame_entries(frame):
    """A table's count of present entries, or "dead" once it was
    unlinked (mm/kpt.h KPT_TABLE_DEAD: no lockless map may pin it)."""
    n = to_int(frame["entries"])
    return "dead" if n == source_define("mm/kpt.h", "KPT_TABLE_DEAD") else str(n)


def frame_use(frame):
    return enum_name(gdb.parse_and_eval(
        f"(enum frame_use){to_int(frame['use'])}"))
