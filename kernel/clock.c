/* clock.c: the monotonic clock, from the arch's cycle counter.
 *
 * Converting cycles to nanoseconds is a multiply and a shift, never a
 * division: clock_mult is 2^32 ns per cycle, so
 *     ns = cycles * clock_mult >> 32
 * with a 128-bit product.  At 3 GHz the rounding of clock_mult costs
 * less than one part in 10^9.
 */
#include "arch/x86/arch.h"
#include "kernel/clock.h"
#include "kernel/panic.h"
#include "kernel/printk.h"

/* Written once by clock_init() on the boot CPU, before any other CPU
 * runs; read-only afterwards. */
static uint64_t counter_hz;
static uint64_t clock_mult;       /* ns per cycle, << 32 */
static uint64_t clock_base;       /* counter value at clock_init() */

void clock_init(void)
{
	counter_hz = arch_clock_calibrate();
	BUG_ON(counter_hz < 1000000);     /* under 1 MHz: calibration broke */
	clock_mult = (NSEC_PER_SEC << 32) / counter_hz;
	clock_base = arch_clock_cycles();
}

uint64_t clock_hz(void)
{
	return counter_hz;
}

uint64_t clock_cycles(void)
{
	return arch_clock_cycles();
}

uint64_t clock_cycles_to_ns(uint64_t cycles)
{
	return (uint64_t)(((unsigned __int128)cycles * clock_mult) >> 32);
}

/* A CPU whose counter starts a little behind the boot CPU's would see
 * now < clock_base: it reads 0 until it catches up, which keeps the
 * clock monotonic on that CPU. */
uint64_t clock_ns(void)
{
	uint64_t now = arch_clock_cycles();

	return now > clock_base ? clock_cycles_to_ns(now - clock_base) : 0;
}

void clock_delay_us(uint64_t us)
{
	uint64_t start;

	BUG_ON(counter_hz == 0);   /* clock_init() has not run */
	start = clock_ns();
	while (clock_ns() - start < us * NSEC_PER_USEC)
		cpu_relax();
}
