/* tests/bench.c: the benchmark suite behind `make bench` (docs/bench.md).
 *
 *   vmalloc_pairs       vmalloc + touch every page + vfree, 4 KiB to 2 MiB,
 *                       on one CPU and on every CPU at once
 *   ioremap_pairs       ioremap + one read + iounmap, 4 KiB, 2 MiB, 1 GiB
 *   shootdown_rounds    one shootdown round for 1, 32 and 512 pages, and
 *                       the broadcast IPI + acks floor it is built on,
 *                       measured interleaved in the same boot
 *   flush_strategies    the same unmaps under three flush strategies
 *                       (one shootdown per page, per unmap, lazy);
 *                       tests/bench_strategy.c
 *   linux_table         Linux's workload with Linux's loop counts, each
 *                       row against the floor (the cheapest map, touch,
 *                       unmap); tests/bench_linux.c
 *   page_tables_back    the live page tables per level are what they
 *                       were when the suite began (a leak check)
 *   every_figure_present
 *
 * Each measurement runs warm-up rounds first, then repeated rounds:
 * latencies are their median and 99th percentile, throughputs the rounds
 * over the wall time (the purge they owe included), counts per operation
 * the totals over the rounds.  Printed as a table and as "bench: <name>
 * <value> <unit>" lines (tests/bench.h).  bench=tiny, the default, runs a
 * few rounds of each so that every `make test` boot keeps the bench
 * working and checks its shape; bench=full is `make bench`.
 *
 * The cases assert the shape of what they measure, never a time: every
 * operation succeeded, every figure is there, and the counters agree
 * with each other and with the strategy (one broadcast per shootdown,
 * served by every other CPU; per page >= per unmap > lazy).
 */
#include "arch/x86/arch.h"
#include "arch/x86/percpu.h"
#include "kernel/clock.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/string.h"
#include "mm/frame.h"
#include "mm/gather.h"
#include "mm/layout.h"
#include "mm/shootdown.h"
#include "mm/vmalloc.h"
#include "tests/bench.h"
#include "tests/bench_linux.h"
#include "tests/vm_common.h"

static unsigned int warmup_rounds(unsigned int rounds)
{
	return bench_size == BENCH_FULL ? MAX(rounds / 10, 2) : 1;
}

/* Latency samples in cycles: a row per CPU (or per figure). */
static uint64_t samples[MAX_CPUS][BENCH_MAX_ROUNDS];
#define FAILED_OP UINT64_MAX

/* ---- where huge ioremaps can go ---- */

/* Physical memory above RAM with nothing behind it (reads give all
 * ones): the first GiB boundary past RAM, if a whole GiB fits there
 * below 3 GiB, where QEMU's PCI hole may start.  0 if none. */
static phys_addr_t io_hole(void)
{
	phys_addr_t hole = ALIGN_UP(frame_count * FRAME_SIZE, GiB);

	return hole + GiB <= 3 * GiB ? hole : 0;
}

/* ---- facts about the run ---- */

static void test_facts(struct selftest *t)
{
	if (!bench_begin(t))
		return;
	bench_figures_clear();
	bench_page_tables_remember();
	bench_figure("cpus", smp_num_online() * BENCH_MILLI, "cpus");
	bench_figure("tsc_mhz", clock_hz() / 1000000 * BENCH_MILLI, "MHz");
	bench_figure("size_full", (bench_size == BENCH_FULL) * BENCH_MILLI, "bool");
	bench_figure("gbpages", cpu_features.gbpages * BENCH_MILLI, "bool");
	bench_figure("huge_ioremap", (io_hole() != 0) * BENCH_MILLI, "bool");
	selftest_diag(t, "%u CPUs, TSC at %llu MHz, bench=%s; lazy limit %llu "
		      "pages; under TCG every time reflects the host as much "
		      "as the design", smp_num_online(),
		      (unsigned long long)(clock_hz() / 1000000),
		      bench_size == BENCH_FULL ? "full" : "tiny",
		      (unsigned long long)vm_lazy_max_pages());
	bench_end();
}

/* ---- pairs: one operation timed many times, on one or every CPU ---- */

