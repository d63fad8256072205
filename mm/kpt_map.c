/* kpt_map.c: kpt_map(), in three steps that keep it all-or-nothing.
 *
 *   1. check:    the arguments (kpt_map_check_args), then the range
 *                against the tables with the prepare walkers, which
 *                change nothing: they find what is in the way and count
 *                the tables the map will need, per level;
 *   2. allocate: every one of those tables (kpt_prealloc); if one
 *                allocation fails, free the others and return -ENOMEM;
 *   3. map:      the map walkers, which cannot fail: they take their
 *                tables from the ones allocated in step 2.
 *
 * Both walker families have one function per level, all the same shape
 * (Linux's vmap_pte_range -> _pmd_ -> _pud_): for each entry the range
 * touches, next = pXd_addr_end(addr, end); then either a leaf goes in
 * that entry, or the walker descends to the next level for [addr, next).
 * A leaf goes in when the entry's whole span is in the range, the
 * physical address is aligned to it, and the CPU and the caller allow
 * that page size (kpt_leaf_fits).
 *
 * The common small map (new 4 KiB pages inside one PTE table that is
 * already there, none of them present) does the three steps in one walk
 * and without kpt.lock: kpt_map_within_table() finds the table, pins it,
 * checks every entry, and only then writes; anything else goes the long
 * way, under the lock, which reports it.
 */
#include "arch/x86/arch.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "mm/kpt_internal.h"

struct kpt_map_ctx {
	const struct kpt_mapping *m;
	enum kpt_map_mode mode;
	struct pt_gather *gather;
	uint64_t va_to_pa;                 /* pa = va + va_to_pa (mod 2^64) */
	enum pt_level max_leaf;            /* CPU and caller allow up to this */
	unsigned int need[PT_LEVEL_PGD];   /* step 1: new tables, by level */
	struct frame *spare[PT_LEVEL_PGD]; /* step 2: them, linked by .next */
};

static bool kpt_leaf_fits(const struct kpt_map_ctx *c, enum pt_level level,
			  virt_addr_t addr, virt_addr_t next)
{
	uint64_t size = pt_level_size(level);

	return level <= c->max_leaf && next - addr == size &&
	       IS_ALIGNED(addr + c->va_to_pa, size);
}

/* ---- step 1: check the range, count the tables ---- */

static int kpt_overlap(const struct kpt_map_ctx *c, pte_t e,
		       enum pt_level level, virt_addr_t addr)
{
	printk("kpt_map: va %#llx is already mapped (%s entry %#llx), in "
	       "[va %#llx, +%#llx); KPT_MAP_REPLACE would replace it\n",
	       (unsigned long long)addr, pt_level_name(level),
	       (unsigned long long)e, (unsigned long long)c->m->va,
	       (unsigned long long)c->m->size);
	return -EEXIST;
}

/* Is @table (level @level), or a table below it, pinned? */
static bool kpt_subtree_pinned(const struct frame *table, enum pt_level level)
{
	const pte_t *e = frame_virt(table);

	if (table->flags & FRAME_F_PINNED)
		return true;
	for (unsigned int i = 0; level > PT_LEVEL_PTE && i < PT_ENTRIES; i++)
		if (pte_is_table(READ_ONCE(e[i]), level) &&
		    kpt_subtree_pinned(frame_of(pte_table_addr(e[i])), level - 1))
			return true;
	return false;
}

/* A leaf goes where @e (at @level) is: is that allowed? */
static int kpt_prepare_leaf(const struct kpt_map_ctx *c, pte_t e,
			    enum pt_level level, virt_addr_t addr)
{
	if (pte_present(e) && c->mode == KPT_MAP_NEW)
		return kpt_overlap(c, e, level, addr);
	if (pte_is_table(e, level) &&
	    kpt_subtree_pinned(frame_of(pte_table_addr(e)), level - 1)) {
		printk("kpt_map: va %#llx: a pinned page table is in the way of "
		       "the %s leaf of [va %#llx, +%#llx); pinned tables are "
		       "never unlinked\n", (unsigned long long)addr,
		       pt_level_name(level), (unsigned long long)c->m->va,
		       (unsigned long long)c->m->size);
		return -EBUSY;
	}
	return 0;   /* nothing there, or replaced whole: a table with all below */
}

/* The walk goes below @e for [addr, next): into the table @e points to,
 * or *table = NULL for a new, empty table, which is counted. */
