/* shootdown.c: the TLB shootdown, the one place where the kernel makes
 * every CPU forget a translation before a page is reused.
 *
 * The contract, in the order the steps must happen:
 *
 *   1. UNHOOK      The caller has cleared the entries (kpt_unmap(),
 *                  kpt_map(KPT_MAP_REPLACE)) and unlinked the tables it
 *                  frees (kpt_unmap(), kpt_reclaim_empty_tables()); they
 *                  are on its gather, with the data pages to free, and
 *                  the gather names the stale range.
 *                  From here on no CPU can *start* a new walk that
 *                  reaches those pages through memory; but any CPU may
 *                  still hold, in its TLB or paging-structure caches,
 *                  entries filled before step 1, even speculatively.
 *   2. INVALIDATE  ONE broadcast IPI (the APIC's "all excluding self"
 *                  shorthand) carries the range to every other online
 *                  CPU; then this CPU invalidates its own caches while
 *                  the targets do theirs (sending first overlaps the
 *                  two, as in Amit et al., "Don't shoot down TLB
 *                  shootdowns!", EuroSys 2020).  Each invalidates by
 *                  INVLPG per page up to SHOOTDOWN_INVLPG_CEILING pages,
 *                  else by a full flush (one CR3 reload: nothing here
 *                  is global).
 *   3. WAIT        Every target acknowledges after its invalidation; we
 *                  wait for the last acknowledgment.  Only then is it
 *                  known that no CPU can use an old entry (seed 002).
 *                  Then the subscribed translation caches (a device TLB,
 *                  seed 003) drop the range: the same moment, not later.
 *   4. FREE        The gathered frames go back to the frame allocator.
 *                  Not one step earlier (seed 000).
 *
 * Nothing here allocates (seed 004): the request lives in this CPU's
 * slot, the cross-CPU call descriptor in kernel/smp.c's per-CPU pool,
 * and the gather's links in the frames' metadata.
 */
#include "kernel/nmi.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/spinlock.h"
#include "kernel/trace.h"
#include "mm/psc_model.h"
#include "mm/shootdown.h"

struct shootdown_stats shootdown_cpu_stats[MAX_CPUS];
enum shootdown_step shootdown_cpu_step[MAX_CPUS];
struct pt_gather *shootdown_cpu_gather[MAX_CPUS];
enum shootdown_selftest_fault shootdown_selftest_fault = SHOOTDOWN_SAFE;

/* What the IPI carries (mm/shootdown.h), one slot per sending CPU. */
static struct shootdown_request shootdown_requests[MAX_CPUS];

/* Subscribers.  The lock guards the list; it is held while the callbacks
 * run, so unsubscribe cannot free a subscriber under a running shootdown. */
static struct spinlock subscribers_lock = SPINLOCK_INIT("shootdown_subscribers");
static struct shootdown_subscriber *subscribers;

static struct shootdown_stats *this_cpu_stats(void)
{
	return &shootdown_cpu_stats[this_cpu_id()];
}

/* More pages than the ceiling, a range that runs to the top of the
 * address space, or one that wraps: flush everything. */
static bool range_needs_full_flush(virt_addr_t start, virt_addr_t end)
{
	return end <= start ||
	       (end - start) / PAGE_SIZE > SHOOTDOWN_INVLPG_CEILING;
}

/* Invalidate the request's range in this CPU's TLB and paging-structure
 * caches: INVLPG per page up to the ceiling, else a full flush; counted.
 * Either instruction empties this CPU's paging-structure caches, so the
 * model of them (mm/psc_model.h) is emptied here too.
 * => any context.  TLB: nothing stale here for the range. */
static void shootdown_invalidate_local(const struct shootdown_request *req)
{
	struct shootdown_stats *st = this_cpu_stats();

	if (req->full_flush) {
		tlb_flush_local_all();
		trace0(TRACE_INV_FULL);
		COUNTER_ADD(st->full_flushes, 1);
	} else if (req->start != req->end) {
		for (virt_addr_t va = req->start; va != req->end; va += PAGE_SIZE)
			tlb_flush_local_page(va);
		trace2(TRACE_INV_PAGES, req->start, (req->end - req->start) / PAGE_SIZE);
		COUNTER_ADD(st->pages_invalidated,
			    (req->end - req->start) / PAGE_SIZE);
	} else {
		return;   /* no range and no frames: nothing to invalidate */
	}
	psc_model_invalidate_this_cpu();
}

