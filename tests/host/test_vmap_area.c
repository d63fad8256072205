/* tests/host/test_vmap_area.c: the vmalloc-space allocator
 * (mm/vmap_area.c) against tables of named cases: placement, guard
 * pages, alignment, the lazy states, bad input, lookups and their
 * messages, the lock rule, and the invariant checker's own failures.
 * Harness and fixture: vmap_test.h.
 */
#include "tests/host/vmap_test.h"

/* ---- Cases: allocation and freeing ------------------------------------- */

static void test_round_trip(struct test *t)
{
	struct fx f;
	virt_addr_t a, b, c;

	if (!fx_init(t, &f, WSTART, WEND))
		return;
	a = fx_must_alloc(t, &f, 4 * K4, K4);
	b = fx_must_alloc(t, &f, K4, K4);
	c = fx_must_alloc(t, &f, 100 * K4, K4);
	EXPECT_EQ(t, f.s.nr_busy, 3);
	EXPECT_EQ(t, f.s.reserved_bytes, (4 + 1 + 100) * K4 + 3 * VMAP_GUARD_SIZE);
	EXPECT_EQ(t, fx_free(&f, b, VMAP_KIND_VMALLOC), 0);
	EXPECT_EQ(t, fx_free(&f, a, VMAP_KIND_VMALLOC), 0);
	EXPECT_EQ(t, fx_free(&f, c, VMAP_KIND_VMALLOC), 0);
	EXPECT_EQ(t, f.s.nr_lazy, 3);
	fx_purge(&f);
	EXPECT_EQ(t, f.s.nr_busy + f.s.nr_lazy + f.s.reserved_bytes, 0);
	EXPECT_EQ(t, f.s.nr_free, 1);
	EXPECT_EQ(t, fx_must_alloc(t, &f, K4, K4), WSTART);
	fx_destroy(t, &f);
}

static void test_guard_page(struct test *t)
{
	struct fx f;
	virt_addr_t a, b;
	char what[160];

	if (!fx_init(t, &f, WSTART, WEND))
		return;
	a = fx_must_alloc(t, &f, 2 * K4, K4);
	b = fx_must_alloc(t, &f, K4, K4);
	EXPECT_EQ(t, b, a + 2 * K4 + VMAP_GUARD_SIZE);
	vmap_area_describe(&f.s, a + 2 * K4, what, sizeof(what));
	if (!strstr(what, "the guard page of vmalloc area"))
		fail(t, "describe(first guard): %s", what);
	fx_destroy(t, &f);
}

/* Each alignment from a window start that is aligned to none of them:
 * the area starts at the first boundary. */
static void test_alignment(struct test *t)
{
	static const struct { const char *name; uint64_t align, size; } rows[] = {
		{ "4K", K4, 3 * K4 },
		{ "2M", M2, M2 },
		{ "1G", G1, G1 },
		{ "64K with a 1-page area", 64 * KiB, K4 },
	};
	virt_addr_t start = VMALLOC_START + 5 * K4;

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct fx f;
		struct vmap_area *va;

		if (!fx_init(t, &f, start, start + 4 * G1))
			return;
		/* a first 1-page area, so the search starts mid-window */
		fx_must_alloc(t, &f, K4, K4);
		if (fx_alloc(&f, rows[i].size, rows[i].align, VMAP_KIND_IOREMAP, &va))
			fail(t, "row %s: alloc failed", rows[i].name);
		else if (va->start != ALIGN_UP(start + 2 * K4, rows[i].align))
			fail(t, "row %s: area at %#lx, expected %#lx", rows[i].name,
			     va->start, ALIGN_UP(start + 2 * K4, rows[i].align));
		fx_destroy(t, &f);
	}
}

