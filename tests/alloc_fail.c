/* tests/alloc_fail.c: every frame allocation that a mapping call makes
 * may fail, and the call then fails cleanly.
 *
 * For each row (a call, a size, a placement), the call is first made
 * with the allocator working, counting its frame allocations (data
 * frames, page tables from kpt_map()'s preallocation, and, with the
 * vmap node pool drained first, the pool's new frame).  Then for every
 * N from 0 to that count it is made again with frame_fail_countdown =
 * N: below the count the Nth allocation fails and the call must return
 * its error with a message; at the count it must succeed at the same
 * address.  After each, undone and purged, the frames per use, the
 * page tables linked per level, the vmalloc counters and the lazy pages
 * must be exactly what they were.  The whole table runs on the boot CPU
 * and again on another CPU. */
#include "arch/x86/arch.h"
#include "kernel/clock.h"
#include "kernel/string.h"
#include "tests/alloc_fail.h"

enum af_call { AF_VMALLOC, AF_VZALLOC, AF_VMAP, AF_IOREMAP, AF_IOREMAP_WC,
	       AF_REPLACE_AT };

/* Where the call's range goes. */
enum af_place {
	AF_LOWEST,       /* wherever the window's lowest fit puts it */
	AF_ACROSS_2M,    /* spacers first: its first page ends at a 2 MiB */
	AF_ACROSS_1G,    /*   (1 GiB) boundary of the vmalloc window */
	AF_FIXED,        /* ioremap_replace_at: AF_VA(0) + .at */
};

static const struct af_call_info {
	const char *name;
	const char *message;     /* in the last message of a failed call */
	unsigned int counters;   /* vm_stats moved by a call and its undo */
} af_calls[] = {
	[AF_VMALLOC]    = { "vmalloc",    "vmalloc:",    AF_VMALLOCS | AF_VFREES },
	[AF_VZALLOC]    = { "vzalloc",    "vzalloc:",    AF_VMALLOCS | AF_VFREES },
	[AF_VMAP]       = { "vmap",       "vmap:",       AF_VMAPS | AF_VUNMAPS },
	[AF_IOREMAP]    = { "ioremap",    "ioremap:",    AF_IOREMAPS | AF_IOUNMAPS },
	[AF_IOREMAP_WC] = { "ioremap_wc", "ioremap_wc:", AF_IOREMAPS | AF_IOUNMAPS },
	/* its only message is kpt_map()'s, naming va, size and the level */
	[AF_REPLACE_AT] = { "ioremap_replace_at", "no free frame", 0 },
};

struct af_row {
	const char *name;
	enum af_call call;
	uint64_t size;
	enum af_place place;
	uint64_t pa_offset;   /* from af_hole_pa(): PAGE_SIZE gives 4 KiB
				 pages, 2 MiB 2 MiB pages, 0 1 GiB pages */
	uint64_t at;          /* AF_FIXED: from AF_VA(0) */
	bool pool_empty;      /* drain the vmap node pool before the call */
};

#define P4K   PAGE_SIZE
#define P2M   (2 * MiB)
#define TWO   (2 * PAGE_SIZE)

