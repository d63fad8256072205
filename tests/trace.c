/* tests/trace.c: the per-CPU event trace (kernel/trace.h).
 *
 * Records come back with their arguments and in order; trace_set_enabled
 * (false) records nothing; a wrapped ring's overwritten records are
 * refused, not read half-new.  A real NMI that arrives between the two
 * halves of a record on the same CPU (staged: the CPU reserves, the boot
 * CPU sends the NMI, the CPU fills) leaves both records whole; its
 * negative control, a reservation split into a read and a later write of
 * the head, loses the NMI's record.  A bench prints the cost per event.
 * Last, a vunmap at -smp N: its shootdown's events on every CPU, the
 * free after every ack, and the window dumped for tools/timeline.py
 * (tools/run_tests.py's "trace" boot check runs its checker on it).
 */
#include "arch/x86/smp.h"
#include "kernel/clock.h"
#include "kernel/ksyms.h"
#include "kernel/printk.h"
#include "kernel/selftest.h"
#include "kernel/smp.h"
#include "kernel/string.h"
#include "kernel/trace_internal.h"
#include "mm/frame.h"
#include "mm/shootdown.h"
#include "mm/vmalloc.h"

#define RECORDER_CPU 1                  /* the CPU the NMI interrupts */
#define NMI_MARK 0x6e6d69ULL            /* "nmi": the NMI's record */
#define OWN_MARK 0x6f776eULL            /* "own": the interrupted one */
/* Events the bench records: enough that the clock's reads around them
 * weigh under 1%, few enough to take well under a second under TCG. */
#define BENCH_EVENTS 20000
#define VUNMAP_PAGES 4

#define ANY UINT64_MAX

/* Find @cpu's first record with event @ev, arg0 @a0 and arg1 @a1 (or
 * ANY) among its indices [from, count); true and the record in @out if
 * there is one. */
static bool find_record(unsigned int cpu, uint64_t from, enum trace_event ev,
			uint64_t a0, uint64_t a1, struct trace_record *out)
{
	for (uint64_t i = from; i < trace_count(cpu); i++)
		if (trace_read(cpu, i, out) && out->event == ev &&
		    out->arg[0] == a0 && (a1 == ANY || out->arg[1] == a1))
			return true;
	return false;
}

/* Recording is off for the boot (trace=off): nothing to check. */
static bool need_trace_on(struct selftest *t)
{
	if (trace_enabled())
		return true;
	selftest_skip(t, "trace=off");
	return false;
}

static void test_records_read_back_in_order(struct selftest *t)
{
	unsigned int cpu = this_cpu_id();
	uint64_t first = trace_count(cpu);
	struct trace_record r[3];

	if (!need_trace_on(t))
		return;
	trace3(TRACE_MAP, 0x1000, 0x2000, 0x3000);
	trace2(TRACE_UNMAP, 0x1000, 0x3000);
	trace_step("read back");
	ASSERT_EQ(t, trace_count(cpu), first + 3);
	for (int i = 0; i < 3; i++)
		ASSERT_TRUE(t, trace_read(cpu, first + i, &r[i]));
	EXPECT_EQ(t, r[0].event, TRACE_MAP);
	EXPECT_EQ(t, r[0].arg[2], 0x3000);
	EXPECT_EQ(t, r[1].event, TRACE_UNMAP);
	EXPECT_STREQ(t, (const char *)(uintptr_t)r[2].arg[0], "read back");
	EXPECT_LE(t, r[0].tsc, r[1].tsc);
	EXPECT_LE(t, r[1].tsc, r[2].tsc);
	EXPECT_TRUE(t, !trace_read(cpu, first + 3, &r[0]));   /* not yet made */
}

static void test_off_records_nothing(struct selftest *t)
{
	unsigned int cpu = this_cpu_id();
	uint64_t before = trace_count(cpu);
	bool was = trace_set_enabled(false);

	trace_step("must not appear");
	trace_set_enabled(was);
	EXPECT_EQ(t, trace_count(cpu), before);
	trace_step("must appear");           /* the control: on, it counts */
	EXPECT_EQ(t, trace_count(cpu), before + (was ? 1 : 0));
}

static void test_overwritten_records_are_refused(struct selftest *t)
{
	unsigned int cpu = this_cpu_id();
	uint64_t first = trace_count(cpu);
	struct trace_record r;

	if (!need_trace_on(t))
		return;
	for (uint64_t i = 0; i < TRACE_RING_RECORDS + 1; i++)
		trace1(TRACE_UNMAP, i);
	EXPECT_TRUE(t, !trace_read(cpu, first, &r));        /* its slot reused */
	ASSERT_TRUE(t, trace_read(cpu, first + TRACE_RING_RECORDS, &r));
	EXPECT_EQ(t, r.arg[0], TRACE_RING_RECORDS);
}

