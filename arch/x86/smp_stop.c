/* smp_stop.c: stopping the other CPUs on panic, so the last words are
 * the panicking CPU's alone.
 *
 * An NMI, because the others may have IRQs off: spinning on a lock the
 * panicking CPU holds, or waiting for its acknowledgment.  One command
 * reaches them all (the "all excluding self" shorthand) when every
 * present CPU is online; else one NMI per online CPU, so that a CPU
 * parked or never started is left alone.  Each halts
 * inside the NMI handler and never returns from it, so further NMIs stay
 * blocked too.  The panicking CPU waits a moment for them, then goes on
 * printing whatever they did.
 */
#include "arch/x86/cpu.h"
#include "arch/x86/lapic.h"
#include "arch/x86/percpu.h"
#include "arch/x86/smp.h"
#include "arch/x86/trap.h"
#include "kernel/clock.h"
#include "kernel/panic.h"
#include "kernel/shutdown.h"
#include "kernel/smp.h"

/* How long the panicking CPU waits for the others to halt.  Under TCG an
 * NMI reaches a running vCPU in microseconds. */
#define STOP_WAIT_NS (100 * NSEC_PER_MSEC)

/* How long nmi_run_on_cpu() waits: an NMI is taken within microseconds
 * even by a CPU with IRQs off; ten seconds is a safety net (as the
 * call layer's SMP_ACK_TIMEOUT_NS), not a timing assertion. */
#define NMI_RUN_TIMEOUT_NS (10 * NSEC_PER_SEC)

static uint32_t stop_requested;
static uint32_t cpus_stopped;

/* nmi_run_on_cpu(): the function each CPU is to run in its next NMI;
 * set by the sender, cleared (release) by the target when fn returned. */
static void (*nmi_work[MAX_CPUS])(void);

/* => NMI, on its IST stack: any other CPU state. */
static void nmi_handler(struct trap_frame *f)
{
	void (*fn)(void);

	if (__atomic_load_n(&stop_requested, __ATOMIC_ACQUIRE)) {
		__atomic_fetch_add(&cpus_stopped, 1, __ATOMIC_RELEASE);
		cpu_halt_forever();
	}
	fn = __atomic_load_n(&nmi_work[this_cpu_id()], __ATOMIC_ACQUIRE);
	if (fn) {
		fn();
		__atomic_store_n(&nmi_work[this_cpu_id()], NULL, __ATOMIC_RELEASE);
		return;
	}
	exception_handle(f);    /* an NMI nobody sent: reported, then panic */
}

int nmi_run_on_cpu(unsigned int cpu, void (*fn)(void))
{
	void (*none)(void) = NULL;
	uint64_t start;

	if (!smp_cpu_online(cpu) || cpu == this_cpu_id() || !fn || in_nmi())
		return -EINVAL;
	if (!__atomic_compare_exchange_n(&nmi_work[cpu], &none, fn, false,
					 __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		return -EBUSY;
	lapic_send_nmi(percpu_areas[cpu].apic_id);
	start = clock_ns();
	while (__atomic_load_n(&nmi_work[cpu], __ATOMIC_ACQUIRE)) {
		if (clock_ns() - start > NMI_RUN_TIMEOUT_NS)
			panic("nmi_run_on_cpu: CPU %u did not run %p in an NMI "
			      "within %llu ms", cpu, fn,
			      (unsigned long long)(NMI_RUN_TIMEOUT_NS / NSEC_PER_MSEC));
		cpu_relax();
	}
	return 0;
}

void smp_stop_init(void)
{
	idt_set_handler(VEC_NMI, nmi_handler);
}

/* => IRQs off, from panic() on the first CPU to panic. */
void machine_stop_other_cpus(void)
{
	unsigned int others = smp_num_online() - 1;
	uint64_t start;

	if (others == 0)
		return;
	__atomic_store_n(&stop_requested, 1, __ATOMIC_RELEASE);
	if (arch_nr_present_cpus() == smp_num_online()) {
		lapic_send_nmi_all_but_self();
	} else {
		cpumask_t online = smp_online_mask();
		unsigned int cpu;

		for_each_cpu(cpu, &online)
			if (cpu != this_cpu_id())
				lapic_send_nmi(percpu_areas[cpu].apic_id);
	}
	start = clock_ns();
	while (__atomic_load_n(&cpus_stopped, __ATOMIC_ACQUIRE) < others &&
	       clock_ns() - start < STOP_WAIT_NS)
		cpu_relax();
}
