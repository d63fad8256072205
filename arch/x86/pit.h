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

#endif
