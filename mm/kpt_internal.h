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

/* The root table, checked like every other table a walk enters. */
pte_t *kpt_root_table(void);

/* The table that present table entry @e points to, one level down at
 * @table_level; panics unless that frame is a linked page table of that
 * level.  @va is only for the panic message. */
pte_t *kpt_descend(pte_t e, enum pt_level table_level, virt_addr_t va);

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