typedef uint64_t (*pair_fn)(const void *row);

struct one_cpu_result {
	struct bench_latency lat;
	uint64_t ops_milli;             /* per second, purge included */
	struct bench_counters d;        /* the timed rounds and the purge */
	unsigned int failures;
};

/* @rounds calls of @op here, after warm-up; then the purge that the
 * lazily freed areas still owe, which is part of their cost. */
static void run_on_one_cpu(pair_fn op, const void *row, unsigned int rounds,
			   struct one_cpu_result *r)
{
	struct bench_counters before, after;
	uint64_t start;

	memset(r, 0, sizeof(*r));
	for (unsigned int i = 0; i < warmup_rounds(rounds); i++)
		r->failures += op(row) == FAILED_OP;
	vm_purge_lazy_now();
	before = bench_counters_now();
	start = clock_ns();
	for (unsigned int i = 0; i < rounds; i++) {
		samples[0][i] = op(row);
		r->failures += samples[0][i] == FAILED_OP;
	}
	vm_purge_lazy_now();
	r->ops_milli = bench_ops_per_sec_milli(rounds, clock_ns() - start);
	after = bench_counters_now();
	r->d = bench_counters_delta(&before, &after);
	r->lat = bench_latency_of(samples[0], rounds);
}

struct all_cpus_run {
	pair_fn op;
	const void *row;
	unsigned int rounds;
	uint64_t start_ns[MAX_CPUS], end_ns[MAX_CPUS];
	unsigned int failures[MAX_CPUS];
};

static void all_cpus_body(struct selftest *t, unsigned int cpu, void *arg)
{
	struct all_cpus_run *r = arg;

	for (unsigned int i = 0; i < warmup_rounds(r->rounds); i++)
		r->failures[cpu] += r->op(r->row) == FAILED_OP;
	selftest_cpu_barrier(t);
	r->start_ns[cpu] = clock_ns();
	for (unsigned int i = 0; i < r->rounds; i++) {
		samples[cpu][i] = r->op(r->row);
		r->failures[cpu] += samples[cpu][i] == FAILED_OP;
	}
	r->end_ns[cpu] = clock_ns();
}

struct all_cpus_result {
	struct bench_latency lat;       /* over every CPU's samples */
	uint64_t ops_milli;             /* all CPUs together, per second */
	unsigned int failures;
};

static void run_on_all_cpus(struct selftest *t, pair_fn op, const void *row,
			    unsigned int rounds, struct all_cpus_result *out)
{
	static struct all_cpus_run r;
	unsigned int n = smp_num_online();
	uint64_t first = UINT64_MAX, last = 0, purge;

	memset(&r, 0, sizeof(r));
	r.op = op;
	r.row = row;
	r.rounds = rounds;
	vm_purge_lazy_now();
	selftest_run_on_all_cpus(t, all_cpus_body, &r);
	purge = clock_ns();
	vm_purge_lazy_now();
	purge = clock_ns() - purge;
	out->failures = 0;
	for (unsigned int c = 0; c < n; c++) {
		first = MIN(first, r.start_ns[c]);
		last = MAX(last, r.end_ns[c]);
		out->failures += r.failures[c];
		/* Pack the rows side by side for one sort. */
		memmove(&samples[0][0] + (size_t)c * rounds, samples[c],
			rounds * sizeof(uint64_t));
	}
	out->ops_milli = bench_ops_per_sec_milli((uint64_t)n * rounds,
						 last - first + purge);
	out->lat = bench_latency_of(&samples[0][0], (size_t)n * rounds);
}

/* ---- vmalloc + touch + vfree ---- */

static const struct vmalloc_row {
	const char *name, *label;
	size_t size;
	unsigned int rounds_full, rounds_tiny;
} vmalloc_rows[] = {
	{ "4k",  "4 KiB",  4 * KiB,  2000, 20 },
	{ "64k", "64 KiB", 64 * KiB, 500,  10 },
	{ "2m",  "2 MiB",  2 * MiB,  100,  3 },
};

