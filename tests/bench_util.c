/* bench_util.c: the bench= option, figures, latency statistics and
 * counter snapshots for tests/bench.c.  See tests/bench.h. */
#include "arch/x86/percpu.h"
#include "kernel/clock.h"
#include "kernel/cmdline.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/string.h"
#include "mm/frame.h"
#include "mm/shootdown.h"
#include "mm/vmalloc.h"
#include "tests/bench.h"

/* tiny: a few rounds of everything, so that every boot of `make test`
 * checks the bench's shape in a second or two; full: `make bench`. */
static char bench_option[16] = "tiny";
KERNEL_PARAM_STRING(bench, bench_option,
		    "benchmark size: tiny (default: a shape check) or full "
		    "(make bench)");

enum bench_size bench_size;

unsigned int bench_pick(unsigned int full, unsigned int tiny)
{
	return bench_size == BENCH_FULL ? full : tiny;
}

static uint64_t saved_lazy_override;

bool bench_begin(struct selftest *t)
{
	if (strcmp(bench_option, "tiny") == 0) {
		bench_size = BENCH_TINY;
	} else if (strcmp(bench_option, "full") == 0) {
		bench_size = BENCH_FULL;
	} else {
		selftest_fail_at(t, __FILE__, __LINE__, "kernel option bench=%s "
				 "is neither tiny nor full", bench_option);
		return false;
	}
	saved_lazy_override = vm_lazy_max_pages_override;
	vm_lazy_max_pages_override = 0;
	vm_purge_lazy_now();
	return true;
}

void bench_end(void)
{
	vm_purge_lazy_now();
	vm_lazy_max_pages_override = saved_lazy_override;
}

/* ---- figures ---- */

/* Room for every figure of a run, with spare: a run has about 210
 * (tests/bench.c's tables about 110, Linux's table about 100). */
#define MAX_FIGURES 320

struct figure {
	char name[BENCH_NAME_MAX];
	uint64_t milli;
};

static struct figure figures[MAX_FIGURES];
static size_t nr_figures;

uint64_t bench_div_milli(uint64_t num, uint64_t den)
{
	if (den == 0)
		return 0;
	return (num * BENCH_MILLI + den / 2) / den;
}

uint64_t bench_ops_per_sec_milli(uint64_t ops, uint64_t ns)
{
	/* ops * 10^12 overflows past 1.8e7 operations: none of ours. */
	return ns ? ops * NSEC_PER_SEC * BENCH_MILLI / ns : 0;
}

const char *bench_fmt_milli(char *buf, size_t size, uint64_t milli)
{
	if (milli % BENCH_MILLI == 0 || milli >= 1000 * BENCH_MILLI)
		snprintf(buf, size, "%llu",
			 (unsigned long long)((milli + BENCH_MILLI / 2) / BENCH_MILLI));
	else
		snprintf(buf, size, "%llu.%03llu",
			 (unsigned long long)(milli / BENCH_MILLI),
			 (unsigned long long)(milli % BENCH_MILLI));
	return buf;
}

void bench_figure(const char *name, uint64_t milli, const char *unit)
{
	char value[32];
	size_t i;

	for (i = 0; i < nr_figures; i++)
		if (strcmp(figures[i].name, name) == 0)
			break;
	if (i == nr_figures && nr_figures < MAX_FIGURES) {
		size_t len = strnlen(name, BENCH_NAME_MAX - 1);

		memcpy(figures[i].name, name, len);
		figures[i].name[len] = '\0';
		nr_figures++;
	}
	if (i < MAX_FIGURES)
		figures[i].milli = milli;
	/* Exact thousandths on the machine-readable line: no rounding. */
	if (milli % BENCH_MILLI == 0)
		snprintf(value, sizeof(value), "%llu",
			 (unsigned long long)(milli / BENCH_MILLI));
	else
		snprintf(value, sizeof(value), "%llu.%03llu",
			 (unsigned long long)(milli / BENCH_MILLI),
			 (unsigned long long)(milli % BENCH_MILLI));
	printk("bench: %s %s %s\n", name, value, unit);
}

