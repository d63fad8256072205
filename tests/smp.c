/* tests/smp.c: the CPUs came up alike, and cross-CPU calls run exactly
 * once per target, never deadlock, and refuse bad input.  Also prints
 * the IPI round-trip floor the TLB shootdown will be measured against.
 *
 * Cases that need two CPUs skip at -smp 1.  Nothing asserts timing: the
 * only time limits are the call layer's own safety nets (panics).
 */
#include "arch/x86/asm.h"
#include "arch/x86/lapic.h"
#include "arch/x86/percpu.h"
#include "kernel/clock.h"
#include "kernel/printk.h"
#include "kernel/selftest_internal.h"
#include "kernel/smp.h"
#include "kernel/string.h"
#include "tests/bench.h"

/* runs[target][caller]: how often each CPU ran a call from each caller.
 * Written by targets with atomic adds; read after every call is acked. */
static uint64_t runs[MAX_CPUS][MAX_CPUS];

static void count_run(void *arg)
{
	unsigned int caller = (unsigned int)(uintptr_t)arg;

	__atomic_fetch_add(&runs[this_cpu_id()][caller], 1, __ATOMIC_RELAXED);
}

static void nop(void *arg)
{
	(void)arg;
}

static bool need_two_cpus(struct selftest *t)
{
	if (smp_num_online() >= 2)
		return true;
	selftest_skip(t, "needs at least two CPUs");
	return false;
}

/* Compare runs[][] with @expected, naming the first cells that differ. */
static void expect_runs(struct selftest *t, uint64_t expected[MAX_CPUS][MAX_CPUS])
{
	unsigned int shown = 0;

	for (unsigned int target = 0; target < MAX_CPUS; target++)
		for (unsigned int caller = 0; caller < MAX_CPUS; caller++) {
			uint64_t got = __atomic_load_n(&runs[target][caller], __ATOMIC_RELAXED);

			if (got != expected[target][caller] && shown++ < 4)
				selftest_fail_at(t, __FILE__, __LINE__,
					"CPU %u ran %llu calls from CPU %u, expected %llu",
					target, (unsigned long long)got, caller,
					(unsigned long long)expected[target][caller]);
		}
}

static uint64_t expected_runs[MAX_CPUS][MAX_CPUS];

static void reset_runs(void)
{
	memset(runs, 0, sizeof(runs));
	memset(expected_runs, 0, sizeof(expected_runs));
}

/* ---- the CPUs ---- */

static uint64_t boot_cr0, boot_cr3, boot_cr4, boot_efer;

static void check_this_cpu(struct selftest *t, unsigned int cpu, void *arg)
{
	struct percpu *p = this_cpu();

	(void)arg;
	EXPECT_EQ(t, p->cpu_id, cpu);
	EXPECT_EQ(t, (uintptr_t)p, (uintptr_t)&percpu_areas[cpu]);
	EXPECT_EQ(t, rdmsr(MSR_GS_BASE), (uintptr_t)&percpu_areas[cpu]);
	EXPECT_EQ(t, p->apic_id, lapic_id());
	EXPECT_EQ(t, read_cr0(), boot_cr0);
	EXPECT_EQ(t, read_cr4(), boot_cr4);
	/* A full flush is one CR3 reload only while nothing is global. */
	EXPECT_EQ(t, read_cr4() & CR4_PGE, 0);
	EXPECT_EQ(t, rdmsr(MSR_EFER), boot_efer);
	EXPECT_EQ(t, read_cr3(), boot_cr3);
}

/* Every online CPU finds its own struct percpu through GS, its APIC id
 * there, and the boot CPU's page tables and CR0/CR4/EFER features, with
 * CR4.PGE off (arch/x86/tlb.c). */
