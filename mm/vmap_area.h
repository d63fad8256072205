/* vmap_area.h: virtual address ranges for vmalloc, vmap and ioremap.
 *
 * Those three map pages at kernel virtual addresses that they borrow
 * from one window, VMALLOC_START..VMALLOC_END (mm/layout.h).  This file
 * lends and takes back the addresses; it never touches a page table.
 * (Linux: struct vmap_area and its two trees in mm/vmalloc.c.)  The
 * whole design, with pictures: docs/vmalloc-area.md.
 *
 * Every area is followed by one unmapped 4 KiB guard page, so a write
 * that runs off the end faults instead of landing in the next area.
 * The guard belongs to the area while it lives: two areas are never
 * adjacent.
 *
 * The life of an area, and the API in call order:
 *
 *   vmap_space_init(s, start, end, node)          one free range
 *   vmap_area_alloc(s, size, align, kind,         FREE -> BUSY
 *                   &reserve, &area)
 *       ... the caller maps pages in [area->start, area->end) ...
 *   vmap_area_begin_free(s, addr, kind, &area)    BUSY -> UNMAPPING
 *       ... the caller unmaps them; page tables go on its gather ...
 *   vmap_area_lazy_free(s, area)                  UNMAPPING -> LAZY
 *       ... later, when enough is LAZY (Linux: lazy_max_pages) ...
 *   vmap_purge_begin(s, &batch, &spares)          takes every LAZY area
 *       ... one TLB shootdown for the batch; every CPU acks ...
 *   vmap_purge_finish(s, &batch, &spares)         LAZY -> FREE, merged
 *
 * Why LAZY: an unmapped range may still be in another CPU's TLB until
 * a shootdown reaches it.  Lent out again before that, the new owner's
 * pages could be read and written through the old owner's stale
 * entries.  So a freed range stays reserved until a flush, and one
 * flush then returns many ranges: one IPI instead of one per vfree.
 * Why two purge steps: an area made LAZY while a shootdown is in
 * flight may have been unmapped after the flush already passed some
 * CPU, so vmap_purge_finish() returns only the areas that the matching
 * vmap_purge_begin() took before the flush began.
 *
 * Memory: nothing here allocates (seed thread 004: a path that frees
 * page tables must not allocate).  Nodes are the caller's.  Before
 * taking anything, the caller fills a struct vmap_node_reserve with two
 * nodes; an allocation uses none, one or both, and the rest stay the
 * caller's.  Freeing and purging need no new node: a returned range
 * becomes a free-range node, or merges with its neighbours, and the
 * nodes that merging leaves over go on the caller's struct vmap_spares.
 * Nodes are interchangeable: the area you get may be a node you lent
 * earlier.
 */
#ifndef MM_VMAP_AREA_H
#define MM_VMAP_AREA_H

#include "kernel/spinlock.h"
#include "kernel/types.h"
#include "mm/avl.h"

/* The allocator works in 4 KiB pages, the smallest x86 page: sizes,
 * alignments and the bounds of the space are multiples of this. */
#define VMAP_PAGE_SIZE  ((uint64_t)4096)
#define VMAP_GUARD_SIZE VMAP_PAGE_SIZE    /* one unmapped page per area */

/* Near misses (ranges long enough, but not once aligned) a search may
 * pass before it stops looking for the lowest fit: a bound on the work
 * of one search.  Why and why 8: the search's comment in vmap_area.c. */
#define VMAP_NEAR_MISSES_MAX 8

/* Ranges vmap_purge_finish() returns per hold of the space's lock (a
 * run of touching areas, or one area): each is one free_return(), a
 * search and maybe a merge in the free tree.  Whole, a purge of 1,000
 * scattered areas would be the wait of any CPU allocating meanwhile;
 * 32 at a time were at most 44 us of one (`make bench`, -smp 4, the
 * linux table's purge_burst row) when each area also left the busy tree
 * there; now a range costs one tree search and merge, no erase. */
#define VMAP_PURGE_CHUNK 32

/* Who owns an area: iounmap() of a vmalloc address is a bug to report. */
enum vmap_kind {
	VMAP_KIND_VMALLOC,   /* vmalloc(): fresh frames */
	VMAP_KIND_VMAP,      /* vmap(): frames the caller already has */
	VMAP_KIND_IOREMAP,   /* ioremap(): device memory, maybe 2M/1G pages */
	VMAP_KIND_COUNT
};

enum vmap_state {
	VMAP_AREA_FREE,       /* a free range, in the free tree */
	VMAP_AREA_BUSY,       /* lent out; mapped or being mapped */
	VMAP_AREA_UNMAPPING,  /* its owner is unmapping it; a second free of
				 it is reported */
	VMAP_AREA_LAZY,       /* unmapped; the range is not reusable until
				 the TLB shootdown of a purge */
	VMAP_AREA_SPARE,      /* in no tree: a node handed back to the caller */
};

