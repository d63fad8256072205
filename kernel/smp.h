/* smp.h: which CPUs run, and cross-CPU function calls with
 * acknowledgment.
 *
 * smp_call_*(fn, arg, wait) runs fn(arg) on a set of CPUs.  Each target
 * runs it exactly once, in its call-function IPI handler (IRQs off), and
 * then acknowledges.  The set is named by the function:
 *
 *   smp_call_one(cpu, ...)        one CPU (the caller itself: run here)
 *   smp_call_mask(&mask, ...)     every CPU in the mask, the caller too
 *                                 if it is in it
 *   smp_call_all_but_self(...)    every other online CPU: ONE IPI command
 *                                 with the "all excluding self" shorthand
 *                                 (one per CPU while a present CPU is not
 *                                 online: the shorthand would reach it)
 *   smp_call_all(...)             the same broadcast, then fn here too
 *
 * and the wait by an enum:
 *
 *   SMP_WAIT_ACK   return when every target has run fn and acknowledged
 *   SMP_NO_WAIT    return once the IPIs are sent; smp_call_wait_for_acks()
 *                  later waits for every call this CPU sent
 *
 * Where the caller is a target, fn runs here after the IPIs are sent and
 * before the wait, so the remote CPUs work while this one does.
 *
 * Ownership of the message (seed 002): the call descriptor belongs to the
 * caller's per-CPU pool, never to its stack, and returns to the pool only
 * when the last target has acknowledged, that is, after every target is
 * done reading it.  So SMP_NO_WAIT is safe for the descriptor; @arg is
 * the caller's business: with SMP_NO_WAIT it must stay valid until the
 * acks (static data, or a value cast to a pointer, or wait for the acks
 * before it goes).
 *
 * Deadlock freedom: a CPU that waits (for acks, or for a free descriptor)
 * keeps serving the calls queued for it, with IRQs on or off, so two
 * CPUs calling each other at the same moment both finish.  What remains
 * forbidden, and refused with -EDEADLK: SMP_WAIT_ACK from inside a called
 * fn (interrupt context).  And, as everywhere, do not hold a spinlock
 * that a target may be spinning on while waiting.
 *
 * A target that does not acknowledge within SMP_ACK_TIMEOUT_NS makes the
 * caller panic, naming the CPU and the call.
 *
 * Bad input (an offline or out-of-range CPU, an empty mask, a NULL fn,
 * waiting where it would deadlock) returns -EINVAL or -EDEADLK with a
 * message, and sends no IPI.
 */
#ifndef KERNEL_SMP_H
#define KERNEL_SMP_H

#include "kernel/types.h"

#define EDEADLK 35     /* Linux's number, like the others in kernel/types.h */

/* A target that has not acknowledged after this long is stuck (or has
 * IRQs off and never polls): the caller panics.  Round trips measured
 * under TCG are 2 us to 200 us at p99, a few ms when vCPUs outnumber the
 * host's cores (docs/smp.md); ten seconds is a safety net, not a timing
 * assertion. */
#define SMP_ACK_TIMEOUT_NS (10ULL * 1000000000ULL)

typedef void (*smp_call_fn)(void *arg);

enum smp_wait {
	SMP_NO_WAIT,        /* return once the IPIs are sent */
	SMP_WAIT_ACK,       /* return when every target has acknowledged */
};

/* A set of CPU ids, one bit each (MAX_CPUS <= 64, checked in smp.c). */
typedef struct { uint64_t bits; } cpumask_t;

static inline void cpumask_set(cpumask_t *m, unsigned int cpu) { m->bits |= 1ULL << cpu; }
static inline void cpumask_clear(cpumask_t *m, unsigned int cpu) { m->bits &= ~(1ULL << cpu); }
static inline bool cpumask_test(const cpumask_t *m, unsigned int cpu) { return m->bits >> cpu & 1; }
static inline bool cpumask_empty(const cpumask_t *m) { return m->bits == 0; }
static inline unsigned int cpumask_weight(const cpumask_t *m)
{
	unsigned int n = 0;

	for (uint64_t b = m->bits; b; b &= b - 1)   /* no POPCNT: not baseline x86-64 */
		n++;
	return n;
}

/* for_each_cpu(cpu, &mask) { ... }: every CPU id in the mask, ascending. */
#define for_each_cpu(cpu, mask)                                          \
	for (uint64_t for_each_cpu_bits_ = (mask)->bits;                 \
	     for_each_cpu_bits_ &&                                       \
	     ((cpu) = (unsigned int)__builtin_ctzll(for_each_cpu_bits_), 1); \
	     for_each_cpu_bits_ &= for_each_cpu_bits_ - 1)

