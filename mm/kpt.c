/* kpt.c: the kernel page tables' state, the checked descent every walker
 * uses, linking and unlinking tables, leaf entries, argument checks, and
 * kpt_walk().  The range walkers are in kpt_map.c and kpt_unmap.c.
 */
#include "arch/x86/arch.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/string.h"
#include "mm/kpt_internal.h"

enum kpt_selftest_fault kpt_selftest_fault;
void (*kpt_selftest_window)(virt_addr_t va);

struct kpt kpt = {
	.lock = SPINLOCK_INIT("kpt.lock"),
};

const char *pt_level_name(enum pt_level level)
{
	static const char *const names[] = { "?", "pte", "pmd", "pud", "pgd" };

	return (unsigned int)level <= PT_LEVEL_PGD ? names[level] : "?";
}

void kpt_bad_table(const struct frame *f, enum pt_level level, virt_addr_t va,
		   pte_t e)
{
	panic("kpt: walking to va %#llx, entry %#llx leads to frame %#llx, "
	      "which is recorded as %s%s, not a linked %s table",
	      (unsigned long long)va, (unsigned long long)e,
	      (unsigned long long)frame_pa(f), frame_use_name(f->use),
	      f->flags & FRAME_F_GATHERED ? " (gathered)" : "",
	      pt_level_name(level));
}

/* The table holding @entry. */
static struct frame *kpt_table_of_entry(const pte_t *entry)
{
	return frame_of(ALIGN_DOWN(virt_to_phys(entry), FRAME_SIZE));
}

/* => kpt.lock held.  The count is an atomic because a lockless map or
 *    unmap may change it at the same time (kpt_internal.h): it grows
 *    before an entry turns present and shrinks after one is cleared.
 * => TLB: adding a present entry needs no flush; changing or clearing
 *    one leaves the old value usable until the caller's gather flush. */
void kpt_entry_write(pte_t *entry, pte_t value)
{
	struct frame *table = kpt_table_of_entry(entry);
	bool was = pte_present(*entry), is = pte_present(value);

	KPT_ASSERT_LOCKED();
	if (!was && is)
		kpt_count_check(table, __atomic_add_fetch(&table->entries, 1,
							  __ATOMIC_RELAXED));
	/* One aligned 8-byte store: a hardware walker sees the old entry or
	 * the new one, never half of each. */
	WRITE_ONCE(*entry, value);
	if (was && !is)
		kpt_count_sub(table, 1);
}

/* => kpt.lock held; @table freshly allocated for @table_level.
 * => TLB: none needed; nothing was mapped through @entry, or (a huge
 *    leaf replaced) the caller's gather notes the range. */
void kpt_table_link(pte_t *entry, struct frame *table,
		    enum pt_level table_level)
{
	KPT_ASSERT_LOCKED();
	memset(frame_virt(table), 0, FRAME_SIZE);
	table->entries = 0;
	table->flags |= FRAME_F_LINKED;
	kpt.stats.tables_linked[table_level]++;
	/* The hardware walker on another CPU may read the new table as soon
	 * as the entry below is written, so the zeroes must be there first.
	 * x86 makes stores visible in program order (SDM Vol. 3A, "Memory
	 * Ordering in P6 and More Recent Processor Families");
	 * the barrier stops the compiler from moving the memset after. */
	barrier();
	kpt_entry_write(entry, frame_pa(table) | PTE_TABLE_BITS);
}

/* Put @table (level @level) and every table below it on @g.  It is
 * already unreachable from the root; other CPUs may still walk it from
 * their paging-structure caches, so we only read it.  A table whose
 * count is DEAD already was killed because it counted 0 entries
 * (kpt_table_kill_if_empty), and the count is never below the entries
 * present: it has no table below, and its 512 entries are not read.
 * The purge after 1,000 vfrees unlinks a PMD and a PUD table that way;
 * its reclaim step went from 11.4 to 7.2 us (medians of eight full
 * `make bench` boots each, SMP=1 CPU=max, TSC around the step). */
static void kpt_subtree_gather(struct frame *table, enum pt_level level,
			       struct pt_gather *g)
{
	const pte_t *e = frame_virt(table);
	bool may_hold_tables = level > PT_LEVEL_PTE &&
			  __atomic_load_n(&table->entries, __ATOMIC_RELAXED) !=
			  KPT_TABLE_DEAD;

