/* kpt.h: the kernel page tables (the upper half of the address space).
 *
 * One set of tables maps the kernel for every CPU; its root is kpt.root
 * (CR3 on every CPU).  The API, in the order a mapping lives:
 *
 *   kpt_map(&mapping, KPT_MAP_NEW, NULL)   4K/2M/1G pages; tables made
 *                                          on demand, zeroed, then linked
 *   kpt_walk(va, &w)                       which level, entry, pa map va
 *   kpt_protect(va, size, prot, &g)        new permissions, same pages
 *   kpt_unmap(va, size, &g)                clear; emptied tables -> @g
 *   shootdown_flush_and_free(&g)           every CPU invalidates and
 *                                          acks, then free (mm/shootdown.h)
 *
 * The rules:
 *   - A new table is zeroed before the entry that links it is written:
 *     another CPU's hardware walker may read it from that moment on.
 *   - Unmap never frees a page table.  A table that becomes empty is
 *     unlinked and put on the caller's gather; only the gather's owner
 *     frees, after the TLB flush (see mm/gather.h for why).
 *   - kpt_unmap() leaves no linked table empty.  kpt_unmap_leaves()
 *     does, on purpose, for a range that will be mapped again soon
 *     (the lazily freed areas of the vmalloc window): the tables stay
 *     for the next area, and kpt_reclaim_empty_tables() unlinks the
 *     ones still empty later, onto a gather like any other.
 *   - Check first, then act: every argument and the whole range is
 *     checked, and every table the call needs is allocated, before the
 *     first entry changes.  An error changes nothing.
 *   - Every walk checks that each table it enters is recorded as a page
 *     table of the right level and still linked (mm/frame.h), so a walk
 *     into a freed or reused table panics instead of reading garbage.
 *   - No mapping is global (G): a full flush is one CR3 reload
 *     (arch/x86/tlb.c).  A and D are preset so the CPU never writes an
 *     entry back.
 *
 * Errors (negative, with a printk naming the argument and its value):
 *   -EINVAL  unaligned va/pa/size, zero size, a range that wraps or leaves
 *            the kernel half, pa beyond MAXPHYADDR, a bad enum, a range
 *            that would split a 2M/1G page (not supported);
 *   -EEXIST  kpt_map(KPT_MAP_NEW) over something already mapped;
 *   -ENOENT  kpt_protect() over a hole;
 *   -EBUSY   KPT_MAP_REPLACE or KPT_MAP_BREAK would unlink a pinned table;
 *   -ENOMEM  no frame for a page table (nothing was changed).
 */
#ifndef MM_KPT_H
#define MM_KPT_H

#include "kernel/spinlock.h"
#include "kernel/types.h"
#include "mm/gather.h"
#include "mm/pte.h"

/* Access rights of a mapping.  Writable and executable together is not
 * offered (W^X). */
enum pt_prot {
	PT_PROT_RO = 1,      /* read-only, no execute */
	PT_PROT_RW,          /* read-write, no execute */
	PT_PROT_RX,          /* read and execute: kernel text */
};

/* Memory type, through the PAT (see pte.h).  Without PAT, WC becomes UC. */
enum pt_cache {
	PT_CACHE_WB = 1,     /* write-back: RAM */
	PT_CACHE_WC,         /* write-combining: frame buffers */
	PT_CACHE_UC,         /* uncached: device registers */
};

/* The largest page the caller allows; the values are the leaf's level. */
enum pt_page_size {
	PT_PAGE_4K = PT_LEVEL_PTE,
	PT_PAGE_2M = PT_LEVEL_PMD,
	PT_PAGE_1G = PT_LEVEL_PUD,
};

/* What kpt_map() does about what is already mapped in the range. */
enum kpt_map_mode {
	KPT_MAP_NEW = 1,     /* nothing may be mapped there: -EEXIST */
	KPT_MAP_REPLACE,     /* replace it: leaves are overwritten, tables in
				the way of a larger page unlinked and put on
				the gather with everything below them */
	KPT_MAP_BREAK,       /* the "break" of break-before-make: clear what
				REPLACE would overwrite (tables onto the
				gather alike) and link, empty, the tables the
				new mapping needs, but write no new leaf.
				After the gather's shootdown, KPT_MAP_NEW of
				the same mapping allocates nothing and cannot
				fail (SDM Vol. 3A, 4.10.2.3) */
};

/* What kpt_map() maps: [va, va + size) to [pa, pa + size), or, when
 * next_frame is set, to scattered frames (vmalloc's and vmap's pages):
 * next_frame(cursor) returns the frame for each 4 KiB page in address
 * order, size / 4 KiB times, and pa and max_page are not used. */
struct kpt_mapping {
	virt_addr_t va;
	phys_addr_t pa;
	uint64_t size;
	enum pt_prot prot;
	enum pt_cache cache;
	enum pt_page_size max_page;
	struct frame *(*next_frame)(void *cursor);
	void *cursor;
};

struct kpt_walk {
	enum pt_level level;  /* of the leaf, or where the walk found nothing */
	pte_t *entry;         /* that entry, in the direct map */
	pte_t value;          /* its value when read */
	phys_addr_t pa;       /* what va translates to (mapped only) */
};

/* Counters, readable by tests and gdb ("p kpt.stats"). */
struct kpt_stats {
	uint64_t tables_linked[PT_LEVEL_PGD + 1];  /* by level; [0] unused */
	uint64_t maps, unmaps, protects;           /* successful calls; maps
						      and unmaps atomic */
	uint64_t spurious_faults;                  /* see kpt_fault_is_spurious */
};