static const struct af_row af_rows[] = {
	{ "vmalloc 4 KiB",             AF_VMALLOC,    P4K, AF_LOWEST,    0,   0,                  false },
	{ "vmalloc across 2 MiB",      AF_VMALLOC,    TWO, AF_ACROSS_2M, 0,   0,                  false },
	{ "vmalloc across 1 GiB",      AF_VMALLOC,    TWO, AF_ACROSS_1G, 0,   0,                  false },
	{ "vmalloc 4 KiB, pool empty", AF_VMALLOC,    P4K, AF_LOWEST,    0,   0,                  true },
	{ "vzalloc 4 KiB",             AF_VZALLOC,    P4K, AF_LOWEST,    0,   0,                  false },
	{ "vzalloc across 2 MiB",      AF_VZALLOC,    TWO, AF_ACROSS_2M, 0,   0,                  false },
	{ "vzalloc across 1 GiB",      AF_VZALLOC,    TWO, AF_ACROSS_1G, 0,   0,                  false },
	{ "vmap 4 KiB",                AF_VMAP,       P4K, AF_LOWEST,    0,   0,                  false },
	{ "vmap across 2 MiB",         AF_VMAP,       TWO, AF_ACROSS_2M, 0,   0,                  false },
	{ "vmap across 1 GiB",         AF_VMAP,       TWO, AF_ACROSS_1G, 0,   0,                  false },
	{ "vmap 4 KiB, pool empty",    AF_VMAP,       P4K, AF_LOWEST,    0,   0,                  true },
	{ "ioremap 4 KiB",             AF_IOREMAP,    P4K, AF_LOWEST,    P4K, 0,                  false },
	{ "ioremap across 2 MiB",      AF_IOREMAP,    TWO, AF_ACROSS_2M, P4K, 0,                  false },
	{ "ioremap across 1 GiB",      AF_IOREMAP,    TWO, AF_ACROSS_1G, P4K, 0,                  false },
	{ "ioremap 2 MiB page",        AF_IOREMAP,    P2M, AF_LOWEST,    P2M, 0,                  false },
	{ "ioremap 1 GiB page",        AF_IOREMAP,    GiB, AF_LOWEST,    0,   0,                  false },
	{ "ioremap 4 KiB, pool empty", AF_IOREMAP,    P4K, AF_LOWEST,    P4K, 0,                  true },
	{ "ioremap_wc 4 KiB",          AF_IOREMAP_WC, P4K, AF_LOWEST,    P4K, 0,                  false },
	{ "ioremap_wc across 2 MiB",   AF_IOREMAP_WC, TWO, AF_ACROSS_2M, P4K, 0,                  false },
	{ "ioremap_wc across 1 GiB",   AF_IOREMAP_WC, TWO, AF_ACROSS_1G, P4K, 0,                  false },
	{ "ioremap_wc 2 MiB page",     AF_IOREMAP_WC, P2M, AF_LOWEST,    P2M, 0,                  false },
	{ "replace_at 4 KiB",          AF_REPLACE_AT, P4K, AF_FIXED,     P4K, 0,                  false },
	{ "replace_at across 2 MiB",   AF_REPLACE_AT, TWO, AF_FIXED,     P4K, GiB + P2M - P4K,    false },
	{ "replace_at across 1 GiB",   AF_REPLACE_AT, TWO, AF_FIXED,     P4K, 3 * GiB - P4K,      false },
	{ "replace_at 2 MiB page",     AF_REPLACE_AT, P2M, AF_FIXED,     P2M, 4 * GiB,            false },
	{ "replace_at 1 GiB page",     AF_REPLACE_AT, GiB, AF_FIXED,     0,   6 * GiB,            false },
};

/* What one row needs around its call. */
struct af_ctx {
	const struct af_row *row;
	struct frame *vmap_pages[2];   /* the caller's frames, for vmap */
	virt_addr_t target;            /* where the range must land; 0: any */
	void *spacers[AF_SPACERS_MAX];
	struct vmap_area *held;        /* nodes drained from the pool */
};

/* Make the call; 0 and its address, or an error. */
static int af_call_make(struct af_ctx *c, virt_addr_t *va)
{
	const struct af_row *r = c->row;
	phys_addr_t pa = af_hole_pa() + r->pa_offset;
	void *p = NULL;
	int err;

	switch (r->call) {
	case AF_VMALLOC:    p = vmalloc(r->size); break;
	case AF_VZALLOC:    p = vzalloc(r->size); break;
	case AF_VMAP:       p = vmap(c->vmap_pages, r->size / PAGE_SIZE, PT_PROT_RW); break;
	case AF_IOREMAP:    p = ioremap(pa, r->size); break;
	case AF_IOREMAP_WC: p = ioremap_wc(pa, r->size); break;
	case AF_REPLACE_AT:
		err = ioremap_replace_at(c->target, pa, r->size, PT_CACHE_UC);
		*va = err ? 0 : c->target;
		return err;
	}
	*va = (virt_addr_t)p;
	return p ? 0 : -ENOMEM;
}

