"""gdb helpers for what is in flight between an unmap and a free:
vm-areas, tlb-gather, shootdown-state, cpus."""
import gdb

from sd_mem import (FRAME_NIL, PAGE_SIZE, Unavailable, cpu_mode, enum_name,
                    eval_address, frame_entries, frame_flags, frame_pfn,
                    frame_table, frame_use, helper, lookup, max_cpus,
                    online_mask, register, source_define, to_int)
from sd_tables import selftest_name

# Lists and trees are walked at most this far: memory that a stop
# catches half-written (or a corrupted list) must not loop gdb forever.
# 1 << 20 frames is 4 GiB of pages, more than any gather of a test boot.
WALK_LIMIT = 1 << 20
AREAS_SHOWN = 64        # areas printed by vm-areas before "... more"
DATA_PAGES_SHOWN = 4    # data pages of a gather printed one by one


def avl_in_order(root):
    """Nodes of an avl tree, smallest first (struct avl_node *)."""
    stack, node, seen = [], root, 0
    while stack or to_int(node):
        while to_int(node):
            stack.append(node)
            node = node["left"]
            if len(stack) > 64:                # an AVL tree is never this deep
                raise Unavailable("tree deeper than 64: caught mid-update?")
        node = stack.pop()
        seen += 1
        if seen > WALK_LIMIT:
            raise Unavailable("tree walk did not end: caught mid-update?")
        yield node
        node = node["right"]


def area_of(node):
    """struct avl_node * -> struct vmap_area * (node is its first field)."""
    return node.cast(gdb.lookup_type("struct vmap_area").pointer())


def lazy_limit_pages():
    """vm_lazy_max_pages(), computed the way mm/vmalloc.c does
    (gdb does not call kernel functions: that would run the CPU)."""
    override = to_int(lookup("vm_lazy_max_pages_override"))
    if override:
        return override
    log = online_mask().bit_count() if hasattr(int, "bit_count") else \
        bin(online_mask()).count("1")
    log = log.bit_length()                      # Linux: fls(cpus)
    return log * (32 << 20) // PAGE_SIZE


class VmAreas(gdb.Command):
    """vm-areas: the vmalloc window's areas and what waits for the purge.

Every live area (vmalloc, vmap, ioremap) with its range, kind, state and
size; the lazily freed areas not yet purged; the pages waiting for the
purge against the limit; and the lazy pending gather."""

    def __init__(self):
        self.name = "vm-areas"
        super().__init__("vm-areas", gdb.COMMAND_DATA)

    @helper
    def invoke(self, arg, from_tty):
        space = lookup("vm_space")
        start, end = to_int(space["start"]), to_int(space["end"])
        if start == end:
            raise Unavailable("the vmalloc space is not set up yet "
                              "(vmalloc_init has not run)")
        print(f"vmalloc window [{start:#x}, {end:#x}): {to_int(space['nr_busy'])} "
              f"busy, {to_int(space['nr_unmapping'])} unmapping, "
              f"{to_int(space['nr_lazy'])} lazy, {to_int(space['nr_free'])} "
              f"free ranges")
        shown = 0
        for node in avl_in_order(space["busy_tree"]["root"]):
            area = area_of(node)
            if shown == AREAS_SHOWN:
                print(f"  ... more (only the first {AREAS_SHOWN} shown)")
                break
            shown += 1
            a, b = to_int(area["start"]), to_int(area["end"])
            print(f"  [{a:#x}, {b:#x}) {enum_name(area['kind']):18} "
                  f"{enum_name(area['state']):19} {(b - a) >> 10} KiB")
        if shown == 0:
            print("  no area lent out (freed ones are in no tree: see the lazy list)")
        lazy, waiting = [], space["lazy_head"]
        while to_int(waiting) and len(lazy) < WALK_LIMIT:
            lazy.append(f"[{to_int(waiting['start']):#x}, "
                        f"{to_int(waiting['end']):#x})")
            waiting = waiting["link"]
        print(f"lazy, not yet in a purge: {', '.join(lazy) or 'none'}")
        print(f"pages waiting for the purge: "
              f"{to_int(space['lazy_bytes']) // PAGE_SIZE}, limit "
              f"{lazy_limit_pages()}")
        frames = sum(to_int(g["nr_frames"]) for g in lazy_gathers())
        print(f"lazy pending gather: {frames} frames "
              f"(every CPU's vm_lazy.cpu[].pending)")


def gather_frames(gather):
    """(pfn, struct frame) of every frame on a struct pt_gather, in list
    order."""
    table, count, _ = frame_table()
    f, out = gather["head"], []
    while to_int(f):
        pfn = frame_pfn(f)
        if pfn >= count or len(out) > WALK_LIMIT:
            raise Unavailable(f"gather list runs off the frame table at "
                              f"{to_int(f):#x}: caught mid-update?")
        out.append((pfn, f.dereference()))
        nxt = to_int(f["next"])
        f = table + nxt if nxt != FRAME_NIL else gdb.Value(0).cast(f.type)
    return out