/* The IPI handler's work, on every target.
 * => a cross-CPU call: IRQs off, this CPU's call handler.
 * => TLB: nothing stale here for the request's range; then the smp layer
 *    acknowledges, which is what the sender waits for. */
static void shootdown_on_target(void *arg)
{
	COUNTER_ADD(this_cpu_stats()->ipis_received, 1);
	shootdown_invalidate_local(arg);
}

/* Step 3b: the other translation caches, after the CPUs' acks. */
static void notify_subscribers(const struct shootdown_request *req)
{
	irqflags_t irq = spin_lock_irqsave(&subscribers_lock);

	for (struct shootdown_subscriber *s = subscribers; s; s = s->next) {
		trace2(TRACE_NOTIFY, this_cpu_stats()->shootdowns, s->name);
		s->invalidate_range(s, req);
	}
	spin_unlock_irqrestore(&subscribers_lock, irq);
}

/* Step 4, with the counting: how many page tables and data pages.  The
 * model checks every table; the walk ends at the last one (a purge
 * gathers its tables last, so they lead the list). */
static void free_gathered(struct pt_gather *g)
{
	struct shootdown_stats *st = this_cpu_stats();
	uint64_t tables = 0;

	for (struct frame *f = g->head; f && tables < g->nr_tables;
	     f = frame_list_next(f)) {
		if (frame_is_table(f)) {
			tables++;
			psc_model_check_free(f);   /* nobody may still cache it */
		}
	}
	st->pt_pages_freed += g->nr_tables;
	st->data_pages_freed += g->nr_frames - g->nr_tables;
	st->max_pages_waiting = MAX(st->max_pages_waiting, g->nr_frames);
	trace2(TRACE_FREE, st->shootdowns, g->nr_frames);
	pt_gather_free_all(g);
}

/* Step 2, first half: ONE IPI to every other online CPU, not waiting.
 * Returns whether there are acknowledgments to wait for. */
static bool invalidate_remote(struct shootdown_request *req)
{
	int err;

	if (smp_num_online() < 2)
		return false;
	err = smp_call_all_but_self(shootdown_on_target, req, SMP_NO_WAIT);
	if (err)   /* only from a call handler or NMI: a kernel bug */
		panic("shootdown: cannot reach the other CPUs from here "
		      "(error %d); expected thread context", err);
	this_cpu_stats()->ipis_sent++;
	return true;
}

static void set_step(enum shootdown_step step)
{
	WRITE_ONCE(shootdown_cpu_step[this_cpu_id()], step);
}

/* Is @step of the protocol switched off by a negative-control selftest
 * (shootdown_selftest_fault)?  Always false outside those tests. */
enum protocol_step { LOCAL_INVALIDATION, REMOTE_INVALIDATION, WAIT_BEFORE_FREE };
static bool selftest_disabled(enum shootdown_selftest_fault fault,
			      enum protocol_step step)
{
	switch (fault) {
	case SHOOTDOWN_FAULT_SKIP_ALL:
		return step != WAIT_BEFORE_FREE;
	case SHOOTDOWN_FAULT_SKIP_REMOTE:
		return step == REMOTE_INVALIDATION;
	case SHOOTDOWN_FAULT_FREE_BEFORE_ACK:
		return step == WAIT_BEFORE_FREE;
	case SHOOTDOWN_SAFE:
		break;
	}
	return false;
}