static int kpt_prepare_table(struct kpt_map_ctx *c, pte_t e,
			     enum pt_level table_level, virt_addr_t addr,
			     virt_addr_t next, const pte_t **table)
{
	enum pt_level level = table_level + 1;   /* the level of @e */

	*table = NULL;
	if (pte_is_table(e, level)) {
		*table = kpt_descend(e, table_level, addr);
		return 0;
	}
	if (pte_present(e) && c->mode == KPT_MAP_NEW)
		return kpt_overlap(c, e, level, addr);
	if (pte_present(e) && next - addr != pt_level_size(level)) {
		printk("kpt_map: [va %#llx, +%#llx) would split the %s page at "
		       "va %#llx; splitting a page is not supported\n",
		       (unsigned long long)c->m->va,
		       (unsigned long long)c->m->size,
		       level == PT_LEVEL_PUD ? "1 GiB" : "2 MiB",
		       (unsigned long long)ALIGN_DOWN(addr, pt_level_size(level)));
		return -EINVAL;
	}
	c->need[table_level]++;
	return 0;
}

/* The entry at @i of @table, which may be a table still to be made. */
static pte_t kpt_peek(const pte_t *table, unsigned int i)
{
	return table ? READ_ONCE(table[i]) : 0;
}

/* The prepare walkers.  A table pointer is NULL for a table this call
 * will create: its entries read as empty.
 * => kpt.lock held.
 * => read only: no entry changes, nothing is allocated; TLB untouched. */
static int kpt_prepare_pte_range(struct kpt_map_ctx *c, const pte_t *pte,
				 virt_addr_t addr, virt_addr_t end)
{
	int err = 0;

	if (!pte)
		return 0;   /* a new table: nothing in the way, nothing below */
	do {
		err = kpt_prepare_leaf(c, kpt_peek(pte, pte_index(addr)),
				       PT_LEVEL_PTE, addr);
	} while (!err && (addr += PAGE_SIZE, addr != end));
	return err;
}

static int kpt_prepare_pmd_range(struct kpt_map_ctx *c, const pmd_t *pmd,
				 virt_addr_t addr, virt_addr_t end)
{
	virt_addr_t next;
	const pte_t *pte;
	int err;

	do {
		pmd_t e = kpt_peek(pmd, pmd_index(addr));

		next = pmd_addr_end(addr, end);
		if (kpt_leaf_fits(c, PT_LEVEL_PMD, addr, next)) {
			err = kpt_prepare_leaf(c, e, PT_LEVEL_PMD, addr);
		} else {
			err = kpt_prepare_table(c, e, PT_LEVEL_PTE, addr, next, &pte);
			if (!err)
				err = kpt_prepare_pte_range(c, pte, addr, next);
		}
	} while (!err && (addr = next, addr != end));
	return err;
}

static int kpt_prepare_pud_range(struct kpt_map_ctx *c, const pud_t *pud,
				 virt_addr_t addr, virt_addr_t end)
{
	virt_addr_t next;
	const pmd_t *pmd;
	int err;

	do {
		pud_t e = kpt_peek(pud, pud_index(addr));

		next = pud_addr_end(addr, end);
		if (kpt_leaf_fits(c, PT_LEVEL_PUD, addr, next)) {
			err = kpt_prepare_leaf(c, e, PT_LEVEL_PUD, addr);
		} else {
			err = kpt_prepare_table(c, e, PT_LEVEL_PMD, addr, next, &pmd);
			if (!err)
				err = kpt_prepare_pmd_range(c, pmd, addr, next);
		}
	} while (!err && (addr = next, addr != end));
	return err;
}

static int kpt_prepare_pgd_range(struct kpt_map_ctx *c, const pgd_t *pgd,
				 virt_addr_t addr, virt_addr_t end)
{
	virt_addr_t next;
	const pud_t *pud;
	int err;

	do {
		next = pgd_addr_end(addr, end);
		err = kpt_prepare_table(c, kpt_peek(pgd, pgd_index(addr)),
					PT_LEVEL_PUD, addr, next, &pud);
		if (!err)
			err = kpt_prepare_pud_range(c, pud, addr, next);
	} while (!err && (addr = next, addr != end));
	return err;
}

/* ---- step 2: allocate the tables ---- */

