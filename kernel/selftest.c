/* selftest.c: run the registered selftest suites and print KTAP.
 *
 * Output shape (Linux's Documentation/dev-tools/ktap.rst, version 1):
 *
 *   KTAP version 1
 *   1..2                          <- one line per selected suite follows
 *       KTAP version 1
 *       # Subtest: printk
 *       1..3
 *       # printk.c:40: expected ... <- diagnostics of the case that follows
 *       not ok 1 pads_to_width
 *       ok 2 prints_pointers
 *       ok 3 skips_this # SKIP reason
 *   not ok 1 printk
 *   ...
 */
#include "arch/x86/arch.h"
#include "arch/x86/percpu.h"
#include "arch/x86/setjmp.h"
#include "arch/x86/trap.h"
#include "kernel/clock.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/selftest_internal.h"
#include "kernel/smp.h"
#include "kernel/string.h"

extern const struct selftest_suite __start_selftests[], __stop_selftests[];

#define SUITE_INDENT "    "
#define SKIP_REASON_MAX 96

struct selftest {
	const struct selftest_case *c;
	struct selftest *parent;       /* the case running this one, or NULL */
	const char *prefix;            /* starts each diagnostic line */
	bool failed;
	bool skipped;
	int aborted_vector;            /* -1, or the exception that ended it */
	char skip_reason[SKIP_REASON_MAX];
	struct jmp_context resume;     /* where an unexpected exception returns */

	/* Only for one CPU's share of selftest_run_on_all_cpus(): */
	struct selftest_cpu_run *run;  /* the run it belongs to, else NULL */
	unsigned int failures;         /* failed checks, kept for the report */
	char first_failure[160];
};

/* ---- reporting, called from test bodies ---- */

void selftest_diag(struct selftest *t, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	(void)t;   /* printk starts the line with t's prefix (it is running) */
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printk("%s\n", line);
}

void selftest_fail_at(struct selftest *t, const char *file, int line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	t->failed = true;
	if (t->run) {      /* one CPU of several: the boot CPU reports it */
		if (t->failures++ == 0)
			snprintf(t->first_failure, sizeof(t->first_failure),
				 "%s:%d: %s", file, line, msg);
		return;
	}
	printk("%s:%d: %s\n", file, line, msg);
}

void selftest_skip(struct selftest *t, const char *reason)
{
	size_t n = strnlen(reason, SKIP_REASON_MAX - 1);

	memcpy(t->skip_reason, reason, n);
	t->skip_reason[n] = '\0';
	t->skipped = true;
}

bool selftest_failed(const struct selftest *t)
{
	return t->failed;
}

const char *selftest_diag_prefix(void)
{
	struct selftest *t = this_cpu()->running_test;
	return t ? t->prefix : "";
}

/* ---- running ---- */

bool selftest_abort_running_case(uint64_t vector)
{
	struct selftest *t = this_cpu()->running_test;

	if (!t)
		return false;
	t->aborted_vector = (int)vector;
	arch_longjmp(&t->resume, 1);
}

/* Run @c in @t; an unexpected exception in the body comes back here
 * through selftest_abort_running_case().  The case runs with the IRQ
 * state the runner had, and gets it back even after an abort. */
static enum selftest_outcome run_case(const struct selftest_case *c, struct selftest *t)
{
	struct percpu *cpu = this_cpu();

	t->c = c;
	t->parent = cpu->running_test;
	t->aborted_vector = -1;
	cpu->running_test = t;
	if (arch_setjmp(&t->resume) == 0)
		c->run(t);
	if (t->aborted_vector >= 0)
		printk("case ended by an unexpected %s (see the report above)\n",
		       exception_name((uint64_t)t->aborted_vector));
	cpu->running_test = t->parent;

	if (t->aborted_vector >= 0)
		return SELFTEST_ABORTED;
	if (t->failed)
		return SELFTEST_FAILED;
	return t->skipped ? SELFTEST_SKIPPED : SELFTEST_PASSED;
}

enum selftest_outcome selftest_run_nested(const struct selftest_case *c)
{
	struct selftest t = { .prefix = SUITE_INDENT "# nested: " };

	return run_case(c, &t);
}

/* ---- running a body on every CPU at once ---- */