void shootdown_flush_and_free(struct pt_gather *g)
{
	enum shootdown_selftest_fault fault = READ_ONCE(shootdown_selftest_fault);
	struct shootdown_request *req = &shootdown_requests[this_cpu_id()];
	bool acks_due = false;

	/* No IPI can be sent or waited for in NMI (seed 001): refused, and
	 * recorded without printk; the frames stay on @g, unfreed. */
	if (nmi_refuse("shootdown_flush_and_free"))
		return;
	if (pt_gather_empty(g))
		return;
	BUG_ON(smp_in_call_handler());
	this_cpu_stats()->shootdowns++;
	WRITE_ONCE(shootdown_cpu_gather[this_cpu_id()], g);   /* for gdb */
	/* 1. UNHOOK was the caller's: the gather holds the range to flush. */
	*req = (struct shootdown_request){
		.start = g->stale_start, .end = g->stale_end,
		.full_flush = g->stale_start == g->stale_end ?
			      g->head != NULL :  /* frames, but no range named */
			      range_needs_full_flush(g->stale_start, g->stale_end),
		.pt_pages = g->nr_tables,
	};
	trace3(TRACE_SHOOTDOWN, this_cpu_stats()->shootdowns, req->start, req->end);

	/* 2. INVALIDATE: ONE IPI to everywhere else, then here meanwhile. */
	set_step(SHOOTDOWN_INVALIDATING);
	if (!selftest_disabled(fault, REMOTE_INVALIDATION))
		acks_due = invalidate_remote(req);
	if (!selftest_disabled(fault, LOCAL_INVALIDATION))
		shootdown_invalidate_local(req);

	/* 3. WAIT for every acknowledgment, then tell the subscribers. */
	if (selftest_disabled(fault, WAIT_BEFORE_FREE)) {
		set_step(SHOOTDOWN_FREEING);   /* the bug: targets may still */
		free_gathered(g);              /* hold entries into these pages */
	}
	if (acks_due) {
		set_step(SHOOTDOWN_WAITING_FOR_ACKS);
		smp_call_wait_for_acks();
		trace1(TRACE_ALL_ACKS, this_cpu_stats()->shootdowns);
	}
	notify_subscribers(req);

	/* 4. FREE: no CPU and no subscriber can reach the frames now. */
	set_step(SHOOTDOWN_FREEING);
	free_gathered(g);
	set_step(SHOOTDOWN_IDLE);
	WRITE_ONCE(shootdown_cpu_gather[this_cpu_id()], NULL);
}

int shootdown_subscribe(struct shootdown_subscriber *s)
{
	irqflags_t irq;
	int err = 0;

	if (!s || !s->invalidate_range) {
		printk("shootdown_subscribe: subscriber %p has no callback\n", s);
		return -EINVAL;
	}
	irq = spin_lock_irqsave(&subscribers_lock);
	for (struct shootdown_subscriber *p = subscribers; p; p = p->next)
		if (p == s)
			err = -EINVAL;
	if (!err) {
		s->next = subscribers;
		subscribers = s;
	}
	spin_unlock_irqrestore(&subscribers_lock, irq);
	if (err)
		printk("shootdown_subscribe: %s is already subscribed\n", s->name);
	return err;
}

void shootdown_unsubscribe(struct shootdown_subscriber *s)
{
	irqflags_t irq = spin_lock_irqsave(&subscribers_lock);

	for (struct shootdown_subscriber **p = &subscribers; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	spin_unlock_irqrestore(&subscribers_lock, irq);
}

struct shootdown_stats shootdown_stats_total(void)
{
	struct shootdown_stats sum = { 0 };

	for (unsigned int cpu = 0; cpu < MAX_CPUS; cpu++) {
		const struct shootdown_stats *c = &shootdown_cpu_stats[cpu];

		sum.shootdowns += c->shootdowns;
		sum.ipis_sent += c->ipis_sent;
		sum.ipis_received += c->ipis_received;
		sum.pages_invalidated += c->pages_invalidated;
		sum.full_flushes += c->full_flushes;
		sum.pt_pages_freed += c->pt_pages_freed;
		sum.data_pages_freed += c->data_pages_freed;
		sum.max_pages_waiting = MAX(sum.max_pages_waiting,
					    c->max_pages_waiting);
	}
	return sum;
}

static void print_stats_line(const char *who, const struct shootdown_stats *s)
{
	printk("  %-6s %10llu %9llu %9llu %11llu %7llu %9llu %9llu %8llu\n", who,
	       (unsigned long long)s->shootdowns,
	       (unsigned long long)s->ipis_sent,
	       (unsigned long long)s->ipis_received,
	       (unsigned long long)s->pages_invalidated,
	       (unsigned long long)s->full_flushes,
	       (unsigned long long)s->pt_pages_freed,
	       (unsigned long long)s->data_pages_freed,
	       (unsigned long long)s->max_pages_waiting);
}

void shootdown_print_summary(void)
{
	struct shootdown_stats total = shootdown_stats_total();
	char who[8];

	printk("shootdown: counters (pt/data freed: after every ack)\n");
	printk("  %-6s %10s %9s %9s %11s %7s %9s %9s %8s\n", "cpu",
	       "shootdowns", "ipis_sent", "ipis_recv", "invlpg_pages",
	       "full", "pt_freed", "data_freed", "max_wait");
	for (unsigned int cpu = 0; cpu < smp_num_online(); cpu++) {
		snprintf(who, sizeof(who), "%u", cpu);
		print_stats_line(who, &shootdown_cpu_stats[cpu]);
	}
	print_stats_line("total", &total);
}
