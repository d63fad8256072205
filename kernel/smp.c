/* smp.c: cross-CPU calls (the protocol; kernel/smp.h has the contract).
 *
 *   caller                                  each target
 *   ------                                  -----------
 *   1. take the oldest descriptor of its
 *      own pool, waiting (and serving its
 *      own queue) until its last call there
 *      is fully acknowledged
 *   2. fill in fn, arg; pending = targets
 *   3. push entry[t] on each target t's  -> queue: a lock-free stack
 *      queue (cmpxchg)
 *   4. ONE IPI command for "all but self"
 *      (smp_choose_ipi), or one IPI per
 *      target                            -> IPI handler, IRQs off: take
 *                                           the whole queue (xchg), then,
 *   5. if a target itself: run fn here      oldest first, for each entry:
 *                                             run fn(arg);
 *   6. SMP_WAIT_ACK: spin until          <-   clear its bit in pending:
 *      pending == 0, serving its own            the acknowledgment.  From
 *      queue meanwhile; panic naming            then on it touches neither
 *      the CPU after SMP_ACK_TIMEOUT_NS         entry nor descriptor.
 *
 * Why each step is so:
 *   1: the descriptor outlives the call for as long as any target may
 *      read it, also for SMP_NO_WAIT (seed 002): it is reused only after
 *      pending == 0, and only its owner reuses it.
 *   3: pushes from many CPUs need no lock; the target takes everything
 *      at once, so there is no ABA problem (nothing is popped singly).
 *   4: pushes happen before the IPI: the push's locked cmpxchg orders
 *      them before the ICR write (x2APIC: see lapic_write_icr's fence).
 *      No wakeup is lost: an IPI that arrives while the handler runs
 *      stays pending in the IRR and runs it again after the EOI.
 *   6: a waiting CPU serves its own queue with IRQs off, so two CPUs
 *      waiting on each other both make progress.
 */
#include "arch/x86/arch.h"
#include "kernel/clock.h"
#include "kernel/ksyms.h"
#include "kernel/nmi.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/trace.h"

_Static_assert(MAX_CPUS <= 64, "cpumask_t and smp_call.pending hold 64 CPUs");

/* Calls a CPU may have in flight before the next one waits for the
 * oldest to be acknowledged.  A waiting call needs one; the rest let
 * SMP_NO_WAIT callers run ahead of their targets.  The shootdown always
 * waits, so it never needs more than one.  Measured (the boot
 * summary's "smp:" line, -smp 4, 2026-11-30): with the vmalloc,
 * shootdown, fixmap and bench suites (tools/run_tests.py --matrix
 * "bios:4::selftest=vmalloc*,shootdown*,fixmap,bench") 0 of 1,675 calls
 * waited for a descriptor; in the whole selftest boot (--matrix bios:4)
 * 10,368 of 114,239 did, all in the smp suite's SMP_NO_WAIT storms,
 * which exist to run ahead of their targets until the ring is full.
 * Each descriptor costs MAX_CPUS * 16 + 48 bytes per CPU. */
#define SMP_CALLS_PER_CPU 8

struct smp_call;

/* One target's link to a call, in that target's queue. */
struct smp_call_entry {
	struct smp_call_entry *next;
	struct smp_call *call;
};

/* A call, in its caller's pool.  While pending == 0 only the caller
 * touches it.  From the push to its acknowledgment, target t reads fn,
 * arg and entry[t]; the caller reads pending. */
struct smp_call {
	uint64_t pending;            /* targets yet to acknowledge, 1 bit each */
	smp_call_fn fn;
	void *arg;
	unsigned int caller;
	uint64_t id;                 /* the caller's count of calls, for the trace */
	uint64_t sent_ns;            /* clock_ns() at the push, for the panic */
	struct smp_call_entry entry[MAX_CPUS];
};

/* Each CPU's share.  Aligned to a cache line so that one CPU's counters
 * do not bounce another's queue head. */
struct smp_cpu {
	/* Pushed by any CPU (cmpxchg), emptied by this CPU (xchg): */
	struct smp_call_entry *queue;

