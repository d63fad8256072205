/* tests/host/test_vmap_area_scale.c: what a search costs, measured as
 * tree nodes read (a count, not a time), and 100,000 random operations
 * checked against a reference model.  Harness and fixture: vmap_test.h.
 */
#include "tests/host/vmap_test.h"

/* ---- Cases: the cost of a search --------------------------------------- */

static uint64_t log2_ceil(uint64_t n)
{
	return n <= 1 ? 0 : 64 - (uint64_t)__builtin_clzll(n - 1);
}

/* One descent reads at most two nodes per level of a tree no taller
 * than 1.44 log2(n + 2): within 3 log2(n) + 3 for the n here. */
static uint64_t descent_bound(uint64_t nr_free)
{
	return 3 * log2_ceil(nr_free) + 3;
}

/* 2n one-page areas; every other one freed: n holes of 2 pages. */
static bool build_holes(struct test *t, struct fx *f, uint64_t n)
{
	virt_addr_t start = VMALLOC_START;

	if (!fx_init(t, f, start, start + 4 * n * K4 + 64 * K4))
		return false;
	f->s.debug = VMAP_DEBUG_OFF;   /* O(n) per op would make this O(n^2) */
	for (uint64_t i = 0; i < 2 * n; i++)
		fx_must_alloc(t, f, K4, K4);
	for (uint64_t i = 0; i < 2 * n; i += 2)
		fx_free(f, start + i * 2 * K4, VMAP_KIND_VMALLOC);
	fx_purge(f);
	return fx_check(t, f);
}

static void test_search_is_logarithmic(struct test *t)
{
	const uint64_t n = 1 << 15;
	const virt_addr_t big_hole = VMALLOC_START + (3 * n / 2) * 2 * K4;
	struct fx f;

	if (!build_holes(t, &f, n))
		return;
	/* merge one hole with its neighbours: 6 pages at 3/4 of the way */
	fx_free(&f, big_hole + 2 * K4, VMAP_KIND_VMALLOC);
	fx_purge(&f);
	const struct {
		const char *name;
		uint64_t size;
		virt_addr_t expected;
	} rows[] = {
		{ "first_hole", K4, VMALLOC_START },
		{ "only_the_big_hole", 4 * K4, big_hole },
		{ "only_the_tail", 8 * K4, VMALLOC_START + 4 * n * K4 },
	};
	uint64_t bound = descent_bound(f.s.nr_free), worst = 0;

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		virt_addr_t at = fx_must_alloc(t, &f, rows[i].size, K4);

		if (at != rows[i].expected)
			fail(t, "row %s: at %#lx, expected %#lx", rows[i].name, at,
			     rows[i].expected);
		if (f.s.last_search_visits > bound)
			fail(t, "row %s: %lu nodes read for %lu free ranges, bound %lu",
			     rows[i].name, f.s.last_search_visits, f.s.nr_free, bound);
		worst = MAX(worst, f.s.last_search_visits);
	}
	printf("    # %lu free ranges: at most %lu nodes read per search (bound %lu)\n",
	       f.s.nr_free, worst, bound);
	fx_destroy(t, &f);
}

/* n chunks of 4 MiB, each with a free range of 2M+4K starting 8K in:
 * long enough for a 2 MiB area and its guard, but the 2 MiB boundary in
 * it is too late.  Chunk @fit_at gets a longer hole that fits. */
static bool build_near_misses(struct test *t, struct fx *f, uint64_t n,
			      uint64_t fit_at)
{
	virt_addr_t start = VMALLOC_START;

	if (!fx_init(t, f, start, start + n * 4 * MiB + 8 * MiB))
		return false;
	f->s.debug = VMAP_DEBUG_OFF;
	for (uint64_t i = 0; i < n; i++) {
		fx_must_alloc(t, f, K4, K4);               /* [0, 8K) */
		fx_must_alloc(t, f, M2, K4);               /* [8K, 2M+12K) */
		fx_must_alloc(t, f, M2 - 16 * KiB, K4);    /* [2M+12K, 4M) */
	}
	for (uint64_t i = 0; i < n; i++) {
		fx_free(f, start + i * 4 * MiB + 8 * KiB, VMAP_KIND_VMALLOC);
		if (i == fit_at)
			fx_free(f, start + i * 4 * MiB, VMAP_KIND_VMALLOC);
	}
	fx_purge(f);
	return fx_check(t, f);
}