def flush_kind(start, end):
    """What mm/shootdown.c's range_needs_full_flush decides for a range."""
    ceiling = source_define("mm/shootdown.h", "SHOOTDOWN_INVLPG_CEILING")
    if start == end:
        return "nothing stale"
    if ceiling is None:
        return "flush kind unknown (no mm/shootdown.h to read the ceiling)"
    if end <= start or (end - start) // PAGE_SIZE > ceiling:
        return f"full flush (more than {ceiling} pages, or to the top)"
    return f"INVLPG per page ({(end - start) // PAGE_SIZE} <= {ceiling})"


def lazy_gathers():
    """Each CPU's gather of lazily unmapped pages (mm/vmalloc.c vm_lazy)."""
    cpus = lookup("vm_lazy")["cpu"]
    return [cpus[i]["pending"] for i in range(cpus.type.range()[1] + 1)]


def print_gather(gather, title):
    start, end = to_int(gather["stale_start"]), to_int(gather["stale_end"])
    frames = gather_frames(gather)
    print(f"{title}: {len(frames)} frames (nr_frames "
          f"{to_int(gather['nr_frames'])}), stale [{start:#x}, {end:#x}): "
          f"{flush_kind(start, end)}")
    data = []
    for pfn, f in frames:
        use = frame_use(f)
        if use == "FRAME_VMALLOC":
            data.append(pfn)
            continue
        print(f"  pa {pfn << 12:#x}  {use:13} entries "
              f"{frame_entries(f)}  {frame_flags(to_int(f['flags']))}")
    if data:
        first = ", ".join(f"{p << 12:#x}" for p in data[:DATA_PAGES_SHOWN])
        print(f"  {len(data)} vmalloc data pages: {first}"
              f"{', ...' if len(data) > DATA_PAGES_SHOWN else ''}")
    if not frames:
        print("  (empty)")


class TlbGather(gdb.Command):
    """tlb-gather [ADDR]: the frames of a struct pt_gather and its stale range.

ADDR is a struct pt_gather * (any expression: "g", "&g", an address).
Without it: the gather of the shootdown in flight on each CPU
(shootdown_cpu_gather[]), else the lazy pending gather.  Each frame with
its use (page-table level or data page) and flags, the stale range, and
whether the flush will be INVLPGs or a full flush."""

    def __init__(self):
        self.name = "tlb-gather"
        super().__init__("tlb-gather", gdb.COMMAND_DATA)

    @helper
    def invoke(self, arg, from_tty):
        ptr_type = gdb.lookup_type("struct pt_gather").pointer()
        if arg.strip():
            value = gdb.parse_and_eval(arg)
            if value.type.strip_typedefs().code != gdb.TYPE_CODE_PTR:
                value = gdb.Value(eval_address(arg))
            print_gather(value.cast(ptr_type).dereference(),
                         f"gather at {to_int(value):#x}")
            return
        in_flight = lookup("shootdown_cpu_gather")
        found = False
        for cpu in range(max_cpus()):
            g = in_flight[cpu]
            if to_int(g):
                found = True
                print_gather(g.dereference(), f"CPU {cpu}'s shootdown "
                             f"(gather at {to_int(g):#x})")
        if not found:
            print("no shootdown in flight on any CPU")
            for cpu, g in enumerate(lazy_gathers()):
                if cpu == 0 or to_int(g["head"]):
                    print_gather(g, f"CPU {cpu}'s lazy pending gather")


def latest_call(cpu):
    """The call @cpu sent last (kernel/smp.c: calls[] round robin)."""
    c = lookup("smp_cpus")[cpu]
    slots = c["calls"].type.range()[1] + 1
    return c["calls"][(to_int(c["oldest_call"]) + slots - 1) % slots]


def queued_calls(cpu):
    """Calls waiting in @cpu's queue (struct smp_call addresses)."""
    e, out = lookup("smp_cpus")[cpu]["queue"], []
    while to_int(e) and len(out) < 64:
        out.append(to_int(e["call"]))
        e = e["next"]
    return out


def cpu_list(mask):
    return " ".join(str(c) for c in range(64) if mask >> c & 1) or "none"


