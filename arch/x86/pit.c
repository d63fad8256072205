/* pit.c: the 8254 PIT's channel 2 as a stopwatch.
 *
 * Channel 2 is gated by bit 0 of port 0x61 and its output is readable as
 * bit 5 of that port, so software can time an interval without
 * interrupts: in mode 0 ("interrupt on terminal count") the output goes
 * low when the count is written and high when it reaches zero.  Linux's
 * pit_calibrate_tsc() works the same way.
 */
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