	/* Only this CPU touches these: */
	struct smp_call calls[SMP_CALLS_PER_CPU];   /* targets read, then ack */
	unsigned int oldest_call;    /* calls[] is reused round-robin */
	unsigned int handler_depth;  /* > 0 while a called fn runs here */
	uint64_t calls_numbered;     /* the last smp_call.id given */
	struct smp_stats stats;

	/* Idle work, posted by another CPU with a cmpxchg from NULL; the
	 * idle loop clears it (release) when the work has returned. */
	struct smp_idle_work *idle_work;
} __aligned(64);

struct smp_cpu smp_cpus[MAX_CPUS];

/* CPU 0, the boot CPU, is online from the start; each AP sets its bit
 * at the end of its bring-up.  CPUs never go offline. */
static uint64_t online_bits = 1;

static struct smp_cpu *this_smp_cpu(void)
{
	return &smp_cpus[this_cpu_id()];
}

/* ---- online CPUs ---- */

cpumask_t smp_online_mask(void)
{
	return (cpumask_t){ __atomic_load_n(&online_bits, __ATOMIC_ACQUIRE) };
}

unsigned int smp_num_online(void)
{
	cpumask_t m = smp_online_mask();

	return cpumask_weight(&m);
}

bool smp_cpu_online(unsigned int cpu)
{
	cpumask_t m = smp_online_mask();

	return cpu < MAX_CPUS && cpumask_test(&m, cpu);
}

void smp_print_summary(void)
{
	struct smp_stats sum = { 0 };

	for (unsigned int cpu = 0; cpu < MAX_CPUS; cpu++) {
		const struct smp_stats *s = &smp_cpus[cpu].stats;

		sum.calls_sent += s->calls_sent;
		sum.ipis_sent += s->ipis_sent;
		sum.ipis_received += s->ipis_received;
		sum.descriptor_waits += s->descriptor_waits;
		sum.broadcasts_split += s->broadcasts_split;
	}
	printk("smp: %llu calls sent, %llu IPI commands, %llu IPIs received, "
	       "%llu calls waited for a descriptor, %llu broadcasts sent one "
	       "IPI per CPU (present CPUs offline)\n",
	       (unsigned long long)sum.calls_sent,
	       (unsigned long long)sum.ipis_sent,
	       (unsigned long long)sum.ipis_received,
	       (unsigned long long)sum.descriptor_waits,
	       (unsigned long long)sum.broadcasts_split);
}

struct smp_stats smp_stats_of(unsigned int cpu)
{
	BUG_ON(cpu >= MAX_CPUS);
	return smp_cpus[cpu].stats;
}

bool smp_in_call_handler(void)
{
	return this_smp_cpu()->handler_depth > 0;
}

/* ---- the target's side ---- */

static void run_call_fn(struct smp_cpu *c, smp_call_fn fn, void *arg)
{
	c->handler_depth++;
	fn(arg);
	c->handler_depth--;
}

/* Take every entry queued for @c, oldest first. */
static struct smp_call_entry *queue_take_all(struct smp_cpu *c)
{
	struct smp_call_entry *e = __atomic_exchange_n(&c->queue, NULL, __ATOMIC_ACQUIRE);
	struct smp_call_entry *oldest_first = NULL;

	while (e) {            /* the stack is newest first: reverse it */
		struct smp_call_entry *next = e->next;

		e->next = oldest_first;
		oldest_first = e;
		e = next;
	}
	return oldest_first;
}

/* Run and acknowledge every call queued for this CPU.
 * => IRQs off; this CPU's queue.  Returns how many ran. */
