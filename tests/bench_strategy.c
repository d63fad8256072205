/* bench_strategy.c: the flush strategies side by side (tests/bench.c's
 * case flush_strategies).
 *
 * The same workload, areas mapped and then unmapped one by one, under
 * three flush strategies: a shootdown per page (the naive way, built
 * here from kpt_unmap() and shootdown_flush_and_free()), one per unmap
 * (vfree_now()), and the lazy purge that the kernel's vfree() uses.
 * vmap areas, which vunmap always flushes at once, are the eager
 * reference.  Per unmap:
 * shootdowns, IPIs sent and served, cycles (the median batch), page
 * tables allocated and freed.  Asserted: the shootdown count each policy
 * promises, and lazy < per unmap <= per page in IPIs.
 */
#include "kernel/clock.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/string.h"
#include "mm/frame.h"
#include "mm/kpt.h"
#include "mm/shootdown.h"
#include "mm/vmalloc.h"
#include "tests/bench.h"
#include "tests/vm_common.h"

static const struct workload {
	const char *name, *label;
	uint64_t pages;
	unsigned int count_full, count_tiny;
	bool vmap;                      /* vmap + vunmap: always eager */
} workloads[] = {
	{ "vfree_4k",  "vfree, 4 KiB areas",   1,  1000, 20, false },
	{ "vfree_64p", "vfree, 64-page areas", 64, 100,  4,  false },
	{ "vunmap_64p", "vunmap, 64-page areas", 64, 100, 4,  true },
};

enum { PER_PAGE, PER_UNMAP, LAZY, EAGER };

static const struct policy {
	const char *name, *label;
} policies[] = {
	[PER_PAGE]  = { "per_page",  "per page" },
	[PER_UNMAP] = { "per_unmap", "per unmap" },
	[LAZY]      = { "lazy",      "lazy" },
	[EAGER]     = { "eager",     "eager" },   /* vunmap's own */
};

static bool policy_applies(const struct workload *w, const struct policy *p)
{
	return w->vmap == (p == &policies[EAGER]);
}

#define MAX_AREAS 1000       /* the largest count above */
#define MAX_BATCHES 5        /* bench=full */
static void *areas[MAX_AREAS];
static struct frame *vmap_frames[64];

/* The naive way: one shootdown per page.  Every page but the last is
 * unmapped and shot down alone; vfree_now() unmaps the last, shoots it
 * down and frees the area's frames (which stay the area's until then). */
static void vfree_per_page(void *addr, uint64_t pages)
{
	struct pt_gather g;

	for (uint64_t i = 0; i + 1 < pages; i++) {
		pt_gather_init(&g);
		if (kpt_unmap((virt_addr_t)addr + i * PAGE_SIZE, PAGE_SIZE, &g))
			return;   /* not reached: the area is mapped */
		shootdown_flush_and_free(&g);
	}
	vfree_now(addr);
}

static void unmap_one(const struct workload *w, size_t policy, void *addr)
{
	switch (policy) {
	case PER_PAGE:
		vfree_per_page(addr, w->pages);
		break;
	case PER_UNMAP:
		vfree_now(addr);
		break;
	case LAZY:
		vfree(addr);
		break;
	case EAGER:
		vunmap(addr);
		break;
	}
}

/* Map @count areas of @w (not timed), then unmap them all under
 * @policy: the timed part, with the purge that lazy owes. */
static bool strategy_batch(const struct workload *w, const struct policy *p,
			   unsigned int count, uint64_t *cycles,
			   struct bench_counters *d)
{
	struct bench_counters before, after;
	unsigned int mapped;
	uint64_t start;

	vm_purge_lazy_now();
	before = bench_counters_now();
	for (mapped = 0; mapped < count; mapped++) {
		areas[mapped] = w->vmap ? vmap(vmap_frames, w->pages, PT_PROT_RW)
					: vmalloc(w->pages * PAGE_SIZE);
		if (!areas[mapped])
			break;
		vm_fill(areas[mapped], w->pages, mapped);   /* TLB entries */
	}
	start = clock_cycles();
	for (unsigned int i = 0; i < mapped; i++)
		unmap_one(w, (size_t)(p - policies), areas[i]);
	if (p == &policies[LAZY])
		vm_purge_lazy_now();
	*cycles = clock_cycles() - start;
	after = bench_counters_now();
	*d = bench_counters_delta(&before, &after);
	return mapped == count;
}


