/* tests/smpboot.c: each AP's stack was cleared when it was mapped, and
 * no AP has come near the bottom of it.
 *
 * smp_boot() writes every AP stack whole before the AP runs on it: under
 * QEMU's TCG a stack left holding the firmware's code made every store
 * to it take the self-modifying-code check (docs/testing.md).  The bytes
 * no call chain reached are still zero; the first non-zero byte from the
 * bottom is the deepest any AP went.  Best run last, after the suites
 * that go deepest.
 */
#include "arch/x86/percpu.h"
#include "arch/x86/smp.h"
#include "kernel/selftest.h"
#include "kernel/smp.h"

/* A call chain within 1 KiB of the guard page is one exception frame
 * and a handler away from faulting on it. */
#define STACK_SPARE 1024

static void test_ap_stacks_cleared_and_shallow(struct selftest *t)
{
	if (smp_num_online() < 2) {
		selftest_skip(t, "needs an AP");
		return;
	}
	for (unsigned int cpu = 1; cpu < smp_num_online(); cpu++) {
		const uint8_t *bottom = smp_ap_stack_bottom(cpu);
		size_t untouched = 0;

		ASSERT_TRUE(t, bottom != NULL);
		while (untouched < AP_STACK_SIZE && bottom[untouched] == 0)
			untouched++;
		selftest_diag(t, "CPU %u: at most %zu of its %lu stack bytes used",
			      cpu, AP_STACK_SIZE - untouched,
			      (unsigned long)AP_STACK_SIZE);
		if (untouched < STACK_SPARE)
			selftest_fail_at(t, __FILE__, __LINE__,
				"CPU %u: byte %zu from the bottom of its stack is "
				"%#x: the stack was not cleared when it was mapped, "
				"or the CPU came within %u bytes of its guard page",
				cpu, untouched, bottom[untouched], STACK_SPARE);
	}
}

static const struct selftest_case smpboot_cases[] = {
	{ "ap_stacks_cleared_and_shallow", test_ap_stacks_cleared_and_shallow },
};
SELFTEST_SUITE(smpboot, smpboot_cases);
