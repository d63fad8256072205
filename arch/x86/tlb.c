/* tlb.c: TLB maintenance instructions, on the calling CPU only.
 *
 * These are the only places that execute INVLPG or rewrite CR3/CR4 for
 * the TLB's sake.  Reaching other CPUs is not done here: that is the
 * shootdown protocol's job (mm/shootdown.c), which calls these on every
 * CPU it interrupts.
 */
#include "arch/x86/asm.h"
#include "arch/x86/arch.h"

/* => any context; IRQs may be on.
 * => TLB: this CPU holds no translation for the page at @va, global or
 *    not, and no paging-structure-cache entry used to translate it
 *    (SDM Vol. 3A, "INVLPG"). */
void tlb_flush_local_page(virt_addr_t va)
{
	invlpg(va);
}

/* => any context; IRQs may be on.
 * => TLB: this CPU holds no translation at all and no paging-structure-
 *    cache entry (SDM Vol. 3A, 4.10.4.1, "MOV to CR3" with CR4.PCIDE = 0).
 * One CR3 reload is all of it because no translation here is global:
 * CR4.PGE stays off (arch/x86/cpu.c), so the G bit would be ignored even
 * if an entry had it.  Were PGE on, the global entries would survive a
 * CR3 reload and only toggling CR4.PGE (two CR4 writes) would drop
 * them; under QEMU's TCG each of those writes empties the whole software
 * TLB, so the toggle costs two flushes where the reload costs one (the
 * purge after 1,000 vfrees: 65 -> 58 us at -smp 1, 314 -> 235 us at
 * -smp 4, -cpu max, medians of ten boots each alternated,
 * `tools/bench.py --row burst`; docs/bench.md, seventh pass). */
void tlb_flush_local_all(void)
{
	write_cr3(read_cr3());
}

phys_addr_t arch_read_pgd_root(void)
{
	return read_cr3() & PHYS_ADDR_MASK;
}

/* => IRQs off or on; the new root must map the running code and stack.
 * => TLB: every translation dropped (none is global: CR4.PGE is off). */
void arch_write_pgd_root(phys_addr_t root)
{
	write_cr3(root);
}
