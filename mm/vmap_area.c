/* vmap_area.c: lending and taking back vmalloc-space addresses.
 *
 * Two AVL trees of struct vmap_area, both ordered by start address
 * (Linux: free_vmap_area_root and vmap_area_root):
 *
 *   free_tree  the free ranges, coalesced: no two touch.  Each node also
 *              holds subtree_max, the longest range in its subtree, so a
 *              search skips whole subtrees that cannot fit.
 *   busy_tree  the areas lent out (BUSY), for the lookups of vfree and
 *              iounmap and their error messages.
 *
 * An area leaves the busy tree when its free begins (UNMAPPING), as
 * Linux's vfree unlinks its area at once: the purge then has nothing to
 * take out of a tree, only ranges to give back (it erased 1,000 nodes
 * one by one after a burst of 1,000 vfrees, 40% of its time,
 * tools/profiler.py --under vm_purge_lazy_now).  Until the purge, an
 * UNMAPPING or LAZY area is in no tree: a gap between the pieces.
 *
 * So the trees and the gaps tile the window: every address in
 * [start, end) is in exactly one free range, one BUSY area's
 * [start, end + guard), or a gap, and the gaps add up to freeing_bytes.
 * vmap_space_check() (vmap_area_check.c) verifies that and the rest.
 *
 * Lock rule: s->lock guards both trees, the lazy list and the counters.
 * Each public function takes it; every function below that touches the
 * trees asserts it on entry.
 */
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "mm/vmap_area_internal.h"

static void free_augment(struct avl_node *n)
{
	struct vmap_area *va = area_of(n);
	uint64_t max = va->end - va->start;

	if (n->left)
		max = MAX(max, area_of(n->left)->subtree_max);
	if (n->right)
		max = MAX(max, area_of(n->right)->subtree_max);
	va->subtree_max = max;
}

void vmap_assert_locked(const struct vmap_space *s)
{
	BUG_ON(!spin_is_held_by_me(&s->lock));
}

struct vmap_area *vmap_tree_find_le(const struct avl_tree *t, virt_addr_t addr)
{
	struct avl_node *n = t->root;
	struct vmap_area *best = NULL;

	while (n) {
		struct vmap_area *va = area_of(n);

		if (va->start <= addr) {
			best = va;
			n = n->right;
		} else {
			n = n->left;
		}
	}
	return best;
}

static void vmap_tree_insert(struct avl_tree *t, struct vmap_area *va)
{
	struct avl_node **link = &t->root, *parent = NULL;

	while (*link) {
		parent = *link;
		link = va->start < area_of(parent)->start ? &parent->left
							  : &parent->right;
	}
	avl_insert_at(t, &va->node, parent, link);
}

static void spares_push(struct vmap_spares *sp, struct vmap_area *va)
{
	va->state = VMAP_AREA_SPARE;
	va->link = sp->head;
	if (!sp->head)
		sp->tail = va;
	sp->head = va;
	sp->count++;
}

/* ---- The free tree ---------------------------------------------------- */

static void free_insert(struct vmap_space *s, struct vmap_area *va)
{
	va->state = VMAP_AREA_FREE;
	va->link = NULL;
	vmap_tree_insert(&s->free_tree, va);
	s->nr_free++;
}

static void free_erase(struct vmap_space *s, struct vmap_area *va)
{
	avl_erase(&s->free_tree, &va->node);
	s->nr_free--;
}

/* A free range's bounds changed in place, its order did not. */
static void free_resized(struct vmap_space *s, struct vmap_area *va)
{
	avl_fix_path(&s->free_tree, &va->node);
}

/* Give [@va->start, reserved end) back to the free tree, merging with
 * the free ranges that touch it.  Never allocates: @va becomes the free
 * node, or, if it merged, goes on @spares with the node a double merge
 * makes redundant.
 * => s->lock held. */
static void free_return(struct vmap_space *s, struct vmap_area *va,
			struct vmap_spares *spares)
{
	virt_addr_t start = va->start, end = vmap_area_reserved_end(va);
	struct vmap_area *prev, *next;
	struct avl_node *after;
	bool joins_prev, joins_next;

	vmap_assert_locked(s);
	prev = vmap_tree_find_le(&s->free_tree, start);
	after = prev ? avl_next(&prev->node) : avl_first(&s->free_tree);
	next = after ? area_of(after) : NULL;
	joins_prev = prev && prev->end == start;
	joins_next = next && next->start == end;
	if (joins_prev && joins_next) {
		prev->end = next->end;
		free_erase(s, next);
		free_resized(s, prev);
		spares_push(spares, next);
		spares_push(spares, va);
	} else if (joins_prev) {
		prev->end = end;
		free_resized(s, prev);
		spares_push(spares, va);
	} else if (joins_next) {
		next->start = start;
		free_resized(s, next);
		spares_push(spares, va);
	} else {
		va->end = end;
		free_insert(s, va);
	}
}

