/* trace_internal.h: the rings of kernel/trace.c, for kernel/trace_clock.c
 * and for tests/trace.c, which stages an NMI between the two halves of a
 * record; everything else uses kernel/trace.h. */
#ifndef KERNEL_TRACE_INTERNAL_H
#define KERNEL_TRACE_INTERNAL_H
#include "arch/x86/arch.h"
#include "kernel/trace.h"

/* A ring: head counts the records ever reserved; record i lives in
 * slot i % TRACE_RING_RECORDS.  Only its CPU writes it.  Aligned so that
 * two CPUs' heads never share a cache line. */
struct trace_ring {
	uint64_t head;
	struct trace_record slot[TRACE_RING_RECORDS];
} __aligned(64);

extern struct trace_ring trace_rings[MAX_CPUS];

/* Subtracted from each CPU's TSC readings: set by trace_clock_check()
 * before anything that is dumped is recorded; read-only afterwards. */
extern int64_t trace_clock_offsets[MAX_CPUS];

/* trace_record() is these two, on this CPU: take the next index of
 * @cpu's ring, then fill and publish its slot. */
uint64_t trace_reserve(unsigned int cpu);
void trace_fill(unsigned int cpu, uint64_t idx, enum trace_event event,
		uint64_t a0, uint64_t a1, uint64_t a2);
#endif