static unsigned int smp_call_run_queue(void)
{
	unsigned int cpu = this_cpu_id(), n = 0;
	struct smp_cpu *c = &smp_cpus[cpu];
	struct smp_call_entry *e = queue_take_all(c);

	while (e) {
		struct smp_call_entry *next = e->next;
		struct smp_call *call = e->call;

		trace2(TRACE_IPI_RECV, call->caller, call->id);
		run_call_fn(c, call->fn, call->arg);
		/* Traced before the bit is cleared, so that its timestamp comes
		 * before anything the caller does once it sees the ack. */
		trace2(TRACE_ACK, call->caller, call->id);
		/* The acknowledgment.  Release: everything fn did is visible
		 * to the caller once it sees the bit clear.  From here on the
		 * entry and the descriptor are the caller's again. */
		__atomic_fetch_and(&call->pending, ~(1ULL << cpu), __ATOMIC_RELEASE);
		e = next;
		n++;
	}
	c->stats.calls_run += n;
	return n;
}

void smp_call_handle_ipi(void)
{
	this_smp_cpu()->stats.ipis_received++;
	smp_call_run_queue();
}

void smp_call_poll(void)
{
	bool irqs_were_on = arch_irqs_enabled();

	arch_irq_disable();
	this_smp_cpu()->stats.calls_run_polled += smp_call_run_queue();
	if (irqs_were_on)
		arch_irq_enable();
}

/* ---- the caller's side ---- */

static __noreturn void smp_call_timeout(const struct smp_call *call, uint64_t pending)
{
	uint64_t offset;
	const char *name = ksym_lookup((uint64_t)(uintptr_t)call->fn, &offset);

	panic("smp: CPU %u did not acknowledge call %s(%p) from CPU %u, sent "
	      "%llu ms ago (all CPUs still pending: %#llx)",
	      (unsigned int)__builtin_ctzll(pending), name ? name : "?", call->arg,
	      call->caller,
	      (unsigned long long)((clock_ns() - call->sent_ns) / NSEC_PER_MSEC),
	      (unsigned long long)pending);
}

/* The first reading starts the clock; no value of it means "not
 * started", since a clock may well read 0 then. */
bool smp_ack_wait_expired(struct smp_ack_wait *w, uint64_t now)
{
	if (!w->started) {
		w->started = true;
		w->start = now;
		return false;
	}
	return now - w->start > SMP_ACK_TIMEOUT_NS;
}

/* Spin until every target of @call has acknowledged, serving this CPU's
 * queue meanwhile.  => IRQs off. */
static void smp_call_wait(struct smp_cpu *c, const struct smp_call *call)
{
	struct smp_ack_wait w = { 0 };
	uint64_t pending;

	while ((pending = __atomic_load_n(&call->pending, __ATOMIC_ACQUIRE)) != 0) {
		uint64_t now = clock_ns();

		c->stats.calls_run_polled += smp_call_run_queue();
		if (smp_ack_wait_expired(&w, now))
			smp_call_timeout(call, pending);
		cpu_relax();
	}
}

static void queue_push(struct smp_cpu *target, struct smp_call_entry *e,
		       struct smp_call *call)
{
	struct smp_call_entry *head = __atomic_load_n(&target->queue, __ATOMIC_RELAXED);

	e->call = call;
	do
		e->next = head;
	while (!__atomic_compare_exchange_n(&target->queue, &head, e, true,
					    __ATOMIC_RELEASE, __ATOMIC_RELAXED));
}

enum smp_ipi smp_choose_ipi(cpumask_t remote, cpumask_t online,
			    unsigned int self, unsigned int nr_present)
{
	cpumask_t others = online;

	cpumask_clear(&others, self);
	if (remote.bits != others.bits || cpumask_weight(&remote) < 2)
		return SMP_IPI_EACH_TARGET;
	if (nr_present != cpumask_weight(&online))
		return SMP_IPI_EACH_TARGET_NOT_ALL_ONLINE;
	return SMP_IPI_ALL_BUT_SELF;
}

/* Steps 1-6 of the top comment, for checked arguments: @targets are
 * online CPUs, possibly this one.
 * => IRQs on or off (off inside). */
static void smp_call_send(cpumask_t targets, smp_call_fn fn, void *arg,
			  enum smp_wait wait)
{
	bool irqs_were_on = arch_irqs_enabled();
	unsigned int self = this_cpu_id(), t;
	struct smp_cpu *c = &smp_cpus[self];
	struct smp_call *call = NULL;
	cpumask_t remote = targets;
	enum smp_ipi ipi;

