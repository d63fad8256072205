/* tsc.c: the Time Stamp Counter as the kernel's clock source.
 *
 * The TSC counts at a constant rate on every CPU made since about 2008
 * ("invariant TSC", CPUID 0x80000007 EDX bit 8), but that rate is not
 * architecturally visible everywhere (CPUID 0x15 is often missing, and
 * is under QEMU's TCG), so it is measured: count TSC cycles across PIT
 * one-shots of known length and take the median of several, which a
 * vCPU descheduled in the middle of one measurement cannot move.
 */
#include "arch/x86/arch.h"
#include "arch/x86/asm.h"
#include "arch/x86/pit.h"
#include "kernel/printk.h"

#define CALIBRATION_ROUNDS 5
#define CALIBRATION_US     10000    /* 10 ms each: 50 ms of boot time */

/* lfence first: rdtsc may otherwise run before earlier instructions
 * finish, and a measured interval would lose their time (Linux:
 * rdtsc_ordered()). */
uint64_t arch_clock_cycles(void)
{
	__asm__ __volatile__("lfence" ::: "memory");
	return rdtsc();
}

static void sort_u64(uint64_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint64_t x = v[j];
			v[j] = v[j - 1];
			v[j - 1] = x;
		}
}

/* => boot CPU, IRQs off; takes CALIBRATION_ROUNDS * 10 ms. */
uint64_t arch_clock_calibrate(void)
{
	uint64_t hz[CALIBRATION_ROUNDS];

	for (int i = 0; i < CALIBRATION_ROUNDS; i++) {
		uint64_t start;

		pit_oneshot_start(CALIBRATION_US);
		start = arch_clock_cycles();
		while (!pit_oneshot_expired())
			cpu_relax();
		hz[i] = (arch_clock_cycles() - start) * (1000000 / CALIBRATION_US);
	}
	sort_u64(hz, CALIBRATION_ROUNDS);
	printk("tsc: %llu.%03llu MHz (median of %d PIT windows of %d ms; "
	       "they spread over %llu kHz)%s\n",
	       (unsigned long long)(hz[CALIBRATION_ROUNDS / 2] / 1000000),
	       (unsigned long long)(hz[CALIBRATION_ROUNDS / 2] / 1000 % 1000),
	       CALIBRATION_ROUNDS, CALIBRATION_US / 1000,
	       (unsigned long long)((hz[CALIBRATION_ROUNDS - 1] - hz[0]) / 1000),
	       cpu_features.invariant_tsc ? "" : "; not invariant: it may "
	       "drift with power states");
	return hz[CALIBRATION_ROUNDS / 2];
}
