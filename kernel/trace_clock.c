/* trace_clock.c: do the CPUs' TSCs agree?  The trace compares timestamps
 * of different CPUs (an ack on CPU 2 against a free on CPU 0), so the
 * boot measures each AP's TSC against the boot CPU's.
 *
 * The measurement is a ping-pong, as NTP does it across a network.  The
 * boot CPU reads t0 and writes a ping; the AP, spinning in a cross-CPU
 * call, sees it, reads its own t1 and writes a pong; the boot CPU sees
 * that and reads t2.  t1 was read somewhere between t0 and t2, so if the
 * clocks agree, t1 - (t0 + t2) / 2 lies within +-(t2 - t0) / 2.  The
 * round with the shortest round trip gives the tightest bound.  An AP
 * whose offset falls outside its bound has a clock that disagrees; its
 * offset becomes a correction that trace_record() subtracts.
 */
#include "arch/x86/arch.h"
#include "kernel/clock.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/trace_internal.h"

/* Rounds per AP: the first pays for the AP's entry into the call; the
 * rest look for a round trip that no vCPU preemption lengthened.  With 8,
 * -smp 4 on a busy 2-core host sometimes kept bounds of milliseconds
 * (every round preempted); a round costs a few microseconds otherwise. */
#define CLOCK_ROUNDS 32
/* Each side gives up on the other after this long.  Under TCG with more
 * vCPUs than host cores a vCPU thread may wait tens of milliseconds for
 * a core: 10 ms gave up on a live CPU (-smp 4, 2026-11-30). */
#define CLOCK_WAIT_NS (200 * NSEC_PER_MSEC)

/* The exchange with one AP: round r's ping is r + 1 in ping_seq; the AP
 * answers with its TSC in pong_tsc and r + 1 in pong_seq. */
static struct {
	uint64_t ping_seq;
	uint64_t pong_seq;
	uint64_t pong_tsc;
} exchange;

static bool wait_for(const uint64_t *word, uint64_t value)
{
	uint64_t start = clock_ns();

	while (__atomic_load_n(word, __ATOMIC_ACQUIRE) != value) {
		if (clock_ns() - start > CLOCK_WAIT_NS)
			return false;
		cpu_relax();
	}
	return true;
}

/* => on the AP, as a cross-CPU call: IRQs off. */
static void answer_pings(void *arg)
{
	(void)arg;
	for (uint64_t r = 1; r <= CLOCK_ROUNDS; r++) {
		if (!wait_for(&exchange.ping_seq, r))
			return;
		exchange.pong_tsc = clock_cycles();
		__atomic_store_n(&exchange.pong_seq, r, __ATOMIC_RELEASE);
	}
}

struct clock_result {
	int64_t offset;        /* AP's TSC minus the boot CPU's, cycles */
	uint64_t round_trip;   /* of the round that measured it */
	unsigned int rounds;   /* rounds answered */
};

/* => boot CPU, IRQs off (an interrupt would lengthen a round trip). */
static struct clock_result measure(unsigned int cpu)
{
	struct clock_result best = { 0, UINT64_MAX, 0 };

	exchange.ping_seq = exchange.pong_seq = 0;
	if (smp_call_one(cpu, answer_pings, NULL, SMP_NO_WAIT) < 0)
		return best;
	for (uint64_t r = 1; r <= CLOCK_ROUNDS; r++) {
		uint64_t t0 = clock_cycles(), t2;

		__atomic_store_n(&exchange.ping_seq, r, __ATOMIC_RELEASE);
		if (!wait_for(&exchange.pong_seq, r))
			break;
		t2 = clock_cycles();
		best.rounds++;
		if (t2 - t0 < best.round_trip) {
			best.round_trip = t2 - t0;
			best.offset = (int64_t)(exchange.pong_tsc - (t0 + (t2 - t0) / 2));
		}
	}
	smp_call_wait_for_acks();
	return best;
}

static uint64_t abs64(int64_t v)
{
	return v < 0 ? (uint64_t)-v : (uint64_t)v;
}

void trace_clock_check(void)
{
	bool irqs_were_on = arch_irqs_enabled();
	unsigned int cpus = smp_num_online(), disagree = 0, measured = 0;
	uint64_t worst = 0, widest = 0;

	if (cpus < 2)
		return;
	arch_irq_disable();
	for (unsigned int cpu = 1; cpu < cpus; cpu++) {
		struct clock_result m = measure(cpu);

		if (m.rounds == 0) {
			printk("trace: CPU %u did not answer the clock check; its "
			       "timestamps are taken as they are\n", cpu);
			continue;
		}
		printk("trace: CPU %u TSC - CPU 0 TSC = %lld cycles, +-%llu "
		       "(shortest of %u round trips)\n", cpu, (long long)m.offset,
		       (unsigned long long)(m.round_trip / 2), m.rounds);
		measured++;
		worst = MAX(worst, abs64(m.offset));
		widest = MAX(widest, m.round_trip / 2);
		if (abs64(m.offset) > m.round_trip / 2) {
			trace_clock_offsets[cpu] = m.offset;
			disagree++;
		}
	}
	if (irqs_were_on)
		arch_irq_enable();
	if (disagree)
		printk("trace: %u CPUs' TSCs disagree with CPU 0's by up to %llu "
		       "cycles; their trace timestamps are corrected by the "
		       "offsets above\n", disagree, (unsigned long long)worst);
	else if (measured)
		printk("trace: the TSCs of the %u APs measured agree with CPU 0's "
		       "within %llu cycles (%llu ns)\n", measured,
		       (unsigned long long)widest,
		       (unsigned long long)clock_cycles_to_ns(widest));
}

int64_t trace_clock_offset(unsigned int cpu)
{
	return cpu < MAX_CPUS ? trace_clock_offsets[cpu] : 0;
}