static uint64_t vmalloc_pair(const void *arg)
{
	const struct vmalloc_row *row = arg;
	uint64_t start = clock_cycles();
	volatile uint64_t *p = vmalloc(row->size);

	if (!p)
		return FAILED_OP;
	for (size_t off = 0; off < row->size; off += PAGE_SIZE)
		p[off / 8] = off;
	vfree((const void *)(uintptr_t)p);
	return clock_cycles() - start;
}

static void test_vmalloc_pairs(struct selftest *t)
{
	struct one_cpu_result one[ARRAY_SIZE(vmalloc_rows)];
	struct all_cpus_result all[ARRAY_SIZE(vmalloc_rows)];
	unsigned int rounds[ARRAY_SIZE(vmalloc_rows)];
	char a[24], b[24], c[24], d[24], e[24];
	unsigned int n = smp_num_online();

	if (!bench_begin(t))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(vmalloc_rows); i++) {
		const struct vmalloc_row *row = &vmalloc_rows[i];
		char prefix[BENCH_NAME_MAX];

		rounds[i] = bench_pick(row->rounds_full, row->rounds_tiny);
		run_on_one_cpu(vmalloc_pair, row, rounds[i], &one[i]);
		run_on_all_cpus(t, vmalloc_pair, row, rounds[i], &all[i]);
		snprintf(prefix, sizeof(prefix), "vmalloc.%s", row->name);
		bench_figuref(one[i].lat.median_ns * BENCH_MILLI, "ns", "%s.median", prefix);
		bench_figuref(one[i].lat.p99_ns * BENCH_MILLI, "ns", "%s.p99", prefix);
		bench_figuref(one[i].ops_milli, "ops/s", "%s.ops", prefix);
		bench_figuref(all[i].lat.median_ns * BENCH_MILLI, "ns", "%s.all_median", prefix);
		bench_figuref(all[i].lat.p99_ns * BENCH_MILLI, "ns", "%s.all_p99", prefix);
		bench_figuref(all[i].ops_milli, "ops/s", "%s.all_ops", prefix);
		bench_counter_figures(prefix, &one[i].d, rounds[i]);

		EXPECT_EQ(t, one[i].failures + all[i].failures, 0);
		EXPECT_GT(t, one[i].lat.median_ns, 0);
		bench_expect_ipis_consistent(t, &one[i].d, row->label);
		/* The purge after the rounds frees everything they mapped. */
		EXPECT_GE(t, one[i].d.shootdowns, 1);
	}
	snprintf(a, sizeof(a), "all %u CPUs at once", n);
	selftest_diag(t, "vmalloc + touch every page + vfree (lazy), per pair");
	selftest_diag(t, "%-7s %-34s | %-34s | %s", "", "one CPU",
		      a, "per pair, one CPU");
	selftest_diag(t, "%-7s %10s %10s %11s | %10s %10s %11s | %7s %8s %8s",
		      "size", "median ns", "p99 ns", "pairs/s", "median ns",
		      "p99 ns", "pairs/s", "IPIs", "PT alloc", "PT free");
	for (size_t i = 0; i < ARRAY_SIZE(vmalloc_rows); i++)
		selftest_diag(t, "%-7s %10llu %10llu %11s | %10llu %10llu %11s | %7s %8s %8s",
			vmalloc_rows[i].label,
			(unsigned long long)one[i].lat.median_ns,
			(unsigned long long)one[i].lat.p99_ns,
			bench_fmt_milli(a, sizeof(a), one[i].ops_milli),
			(unsigned long long)all[i].lat.median_ns,
			(unsigned long long)all[i].lat.p99_ns,
			bench_fmt_milli(b, sizeof(b), all[i].ops_milli),
			bench_fmt_milli(c, sizeof(c), bench_div_milli(one[i].d.ipis_sent, rounds[i])),
			bench_fmt_milli(d, sizeof(d), bench_div_milli(one[i].d.pt_allocated, rounds[i])),
			bench_fmt_milli(e, sizeof(e), bench_div_milli(one[i].d.pt_freed, rounds[i])));
	bench_end();
}

/* ---- ioremap + read + iounmap ---- */