	kpt_check_table(table, level, 0, frame_pa(table));
	for (unsigned int i = 0; may_hold_tables && i < PT_ENTRIES; i++) {
		pte_t v = READ_ONCE(e[i]);

		if (pte_is_table(v, level))
			kpt_subtree_gather(frame_of(pte_table_addr(v)), level - 1, g);
	}
	/* Dead, whatever it held: no lockless map may pin it from now on
	 * (the empty ones were made dead already, kpt_table_kill_if_empty). */
	__atomic_store_n(&table->entries, (uint16_t)KPT_TABLE_DEAD,
			 __ATOMIC_RELEASE);
	table->flags &= (uint8_t)~FRAME_F_LINKED;
	kpt.stats.tables_linked[level]--;
	pt_gather_add(g, table);
}

/* => kpt.lock held.
 * => frees nothing; the tables go on @g.
 * => TLB: stale on all CPUs until @g is flushed. */
void kpt_table_unlink(pte_t *entry, pte_t value, enum pt_level table_level,
		      struct pt_gather *g)
{
	struct frame *table = frame_of(pte_table_addr(*entry));

	KPT_ASSERT_LOCKED();
	kpt_entry_write(entry, value);
	trace2(TRACE_GATHER, frame_pa(table), table_level);
	kpt_subtree_gather(table, table_level, g);
}

/* ---- leaves ---- */

static pte_t kpt_prot_bits(enum pt_prot prot)
{
	pte_t nx = cpu_features.nx ? PTE_NX : 0;  /* else a reserved bit */

	switch (prot) {
	case PT_PROT_RO: return nx;
	case PT_PROT_RW: return PTE_RW | nx;
	case PT_PROT_RX: return 0;
	}
	panic("kpt: prot %d", (int)prot);   /* callers checked it */
}

static pte_t kpt_cache_bits(enum pt_cache cache)
{
	switch (cache) {
	case PT_CACHE_WB: return PTE_CACHE_WB;
	case PT_CACHE_WC: return cpu_features.pat ? PTE_CACHE_WC : PTE_CACHE_UC;
	case PT_CACHE_UC: return PTE_CACHE_UC;
	}
	panic("kpt: cache %d", (int)cache);   /* callers checked it */
}

pte_t kpt_make_leaf(phys_addr_t pa, enum pt_level level, enum pt_prot prot,
		    enum pt_cache cache)
{
	pte_t e = pa | PTE_P | PTE_A | PTE_D | kpt_prot_bits(prot) |
		  kpt_cache_bits(cache);

	if (level > PT_LEVEL_PTE)
		e |= PTE_PS;
	return e;
}

pte_t kpt_leaf_with_prot(pte_t leaf, enum pt_prot prot)
{
	return (leaf & ~(PTE_RW | PTE_NX)) | kpt_prot_bits(prot);
}

enum pt_level kpt_max_leaf_level(enum pt_page_size max_page)
{
	enum pt_level cpu_max = cpu_features.gbpages ? PT_LEVEL_PUD : PT_LEVEL_PMD;

	return MIN((enum pt_level)max_page, cpu_max);
}

/* ---- argument checks ---- */

int kpt_check_range(const char *who, virt_addr_t va, uint64_t size)
{
	virt_addr_t end = va + size;
	const char *what = NULL;

	if (size == 0)
		what = "size is 0";
	else if (!IS_ALIGNED(size, PAGE_SIZE))
		what = "size is not a multiple of 4 KiB";
	else if (!IS_ALIGNED(va, PAGE_SIZE))
		what = "va is not 4 KiB aligned";
	else if (va < KERNEL_HALF_START)
		what = "va is below the kernel half (0xffff800000000000)";
	else if (end != 0 && end < va)
		what = "va + size wraps past the top of the address space";
	if (!what)
		return 0;
	printk("%s: %s (va %#llx, size %#llx)\n", who, what,
	       (unsigned long long)va, (unsigned long long)size);
	return -EINVAL;
}

int kpt_check_prot(const char *who, enum pt_prot prot)
{
	if (prot >= PT_PROT_RO && prot <= PT_PROT_RX)
		return 0;
	printk("%s: prot %d is not an enum pt_prot value\n", who, (int)prot);
	return -EINVAL;
}

/* ---- walking ---- */

/* => kpt.lock held.  Reads only. */
int kpt_walk_locked(virt_addr_t va, struct kpt_walk *w)
{
	pte_t *table = kpt_root_table();

	for (enum pt_level level = PT_LEVEL_PGD;; level--) {
		pte_t *entry = &table[pt_index(va, level)];
		pte_t e = READ_ONCE(*entry);

		*w = (struct kpt_walk){ .level = level, .entry = entry, .value = e };
		if (!pte_present(e))
			return -ENOENT;
		if (pte_is_leaf(e, level)) {
			w->pa = pte_leaf_addr(e, level) +
				(va & (pt_level_size(level) - 1));
			return 0;
		}
		table = kpt_descend(e, level - 1, va);
	}
}

