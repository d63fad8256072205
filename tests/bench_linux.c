/* bench_linux.c: Linux's vmalloc workload, run as Linux's harness runs
 * it (tests/bench.c's case linux_table; docs/bench.md explains every
 * figure).
 *
 * The rows have the sizes and loop counts of the Linux module that the
 * kernel is measured against (docs/bench.md): vmalloc + write + vfree of
 * 4 KiB, 64 KiB and 2 MiB; the 4 KiB pair on every CPU at once; ioremap
 * + read + iounmap of a physical address with no RAM behind it; a burst
 * of 1,000 vfree(4 KiB) in a row, the forced purge right after it, and a
 * forced purge with nothing pending.  Each row runs an untimed warm-up
 * of a tenth of a batch, then three batches; its figure is the mean per
 * operation of the median batch, with the IPIs handled (all CPUs) and
 * the page-table pages allocated and freed per operation over the three
 * batches.  Every operation is also timed alone, for the median and p99
 * of the median batch; the row "clock" is what that timing itself costs.
 *
 * The floor (tests/bench_floor.c) is the cheapest map, touch and unmap
 * there is: every row prints its mean over the floor's.
 *
 * Asserted (bench=tiny in every boot): every operation succeeded, every
 * figure is there, the IPI counts agree with the shootdown counts, the
 * floor and the clock sent no IPI and made no page table.  Never a time.
 */
#include "arch/x86/arch.h"
#include "kernel/clock.h"
#include "kernel/cmdline.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/string.h"
#include "mm/frame.h"
#include "mm/vmalloc.h"
#include "tests/bench.h"
#include "tests/bench_linux.h"

#define BATCHES 3
#define BURST_MAX 1000          /* the burst row's vfrees per batch */

enum row_kind {
	ONE_CPU,        /* op() @ops times on this CPU */
	ALL_CPUS,       /* op() @ops times on every CPU at once */
	BURST,          /* vfree of @ops areas mapped beforehand */
	AFTER_BURST,    /* the purge right after BURST's vfrees */
};

struct linux_row;
typedef bool (*linux_op)(const struct linux_row *row);

struct linux_row {
	const char *name, *label;
	enum row_kind kind;
	linux_op op;
	size_t size;                    /* bytes mapped, where it applies */
	unsigned int ops_full, ops_tiny;        /* per batch (per CPU) */
};

/* ---- the operations ---- */

static bool vmalloc_write_vfree(const struct linux_row *row)
{
	volatile uint64_t *p = vmalloc(row->size);

	if (!p)
		return false;
	for (size_t off = 0; off < row->size; off += PAGE_SIZE)
		p[off / 8] = off;
	vfree((const void *)(uintptr_t)p);
	return true;
}

static phys_addr_t io_pa;

/* The first GiB boundary at or above the end of RAM, when 2 MiB there
 * stay below 3 GiB (QEMU's PCI hole may begin there): nothing answers,
 * reads give all ones.  At -m 512M it is 1 GiB. */
phys_addr_t bench_linux_io_pa(void)
{
	phys_addr_t hole = ALIGN_UP(frame_count * FRAME_SIZE, GiB);

	return hole + 2 * MiB <= 3 * GiB ? hole : 0;
}

static bool ioremap_read_iounmap(const struct linux_row *row)
{
	volatile uint64_t *p = ioremap(io_pa, row->size);

	if (!p)
		return false;
	(void)*p;
	iounmap((const void *)(uintptr_t)p);
	return true;
}

static bool purge(const struct linux_row *row)
{
	(void)row;
	vm_purge_lazy_now();
	return true;
}

static bool nothing(const struct linux_row *row)
{
	(void)row;
	return true;
}

static bool floor_op(const struct linux_row *row)
{
	(void)row;
	bench_floor_once();
	return true;
}

/* Loop counts: Linux's at bench=full; a thousandth (at least three) at
 * bench=tiny, which checks the shape only.  The burst is 1,000 vfrees
 * as in Linux; tiny bursts are 10 (so that several are vfreed in a
 * row).  Linux has no row for an empty purge, the clock or the floor:
 * 100,000 each makes their batches as long as the 4 KiB pair's count. */