static void test_cpus_are_set_up_alike(struct selftest *t)
{
	boot_cr0 = read_cr0();
	boot_cr3 = read_cr3();
	boot_cr4 = read_cr4();
	boot_efer = rdmsr(MSR_EFER);
	selftest_diag(t, "%u CPUs online", smp_num_online());
	for (unsigned int c = 0; c < smp_num_online(); c++)
		selftest_diag(t, "CPU %u: APIC id %u", c, percpu_areas[c].apic_id);
	selftest_run_on_all_cpus(t, check_this_cpu, NULL);
}

/* Per-CPU data stays per CPU: every CPU bumps a counter in its own slot
 * through this_cpu() many times, with barriers in between; each slot
 * ends with exactly its own CPU's count. */
static uint64_t percpu_counter[MAX_CPUS];

static void bump_own_counter(struct selftest *t, unsigned int cpu, void *arg)
{
	(void)arg;
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 1000 * (int)(cpu + 1); i++)
			percpu_counter[this_cpu()->cpu_id]++;
		selftest_cpu_barrier(t);
	}
	EXPECT_EQ(t, this_cpu()->cpu_id, cpu);
}

static void test_percpu_data_stays_per_cpu(struct selftest *t)
{
	memset(percpu_counter, 0, sizeof(percpu_counter));
	selftest_run_on_all_cpus(t, bump_own_counter, NULL);
	for (unsigned int c = 0; c < smp_num_online(); c++)
		EXPECT_EQ(t, percpu_counter[c], 4000 * (c + 1));
}

static void clock_body(struct selftest *t, unsigned int cpu, void *arg)
{
	uint64_t prev = clock_ns(), now;

	(void)cpu;
	(void)arg;
	for (int i = 0; i < 100000; i++) {
		now = clock_ns();
		if (!EXPECT_GE(t, now, prev))
			return;
		prev = now;
	}
}

static void test_clock_is_monotonic_on_every_cpu(struct selftest *t)
{
	EXPECT_GT(t, clock_hz(), 0);
	selftest_run_on_all_cpus(t, clock_body, NULL);
}

/* ---- calls ---- */

/* One call to each CPU, then a mask of all, all-but-self and all: each
 * target runs it exactly once per call, and the ack means it has. */
static void test_each_cpu_runs_a_call_once(struct selftest *t)
{
	unsigned int n = smp_num_online(), self = this_cpu_id();
	cpumask_t all = smp_online_mask();

	reset_runs();
	for (unsigned int c = 0; c < n; c++) {
		ASSERT_EQ(t, smp_call_one(c, count_run, (void *)(uintptr_t)self, SMP_WAIT_ACK), 0);
		EXPECT_EQ(t, runs[c][self], 1);       /* acked means done */
	}
	ASSERT_EQ(t, smp_call_mask(&all, count_run, (void *)(uintptr_t)self, SMP_WAIT_ACK), 0);
	ASSERT_EQ(t, smp_call_all_but_self(count_run, (void *)(uintptr_t)self, SMP_WAIT_ACK), 0);
	ASSERT_EQ(t, smp_call_all(count_run, (void *)(uintptr_t)self, SMP_WAIT_ACK), 0);
	for (unsigned int c = 0; c < n; c++)
		expected_runs[c][self] = c == self ? 3 : 4;
	expect_runs(t, expected_runs);
}

/* SMP_NO_WAIT calls in a burst longer than the descriptor pool: all run,
 * once each, and smp_call_wait_for_acks() sees them through. */
static void test_no_wait_calls_all_arrive(struct selftest *t)
{
	unsigned int self = this_cpu_id(), n = smp_num_online();

	if (!need_two_cpus(t))
		return;
	reset_runs();
	for (int i = 0; i < 1000; i++) {
		ASSERT_EQ(t, smp_call_one(1 + i % (n - 1), count_run,
					  (void *)(uintptr_t)self, SMP_NO_WAIT), 0);
		ASSERT_EQ(t, smp_call_all_but_self(count_run, (void *)(uintptr_t)self,
						   SMP_NO_WAIT), 0);
	}
	ASSERT_EQ(t, smp_call_wait_for_acks(), 0);
	for (unsigned int c = 1; c < n; c++)
		expected_runs[c][self] = 1000 + (1000 / (n - 1) + (c - 1 < 1000 % (n - 1)));
	expect_runs(t, expected_runs);
}