enum io_where { IO_LOW_SCRATCH, IO_HOLE_2M, IO_HOLE_1G };

/* The low scratch page is mapped write-back by the direct map, so it
 * takes ioremap_cache (the same type); the holes take ioremap. */
static const struct ioremap_row {
	const char *name, *label;
	size_t size;
	enum io_where where;
	void *(*map)(phys_addr_t pa, size_t size);
	unsigned int rounds_full, rounds_tiny;
} ioremap_rows[] = {
	{ "4k", "4 KiB", 4 * KiB, IO_LOW_SCRATCH, ioremap_cache, 2000, 10 },
	{ "2m", "2 MiB", 2 * MiB, IO_HOLE_2M,     ioremap,       1000, 5 },
	{ "1g", "1 GiB", GiB,     IO_HOLE_1G,     ioremap,       500,  3 },
};

/* Where @row maps, or 0 when this machine cannot run it. */
static phys_addr_t ioremap_pa(const struct ioremap_row *row)
{
	switch (row->where) {
	case IO_LOW_SCRATCH:
		return VM_TEST_SCRATCH_PA;   /* reserved low memory: read only */
	case IO_HOLE_2M:
		return io_hole() ? io_hole() + 2 * MiB : 0;
	case IO_HOLE_1G:
		return cpu_features.gbpages ? io_hole() : 0;
	}
	return 0;
}

static phys_addr_t ioremap_row_pa;

static uint64_t ioremap_pair(const void *arg)
{
	const struct ioremap_row *row = arg;
	uint64_t start = clock_cycles();
	volatile uint64_t *p = row->map(ioremap_row_pa, row->size);

	if (!p)
		return FAILED_OP;
	(void)*p;
	iounmap((const void *)(uintptr_t)p);
	return clock_cycles() - start;
}

static void test_ioremap_pairs(struct selftest *t)
{
	char a[24], b[24], c[24], d[24];

	if (!bench_begin(t))
		return;
	selftest_diag(t, "ioremap + one read + iounmap (lazy), per pair");
	selftest_diag(t, "%-7s %10s %10s %11s | %7s %8s %8s", "size",
		      "median ns", "p99 ns", "pairs/s", "IPIs", "PT alloc", "PT free");
	for (size_t i = 0; i < ARRAY_SIZE(ioremap_rows); i++) {
		const struct ioremap_row *row = &ioremap_rows[i];
		unsigned int rounds = bench_pick(row->rounds_full, row->rounds_tiny);
		struct one_cpu_result r;
		char prefix[BENCH_NAME_MAX];

		ioremap_row_pa = ioremap_pa(row);
		if (!ioremap_row_pa) {
			selftest_diag(t, "%-7s not here: %s", row->label,
				      io_hole() ? "no 1 GiB pages on this CPU"
						: "no free physical GiB below 3 GiB");
			continue;
		}
		run_on_one_cpu(ioremap_pair, row, rounds, &r);
		snprintf(prefix, sizeof(prefix), "ioremap.%s", row->name);
		bench_figuref(r.lat.median_ns * BENCH_MILLI, "ns", "%s.median", prefix);
		bench_figuref(r.lat.p99_ns * BENCH_MILLI, "ns", "%s.p99", prefix);
		bench_figuref(r.ops_milli, "ops/s", "%s.ops", prefix);
		bench_counter_figures(prefix, &r.d, rounds);
		EXPECT_EQ(t, r.failures, 0);
		EXPECT_GT(t, r.lat.median_ns, 0);
		EXPECT_GE(t, r.d.shootdowns, 1);
		bench_expect_ipis_consistent(t, &r.d, row->label);
		selftest_diag(t, "%-7s %10llu %10llu %11s | %7s %8s %8s", row->label,
			      (unsigned long long)r.lat.median_ns,
			      (unsigned long long)r.lat.p99_ns,
			      bench_fmt_milli(a, sizeof(a), r.ops_milli),
			      bench_fmt_milli(b, sizeof(b), bench_div_milli(r.d.ipis_sent, rounds)),
			      bench_fmt_milli(c, sizeof(c), bench_div_milli(r.d.pt_allocated, rounds)),
			      bench_fmt_milli(d, sizeof(d), bench_div_milli(r.d.pt_freed, rounds)));
	}
	bench_end();
}