	arch_irq_disable();
	cpumask_clear(&remote, self);
	if (!cpumask_empty(&remote)) {
		call = &c->calls[c->oldest_call];
		c->oldest_call = (c->oldest_call + 1) % SMP_CALLS_PER_CPU;
		if (__atomic_load_n(&call->pending, __ATOMIC_ACQUIRE))
			c->stats.descriptor_waits++;
		smp_call_wait(c, call);                      /* 1 */

		call->fn = fn;                               /* 2 */
		call->arg = arg;
		call->caller = self;
		call->id = ++c->calls_numbered;
		call->sent_ns = clock_ns();
		__atomic_store_n(&call->pending, remote.bits, __ATOMIC_RELAXED);
		/* Traced before the pushes: a target that polls may run the
		 * call before the IPI leaves, and must not seem to run it
		 * before it was sent. */
		trace3(TRACE_IPI_SEND, call->id, remote.bits, fn);
		for_each_cpu(t, &remote)                     /* 3 */
			queue_push(&smp_cpus[t], &call->entry[t], call);

		ipi = smp_choose_ipi(remote, smp_online_mask(), self,
				     arch_nr_present_cpus());
		if (ipi == SMP_IPI_ALL_BUT_SELF) {           /* 4 */
			arch_send_call_ipi_all_but_self();
			c->stats.ipis_sent++;
		} else {
			for_each_cpu(t, &remote)
				arch_send_call_ipi_one(t);
			c->stats.ipis_sent += cpumask_weight(&remote);
			if (ipi == SMP_IPI_EACH_TARGET_NOT_ALL_ONLINE)
				c->stats.broadcasts_split++;
		}
		c->stats.calls_sent++;
	}
	if (cpumask_test(&targets, self)) {                  /* 5 */
		run_call_fn(c, fn, arg);
		c->stats.calls_run++;
	}
	if (call && wait == SMP_WAIT_ACK)                    /* 6 */
		smp_call_wait(c, call);
	if (irqs_were_on)
		arch_irq_enable();
}

/* The checks every smp_call_*() makes first.  @who names the caller in
 * the message. */
static int smp_call_check(const char *who, smp_call_fn fn, enum smp_wait wait)
{
	/* First, before any printk: the interrupted code may hold this
	 * CPU's descriptors half filled, or the console lock. */
	if (nmi_refuse(who))
		return -EPERM;
	if (!fn) {
		printk("%s: fn is NULL\n", who);
		return -EINVAL;
	}
	if (wait != SMP_NO_WAIT && wait != SMP_WAIT_ACK) {
		printk("%s: wait is %d, not SMP_NO_WAIT or SMP_WAIT_ACK\n", who, wait);
		return -EINVAL;
	}
	if (wait == SMP_WAIT_ACK && smp_in_call_handler()) {
		printk("%s: CPU %u would wait for acknowledgments inside a called "
		       "fn, which can deadlock; refused\n", who, this_cpu_id());
		return -EDEADLK;
	}
	return 0;
}

int smp_call_one(unsigned int cpu, smp_call_fn fn, void *arg, enum smp_wait wait)
{
	int err = smp_call_check("smp_call_one", fn, wait);
	cpumask_t target = { 0 };

	if (err)
		return err;
	if (!smp_cpu_online(cpu)) {
		printk("smp_call_one: CPU %u is %s (online: %#llx)\n", cpu,
		       cpu >= MAX_CPUS ? "out of range" : "offline",
		       (unsigned long long)smp_online_mask().bits);
		return -EINVAL;
	}
	cpumask_set(&target, cpu);
	smp_call_send(target, fn, arg, wait);
	return 0;
}

/* A mask that covers every other online CPU (two or more) goes out as
 * one broadcast, like smp_call_all_but_self() (smp_choose_ipi()). */