static void kpt_spares_free(struct kpt_map_ctx *c)
{
	for (enum pt_level l = PT_LEVEL_PTE; l < PT_LEVEL_PGD; l++) {
		struct frame *f;

		while ((f = frame_list_pop(&c->spare[l])))
			frame_free(f, frame_use_of_level(l));
	}
}

/* => kpt.lock held; takes buddy.lock.
 * => on -ENOMEM, everything it allocated is freed again. */
static int kpt_prealloc(struct kpt_map_ctx *c)
{
	for (enum pt_level l = PT_LEVEL_PTE; l < PT_LEVEL_PGD; l++) {
		for (unsigned int i = 0; i < c->need[l]; i++) {
			struct frame *f = frame_alloc(0, frame_use_of_level(l));

			if (!f) {
				printk("kpt_map: no free frame for a %s table "
				       "(va %#llx, size %#llx); nothing mapped\n",
				       pt_level_name(l),
				       (unsigned long long)c->m->va,
				       (unsigned long long)c->m->size);
				kpt_spares_free(c);
				return -ENOMEM;
			}
			frame_list_push(&c->spare[l], f);
		}
	}
	return 0;
}

static struct frame *kpt_spare_take(struct kpt_map_ctx *c, enum pt_level l)
{
	struct frame *f = frame_list_pop(&c->spare[l]);

	if (!f)
		panic("kpt_map: step 1 counted %u %s tables, step 3 needs more "
		      "(va %#llx, size %#llx)", c->need[l], pt_level_name(l),
		      (unsigned long long)c->m->va, (unsigned long long)c->m->size);
	return f;
}

/* ---- step 3: map (cannot fail) ---- */

/* The physical address the leaf for @addr maps. */
static phys_addr_t kpt_leaf_pa(const struct kpt_map_ctx *c, virt_addr_t addr)
{
	struct frame *f;

	if (!c->m->next_frame)
		return addr + c->va_to_pa;
	f = c->m->next_frame(c->m->cursor);
	if (!f)
		panic("kpt_map: the frame source ran dry at va %#llx of "
		      "[%#llx, +%#llx); expected one frame per 4 KiB page",
		      (unsigned long long)addr, (unsigned long long)c->m->va,
		      (unsigned long long)c->m->size);
	return frame_pa(f);
}

/* Put a leaf for @addr in @entry (KPT_MAP_BREAK: clear it), replacing
 * whatever was there; a table there goes on the gather with all below.
 * => kpt.lock held.
 * => TLB: a new leaf needs no flush; a replaced one stays usable on all
 *    CPUs until the gather is flushed. */
static void kpt_set_leaf(struct kpt_map_ctx *c, pte_t *entry,
			 enum pt_level level, virt_addr_t addr)
{
	pte_t leaf = c->mode == KPT_MAP_BREAK ? 0 :
		     kpt_make_leaf(kpt_leaf_pa(c, addr), level, c->m->prot,
				   c->m->cache);

	if (pte_is_table(READ_ONCE(*entry), level))
		kpt_table_unlink(entry, leaf, level - 1, c->gather);
	else
		kpt_entry_write(entry, leaf);
}

/* The table below @entry, linking a new one if there is none (or, with
 * KPT_MAP_REPLACE, a huge leaf is there).
 * => kpt.lock held; a spare table of @table_level is in @c.
 * => TLB: as kpt_set_leaf(). */
static pte_t *kpt_table_for_map(struct kpt_map_ctx *c, pte_t *entry,
				enum pt_level table_level, virt_addr_t addr)
{
	pte_t e = READ_ONCE(*entry);
	struct frame *table;

	if (pte_is_table(e, table_level + 1))
		return kpt_descend(e, table_level, addr);
	table = kpt_spare_take(c, table_level);
	kpt_table_link(entry, table, table_level);
	return frame_virt(table);
}

/* The map walkers.
 * => kpt.lock held; every table they need is in c->spare (step 2).
 * => cannot fail.  TLB: as kpt_set_leaf(). */
static void kpt_map_pte_range(struct kpt_map_ctx *c, pte_t *pte,
			      virt_addr_t addr, virt_addr_t end)
{
	do {
		kpt_set_leaf(c, &pte[pte_index(addr)], PT_LEVEL_PTE, addr);
	} while (addr += PAGE_SIZE, addr != end);
}