/* => takes kpt.lock; IRQs off inside.  Reads only. */
int kpt_walk(virt_addr_t va, struct kpt_walk *w)
{
	irqflags_t irq = spin_lock_irqsave(&kpt.lock);
	int err = kpt_walk_locked(va, w);

	spin_unlock_irqrestore(&kpt.lock, irq);
	return err;
}

bool kpt_fault_is_spurious(virt_addr_t va, enum kpt_access access)
{
	struct kpt_walk w;
	irqflags_t irq;
	bool allowed;

	if (va < KERNEL_HALF_START || spin_is_held_by_me(&kpt.lock))
		return false;
	irq = spin_lock_irqsave(&kpt.lock);
	allowed = kpt_walk_locked(va, &w) == 0 &&
		  !(access == KPT_ACCESS_WRITE && !(w.value & PTE_RW)) &&
		  !(access == KPT_ACCESS_EXEC && (w.value & PTE_NX));
	if (allowed)
		kpt.stats.spurious_faults++;
	spin_unlock_irqrestore(&kpt.lock, irq);
	return allowed;
}

/* Is @edge, a boundary of the range, inside a larger page that the
 * page holding @inside maps?  The walk's level goes to *@level. */
static int kpt_check_edge(const char *who, const char *name,
			  virt_addr_t edge, virt_addr_t inside,
			  enum pt_level *level)
{
	struct kpt_walk w;
	int found = kpt_walk_locked(inside, &w);

	*level = w.level;
	if (found != 0 || w.level == PT_LEVEL_PTE ||
	    IS_ALIGNED(edge, pt_level_size(w.level)))
		return 0;
	printk("%s: %s %#llx falls inside the %s page at %#llx; splitting a "
	       "page is not supported\n", who, name, (unsigned long long)edge,
	       w.level == PT_LEVEL_PUD ? "1 GiB" : "2 MiB",
	       (unsigned long long)ALIGN_DOWN(inside, pt_level_size(w.level)));
	return -EINVAL;
}

/* => kpt.lock held.  Only the two ends can cut a page: every page
 * between them lies wholly inside the range.  When the first end's walk
 * reached a PTE table and the last page shares its 2 MiB, the last page
 * is in that table too: a 4 KiB page or none, nothing to cut (the
 * common small vmalloc and ioremap, one walk instead of two). */
int kpt_check_no_split(const char *who, virt_addr_t va, virt_addr_t end)
{
	enum pt_level level;
	int err = kpt_check_edge(who, "va", va, va, &level);

	if (!err && level == PT_LEVEL_PTE &&
	    ALIGN_DOWN(va, 2 * MiB) == ALIGN_DOWN(end - PAGE_SIZE, 2 * MiB))
		return 0;
	if (!err)
		err = kpt_check_edge(who, "va + size", end, end - PAGE_SIZE, &level);
	return err;
}

/* => kpt.lock held; the range does not split a page (checked before). */
int kpt_check_all_mapped(const char *who, virt_addr_t va, virt_addr_t end)
{
	virt_addr_t addr = va;
	struct kpt_walk w;

	do {
		if (kpt_walk_locked(addr, &w) != 0) {
			printk("%s: va %#llx, inside the range [%#llx, %#llx), "
			       "is not mapped\n", who, (unsigned long long)addr,
			       (unsigned long long)va, (unsigned long long)end);
			return -ENOENT;
		}
		addr = ALIGN_DOWN(addr, pt_level_size(w.level)) +
		       pt_level_size(w.level);
	} while (addr != end);
	return 0;
}

/* ---- boot ---- */

void kpt_init(void)
{
	struct frame *root = frame_alloc(0, FRAME_PT_PGD);

	if (!root)
		panic("kpt_init: no frame for the pgd");
	kpt.lock = (struct spinlock)SPINLOCK_INIT("kpt.lock");
	memset(&kpt.stats, 0, sizeof(kpt.stats));
	memset(frame_virt(root), 0, FRAME_SIZE);
	root->entries = 0;
	root->flags |= FRAME_F_LINKED;    /* linked by CR3, for good */
	kpt.stats.tables_linked[PT_LEVEL_PGD] = 1;
	kpt.root = frame_pa(root);
}