static const struct linux_row rows[] = {
	{ "floor", "floor: PTE set, touch, PTE clear, INVLPG",
	  ONE_CPU, floor_op, PAGE_SIZE, 100000, 100 },
	{ "clock", "timing one op (two clock reads)",
	  ONE_CPU, nothing, 0, 100000, 100 },
	{ "vmalloc_4k", "vmalloc 4K + write + vfree",
	  ONE_CPU, vmalloc_write_vfree, 4 * KiB, 100000, 100 },
	{ "vmalloc_64k", "vmalloc 64K + write each page + vfree",
	  ONE_CPU, vmalloc_write_vfree, 64 * KiB, 25000, 25 },
	{ "vmalloc_2m", "vmalloc 2M (4K pages) + write each + vfree",
	  ONE_CPU, vmalloc_write_vfree, 2 * MiB, 800, 3 },
	{ "all_4k", "4K pair on every CPU at once (per CPU)",
	  ALL_CPUS, vmalloc_write_vfree, 4 * KiB, 40000, 40 },
	{ "ioremap_4k", "ioremap 4K + read + iounmap",
	  ONE_CPU, ioremap_read_iounmap, 4 * KiB, 100000, 100 },
	{ "ioremap_2m", "ioremap 2M + read + iounmap",
	  ONE_CPU, ioremap_read_iounmap, 2 * MiB, 30000, 30 },
	{ "burst_vfree", "burst of 1,000 vfree(4K), per vfree",
	  BURST, NULL, 4 * KiB, BURST_MAX, 10 },
	{ "purge_burst", "forced purge right after the burst",
	  AFTER_BURST, purge, 0, 1, 1 },
	{ "purge_empty", "forced purge, nothing pending",
	  ONE_CPU, purge, 0, 100000, 100 },
};

#define NROWS ARRAY_SIZE(rows)

/* bench_row=NAME runs the floor and the rows whose name begins with
 * NAME: one row at a time, for tools/profiler.py or a quick look. */
static char bench_row_option[24];
KERNEL_PARAM_STRING(bench_row, bench_row_option,
		    "linux table: run the floor and the rows whose name "
		    "begins with this (default: every row)");

static bool row_selected(size_t i)
{
	size_t n = strlen(bench_row_option);

	return i == 0 || n == 0 || strncmp(rows[i].name, bench_row_option, n) == 0;
}

static bool row_is_io(const struct linux_row *row)
{
	return row->op == ioremap_read_iounmap;
}

/* The rows that free lazily owe a purge at the end of each batch: it is
 * part of their cost (in the mean and the counts, not in the per-op
 * samples), and the page tables they emptied are freed by it. */
static bool row_owes_purge(const struct linux_row *row)
{
	return row->op == vmalloc_write_vfree || row_is_io(row);
}

/* ---- results ---- */

struct row_result {
	unsigned int ops;                 /* per batch (per CPU) */
	uint64_t mean_milli[BATCHES];     /* ns per op, each batch */
	struct bench_latency lat[BATCHES];
	uint64_t wall_ns[BATCHES];        /* ALL_CPUS: first start to last end */
	struct bench_counters d;          /* the timed batches together */
	unsigned int failures;
	bool ran;
};

static struct row_result results[NROWS];

/* Per-op samples (cycles) of one batch: @ops per CPU, side by side. */
static uint64_t *samples;
static struct frame *samples_block;
static unsigned int samples_order;

static bool samples_alloc(void)
{
	uint64_t most = 0;

	for (size_t i = 0; i < NROWS; i++) {
		uint64_t n = bench_pick(rows[i].ops_full, rows[i].ops_tiny);

		if (rows[i].kind == ALL_CPUS)
			n *= smp_num_online();
		most = MAX(most, n);
	}
	for (samples_order = 0; (FRAME_SIZE << samples_order) < most * 8;)
		samples_order++;
	samples_block = frame_alloc(samples_order, FRAME_KERNEL);
	samples = samples_block ? frame_virt(samples_block) : NULL;
	return samples != NULL;
}

static void samples_free(void)
{
	frame_free(samples_block, FRAME_KERNEL);
	samples = NULL;
}


/* ---- running a row ---- */

static unsigned int timed_loop(const struct linux_row *row, unsigned int ops,
			       uint64_t *out)
{
	unsigned int failures = 0;

	for (unsigned int i = 0; i < ops; i++) {
		uint64_t start = clock_cycles();

		failures += !row->op(row);
		out[i] = clock_cycles() - start;
	}
	return failures;
}

static unsigned int warmup_ops(unsigned int ops)
{
	return MAX(ops / 10, 1);
}

struct all_cpus_batch {
	const struct linux_row *row;
	unsigned int ops;
	uint64_t start_ns[MAX_CPUS], end_ns[MAX_CPUS];
	unsigned int failures[MAX_CPUS];
};

