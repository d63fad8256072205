/* trace.c: the per-CPU event trace (kernel/trace.h has the contract).
 *
 * Why a record is safe from an NMI on the same CPU.  Only its own CPU
 * writes a ring, so the one danger is this CPU interrupting itself: an
 * IRQ or NMI that arrives in the middle of trace_record() and records
 * too.  Two rules make that harmless:
 *
 *   1. RESERVE first, with one read-modify-write instruction: the slot
 *      index comes from an atomic add on the ring's head.  An interrupt
 *      lands either before it (and takes the slot before ours) or after
 *      it (and takes the next one); never between a read and a write of
 *      the head, which would hand both the same slot.  (tests/trace.c
 *      stages exactly that split with a real NMI and shows the record it
 *      loses.)
 *   2. FILL, then PUBLISH: the slot's stamp is cleared before the fields
 *      are written and set to index + 1 after them, with release order.
 *      An interrupted record leaves its own slot only; the interrupting
 *      one fills another slot completely before we resume.
 *
 * A reader (the dump, on any CPU) copies a record between two reads of
 * its stamp, as a seqlock reader does: if the stamp is not the index it
 * wants, or changed during the copy, the record was overwritten or is
 * still being written, and the reader skips it.
 */
#include "arch/x86/arch.h"
#include "kernel/clock.h"
#include "kernel/cmdline.h"
#include "kernel/ksyms.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/trace_internal.h"

struct trace_ring trace_rings[MAX_CPUS];

static bool trace_on = true;
KERNEL_PARAM_BOOL(trace, trace_on,
		  "per-CPU event trace: on (default) or off (docs/trace.md)");

int64_t trace_clock_offsets[MAX_CPUS];

/* Rule 1: one atomic add, so that no interrupt can split it. */
uint64_t trace_reserve(unsigned int cpu)
{
	return __atomic_fetch_add(&trace_rings[cpu].head, 1, __ATOMIC_RELAXED);
}

/* Rule 2: unpublish, fill, publish. */
void trace_fill(unsigned int cpu, uint64_t idx, enum trace_event event,
		uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct trace_record *r = &trace_rings[cpu].slot[idx % TRACE_RING_RECORDS];

	WRITE_ONCE(r->stamp, 0);
	barrier();
	r->tsc = clock_cycles() - (uint64_t)trace_clock_offsets[cpu];
	r->event = event;
	r->arg[0] = a0;
	r->arg[1] = a1;
	r->arg[2] = a2;
	__atomic_store_n(&r->stamp, idx + 1, __ATOMIC_RELEASE);
}

void trace_record(enum trace_event event, uint64_t a0, uint64_t a1, uint64_t a2)
{
	unsigned int cpu;

	if (!READ_ONCE(trace_on))
		return;
	cpu = this_cpu_id();
	trace_fill(cpu, trace_reserve(cpu), event, a0, a1, a2);
}

uint64_t trace_mark(void)
{
	return clock_cycles() - (uint64_t)trace_clock_offsets[this_cpu_id()];
}

bool trace_set_enabled(bool on)
{
	bool was = READ_ONCE(trace_on);

	WRITE_ONCE(trace_on, on);
	return was;
}

bool trace_enabled(void)
{
	return READ_ONCE(trace_on);
}

uint64_t trace_count(unsigned int cpu)
{
	return cpu < MAX_CPUS ? __atomic_load_n(&trace_rings[cpu].head, __ATOMIC_ACQUIRE) : 0;
}

bool trace_read(unsigned int cpu, uint64_t idx, struct trace_record *out)
{
	const struct trace_record *r;

	if (cpu >= MAX_CPUS || idx >= trace_count(cpu))
		return false;
	r = &trace_rings[cpu].slot[idx % TRACE_RING_RECORDS];
	if (__atomic_load_n(&r->stamp, __ATOMIC_ACQUIRE) != idx + 1)
		return false;
	out->tsc = READ_ONCE(r->tsc);
	out->event = READ_ONCE(r->event);
	for (int i = 0; i < 3; i++)
		out->arg[i] = READ_ONCE(r->arg[i]);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	out->stamp = READ_ONCE(r->stamp);
	return out->stamp == idx + 1;
}

/* ---- the dump ---- */

/* How the dump prints an argument. */
enum arg_kind { ARG_NONE, ARG_HEX, ARG_DEC, ARG_TEXT, ARG_SYMBOL };

struct arg_spec {
	const char *name;
	enum arg_kind kind;
};