static void test_lowest_address_first(struct test *t)
{
	struct fx f;
	virt_addr_t a, b, c;

	if (!fx_init(t, &f, WSTART, WEND))
		return;
	a = fx_must_alloc(t, &f, K4, K4);
	b = fx_must_alloc(t, &f, 8 * K4, K4);
	c = fx_must_alloc(t, &f, K4, K4);
	fx_free(&f, b, VMAP_KIND_VMALLOC);
	fx_purge(&f);
	/* the hole after a is 9 pages; the tail is huge: the hole wins */
	EXPECT_EQ(t, fx_must_alloc(t, &f, 2 * K4, K4), b);
	/* 5 pages and a guard fill the rest of the hole exactly */
	EXPECT_EQ(t, fx_must_alloc(t, &f, 5 * K4, K4), b + 3 * K4);
	/* the hole is full: after c */
	EXPECT_EQ(t, fx_must_alloc(t, &f, K4, K4), c + 2 * K4);
	EXPECT_EQ(t, a, WSTART);
	fx_destroy(t, &f);
}

/* A hole exactly as long as the area and its guard: the free range's
 * node becomes the area; the reserve is not touched. */
static void test_exact_fit(struct test *t)
{
	struct fx f;
	virt_addr_t b;
	struct vmap_area *va, *area_node, *split_node;

	if (!fx_init(t, &f, WSTART, WEND))
		return;
	fx_must_alloc(t, &f, K4, K4);
	b = fx_must_alloc(t, &f, 3 * K4, K4);
	fx_must_alloc(t, &f, K4, K4);
	fx_free(&f, b, VMAP_KIND_VMALLOC);
	fx_purge(&f);
	ASSERT_EQ(t, f.s.nr_free, 2);
	fx_fill_reserve(&f);
	area_node = f.r.area;
	split_node = f.r.split;
	ASSERT_EQ(t, vmap_area_alloc(&f.s, 3 * K4, K4, VMAP_KIND_VMAP, &f.r, &va), 0);
	EXPECT_EQ(t, va->start, b);
	EXPECT_EQ(t, f.s.nr_free, 1);
	EXPECT_EQ(t, f.r.area, area_node);
	EXPECT_EQ(t, f.r.split, split_node);
	fx_destroy(t, &f);
}

/* A split in the middle of a free range takes both reserve nodes. */
static void test_split_uses_both_nodes(struct test *t)
{
	struct fx f;
	struct vmap_area *va;

	if (!fx_init(t, &f, WSTART, WEND))
		return;
	fx_fill_reserve(&f);
	ASSERT_EQ(t, vmap_area_alloc(&f.s, M2, M2, VMAP_KIND_IOREMAP, &f.r, &va), 0);
	EXPECT_EQ(t, va->start, ALIGN_UP(WSTART, M2));
	EXPECT_EQ(t, f.s.nr_free, 2);
	EXPECT_EQ(t, f.r.area, NULL);
	EXPECT_EQ(t, f.r.split, NULL);
	fx_destroy(t, &f);
}

static void test_fragment_then_coalesce(struct test *t)
{
	struct fx f;
	virt_addr_t a[10];

	if (!fx_init(t, &f, WSTART, WEND))
		return;
	for (int i = 0; i < 10; i++)
		a[i] = fx_must_alloc(t, &f, (uint64_t)(i + 1) * K4, K4);
	for (int i = 1; i < 10; i += 2)
		fx_free(&f, a[i], VMAP_KIND_VMALLOC);
	fx_purge(&f);
	EXPECT_EQ(t, f.s.nr_free, 5);   /* 4 holes; a[9]'s merged into the tail */
	for (int i = 0; i < 10; i += 2)
		fx_free(&f, a[i], VMAP_KIND_VMALLOC);
	fx_purge(&f);
	EXPECT_EQ(t, f.s.nr_free, 1);
	EXPECT_EQ(t, f.s.reserved_bytes, 0);
	fx_destroy(t, &f);
}

/* ---- Cases: the lazy states -------------------------------------------- */