static void all_cpus_body(struct selftest *t, unsigned int cpu, void *arg)
{
	struct all_cpus_batch *b = arg;

	selftest_cpu_barrier(t);
	b->start_ns[cpu] = clock_ns();
	b->failures[cpu] += timed_loop(b->row, b->ops, samples + (size_t)cpu * b->ops);
	b->end_ns[cpu] = clock_ns();
}

/* One batch of @ops operations of @row (on each CPU for ALL_CPUS), and
 * the purge it owes: its wall time; failures added to *@failures. */
static uint64_t run_batch(struct selftest *t, const struct linux_row *row,
			  unsigned int ops, unsigned int *failures)
{
	static struct all_cpus_batch b;
	uint64_t start, purge_ns, first_ns = UINT64_MAX, last_ns = 0;

	if (row->kind == ONE_CPU) {
		start = clock_ns();
		*failures += timed_loop(row, ops, samples);
		if (row_owes_purge(row))
			vm_purge_lazy_now();
		return clock_ns() - start;
	}
	memset(&b, 0, sizeof(b));
	b.row = row;
	b.ops = ops;
	selftest_run_on_all_cpus(t, all_cpus_body, &b);
	purge_ns = clock_ns();          /* after the last CPU is done */
	if (row_owes_purge(row))
		vm_purge_lazy_now();
	purge_ns = clock_ns() - purge_ns;
	for (unsigned int c = 0; c < smp_num_online(); c++) {
		first_ns = MIN(first_ns, b.start_ns[c]);
		last_ns = MAX(last_ns, b.end_ns[c]);
		*failures += b.failures[c];
	}
	return last_ns - first_ns + purge_ns;
}

static void record_batch(struct row_result *r, unsigned int batch,
			 uint64_t wall_ns, size_t nsamples,
			 const struct bench_counters *d)
{
	r->wall_ns[batch] = wall_ns;
	r->mean_milli[batch] = bench_div_milli(wall_ns, r->ops);
	r->lat[batch] = bench_latency_of(samples, nsamples);
	bench_counters_add(&r->d, d);
}

static void run_row(struct selftest *t, size_t i)
{
	const struct linux_row *row = &rows[i];
	struct row_result *r = &results[i];
	size_t nsamples;

	r->ops = bench_pick(row->ops_full, row->ops_tiny);
	nsamples = row->kind == ALL_CPUS ? (size_t)r->ops * smp_num_online() : r->ops;
	vm_purge_lazy_now();
	run_batch(t, row, warmup_ops(r->ops), &r->failures);   /* untimed */
	for (unsigned int b = 0; b < BATCHES; b++) {
		struct bench_counters before, after, d;
		uint64_t wall;

		vm_purge_lazy_now();   /* every batch starts with nothing owed */
		before = bench_counters_now();
		wall = run_batch(t, row, r->ops, &r->failures);
		after = bench_counters_now();
		d = bench_counters_delta(&before, &after);
		record_batch(r, b, wall, nsamples, &d);
	}
	r->ran = true;
}

static void *burst_areas[BURST_MAX];

/* The burst and the purge after it share their batches: map the areas
 * (untimed), vfree them all, then purge. */
static void run_burst(struct selftest *t, size_t bi, size_t pi)
{
	struct row_result *rb = &results[bi], *rp = &results[pi];
	unsigned int n = bench_pick(rows[bi].ops_full, rows[bi].ops_tiny);

	rb->ops = n;
	rp->ops = 1;
	for (int b = -1; b < BATCHES; b++) {     /* -1: the warm-up */
		unsigned int count = b < 0 ? warmup_ops(n) : n;
		struct bench_counters c0, c1, c2, d;
		uint64_t t0, t1, t2;

		vm_purge_lazy_now();
		for (unsigned int i = 0; i < count; i++) {
			burst_areas[i] = vmalloc(rows[bi].size);
			if (!burst_areas[i]) {
				selftest_fail_at(t, __FILE__, __LINE__,
					"burst: vmalloc %u of %u failed", i, count);
				count = i;
				break;
			}
			*(volatile uint64_t *)burst_areas[i] = i;
		}
		c0 = bench_counters_now();
		t0 = clock_ns();
		for (unsigned int i = 0; i < count; i++) {
			uint64_t start = clock_cycles();

			vfree(burst_areas[i]);
			samples[i] = clock_cycles() - start;
		}
		t1 = clock_ns();
		c1 = bench_counters_now();
		samples[n] = clock_cycles();
		vm_purge_lazy_now();
		samples[n] = clock_cycles() - samples[n];
		t2 = clock_ns();
		c2 = bench_counters_now();
		if (b < 0)
			continue;
		rb->failures += n - count;
		d = bench_counters_delta(&c0, &c1);
		record_batch(rb, (unsigned int)b, t1 - t0, count, &d);
		d = bench_counters_delta(&c1, &c2);
		memmove(samples, samples + n, sizeof(uint64_t));
		record_batch(rp, (unsigned int)b, t2 - t1, 1, &d);
	}
	rb->ran = rp->ran = true;
}