int smp_call_mask(const cpumask_t *mask, smp_call_fn fn, void *arg, enum smp_wait wait)
{
	int err = smp_call_check("smp_call_mask", fn, wait);
	cpumask_t online = smp_online_mask();

	if (err)
		return err;
	if (!mask || cpumask_empty(mask)) {
		printk("smp_call_mask: the mask is empty\n");
		return -EINVAL;
	}
	if (mask->bits & ~online.bits) {
		printk("smp_call_mask: CPUs %#llx of the mask are offline or out "
		       "of range (online: %#llx)\n",
		       (unsigned long long)(mask->bits & ~online.bits),
		       (unsigned long long)online.bits);
		return -EINVAL;
	}
	smp_call_send(*mask, fn, arg, wait);
	return 0;
}

int smp_call_all_but_self(smp_call_fn fn, void *arg, enum smp_wait wait)
{
	int err = smp_call_check("smp_call_all_but_self", fn, wait);
	cpumask_t others = smp_online_mask();

	if (err)
		return err;
	cpumask_clear(&others, this_cpu_id());
	if (!cpumask_empty(&others))       /* alone: nothing to do */
		smp_call_send(others, fn, arg, wait);
	return 0;
}

int smp_call_all(smp_call_fn fn, void *arg, enum smp_wait wait)
{
	int err = smp_call_check("smp_call_all", fn, wait);

	if (err)
		return err;
	smp_call_send(smp_online_mask(), fn, arg, wait);
	return 0;
}

int smp_call_wait_for_acks(void)
{
	bool irqs_were_on = arch_irqs_enabled();
	struct smp_cpu *c = this_smp_cpu();

	if (nmi_refuse("smp_call_wait_for_acks"))
		return -EPERM;
	if (smp_in_call_handler()) {
		printk("smp_call_wait_for_acks: CPU %u would wait inside a called "
		       "fn, which can deadlock; refused\n", this_cpu_id());
		return -EDEADLK;
	}
	arch_irq_disable();
	for (unsigned int i = 0; i < SMP_CALLS_PER_CPU; i++)
		smp_call_wait(c, &c->calls[i]);
	if (irqs_were_on)
		arch_irq_enable();
	return 0;
}

/* ---- idle CPUs ---- */

int smp_post_idle_work(unsigned int cpu, struct smp_idle_work *w)
{
	struct smp_idle_work *none = NULL;

	if (nmi_refuse("smp_post_idle_work"))
		return -EPERM;
	if (!w || !w->fn || !smp_cpu_online(cpu) || cpu == this_cpu_id() || cpu == 0) {
		printk("smp_post_idle_work: CPU %u is not an online AP other than "
		       "this one, or there is no work\n", cpu);
		return -EINVAL;
	}
	if (!__atomic_compare_exchange_n(&smp_cpus[cpu].idle_work, &none, w, false,
					 __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		return -EBUSY;
	arch_send_call_ipi_one(cpu);       /* wakes it from hlt */
	this_smp_cpu()->stats.ipis_sent++;
	return 0;
}

bool smp_idle_work_pending(unsigned int cpu)
{
	return cpu < MAX_CPUS && __atomic_load_n(&smp_cpus[cpu].idle_work, __ATOMIC_ACQUIRE);
}

/* An AP's life after bring-up: sleep until an interrupt, run posted idle
 * work with IRQs on, repeat.  Calls are served by the IPI handler,
 * which interrupts the hlt (or the work). */
static __noreturn void smp_idle_loop(void)
{
	struct smp_cpu *c = this_smp_cpu();

	for (;;) {
		struct smp_idle_work *w;

		arch_irq_disable();
		w = __atomic_load_n(&c->idle_work, __ATOMIC_ACQUIRE);
		if (!w) {
			/* An IPI after the check still ends this hlt: the
			 * hook enables IRQs and halts with no gap between. */
			arch_wait_for_interrupt();
			continue;
		}
		arch_irq_enable();
		w->fn(w->arg);
		/* Done: from here on @w is the poster's again. */
		__atomic_store_n(&c->idle_work, NULL, __ATOMIC_RELEASE);
	}
}

void smp_ap_online(void)
{
	__atomic_fetch_or(&online_bits, 1ULL << this_cpu_id(), __ATOMIC_RELEASE);
	smp_idle_loop();
}
