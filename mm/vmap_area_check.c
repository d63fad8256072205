/* vmap_area_check.c: what an address is, and whether the allocator's
 * invariants hold.  Both read the trees under the space's lock.
 */
#include "kernel/printk.h"
#include "mm/vmap_area_internal.h"

const char *vmap_kind_name(enum vmap_kind kind)
{
	static const char *const names[] = {
		[VMAP_KIND_VMALLOC] = "vmalloc",
		[VMAP_KIND_VMAP] = "vmap",
		[VMAP_KIND_IOREMAP] = "ioremap",
	};

	return (unsigned int)kind < VMAP_KIND_COUNT ? names[kind] : "?";
}

const char *vmap_state_name(enum vmap_state state)
{
	static const char *const names[] = {
		[VMAP_AREA_FREE] = "free",
		[VMAP_AREA_BUSY] = "busy",
		[VMAP_AREA_UNMAPPING] = "unmapping",
		[VMAP_AREA_LAZY] = "lazy",
		[VMAP_AREA_SPARE] = "spare",
	};

	return (unsigned int)state <= VMAP_AREA_SPARE ? names[state] : "?";
}

/* The LAZY area on the lazy list that holds @addr with its guard; NULL
 * if none (an UNMAPPING area, or one a purge has taken).  A walk of the
 * list: error messages only. */
static const struct vmap_area *lazy_listed_at(const struct vmap_space *s,
					      virt_addr_t addr)
{
	for (const struct vmap_area *va = s->lazy_head; va; va = va->link)
		if (va->start <= addr && addr < vmap_area_reserved_end(va))
			return va;
	return NULL;
}

static void describe_area(const struct vmap_area *va, virt_addr_t addr,
			  const char *note, char *buf, size_t size)
{
	const char *where = addr == va->start ? "the start"
			  : addr < va->end    ? "the middle"
					      : "the guard page";

	snprintf(buf, size, "%#lx is %s of %s area [%#lx, %#lx)%s", addr, where,
		 vmap_kind_name(va->kind), va->start, va->end, note);
}

/* => s->lock held. */
void vmap_describe_locked(struct vmap_space *s, virt_addr_t addr, char *buf,
			  size_t size)
{
	const struct vmap_area *va;

	if (addr < s->start || addr >= s->end) {
		snprintf(buf, size, "%#lx is outside the vmap space [%#lx, %#lx)",
			 addr, s->start, s->end);
		return;
	}
	va = vmap_area_find_containing(s, addr);
	if (va) {
		describe_area(va, addr, "", buf, size);
		return;
	}
	va = vmap_tree_find_le(&s->free_tree, addr);
	if (va && addr < va->end) {
		snprintf(buf, size, "%#lx is in free range [%#lx, %#lx), in no area",
			 addr, va->start, va->end);
		return;
	}
	/* In a gap between the trees: an area whose free has begun. */
	va = lazy_listed_at(s, addr);
	if (va)
		describe_area(va, addr, ", already freed and waiting for a TLB "
			      "purge", buf, size);
	else
		snprintf(buf, size, "%#lx is in an area which is being freed "
			 "(unmapping, or in a purge)", addr);
}

void vmap_area_describe(struct vmap_space *s, virt_addr_t addr, char *buf,
			size_t size)
{
	spin_lock(&s->lock);
	vmap_describe_locked(s, addr, buf, size);
	spin_unlock(&s->lock);
}

/* ---- The invariant checker --------------------------------------------- */

static const char *check_failed(const char *what, const struct vmap_area *va)
{
	if (va)
		printk("vmap check: %s: node [%#lx, %#lx) %s, subtree_max %#lx\n",
		       what, va->start, va->end, vmap_state_name(va->state),
		       va->subtree_max);
	else
		printk("vmap check: %s\n", what);
	return what;
}

static uint64_t subtree_max_of(const struct avl_node *n)
{
	return n ? area_of(n)->subtree_max : 0;
}

/* Free ranges: in the window, in order, not touching (coalesced), and
 * subtree_max right at every node. */