/* ---- The search: the lowest free range where the area fits ------------
 *
 * A subtree whose subtree_max is shorter than the area and its guard
 * (@need) cannot hold it and is skipped; the others are searched in
 * address order: left subtree, node, right subtree.  With 4 KiB
 * alignment every range at least @need long fits, so the first subtree
 * entered holds the answer: one root-to-leaf descent reading at most
 * two nodes per level, O(log n).
 *
 * Alignment breaks that.  A range may be long enough yet not fit once
 * its start is rounded up: [2M+4K, 4M+8K) is 2M+4K long, which a 2 MiB
 * area with its guard needs, but the only 2 MiB boundary in it is 4M.
 * Each such near miss sends the search back up and into the next
 * subtree that might fit, O(log n) more reads.  The worst case is a
 * window fragmented into n near misses before the fit (ranges of 2M+4K
 * starting 4K past a 2 MiB boundary, say): an exhaustive search reads
 * all n nodes.  So after VMAP_NEAR_MISSES_MAX near misses the search
 * gives up on the lowest address and looks for the lowest range at
 * least need + align - 4K long instead.  Any such range fits at any
 * page-aligned start, so that second search is one descent.  Worst case
 * (MAX + 2) descents: O(log n), for the price that a pathologically
 * fragmented window may place an aligned area above the lowest fit.
 *
 * VMAP_NEAR_MISSES_MAX (vmap_area.h) is 8, measured with the host test
 * (tests/host/test_vmap_area.c, 2025-11; it prints these figures).  In
 * its random run (~30,000 allocations, 15% of them 2 MiB, 1 GiB or
 * oddly aligned, in a heavily fragmented 2 GiB window) 637 allocations
 * (2%) fell back, and the worst search read 71 nodes.  Unbounded, that
 * worst search reads 243 nodes, and the adversarial case 4,097 of
 * 4,097; with 8 it reads 40.  16 and 32 barely lower the fallbacks (592,
 * 486) and raise the worst search (94, 123).
 *
 * The recursion is as deep as the tree: 1.44 log2(n + 2) frames, 46 for
 * 2^32 nodes.
 */

struct vmap_search {
	uint64_t need;             /* the area and its guard page */
	uint64_t align;
	uint64_t min_len;          /* skip ranges shorter than this */
	unsigned int near_misses;
	uint64_t visits;           /* tree nodes read */
	virt_addr_t at;            /* the answer: where the area starts */
};

static bool range_fits(const struct vmap_area *f, struct vmap_search *q)
{
	virt_addr_t at = ALIGN_UP(f->start, q->align);

	if (at < f->start || at > f->end || f->end - at < q->need)
		return false;   /* (at < start: rounding wrapped past 2^64) */
	q->at = at;
	return true;
}

static struct vmap_area *lowest_fit(struct vmap_search *q, struct avl_node *n)
{
	struct vmap_area *f, *found;

	if (!n || q->near_misses == VMAP_NEAR_MISSES_MAX)
		return NULL;
	q->visits++;
	f = area_of(n);
	if (f->subtree_max < q->min_len)
		return NULL;
	found = lowest_fit(q, n->left);
	if (found || q->near_misses == VMAP_NEAR_MISSES_MAX)
		return found;
	if (f->end - f->start >= q->min_len) {
		if (range_fits(f, q))
			return f;
		q->near_misses++;
	}
	return lowest_fit(q, n->right);
}

/* => s->lock held.  Returns the free range and, in *@at, the start. */
static struct vmap_area *free_find_fit(struct vmap_space *s, uint64_t need,
				       uint64_t align, virt_addr_t *at)
{
	struct vmap_search q = { .need = need, .align = align, .min_len = need };
	struct vmap_area *f;

	vmap_assert_locked(s);
	f = lowest_fit(&q, s->free_tree.root);
	if (!f && q.near_misses == VMAP_NEAR_MISSES_MAX &&
	    align - VMAP_PAGE_SIZE <= UINT64_MAX - need) {
		s->near_miss_fallbacks++;
		q.min_len = need + (align - VMAP_PAGE_SIZE);
		q.near_misses = 0;
		f = lowest_fit(&q, s->free_tree.root);
	}
	s->last_search_visits = q.visits;
	*at = q.at;
	return f;
}