/* Undo a call that succeeded. */
static void af_call_undo(struct af_ctx *c, virt_addr_t va)
{
	struct pt_gather g;

	switch (c->row->call) {
	case AF_VMALLOC:
	case AF_VZALLOC:    vfree((void *)va); break;
	case AF_VMAP:       vunmap((void *)va); break;
	case AF_IOREMAP:
	case AF_IOREMAP_WC: iounmap((void *)va); break;
	case AF_REPLACE_AT:
		pt_gather_init(&g);
		kpt_unmap(va, c->row->size, &g);
		shootdown_flush_and_free(&g);
		break;
	}
}

/* The call at countdown @n (-1: off), with the pool drained if the row
 * says so.  Returns the error; *left is the countdown afterwards and
 * *allocs the frames the call allocated. */
static int af_call_at(struct af_ctx *c, long n, virt_addr_t *va, long *left,
		      uint64_t *allocs)
{
	uint64_t allocs0;
	int err;

	if (c->row->pool_empty)
		af_pool_drain(&c->held);
	af_printk_last_clear();
	allocs0 = frame_stats.allocs;
	frame_fail_countdown = n;
	err = af_call_make(c, va);
	*left = frame_fail_countdown;
	*allocs = frame_stats.allocs - allocs0;
	frame_fail_countdown = -1;
	if (c->row->pool_empty)
		af_pool_refill(&c->held);
	return err;
}

static bool af_ctx_setup(struct selftest *t, struct af_ctx *c)
{
	const struct af_row *r = c->row;
	virt_addr_t low;

	vm_purge_lazy_now();
	for (size_t i = 0; i < ARRAY_SIZE(c->vmap_pages); i++)
		if (!(c->vmap_pages[i] = frame_alloc(0, FRAME_KERNEL)))
			return EXPECT_TRUE(t, c->vmap_pages[i] != NULL);
	if (r->place == AF_FIXED) {
		c->target = AF_VA(0) + r->at;
		return true;
	}
	if (r->place == AF_LOWEST)
		return true;
	low = af_lowest_free();
	c->target = r->place == AF_ACROSS_2M
		? ALIGN_UP(low + 3 * PAGE_SIZE, 2 * MiB) - PAGE_SIZE
		: ALIGN_UP(low + 4 * MiB, GiB) - PAGE_SIZE;
	return af_spacers_place(t, c->target, c->spacers);
}

static void af_ctx_teardown(struct af_ctx *c)
{
	af_spacers_release(c->spacers);
	for (size_t i = 0; i < ARRAY_SIZE(c->vmap_pages); i++)
		if (c->vmap_pages[i])
			frame_free(c->vmap_pages[i], FRAME_KERNEL);
}

