/* clock.h: time since boot, for timeouts and measurements.
 *
 * clock_ns() counts nanoseconds from clock_init().  It never goes
 * backwards on one CPU.  Between CPUs it is as good as the hardware
 * counter's synchronisation (the TSC: synchronised on today's machines
 * and under QEMU, not promised by the architecture), so compare
 * readings of different CPUs only with slack.
 */
#ifndef KERNEL_CLOCK_H
#define KERNEL_CLOCK_H
#include "kernel/types.h"

#define NSEC_PER_USEC 1000ULL
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC  1000000000ULL

/* Measure the counter's rate (arch_clock_calibrate) and start the clock.
 * => boot CPU, once, IRQs off; before anything waits or times out. */
void clock_init(void);

uint64_t clock_ns(void);                 /* nanoseconds since clock_init() */
uint64_t clock_cycles(void);             /* the raw counter (TSC), ordered */
uint64_t clock_cycles_to_ns(uint64_t cycles);
uint64_t clock_hz(void);                 /* counter rate; 0 before clock_init() */

/* Busy-wait at least @us microseconds.  => any context. */
void clock_delay_us(uint64_t us);

#endif
