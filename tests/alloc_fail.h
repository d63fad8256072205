/* alloc_fail.h: helpers shared by the allocation-failure sweep
 * (tests/alloc_fail.c), the free paths under a failing allocator
 * (tests/alloc_fail_free.c) and the soak (tests/soak.c).
 *
 * All of it runs with the other CPUs idle (or waiting in a selftest
 * run), so that frame_stats and the node pool change only through the
 * calls under test. */
#ifndef TESTS_ALLOC_FAIL_H
#define TESTS_ALLOC_FAIL_H

#include "kernel/printk.h"
#include "mm/layout.h"
#include "mm/vmap_area.h"
#include "tests/vm_common.h"

/* Scratch addresses in the mm selftest window for ioremap_replace_at:
 * GiB 700-719 of it (tests/mm_kpt.c uses 1-9, 510-514 and 600-601,
 * tests/shootdown.c 900-904, tests/shootdown_replace.c 910-913,
 * tests/bench_floor.c 960). */
#define AF_VA(gib)  (MM_SELFTEST_START + (700ULL + (gib)) * GiB)

/* A physical range with no RAM in it, 1 GiB aligned, for ioremap and
 * ioremap_replace_at: above the last frame the allocator knows, so it
 * is never refused as managed RAM.  Nothing reads through these
 * mappings (a device may sit there), except where a test says so. */
phys_addr_t af_hole_pa(void);

/* What a call must leave as it found it: frames per use (the node
 * pool's frames moved from FREE to KERNEL for good are counted back),
 * page tables linked per level, the vmalloc call counters and the
 * pages waiting for a purge. */
struct af_state {
	uint64_t frames[FRAME_USE_COUNT];
	uint64_t linked[PT_LEVEL_PGD + 1];
	struct vm_stats vm;
	uint64_t lazy_pages;
};
struct af_state af_state_now(void);

/* The vm_stats call counters af_state compares, as bits: a call that
 * succeeded and was undone moves its own pair by one each. */
enum af_counter {
	AF_VMALLOCS = 1u << 0, AF_VFREES = 1u << 1, AF_VMAPS = 1u << 2,
	AF_VUNMAPS = 1u << 3, AF_IOREMAPS = 1u << 4, AF_IOUNMAPS = 1u << 5,
	AF_BAD_FREES = 1u << 6,
};

/* Compare @now with @before; the counters in @grown_by_one must have
 * grown by exactly one, everything else must be equal.  Each difference
 * is a failure naming @what, the field and both values.  True when all
 * is as expected. */
bool af_state_expect_equal(struct selftest *t, const char *what,
			   const struct af_state *before, const struct af_state *now,
			   unsigned int grown_by_one);

/* Take nodes from the kernel's vmap node pool until it is empty, so that
 * the next vmalloc/vmap/ioremap must grow it (one frame_alloc).  The
 * nodes are kept on *@held until af_pool_refill().  Grows the pool by
 * one frame itself: that is how it learns where empty is. */
void af_pool_drain(struct vmap_area **held);
void af_pool_refill(struct vmap_area **held);

/* Fill the vmalloc window from its lowest free address up to @target
 * with ioremap areas of the hole (no frames, few page tables), so that
 * the next 4 KiB-aligned area starts exactly at @target.  The spacers'
 * addresses go in @spacers (up to AF_SPACERS_MAX, NULL-terminated);
 * af_spacers_release() unmaps them.  Returns false, with a failure
 * naming the addresses, when the window is not laid out as planned. */
#define AF_SPACERS_MAX 3
bool af_spacers_place(struct selftest *t, virt_addr_t target,
		      void *spacers[AF_SPACERS_MAX]);
void af_spacers_release(void *spacers[AF_SPACERS_MAX]);

/* The lowest address where a one-page area lands now. */
virt_addr_t af_lowest_free(void);

/* Clear the last console message (an empty printk prints nothing), so
 * that printk_last_contains() afterwards sees only what came since. */
static inline void af_printk_last_clear(void)
{
	printk("%s", "");
}

#endif
