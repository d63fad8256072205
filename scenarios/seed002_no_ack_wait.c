/* seed002_no_ack_wait.c: not waiting for the acknowledgment (seed 002).
 *
 * The thread: a TLB shootdown that sends its IPIs and goes on to free the
 * pages without waiting for every target to say it has flushed.  A
 * target that is busy with interrupts off has not taken the IPI yet; its
 * TLB still maps the old page, and it keeps writing through that entry,
 * into a frame that by now belongs to someone else.
 *
 * Three CPUs play it:
 *   CPU 1, the busy one: writes the page (its TLB now holds a writable
 *          entry), turns IRQs off, and stays busy until CPU 0 waits for
 *          acks and a new owner had its chance (at most OWNER_WAIT_NS);
 *          then writes STALE_DATA through its entry and turns IRQs back
 *          on, which takes the IPI and acknowledges.
 *   CPU 0, the initiator: vfree, then the purge's shootdown.  Fixed: it
 *          frees after CPU 1's ack.  Broken (SHOOTDOWN_FAULT_FREE_BEFORE_
 *          ACK): it frees as soon as the IPI is out, then waits.
 *   CPU 2, the new owner: as soon as the frame is free it allocates it,
 *          writes OWNER_DATA, and after CPU 1's write reads it back.
 * The hazard: CPU 2 reads STALE_DATA, its data overwritten through a
 * translation that should no longer exist (a stale_read event).
 */
#include "arch/x86/arch.h"
#include "kernel/clock.h"
#include "kernel/extable.h"
#include "kernel/trace.h"
#include "mm/frame.h"
#include "mm/kpt.h"
#include "mm/shootdown.h"
#include "mm/vmalloc.h"
#include "scenarios/scenario.h"

#define BUSY_CPU  1
#define OWNER_CPU 2
#define OWNER_DATA 0x0000524544574fULL    /* "OWNER" */
#define STALE_DATA 0x0000454c415453ULL    /* "STALE" */
/* How long the busy CPU gives a new owner to appear in the fixed
 * variant, where nobody can own the frame before the ack: all the time
 * that variant loses.  In the broken one it waits up to
 * OWNER_PATIENCE_NS: an allocation takes microseconds under TCG, but a
 * vCPU descheduled by a busy host can take 50 ms, and a write landing
 * before the owner's allocation is caught there by the frame poison (a
 * panic) instead of corrupting the owner's data. */
#define OWNER_WAIT_NS (50 * NSEC_PER_MSEC)
/* How long the owner waits for the frame to be freed, and for the busy
 * CPU's write: a safety net against a hang, never reached when the
 * kernel works (the fixed variant frees ~OWNER_WAIT_NS after the IPI). */
#define OWNER_PATIENCE_NS (2 * NSEC_PER_SEC)

static struct {
	void *va;
	struct frame *frame;
	bool busy_ready;          /* CPU 1: entry cached, IRQs off */
	bool owner_has_it;        /* CPU 2: owns the frame, wrote its data */
	bool busy_wrote;          /* CPU 1: wrote through its entry */
	uint64_t owner_saw;       /* CPU 2: its data, read back */
	bool owner_got_it;
	uint64_t owner_wait_ns;   /* how long CPU 1 gives CPU 2 */
} s;

static void busy_cpu(void *arg)
{
	(void)arg;
	probe_write_u64(s.va, 1);                 /* a writable TLB entry */
	arch_irq_disable();
	trace_step("CPU 1 busy, IRQs off; its TLB maps the page writable");
	__atomic_store_n(&s.busy_ready, true, __ATOMIC_RELEASE);
	while (READ_ONCE(shootdown_cpu_step[0]) != SHOOTDOWN_WAITING_FOR_ACKS)
		cpu_relax();
	scenario_wait_until(&s.owner_has_it, s.owner_wait_ns);
	trace_step("CPU 1 writes through its TLB entry");
	probe_write_u64(s.va, STALE_DATA);
	__atomic_store_n(&s.busy_wrote, true, __ATOMIC_RELEASE);
	arch_irq_enable();                        /* takes the IPI: ack */
}

static void owner_cpu(void *arg)
{
	uint64_t start = clock_ns();

	(void)arg;
	while (READ_ONCE(s.frame->use) != FRAME_FREE)
		if (clock_ns() - start > OWNER_PATIENCE_NS)
			return;
	if (!(s.owner_got_it = scenario_take_frame(s.frame)))
		return;
	*(volatile uint64_t *)frame_virt(s.frame) = OWNER_DATA;
	trace_step("CPU 2 allocates the freed frame and writes its data");
	__atomic_store_n(&s.owner_has_it, true, __ATOMIC_RELEASE);
	scenario_wait_until(&s.busy_wrote, OWNER_PATIENCE_NS);
	s.owner_saw = *(volatile uint64_t *)frame_virt(s.frame);
	if (s.owner_saw != OWNER_DATA)
		trace3(TRACE_STALE_READ, (uintptr_t)s.va, OWNER_DATA, s.owner_saw);
	trace_step("CPU 2 reads its data back");
	frame_free(s.frame, FRAME_KERNEL);
}

static unsigned int run(enum scenario_variant variant)
{
	uint64_t limit = vm_lazy_max_pages_override;
	struct kpt_walk w;

	s = (typeof(s)){ .owner_wait_ns = variant == SCENARIO_BROKEN ?
					  OWNER_PATIENCE_NS : OWNER_WAIT_NS };
	vm_purge_lazy_now();                      /* the purge below is ours */
	vm_lazy_max_pages_override = ~0ULL;       /* and only that one */
	s.va = vmalloc(PAGE_SIZE);
	if (!s.va || kpt_walk((virt_addr_t)s.va, &w) < 0) {
		scenario_say("vmalloc of one page failed");
		return 0;
	}
	s.frame = frame_of(w.pa);
	scenario_say("CPU 0 vmallocs a page at %p (frame %#llx); CPU 1 writes "
		     "it, then stays busy with IRQs off", s.va,
		     (unsigned long long)w.pa);
	scenario_start_on(BUSY_CPU, busy_cpu, NULL);
	scenario_start_on(OWNER_CPU, owner_cpu, NULL);
	scenario_wait_until(&s.busy_ready, OWNER_PATIENCE_NS);

	scenario_say("CPU 0 vfrees it; the purge sends ONE IPI and %s",
		     variant == SCENARIO_BROKEN ? "frees the frame at once (broken)"
		     : "frees the frame only after every ack (fixed)");
	trace_step("CPU 0 vfree and purge");
	vfree(s.va);
	if (variant == SCENARIO_BROKEN)
		shootdown_selftest_fault = SHOOTDOWN_FAULT_FREE_BEFORE_ACK;
	vm_purge_lazy_now();
	shootdown_selftest_fault = SHOOTDOWN_SAFE;
	vm_lazy_max_pages_override = limit;
	scenario_join();

	if (!s.owner_got_it) {
		scenario_say("CPU 2 never got the frame back; nothing shown");
		return 0;
	}
	scenario_say("CPU 2 owned the frame %s CPU 1's write, and read back %#llx "
		     "(it wrote %#llx)", s.owner_saw == OWNER_DATA ? "after" :
		     "before", (unsigned long long)s.owner_saw,
		     (unsigned long long)OWNER_DATA);
	return s.owner_saw != OWNER_DATA;
}

const struct scenario scenario_no_ack_wait = {
	.name = "no-ack-wait",
	.seed = "002",
	.title = "not waiting for the acknowledgment",
	.min_cpus = 3,
	.run = run,
};