/* The kernel page tables. */
struct kpt {
	struct spinlock lock;   /* guards every entry of every table reachable
				   from root and those tables' LINKED flag,
				   except the 4 KiB leaves that the short
				   ways write without it, with .entries (an
				   atomic) as the guard (mm/kpt_internal.h).
				   Order: kpt.lock, then buddy.lock
				   (mm/frame.c); and stats but for maps
				   and unmaps, which are atomics. */
	phys_addr_t root;       /* the pgd: what CR3 holds */
	struct kpt_stats stats;
};
extern struct kpt kpt;

/* The count of present entries (frame.entries) of a table that was
 * unlinked: a map without kpt.lock cannot pin it (mm/kpt_internal.h).
 * It stays so until the table is freed. */
#define KPT_TABLE_DEAD 0xffffu

/* Negative controls of kpt_map()'s short way, which maps without
 * kpt.lock (mm/kpt_internal.h), for the selftests only
 * (tests/kpt_lockless.c): each turns one of its two guards off so that
 * a test can show the race it closes.  Never set outside tests/;
 * KPT_SAFE is the only correct value. */
enum kpt_selftest_fault {
	KPT_SAFE,
	KPT_FAULT_NO_PIN,    /* writes without pinning its table first */
	KPT_FAULT_IRQS_ON,   /* walks with interrupts on */
};
extern enum kpt_selftest_fault kpt_selftest_fault;
/* Called, when a test sets it, by the short way between finding the PTE
 * table and pinning it: where a test makes a purge happen.  NULL
 * outside those tests. */
extern void (*kpt_selftest_window)(virt_addr_t va);

/* => takes kpt.lock (IRQs off inside), except new 4 KiB pages inside
 *    one PTE table that is there (no lock, IRQs off); not from NMI.
 * => frees nothing.  TLB: none needed for KPT_MAP_NEW (x86 never caches
 *    a not-present entry); for KPT_MAP_REPLACE stale on all CPUs until
 *    @gather is flushed, and replaced tables wait on @gather. */
int kpt_map(const struct kpt_mapping *m, enum kpt_map_mode mode,
	    struct pt_gather *gather);

/* Unmap whatever is mapped in [va, va + size); holes are fine.
 * => takes kpt.lock (IRQs off inside); not from NMI.
 * => frees nothing; emptied PTE/PMD/PUD tables go on @gather, unlinked.
 * => TLB: stale on all CPUs until @gather is flushed. */
int kpt_unmap(virt_addr_t va, uint64_t size, struct pt_gather *gather);

/* kpt_unmap(), but every table stays linked, even one left empty: the
 * next mapping in its span needs no new table.  Whoever calls this
 * calls kpt_reclaim_empty_tables() over the range before lending it
 * for a mapping that needs a larger page there.
 * => as kpt_unmap(), but inside one PTE table without kpt.lock (IRQs off
 *    inside); nothing goes on @gather but the stale range. */
int kpt_unmap_leaves(virt_addr_t va, uint64_t size, struct pt_gather *gather);

/* Unlink every table that has no present entry and lies in, or reaches
 * into, [va, va + size), bottom up (a PMD table that only held empty PTE
 * tables goes too), onto @gather, and note the range stale.  A table
 * that was mapped into again meanwhile is not empty and stays.  Pinned
 * tables stay.
 * => takes kpt.lock (IRQs off inside); not from NMI.
 * => frees nothing.  TLB: a CPU may cache an entry into the unlinked
 *    tables until @gather is flushed. */
int kpt_reclaim_empty_tables(virt_addr_t va, uint64_t size,
			     struct pt_gather *gather);

/* Give every page in [va, va + size) the rights @prot; all of it must be
 * mapped.
 * => takes kpt.lock (IRQs off inside); not from NMI.
 * => TLB: the old rights stay usable on all CPUs until @gather is
 *    flushed. */
int kpt_protect(virt_addr_t va, uint64_t size, enum pt_prot prot,
		struct pt_gather *gather);

/* 0 and *w filled if @va is mapped; -ENOENT with w->level and w->entry
 * naming the not-present entry if not.
 * => takes kpt.lock (IRQs off inside). */
int kpt_walk(virt_addr_t va, struct kpt_walk *w);

/* What a page fault was trying to do. */
enum kpt_access { KPT_ACCESS_READ, KPT_ACCESS_WRITE, KPT_ACCESS_EXEC };

/* Do the page tables in memory allow @access at @va, a kernel address
 * that just faulted?  Then the fault came from a stale cached entry and
 * is spurious; the fault itself invalidated the cached entries for @va
 * (SDM Vol. 3A 4.10.4.1), so returning retries the access with fresh
 * ones.  How one arises here: a purge unlinks an empty PTE table
 * (kpt_reclaim_empty_tables()) while an area in its span, lent but not
 * yet mapped, is mapped on another CPU, which links a new table before
 * the purge's shootdown; a CPU whose paging-structure cache still points
 * at the old (empty, not yet freed) table faults once.  Linux handles
 * the same case in spurious_kernel_fault().  Counted in
 * kpt.stats.spurious_faults.
 * => the #PF handler, IRQs off; takes kpt.lock unless this CPU holds it
 *    (then the fault is a bug in kpt code: not spurious). */
bool kpt_fault_is_spurious(virt_addr_t va, enum kpt_access access);

/* Allocate an empty pgd and make it kpt.root (boot, and host tests). */
void kpt_init(void);

#endif