static void kpt_map_pmd_range(struct kpt_map_ctx *c, pmd_t *pmd,
			      virt_addr_t addr, virt_addr_t end)
{
	virt_addr_t next;

	do {
		pmd_t *entry = &pmd[pmd_index(addr)];

		next = pmd_addr_end(addr, end);
		if (kpt_leaf_fits(c, PT_LEVEL_PMD, addr, next))
			kpt_set_leaf(c, entry, PT_LEVEL_PMD, addr);
		else
			kpt_map_pte_range(c, kpt_table_for_map(c, entry, PT_LEVEL_PTE, addr),
					  addr, next);
	} while (addr = next, addr != end);
}

static void kpt_map_pud_range(struct kpt_map_ctx *c, pud_t *pud,
			      virt_addr_t addr, virt_addr_t end)
{
	virt_addr_t next;

	do {
		pud_t *entry = &pud[pud_index(addr)];

		next = pud_addr_end(addr, end);
		if (kpt_leaf_fits(c, PT_LEVEL_PUD, addr, next))
			kpt_set_leaf(c, entry, PT_LEVEL_PUD, addr);
		else
			kpt_map_pmd_range(c, kpt_table_for_map(c, entry, PT_LEVEL_PMD, addr),
					  addr, next);
	} while (addr = next, addr != end);
}

static void kpt_map_pgd_range(struct kpt_map_ctx *c, pgd_t *pgd,
			      virt_addr_t addr, virt_addr_t end)
{
	virt_addr_t next;

	do {
		pgd_t *entry = &pgd[pgd_index(addr)];

		next = pgd_addr_end(addr, end);
		kpt_map_pud_range(c, kpt_table_for_map(c, entry, PT_LEVEL_PUD, addr),
				  addr, next);
	} while (addr = next, addr != end);
}

/* ---- the short way, without kpt.lock ---- */

/* Pin @f for @pages new entries (mm/kpt_internal.h): whether the short
 * way may write into it.  KPT_FAULT_NO_PIN, a negative control, writes
 * without a pin.
 * => IRQs off (the short way's walk found @f); no lock. */
static bool kpt_short_way_pin(struct frame *f, unsigned int pages,
			      virt_addr_t va, enum kpt_selftest_fault fault)
{
	if (fault == KPT_FAULT_NO_PIN)
		return true;
	if (!kpt_table_pin(f, pages))
		return false;                            /* dead: unlinked */
	kpt_check_table(f, PT_LEVEL_PTE, va, 0);   /* pinned, so linked */
	return true;
}

/* Is no entry of [va, end) in @table present? */
static bool kpt_range_clear(const pte_t *table, virt_addr_t va,
			    virt_addr_t end)
{
	for (virt_addr_t a = va; a != end; a += PAGE_SIZE)
		if (pte_present(READ_ONCE(table[pte_index(a)])))
			return false;
	return true;
}

/* Map [va, end) in one walk when nothing needs checking but the entries
 * themselves: KPT_MAP_NEW, 4 KiB leaves only, inside one 2 MiB span whose
 * PTE table exists, every entry of the range not present.  Returns false,
 * having changed nothing, when the range is not that case, or a purge
 * made the table dead meanwhile (the long way then checks, allocates and
 * maps, or reports what is in the way).  The pages are added to the
 * table's count before they are written, which a dead table refuses:
 * why that and IRQs off make the lock unneeded is in kpt_internal.h.
 * With four CPUs mapping at once, kpt.lock had been where a fifth of
 * the all-CPU row's samples spun (tools/profiler.py --callers
 * spin_lock, linux table's all_4k row).
 * => no lock; IRQs off inside.  TLB: none needed (not-present -> present
 *    only). */
static bool kpt_map_within_table(struct kpt_map_ctx *c, virt_addr_t va,
				 virt_addr_t end)
{
	unsigned int pages = (unsigned int)((end - va) / PAGE_SIZE);
	enum kpt_selftest_fault fault = READ_ONCE(kpt_selftest_fault);
	bool irqs = arch_irqs_enabled(), mapped = false;
	struct frame *f;
	pte_t *table;

	if (c->mode != KPT_MAP_NEW || c->max_leaf != PT_LEVEL_PTE ||
	    !kpt_in_one_pte_table(va, end))
		return false;
	if (fault != KPT_FAULT_IRQS_ON)   /* a negative control leaves them on */
		arch_irq_disable();
	table = kpt_pte_table_unlocked(va);
	f = table ? frame_of(virt_to_phys(table)) : NULL;
	if (f && kpt_selftest_window)
		kpt_selftest_window(va);
	if (f && kpt_short_way_pin(f, pages, va, fault)) {
		mapped = kpt_range_clear(table, va, end);
		for (virt_addr_t a = va; mapped && a != end; a += PAGE_SIZE)
			WRITE_ONCE(table[pte_index(a)],
				   kpt_make_leaf(kpt_leaf_pa(c, a), PT_LEVEL_PTE,
						 c->m->prot, c->m->cache));
		if (!mapped && fault != KPT_FAULT_NO_PIN)
			kpt_count_sub(f, pages);   /* the long way reports it */
	}
	if (irqs && fault != KPT_FAULT_IRQS_ON)
		arch_irq_enable();
	return mapped;
}

