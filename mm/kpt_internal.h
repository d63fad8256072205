/* kpt_internal.h: what mm/kpt.c lends to mm/kpt_map.c and mm/kpt_unmap.c.
 * Everything here expects kpt.lock held, unless it says otherwise. */
#ifndef MM_KPT_INTERNAL_H
#define MM_KPT_INTERNAL_H

#include "arch/x86/arch.h"
#include "kernel/panic.h"
#include "kernel/trace.h"
#include "mm/frame.h"
#include "mm/kpt.h"

#define KPT_ASSERT_LOCKED() BUG_ON(!spin_is_held_by_me(&kpt.lock))

/* The walkers' steps, inline: every walk takes four, and under QEMU's
 * TCG a call and its return cost more than the check (kpt_descend(),
 * kpt_root_table() and frame_of() were 16% of a 4 KiB vmalloc/vfree
 * pair's samples out of line, tools/profiler.py, linux table's
 * vmalloc_4k row). */

/* Panic with everything known: a walk is about to read a frame that is
 * free, reused, or never was a table (kpt.c). */
void kpt_bad_table(const struct frame *f, enum pt_level level, virt_addr_t va,
		   pte_t e);

/* Is @f a page table of @level that is linked into the tree? */
static inline void kpt_check_table(const struct frame *f, enum pt_level level,
				   virt_addr_t va, pte_t e)
{
	if (f->use != frame_use_of_level(level) || !(f->flags & FRAME_F_LINKED))
		kpt_bad_table(f, level, va, e);
}

/* The root table, checked like every other table a walk enters.
 * => kpt.lock held.  Reads only. */
static inline pte_t *kpt_root_table(void)
{
	KPT_ASSERT_LOCKED();
	kpt_check_table(frame_of(kpt.root), PT_LEVEL_PGD, 0, kpt.root);
	return phys_to_virt(kpt.root);
}

/* The table that present table entry @e points to, one level down at
 * @table_level; panics unless that frame is a linked page table of that
 * level.  @va is only for the panic message.  => kpt.lock held. */
static inline pte_t *kpt_descend(pte_t e, enum pt_level table_level,
				 virt_addr_t va)
{
	kpt_check_table(frame_of(pte_table_addr(e)), table_level, va, e);
	return phys_to_virt(pte_table_addr(e));
}

/* Write @value into @entry, keeping its table's count of present entries. */
void kpt_entry_write(pte_t *entry, pte_t value);

/* ---- the count of a table's present entries, and the lockless maps ----
 *
 * A map or unmap of 4 KiB pages inside one PTE table that is already
 * there writes its entries without kpt.lock (kpt_map_within_table(),
 * kpt_unmap_leaves_within_table()): the range is its caller's alone, the
 * window lends it to one area, so nobody else writes those entries.
 * What can happen to the table meanwhile is a purge's reclaim, under
 * kpt.lock, unlinking it because it is empty.  The table's count of
 * present entries (frame.entries, an atomic) settles that race:
 *
 *   a lockless map   adds its pages to the count (kpt_table_pin) before it
 *                    writes them, which fails once the count is DEAD;
 *   a lockless unmap clears its entries first, then takes them off;
 *   an unlink        turns the count from 0 into DEAD in one
 *                    compare-and-swap (kpt_table_kill_if_empty) before it
 *                    writes the entry above, or stores DEAD when it takes
 *                    a table whatever it holds (kpt_subtree_gather).
 *
 * So a table is pinned or dead, never both; the count is never below the
 * entries present; and a map that lost the race takes kpt.lock and goes
 * the long way, which links a new table.  The table itself cannot be
 * freed while a lockless walk is in it, because that walk keeps
 * interrupts off: an unlinked table is freed only after a shootdown that
 * every CPU acknowledges from its IPI handler (Linux's lockless walks of
 * the page tables, GUP-fast, hold off frees the same way).  The DEAD
 * count, KPT_TABLE_DEAD, is in mm/kpt.h. */

/* The count went to @n: more than a table has is a kernel bug (or a
 * write into a dead table).  => any context. */
static inline void kpt_count_check(const struct frame *table, unsigned int n)
{
	if (n > PT_ENTRIES)
		panic("kpt: table %#llx counts %u present entries (%u means "
		      "unlinked); expected at most %u",
		      (unsigned long long)frame_pa(table), n, KPT_TABLE_DEAD,
		      PT_ENTRIES);
}