static void test_lazy_not_reused(struct test *t)
{
	struct fx f;
	virt_addr_t a, b;
	char what[160];

	if (!fx_init(t, &f, WSTART, WEND))
		return;
	a = fx_must_alloc(t, &f, 4 * K4, K4);
	fx_free(&f, a, VMAP_KIND_VMALLOC);
	EXPECT_EQ(t, f.s.lazy_bytes, 5 * K4);
	b = fx_must_alloc(t, &f, 4 * K4, K4);
	if (b == a)
		fail(t, "a lazily freed range was lent again at %#lx before a purge", a);
	vmap_area_describe(&f.s, a + K4, what, sizeof(what));
	if (!strstr(what, "waiting for a TLB purge"))
		fail(t, "describe(lazy area): %s", what);
	fx_purge(&f);
	EXPECT_EQ(t, f.s.lazy_bytes, 0);
	EXPECT_EQ(t, fx_must_alloc(t, &f, 4 * K4, K4), a);
	fx_destroy(t, &f);
}

static void test_purge_coalesces(struct test *t)
{
	struct fx f;
	struct vmap_purge_batch batch;
	virt_addr_t a[4];

	if (!fx_init(t, &f, WSTART, WEND))
		return;
	for (int i = 0; i < 4; i++)
		a[i] = fx_must_alloc(t, &f, K4, K4);
	for (int i = 0; i < 4; i++)
		fx_free(&f, a[i], VMAP_KIND_VMALLOC);
	vmap_purge_begin(&f.s, &batch, &f.spares);
	EXPECT_EQ(t, batch.nr_areas, 4);
	EXPECT_EQ(t, batch.flush_start, a[0]);
	EXPECT_EQ(t, batch.flush_end, a[3] + K4);
	vmap_purge_finish(&f.s, &batch, &f.spares);
	EXPECT_EQ(t, f.s.nr_free, 1);
	EXPECT_EQ(t, f.spares.count, 4);   /* every area merged into a range */
	fx_drain_spares(&f);
	EXPECT_EQ(t, f.s.nr_lazy, 0);
	fx_destroy(t, &f);
}

/* An area made lazy after vmap_purge_begin() was not covered by that
 * shootdown: the matching finish must leave it reserved. */
static void test_purge_takes_only_earlier(struct test *t)
{
	struct fx f;
	struct vmap_purge_batch batch;
	virt_addr_t a, b;

	if (!fx_init(t, &f, WSTART, WEND))
		return;
	a = fx_must_alloc(t, &f, K4, K4);
	b = fx_must_alloc(t, &f, K4, K4);
	fx_free(&f, a, VMAP_KIND_VMALLOC);
	vmap_purge_begin(&f.s, &batch, &f.spares);
	fx_free(&f, b, VMAP_KIND_VMALLOC);
	vmap_purge_finish(&f.s, &batch, &f.spares);
	fx_drain_spares(&f);
	EXPECT_EQ(t, f.s.nr_lazy, 1);
	EXPECT_EQ(t, f.s.lazy_bytes, 2 * K4);
	char what_a[160], what_b[160];

	vmap_area_describe(&f.s, a, what_a, sizeof(what_a));
	vmap_area_describe(&f.s, b, what_b, sizeof(what_b));
	if (!strstr(what_a, "is in free range"))
		fail(t, "the purged area is not free: %s", what_a);
	if (!strstr(what_b, "waiting for a TLB purge") || !f.s.lazy_head ||
	    f.s.lazy_head->start != b || f.s.lazy_head->link)
		fail(t, "the area made lazy after the purge began is not the one "
		     "listed: %s", what_b);
	fx_purge(&f);
	EXPECT_EQ(t, f.s.nr_lazy, 0);
	fx_destroy(t, &f);
}

static void test_free_unmapped(struct test *t)
{
	struct fx f;
	struct vmap_area *va;

	if (!fx_init(t, &f, WSTART, WEND))
		return;
	ASSERT_EQ(t, fx_alloc(&f, 8 * K4, K4, VMAP_KIND_VMALLOC, &va), 0);
	vmap_area_free_unmapped(&f.s, va, &f.spares);
	fx_drain_spares(&f);
	EXPECT_EQ(t, f.s.nr_busy + f.s.nr_lazy, 0);
	EXPECT_EQ(t, fx_must_alloc(t, &f, K4, K4), WSTART);
	fx_destroy(t, &f);
}

