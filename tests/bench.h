/* bench.h: what tests/bench.c (the workloads) and tests/bench_util.c
 * (figures, statistics, counters) share.  docs/bench.md explains the
 * figures and how to read them.
 *
 * A figure is a value in thousandths (so per-operation averages and
 * ratios keep three decimals without floating point, which the kernel
 * is built without) and a unit.  bench_figure() records it and prints
 * one machine-readable line inside the running case:
 *
 *     # bench: <section>.<row>.<column> <value> <unit>
 *
 * which tools/bench.py collects into tables, CSV and plots.  A name with
 * no dots is a fact about the run (cpus, tsc_mhz, ...).
 */
#ifndef TESTS_BENCH_H
#define TESTS_BENCH_H

#include "kernel/selftest.h"
#include "kernel/types.h"

/* ---- size: the kernel option bench=tiny|full ---- */

enum bench_size { BENCH_TINY, BENCH_FULL };

/* The size of this run, set by bench_begin(). */
extern enum bench_size bench_size;

/* @full at bench=full, @tiny at bench=tiny. */
unsigned int bench_pick(unsigned int full, unsigned int tiny);

/* Every case starts with bench_begin(): it reads bench= (false, and the
 * case failed, when the value is neither tiny nor full), sets the
 * kernel's defaults (lazy flushes, the usual lazy limit) and purges what
 * waits, so that each case starts from the same state.  bench_end()
 * purges and puts back the settings the case found. */
bool bench_begin(struct selftest *t);
void bench_end(void);

/* ---- the cases in other files ---- */

void bench_flush_strategies(struct selftest *t);           /* bench_strategy.c */
/* Fail @t for each figure of the strategies that was not recorded;
 * returns how many. */
unsigned int bench_strategy_missing_figures(struct selftest *t);

/* ---- figures ---- */

#define BENCH_MILLI 1000ULL
#define BENCH_NAME_MAX 48

void bench_figure(const char *name, uint64_t milli, const char *unit);
/* The same, with the name made by snprintf. */
void bench_figuref(uint64_t milli, const char *unit, const char *fmt, ...)
	__printf(3, 4);
/* The recorded value of @name, or false if there is none. */
bool bench_figure_get(const char *name, uint64_t *milli);
void bench_figures_clear(void);
/* Fail @t, naming the figure, unless it was recorded; 1 if it was not. */
unsigned int bench_expect_figure(struct selftest *t, const char *fmt, ...)
	__printf(2, 3);

/* @num / @den in thousandths, rounded to nearest; 0 when @den is 0. */
uint64_t bench_div_milli(uint64_t num, uint64_t den);
/* @ops done in @ns nanoseconds, as operations per second (x1000). */
uint64_t bench_ops_per_sec_milli(uint64_t ops, uint64_t ns);
/* "12.345" or "12" into @buf: a figure for a table. */
const char *bench_fmt_milli(char *buf, size_t size, uint64_t milli);

/* ---- latency samples (cycles) ---- */

/* Enough for the largest round count of any row, on every CPU. */
#define BENCH_MAX_ROUNDS 2000

struct bench_latency {
	uint64_t median_ns, p99_ns;
};

void bench_sort_u64(uint64_t *v, size_t n);

/* Sort @n samples (cycles) in place; their median and 99th percentile
 * in nanoseconds. */
struct bench_latency bench_latency_of(uint64_t *cycles, size_t n);

/* ---- counters: what a stretch of work did ---- */

/* A snapshot of the counters a figure is made of.  Deltas of two
 * snapshots are exact only while nothing else runs: the workloads take
 * them with the other CPUs idle. */
struct bench_counters {
	uint64_t shootdowns;       /* rounds started, every CPU */
	uint64_t ipis_sent;        /* shootdown broadcasts, every CPU */
	uint64_t ipis_received;    /* shootdown requests served, every CPU */
	uint64_t pages_invalidated;
	uint64_t full_flushes;
	uint64_t pt_freed;         /* page-table pages freed after acks */
	uint64_t pt_live;          /* page-table pages allocated now */
	uint64_t pt_allocated;     /* deltas only: pt_freed + growth of pt_live */
	uint64_t smp_ipis_sent;    /* every IPI command, every CPU */
	uint64_t purges;           /* lazy purges that shot down */
};

struct bench_counters bench_counters_now(void);
/* @b minus @a, field by field, and pt_allocated: the page-table pages
 * allocated in between, which is those freed plus the growth of the
 * live ones (every page-table frame is counted in frame_stats). */
/* @sum += @d, counter by counter. */
void bench_counters_add(struct bench_counters *sum, const struct bench_counters *d);

struct bench_counters bench_counters_delta(const struct bench_counters *a,
					   const struct bench_counters *b);

/* A delta must agree with itself: one broadcast per shootdown when other
 * CPUs are online, none at -smp 1, and every other CPU served each one.
 * Failures name @what. */
void bench_expect_ipis_consistent(struct selftest *t,
				  const struct bench_counters *d,
				  const char *what);

/* Record the per-operation counter figures of @d over @ops operations
 * under "<prefix>.ipis", ".pt_alloc" and ".pt_free". */
void bench_counter_figures(const char *prefix, const struct bench_counters *d,
			   uint64_t ops);

#endif