static const char *check_free_tree(struct vmap_space *s)
{
	virt_addr_t prev_end = s->start;
	bool first = true;

	if (!avl_check(&s->free_tree))
		return check_failed("free tree: AVL links or heights broken", NULL);
	for (struct avl_node *n = avl_first(&s->free_tree); n; n = avl_next(n)) {
		struct vmap_area *f = area_of(n);
		uint64_t max = MAX(f->end - f->start,
				   MAX(subtree_max_of(n->left), subtree_max_of(n->right)));

		if (f->state != VMAP_AREA_FREE)
			return check_failed("free tree holds a node not FREE", f);
		if (f->start >= f->end || f->start < s->start || f->end > s->end ||
		    !IS_ALIGNED(f->start | f->end, VMAP_PAGE_SIZE))
			return check_failed("free range empty, unaligned or outside", f);
		if (f->start < prev_end)
			return check_failed("free ranges overlap or out of order", f);
		if (!first && f->start == prev_end)
			return check_failed("free ranges touch: not coalesced", f);
		if (f->subtree_max != max)
			return check_failed("subtree_max is not the subtree's longest", f);
		prev_end = f->end;
		first = false;
	}
	return NULL;
}

/* Areas: BUSY, of a kind, in the window with their guard, in order and
 * apart. */
static const char *check_busy_tree(struct vmap_space *s)
{
	virt_addr_t prev_end = s->start;

	if (!avl_check(&s->busy_tree))
		return check_failed("busy tree: AVL links or heights broken", NULL);
	for (struct avl_node *n = avl_first(&s->busy_tree); n; n = avl_next(n)) {
		struct vmap_area *va = area_of(n);

		if (va->state != VMAP_AREA_BUSY)
			return check_failed("busy tree holds an area not BUSY", va);
		if ((unsigned int)va->kind >= VMAP_KIND_COUNT)
			return check_failed("area of no kind", va);
		if (va->start >= va->end || va->start < s->start ||
		    va->end > s->end - VMAP_GUARD_SIZE ||
		    !IS_ALIGNED(va->start | va->end, VMAP_PAGE_SIZE))
			return check_failed("area empty, unaligned or outside", va);
		if (va->start < prev_end)
			return check_failed("area overlaps the previous one's guard", va);
		prev_end = vmap_area_reserved_end(va);
	}
	return NULL;
}

/* The next piece of the tiling walk: the lower-starting of @f and @b,
 * stepping past it.  @end gets its end (with the guard, for an area). */
static virt_addr_t next_piece(struct avl_node **f, struct avl_node **b,
			      virt_addr_t *end)
{
	struct avl_node **take = !*b || (*f && area_of(*f)->start <
					       area_of(*b)->start) ? f : b;
	struct vmap_area *va = area_of(*take);

	*end = take == f ? va->end : vmap_area_reserved_end(va);
	*take = avl_next(*take);
	return va->start;
}

/* Free ranges, BUSY areas with their guards, and the gaps where areas
 * are being freed tile the window: walking both trees in order, no
 * piece starts before the last one ended, and the gaps add up to
 * freeing_bytes. */
static const char *check_tiling(struct vmap_space *s)
{
	struct avl_node *f = avl_first(&s->free_tree);
	struct avl_node *b = avl_first(&s->busy_tree);
	virt_addr_t at = s->start, start, end;
	uint64_t gaps = 0;

	while (f || b) {
		start = next_piece(&f, &b, &end);
		if (start < at) {
			printk("vmap check: a piece starts at %#lx, before %#lx\n",
			       start, at);
			return check_failed("a gap or an overlap between free and busy", NULL);
		}
		gaps += start - at;
		at = end;
	}
	if (at > s->end)
		return check_failed("free and busy do not cover the window", NULL);
	gaps += s->end - at;
	if (gaps != s->freeing_bytes) {
		printk("vmap check: gaps between the trees add up to %#lx bytes; "
		       "freeing_bytes %#lx\n", gaps, s->freeing_bytes);
		return check_failed("free and busy do not cover the window", NULL);
	}
	return NULL;
}

