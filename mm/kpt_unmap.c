/* kpt_unmap.c: kpt_unmap() and kpt_protect().
 *
 * Both check first (arguments, then that the range splits no 2M/1G page,
 * and for protect that all of it is mapped) and then walk the range with
 * per-level walkers that cannot fail.
 *
 * Unmap clears leaves, and on the way back up unlinks every table whose
 * last present entry it cleared.  kpt_unmap_leaves() clears leaves only
 * and leaves emptied tables linked, for the lazily freed ranges of the
 * vmalloc window: the next area there reuses them, and the purge
 * unlinks those still empty with kpt_reclaim_empty_tables().  An
 * unlinked table goes on the caller's gather, never back to the
 * allocator: another CPU may still hold the entry that pointed to it in
 * its paging-structure caches until the gather's flush (seed 000; the
 * HelenOS pt_mapping_remove and Linux pud_free_pmd_page bugs).
 */
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "mm/kpt_internal.h"

/* ---- unmap ---- */

/* @entry points to a table of level @table_level.  If the walk below
 * just emptied it, unlink it and gather it.
 * => kpt.lock held.
 * => frees nothing.  TLB: stale on all CPUs until @g is flushed. */
static void kpt_unlink_if_empty(pte_t *entry, enum pt_level table_level,
				struct pt_gather *g)
{
	struct frame *table = frame_of(pte_table_addr(*entry));

	if (!(table->flags & FRAME_F_PINNED) && kpt_table_kill_if_empty(table))
		kpt_table_unlink(entry, 0, table_level, g);
}

/* The unmap walkers.  @g is where emptied tables go, unlinked; NULL
 * leaves them linked (kpt_unmap_leaves).
 * => kpt.lock held; the range splits no 2M/1G page (checked).
 * => frees nothing.  TLB: stale on all CPUs until the gather is flushed. */
static void kpt_unmap_pte_range(pte_t *pte, virt_addr_t addr, virt_addr_t end)
{
	do {
		kpt_entry_write(&pte[pte_index(addr)], 0);
	} while (addr += PAGE_SIZE, addr != end);
}

static void kpt_unmap_pmd_range(pmd_t *pmd, virt_addr_t addr, virt_addr_t end,
				struct pt_gather *g)
{
	virt_addr_t next;

	do {
		pmd_t *entry = &pmd[pmd_index(addr)];
		pmd_t e = READ_ONCE(*entry);

		next = pmd_addr_end(addr, end);
		if (pte_is_table(e, PT_LEVEL_PMD)) {
			kpt_unmap_pte_range(kpt_descend(e, PT_LEVEL_PTE, addr),
					    addr, next);
			if (g)
				kpt_unlink_if_empty(entry, PT_LEVEL_PTE, g);
		} else if (pte_present(e)) {
			kpt_entry_write(entry, 0);   /* a 2 MiB page, all inside */
		}
	} while (addr = next, addr != end);
}

static void kpt_unmap_pud_range(pud_t *pud, virt_addr_t addr, virt_addr_t end,
				struct pt_gather *g)
{
	virt_addr_t next;

	do {
		pud_t *entry = &pud[pud_index(addr)];
		pud_t e = READ_ONCE(*entry);

		next = pud_addr_end(addr, end);
		if (pte_is_table(e, PT_LEVEL_PUD)) {
			kpt_unmap_pmd_range(kpt_descend(e, PT_LEVEL_PMD, addr),
					    addr, next, g);
			if (g)
				kpt_unlink_if_empty(entry, PT_LEVEL_PMD, g);
		} else if (pte_present(e)) {
			kpt_entry_write(entry, 0);   /* a 1 GiB page, all inside */
		}
	} while (addr = next, addr != end);
}

static void kpt_unmap_pgd_range(pgd_t *pgd, virt_addr_t addr, virt_addr_t end,
				struct pt_gather *g)
{
	virt_addr_t next;

	do {
		pgd_t *entry = &pgd[pgd_index(addr)];
		pgd_t e = READ_ONCE(*entry);

		next = pgd_addr_end(addr, end);
		if (pte_is_table(e, PT_LEVEL_PGD)) {
			kpt_unmap_pud_range(kpt_descend(e, PT_LEVEL_PUD, addr),
					    addr, next, g);
			if (g)
				kpt_unlink_if_empty(entry, PT_LEVEL_PUD, g);
		}
	} while (addr = next, addr != end);
}

