/* vmalloc.h: virtually contiguous kernel memory, and device memory.
 *
 * Three ways to borrow a range of the vmalloc window (mm/layout.h) and
 * map it, one way back (docs/unmap-path.md walks through it):
 *
 *   vmalloc(size), vzalloc(size)   fresh frames, one 4 KiB page each
 *   vmap(pages, count, prot)       frames the caller already owns
 *   ioremap(pa, size), ioremap_wc  device memory (mm/ioremap.c); 2 MiB
 *                                  and 1 GiB pages where they fit
 *
 *   vfree, iounmap: LAZY.  The entries are cleared and the emptied page
 *     tables (and vfree's data frames) gathered at once, but the TLB
 *     shootdown waits: the range stays reserved, its pages wait on a
 *     pending gather, until more than vm_lazy_max_pages() pages are
 *     waiting, the window runs short, or vm_purge_lazy_now() is called.
 *     Then ONE shootdown covers every waiting area (Linux: lazy_max_pages
 *     and purge_vmap_area_lazy).  Nothing freed is reused before it.
 *   vunmap: EAGER.  The caller owns the pages and may reuse them as soon
 *     as vunmap returns, so their last translations must be gone by
 *     then: one shootdown per vunmap.
 *
 * Bad input never corrupts anything: vfree(NULL) and iounmap(NULL) do
 * nothing; freeing an address that is not the start of a live area of
 * the right kind prints what the address is and frees nothing; a bad
 * size or physical range returns NULL with a message naming it.
 *
 * Context for every function here: thread context (not a cross-CPU call
 * handler, not NMI), no spinlocks held; IRQs on or off.  A function that
 * may shoot down waits for the other CPUs' acknowledgments.
 */
#ifndef MM_VMALLOC_H
#define MM_VMALLOC_H

#include "kernel/types.h"
#include "mm/frame.h"
#include "mm/kpt.h"

/* Set up the vmalloc window.  => boot CPU, once, after mm_init(). */
void vmalloc_init(void);

void *vmalloc(size_t size);                    /* contents undefined */
void *vzalloc(size_t size);                    /* zeroed */
void vfree(const void *addr);                  /* lazy */

/* vfree, but with its own shootdown now instead of the purge's: on
 * return no CPU holds a translation for the area, and its pages and
 * emptied tables are free.  One IPI per call: for callers that must
 * know the memory is gone everywhere (the benchmarks compare it). */
void vfree_now(const void *addr);

/* Map @count frames, in order, with rights @prot; the frames stay the
 * caller's (not freed by vunmap). */
void *vmap(struct frame *const *pages, size_t count, enum pt_prot prot);
void vunmap(const void *addr);                 /* eager */

void *ioremap(phys_addr_t pa, size_t size);    /* uncached */
void *ioremap_wc(phys_addr_t pa, size_t size); /* write-combining */
void *ioremap_cache(phys_addr_t pa, size_t size);  /* write-back: also
						  what the direct map maps */
void iounmap(const void *addr);                /* lazy */

/* Map device memory at @va, a range the caller owns outside the
 * kernel's own ranges (direct map, vmalloc window, CPU area, kernel
 * image: refused with -EINVAL), with the largest pages that fit,
 * REPLACING whatever is mapped there, break before make: the old
 * entries are cleared, the page tables that a 2 MiB or 1 GiB page makes
 * unreachable unlinked and gathered, one shootdown, the tables freed,
 * and only then the new entries written (Linux's pmd_free_pte_page/
 * pud_free_pmd_page done in seed 000's order, and without allocating in
 * the free path, seed 004).  0, or the error of kpt_map() (-EBUSY for a
 * pinned table in the way) with nothing changed. */
int ioremap_replace_at(virt_addr_t va, phys_addr_t pa, uint64_t size,
		       enum pt_cache cache);

/* Negative control, selftests only: replace with one store per entry
 * (KPT_MAP_REPLACE), the new entry visible before the shootdown. */
extern bool ioremap_selftest_replace_in_one_store;

/* Purge now: one shootdown for every lazily freed area, then their
 * ranges, page tables and data pages are free.  For callers that need
 * the old translations gone everywhere before they go on. */
void vm_purge_lazy_now(void);

/* Pages (areas and guards) that may wait before a purge: Linux's rule,
 * 32 MiB per log2 of the CPU count, because the cost of one shootdown
 * grows with the CPUs it interrupts.  What it buys here (`make bench`,
 * -smp 4 -cpu max, QEMU 7.2 TCG, docs/bench.md): 1,000 vfrees of 4 KiB
 * cost 0.001 IPIs each and 8.9 us, against 1 IPI and 92 us with a
 * shootdown per vfree.  vm_lazy_max_pages_override, when
 * non-zero, replaces it (tests set it small). */
uint64_t vm_lazy_max_pages(void);
extern uint64_t vm_lazy_max_pages_override;

/* Counters for tests, the boot summary and gdb ("p vm_stats"). */
struct vm_stats {
	uint64_t vmallocs, vfrees, vmaps, vunmaps, ioremaps, iounmaps;
	uint64_t bad_frees;            /* frees refused with a warning */
	uint64_t purges;               /* lazy purges that shot down */
	uint64_t areas_purged;
	uint64_t lazy_pages_max;       /* the most pages ever waiting */
	uint64_t purge_waits;          /* shortages that waited for another
					  CPU's purge in flight */
};
extern struct vm_stats vm_stats;

/* Pages waiting for a purge now (areas plus guard pages). */
uint64_t vm_lazy_pages(void);

/* One paragraph: areas, lazy pages, counters (the boot summary). */
void vm_print_summary(void);

#endif