/* ---- the call ---- */

static int kpt_map_bad_arg(const char *what, const struct kpt_mapping *m)
{
	printk("kpt_map: %s (va %#llx, pa %#llx, size %#llx, prot %d, cache %d, "
	       "max_page %d)\n", what, (unsigned long long)m->va,
	       (unsigned long long)m->pa, (unsigned long long)m->size,
	       (int)m->prot, (int)m->cache, (int)m->max_page);
	return -EINVAL;
}

static int kpt_map_check_args(const struct kpt_mapping *m,
			      enum kpt_map_mode mode, struct pt_gather *gather)
{
	uint64_t phys_limit = 1ULL << cpu_features.phys_addr_bits;
	int err = kpt_check_range("kpt_map", m->va, m->size);

	if (!err)
		err = kpt_check_prot("kpt_map", m->prot);
	if (err)
		return err;
	if (!IS_ALIGNED(m->pa, PAGE_SIZE))
		return kpt_map_bad_arg("pa is not 4 KiB aligned", m);
	if (m->pa >= phys_limit || m->size > phys_limit - m->pa)
		return kpt_map_bad_arg("pa + size is beyond the CPU's physical "
				       "address width", m);
	if (m->cache < PT_CACHE_WB || m->cache > PT_CACHE_UC)
		return kpt_map_bad_arg("cache is not an enum pt_cache value", m);
	if (m->max_page < PT_PAGE_4K || m->max_page > PT_PAGE_1G)
		return kpt_map_bad_arg("max_page is not an enum pt_page_size "
				       "value", m);
	if (mode != KPT_MAP_NEW && mode != KPT_MAP_REPLACE && mode != KPT_MAP_BREAK)
		return kpt_map_bad_arg("mode is not an enum kpt_map_mode value", m);
	if (mode != KPT_MAP_NEW && !gather)
		return kpt_map_bad_arg(mode == KPT_MAP_REPLACE ?
				       "KPT_MAP_REPLACE needs a gather" :
				       "KPT_MAP_BREAK needs a gather", m);
	return 0;
}

int kpt_map(const struct kpt_mapping *m, enum kpt_map_mode mode,
	    struct pt_gather *gather)
{
	struct kpt_map_ctx c = {
		.m = m, .mode = mode, .gather = gather,
		.va_to_pa = m->pa - m->va,
		.max_leaf = m->next_frame ? PT_LEVEL_PTE :
			    kpt_max_leaf_level(m->max_page),
	};
	virt_addr_t end = m->va + m->size;
	irqflags_t irq;
	int err = kpt_map_check_args(m, mode, gather);

	if (err)
		return err;
	if (!kpt_map_within_table(&c, m->va, end)) {
		irq = spin_lock_irqsave(&kpt.lock);
		err = kpt_prepare_pgd_range(&c, kpt_root_table(), m->va, end);
		if (!err)
			err = kpt_prealloc(&c);
		if (!err)
			kpt_map_pgd_range(&c, kpt_root_table(), m->va, end);
		BUG_ON(!err && (c.spare[PT_LEVEL_PTE] || c.spare[PT_LEVEL_PMD] ||
				c.spare[PT_LEVEL_PUD]));   /* step 1 counted too many */
		spin_unlock_irqrestore(&kpt.lock, irq);
	}
	if (err)
		return err;
	if (mode != KPT_MAP_NEW)
		pt_gather_note_stale(gather, m->va, end);
	__atomic_add_fetch(&kpt.stats.maps, 1, __ATOMIC_RELAXED);
	trace3(TRACE_MAP, m->va, m->pa, m->size);
	return 0;
}