static const struct {
	const char *name;
	struct arg_spec arg[3];
} trace_events[TRACE_NR_EVENTS] = {
	[TRACE_MAP]         = { "map", { { "va", ARG_HEX }, { "pa", ARG_HEX },
					 { "size", ARG_HEX } } },
	[TRACE_UNMAP]       = { "unmap", { { "va", ARG_HEX }, { "size", ARG_HEX } } },
	[TRACE_GATHER]      = { "gather", { { "pa", ARG_HEX }, { "level", ARG_DEC } } },
	[TRACE_SHOOTDOWN]   = { "sd_begin", { { "id", ARG_DEC }, { "start", ARG_HEX },
					      { "end", ARG_HEX } } },
	[TRACE_IPI_SEND]    = { "ipi_send", { { "call", ARG_DEC }, { "mask", ARG_HEX },
					      { "fn", ARG_SYMBOL } } },
	[TRACE_IPI_RECV]    = { "ipi_recv", { { "from", ARG_DEC }, { "call", ARG_DEC } } },
	[TRACE_INV_PAGES]   = { "inv_pages", { { "start", ARG_HEX }, { "pages", ARG_DEC } } },
	[TRACE_INV_FULL]    = { "inv_full", { { NULL, ARG_NONE } } },
	[TRACE_ACK]         = { "ack", { { "to", ARG_DEC }, { "call", ARG_DEC } } },
	[TRACE_ALL_ACKS]    = { "all_acks", { { "id", ARG_DEC } } },
	[TRACE_NOTIFY]      = { "notify", { { "id", ARG_DEC }, { "name", ARG_TEXT } } },
	[TRACE_FREE]        = { "free", { { "id", ARG_DEC }, { "frames", ARG_DEC } } },
	[TRACE_PURGE_BEGIN] = { "purge_begin", { { "areas", ARG_DEC } } },
	[TRACE_PURGE_END]   = { "purge_end", { { NULL, ARG_NONE } } },
	[TRACE_STALE_READ]  = { "stale_read", { { "va", ARG_HEX }, { "expected", ARG_HEX },
						{ "seen", ARG_HEX } } },
	[TRACE_STEP]        = { "step", { { "text", ARG_TEXT } } },
};

const char *trace_event_name(enum trace_event event)
{
	if ((unsigned int)event >= TRACE_NR_EVENTS || !trace_events[event].name)
		return "unknown";
	return trace_events[event].name;
}

/* Append " name=value" for one argument to @buf (of @size, at @len). */
static int format_arg(char *buf, size_t size, int len, const struct arg_spec *a,
		      uint64_t v)
{
	uint64_t off;
	const char *sym;

	if ((size_t)len >= size)
		return len;
	switch (a->kind) {
	case ARG_HEX:
		return len + snprintf(buf + len, size - len, " %s=%#llx", a->name,
				      (unsigned long long)v);
	case ARG_DEC:
		return len + snprintf(buf + len, size - len, " %s=%llu", a->name,
				      (unsigned long long)v);
	case ARG_TEXT:   /* the rest of the line: text may hold spaces */
		return len + snprintf(buf + len, size - len, " %s=%s", a->name,
				      v ? (const char *)(uintptr_t)v : "");
	case ARG_SYMBOL:
		sym = ksym_lookup(v, &off);
		return len + snprintf(buf + len, size - len, " %s=%s", a->name,
				      sym && off == 0 ? sym : "?");
	case ARG_NONE:
		break;
	}
	return len;
}

static void print_record(unsigned int cpu, const struct trace_record *r)
{
	char line[192];
	enum trace_event ev = (enum trace_event)r->event;
	int len = snprintf(line, sizeof(line), "T %u %llu %s", cpu,
			   (unsigned long long)r->tsc, trace_event_name(ev));

	for (int i = 0; i < 3 && ev < TRACE_NR_EVENTS; i++)
		len = format_arg(line, sizeof(line), len, &trace_events[ev].arg[i],
				 r->arg[i]);
	printk("%s\n", line);
}

/* Each CPU's place in the merge: the next index to print, the end of
 * the window (the head when the dump began) and that record, read. */
struct dump_cursor {
	uint64_t next, end;
	bool have;
	struct trace_record rec;
};

/* Advance @c to its next readable record; those that cannot be read
 * (overwritten meanwhile) are counted in @lost. */
static void cursor_fill(unsigned int cpu, struct dump_cursor *c, uint64_t *lost)
{
	c->have = false;
	while (!c->have && c->next < c->end) {
		c->have = trace_read(cpu, c->next, &c->rec);
		if (!c->have)
			(*lost)++;
		c->next++;
	}
}

/* Position @c at @cpu's first record with tsc >= @since.  True when
 * records of the window may be gone: the ring wrapped and its oldest
 * surviving record is already inside the window. */
static bool cursor_start(unsigned int cpu, struct dump_cursor *c, uint64_t since,
			 uint64_t *lost)
{
	uint64_t oldest;

	c->end = trace_count(cpu);
	oldest = c->end > TRACE_RING_RECORDS ? c->end - TRACE_RING_RECORDS : 0;
	c->next = oldest;
	do
		cursor_fill(cpu, c, lost);
	while (c->have && c->rec.tsc < since);
	return oldest > 0 && c->have && c->next - 1 == oldest;
}

void trace_dump(uint64_t since)
{
	static struct dump_cursor cursors[MAX_CPUS];   /* one dump at a time */
	unsigned int cpus = smp_num_online(), best;
	uint64_t records = 0, lost = 0, wrapped = 0;

	printk("TRACE BEGIN cpus=%u hz=%llu since=%llu\n", cpus,
	       (unsigned long long)clock_hz(), (unsigned long long)since);
	for (unsigned int cpu = 0; cpu < cpus; cpu++)
		if (cursor_start(cpu, &cursors[cpu], since, &lost))
			wrapped |= 1ULL << cpu;
	for (;;) {
		best = cpus;
		for (unsigned int cpu = 0; cpu < cpus; cpu++)
			if (cursors[cpu].have &&
			    (best == cpus || cursors[cpu].rec.tsc < cursors[best].rec.tsc))
				best = cpu;
		if (best == cpus)
			break;
		print_record(best, &cursors[best].rec);
		records++;
		cursor_fill(best, &cursors[best], &lost);
	}
	printk("TRACE END records=%llu lost=%llu wrapped=%#llx\n",
	       (unsigned long long)records, (unsigned long long)lost,
	       (unsigned long long)wrapped);
}
