/* pit.h: the 8254 Programmable Interval Timer, used only as a reference
 * clock of known rate to measure the TSC and the local APIC timer. */
#ifndef ARCH_X86_PIT_H
#define ARCH_X86_PIT_H
#include "kernel/types.h"

#define PIT_HZ 1193182          /* the 8254's input clock, on every PC */
#define PIT_ONESHOT_MAX_US 50000 /* 16-bit counter: at most 54.9 ms */

/* Start a one-shot countdown of @us microseconds on channel 2 (the one
 * whose output software can read, through port 0x61). */
void pit_oneshot_start(uint32_t us);
bool pit_oneshot_expired(void);

/* One one-shot window as a free-running counter saw it: the counts from
 * its start to its end (midpoint to midpoint of the two edges), and by
 * how many counts that may be off (the width of both edges).  An edge
 * is wide when the CPU was held up right there: a vCPU descheduled by
 * the host, an SMI, an interrupt. */
struct pit_window {
	uint64_t counts;
	uint64_t error;
};

/* The windows a calibration keeps may be off by at most 1/PIT_TOLERANCE
 * of their length: 0.2 %, 20 us of a 10 ms window.  An edge takes 2-8 us
 * under QEMU's TCG (two counter reads and a port read); a vCPU the host
 * descheduled at an edge is off by milliseconds. */
#define PIT_TOLERANCE 500

/* A counter's rate from @n windows of @us each: the median of the
 * windows within PIT_TOLERANCE, the spread of those, how many were kept.
 * With none kept, the median and spread of all of them (kept == 0). */
struct pit_rate {
	uint64_t hz;
	uint64_t spread_hz;
	uint64_t worst_error_ppm;     /* of the windows the rate comes from */
	unsigned int kept;
	unsigned int dropped;
};

void pit_time_window(uint64_t (*read)(void), uint32_t us, struct pit_window *w);
void pit_rate_of(const struct pit_window *w, unsigned int n, uint32_t us,
		 struct pit_rate *r);
/* Time windows of @us until @want are within tolerance or @max_tries
 * were taken, and compute the rate from them.  => IRQs off. */
void pit_calibrate(uint64_t (*read)(void), uint32_t us, unsigned int want,
		   unsigned int max_tries, struct pit_rate *r);

#endif