/* One value of N; @count allocations in all, the call lands at @want. */
static void af_sweep_one(struct selftest *t, struct af_ctx *c, long n,
			 uint64_t count, virt_addr_t want)
{
	const struct af_call_info *ci = &af_calls[c->row->call];
	struct af_state before = af_state_now(), after;
	virt_addr_t va;
	uint64_t allocs;
	long left;
	int err = af_call_at(c, n, &va, &left, &allocs);
	char what[96];

	snprintf(what, sizeof(what), "%s, N=%ld of %llu", c->row->name, n,
		 (unsigned long long)count);
	if ((uint64_t)n < count) {
		if (err == 0 || left != -1 || allocs != (uint64_t)n)
			selftest_fail_at(t, __FILE__, __LINE__, "%s: %s returned %d "
					 "at %#llx after %llu allocations, countdown "
					 "left %ld; expected an error after %ld, the "
					 "countdown spent (-1)", what, ci->name, err,
					 (unsigned long long)va,
					 (unsigned long long)allocs, left, n);
		else if (!printk_last_contains(ci->message))
			selftest_fail_at(t, __FILE__, __LINE__, "%s: %s failed with "
					 "%d but its last message lacks \"%s\"",
					 what, ci->name, err, ci->message);
	} else if (err != 0 || va != want || left != 0 || allocs != count) {
		selftest_fail_at(t, __FILE__, __LINE__, "%s: %s returned %d at "
				 "%#llx after %llu allocations, countdown left %ld; "
				 "expected 0 at %#llx, countdown 0", what, ci->name,
				 err, (unsigned long long)va,
				 (unsigned long long)allocs, left,
				 (unsigned long long)want);
	}
	if (!err)
		af_call_undo(c, va);
	vm_purge_lazy_now();
	after = af_state_now();
	af_state_expect_equal(t, what, &before, &after, err ? 0 : ci->counters);
}

struct af_totals {
	unsigned int rows, skipped;
	uint64_t points, values;
};

static void af_sweep_row(struct selftest *t, const struct af_row *r,
			 struct af_totals *tot)
{
	struct af_ctx c = { .row = r };
	virt_addr_t want;
	uint64_t count;
	long left;

	if (r->size == GiB && !cpu_features.gbpages) {
		tot->skipped++;   /* a 1 GiB request would map 2 MiB pages */
		return;
	}
	if (!af_ctx_setup(t, &c))
		goto out;
	if (!EXPECT_EQ(t, af_call_at(&c, -1, &want, &left, &count), 0))
		goto out;
	af_call_undo(&c, want);
	vm_purge_lazy_now();   /* else the first failure would purge and retry */
	if (c.target && want != c.target)
		selftest_fail_at(t, __FILE__, __LINE__, "%s: landed at %#llx, "
				 "placed for %#llx", r->name,
				 (unsigned long long)want,
				 (unsigned long long)c.target);
	for (long n = 0; (uint64_t)n <= count; n++)
		af_sweep_one(t, &c, n, count, want);
	tot->rows++;
	tot->points += count;
	tot->values += count + 1;
out:
	af_ctx_teardown(&c);
}

static void af_sweep_all(struct selftest *t, unsigned int cpu)
{
	struct af_totals tot = { 0 };
	uint64_t t0 = clock_ns();

	for (size_t i = 0; i < ARRAY_SIZE(af_rows); i++)
		af_sweep_row(t, &af_rows[i], &tot);
	selftest_diag(t, "CPU %u: %u rows (%u skipped: no 1 GiB pages), %llu "
		      "allocation points, %llu values of N, %llu ms", cpu,
		      tot.rows, tot.skipped, (unsigned long long)tot.points,
		      (unsigned long long)tot.values,
		      (unsigned long long)((clock_ns() - t0) / 1000000));
	EXPECT_GE(t, tot.points, tot.rows);   /* every row allocates */
}

static void test_every_allocation_fails_cleanly(struct selftest *t)
{
	af_sweep_all(t, 0);
}

/* The other CPUs wait in the selftest run, serving the shootdowns. */
static void af_sweep_body(struct selftest *t, unsigned int cpu, void *arg)
{
	(void)arg;
	if (cpu == smp_num_online() - 1)
		af_sweep_all(t, cpu);
}

static void test_every_allocation_fails_cleanly_on_another_cpu(struct selftest *t)
{
	if (vm_need_two_cpus(t))
		selftest_run_on_all_cpus(t, af_sweep_body, NULL);
}

static const struct selftest_case alloc_fail_cases[] = {
	{ "every_allocation_fails_cleanly", test_every_allocation_fails_cleanly },
	{ "every_allocation_fails_cleanly_on_another_cpu",
	  test_every_allocation_fails_cleanly_on_another_cpu },
};
SELFTEST_SUITE(alloc_fail, alloc_fail_cases);