/* The storm: 100,000 calls in all, from every CPU at once, mixing one
 * target and broadcast, waiting and not; every count is exact. */
#define STORM_CALLS 100000

static void storm_body(struct selftest *t, unsigned int cpu, void *arg)
{
	unsigned int n = smp_num_online(), share = STORM_CALLS / n;

	(void)arg;
	for (unsigned int i = 0; i < share; i++) {
		unsigned int target = (cpu + 1 + i % (n - 1)) % n;
		int err;

		if (i % 16 == 0)
			err = smp_call_all_but_self(count_run, (void *)(uintptr_t)cpu, SMP_NO_WAIT);
		else
			err = smp_call_one(target, count_run, (void *)(uintptr_t)cpu,
					   i % 16 == 1 ? SMP_WAIT_ACK : SMP_NO_WAIT);
		if (!EXPECT_EQ(t, err, 0))
			return;
	}
	EXPECT_EQ(t, smp_call_wait_for_acks(), 0);
}

static void test_storm_of_calls_from_all_cpus(struct selftest *t)
{
	unsigned int n = smp_num_online(), share = STORM_CALLS / n;
	uint64_t start, sent = 0, received = 0;

	if (!need_two_cpus(t))
		return;
	reset_runs();
	for (unsigned int cpu = 0; cpu < n; cpu++)
		for (unsigned int i = 0; i < share; i++) {
			if (i % 16 == 0) {
				for (unsigned int c = 0; c < n; c++)
					expected_runs[c][cpu] += c != cpu;
			} else {
				expected_runs[(cpu + 1 + i % (n - 1)) % n][cpu]++;
			}
		}
	for (unsigned int c = 0; c < n; c++)
		sent -= smp_stats_of(c).ipis_sent, received -= smp_stats_of(c).ipis_received;
	start = clock_ns();
	selftest_run_on_all_cpus(t, storm_body, NULL);
	for (unsigned int c = 0; c < n; c++)
		sent += smp_stats_of(c).ipis_sent, received += smp_stats_of(c).ipis_received;
	selftest_diag(t, "%u calls from %u CPUs in %llu ms; %llu IPIs sent, %llu "
		      "handler entries", share * n, n,
		      (unsigned long long)((clock_ns() - start) / NSEC_PER_MSEC),
		      (unsigned long long)sent, (unsigned long long)received);
	expect_runs(t, expected_runs);
}

/* Every CPU calls every other CPU at once, and waits: A -> B while
 * B -> A.  Then again with IRQs off, where only the waiting loops'
 * serving of their own queues keeps it from deadlocking. */
#define PAIR_ROUNDS 50

static void pairs_body(struct selftest *t, unsigned int cpu, void *arg)
{
	unsigned int n = smp_num_online();
	bool irqs_off = arg != NULL;
	bool irqs_were_on = read_rflags() & RFLAGS_IF;

	if (irqs_off)
		cli();
	for (int r = 0; r < PAIR_ROUNDS; r++)
		for (unsigned int k = 1; k < n; k++) {
			/* In step k this CPU calls CPU cpu + k while CPU
			 * cpu - k calls it (mod n): over all k, every pair
			 * of CPUs in both directions at once. */
			unsigned int target = (cpu + k) % n;

			if (!EXPECT_EQ(t, smp_call_one(target, count_run,
						       (void *)(uintptr_t)cpu, SMP_WAIT_ACK), 0))
				goto out;
		}
out:
	if (irqs_off && irqs_were_on)
		sti();
}

static void run_pairs(struct selftest *t, void *irqs_off)
{
	unsigned int n = smp_num_online();

	if (!need_two_cpus(t))
		return;
	reset_runs();
	for (unsigned int a = 0; a < n; a++)
		for (unsigned int b = 0; b < n; b++)
			expected_runs[a][b] = a == b ? 0 : PAIR_ROUNDS;
	selftest_run_on_all_cpus(t, pairs_body, irqs_off);
	expect_runs(t, expected_runs);
}