struct selftest_cpu_run {
	selftest_cpu_fn fn;
	void *arg;
	unsigned int nr_cpus;
	uint32_t barrier_arrived;       /* CPUs at the current barrier */
	uint32_t barrier_generation;    /* bumped by the last to arrive */
	uint32_t done;                  /* CPUs whose body returned */
	struct selftest cpu[MAX_CPUS];
	struct smp_idle_work work[MAX_CPUS];
	char prefix[MAX_CPUS][16];
};

/* Static, not on the boot CPU's 16 KiB stack: about 6 KiB. */
static struct selftest_cpu_run cpu_run;

void selftest_cpu_barrier(struct selftest *t)
{
	struct selftest_cpu_run *run = t->run;
	uint32_t generation;
	uint64_t start = clock_ns();

	BUG_ON(!run);
	generation = __atomic_load_n(&run->barrier_generation, __ATOMIC_ACQUIRE);
	if (__atomic_add_fetch(&run->barrier_arrived, 1, __ATOMIC_ACQ_REL) == run->nr_cpus) {
		__atomic_store_n(&run->barrier_arrived, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&run->barrier_generation, generation + 1, __ATOMIC_RELEASE);
		return;
	}
	while (__atomic_load_n(&run->barrier_generation, __ATOMIC_ACQUIRE) == generation) {
		smp_call_poll();
		cpu_relax();
		if (clock_ns() - start > SELFTEST_ALL_CPUS_TIMEOUT_NS)
			panic("selftest: CPU %u waited %llu s at a barrier; %u of %u "
			      "CPUs arrived", this_cpu_id(),
			      SELFTEST_ALL_CPUS_TIMEOUT_NS / NSEC_PER_SEC,
			      __atomic_load_n(&run->barrier_arrived, __ATOMIC_RELAXED),
			      run->nr_cpus);
	}
}

/* One CPU's share: like run_case(), with a barrier before the body. */
static void selftest_cpu_body(void *p)
{
	struct selftest *t = p;
	struct percpu *cpu = this_cpu();

	t->parent = cpu->running_test;
	cpu->running_test = t;
	selftest_cpu_barrier(t);
	if (arch_setjmp(&t->resume) == 0)
		t->run->fn(t, cpu->cpu_id, t->run->arg);
	cpu->running_test = t->parent;
	__atomic_fetch_add(&t->run->done, 1, __ATOMIC_RELEASE);
}

static bool any_idle_work_pending(cpumask_t cpus)
{
	unsigned int c;

	for_each_cpu(c, &cpus)
		if (smp_idle_work_pending(c))
			return true;
	return false;
}

/* Wait until every CPU's body returned and every AP left its idle work
 * (so the next run can post again). */
static void selftest_cpu_run_wait(struct selftest_cpu_run *run, cpumask_t cpus)
{
	uint64_t start = clock_ns();
	unsigned int c;

	while (__atomic_load_n(&run->done, __ATOMIC_ACQUIRE) < run->nr_cpus ||
	       any_idle_work_pending(cpus)) {
		smp_call_poll();
		cpu_relax();
		if (clock_ns() - start > SELFTEST_ALL_CPUS_TIMEOUT_NS) {
			printk("selftest: CPUs still running the body:");
			for_each_cpu(c, &cpus)
				if (smp_idle_work_pending(c))
					printk(" %u", c);
			printk("\n");
			panic("selftest: %u of %u CPUs did not finish within %llu s",
			      run->nr_cpus - run->done, run->nr_cpus,
			      SELFTEST_ALL_CPUS_TIMEOUT_NS / NSEC_PER_SEC);
		}
	}
}

