/* fixmap.c: the local-invalidation mapping slot (mm/fixmap.h). */
#include "kernel/nmi.h"
#include "kernel/printk.h"
#include "mm/fixmap.h"
#include "mm/kpt_internal.h"
#include "mm/layout.h"
#include "mm/psc_model.h"

bool fixmap_selftest_skip_invalidate_on_map;

static pte_t *slot_entry;        /* the slot's PTE, in the pinned table */
static int32_t slot_owner = -1;  /* CPU holding the slot, or -1 (atomic) */

#define FIXMAP_SLOT FIXMAP_LOCAL_START

/* Build the tables down to the slot's PTE table and pin it.
 * => kpt.lock held; boot, so running out of frames is fatal. */
static pte_t *fixmap_make_pinned_table(virt_addr_t va)
{
	pte_t *table = kpt_root_table();

	for (enum pt_level level = PT_LEVEL_PGD; level > PT_LEVEL_PTE; level--) {
		pte_t *entry = &table[pt_index(va, level)];
		struct frame *f;

		if (!pte_present(READ_ONCE(*entry))) {
			f = frame_alloc(0, frame_use_of_level(level - 1));
			if (!f)
				panic("fixmap_init: no frame for a level %d table",
				      (int)level - 1);
			kpt_table_link(entry, f, level - 1);
		}
		table = kpt_descend(READ_ONCE(*entry), level - 1, va);
	}
	frame_of(virt_to_phys(table))->flags |= FRAME_F_PINNED;
	return &table[pt_index(va, PT_LEVEL_PTE)];
}

/* INVLPG the slot on this CPU only; INVLPG also empties this CPU's
 * paging-structure caches, and so its model (mm/psc_model.h).
 * => any context.  TLB: this CPU holds no entry for the slot. */
static void invalidate_slot_here(void)
{
	tlb_flush_local_page(FIXMAP_SLOT);
	psc_model_invalidate_this_cpu();
}

void fixmap_init(void)
{
	irqflags_t irq = spin_lock_irqsave(&kpt.lock);

	slot_entry = fixmap_make_pinned_table(FIXMAP_SLOT);
	spin_unlock_irqrestore(&kpt.lock, irq);
}

void *fixmap_local_map(phys_addr_t pa)
{
	int32_t free_slot = -1;

	if (!IS_ALIGNED(pa, PAGE_SIZE)) {
		if (in_nmi())   /* printk takes the console lock */
			nmi_record_error("fixmap_local_map: pa not page-aligned", pa);
		else
			printk("fixmap_local_map: pa %#llx is not page-aligned\n",
			       (unsigned long long)pa);
		return NULL;
	}
	if (!__atomic_compare_exchange_n(&slot_owner, &free_slot,
					 (int32_t)this_cpu_id(), false,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return NULL;   /* held by CPU free_slot: an NMI cannot wait */
	/* not-present -> present: the hardware needs no flush for the new
	 * entry itself; the INVLPG is for what THIS CPU may still cache
	 * from someone else's mapping of the slot. */
	WRITE_ONCE(*slot_entry, kpt_make_leaf(pa, PT_LEVEL_PTE, PT_PROT_RW,
					      PT_CACHE_WB));
	if (!READ_ONCE(fixmap_selftest_skip_invalidate_on_map))
		invalidate_slot_here();
	return (void *)FIXMAP_SLOT;
}

void fixmap_local_unmap(void *va)
{
	int32_t owner = __atomic_load_n(&slot_owner, __ATOMIC_RELAXED);

	if ((virt_addr_t)va != FIXMAP_SLOT || owner != (int32_t)this_cpu_id()) {
		if (in_nmi()) {   /* printk takes the console lock */
			nmi_record_error("fixmap_local_unmap: not this CPU's slot",
					 (uint64_t)(uintptr_t)va);
			return;
		}
		printk("fixmap_local_unmap: %p is not the slot this CPU (%u) "
		       "mapped (slot %#llx, held by CPU %d); nothing unmapped\n",
		       va, this_cpu_id(), (unsigned long long)FIXMAP_SLOT, owner);
		return;
	}
	WRITE_ONCE(*slot_entry, 0);
	invalidate_slot_here();   /* this CPU only: see the top */
	__atomic_store_n(&slot_owner, -1, __ATOMIC_RELEASE);
}
