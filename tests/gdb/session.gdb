# The gdb half of tests/gdb/test_gdb.py: runs after tools/gdb/gdbinit
# (attached, stopped at kmain) in a boot with selftest=pte_death.  Each
# "@@ NAME" line starts a section that test_gdb.py checks; keep the
# names in step with its CHECKS table.

echo @@ early\n
cpus
vm-areas
tlb-gather
shootdown-state
mm-counters
frame-info 0x100000
pt-walk kmain
pt-dump
percpu
sym kmain

# The area is mapped: vfree is about to unmap it.
break vfree
continue
delete
set $va = (unsigned long)addr
echo @@ mapped\n
pt-walk $va
pt-walk $va + 0x1123
vm-areas
cpus
percpu 1

# vfree has cleared the area's entries; its tables stay linked, empty,
# until the purge.
finish
echo @@ vfreed\n
pt-walk $va
frame-info (pte_death_table - frame_table) << 12

# The purge unlinked the tables; its shootdown is about to send the IPI.
break smp_call_all_but_self
continue
delete
echo @@ sending\n
shootdown-state

# Every CPU acknowledged; the gathered frames are about to be freed.
break pt_gather_free_all
continue
delete
echo @@ freeing\n
tlb-gather
tlb-gather g
shootdown-state
frame-info (pte_death_table - frame_table) << 12
mm-counters
pt-walk $va

# Back in shootdown_flush_and_free: the frames are free.
finish
echo @@ freed\n
frame-info (pte_death_table - frame_table) << 12
tlb-gather g
echo @@ end\n
kill