void bench_figuref(uint64_t milli, const char *unit, const char *fmt, ...)
{
	char name[BENCH_NAME_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	bench_figure(name, milli, unit);
}

bool bench_figure_get(const char *name, uint64_t *milli)
{
	for (size_t i = 0; i < nr_figures; i++)
		if (strcmp(figures[i].name, name) == 0) {
			*milli = figures[i].milli;
			return true;
		}
	return false;
}

void bench_figures_clear(void)
{
	nr_figures = 0;
}

unsigned int bench_expect_figure(struct selftest *t, const char *fmt, ...)
{
	char name[BENCH_NAME_MAX];
	uint64_t v;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	if (bench_figure_get(name, &v))
		return 0;
	selftest_fail_at(t, __FILE__, __LINE__, "no figure %s", name);
	return 1;
}

/* ---- latency ---- */

/* Heapsort: O(n log n) whatever the order, in place.  Linux's table
 * sorts 100,000 samples per batch (a Shell sort with halving gaps is
 * quadratic at worst). */
static void sift_down(uint64_t *v, size_t root, size_t n)
{
	for (size_t child; (child = 2 * root + 1) < n; root = child) {
		if (child + 1 < n && v[child + 1] > v[child])
			child++;
		if (v[root] >= v[child])
			return;
		uint64_t x = v[root];

		v[root] = v[child];
		v[child] = x;
	}
}

void bench_sort_u64(uint64_t *v, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(v, i, n);
	for (size_t end = n; end > 1; end--) {
		uint64_t x = v[0];

		v[0] = v[end - 1];
		v[end - 1] = x;
		sift_down(v, 0, end - 1);
	}
}

struct bench_latency bench_latency_of(uint64_t *cycles, size_t n)
{
	struct bench_latency l = { 0, 0 };

	if (n == 0)
		return l;
	bench_sort_u64(cycles, n);
	l.median_ns = clock_cycles_to_ns(cycles[n / 2]);
	l.p99_ns = clock_cycles_to_ns(cycles[MIN(n - 1, n * 99 / 100)]);
	return l;
}

/* ---- counters ---- */

struct bench_counters bench_counters_now(void)
{
	struct shootdown_stats s = shootdown_stats_total();
	struct bench_counters c = {
		.shootdowns = s.shootdowns,
		.ipis_sent = s.ipis_sent,
		.ipis_received = s.ipis_received,
		.pages_invalidated = s.pages_invalidated,
		.full_flushes = s.full_flushes,
		.pt_freed = s.pt_pages_freed,
		.purges = READ_ONCE(vm_stats.purges),
	};

	for (enum frame_use u = FRAME_PT_PTE; u <= FRAME_PT_PUD; u++)
		c.pt_live += READ_ONCE(frame_stats.frames[u]);
	for (unsigned int cpu = 0; cpu < smp_num_online(); cpu++)
		c.smp_ipis_sent += smp_stats_of(cpu).ipis_sent;
	return c;
}

void bench_counters_add(struct bench_counters *sum, const struct bench_counters *d)
{
	sum->shootdowns += d->shootdowns;
	sum->ipis_sent += d->ipis_sent;
	sum->ipis_received += d->ipis_received;
	sum->pt_allocated += d->pt_allocated;
	sum->pt_freed += d->pt_freed;
	sum->smp_ipis_sent += d->smp_ipis_sent;
}

struct bench_counters bench_counters_delta(const struct bench_counters *a,
					   const struct bench_counters *b)
{
	return (struct bench_counters){
		.shootdowns = b->shootdowns - a->shootdowns,
		.ipis_sent = b->ipis_sent - a->ipis_sent,
		.ipis_received = b->ipis_received - a->ipis_received,
		.pages_invalidated = b->pages_invalidated - a->pages_invalidated,
		.full_flushes = b->full_flushes - a->full_flushes,
		.pt_freed = b->pt_freed - a->pt_freed,
		.pt_live = b->pt_live - a->pt_live,
		.pt_allocated = b->pt_freed - a->pt_freed + b->pt_live - a->pt_live,
		.smp_ipis_sent = b->smp_ipis_sent - a->smp_ipis_sent,
		.purges = b->purges - a->purges,
	};
}

void bench_expect_ipis_consistent(struct selftest *t,
				  const struct bench_counters *d,
				  const char *what)
{
	unsigned int others = smp_num_online() - 1;
	uint64_t want_sent = others ? d->shootdowns : 0;

	if (d->ipis_sent != want_sent || d->ipis_received != d->ipis_sent * others)
		selftest_fail_at(t, __FILE__, __LINE__,
			"%s: %llu shootdowns sent %llu IPIs, served %llu times; "
			"expected %llu IPIs served %llu times (%u other CPUs)",
			what, (unsigned long long)d->shootdowns,
			(unsigned long long)d->ipis_sent,
			(unsigned long long)d->ipis_received,
			(unsigned long long)want_sent,
			(unsigned long long)(want_sent * others), others);
	/* Every IPI command of the kernel is counted by the smp layer too:
	 * the shootdown's broadcasts are among them. */
	if (d->smp_ipis_sent < d->ipis_sent)
		selftest_fail_at(t, __FILE__, __LINE__,
			"%s: the smp layer sent %llu IPI commands, fewer than "
			"the %llu shootdown broadcasts", what,
			(unsigned long long)d->smp_ipis_sent,
			(unsigned long long)d->ipis_sent);
}

void bench_counter_figures(const char *prefix, const struct bench_counters *d,
			   uint64_t ops)
{
	bench_figuref(bench_div_milli(d->ipis_sent, ops), "IPIs/op", "%s.ipis", prefix);
	bench_figuref(bench_div_milli(d->pt_allocated, ops), "pages/op", "%s.pt_alloc", prefix);
	bench_figuref(bench_div_milli(d->pt_freed, ops), "pages/op", "%s.pt_free", prefix);
}