static void test_pairs_call_each_other(struct selftest *t)
{
	run_pairs(t, NULL);
}

static void test_pairs_call_each_other_irqs_off(struct selftest *t)
{
	run_pairs(t, (void *)1);
}

/* ---- bad input ---- */

static int nested_wait_result;

static void try_to_wait_inside_a_call(void *arg)
{
	(void)arg;
	nested_wait_result = smp_call_one(0, nop, NULL, SMP_WAIT_ACK);
}

static uint64_t ipis_sent_by_me(void)
{
	return smp_stats_of(this_cpu_id()).ipis_sent;
}

static void test_bad_input_is_refused(struct selftest *t)
{
	unsigned int n = smp_num_online();
	cpumask_t empty = { 0 }, offline = { 0 }, too_big = { 1ULL << MAX_CPUS };
	uint64_t sent = ipis_sent_by_me();

	EXPECT_EQ(t, smp_call_one(MAX_CPUS, nop, NULL, SMP_WAIT_ACK), -EINVAL);
	EXPECT_EQ(t, smp_call_one(1000, nop, NULL, SMP_NO_WAIT), -EINVAL);
	if (n < MAX_CPUS) {
		EXPECT_EQ(t, smp_call_one(n, nop, NULL, SMP_WAIT_ACK), -EINVAL);
		cpumask_set(&offline, n);
		EXPECT_EQ(t, smp_call_mask(&offline, nop, NULL, SMP_WAIT_ACK), -EINVAL);
	}
	EXPECT_EQ(t, smp_call_mask(&empty, nop, NULL, SMP_WAIT_ACK), -EINVAL);
	EXPECT_EQ(t, smp_call_mask(NULL, nop, NULL, SMP_WAIT_ACK), -EINVAL);
	EXPECT_EQ(t, smp_call_mask(&too_big, nop, NULL, SMP_WAIT_ACK), -EINVAL);
	EXPECT_EQ(t, smp_call_one(0, NULL, NULL, SMP_WAIT_ACK), -EINVAL);
	EXPECT_EQ(t, smp_call_all(nop, NULL, (enum smp_wait)7), -EINVAL);
	EXPECT_EQ(t, ipis_sent_by_me(), sent);       /* no IPI for any of them */

	/* Waiting from inside a called fn: refused there, no IPI from it. */
	nested_wait_result = 0;
	EXPECT_EQ(t, smp_call_one(n - 1, try_to_wait_inside_a_call, NULL, SMP_WAIT_ACK), 0);
	EXPECT_EQ(t, nested_wait_result, -EDEADLK);
}

/* A broadcast is one IPI command, whatever the number of targets, and
 * every other CPU's handler runs for it.  Unless a CPU of the machine is
 * not online (beyond MAX_CPUS, or failed to start): then the shorthand
 * would reach it too, and the call goes as one IPI per online CPU,
 * counted in broadcasts_split. */
static void test_broadcast_is_one_ipi(struct selftest *t)
{
	unsigned int n = smp_num_online(), self = this_cpu_id();
	bool all_online = arch_nr_present_cpus() == n;
	uint64_t received[MAX_CPUS], sent, split;

	if (!need_two_cpus(t))
		return;
	selftest_diag(t, "%u CPUs present, %u online: expect %s", arch_nr_present_cpus(),
		      n, all_online || n == 2 ? "one IPI command" : "one IPI per CPU");
	for (unsigned int c = 0; c < n; c++)
		received[c] = smp_stats_of(c).ipis_received;
	sent = ipis_sent_by_me();
	split = smp_stats_of(self).broadcasts_split;
	ASSERT_EQ(t, smp_call_all_but_self(nop, NULL, SMP_WAIT_ACK), 0);
	EXPECT_EQ(t, ipis_sent_by_me() - sent, all_online ? 1 : n - 1);
	EXPECT_EQ(t, smp_stats_of(self).broadcasts_split - split,
		  all_online || n == 2 ? 0 : 1);
	for (unsigned int c = 0; c < n; c++)
		if (c != self)
			EXPECT_GE(t, smp_stats_of(c).ipis_received - received[c], 1);
}