/* One node: a free range, or an area with its guard page. */
struct vmap_area {
	struct avl_node node;      /* FREE: in free_tree; BUSY: in
				      busy_tree; both by .start.  UNMAPPING
				      and LAZY: in no tree */
	virt_addr_t start;         /* FREE: [start, end) is free.  Others: */
	virt_addr_t end;           /*   [start, end) is the area, and the
				      guard page follows at end */
	uint64_t subtree_max;      /* FREE: the longest free range in this
				      node's subtree (Linux subtree_max_size) */
	struct vmap_area *link;    /* LAZY: lazy list or purge batch;
				      SPARE: the caller's spares list */
	enum vmap_state state;
	enum vmap_kind kind;       /* not FREE or SPARE */
	void *owner;               /* the caller's (vmalloc: its frame list);
				      NULL when the area is lent */
	uint64_t lazy_cost;        /* what it adds to lazy_bytes once LAZY:
				      the caller's, 0 (when lent) meaning
				      its range and guard */
};

/* Nodes the caller supplies to vmap_area_alloc(), both non-NULL.  A slot
 * that the allocation used comes back NULL; refill it before the next. */
struct vmap_node_reserve {
	struct vmap_area *area;    /* the new area, unless the free range
				      fits exactly and its node is reused */
	struct vmap_area *split;   /* the free range after the new area, when
				      free space is left on both sides */
};

/* Nodes that freeing handed back, linked by .link; free them or keep
 * them for reserves once the space's lock is dropped. */
struct vmap_spares {
	struct vmap_area *head;
	struct vmap_area *tail;    /* the first pushed: splicing is O(1) */
	uint64_t count;
};

/* LAZY areas taken by vmap_purge_begin(), linked by .link. */
struct vmap_purge_batch {
	struct vmap_area *head;
	uint64_t nr_areas;
	uint64_t nr_runs;          /* touching areas joined: one node each */
	virt_addr_t flush_start;   /* [flush_start, flush_end): covers every */
	virt_addr_t flush_end;     /* area; empty when nr_areas == 0 */
};

/* Debug mode: check every invariant (O(n)) after every change.  Off in
 * the kernel by default; the host tests turn it on. */
enum vmap_debug { VMAP_DEBUG_OFF, VMAP_DEBUG_CHECK_EVERY_OP };

/* The allocator's state for one window of address space.  Lock order:
 * a leaf lock.  Nothing is taken while holding it but printk's console
 * lock; never take it in an interrupt handler. */
struct vmap_space {
	struct spinlock lock;
	/* lock must be held when using everything below, but for the
	 * atomics that vmap_area_lazy_free() updates without it: lazy_head
	 * (a push-only list, taken whole), nr_unmapping, nr_lazy and
	 * lazy_bytes. */
	virt_addr_t start, end;        /* the window: [start, end) */
	struct avl_tree free_tree;     /* FREE ranges, coalesced */
	struct avl_tree busy_tree;     /* BUSY areas */
	struct vmap_area *lazy_head;   /* LAZY areas not yet in a batch */
	uint64_t nr_free;              /* free ranges */
	uint64_t nr_busy;              /* areas in each state */
	uint64_t nr_unmapping;
	uint64_t nr_lazy;              /* LAZY nodes listed or in a batch (a
					  batch's run of touching areas is
					  one node once joined) */
	uint64_t reserved_bytes;       /* areas + guards, any state but FREE */
	uint64_t freeing_bytes;        /* of those, UNMAPPING and LAZY: the
					  gaps between the trees */
	uint64_t lazy_bytes;           /* areas + guards on lazy_head: the
				          purge trigger reads this */
	uint64_t last_search_visits;   /* tree nodes the last search read */
	uint64_t near_miss_fallbacks;  /* searches that gave up on lowest-fit
					  (see vmap_area.c) */
	enum vmap_debug debug;
};

/* [start, end) page-aligned, at least two pages; @first becomes the one
 * free range.  -EINVAL if the bounds are not. */
int vmap_space_init(struct vmap_space *s, virt_addr_t start, virt_addr_t end,
		    struct vmap_area *first);

/* Lend the lowest range where @size bytes, aligned to @align, and a
 * guard page fit.  @size: a non-zero multiple of 4 KiB; @align: a power
 * of two, at least 4 KiB (2 MiB and 1 GiB for huge ioremap).
 * => takes s->lock; @reserve filled (both slots) before the call.
 * => 0 and *@out; -EINVAL (a bad argument, printed); -ENOMEM (no room;
 *    nothing changed, @reserve untouched). */
