/* scenario.h: a seed thread's race, staged on real CPUs and narrated.
 *
 * A scenario runs in one of two variants: "fixed" (what the kernel does)
 * or "broken" (the mistake its seed thread discusses, switched on for
 * this run only).  It narrates each step on the console and in the trace
 * (trace_step), counts the hazards it observes (a stale translation
 * used, each recorded as a stale_read event), and the framework prints
 * a verdict and dumps the trace of the run for tools/timeline.py.
 *
 * Kernel option scenario=NAME or scenario=NAME:broken runs one scenario
 * instead of the selftests; the machine exits with success when the
 * verdict is the expected one: the broken variant must show its hazard
 * (else the demonstration no longer demonstrates), the fixed one none.
 * `make scenario NAME=... [BROKEN=1]` boots it (tools/scenario.py).
 */
#ifndef SCENARIOS_SCENARIO_H
#define SCENARIOS_SCENARIO_H

#include "kernel/types.h"

struct frame;

enum scenario_variant { SCENARIO_FIXED, SCENARIO_BROKEN };

struct scenario {
	const char *name;         /* for scenario=NAME */
	const char *seed;         /* the seed thread it stages: "002" */
	const char *title;
	unsigned int min_cpus;    /* fewer online: the scenario cannot run */
	/* Stage the race; returns the number of hazards observed. */
	unsigned int (*run)(enum scenario_variant variant);
};

/* Print "scenario: <text>" (a narrated step).  => thread context. */
void scenario_say(const char *fmt, ...) __printf(1, 2);

/* Run @fn(@arg) on AP @cpu from its idle loop (IRQs on, thread context),
 * without waiting; scenario_join() waits for every AP so started. */
int scenario_start_on(unsigned int cpu, void (*fn)(void *), void *arg);
void scenario_join(void);

/* A new owner takes the freed frame @want: order-0 allocations until
 * it comes back (everything else is returned).  False if it did not. */
bool scenario_take_frame(struct frame *want);

/* Map @n new frames at @va, one 4 KiB page each, read-write and
 * write-back, into the kernel's page tables.  @pages (zeroed by the
 * caller) gets their struct frames, for the caller to free after its
 * unmap; it stops at the first allocation or map that fails, and
 * returns false.  => thread context. */
bool scenario_map_new_frames(virt_addr_t va, struct frame **pages,
			     unsigned int n);

/* Spin until *@flag is set by another CPU, or @limit_ns pass; whether
 * it was set. */
bool scenario_wait_until(const bool *flag, uint64_t limit_ns);

/* If the command line asked for a scenario, run it and leave the machine
 * with its verdict (does not return); else return.  => boot CPU, after
 * smp_boot(), IRQs on. */
void scenario_run_requested(void);

extern const struct scenario scenario_huge_ioremap;
extern const struct scenario scenario_no_ack_wait;
extern const struct scenario scenario_dirty_bit;
extern const struct scenario scenario_device_tlb;
extern const struct scenario scenario_no_alloc_free;
extern const struct scenario scenario_nmi_fixmap;

#endif