static void test_near_misses_are_bounded(struct test *t)
{
	const uint64_t n = 4096;
	const virt_addr_t tail = VMALLOC_START + n * 4 * MiB;
	const struct {
		const char *name;
		uint64_t fit_at;
		virt_addr_t expected;
		uint64_t fallbacks;
	} rows[] = {
		/* 5 near misses, then the fit: the lowest fit wins */
		{ "fit_after_5", 5, VMALLOC_START + 5 * 4 * MiB, 0 },
		/* 20 near misses: give up at 8, take the lowest range of
		 * 2M+4K + 2M-4K = 4M or more: the tail */
		{ "fit_after_20", 20, tail, 1 },
		{ "no_fit_in_chunks", n, tail, 1 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct fx f;
		virt_addr_t at;
		uint64_t bound;

		if (!build_near_misses(t, &f, n, rows[i].fit_at))
			return;
		bound = (VMAP_NEAR_MISSES_MAX + 2) * descent_bound(f.s.nr_free);
		at = fx_must_alloc(t, &f, M2, M2);
		if (at != rows[i].expected || f.s.near_miss_fallbacks != rows[i].fallbacks)
			fail(t, "row %s: at %#lx after %lu fallbacks; expected %#lx, %lu",
			     rows[i].name, at, f.s.near_miss_fallbacks,
			     rows[i].expected, rows[i].fallbacks);
		if (f.s.last_search_visits > bound)
			fail(t, "row %s: %lu nodes read for %lu free ranges, bound %lu",
			     rows[i].name, f.s.last_search_visits, f.s.nr_free, bound);
		printf("    # %s: %lu nodes read of %lu free ranges (bound %lu)\n",
		       rows[i].name, f.s.last_search_visits, f.s.nr_free, bound);
		fx_destroy(t, &f);
	}
}

/* ---- The randomized test against a reference model --------------------- *
 *
 * The model is a sorted array of the areas that are not free; the free
 * ranges are the gaps.  Every operation is applied to both, and after
 * each one the tree is compared with the array, the invariants checked
 * (also inside each call: debug mode), and the nodes counted.
 */
#define RAND_OPS       100000
#define RAND_LIVE_MAX  600      /* beyond this, allocations turn into frees */
#define RAND_SEED      0x5eed0004ULL

struct marea {
	virt_addr_t start, end;     /* the area; its guard follows */
	enum vmap_state state;
	enum vmap_kind kind;
	bool in_batch;              /* LAZY and taken by vmap_purge_begin() */
	struct vmap_area *va;
};

static struct marea model[RAND_LIVE_MAX + 8];
static size_t model_n;
static uint64_t rng_state = RAND_SEED;

static uint64_t rng(void)   /* xorshift64* */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t rng_below(uint64_t n)
{
	return rng() % n;
}

/* The placement rule of mm/vmap_area.c, restated over the gaps: the
 * lowest fit, unless VMAP_NEAR_MISSES_MAX near misses come first; then
 * the lowest gap of need + align - 4K or more. */
static bool model_fit(const struct fx *f, uint64_t size, uint64_t align,
		      virt_addr_t *at, bool *fell_back)
{
	uint64_t need = size + VMAP_GUARD_SIZE, min_len = need;
	unsigned int near_misses = 0;

	*fell_back = false;
	for (int pass = 0; pass < 2; pass++) {
		virt_addr_t gap = f->s.start;

		for (size_t i = 0; i <= model_n; i++) {
			virt_addr_t gap_end = i < model_n ? model[i].start : f->s.end;
			virt_addr_t a = ALIGN_UP(gap, align);

			if (gap_end - gap >= min_len) {
				if (a >= gap && a <= gap_end && gap_end - a >= need) {
					*at = a;
					return true;
				}
				if (++near_misses == VMAP_NEAR_MISSES_MAX)
					break;
			}
			if (i < model_n)
				gap = model[i].end + VMAP_GUARD_SIZE;
		}
		if (near_misses < VMAP_NEAR_MISSES_MAX)
			return false;
		*fell_back = true;
		min_len = need + align - VMAP_PAGE_SIZE;
		near_misses = 0;
	}
	return false;
}

static void model_insert(const struct marea *m)
{
	size_t i = 0;

	while (i < model_n && model[i].start < m->start)
		i++;
	memmove(&model[i + 1], &model[i], (model_n - i) * sizeof(model[0]));
	model[i] = *m;
	model_n++;
}

static void model_remove(size_t i)
{
	memmove(&model[i], &model[i + 1], (model_n - i - 1) * sizeof(model[0]));
	model_n--;
}

/* A random area in @state, or -1. */
static long model_pick(enum vmap_state state)
{
	long picked = -1;
	uint64_t seen = 0;

	for (size_t i = 0; i < model_n; i++)
		if (model[i].state == state && !model[i].in_batch &&
		    rng_below(++seen) == 0)
			picked = (long)i;
	return picked;
}

static long model_containing(virt_addr_t addr)
{
	for (size_t i = 0; i < model_n; i++)
		if (addr >= model[i].start && addr < model[i].end + VMAP_GUARD_SIZE)
			return (long)i;
	return -1;
}

struct rand_stats {
	uint64_t ops[8], enomem, fallbacks, worst_visits, worst_bound;
};

static void rand_alloc(struct test *t, struct fx *f, struct rand_stats *st)
{
	static const uint64_t aligns[] = { 8 * KiB, 64 * KiB, M2, 64 * MiB };
	uint64_t r = rng_below(100), size, align = K4;
	enum vmap_kind kind = (enum vmap_kind)rng_below(VMAP_KIND_COUNT);
	uint64_t nr_free = f->s.nr_free;
	virt_addr_t at = 0;
	bool fits, fell_back;
	struct vmap_area *va = NULL;
	int err;

	if (r < 70) {
		size = (1 + rng_below(16)) * K4;
	} else if (r < 85) {
		size = (1 + rng_below(512)) * K4;
	} else if (r < 95) {
		size = (1 + rng_below(4)) * M2 - (rng_below(2) ? K4 : 0);
		align = M2;
	} else if (r < 96) {
		size = G1;
		align = G1;
	} else {
		size = (1 + rng_below(8)) * K4;
		align = aligns[rng_below(ARRAY_SIZE(aligns))];
	}
	fits = model_fit(f, size, align, &at, &fell_back);
	err = fx_alloc(f, size, align, kind, &va);
	if (err != (fits ? 0 : -ENOMEM) || (fits && (va->start != at ||
						     va->end != at + size))) {
		fail(t, "alloc %#lx aligned %#lx: error %d at %#lx; model: %s %#lx",
		     size, align, err, err ? 0 : va->start,
		     fits ? "fits at" : "no room", at);
		return;
	}
	st->enomem += !fits;
	st->fallbacks += fell_back;
	/* the bound: VMAP_NEAR_MISSES_MAX + 2 descents */
	uint64_t bound = (VMAP_NEAR_MISSES_MAX + 2) * descent_bound(nr_free);

	if (f->s.last_search_visits > bound)
		fail(t, "alloc %#lx aligned %#lx: %lu nodes read for %lu free "
		     "ranges, bound %lu", size, align, f->s.last_search_visits,
		     nr_free, bound);
	if (f->s.last_search_visits > st->worst_visits) {
		st->worst_visits = f->s.last_search_visits;
		st->worst_bound = bound;
	}
	if (fits)
		model_insert(&(struct marea){ at, at + size, VMAP_AREA_BUSY, kind,
					      false, va });
}

/* vfree or iounmap at a random spot of a random area: the start, the
 * middle or the guard, with the right kind or not. */
static void rand_free(struct test *t, struct fx *f)
{
	long i = rng_below(4) ? model_pick(VMAP_AREA_BUSY) : (long)rng_below(model_n);
	virt_addr_t addr;
	enum vmap_kind kind;
	struct vmap_area *va = NULL;
	bool valid;
	int err;

	if (i < 0)
		return;
	addr = model[i].start;
	kind = model[i].kind;
	if (rng_below(8) == 0)
		addr = rng_below(2) ? model[i].end : model[i].start + K4;
	if (rng_below(8) == 0)
		kind = (enum vmap_kind)rng_below(VMAP_KIND_COUNT);
	valid = addr == model[i].start && model[i].state == VMAP_AREA_BUSY &&
		kind == model[i].kind;
	err = vmap_area_begin_free(&f->s, addr, kind, &va);
	if (err != (valid ? 0 : -EINVAL) || (valid && va != model[i].va)) {
		fail(t, "free %#lx as %s: error %d; model: area [%#lx, %#lx) %s %s",
		     addr, vmap_kind_name(kind), err, model[i].start, model[i].end,
		     vmap_kind_name(model[i].kind), vmap_state_name(model[i].state));
		return;
	}
	if (!valid)
		return;
	model[i].state = VMAP_AREA_UNMAPPING;
	if (rng_below(4)) {   /* else a later op finishes the unmap */
		vmap_area_lazy_free(&f->s, va);
		model[i].state = VMAP_AREA_LAZY;
	}
}

static void rand_finish_unmap(struct fx *f)
{
	long i = model_pick(VMAP_AREA_UNMAPPING);

	if (i < 0)
		return;
	vmap_area_lazy_free(&f->s, model[i].va);
	model[i].state = VMAP_AREA_LAZY;
}

static void rand_free_unmapped(struct fx *f)
{
	long i = model_pick(rng_below(2) ? VMAP_AREA_BUSY : VMAP_AREA_UNMAPPING);

	if (i < 0)
		return;
	vmap_area_free_unmapped(&f->s, model[i].va, &f->spares);
	fx_drain_spares(f);
	model_remove((size_t)i);
}

/* Begin a purge, or finish the one begun some operations ago. */
static void rand_purge(struct test *t, struct fx *f, struct vmap_purge_batch *b,
		       bool *open)
{
	uint64_t expected = 0;

	if (!*open) {
		vmap_purge_begin(&f->s, b, &f->spares);
		for (size_t i = 0; i < model_n; i++) {
			if (model[i].state == VMAP_AREA_LAZY && !model[i].in_batch) {
				model[i].in_batch = true;
				expected++;
			}
		}
		EXPECT_EQ(t, b->nr_areas, expected);
		*open = true;
		return;
	}
	vmap_purge_finish(&f->s, b, &f->spares);
	fx_drain_spares(f);
	for (size_t i = model_n; i-- > 0;)
		if (model[i].in_batch)
			model_remove(i);
	*open = false;
}

static void rand_lookup(struct test *t, struct fx *f)
{
	virt_addr_t addr = f->s.start - 2 * K4 +
			   rng_below(f->s.end - f->s.start + 4 * K4);
	long i;
	struct vmap_area *found, *containing;

	if (model_n && rng_below(2)) {   /* near an area, to hit edges */
		i = (long)rng_below(model_n);
		addr = model[i].start + rng_below(model[i].end - model[i].start +
						  2 * K4) - K4 / 2;
	}
	i = model_containing(addr);
	if (i >= 0 && model[i].state != VMAP_AREA_BUSY)
		i = -1;   /* an area whose free began is in no tree */
	spin_lock(&f->s.lock);
	found = vmap_area_find(&f->s, addr);
	containing = vmap_area_find_containing(&f->s, addr);
	spin_unlock(&f->s.lock);
	if (containing != (i >= 0 ? model[i].va : NULL) ||
	    found != (i >= 0 && model[i].start == addr ? model[i].va : NULL))
		fail(t, "lookup %#lx: find %p, containing %p; model: area %ld", addr,
		     (void *)found, (void *)containing, i);
}

/* The next BUSY area of the model from @i on (model_n if none). */
static size_t model_next_busy(size_t i)
{
	while (i < model_n && model[i].state != VMAP_AREA_BUSY)
		i++;
	return i;
}

/* The busy tree, in order, is the model's BUSY areas. */
static bool rand_compare(struct test *t, struct fx *f)
{
	size_t i = model_next_busy(0);

	for (struct avl_node *n = avl_first(&f->s.busy_tree); n;
	     n = avl_next(n), i = model_next_busy(i + 1)) {
		struct vmap_area *va = container_of(n, struct vmap_area, node);

		if (i >= model_n || va != model[i].va || va->start != model[i].start ||
		    va->end != model[i].end || va->state != model[i].state ||
		    va->kind != model[i].kind) {
			fail(t, "area %zu: tree [%#lx, %#lx) %s; model [%#lx, %#lx) %s",
			     i, va->start, va->end, vmap_state_name(va->state),
			     i < model_n ? model[i].start : 0,
			     i < model_n ? model[i].end : 0,
			     i < model_n ? vmap_state_name(model[i].state) : "-");
			return false;
		}
	}
	return EXPECT_EQ(t, i, model_n);
}

static void test_random_against_model(struct test *t)
{
	static const char *const op_names[] = {
		"alloc", "free", "finish_unmap", "free_unmapped", "purge", "lookup",
	};
	const virt_addr_t start = VMALLOC_START + 3 * K4;
	struct rand_stats st = { 0 };
	struct vmap_purge_batch batch;
	bool batch_open = false;
	struct fx f;

	if (!fx_init(t, &f, start, start + 2 * G1 + 24 * MiB))
		return;
	model_n = 0;
	for (uint64_t op = 0; op < RAND_OPS && !t->failed; op++) {
		uint64_t r = rng_below(100), kind;

		kind = r < 40 ? 0 : r < 65 ? 1 : r < 70 ? 2 : r < 74 ? 3 : r < 79 ? 4 : 5;
		if (kind == 0 && model_n >= RAND_LIVE_MAX)
			kind = 1;
		st.ops[kind]++;
		shim_log_clear();
		switch (kind) {
		case 0: rand_alloc(t, &f, &st); break;
		case 1: rand_free(t, &f); break;
		case 2: rand_finish_unmap(&f); break;
		case 3: rand_free_unmapped(&f); break;
		case 4: rand_purge(t, &f, &batch, &batch_open); break;
		default: rand_lookup(t, &f); break;
		}
		if (!fx_check(t, &f) || !rand_compare(t, &f))
			fail(t, "after op %lu (%s)", op, op_names[kind]);
	}
	if (batch_open)
		rand_purge(t, &f, &batch, &batch_open);
	for (size_t i = 0; i < model_n; i++)   /* in no tree: give them back */
		if (model[i].state == VMAP_AREA_UNMAPPING)
			vmap_area_free_unmapped(&f.s, model[i].va, &f.spares);
	EXPECT_EQ(t, f.s.near_miss_fallbacks, st.fallbacks);
	printf("    # ops:");
	for (size_t i = 0; i < ARRAY_SIZE(op_names); i++)
		printf(" %s %lu", op_names[i], st.ops[i]);
	printf("\n    # %lu allocations found no room; %lu fell back from "
	       "lowest-fit; worst search read %lu nodes (bound %lu)\n",
	       st.enomem, st.fallbacks, st.worst_visits, st.worst_bound);
	fx_destroy(t, &f);
}

DEFINE_CASES(scale_cases,
	{ "search_reads_O_log_n_nodes", test_search_is_logarithmic },
	{ "near_misses_are_bounded", test_near_misses_are_bounded },
	{ "random_100000_ops_against_model", test_random_against_model }
);