/* ---- an NMI in the middle of a record ---- */

enum reservation { RESERVE_ATOMIC, RESERVE_SPLIT };

static struct {
	enum reservation how;
	uint64_t reserved_at;     /* the index RECORDER_CPU took */
	bool waiting;             /* RECORDER_CPU: reserved, waiting */
	bool nmi_done;            /* the boot CPU: the NMI has returned */
} staged;

static void record_in_nmi(void)
{
	trace1(TRACE_MAP, NMI_MARK);
}

/* The recorder's half: reserve, let the NMI in, fill.  The split
 * reservation reads the head now and writes it back only after the NMI,
 * as a plain `head++` compiled to a load and a store would. */
static void record_around_an_nmi(void)
{
	unsigned int cpu = this_cpu_id();
	uint64_t idx;

	if (staged.how == RESERVE_ATOMIC)
		idx = trace_reserve(cpu);
	else
		idx = READ_ONCE(trace_rings[cpu].head);
	staged.reserved_at = idx;
	__atomic_store_n(&staged.waiting, true, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&staged.nmi_done, __ATOMIC_ACQUIRE))
		cpu_relax();
	if (staged.how == RESERVE_SPLIT)
		WRITE_ONCE(trace_rings[cpu].head, idx + 1);
	trace_fill(cpu, idx, TRACE_MAP, OWN_MARK, 0, 0);
}

static void nmi_stage_body(struct selftest *t, unsigned int cpu, void *arg)
{
	(void)t, (void)arg;
	if (cpu == RECORDER_CPU) {
		record_around_an_nmi();
	} else if (cpu == 0) {
		while (!__atomic_load_n(&staged.waiting, __ATOMIC_ACQUIRE))
			cpu_relax();
		nmi_run_on_cpu(RECORDER_CPU, record_in_nmi);
		__atomic_store_n(&staged.nmi_done, true, __ATOMIC_RELEASE);
	}
}

/* Stage it; true if both records survived whole. */
static bool both_survive(struct selftest *t, enum reservation how)
{
	struct trace_record own, nmi;
	uint64_t from = trace_count(RECORDER_CPU);
	bool have_own, have_nmi;

	staged = (typeof(staged)){ .how = how };
	selftest_run_on_all_cpus(t, nmi_stage_body, NULL);
	have_own = find_record(RECORDER_CPU, from, TRACE_MAP, OWN_MARK, ANY, &own);
	have_nmi = find_record(RECORDER_CPU, from, TRACE_MAP, NMI_MARK, ANY, &nmi);
	selftest_diag(t, "%s reservation at %llu: own record %s, NMI's record %s "
		      "(ring head %llu)", how == RESERVE_ATOMIC ? "atomic" : "split",
		      (unsigned long long)staged.reserved_at,
		      have_own ? "kept" : "LOST", have_nmi ? "kept" : "LOST",
		      (unsigned long long)trace_count(RECORDER_CPU));
	return have_own && have_nmi;
}

static void test_nmi_inside_a_record_loses_nothing(struct selftest *t)
{
	if (!need_trace_on(t))
		return;
	if (smp_num_online() <= RECORDER_CPU) {
		selftest_skip(t, "needs a second CPU to take the NMI");
		return;
	}
	EXPECT_TRUE(t, both_survive(t, RESERVE_ATOMIC));
	EXPECT_TRUE(t, !both_survive(t, RESERVE_SPLIT));   /* negative control */
}

/* ---- cost ---- */

static uint64_t ns_per_event(void)
{
	uint64_t start = clock_ns();

	for (uint64_t i = 0; i < BENCH_EVENTS; i++)
		trace3(TRACE_MAP, i, i, i);
	return (clock_ns() - start) / BENCH_EVENTS;
}

/* No timing assertion (TCG on a shared machine): the figures are printed
 * for docs/trace.md; the case checks that the events were recorded, and
 * that off they were not. */
static void test_bench_ns_per_event(struct selftest *t)
{
	unsigned int cpu = this_cpu_id();
	uint64_t before = trace_count(cpu), on, off;
	bool was = trace_set_enabled(true);

	on = ns_per_event();
	EXPECT_EQ(t, trace_count(cpu) - before, BENCH_EVENTS);
	trace_set_enabled(false);
	off = ns_per_event();
	trace_set_enabled(was);
	EXPECT_EQ(t, trace_count(cpu) - before, BENCH_EVENTS);
	selftest_diag(t, "trace: %llu ns/event on, %llu ns/event off "
		      "(%d events, CPU %u)", (unsigned long long)on,
		      (unsigned long long)off, BENCH_EVENTS, cpu);
}