/* Cut [@at, @at + @need) out of free range @f and return the node for
 * the area there: @f itself on an exact fit, else reserve->area; a cut
 * in the middle also takes reserve->split for the range after it.
 * => s->lock held; cannot fail. */
static struct vmap_area *free_carve(struct vmap_space *s, struct vmap_area *f,
				    virt_addr_t at, uint64_t need,
				    struct vmap_node_reserve *r)
{
	virt_addr_t end = at + need, f_end = f->end;
	struct vmap_area *area;

	vmap_assert_locked(s);
	if (at == f->start && end == f_end) {
		free_erase(s, f);
		return f;
	}
	if (at == f->start) {
		f->start = end;
	} else {
		f->end = at;
		if (end < f_end) {
			struct vmap_area *rest = r->split;

			r->split = NULL;
			rest->start = end;
			rest->end = f_end;
			free_insert(s, rest);
		}
	}
	free_resized(s, f);
	area = r->area;
	r->area = NULL;
	return area;
}

/* ---- The public functions --------------------------------------------- */

/* In debug mode, after a change: are the invariants still true?  Read
 * only here. */
static void vmap_debug_check(struct vmap_space *s)
{
	const char *broken;

	if (s->debug != VMAP_DEBUG_CHECK_EVERY_OP)
		return;
	broken = vmap_check_locked(s);
	if (broken)
		panic("vmap: space [%#lx, %#lx) broken after an update: %s",
		      s->start, s->end, broken);
}

int vmap_space_init(struct vmap_space *s, virt_addr_t start, virt_addr_t end,
		    struct vmap_area *first)
{
	if (!IS_ALIGNED(start, VMAP_PAGE_SIZE) || !IS_ALIGNED(end, VMAP_PAGE_SIZE) ||
	    start >= end || end - start < 2 * VMAP_PAGE_SIZE) {
		printk("vmap_space_init: [start %#lx, end %#lx) must be "
		       "page-aligned and hold at least two pages\n", start, end);
		return -EINVAL;
	}
	*s = (struct vmap_space){
		.lock = SPINLOCK_INIT("vmap_space.lock"),
		.start = start,
		.end = end,
		.free_tree = { .root = NULL, .augment = free_augment },
		.busy_tree = { .root = NULL, .augment = NULL },
	};
	first->start = start;
	first->end = end;
	spin_lock(&s->lock);
	free_insert(s, first);
	spin_unlock(&s->lock);
	return 0;
}

static int vmap_bad_arg(const char *arg, uint64_t value, const char *rule)
{
	printk("vmap_area_alloc: %s %#lx: %s\n", arg, value, rule);
	return -EINVAL;
}

/* Check first: every argument, before the lock is taken. */
static int vmap_check_alloc_args(uint64_t size, uint64_t align,
				 enum vmap_kind kind,
				 const struct vmap_node_reserve *r)
{
	if (size == 0)
		return vmap_bad_arg("size", size, "must not be zero");
	if (size > UINT64_MAX - VMAP_GUARD_SIZE)
		return vmap_bad_arg("size", size, "wraps when the guard page is added");
	if (!IS_ALIGNED(size, VMAP_PAGE_SIZE))
		return vmap_bad_arg("size", size, "must be a multiple of 4 KiB");
	if (align < VMAP_PAGE_SIZE || (align & (align - 1)))
		return vmap_bad_arg("align", align, "must be a power of two >= 4 KiB");
	if ((unsigned int)kind >= VMAP_KIND_COUNT)
		return vmap_bad_arg("kind", kind, "is not an enum vmap_kind");
	if (!r || !r->area || !r->split)
		return vmap_bad_arg("reserve", (uintptr_t)r,
				    "needs both nodes filled before the call");
	return 0;
}

static int vmap_alloc_locked(struct vmap_space *s, uint64_t size,
			     uint64_t align, enum vmap_kind kind,
			     struct vmap_node_reserve *r, struct vmap_area **out)
{
	uint64_t need = size + VMAP_GUARD_SIZE;
	struct vmap_area *f, *va;
	virt_addr_t at;

	vmap_assert_locked(s);
	f = free_find_fit(s, need, align, &at);
	if (!f)
		return -ENOMEM;
	va = free_carve(s, f, at, need, r);
	va->start = at;
	va->end = at + size;
	va->subtree_max = 0;
	va->link = NULL;
	va->state = VMAP_AREA_BUSY;
	va->kind = kind;
	va->owner = NULL;
	va->lazy_cost = 0;
	vmap_tree_insert(&s->busy_tree, va);
	s->nr_busy++;
	s->reserved_bytes += need;
	*out = va;
	return 0;
}