/* ---- Cases: bad input, no room ----------------------------------------- */

static void test_bad_input(struct test *t)
{
	static const struct {
		const char *name;
		uint64_t size, align;
		enum vmap_kind kind;
		bool empty_reserve;
		const char *message;    /* printk must contain this */
	} rows[] = {
		{ "size_zero", 0, K4, VMAP_KIND_VMALLOC, false, "size 0: must not be zero" },
		{ "size_max", UINT64_MAX, K4, VMAP_KIND_VMALLOC, false,
		  "size 0xffffffffffffffff: wraps" },
		{ "size_plus_guard_wraps", UINT64_MAX - K4 + 1, K4, VMAP_KIND_VMALLOC,
		  false, "size 0xfffffffffffff000: wraps" },
		{ "size_not_pages", 100, K4, VMAP_KIND_VMALLOC, false,
		  "size 0x64: must be a multiple of 4 KiB" },
		{ "align_zero", K4, 0, VMAP_KIND_VMALLOC, false, "align 0: must be a power" },
		{ "align_2K", K4, 2 * KiB, VMAP_KIND_VMALLOC, false, "align 0x800:" },
		{ "align_12K", K4, 3 * K4, VMAP_KIND_VMALLOC, false, "align 0x3000:" },
		{ "kind_7", K4, K4, (enum vmap_kind)7, false, "kind 0x7:" },
		{ "reserve_empty", K4, K4, VMAP_KIND_VMALLOC, true,
		  "needs both nodes filled" },
	};
	struct fx f;

	if (!fx_init(t, &f, WSTART, WEND))
		return;
	fx_must_alloc(t, &f, K4, K4);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct vmap_node_reserve empty = { 0 };
		struct vmap_area *va = NULL;
		uint64_t before = fx_fingerprint(&f);
		int err;

		fx_fill_reserve(&f);
		shim_log_clear();
		err = vmap_area_alloc(&f.s, rows[i].size, rows[i].align, rows[i].kind,
				      rows[i].empty_reserve ? &empty : &f.r, &va);
		if (err != -EINVAL || va)
			fail(t, "row %s: returned %d, area %p; expected -EINVAL",
			     rows[i].name, err, (void *)va);
		if (!shim_log_contains(rows[i].message))
			fail(t, "row %s: printk said \"%s\", expected \"%s\"",
			     rows[i].name, shim_log, rows[i].message);
		if (fx_fingerprint(&f) != before || !f.r.area || !f.r.split)
			fail(t, "row %s: the space or the reserve changed", rows[i].name);
	}
	fx_destroy(t, &f);
}

static void test_out_of_space(struct test *t)
{
	static const struct { const char *name; uint64_t size, align; } rows[] = {
		{ "one_page_too_many", 4 * K4, K4 },   /* 5 pages needed, 4 free */
		{ "no_2M_boundary", K4, M2 },
		{ "1G_in_16_pages", K4, G1 },
		{ "larger_than_window", 32 * K4, K4 },
	};
	struct fx f;
	virt_addr_t start = VMALLOC_START + 3 * K4;

	if (!fx_init(t, &f, start, start + 16 * K4))
		return;
	fx_must_alloc(t, &f, 11 * K4, K4);   /* 12 of 16 pages reserved */
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct vmap_area *va = NULL;
		uint64_t before = fx_fingerprint(&f);
		struct vmap_node_reserve had;
		int err;

		fx_fill_reserve(&f);
		had = f.r;
		shim_log_clear();
		err = vmap_area_alloc(&f.s, rows[i].size, rows[i].align,
				      VMAP_KIND_VMALLOC, &f.r, &va);
		if (err != -ENOMEM || va)
			fail(t, "row %s: returned %d; expected -ENOMEM", rows[i].name, err);
		if (fx_fingerprint(&f) != before || f.r.area != had.area ||
		    f.r.split != had.split)
			fail(t, "row %s: the space or the reserve changed", rows[i].name);
		if (!shim_log_contains("no room"))
			fail(t, "row %s: printk said \"%s\"", rows[i].name, shim_log);
	}
	/* the 4 pages left still take a 3-page area */
	EXPECT_EQ(t, fx_must_alloc(t, &f, 3 * K4, K4), start + 12 * K4);
	fx_destroy(t, &f);
}

