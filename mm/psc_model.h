/* psc_model.h: a software model of the CPUs' paging-structure caches.
 *
 * Real x86 CPUs cache upper-level entries ("this PMD entry points to PTE
 * table T") in paging-structure caches (SDM Vol. 3A, 4.10.3), and may fill
 * them speculatively for addresses nobody touched.  That is where seed
 * 000's hazard lives: a PTE table freed while some CPU's cache still
 * points to it.  QEMU's TCG has no such caches, so the hazard cannot be
 * observed directly; this model makes it checkable:
 *
 *   psc_model_fill(va)      "this CPU's walker cached the table entries on
 *                           the way to va" (a test stands in for
 *                           speculation; nothing else fills the model)
 *   any INVLPG or full      drops every entry of THIS CPU's model: INVLPG
 *   flush on a CPU          invalidates all paging-structure-cache entries
 *                           of the current PCID, whatever their address
 *                           (SDM Vol. 3A, 4.10.4.1)
 *   psc_model_check_free(f) called by the shootdown for each page table it
 *                           frees: a CPU whose model still holds @f is a
 *                           violation: a panic, or, while a selftest has
 *                           switched a shootdown step off on purpose,
 *                           counted and described
 *
 * So on the correct path the check never fires (every CPU flushed before
 * the free), and with a negative-control switch it does.
 */
#ifndef MM_PSC_MODEL_H
#define MM_PSC_MODEL_H

#include "arch/x86/arch.h"
#include "kernel/types.h"
#include "mm/frame.h"

/* Tables a CPU's model remembers: the PUD, PMD and PTE tables of a few
 * recent walks; an older entry is dropped to make room (a real cache
 * evicts too, which can only make it miss, never be wrong). */
#define PSC_MODEL_ENTRIES 16

struct psc_model_cpu {
	uint32_t table_pfn[PSC_MODEL_ENTRIES];   /* 0: empty */
	unsigned int next;                       /* round-robin victim */
	bool filled;                             /* anything to drop? */
};
extern struct psc_model_cpu psc_model_cpus[MAX_CPUS];

/* Violations seen so far, and the last one described (tests, gdb). */
extern uint64_t psc_model_violations;
extern char psc_model_last_violation[160];

/* Record the tables a walk of @va passes through on this CPU.
 * => any context but NMI; takes kpt.lock. */
void psc_model_fill(virt_addr_t va);

/* This CPU invalidated its paging-structure caches (arch/x86/tlb.c).
 * => any context; touches only this CPU's model. */
void psc_model_invalidate_this_cpu(void);

/* @table is about to be freed: does any CPU's model still point to it? */
void psc_model_check_free(const struct frame *table);

/* How many tables this CPU's model holds now. */
unsigned int psc_model_entries(unsigned int cpu);

#endif