/* smp_choose_ipi(): the shorthand only for every other online CPU (two
 * or more) and only when every present CPU is online. */
static const struct {
	const char *name;
	uint64_t remote, online;
	unsigned int self, present;
	enum smp_ipi want;
} choose_ipi_rows[] = {
	{ "all others, all present online", 0xe, 0xf, 0, 4, SMP_IPI_ALL_BUT_SELF },
	{ "all others from CPU 2",          0xb, 0xf, 2, 4, SMP_IPI_ALL_BUT_SELF },
	{ "all others, 4 more present",     0xe, 0xf, 0, 8, SMP_IPI_EACH_TARGET_NOT_ALL_ONLINE },
	{ "all others, one failed to start", 0x6, 0x7, 0, 4, SMP_IPI_EACH_TARGET_NOT_ALL_ONLINE },
	{ "some others",                    0x6, 0xf, 0, 4, SMP_IPI_EACH_TARGET },
	{ "one other of two",               0x2, 0x3, 0, 2, SMP_IPI_EACH_TARGET },
	{ "16 online of 20 present",        0xfffe, 0xffff, 0, 20, SMP_IPI_EACH_TARGET_NOT_ALL_ONLINE },
	{ "16 online of 16 present",        0xfffe, 0xffff, 0, 16, SMP_IPI_ALL_BUT_SELF },
};

/* The ack timeout fires whatever the clock read when the wait began,
 * 0 included (a clock that starts at 0 used to restart it forever). */
static const struct {
	const char *name;
	uint64_t readings[4];
	unsigned int expires_at;    /* index of the first expired reading, or 4 */
} ack_wait_rows[] = {
	{ "clock starts at 0", { 0, 0, SMP_ACK_TIMEOUT_NS + 1, 0 }, 2 },
	{ "clock starts at 5", { 5, 6, SMP_ACK_TIMEOUT_NS + 6, 0 }, 2 },
	{ "exactly the timeout is not past it", { 7, SMP_ACK_TIMEOUT_NS + 7,
	  SMP_ACK_TIMEOUT_NS + 8, 0 }, 2 },
	{ "never long enough", { 0, 1, 2, SMP_ACK_TIMEOUT_NS }, 4 },
};

static void test_ack_timeout_fires_from_a_clock_at_0(struct selftest *t)
{
	for (size_t i = 0; i < ARRAY_SIZE(ack_wait_rows); i++) {
		struct smp_ack_wait w = { 0 };
		unsigned int at = 4;

		for (unsigned int j = 0; j < 4 && at == 4; j++)
			if (smp_ack_wait_expired(&w, ack_wait_rows[i].readings[j]))
				at = j;
		if (at != ack_wait_rows[i].expires_at)
			selftest_fail_at(t, __FILE__, __LINE__, "%s: expired at "
				"reading %u, want %u (4: never)", ack_wait_rows[i].name,
				at, ack_wait_rows[i].expires_at);
	}
}

static void test_shorthand_only_when_all_present_are_online(struct selftest *t)
{
	for (size_t i = 0; i < ARRAY_SIZE(choose_ipi_rows); i++) {
		typeof(choose_ipi_rows[0]) *r = &choose_ipi_rows[i];
		enum smp_ipi got = smp_choose_ipi((cpumask_t){ r->remote },
						  (cpumask_t){ r->online },
						  r->self, r->present);

		if (got != r->want)
			selftest_fail_at(t, __FILE__, __LINE__, "%s: remote %#llx, "
				"online %#llx, self %u, present %u: chose %d, want %d",
				r->name, (unsigned long long)r->remote,
				(unsigned long long)r->online, r->self, r->present,
				got, r->want);
	}
}