static void test_init_rejects_bad_bounds(struct test *t)
{
	static const struct { const char *name; virt_addr_t start, end; } rows[] = {
		{ "empty", WSTART, WSTART },
		{ "reversed", WEND, WSTART },
		{ "one_page", WSTART, WSTART + K4 },
		{ "start_unaligned", WSTART + 1, WEND },
		{ "end_unaligned", WSTART, WEND - 1 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct vmap_space s;
		struct vmap_area node;

		shim_log_clear();
		if (vmap_space_init(&s, rows[i].start, rows[i].end, &node) != -EINVAL)
			fail(t, "row %s: [%#lx, %#lx) accepted", rows[i].name,
			     rows[i].start, rows[i].end);
		else if (!shim_log_contains("vmap_space_init: [start"))
			fail(t, "row %s: printk said \"%s\"", rows[i].name, shim_log);
	}
}

/* The real window, and huge ioremaps in it. */
static void test_kernel_window(struct test *t)
{
	struct fx f;

	if (!fx_init(t, &f, VMALLOC_START, VMALLOC_END))
		return;
	EXPECT_EQ(t, fx_must_alloc(t, &f, K4, K4), VMALLOC_START);
	EXPECT_EQ(t, fx_must_alloc(t, &f, 3 * M2, M2), VMALLOC_START + M2);
	EXPECT_EQ(t, fx_must_alloc(t, &f, G1, G1), VMALLOC_START + G1);
	EXPECT_EQ(t, fx_must_alloc(t, &f, K4, K4), VMALLOC_START + K4 * 2);
	/* free: [8K+8K, 2M), [8M+4K, 1G), [2G+4K, end) */
	EXPECT_EQ(t, f.s.nr_free, 3);
	fx_destroy(t, &f);
}

/* ---- Cases: lookups and the messages of a bad free --------------------- */

static void test_lookup(struct test *t)
{
	struct fx f;
	virt_addr_t a, b;

	if (!fx_init(t, &f, WSTART, WEND))
		return;
	a = fx_must_alloc(t, &f, 4 * K4, K4);
	b = fx_must_alloc(t, &f, K4, K4);
	fx_free(&f, b, VMAP_KIND_VMALLOC);
	const struct {
		const char *name;
		virt_addr_t addr;
		virt_addr_t found, containing;   /* start of the result, or 0 */
		const char *describe;
	} rows[] = {
		{ "start", a, a, a, "is the start of vmalloc area" },
		{ "middle", a + 2 * K4 + 5, 0, a, "is the middle of vmalloc area" },
		{ "last_byte", a + 4 * K4 - 1, 0, a, "is the middle of vmalloc area" },
		{ "guard", a + 4 * K4, 0, a, "is the guard page of vmalloc area" },
		{ "lazy_start", b, 0, 0, "already freed and waiting for a TLB purge" },
		{ "lazy_guard", b + K4, 0, 0, "is the guard page of vmalloc area" },
		{ "free", b + 2 * K4, 0, 0, "is in free range" },
		{ "below", WSTART - 1, 0, 0, "is outside the vmap space" },
		{ "end", WEND, 0, 0, "is outside the vmap space" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct vmap_area *found, *containing;
		char what[160];

		spin_lock(&f.s.lock);
		found = vmap_area_find(&f.s, rows[i].addr);
		containing = vmap_area_find_containing(&f.s, rows[i].addr);
		spin_unlock(&f.s.lock);
		if ((found ? found->start : 0) != rows[i].found ||
		    (containing ? containing->start : 0) != rows[i].containing)
			fail(t, "row %s: find %#lx, containing %#lx; expected %#lx, %#lx",
			     rows[i].name, found ? found->start : 0,
			     containing ? containing->start : 0, rows[i].found,
			     rows[i].containing);
		vmap_area_describe(&f.s, rows[i].addr, what, sizeof(what));
		if (!strstr(what, rows[i].describe))
			fail(t, "row %s: describe said \"%s\", expected \"%s\"",
			     rows[i].name, what, rows[i].describe);
	}
	fx_destroy(t, &f);
}

static void test_bad_free_is_diagnosed(struct test *t)
{
	struct fx f;
	struct vmap_area *io, *unmapping;
	virt_addr_t v, lazy;

	if (!fx_init(t, &f, WSTART, WEND))
		return;
	v = fx_must_alloc(t, &f, 4 * K4, K4);
	fx_fill_reserve(&f);
	vmap_area_alloc(&f.s, 2 * K4, K4, VMAP_KIND_IOREMAP, &f.r, &io);
	lazy = fx_must_alloc(t, &f, K4, K4);
	fx_free(&f, lazy, VMAP_KIND_VMALLOC);
	unmapping = NULL;
	virt_addr_t u = fx_must_alloc(t, &f, K4, K4);
	vmap_area_begin_free(&f.s, u, VMAP_KIND_VMALLOC, &unmapping);

	const struct {
		const char *name;
		virt_addr_t addr;
		enum vmap_kind kind;
		const char *message;
	} rows[] = {
		{ "never_mapped", WEND - 16 * K4, VMAP_KIND_VMALLOC, "is in free range" },
		{ "middle_of_ioremap", io->start + K4, VMAP_KIND_IOREMAP,
		  "is the middle of ioremap area" },
		{ "guard_page", v + 4 * K4, VMAP_KIND_VMALLOC,
		  "is the guard page of vmalloc area" },
		{ "wrong_kind", v, VMAP_KIND_IOREMAP,
		  "cannot free 0xffffc90000003000 as a ioremap area: "
		  "0xffffc90000003000 is the start of vmalloc area" },
		{ "already_lazy", lazy, VMAP_KIND_VMALLOC, "already freed" },
		{ "being_freed", u, VMAP_KIND_VMALLOC, "which is being freed" },
		{ "outside", 0x1000, VMAP_KIND_VMALLOC, "outside the vmap space" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		uint64_t before = fx_fingerprint(&f);
		struct vmap_area *va = NULL;
		int err;

		shim_log_clear();
		err = vmap_area_begin_free(&f.s, rows[i].addr, rows[i].kind, &va);
		if (err != -EINVAL || va)
			fail(t, "row %s: returned %d; expected -EINVAL", rows[i].name, err);
		if (!shim_log_contains(rows[i].message))
			fail(t, "row %s: printk said \"%s\", expected \"%s\"",
			     rows[i].name, shim_log, rows[i].message);
		if (fx_fingerprint(&f) != before)
			fail(t, "row %s: the space changed", rows[i].name);
	}
	vmap_area_lazy_free(&f.s, unmapping);
	fx_destroy(t, &f);
}

/* ---- Cases: the lock rule and the checker can fail --------------------- */

static void test_lookup_needs_lock(struct test *t)
{
	struct fx f;
	jmp_buf panicked, *harness = shim_expect_panic;

	if (!fx_init(t, &f, WSTART, WEND))
		return;
	shim_expect_panic = &panicked;
	if (setjmp(panicked) == 0) {
		vmap_area_find(&f.s, WSTART);
		fail(t, "vmap_area_find without the lock did not panic");
	} else if (!strstr(shim_panic_message, "spin_is_held_by_me")) {
		fail(t, "panic said \"%s\"", shim_panic_message);
	}
	shim_expect_panic = harness;
	fx_destroy(t, &f);
}

/* Negative controls: break each kind of invariant by hand and see the
 * checker name it; then mend it. */
static void test_checker_sees_damage(struct test *t)
{
	struct fx f;
	struct vmap_area *first_free, *area;
	virt_addr_t a;

	if (!fx_init(t, &f, WSTART, WEND))
		return;
	f.s.debug = VMAP_DEBUG_OFF;
	a = fx_must_alloc(t, &f, K4, K4);
	fx_must_alloc(t, &f, K4, K4);
	fx_free(&f, a, VMAP_KIND_VMALLOC);
	fx_purge(&f);   /* free: [a, a+2p) and the tail */
	first_free = container_of(avl_first(&f.s.free_tree), struct vmap_area, node);
	area = container_of(f.s.busy_tree.root, struct vmap_area, node);

	const struct {
		const char *name;
		uint64_t *field;
		uint64_t bad;
		const char *expected;
	} rows[] = {
		{ "subtree_max", &first_free->subtree_max, 3 * K4, "subtree_max" },
		{ "free_unaligned", &first_free->start, a + 1, "unaligned" },
		{ "area_overlaps_free", &area->start, a + K4, "a gap or an overlap" },
		{ "area_past_window", &area->end, WEND, "outside" },
		{ "nr_free", &f.s.nr_free, 7, "nr_free" },
		{ "reserved_bytes", &f.s.reserved_bytes, 0, "reserved_bytes" },
		{ "freeing_bytes", &f.s.freeing_bytes, 2 * K4, "do not cover" },
		{ "nr_lazy", &f.s.nr_lazy, 1, "nr_unmapping and nr_lazy" },
		{ "lazy_bytes", &f.s.lazy_bytes, K4, "lazy_bytes" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		uint64_t good = *rows[i].field;
		const char *broken;

		*rows[i].field = rows[i].bad;
		shim_log_clear();
		broken = vmap_space_check(&f.s);
		*rows[i].field = good;
		if (!broken || !strstr(broken, rows[i].expected))
			fail(t, "row %s: checker said \"%s\", expected \"%s\"",
			     rows[i].name, broken ? broken : "(all fine)",
			     rows[i].expected);
	}
	fx_destroy(t, &f);
}

/* ---- The tables -------------------------------------------------------- */

DEFINE_CASES(alloc_cases,
	{ "alloc_free_round_trip", test_round_trip },
	{ "guard_page_after_every_area", test_guard_page },
	{ "alignment_4K_2M_1G", test_alignment },
	{ "lowest_address_first", test_lowest_address_first },
	{ "exact_fit_reuses_the_free_node", test_exact_fit },
	{ "split_uses_both_reserve_nodes", test_split_uses_both_nodes },
	{ "fragmentation_then_coalescing", test_fragment_then_coalesce },
	{ "kernel_window_with_huge_ioremaps", test_kernel_window }
);

DEFINE_CASES(lazy_cases,
	{ "lazy_range_not_reused_before_purge", test_lazy_not_reused },
	{ "purge_returns_and_coalesces", test_purge_coalesces },
	{ "purge_takes_only_areas_lazy_before_it", test_purge_takes_only_earlier },
	{ "free_unmapped_returns_at_once", test_free_unmapped }
);

DEFINE_CASES(error_cases,
	{ "bad_input_is_rejected_and_named", test_bad_input },
	{ "out_of_space_changes_nothing", test_out_of_space },
	{ "init_rejects_bad_bounds", test_init_rejects_bad_bounds },
	{ "lookup_start_middle_guard_free", test_lookup },
	{ "bad_free_is_diagnosed", test_bad_free_is_diagnosed },
	{ "lookup_without_lock_panics", test_lookup_needs_lock },
	{ "checker_sees_damage", test_checker_sees_damage }
);