/* ---- figures and the table ---- */

/* The batch whose mean is the median of the three. */
static unsigned int median_batch(const struct row_result *r)
{
	unsigned int lo = 0, hi = 0;

	for (unsigned int b = 1; b < BATCHES; b++) {
		if (r->mean_milli[b] < r->mean_milli[lo])
			lo = b;
		if (r->mean_milli[b] >= r->mean_milli[hi])
			hi = b;
	}
	return lo == hi ? 0 : 3 - lo - hi;   /* BATCHES is 3 */
}

static uint64_t row_mean_milli(const struct row_result *r)
{
	return r->mean_milli[median_batch(r)];
}

static void row_figures(size_t i, uint64_t floor_milli)
{
	const struct row_result *r = &results[i];
	const char *name = rows[i].name;
	uint64_t ops = (uint64_t)r->ops * BATCHES;
	unsigned int mb = median_batch(r);

	if (rows[i].kind == ALL_CPUS) {
		ops *= smp_num_online();
		bench_figuref(bench_ops_per_sec_milli((uint64_t)r->ops * smp_num_online(),
						      r->wall_ns[mb]),
			      "ops/s", "linux.%s.all_ops", name);
	}
	bench_figuref(r->ops * BENCH_MILLI, "ops", "linux.%s.batch", name);
	bench_figuref(r->mean_milli[mb], "ns", "linux.%s.mean", name);
	bench_figuref(r->lat[mb].median_ns * BENCH_MILLI, "ns", "linux.%s.median", name);
	bench_figuref(r->lat[mb].p99_ns * BENCH_MILLI, "ns", "linux.%s.p99", name);
	bench_figuref(bench_div_milli(r->mean_milli[mb], floor_milli), "x",
		      "linux.%s.floor_x", name);
	bench_figuref(bench_div_milli(r->d.ipis_received, ops), "IPIs/op",
		      "linux.%s.ipis_recv", name);
	/* Three decimals hide a few IPIs over 300,000 ops: the count too. */
	bench_figuref(r->d.ipis_received * BENCH_MILLI, "IPIs",
		      "linux.%s.ipis_total", name);
	bench_figuref(bench_div_milli(r->d.pt_allocated, ops), "pages/op",
		      "linux.%s.pt_alloc", name);
	bench_figuref(bench_div_milli(r->d.pt_freed, ops), "pages/op",
		      "linux.%s.pt_free", name);
}

static void print_header(struct selftest *t)
{
	selftest_diag(t, "Linux's workload as its harness runs it: mean ns per op "
		      "of the median of %u batches, after an untimed warm-up of a "
		      "tenth; median and p99 of that batch's ops", BATCHES);
	selftest_diag(t, "debug: frame poisoning %s; %u CPUs; CPU %s family %u "
		      "model %u stepping %u%s; TSC %llu MHz; bench=%s",
		      frame_debug_name(frame_debug),
		      smp_num_online(), cpu_features.vendor, cpu_features.family,
		      cpu_features.model, cpu_features.stepping,
		      cpu_features.hypervisor ? " (under a hypervisor)" : "",
		      (unsigned long long)(clock_hz() / 1000000),
		      bench_size == BENCH_FULL ? "full" : "tiny");
	selftest_diag(t, "%-43s %7s %11s %8s %10s %10s %7s %6s %6s %6s", "row",
		      "ops", "mean ns", "x floor", "median ns", "p99 ns",
		      "IPIs/op", "IPIs", "PT+/op", "PT-/op");
}