/* ---- the framework sees failures on other CPUs ---- */

static void fail_on_last_cpu(struct selftest *t, unsigned int cpu, void *arg)
{
	(void)arg;
	if (cpu == smp_num_online() - 1)
		EXPECT_EQ(t, cpu, 1000);
}

static void body_fails_on_last_cpu(struct selftest *t)
{
	selftest_run_on_all_cpus(t, fail_on_last_cpu, NULL);
}

static void test_failure_on_another_cpu_is_reported(struct selftest *t)
{
	static const struct selftest_case c = { "fails_on_last_cpu", body_fails_on_last_cpu };

	EXPECT_EQ(t, selftest_run_nested(&c), SELFTEST_FAILED);
}

/* ---- measurements (printed, never asserted) ---- */

#define MEASURE_ROUNDS 2000

static uint64_t samples[MEASURE_ROUNDS];

static void report(struct selftest *t, const char *what)
{
	uint64_t med, p99;

	bench_sort_u64(samples, MEASURE_ROUNDS);
	med = samples[MEASURE_ROUNDS / 2];
	p99 = samples[MEASURE_ROUNDS * 99 / 100];
	selftest_diag(t, "%-40s median %7llu cycles %7llu ns, p99 %7llu cycles %7llu ns",
		      what, (unsigned long long)med,
		      (unsigned long long)clock_cycles_to_ns(med), (unsigned long long)p99,
		      (unsigned long long)clock_cycles_to_ns(p99));
}

static void test_measure_ipi_round_trip(struct selftest *t)
{
	char what[64];

	if (!need_two_cpus(t))
		return;
	for (int i = 0; i < MEASURE_ROUNDS; i++) {
		uint64_t start = clock_cycles();

		smp_call_one(1, nop, NULL, SMP_WAIT_ACK);
		samples[i] = clock_cycles() - start;
	}
	report(t, "IPI round trip to CPU 1 (call, ack):");
	for (int i = 0; i < MEASURE_ROUNDS; i++) {
		uint64_t start = clock_cycles();

		smp_call_all_but_self(nop, NULL, SMP_WAIT_ACK);
		samples[i] = clock_cycles() - start;
	}
	snprintf(what, sizeof(what), "broadcast to %u CPUs, every ack:", smp_num_online() - 1);
	report(t, what);
	selftest_diag(t, "(%d rounds each, TSC at %llu MHz; timings under TCG "
		      "reflect the host more than the design)", MEASURE_ROUNDS,
		      (unsigned long long)(clock_hz() / 1000000));
}

static const struct selftest_case smp_cases[] = {
	{ "cpus_are_set_up_alike", test_cpus_are_set_up_alike },
	{ "percpu_data_stays_per_cpu", test_percpu_data_stays_per_cpu },
	{ "clock_is_monotonic_on_every_cpu", test_clock_is_monotonic_on_every_cpu },
	{ "each_cpu_runs_a_call_once", test_each_cpu_runs_a_call_once },
	{ "no_wait_calls_all_arrive", test_no_wait_calls_all_arrive },
	{ "storm_of_calls_from_all_cpus", test_storm_of_calls_from_all_cpus },
	{ "pairs_call_each_other", test_pairs_call_each_other },
	{ "pairs_call_each_other_irqs_off", test_pairs_call_each_other_irqs_off },
	{ "bad_input_is_refused", test_bad_input_is_refused },
	{ "broadcast_is_one_ipi", test_broadcast_is_one_ipi },
	{ "ack_timeout_fires_from_a_clock_at_0",
	  test_ack_timeout_fires_from_a_clock_at_0 },
	{ "shorthand_only_when_all_present_are_online",
	  test_shorthand_only_when_all_present_are_online },
	{ "failure_on_another_cpu_is_reported", test_failure_on_another_cpu_is_reported },
	{ "measure_ipi_round_trip", test_measure_ipi_round_trip },
};
SELFTEST_SUITE(smp, smp_cases);
