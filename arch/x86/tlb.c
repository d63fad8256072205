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

/* => any context; IRQs are disabled around the CR4 toggle so nothing runs
 *    between clearing and setting PGE.
 * => TLB: this CPU holds no translation at all, global entries included.
 * A CR3 reload would leave global entries (all kernel mappings here) in
 * place; toggling CR4.PGE is the architectural way to drop them. */
void tlb_flush_local_all(void)
{
	uint64_t flags = read_rflags(), cr4;

	cli();
	cr4 = read_cr4();
	if (cr4 & CR4_PGE) {
		write_cr4(cr4 & ~CR4_PGE);
		write_cr4(cr4);
	} else {
		write_cr3(read_cr3());
	}
	if (flags & RFLAGS_IF)
		sti();
}

phys_addr_t arch_read_pgd_root(void)
{
	return read_cr3() & PHYS_ADDR_MASK;
}

/* => IRQs off or on; the new root must map the running code and stack.
 * => TLB: non-global entries dropped; global ones (kernel) survive. */
void arch_write_pgd_root(phys_addr_t root)
{
	write_cr3(root);
}