static void print_row(struct selftest *t, size_t i, uint64_t floor_milli)
{
	const struct row_result *r = &results[i];
	uint64_t ops = (uint64_t)r->ops * BATCHES;
	unsigned int mb = median_batch(r);
	char f[5][24];

	if (rows[i].kind == ALL_CPUS)
		ops *= smp_num_online();
	selftest_diag(t, "%-43s %7u %11s %8s %10llu %10llu %7s %6llu %6s %6s",
		rows[i].label, r->ops,
		bench_fmt_milli(f[0], sizeof(f[0]), r->mean_milli[mb]),
		bench_fmt_milli(f[1], sizeof(f[1]), bench_div_milli(r->mean_milli[mb], floor_milli)),
		(unsigned long long)r->lat[mb].median_ns,
		(unsigned long long)r->lat[mb].p99_ns,
		bench_fmt_milli(f[2], sizeof(f[2]), bench_div_milli(r->d.ipis_received, ops)),
		(unsigned long long)r->d.ipis_received,
		bench_fmt_milli(f[3], sizeof(f[3]), bench_div_milli(r->d.pt_allocated, ops)),
		bench_fmt_milli(f[4], sizeof(f[4]), bench_div_milli(r->d.pt_freed, ops)));
	if (rows[i].kind == ALL_CPUS)
		selftest_diag(t, "%-43s %7s %11s ops/s together (%u CPUs)", "", "",
			bench_fmt_milli(f[0], sizeof(f[0]),
				bench_ops_per_sec_milli((uint64_t)r->ops * smp_num_online(),
							r->wall_ns[mb])),
			smp_num_online());
}

/* ---- the shape ---- */

static void expect_row_shape(struct selftest *t, size_t i)
{
	const struct row_result *r = &results[i];

	if (r->failures)
		selftest_fail_at(t, __FILE__, __LINE__, "%s: %u operations failed",
				 rows[i].name, r->failures);
	bench_expect_ipis_consistent(t, &r->d, rows[i].label);
	if (rows[i].op == floor_op || rows[i].op == nothing) {
		/* A floor that shot down or built a table is not a floor. */
		EXPECT_EQ(t, r->d.shootdowns, 0);
		EXPECT_EQ(t, r->d.pt_allocated, 0);
		EXPECT_EQ(t, r->d.pt_freed, 0);
	}
}

void bench_linux_table(struct selftest *t)
{
	uint64_t floor_milli;
	size_t burst = 0;

	if (!bench_begin(t))
		return;
	memset(results, 0, sizeof(results));
	io_pa = bench_linux_io_pa();
	bench_figure("frame_poison", (uint64_t)frame_debug * BENCH_MILLI,
		     "mode");   /* 0 off, 1 edges, 2 full (mm/frame.h) */
	bench_figure("linux_io", (io_pa != 0) * BENCH_MILLI, "bool");
	if (!samples_alloc() || !bench_floor_setup(t)) {
		selftest_fail_at(t, __FILE__, __LINE__, "no memory for the samples "
				 "or the floor's mapping");
		if (samples)
			samples_free();
		bench_end();
		return;
	}
	for (size_t i = 0; i < NROWS; i++) {
		bool selected = row_selected(i);

		if (rows[i].kind == BURST) {   /* runs with the purge after it */
			burst = i;
			continue;
		}
		if (rows[i].kind == AFTER_BURST)
			selected = selected || row_selected(burst);
		if ((row_is_io(&rows[i]) && !io_pa) || !selected)
			continue;
		if (rows[i].kind == AFTER_BURST)
			run_burst(t, burst, i);
		else
			run_row(t, i);
	}
	bench_floor_teardown(t);
	samples_free();

	floor_milli = row_mean_milli(&results[0]);
	for (size_t i = 0; i < NROWS; i++)
		if (results[i].ran) {
			row_figures(i, floor_milli);
			expect_row_shape(t, i);
		}
	print_header(t);     /* the table after the figures, in one block */
	for (size_t i = 0; i < NROWS; i++) {
		if (results[i].ran)
			print_row(t, i, floor_milli);
		else if (row_selected(i))
			selftest_diag(t, "%-43s not here: no free physical address "
				      "below 3 GiB above RAM", rows[i].label);
	}
	bench_end();
}

static const char *const columns[] = {
	"batch", "mean", "median", "p99", "floor_x", "ipis_recv", "ipis_total",
	"pt_alloc", "pt_free",
};

unsigned int bench_linux_missing_figures(struct selftest *t)
{
	unsigned int missing = 0;

	missing += bench_expect_figure(t, "frame_poison");
	missing += bench_expect_figure(t, "linux_io");
	for (size_t i = 0; i < NROWS; i++) {
		if ((row_is_io(&rows[i]) && !bench_linux_io_pa()) ||
		    !row_selected(i))
			continue;
		for (size_t c = 0; c < ARRAY_SIZE(columns); c++)
			missing += bench_expect_figure(t, "linux.%s.%s", rows[i].name,
						       columns[c]);
		if (rows[i].kind == ALL_CPUS)
			missing += bench_expect_figure(t, "linux.%s.all_ops", rows[i].name);
	}
	return missing;
}
