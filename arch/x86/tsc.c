/* tsc.c: the Time Stamp Counter as the kernel's clock source.
 *
 * The TSC counts at a constant rate on every CPU made since about 2008
 * ("invariant TSC", CPUID 0x80000007 EDX bit 8), but that rate is not
 * architecturally visible everywhere (CPUID 0x15 is often missing, and
 * is under QEMU's TCG), so it is measured: count TSC cycles across PIT
 * one-shots of known length and take the median of several, which a
 * vCPU descheduled in the middle of one measurement cannot move, and
 * time again each window whose edges the CPU was held up at
 * (arch/x86/pit.c).
 */
#include "arch/x86/arch.h"
#include "arch/x86/asm.h"
#include "arch/x86/pit.h"
#include "kernel/printk.h"

#define CALIBRATION_ROUNDS 5
#define CALIBRATION_US     10000    /* 10 ms each: 50 ms of boot time */
/* Windows timed again at most: a vCPU held up at the edges of 15 of 20
 * windows has no better clock to be measured against. */
#define CALIBRATION_MAX_WINDOWS 20

/* lfence first: rdtsc may otherwise run before earlier instructions
 * finish, and a measured interval would lose their time (Linux:
 * rdtsc_ordered()). */
uint64_t arch_clock_cycles(void)
{
	__asm__ __volatile__("lfence" ::: "memory");
	return rdtsc();
}

/* => boot CPU, IRQs off; takes CALIBRATION_ROUNDS * 10 ms, more when
 * windows have to be timed again. */
uint64_t arch_clock_calibrate(void)
{
	struct pit_rate r;

	pit_calibrate(arch_clock_cycles, CALIBRATION_US, CALIBRATION_ROUNDS,
		      CALIBRATION_MAX_WINDOWS, &r);
	printk("tsc: %llu.%03llu MHz (median of %u PIT windows of %d ms, "
	       "each within %llu ppm; they spread over %llu kHz; %u timed "
	       "again, held up at an edge)%s\n",
	       (unsigned long long)(r.hz / 1000000),
	       (unsigned long long)(r.hz / 1000 % 1000),
	       r.kept ? r.kept : r.dropped, CALIBRATION_US / 1000,
	       (unsigned long long)r.worst_error_ppm,
	       (unsigned long long)(r.spread_hz / 1000), r.dropped,
	       cpu_features.invariant_tsc ? "" : "; not invariant: it may "
	       "drift with power states");
	if (!r.kept)
		printk("tsc: warning: no PIT window was timed within %u ppm; "
		       "the rate may be off\n", 1000000 / PIT_TOLERANCE);
	return r.hz;
}