/* Check @who's arguments; 0 or -EINVAL with a message. */
static int kpt_unmap_check_args(const char *who, virt_addr_t va,
				uint64_t size, const struct pt_gather *gather)
{
	int err = kpt_check_range(who, va, size);

	if (!err && !gather) {
		printk("%s: gather is NULL (va %#llx, size %#llx)\n", who,
		       (unsigned long long)va, (unsigned long long)size);
		err = -EINVAL;
	}
	return err;
}

/* kpt_unmap_leaves() of a range inside one PTE table, without kpt.lock
 * (why that is safe: kpt_internal.h).  Each present entry is cleared,
 * then taken off the table's count; while one of ours is present the
 * count is not 0, so the table is linked, not dead.  Returns false,
 * having changed nothing, when no PTE table maps the range (a huge leaf,
 * or nothing): the long way checks and reports.
 * => no lock; IRQs off inside.  TLB: stale on all CPUs until the caller's
 *    gather is flushed. */
static bool kpt_unmap_leaves_within_table(virt_addr_t va, virt_addr_t end)
{
	bool irqs = arch_irqs_enabled();
	struct frame *f = NULL;
	pte_t *table;

	if (!kpt_in_one_pte_table(va, end))
		return false;
	arch_irq_disable();
	table = kpt_pte_table_unlocked(va);
	for (virt_addr_t a = va; table && a != end; a += PAGE_SIZE) {
		pte_t *entry = &table[pte_index(a)];

		if (!pte_present(READ_ONCE(*entry)))
			continue;
		if (!f) {   /* one of ours is present: linked, or a bug */
			f = frame_of(virt_to_phys(table));
			kpt_check_table(f, PT_LEVEL_PTE, a, READ_ONCE(*entry));
		}
		WRITE_ONCE(*entry, 0);
		kpt_count_sub(f, 1);
	}
	if (irqs)
		arch_irq_enable();
	return table != NULL;
}

/* kpt_unmap() and kpt_unmap_leaves(): emptied tables go on @unlink_to,
 * or stay linked when it is NULL. */
static int kpt_unmap_range(const char *who, virt_addr_t va, uint64_t size,
			   struct pt_gather *gather, struct pt_gather *unlink_to)
{
	virt_addr_t end = va + size;
	irqflags_t irq;
	int err = kpt_unmap_check_args(who, va, size, gather);

	if (err)
		return err;
	if (unlink_to || !kpt_unmap_leaves_within_table(va, end)) {
		irq = spin_lock_irqsave(&kpt.lock);
		err = kpt_check_no_split(who, va, end);
		if (!err)
			kpt_unmap_pgd_range(kpt_root_table(), va, end, unlink_to);
		spin_unlock_irqrestore(&kpt.lock, irq);
	}
	if (!err) {
		pt_gather_note_stale(gather, va, end);
		__atomic_add_fetch(&kpt.stats.unmaps, 1, __ATOMIC_RELAXED);
	}
	if (!err)   /* recorded after the unlock: not time other CPUs wait */
		trace2(TRACE_UNMAP, va, size);
	return err;
}

int kpt_unmap(virt_addr_t va, uint64_t size, struct pt_gather *gather)
{
	return kpt_unmap_range("kpt_unmap", va, size, gather, gather);
}

int kpt_unmap_leaves(virt_addr_t va, uint64_t size, struct pt_gather *gather)
{
	return kpt_unmap_range("kpt_unmap_leaves", va, size, gather, NULL);
}

/* ---- reclaiming empty tables ---- */

/* The reclaim walkers: unlink, bottom up, every table below @table
 * (level @table_level + 1's entries) in [addr, end) that has no present
 * entry, onto @g.  Returns how many they unlinked.
 * => kpt.lock held.  Frees nothing; TLB: stale until @g is flushed. */
static uint64_t kpt_reclaim_range(pte_t *table, enum pt_level level,
				  virt_addr_t addr, virt_addr_t end,
				  struct pt_gather *g)
{
	uint64_t unlinked = 0;
	virt_addr_t next;

	do {
		pte_t *entry = &table[pt_index(addr, level)];
		pte_t e = READ_ONCE(*entry);
		struct frame *below;

		next = pt_addr_end(addr, end, level);
		if (!pte_is_table(e, level))
			continue;
		if (level - 1 > PT_LEVEL_PTE)
			unlinked += kpt_reclaim_range(kpt_descend(e, level - 1, addr),
						      level - 1, addr, next, g);
		below = frame_of(pte_table_addr(e));
		if (!(below->flags & FRAME_F_PINNED) && kpt_table_kill_if_empty(below)) {
			kpt_table_unlink(entry, 0, level - 1, g);
			unlinked++;
		}
	} while (addr = next, addr != end);
	return unlinked;
}

