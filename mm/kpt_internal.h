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