/* Add @n entries to @table's count unless the table is dead, or they
 * would not fit (some of the range is present already: the long way
 * reports it).  => any context.  Returns whether it did. */
static inline bool kpt_table_pin(struct frame *table, unsigned int n)
{
	uint16_t old = __atomic_load_n(&table->entries, __ATOMIC_RELAXED);

	do {
		if (old == KPT_TABLE_DEAD || old + n > PT_ENTRIES)
			return false;
	} while (!__atomic_compare_exchange_n(&table->entries, &old,
					      (uint16_t)(old + n), false,
					      __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
	return true;
}

/* Take @n entries off @table's count, after they were cleared (or were
 * never written).  => any context. */
static inline void kpt_count_sub(struct frame *table, unsigned int n)
{
	kpt_count_check(table, __atomic_sub_fetch(&table->entries, (uint16_t)n,
						  __ATOMIC_RELEASE));
}

/* Make @table's count DEAD if it is 0: whether it was (so the caller
 * may unlink the table).  => kpt.lock held. */
static inline bool kpt_table_kill_if_empty(struct frame *table)
{
	uint16_t zero = 0;

	return __atomic_compare_exchange_n(&table->entries, &zero,
					   (uint16_t)KPT_TABLE_DEAD, false,
					   __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/* Does [va, end) lie in one 2 MiB span, so that one PTE table maps it
 * all?  The short ways take only such ranges. */
static inline bool kpt_in_one_pte_table(virt_addr_t va, virt_addr_t end)
{
	return ALIGN_DOWN(va, 2 * MiB) == ALIGN_DOWN(end - 1, 2 * MiB);
}

/* The PTE table that maps @va, found without kpt.lock; NULL if a level
 * above has no table there (or a huge leaf).  A table on the way may be
 * unlinked meanwhile, so only its use is checked, not its LINKED flag:
 * it stays a table, not freed, while the caller keeps IRQs off.
 * => IRQs off.  Reads only. */
static inline pte_t *kpt_pte_table_unlocked(virt_addr_t va)
{
	pte_t *table = phys_to_virt(kpt.root);

	for (enum pt_level level = PT_LEVEL_PGD; level > PT_LEVEL_PTE; level--) {
		pte_t e = READ_ONCE(table[pt_index(va, level)]);
		const struct frame *f;

		if (!pte_is_table(e, level))
			return NULL;
		f = frame_of(pte_table_addr(e));
		if (f->use != frame_use_of_level(level - 1))
			kpt_bad_table(f, level - 1, va, e);
		table = phys_to_virt(pte_table_addr(e));
	}
	return table;
}

/* Zero @table, then link it at @entry (not present, or a huge leaf being
 * replaced) as a table of level @table_level. */
void kpt_table_link(pte_t *entry, struct frame *table,
		    enum pt_level table_level);

/* Write @value (0 or a leaf) over @entry, which points to a table of
 * level @table_level, and put that table and every table below it on
 * @g.  Writes nothing into the tables it gathers. */
void kpt_table_unlink(pte_t *entry, pte_t value, enum pt_level table_level,
		      struct pt_gather *g);

/* A leaf at @level mapping @pa. */
pte_t kpt_make_leaf(phys_addr_t pa, enum pt_level level, enum pt_prot prot,
		    enum pt_cache cache);

/* @leaf with its access rights changed to @prot. */
pte_t kpt_leaf_with_prot(pte_t leaf, enum pt_prot prot);

/* The largest leaf level the CPU and @max_page allow. */
enum pt_level kpt_max_leaf_level(enum pt_page_size max_page);

/* Argument checks shared by map, unmap and protect; 0 or -EINVAL with a
 * printk naming @who, the argument and its value.  No lock needed. */
int kpt_check_range(const char *who, virt_addr_t va, uint64_t size);
int kpt_check_prot(const char *who, enum pt_prot prot);

/* Range checks against the tables: -EINVAL if [va, end) starts or ends
 * inside a 2M/1G page; -ENOENT if part of it is not mapped. */
int kpt_check_no_split(const char *who, virt_addr_t va, virt_addr_t end);
int kpt_check_all_mapped(const char *who, virt_addr_t va, virt_addr_t end);

int kpt_walk_locked(virt_addr_t va, struct kpt_walk *w);

const char *pt_level_name(enum pt_level level);

#endif