/* ---- one shootdown round against the IPI floor ---- */

static const struct shootdown_row {
	const char *name, *label;
	uint64_t pages;                 /* 0: the floor, no shootdown */
} shootdown_rows[] = {
	{ "floor", "broadcast IPI + every ack (floor)", 0 },
	{ "1p",    "shootdown, 1 page (INVLPG)",        1 },
	{ "32p",   "shootdown, 32 pages (INVLPG)",      32 },
	{ "512p",  "shootdown, 512 pages (full flush)", 512 },
};

static void nop(void *arg)
{
	(void)arg;
}

/* Nothing is mapped there; invalidating it costs what invalidating a
 * mapped range does, minus the refills. */
#define STALE_VA (VMALLOC_START + (VMALLOC_END - VMALLOC_START) / 2)

static uint64_t shootdown_once(const struct shootdown_row *row)
{
	uint64_t start = clock_cycles();
	struct pt_gather g;

	if (row->pages == 0) {
		if (smp_call_all_but_self(nop, NULL, SMP_WAIT_ACK))
			return FAILED_OP;
	} else {
		pt_gather_init(&g);
		pt_gather_note_stale(&g, STALE_VA, STALE_VA + row->pages * PAGE_SIZE);
		shootdown_flush_and_free(&g);
	}
	return clock_cycles() - start;
}

static void test_shootdown_rounds(struct selftest *t)
{
	unsigned int n = smp_num_online(), rounds = bench_pick(2000, 20);
	unsigned int total = warmup_rounds(rounds) + rounds, failures = 0;
	struct bench_latency lat[ARRAY_SIZE(shootdown_rows)];
	struct bench_counters before, after, d;
	uint64_t ceiling_pages = 0, full_rows = 0;
	char ratio[24];

	if (!bench_begin(t))
		return;
	/* Interleaved, so that the floor and each size see the same host,
	 * and rotated, so that each follows each other one equally often
	 * (a full flush leaves every CPU refilling its TLB for a while). */
	before = bench_counters_now();
	for (unsigned int i = 0; i < total; i++)
		for (size_t k = 0; k < ARRAY_SIZE(shootdown_rows); k++) {
			size_t r = (k + i) % ARRAY_SIZE(shootdown_rows);
			uint64_t c;

			if (shootdown_rows[r].pages == 0 && n < 2)
				continue;   /* no other CPU: no floor */
			c = shootdown_once(&shootdown_rows[r]);
			failures += c == FAILED_OP;
			if (i >= total - rounds)
				samples[r][i - (total - rounds)] = c;
		}
	after = bench_counters_now();
	d = bench_counters_delta(&before, &after);

	selftest_diag(t, "one round: local flush, one broadcast IPI, every ack "
		      "(%u CPUs, %u rounds)", n, rounds);
	selftest_diag(t, "%-36s %10s %10s %8s", "", "median ns", "p99 ns", "x floor");
	for (size_t r = 0; r < ARRAY_SIZE(shootdown_rows); r++) {
		const struct shootdown_row *row = &shootdown_rows[r];

		if (row->pages == 0 && n < 2) {
			selftest_diag(t, "%-36s (one CPU: no IPI to send)", row->label);
			continue;
		}
		lat[r] = bench_latency_of(samples[r], rounds);
		bench_figuref(lat[r].median_ns * BENCH_MILLI, "ns", "shootdown.%s.median", row->name);
		bench_figuref(lat[r].p99_ns * BENCH_MILLI, "ns", "shootdown.%s.p99", row->name);
		ratio[0] = '\0';
		if (row->pages && n >= 2) {
			uint64_t x = bench_div_milli(lat[r].median_ns, lat[0].median_ns);

			bench_figuref(x, "x", "shootdown.%s.ratio", row->name);
			bench_fmt_milli(ratio, sizeof(ratio), x);
		}
		selftest_diag(t, "%-36s %10llu %10llu %8s", row->label,
			      (unsigned long long)lat[r].median_ns,
			      (unsigned long long)lat[r].p99_ns, ratio);
		if (row->pages > SHOOTDOWN_INVLPG_CEILING)
			full_rows++;
		else
			ceiling_pages += row->pages;
	}

	/* Exact counts: nothing else ran. */
	EXPECT_EQ(t, failures, 0);
	EXPECT_EQ(t, d.shootdowns, (uint64_t)total * 3);
	bench_expect_ipis_consistent(t, &d, "shootdown rounds");
	EXPECT_EQ(t, d.smp_ipis_sent, n < 2 ? 0 : (uint64_t)total * 4);
	EXPECT_EQ(t, d.pages_invalidated, (uint64_t)total * ceiling_pages * n);
	EXPECT_EQ(t, d.full_flushes, (uint64_t)total * full_rows * n);
	bench_end();
}

