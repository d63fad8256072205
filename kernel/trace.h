/* trace.h: a per-CPU event trace, to see what each CPU did and when.
 *
 * Each CPU records into its own ring of TRACE_RING_RECORDS records; the
 * oldest are overwritten.  Recording takes no lock and may run anywhere:
 * thread context, an IRQ handler, an NMI that interrupted a record in
 * progress on the same CPU (kernel/trace.c says why that is safe).  Each
 * record holds the TSC, the event and up to three arguments; the CPU is
 * the ring's.  TSCs of different CPUs are compared directly: the boot
 * checks that they agree (trace_clock_check()).
 *
 *   uint64_t since = trace_mark();        the TSC now: a window's start
 *   ... vunmap(), a scenario ...
 *   trace_dump(since);                    every CPU's records since then,
 *                                         merged in time order, as text
 *
 * The dump, between two marker lines, one record a line (tools/timeline.py
 * reads it; docs/trace.md explains each event):
 *
 *   TRACE BEGIN cpus=4 hz=2993213000 since=123456
 *   T 0 123470 sd_begin id=7 start=0xffffc90000200000 end=0xffffc90000204000
 *   T 0 123480 ipi_send call=42 mask=0xe fn=shootdown_on_target
 *   T 2 123502 ipi_recv from=0 call=42
 *   ...
 *   TRACE END records=19 overwritten=0
 *
 * Recording is on by default and costs a few tens of nanoseconds (the
 * trace_bench selftest prints the figure; docs/trace.md states it); the
 * kernel option trace=off turns it off for the whole boot.
 */
#ifndef KERNEL_TRACE_H
#define KERNEL_TRACE_H

#include "kernel/types.h"

/* Records per CPU.  The longest window dumped today (a vunmap or a
 * shootdown test, -smp 16) records well under 200 events on any one
 * CPU; 2048 leaves room for a scenario with many rounds.  At 48 bytes a
 * record that is 96 KiB per CPU, 1.5 MiB for MAX_CPUS. */
#define TRACE_RING_RECORDS 2048

enum trace_event {
	TRACE_MAP = 1,        /* a range mapped: va, pa, size */
	TRACE_UNMAP,          /* a range unmapped: va, size */
	TRACE_GATHER,         /* a page table unlinked and gathered: pa, level */
	TRACE_SHOOTDOWN,      /* a shootdown begins: id, start, end */
	TRACE_IPI_SEND,       /* a cross-CPU call sent: call, mask, fn */
	TRACE_IPI_RECV,       /* ... taken by a target: from, call */
	TRACE_INV_PAGES,      /* this CPU invalidates pages: start, pages */
	TRACE_INV_FULL,       /* this CPU flushes its whole TLB */
	TRACE_ACK,            /* a target acknowledges a call: to, call */
	TRACE_ALL_ACKS,       /* a shootdown saw every ack: id */
	TRACE_NOTIFY,         /* a subscriber told to invalidate: id, name */
	TRACE_FREE,           /* a shootdown's frames freed: id, frames */
	TRACE_PURGE_BEGIN,    /* the lazy purge begins: areas */
	TRACE_PURGE_END,      /* ... and ends */
	TRACE_STALE_READ,     /* a stale translation used: va, expected, seen */
	TRACE_STEP,           /* a narrated step: text (a string constant) */
	TRACE_NR_EVENTS
};

/* One record.  stamp is written last: see kernel/trace.c. */
struct trace_record {
	uint64_t stamp;       /* the record's index + 1 once complete; 0 while
				 it is being written */
	uint64_t tsc;
	uint64_t arg[3];
	uint32_t event;       /* enum trace_event */
	uint32_t unused;
};

/* Record @event with its arguments on this CPU.  Unused arguments are 0.
 * => any context, NMI included; takes no lock. */
void trace_record(enum trace_event event, uint64_t a0, uint64_t a1, uint64_t a2);

/* The short forms the trace points use. */
#define trace0(ev)             trace_record(ev, 0, 0, 0)
#define trace1(ev, a)          trace_record(ev, (uint64_t)(a), 0, 0)
#define trace2(ev, a, b)       trace_record(ev, (uint64_t)(a), (uint64_t)(b), 0)
#define trace3(ev, a, b, c)    trace_record(ev, (uint64_t)(a), (uint64_t)(b), \
					    (uint64_t)(c))
/* A narrated step of a test or scenario: @text must be a string constant
 * (the dump prints it later, from the pointer). */
#define trace_step(text)       trace1(TRACE_STEP, (const char *)(text))

/* The TSC now: the start of a window for trace_dump(). */
uint64_t trace_mark(void);

/* Print every CPU's records with TSC >= @since, in TSC order, between the
 * markers above.  => thread context (printk). */
void trace_dump(uint64_t since);

/* Recording on (the default) or off; returns the previous setting.
 * Tests switch it briefly; trace=off on the command line for a boot. */
bool trace_set_enabled(bool on);
bool trace_enabled(void);

/* ---- reading, for the dump and the selftests ---- */

/* Records @cpu has made since boot (the next index it will use). */
uint64_t trace_count(unsigned int cpu);

/* Copy @cpu's record number @idx into @out.  False when it has been
 * overwritten, is still being written, or does not exist yet.
 * => any CPU, while @cpu keeps recording. */
bool trace_read(unsigned int cpu, uint64_t idx, struct trace_record *out);

const char *trace_event_name(enum trace_event event);

/* ---- clocks (kernel/trace_clock.c) ---- */

/* Measure each online AP's TSC against the boot CPU's and print what was
 * found; an AP whose clock is off by more than the measurement's own
 * uncertainty gets a correction that trace_record() applies.
 * => boot CPU, once, after smp_boot() with IRQs on. */
void trace_clock_check(void);

/* The correction for @cpu, in cycles, subtracted from its TSC readings
 * (0 when its clock agrees with the boot CPU's). */
int64_t trace_clock_offset(unsigned int cpu);

#endif