/* A listed LAZY area lies in a gap: in no free range, no BUSY area. */
static bool lazy_in_gap(struct vmap_space *s, const struct vmap_area *va)
{
	const struct vmap_area *f = vmap_tree_find_le(&s->free_tree,
					vmap_area_reserved_end(va) - 1);
	const struct vmap_area *b = vmap_tree_find_le(&s->busy_tree,
					vmap_area_reserved_end(va) - 1);

	return (!f || f->end <= va->start) &&
	       (!b || vmap_area_reserved_end(b) <= va->start);
}

/* The lazy list: LAZY areas only, and no more than nr_lazy (which also
 * stops the walk if the list is a cycle). */
static const char *check_lazy_list(struct vmap_space *s)
{
	uint64_t count = 0;

	for (struct vmap_area *va = s->lazy_head; va; va = va->link) {
		if (va->state != VMAP_AREA_LAZY)
			return check_failed("lazy list holds an area not LAZY", va);
		if (!lazy_in_gap(s, va))
			return check_failed("lazy area overlaps a free range or "
					    "a busy area", va);
		if (++count > s->nr_lazy)
			return check_failed("lazy list longer than nr_lazy", va);
	}
	return NULL;
}

/* Every counter against a recount, once the structure is known good. */
static const char *check_counters(struct vmap_space *s)
{
	uint64_t nr[VMAP_AREA_SPARE + 1] = { 0 }, reserved = 0, lazy_bytes = 0;
	struct avl_node *n;

	for (n = avl_first(&s->free_tree); n; n = avl_next(n))
		nr[VMAP_AREA_FREE]++;
	for (n = avl_first(&s->busy_tree); n; n = avl_next(n)) {
		struct vmap_area *va = area_of(n);

		nr[va->state]++;
		reserved += vmap_area_reserved_end(va) - va->start;
	}
	for (struct vmap_area *va = s->lazy_head; va; va = va->link)
		lazy_bytes += vmap_area_lazy_cost(va);

	/* UNMAPPING and LAZY areas are in no tree: what can be counted is
	 * whether there are any (vmap_area_lazy_free() adds to nr_lazy
	 * before it takes from nr_unmapping, so the sum is never low). */
	uint64_t freeing = __atomic_load_n(&s->nr_unmapping, __ATOMIC_RELAXED) +
			   __atomic_load_n(&s->nr_lazy, __ATOMIC_RELAXED);
	const struct { const char *what; uint64_t recorded, counted; } rows[] = {
		{ "counter nr_free wrong", s->nr_free, nr[VMAP_AREA_FREE] },
		{ "counter nr_busy wrong", s->nr_busy, nr[VMAP_AREA_BUSY] },
		{ "counters nr_unmapping and nr_lazy wrong", freeing > 0,
		  s->freeing_bytes > 0 },
		{ "counter reserved_bytes wrong", s->reserved_bytes,
		  reserved + s->freeing_bytes },
		{ "counter lazy_bytes wrong", s->lazy_bytes, lazy_bytes },
	};
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		if (rows[i].recorded != rows[i].counted) {
			printk("vmap check: %s: %lu recorded, %lu counted\n",
			       rows[i].what, rows[i].recorded, rows[i].counted);
			return rows[i].what;
		}
	}
	return NULL;
}

const char *vmap_check_locked(struct vmap_space *s)
{
	const char *broken;

	vmap_assert_locked(s);
	broken = check_free_tree(s);
	if (!broken)
		broken = check_busy_tree(s);
	if (!broken)
		broken = check_tiling(s);
	if (!broken)
		broken = check_lazy_list(s);
	if (!broken)
		broken = check_counters(s);
	return broken;
}

const char *vmap_space_check(struct vmap_space *s)
{
	const char *broken;

	spin_lock(&s->lock);
	broken = vmap_check_locked(s);
	spin_unlock(&s->lock);
	return broken;
}