/* ---- online CPUs ---- */

/* The online CPUs are 0 .. smp_num_online() - 1: bring-up numbers the
 * CPUs that started in order and leaves out the ones that did not. */
unsigned int smp_num_online(void);
bool smp_cpu_online(unsigned int cpu);
cpumask_t smp_online_mask(void);

/* ---- cross-CPU calls ---- */

/* => any context but NMI (there: -EPERM, recorded by kernel/nmi.h, not
 *    printed); IRQs on or off (they are off inside).
 * => SMP_WAIT_ACK: not from inside a called fn (-EDEADLK).
 * => returns 0, or -EINVAL/-EDEADLK with a message and no IPI sent. */
int smp_call_one(unsigned int cpu, smp_call_fn fn, void *arg, enum smp_wait wait);
int smp_call_mask(const cpumask_t *mask, smp_call_fn fn, void *arg, enum smp_wait wait);
int smp_call_all_but_self(smp_call_fn fn, void *arg, enum smp_wait wait);
int smp_call_all(smp_call_fn fn, void *arg, enum smp_wait wait);

/* Wait until every call this CPU has sent is acknowledged, serving this
 * CPU's own queue meanwhile.  => not from inside a called fn. */
int smp_call_wait_for_acks(void);

/* Run the calls queued for this CPU now.  For loops that spin waiting
 * on another CPU, so that CPU's calls to us cannot deadlock with us.
 * => any context but NMI; IRQs on or off. */
void smp_call_poll(void);

/* True while this CPU runs a called fn. */
bool smp_in_call_handler(void);

/* Counters, per CPU (gdb: "p smp_cpus[1].stats").  Written only by
 * their CPU; read by anyone, as a snapshot. */
struct smp_stats {
	uint64_t ipis_sent;         /* ICR commands: a broadcast counts one */
	uint64_t ipis_received;     /* call-function IPI handler entries */
	uint64_t calls_sent;        /* calls made (any number of targets) */
	uint64_t calls_run;         /* fns run here for any caller */
	uint64_t calls_run_polled;  /* ... of them, found by a waiting loop */
	uint64_t descriptor_waits;  /* calls that found their descriptor still
				       unacknowledged and waited for it */
	uint64_t broadcasts_split;  /* calls to every other CPU sent one IPI
				       per CPU: a present CPU is offline */
};
struct smp_stats smp_stats_of(unsigned int cpu);

/* One line: calls, IPIs, descriptor waits, summed over the CPUs (the
 * boot summary). */
void smp_print_summary(void);

/* The acknowledgment timeout's clock (exposed for tests/smp.c): true
 * once @now is more than SMP_ACK_TIMEOUT_NS after the first reading. */
struct smp_ack_wait {
	bool started;
	uint64_t start;
};
bool smp_ack_wait_expired(struct smp_ack_wait *w, uint64_t now);

/* How a call's IPIs go out (exposed for tests/smp.c). */
enum smp_ipi {
	SMP_IPI_EACH_TARGET,     /* one ICR command per target */
	SMP_IPI_EACH_TARGET_NOT_ALL_ONLINE,   /* the same, where the shorthand
				    would do but would reach CPUs that are
				    present and not online (counted) */
	SMP_IPI_ALL_BUT_SELF,    /* one ICR command, destination shorthand */
};

/* The shorthand reaches every CPU of the machine, online or not (beyond
 * MAX_CPUS, failed to start, parked with INIT): use it only when @remote
 * is every other online CPU, two or more (one target is one command
 * either way), and all @nr_present CPUs are online. */
enum smp_ipi smp_choose_ipi(cpumask_t remote, cpumask_t online,
			    unsigned int self, unsigned int nr_present);

/* ---- for the arch's bring-up and interrupt code ---- */

/* => an AP, at the end of its bring-up, IRQs off: go online, then idle
 *    forever (serving calls and idle work). */
__noreturn void smp_ap_online(void);
/* => the call-function IPI handler, IRQs off, after its EOI. */
void smp_call_handle_ipi(void);

/* Work for an idle AP: fn(arg) runs from its idle loop with IRQs on
 * (thread context: unlike a called fn, it may wait for acks).  Used by
 * selftest_run_on_all_cpus(). */
struct smp_idle_work {
	smp_call_fn fn;
	void *arg;
};

/* Hand @w to idle AP @cpu and wake it; does not wait.  @w must stay valid
 * until smp_idle_work_pending(cpu) turns false.  -EBUSY if that CPU has
 * not finished earlier work.  => any context but NMI. */
int smp_post_idle_work(unsigned int cpu, struct smp_idle_work *w);
bool smp_idle_work_pending(unsigned int cpu);

#endif