void selftest_run_on_all_cpus(struct selftest *t, selftest_cpu_fn fn, void *arg)
{
	struct selftest_cpu_run *run = &cpu_run;
	cpumask_t aps = smp_online_mask();
	unsigned int c, self = this_cpu_id();

	BUG_ON(self != 0 || run->fn);      /* the boot CPU, one run at a time */
	memset(run, 0, sizeof(*run));
	run->fn = fn;
	run->arg = arg;
	run->nr_cpus = cpumask_weight(&aps);
	cpumask_clear(&aps, self);
	for (c = 0; c < MAX_CPUS; c++) {
		snprintf(run->prefix[c], sizeof(run->prefix[c]), SUITE_INDENT "# cpu%u: ", c);
		run->cpu[c] = (struct selftest){ .c = t->c, .prefix = run->prefix[c],
						 .aborted_vector = -1, .run = run };
		run->work[c] = (struct smp_idle_work){ selftest_cpu_body, &run->cpu[c] };
	}
	for_each_cpu(c, &aps)
		if (smp_post_idle_work(c, &run->work[c]) < 0)
			panic("selftest: CPU %u is busy with earlier idle work", c);
	selftest_cpu_body(&run->cpu[self]);
	selftest_cpu_run_wait(run, aps);

	for (c = 0; c < MAX_CPUS; c++) {
		const struct selftest *ct = &run->cpu[c];

		if (ct->aborted_vector >= 0)
			printk("cpu %u: body ended by an unexpected %s (see the "
			       "report above)\n", c, exception_name((uint64_t)ct->aborted_vector));
		else if (ct->failed)
			printk("cpu %u: %s%s\n", c, ct->first_failure,
			       ct->failures > 1 ? " (and more failed checks)" : "");
		if (ct->aborted_vector >= 0 || ct->failed)
			t->failed = true;
	}
	run->fn = NULL;
}

static void flush_this_tlb(void *arg)
{
	(void)arg;
	tlb_flush_local_all();
}

void selftest_flush_every_tlb(void)
{
	smp_call_all(flush_this_tlb, NULL, SMP_WAIT_ACK);
}

/* '*' matches any run of characters, '?' any one character. */
static bool glob_match(const char *pat, size_t plen, const char *s)
{
	if (plen == 0)
		return *s == '\0';
	if (*pat == '*')
		return glob_match(pat + 1, plen - 1, s) || (*s && glob_match(pat, plen, s + 1));
	if (*s && (*pat == '?' || *pat == *s))
		return glob_match(pat + 1, plen - 1, s + 1);
	return false;
}

/* @patterns is a comma-separated list of globs. */
static bool suite_selected(const char *patterns, const char *name)
{
	for (const char *p = patterns; *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (glob_match(p, len, name))
			return true;
		p += len + (comma ? 1 : 0);
	}
	return false;
}

/* Runs every case of @s; returns the number that failed. */
static unsigned int run_suite(const struct selftest_suite *s, unsigned int number)
{
	unsigned int failed = 0;

	printk(SUITE_INDENT "KTAP version 1\n" SUITE_INDENT "# Subtest: %s\n"
	       SUITE_INDENT "1..%zu\n", s->name, s->ncases);
	for (size_t i = 0; i < s->ncases; i++) {
		struct selftest t = { .prefix = SUITE_INDENT "# " };
		enum selftest_outcome r = run_case(&s->cases[i], &t);

		if (r == SELFTEST_SKIPPED)
			printk(SUITE_INDENT "ok %zu %s # SKIP %s\n", i + 1,
			       s->cases[i].name, t.skip_reason);
		else
			printk(SUITE_INDENT "%s %zu %s\n", r == SELFTEST_PASSED ? "ok" : "not ok",
			       i + 1, s->cases[i].name);
		failed += r == SELFTEST_FAILED || r == SELFTEST_ABORTED;
	}
	printk("%s %u %s\n", failed ? "not ok" : "ok", number, s->name);
	return failed;
}

int selftest_run_matching(const char *pattern)
{
	unsigned int selected = 0, number = 0, failed = 0;
	const struct selftest_suite *s;

	for (s = __start_selftests; s < __stop_selftests; s++)
		selected += suite_selected(pattern, s->name);
	printk("KTAP version 1\n1..%u\n", selected);
	if (selected == 0) {
		printk("# selftest=%s matched no suite; the suites are:", pattern);
		for (s = __start_selftests; s < __stop_selftests; s++)
			printk(" %s", s->name);
		printk("\n");
		return -ENOENT;
	}
	for (s = __start_selftests; s < __stop_selftests; s++)
		if (suite_selected(pattern, s->name))
			failed += run_suite(s, ++number);
	printk("# selftests: %u suites, %u failed cases\n", selected, failed);
	return (int)failed;
}