class ShootdownState(gdb.Command):
    """shootdown-state: each CPU's step in the shootdown and its acks.

Per online CPU: its step (IDLE, INVALIDATING, WAITING_FOR_ACKS,
FREEING), the request it sent (range, full flush or not), and for the
initiator which CPUs have acknowledged and which it still waits for; for
a target, whether the request is queued, running, or acknowledged."""

    def __init__(self):
        self.name = "shootdown-state"
        super().__init__("shootdown-state", gdb.COMMAND_DATA)

    @helper
    def invoke(self, arg, from_tty):
        steps = lookup("shootdown_cpu_step")
        requests = lookup("shootdown_requests")
        target_fn = to_int(lookup("shootdown_on_target").address)
        online = online_mask()
        fault = enum_name(lookup("shootdown_selftest_fault"))
        if fault != "SHOOTDOWN_SAFE":
            print(f"negative control on: shootdown_selftest_fault = {fault}")
        print(f"online CPUs: {cpu_list(online)}")
        rounds = {}                 # initiator -> (call, pending)
        for cpu in range(64):
            if online >> cpu & 1 and enum_name(steps[cpu]) != "SHOOTDOWN_IDLE":
                call = latest_call(cpu)
                pending = to_int(call["pending"])
                if to_int(call["fn"]) == target_fn and (pending or enum_name(
                        steps[cpu]) != "SHOOTDOWN_INVALIDATING"):
                    rounds[cpu] = (call, pending)
        for cpu in range(64):
            if not online >> cpu & 1:
                continue
            step = enum_name(steps[cpu])
            line = f"CPU {cpu}: {step}"
            if step != "SHOOTDOWN_IDLE":
                line += self.initiator(cpu, step, requests[cpu],
                                       online & ~(1 << cpu), rounds)
            served = [self.served(cpu, initiator, call, pending)
                      for initiator, (call, pending) in rounds.items()
                      if initiator != cpu]
            if served:
                line += "; " + "; ".join(served)
            print(line)

    @staticmethod
    def initiator(cpu, step, req, targets, rounds):
        """The rest of an initiator's line.  While it is INVALIDATING, its
        last call with nothing pending may be the last round's (this
        round's IPI not out yet) or this round's with every ack in: the
        two look the same in memory, so invoke() left it out of @rounds
        and neither is claimed."""
        line = (f", request [{to_int(req['start']):#x}, "
                f"{to_int(req['end']):#x}) full_flush "
                f"{bool(to_int(req['full_flush']))}")
        if not targets:
            return line + "; no other CPU online: no IPI"
        if cpu not in rounds and step == "SHOOTDOWN_INVALIDATING":
            return (line + f"; nothing pending: its IPI to {cpu_list(targets)} "
                    "is not out yet, or every target has acknowledged it")
        if cpu not in rounds:
            return line + "; no shootdown call to the other CPUs found"
        _, pending = rounds[cpu]
        return (line + f"; IPI to {cpu_list(targets)}: acked "
                f"{cpu_list(targets & ~pending)}, waiting for "
                f"{cpu_list(pending)}")

    @staticmethod
    def served(cpu, initiator, call, pending):
        """Where target @cpu is with @initiator's call."""
        if not pending >> cpu & 1:
            return f"acknowledged CPU {initiator}'s request"
        if to_int(call.address) in queued_calls(cpu):
            return f"CPU {initiator}'s request queued, not yet taken"
        return (f"took CPU {initiator}'s request off its queue, not yet "
                "acknowledged")


class Cpus(gdb.Command):
    """cpus: every vCPU (gdb thread N is QEMU's vCPU N-1).

Per thread: the mode it runs in, where (function), IRQs on or off, and,
once its per-CPU area is set up (GS base), the kernel's CPU id, online,
APIC id, the selftest case it runs, its shootdown step and counters."""

    def __init__(self):
        self.name = "cpus"
        super().__init__("cpus", gdb.COMMAND_DATA)

    @helper
    def invoke(self, arg, from_tty):
        selected = gdb.selected_thread()
        try:
            for thread in sorted(gdb.selected_inferior().threads(),
                                 key=lambda t: t.num):
                thread.switch()
                print(self.describe(thread))
        finally:
            if selected is not None:
                selected.switch()

    def describe(self, thread):
        mode, _ = cpu_mode()
        pc = register("pc")
        irqs = "on" if register("eflags") & 0x200 else "off"
        # The last line: with "set trace-commands on" gdb puts the
        # traced command itself first in the captured text.
        where = gdb.execute(f"info symbol {pc:#x}",
                            to_string=True).strip().splitlines()[-1]
        if where.startswith("No symbol"):
            where = "no symbol"
        where = where.split(" in section ")[0]
        line = f"thread {thread.num}: {mode}, IRQs {irqs}, pc {pc:#x} ({where})"
        try:
            return line + "\n    " + self.kernel_view(register("gs_base"))
        except Unavailable as e:
            return line + f"\n    {e}"

    @staticmethod
    def kernel_view(gs_base):
        areas = lookup("percpu_areas")
        size = areas[0].type.sizeof
        first = to_int(areas[0].address)
        count = areas.type.range()[1] + 1
        if not first <= gs_base < first + count * size or \
                (gs_base - first) % size:
            raise Unavailable(f"no per-CPU area yet (GS base {gs_base:#x}): "
                              "boot code, or an AP in the trampoline")
        area = areas[(gs_base - first) // size]
        cpu = to_int(area["cpu_id"])
        stats = lookup("shootdown_cpu_stats")[cpu]
        calls = lookup("smp_cpus")[cpu]["stats"]
        online = "online" if online_mask() >> cpu & 1 else "not online yet"
        return (f"CPU {cpu} ({online}), APIC id {to_int(area['apic_id'])}, "
                f"test {selftest_name(area['running_test'])}, "
                f"{enum_name(lookup('shootdown_cpu_step')[cpu])}, "
                f"shootdowns {to_int(stats['shootdowns'])}, ipis_received "
                f"{to_int(stats['ipis_received'])}, calls_run "
                f"{to_int(calls['calls_run'])}")


COMMANDS = (VmAreas, TlbGather, ShootdownState, Cpus)
