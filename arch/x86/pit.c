/* pit.c: the 8254 PIT's channel 2 as a stopwatch.
 *
 * Channel 2 is gated by bit 0 of port 0x61 and its output is readable as
 * bit 5 of that port, so software can time an interval without
 * interrupts: in mode 0 ("interrupt on terminal count") the output goes
 * low when the count is written and high when it reaches zero.  Linux's
 * pit_calibrate_tsc() works the same way.
 *
 * A window is only as good as its edges.  Each edge is bracketed by two
 * reads of the counter being measured, and a window whose edges are too
 * wide (the CPU was held up right there) is timed again: with a bare
 * median of five, a vCPU that lost the host core at the edges of three
 * windows set the TSC to 3262 MHz instead of 2096 (docs/testing.md).
 */
#include "arch/x86/arch.h"
#include "arch/x86/asm.h"
#include "arch/x86/pit.h"
#include "kernel/panic.h"

#define PIT_CH2_DATA  0x42
#define PIT_COMMAND   0x43
#define   PIT_SELECT_CH2   (2 << 6)
#define   PIT_ACCESS_LOHI  (3 << 4)    /* low byte, then high byte */
#define   PIT_MODE_0       (0 << 1)    /* output high on terminal count */
#define PORT_B        0x61             /* the "system control port B" */
#define   PORT_B_GATE2     0x01        /* channel 2 counts while set */
#define   PORT_B_SPEAKER   0x02        /* channel 2 drives the speaker */
#define   PORT_B_OUT2      0x20        /* channel 2's output (read) */

#define PIT_MAX_WINDOWS 32             /* pit_calibrate()'s max_tries */

void pit_oneshot_start(uint32_t us)
{
	uint32_t ticks = (uint32_t)((uint64_t)PIT_HZ * us / 1000000);

	BUG_ON(us > PIT_ONESHOT_MAX_US || ticks == 0);
	outb(PORT_B, (inb(PORT_B) & ~PORT_B_SPEAKER) | PORT_B_GATE2);
	outb(PIT_COMMAND, PIT_SELECT_CH2 | PIT_ACCESS_LOHI | PIT_MODE_0);
	outb(PIT_CH2_DATA, ticks & 0xff);
	outb(PIT_CH2_DATA, ticks >> 8);   /* counting starts here */
}

bool pit_oneshot_expired(void)
{
	return inb(PORT_B) & PORT_B_OUT2;
}

/* The window starts between @before and @after (the last outb), and
 * ends after the last poll that saw it running (@running was read just
 * before that poll) and before @end (read just after the poll that saw
 * it over). */
void pit_time_window(uint64_t (*read)(void), uint32_t us, struct pit_window *w)
{
	uint64_t before, after, running, end;

	before = read();
	pit_oneshot_start(us);
	after = read();
	running = after;
	for (;;) {
		uint64_t now = read();

		if (pit_oneshot_expired()) {
			end = read();
			break;
		}
		running = now;
		cpu_relax();
	}
	w->counts = (end + running) / 2 - (after + before) / 2;
	w->error = (after - before) + (end - running);
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

static bool window_within_tolerance(const struct pit_window *w)
{
	return w->error * PIT_TOLERANCE <= w->counts;
}

void pit_rate_of(const struct pit_window *w, unsigned int n, uint32_t us,
		 struct pit_rate *r)
{
	uint64_t hz[PIT_MAX_WINDOWS], worst = 0;
	unsigned int k = 0, good = 0;

	BUG_ON(n == 0 || n > PIT_MAX_WINDOWS || us == 0);
	for (unsigned int i = 0; i < n; i++)
		good += window_within_tolerance(&w[i]);
	for (unsigned int i = 0; i < n; i++) {
		if (good && !window_within_tolerance(&w[i]))
			continue;
		hz[k++] = w[i].counts * 1000000 / us;
		if (w[i].counts)
			worst = MAX(worst, w[i].error * 1000000 / w[i].counts);
	}
	sort_u64(hz, k);
	r->hz = hz[k / 2];
	r->spread_hz = hz[k - 1] - hz[0];
	r->worst_error_ppm = worst;
	r->kept = good;
	r->dropped = n - good;
}

void pit_calibrate(uint64_t (*read)(void), uint32_t us, unsigned int want,
		   unsigned int max_tries, struct pit_rate *r)
{
	struct pit_window w[PIT_MAX_WINDOWS];
	unsigned int n = 0, good = 0;

	BUG_ON(want == 0 || max_tries < want || max_tries > PIT_MAX_WINDOWS);
	while (good < want && n < max_tries) {
		pit_time_window(read, us, &w[n]);
		good += window_within_tolerance(&w[n++]);
	}
	pit_rate_of(w, n, us, r);
}