void bench_flush_strategies(struct selftest *t)
{
	unsigned int batches = bench_pick(5, 1), warm = 1, n = smp_num_online();
	static uint64_t batch_cycles[ARRAY_SIZE(workloads)][ARRAY_SIZE(policies)][MAX_BATCHES];
	static struct bench_counters sum[ARRAY_SIZE(workloads)][ARRAY_SIZE(policies)];
	char f[6][24];

	if (!bench_begin(t))
		return;
	memset(sum, 0, sizeof(sum));
	for (size_t i = 0; i < ARRAY_SIZE(vmap_frames); i++) {
		vmap_frames[i] = frame_alloc(0, FRAME_KERNEL);
		ASSERT_TRUE(t, vmap_frames[i] != NULL);
	}
	/* Batches outermost and policies interleaved: a slow moment of the
	 * host lands on every strategy alike. */
	for (unsigned int b = 0; b < warm + batches; b++)
		for (size_t w = 0; w < ARRAY_SIZE(workloads); w++)
			for (size_t p = 0; p < ARRAY_SIZE(policies); p++) {
				unsigned int count = bench_pick(workloads[w].count_full,
								workloads[w].count_tiny);
				struct bench_counters d;
				uint64_t cycles;

				if (!policy_applies(&workloads[w], &policies[p]))
					continue;
				if (!strategy_batch(&workloads[w], &policies[p], count,
						    &cycles, &d))
					selftest_fail_at(t, __FILE__, __LINE__,
						"%s: could not map %u areas",
						workloads[w].label, count);
				bench_expect_ipis_consistent(t, &d, workloads[w].label);
				if (b < warm)
					continue;
				batch_cycles[w][p][b - warm] = cycles;
				bench_counters_add(&sum[w][p], &d);
			}
	for (size_t i = 0; i < ARRAY_SIZE(vmap_frames); i++)
		frame_free(vmap_frames[i], FRAME_KERNEL);

	selftest_diag(t, "the same unmaps under each flush policy, per unmap "
		      "(%u batches; cycles: the median batch)", batches);
	selftest_diag(t, "%-22s %-9s %11s %9s %10s %10s %9s %9s", "workload",
		      "policy", "shootdowns", "IPIs", "IPIs recv", "cycles",
		      "PT alloc", "PT free");
	for (size_t w = 0; w < ARRAY_SIZE(workloads); w++) {
		unsigned int count = bench_pick(workloads[w].count_full,
						workloads[w].count_tiny);
		uint64_t ops = (uint64_t)count * batches;
		uint64_t sd[ARRAY_SIZE(policies)] = { 0 }, ipis[ARRAY_SIZE(policies)] = { 0 };

		for (size_t p = 0; p < ARRAY_SIZE(policies); p++) {
			const struct bench_counters *s = &sum[w][p];
			uint64_t cycles_milli, median;
			char row[BENCH_NAME_MAX];

			if (!policy_applies(&workloads[w], &policies[p]))
				continue;
			/* The median batch, per unmap. */
			bench_sort_u64(batch_cycles[w][p], batches);
			median = batch_cycles[w][p][batches / 2];
			cycles_milli = bench_div_milli(median, count);
			snprintf(row, sizeof(row), "strategy.%s_%s", workloads[w].name,
				 policies[p].name);
			bench_figuref(bench_div_milli(s->shootdowns, ops), "shootdowns/op",
				      "%s.shootdowns", row);
			bench_figuref(bench_div_milli(s->ipis_received, ops), "IPIs/op",
				      "%s.ipis_recv", row);
			bench_figuref(cycles_milli, "cycles/op", "%s.cycles", row);
			bench_figuref(bench_div_milli(clock_cycles_to_ns(median), count),
				      "ns/op", "%s.ns", row);
			bench_counter_figures(row, s, ops);
			selftest_diag(t, "%-22s %-9s %11s %9s %10s %10s %9s %9s",
				workloads[w].label, policies[p].label,
				bench_fmt_milli(f[0], sizeof(f[0]), bench_div_milli(s->shootdowns, ops)),
				bench_fmt_milli(f[1], sizeof(f[1]), bench_div_milli(s->ipis_sent, ops)),
				bench_fmt_milli(f[2], sizeof(f[2]), bench_div_milli(s->ipis_received, ops)),
				bench_fmt_milli(f[3], sizeof(f[3]), cycles_milli),
				bench_fmt_milli(f[4], sizeof(f[4]), bench_div_milli(s->pt_allocated, ops)),
				bench_fmt_milli(f[5], sizeof(f[5]), bench_div_milli(s->pt_freed, ops)));
			sd[p] = s->shootdowns;
			ipis[p] = s->ipis_sent;
		}
		/* The shape each policy promises. */
		if (workloads[w].vmap) {
			EXPECT_EQ(t, sd[EAGER], ops);                   /* one each */
			continue;
		}
		EXPECT_EQ(t, sd[PER_PAGE], ops * workloads[w].pages);
		EXPECT_EQ(t, sd[PER_UNMAP], ops);
		EXPECT_GE(t, sd[LAZY], batches);          /* a purge per batch, */
		EXPECT_LT(t, sd[LAZY], sd[PER_UNMAP]);    /* not one per unmap */
		if (n >= 2) {
			EXPECT_LT(t, ipis[LAZY], ipis[PER_UNMAP]);
			EXPECT_LE(t, ipis[PER_UNMAP], ipis[PER_PAGE]);
		}
	}
	bench_end();
}

static const char *const strategy_columns[] = {
	"shootdowns", "ipis", "ipis_recv", "cycles", "ns", "pt_alloc", "pt_free",
};

unsigned int bench_strategy_missing_figures(struct selftest *t)
{
	unsigned int missing = 0;

	for (size_t w = 0; w < ARRAY_SIZE(workloads); w++)
		for (size_t p = 0; p < ARRAY_SIZE(policies); p++)
			for (size_t c = 0; policy_applies(&workloads[w], &policies[p]) &&
			     c < ARRAY_SIZE(strategy_columns); c++)
				missing += bench_expect_figure(t, "strategy.%s_%s.%s",
					workloads[w].name, policies[p].name,
					strategy_columns[c]);
	return missing;
}