int vmap_area_alloc(struct vmap_space *s, uint64_t size, uint64_t align,
		    enum vmap_kind kind, struct vmap_node_reserve *reserve,
		    struct vmap_area **out)
{
	int err = vmap_check_alloc_args(size, align, kind, reserve);
	uint64_t free_bytes;

	if (err)
		return err;
	spin_lock(&s->lock);
	err = vmap_alloc_locked(s, size, align, kind, reserve, out);
	free_bytes = s->end - s->start - s->reserved_bytes;
	vmap_debug_check(s);
	spin_unlock(&s->lock);
	if (err)
		printk("vmap_area_alloc: no room for %#lx bytes aligned to "
		       "%#lx (%#lx bytes free in pieces)\n",
		       size, align, free_bytes);
	return err;
}

int vmap_area_begin_free(struct vmap_space *s, virt_addr_t addr,
			 enum vmap_kind kind, struct vmap_area **out)
{
	struct vmap_area *va;
	char what[160];

	spin_lock(&s->lock);
	va = vmap_area_find(s, addr);
	if (va && va->kind == kind) {
		avl_erase(&s->busy_tree, &va->node);   /* see the top */
		va->state = VMAP_AREA_UNMAPPING;
		s->nr_busy--;
		s->freeing_bytes += vmap_area_reserved_end(va) - va->start;
		__atomic_add_fetch(&s->nr_unmapping, 1, __ATOMIC_RELAXED);
		vmap_debug_check(s);
		spin_unlock(&s->lock);
		*out = va;
		return 0;
	}
	vmap_describe_locked(s, addr, what, sizeof(what));
	spin_unlock(&s->lock);
	printk("vmap: cannot free %#lx as a %s area: %s\n", addr,
	       vmap_kind_name(kind), what);
	return -EINVAL;
}

/* A wrong @area here is the kernel's bug, not a caller's mistake: the
 * area came from vmap_area_begin_free(). */
static void vmap_expect_state(const struct vmap_area *va, enum vmap_state want,
			      enum vmap_state or_want)
{
	if (va->state != want && va->state != or_want)
		panic("vmap: area [%#lx, %#lx) is %s, expected %s or %s",
		      va->start, va->end, vmap_state_name(va->state),
		      vmap_state_name(want), vmap_state_name(or_want));
}

/* Without s->lock: the one step of a vfree that took the space's lock a
 * second time (with four CPUs freeing at once, 11% of the linux table's
 * all_4k samples spun there, tools/profiler.py --callers spin_lock).  The
 * area is the caller's (UNMAPPING) until it is on the list, so its state
 * and link are ours to write; the push is one compare-and-swap, and a
 * purge takes the whole list with one exchange, so no node is ever taken
 * off singly (no ABA).  The counters are atomics, exact when no other
 * CPU races: the purge trigger only needs them roughly. */
void vmap_area_lazy_free(struct vmap_space *s, struct vmap_area *area)
{
	struct vmap_area *head;

	vmap_expect_state(area, VMAP_AREA_UNMAPPING, VMAP_AREA_UNMAPPING);
	area->state = VMAP_AREA_LAZY;
	/* Add before taking away: the checker's counters, never low. */
	__atomic_add_fetch(&s->nr_lazy, 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&s->nr_unmapping, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->lazy_bytes, vmap_area_lazy_cost(area),
			   __ATOMIC_RELAXED);
	head = __atomic_load_n(&s->lazy_head, __ATOMIC_RELAXED);
	do {
		area->link = head;
	} while (!__atomic_compare_exchange_n(&s->lazy_head, &head, area, true,
					      __ATOMIC_RELEASE, __ATOMIC_RELAXED));
	if (s->debug == VMAP_DEBUG_CHECK_EVERY_OP) {
		spin_lock(&s->lock);
		vmap_debug_check(s);
		spin_unlock(&s->lock);
	}
}

void vmap_area_free_unmapped(struct vmap_space *s, struct vmap_area *area,
			     struct vmap_spares *spares)
{
	uint64_t bytes = vmap_area_reserved_end(area) - area->start;

	spin_lock(&s->lock);
	vmap_expect_state(area, VMAP_AREA_BUSY, VMAP_AREA_UNMAPPING);
	if (area->state == VMAP_AREA_BUSY) {
		avl_erase(&s->busy_tree, &area->node);
		s->nr_busy--;
	} else {
		__atomic_sub_fetch(&s->nr_unmapping, 1, __ATOMIC_RELAXED);
		s->freeing_bytes -= bytes;
	}
	s->reserved_bytes -= bytes;
	free_return(s, area, spares);
	vmap_debug_check(s);
	spin_unlock(&s->lock);
}