/* ---- the shape of the whole run ---- */

static const char *const vmalloc_columns[] = {
	"median", "p99", "ops", "all_median", "all_p99", "all_ops",
	"ipis", "pt_alloc", "pt_free",
};
static const char *const ioremap_columns[] = {
	"median", "p99", "ops", "ipis", "pt_alloc", "pt_free",
};
static const char *const pt_levels[] = { "pte", "pmd", "pud", "pgd" };
static const char *const facts[] = {
	"cpus", "tsc_mhz", "size_full", "gbpages", "huge_ioremap",
};

/* Every figure the run promises is there (tools/bench.py --check-log
 * checks the same on the host, from the printed lines). */
static void test_every_figure_present(struct selftest *t)
{
	unsigned int n = smp_num_online(), missing = 0;

	for (size_t i = 0; i < ARRAY_SIZE(facts); i++)
		missing += bench_expect_figure(t, "%s", facts[i]);
	for (size_t r = 0; r < ARRAY_SIZE(vmalloc_rows); r++)
		for (size_t c = 0; c < ARRAY_SIZE(vmalloc_columns); c++)
			missing += bench_expect_figure(t, "vmalloc.%s.%s", vmalloc_rows[r].name,
				      vmalloc_columns[c]);
	for (size_t r = 0; r < ARRAY_SIZE(ioremap_rows); r++)
		for (size_t c = 0; ioremap_pa(&ioremap_rows[r]) &&
		     c < ARRAY_SIZE(ioremap_columns); c++)
			missing += bench_expect_figure(t, "ioremap.%s.%s", ioremap_rows[r].name,
				      ioremap_columns[c]);
	for (size_t r = 0; r < ARRAY_SIZE(shootdown_rows); r++) {
		if (shootdown_rows[r].pages == 0 && n < 2)
			continue;
		missing += bench_expect_figure(t, "shootdown.%s.median",
					       shootdown_rows[r].name);
		missing += bench_expect_figure(t, "shootdown.%s.p99",
					       shootdown_rows[r].name);
		if (shootdown_rows[r].pages && n >= 2)
			missing += bench_expect_figure(t, "shootdown.%s.ratio",
						       shootdown_rows[r].name);
	}
	missing += bench_strategy_missing_figures(t);
	missing += bench_linux_missing_figures(t);
	for (size_t i = 0; i < ARRAY_SIZE(pt_levels); i++) {
		missing += bench_expect_figure(t, "pt_live.%s.before", pt_levels[i]);
		missing += bench_expect_figure(t, "pt_live.%s.after", pt_levels[i]);
	}
	if (missing)
		selftest_diag(t, "%u figures missing", missing);
}

static const struct selftest_case bench_cases[] = {
	{ "facts",                test_facts },
	{ "vmalloc_pairs",        test_vmalloc_pairs },
	{ "ioremap_pairs",        test_ioremap_pairs },
	{ "shootdown_rounds",     test_shootdown_rounds },
	{ "flush_strategies",     bench_flush_strategies },
	{ "linux_table",          bench_linux_table },
	{ "page_tables_back",     bench_page_tables_back },
	{ "every_figure_present", test_every_figure_present },
};
SELFTEST_SUITE(bench, bench_cases);