int kpt_reclaim_empty_tables(virt_addr_t va, uint64_t size,
			     struct pt_gather *gather)
{
	virt_addr_t end = va + size;
	irqflags_t irq;
	int err = kpt_unmap_check_args("kpt_reclaim_empty_tables", va, size,
				       gather);

	if (err)
		return err;
	irq = spin_lock_irqsave(&kpt.lock);
	if (kpt_reclaim_range(kpt_root_table(), PT_LEVEL_PGD, va, end, gather))
		pt_gather_note_stale(gather, va, end);
	spin_unlock_irqrestore(&kpt.lock, irq);
	return 0;
}

/* ---- protect ---- */

/* The protect walkers.
 * => kpt.lock held; the whole range is mapped and splits no page
 *    (checked).
 * => TLB: the old rights stay usable on all CPUs until the caller's
 *    gather is flushed. */
static void kpt_protect_leaf(pte_t *entry, enum pt_prot prot)
{
	kpt_entry_write(entry, kpt_leaf_with_prot(READ_ONCE(*entry), prot));
}

static void kpt_protect_pte_range(pte_t *pte, virt_addr_t addr,
				  virt_addr_t end, enum pt_prot prot)
{
	do {
		kpt_protect_leaf(&pte[pte_index(addr)], prot);
	} while (addr += PAGE_SIZE, addr != end);
}

static void kpt_protect_pmd_range(pmd_t *pmd, virt_addr_t addr,
				  virt_addr_t end, enum pt_prot prot)
{
	virt_addr_t next;

	do {
		pmd_t *entry = &pmd[pmd_index(addr)];
		pmd_t e = READ_ONCE(*entry);

		next = pmd_addr_end(addr, end);
		if (pte_is_table(e, PT_LEVEL_PMD))
			kpt_protect_pte_range(kpt_descend(e, PT_LEVEL_PTE, addr),
					      addr, next, prot);
		else
			kpt_protect_leaf(entry, prot);
	} while (addr = next, addr != end);
}

static void kpt_protect_pud_range(pud_t *pud, virt_addr_t addr,
				  virt_addr_t end, enum pt_prot prot)
{
	virt_addr_t next;

	do {
		pud_t *entry = &pud[pud_index(addr)];
		pud_t e = READ_ONCE(*entry);

		next = pud_addr_end(addr, end);
		if (pte_is_table(e, PT_LEVEL_PUD))
			kpt_protect_pmd_range(kpt_descend(e, PT_LEVEL_PMD, addr),
					      addr, next, prot);
		else
			kpt_protect_leaf(entry, prot);
	} while (addr = next, addr != end);
}

static void kpt_protect_pgd_range(pgd_t *pgd, virt_addr_t addr,
				  virt_addr_t end, enum pt_prot prot)
{
	virt_addr_t next;

	do {
		pgd_t e = READ_ONCE(pgd[pgd_index(addr)]);

		next = pgd_addr_end(addr, end);
		kpt_protect_pud_range(kpt_descend(e, PT_LEVEL_PUD, addr),
				      addr, next, prot);
	} while (addr = next, addr != end);
}

int kpt_protect(virt_addr_t va, uint64_t size, enum pt_prot prot,
		struct pt_gather *gather)
{
	virt_addr_t end = va + size;
	irqflags_t irq;
	int err = kpt_check_range("kpt_protect", va, size);

	if (!err)
		err = kpt_check_prot("kpt_protect", prot);
	if (!err && !gather) {
		printk("kpt_protect: gather is NULL (va %#llx, size %#llx)\n",
		       (unsigned long long)va, (unsigned long long)size);
		err = -EINVAL;
	}
	if (err)
		return err;
	irq = spin_lock_irqsave(&kpt.lock);
	err = kpt_check_no_split("kpt_protect", va, end);
	if (!err)
		err = kpt_check_all_mapped("kpt_protect", va, end);
	if (!err) {
		kpt_protect_pgd_range(kpt_root_table(), va, end, prot);
		pt_gather_note_stale(gather, va, end);
		kpt.stats.protects++;
	}
	spin_unlock_irqrestore(&kpt.lock, irq);
	return err;
}