/* Join @va and the batch areas after it that end where the previous one
 * begins (a burst of vfrees lists its areas from the highest down): the
 * first node becomes the whole run, the others go on @spares, so that
 * the run goes back to the free tree in one free_return() (a purge
 * after 1,000 vfrees in a row merged 1,000 ranges one by one).
 * Returns how many areas the run holds.
 * => no lock: a batch's areas are its purge's alone, and in no tree. */
static uint64_t join_lazy_run(struct vmap_area *va, struct vmap_spares *spares)
{
	struct vmap_area *next = va->link;
	uint64_t areas = 1;

	vmap_expect_state(va, VMAP_AREA_LAZY, VMAP_AREA_LAZY);
	while (next && vmap_area_reserved_end(next) == va->start) {
		struct vmap_area *below = next;

		next = below->link;
		vmap_expect_state(below, VMAP_AREA_LAZY, VMAP_AREA_LAZY);
		va->start = below->start;   /* va is in no tree: free to change */
		spares_push(spares, below);
		areas++;
	}
	va->link = next;
	return areas;
}

void vmap_purge_begin(struct vmap_space *s, struct vmap_purge_batch *batch,
		      struct vmap_spares *spares)
{
	*batch = (struct vmap_purge_batch){ .flush_start = UINT64_MAX };
	spin_lock(&s->lock);
	batch->head = __atomic_exchange_n(&s->lazy_head, NULL, __ATOMIC_ACQUIRE);
	__atomic_store_n(&s->lazy_bytes, 0, __ATOMIC_RELAXED);
	vmap_debug_check(s);
	spin_unlock(&s->lock);
	/* The batch is ours now, and its areas are in no tree: one pass
	 * counts them, bounds the range to flush and joins the touching
	 * ones into runs (a pass of its own had been 12% of the purge after
	 * 1,000 vfrees).  A run is one LAZY node from here on. */
	for (struct vmap_area *va = batch->head; va; va = va->link) {
		batch->nr_areas += join_lazy_run(va, spares);
		batch->nr_runs++;
		batch->flush_start = MIN(batch->flush_start, va->start);
		batch->flush_end = MAX(batch->flush_end, va->end);
	}
	__atomic_sub_fetch(&s->nr_lazy, batch->nr_areas - batch->nr_runs,
			   __ATOMIC_RELAXED);
	if (!batch->nr_areas)
		batch->flush_start = 0;
}

void vmap_purge_finish(struct vmap_space *s, struct vmap_purge_batch *batch,
		       struct vmap_spares *spares)
{
	struct vmap_area *va = batch->head, *next;

	while (va) {
		/* A batch may hold thousands of runs: give the lock back
		 * every VMAP_PURGE_CHUNK so that other CPUs' allocations wait
		 * for a chunk, not for the whole purge.  Each run goes back
		 * whole under the lock, so the trees are consistent between
		 * chunks; the batch itself is ours alone. */
		spin_lock(&s->lock);
		for (unsigned int n = 0; va && n < VMAP_PURGE_CHUNK; n++) {
			uint64_t bytes = vmap_area_reserved_end(va) - va->start;

			next = va->link;
			s->reserved_bytes -= bytes;
			s->freeing_bytes -= bytes;
			free_return(s, va, spares);
			va = next;
		}
		if (!va)   /* the last hold: the areas are FREE now */
			__atomic_sub_fetch(&s->nr_lazy, batch->nr_runs,
					   __ATOMIC_RELAXED);
		vmap_debug_check(s);
		spin_unlock(&s->lock);
	}
	*batch = (struct vmap_purge_batch){ 0 };
}

/* ---- Lookups ----------------------------------------------------------- */

struct vmap_area *vmap_area_find(struct vmap_space *s, virt_addr_t addr)
{
	struct vmap_area *va;

	vmap_assert_locked(s);
	va = vmap_tree_find_le(&s->busy_tree, addr);
	return va && va->start == addr ? va : NULL;
}

struct vmap_area *vmap_area_find_containing(struct vmap_space *s,
					    virt_addr_t addr)
{
	struct vmap_area *va;

	vmap_assert_locked(s);
	va = vmap_tree_find_le(&s->busy_tree, addr);
	return va && addr < vmap_area_reserved_end(va) ? va : NULL;
}