int vmap_area_alloc(struct vmap_space *s, uint64_t size, uint64_t align,
		    enum vmap_kind kind, struct vmap_node_reserve *reserve,
		    struct vmap_area **out);

/* Claim the area starting at @addr for freeing: it must be BUSY and of
 * @kind.  Otherwise prints what @addr is ("the middle of ioremap area
 * [a, b)", "already freed", ...) and returns -EINVAL.
 * => takes s->lock.  Then the caller unmaps, then vmap_area_lazy_free()
 *    (which takes no lock: vmap_area.c says why). */
int vmap_area_begin_free(struct vmap_space *s, virt_addr_t addr,
			 enum vmap_kind kind, struct vmap_area **out);

/* The claimed @area is unmapped: keep its range reserved until a purge.
 * => takes s->lock.  TLB: stale for @area until the purge's shootdown. */
void vmap_area_lazy_free(struct vmap_space *s, struct vmap_area *area);

/* Return a BUSY or UNMAPPING @area that no TLB can hold: never mapped
 * (a vmalloc that failed before mapping anything), or unmapped and
 * already shot down (vunmap, vfree_now).  So no purge.
 * => takes s->lock; leftover nodes go on @spares. */
void vmap_area_free_unmapped(struct vmap_space *s, struct vmap_area *area,
			     struct vmap_spares *spares);

/* Take every LAZY area into @batch and compute the range to flush;
 * join the areas that touch into runs, each to go back as one range
 * (their leftover nodes go on @spares).
 * => takes s->lock.  Then: shootdown, wait for every ack, finish. */
void vmap_purge_begin(struct vmap_space *s, struct vmap_purge_batch *batch,
		      struct vmap_spares *spares);

/* After every CPU flushed @batch's range: its areas become free space.
 * => takes s->lock; frees nothing; leftover nodes go on @spares. */
void vmap_purge_finish(struct vmap_space *s, struct vmap_purge_batch *batch,
		       struct vmap_spares *spares);

/* The area (any state but FREE) starting exactly at @addr, or whose
 * range or guard page holds @addr; NULL if none.
 * => s->lock held, and kept while the result is used. */
struct vmap_area *vmap_area_find(struct vmap_space *s, virt_addr_t addr);
struct vmap_area *vmap_area_find_containing(struct vmap_space *s,
					    virt_addr_t addr);

/* One line saying what @addr is, for error messages.  => takes s->lock. */
void vmap_area_describe(struct vmap_space *s, virt_addr_t addr, char *buf,
			size_t size);

/* Check every invariant: tree shapes, order, augmented values, coalesced
 * free ranges, areas and free ranges tiling the window, counters.
 * NULL if all hold; else prints the values and returns what broke.
 * O(n).  => takes s->lock. */
const char *vmap_space_check(struct vmap_space *s);

const char *vmap_kind_name(enum vmap_kind kind);
const char *vmap_state_name(enum vmap_state state);

/* Where an area's guard page ends: the end of its reserved range. */
static inline virt_addr_t vmap_area_reserved_end(const struct vmap_area *va)
{
	return va->end + VMAP_GUARD_SIZE;
}

/* What a LAZY area counts toward s->lazy_bytes, the purge trigger. */
static inline uint64_t vmap_area_lazy_cost(const struct vmap_area *va)
{
	return va->lazy_cost ? va->lazy_cost : vmap_area_reserved_end(va) - va->start;
}

static inline struct vmap_area *vmap_spares_pop(struct vmap_spares *sp)
{
	struct vmap_area *va = sp->head;

	if (va) {
		sp->head = va->link;
		sp->count--;
		if (!sp->head)
			sp->tail = NULL;
	}
	return va;
}

/* ---- the kernel's node pool (mm/vmap_node_pool.c) ----
 * Where nodes come from in the kernel (the host tests bring their own).
 * => no lock of the area allocator held: the pool may allocate a frame. */

/* The node for vmap_space_init(); NULL when no frame is free. */
struct vmap_area *vmap_node_pool_first(void);

/* Fill both slots of @r from the pool.  -ENOMEM when no frame is free
 * (the slots taken so far stay in @r, for the next call). */
int vmap_node_reserve_fill(struct vmap_node_reserve *r);

/* Put back the nodes in @r's slots; @r ends empty. */
void vmap_node_reserve_return(struct vmap_node_reserve *r);

/* Put back every node freeing handed back; @sp ends empty. */
void vmap_spares_return(struct vmap_spares *sp);

/* Frames carved into nodes so far (kept for good: tests count them). */
uint64_t vmap_node_pool_frames(void);

#endif