/* ---- a vunmap, traced ---- */

static void touch(void *arg)
{
	(void)READ_ONCE(*(volatile uint64_t *)arg);   /* fill this CPU's TLB */
}

/* On CPU 0 after @from: the shootdown's begin, its IPI, the free. */
struct vunmap_trace {
	struct trace_record begin, send, free;
};

static bool find_on_cpu0(struct selftest *t, uint64_t from, struct vunmap_trace *v)
{
	uint64_t off;
	const char *fn;

	if (!EXPECT_TRUE(t, find_record(0, from, TRACE_SHOOTDOWN,
					shootdown_cpu_stats[0].shootdowns, ANY, &v->begin)))
		return false;
	if (!EXPECT_TRUE(t, find_record(0, from, TRACE_FREE, v->begin.arg[0], ANY, &v->free)))
		return false;
	if (smp_num_online() < 2)
		return false;             /* alone: no IPI, nothing to wait for */
	for (uint64_t i = from; i < trace_count(0); i++)
		if (trace_read(0, i, &v->send) && v->send.event == TRACE_IPI_SEND &&
		    v->send.tsc > v->begin.tsc && v->send.tsc < v->free.tsc) {
			fn = ksym_lookup(v->send.arg[2], &off);
			return EXPECT_STREQ(t, fn ? fn : "?", "shootdown_on_target");
		}
	selftest_fail_at(t, __FILE__, __LINE__, "no ipi_send between sd_begin "
			 "and free on CPU 0");
	return false;
}

/* Each target took the call and acknowledged it before the free. */
static void check_targets(struct selftest *t, const uint64_t *from,
			  const struct vunmap_trace *v)
{
	struct trace_record recv, ack;

	for (unsigned int cpu = 1; cpu < smp_num_online(); cpu++) {
		uint64_t call = v->send.arg[0];
		bool seen = find_record(cpu, from[cpu], TRACE_IPI_RECV, 0, call, &recv) &&
			    find_record(cpu, from[cpu], TRACE_ACK, 0, call, &ack);

		if (!seen) {
			selftest_fail_at(t, __FILE__, __LINE__, "CPU %u: no ipi_recv "
					 "and ack of call %llu", cpu,
					 (unsigned long long)v->send.arg[0]);
			continue;
		}
		if (!EXPECT_LT(t, ack.tsc, v->free.tsc))
			selftest_diag(t, "CPU %u acked at %llu, CPU 0 freed at %llu",
				      cpu, (unsigned long long)ack.tsc,
				      (unsigned long long)v->free.tsc);
		EXPECT_LE(t, v->send.tsc, recv.tsc);
	}
}

static void test_vunmap_is_traced_on_every_cpu(struct selftest *t)
{
	struct frame *pages[VUNMAP_PAGES] = { NULL };
	uint64_t from[MAX_CPUS], since;
	struct vunmap_trace v;
	void *p = NULL;

	if (!need_trace_on(t))
		return;
	for (int i = 0; i < VUNMAP_PAGES; i++)
		if (!(pages[i] = frame_alloc(0, FRAME_KERNEL)))
			goto out;
	vm_purge_lazy_now();              /* no purge of others in the window */
	for (unsigned int cpu = 0; cpu < smp_num_online(); cpu++)
		from[cpu] = trace_count(cpu);
	since = trace_mark();
	trace_step("vmap, every CPU reads, vunmap");
	p = vmap(pages, VUNMAP_PAGES, PT_PROT_RW);
	if (!EXPECT_TRUE(t, p != NULL))
		goto out;
	smp_call_all(touch, p, SMP_WAIT_ACK);
	vunmap(p);
	trace_dump(since);
	if (find_on_cpu0(t, from[0], &v))
		check_targets(t, from, &v);
out:
	for (int i = 0; i < VUNMAP_PAGES; i++)
		if (pages[i])
			frame_free(pages[i], FRAME_KERNEL);
}

static const struct selftest_case trace_cases[] = {
	{ "records_read_back_in_order", test_records_read_back_in_order },
	{ "off_records_nothing", test_off_records_nothing },
	{ "overwritten_records_are_refused", test_overwritten_records_are_refused },
	{ "nmi_inside_a_record_loses_nothing", test_nmi_inside_a_record_loses_nothing },
	{ "bench_ns_per_event", test_bench_ns_per_event },
	{ "vunmap_is_traced_on_every_cpu", test_vunmap_is_traced_on_every_cpu },
};
SELFTEST_SUITE(trace, trace_cases);
