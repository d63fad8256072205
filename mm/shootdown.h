/* shootdown.h: invalidate a kernel range on every CPU, then free what
 * was gathered.  The protocol and why each step is where it is: the top
 * of mm/shootdown.c and docs/unmap-path.md.
 *
 *   struct pt_gather g;
 *   pt_gather_init(&g);
 *   kpt_unmap(va, size, &g);          1. unhook (mm/kpt.h)
 *   shootdown_flush_and_free(&g);     2. invalidate here and everywhere,
 *                                     3. wait for every ack, notify the
 *                                        subscribed translation caches,
 *                                     4. free
 */
#ifndef MM_SHOOTDOWN_H
#define MM_SHOOTDOWN_H

#include "arch/x86/arch.h"
#include "kernel/types.h"
#include "mm/gather.h"

/* Past this many pages every CPU drops its whole TLB instead of issuing
 * one INVLPG per page.  33 is Linux's tlb_single_page_flush_ceiling
 * (arch/x86/mm/tlb.c), chosen there from measurements on real CPUs: an
 * INVLPG costs roughly what refilling one TLB entry does, so past a few
 * dozen pages the full flush is cheaper.  Measured here (`make bench`,
 * -smp 4 -cpu max, QEMU 7.2 TCG, 2-core host; docs/bench.md): a round
 * for 32 pages by INVLPG took 104 us median and one for 512 pages by
 * full flush 111 us, against 89 us for the bare IPI and acks: under TCG
 * 32 INVLPGs cost about what one full flush does, so the ceiling sits
 * where real CPUs put it and TCG does not argue against it. */
#define SHOOTDOWN_INVLPG_CEILING 33

/* Counters, one set per CPU, written only by that CPU, in thread
 * context and in its IPI handler, hence with single locked adds where
 * both write (gdb:
 * "p shootdown_cpu_stats[2]"; the boot summary and tests add them up). */
struct shootdown_stats {
	uint64_t shootdowns;          /* rounds this CPU started */
	uint64_t ipis_sent;           /* broadcast commands: one per round
					 with other CPUs online */
	uint64_t ipis_received;       /* invalidation requests served here */
	uint64_t pages_invalidated;   /* INVLPGs, here and as a target */
	uint64_t full_flushes;        /* whole-TLB flushes, same */
	uint64_t pt_pages_freed;      /* page-table pages freed after acks */
	uint64_t data_pages_freed;    /* vmalloc data pages freed after acks */
	uint64_t max_pages_waiting;   /* the largest gather this CPU freed */
};
extern struct shootdown_stats shootdown_cpu_stats[MAX_CPUS];

/* Where each CPU is in shootdown_flush_and_free(), for gdb ("p
 * shootdown_cpu_step") and for the tests that must act at one step. */
enum shootdown_step {
	SHOOTDOWN_IDLE,
	SHOOTDOWN_INVALIDATING,      /* step 2: the IPI sent, this CPU invalidating */
	SHOOTDOWN_WAITING_FOR_ACKS,  /* step 3 */
	SHOOTDOWN_FREEING,           /* step 4 */
};
extern enum shootdown_step shootdown_cpu_step[MAX_CPUS];

/* The gather each CPU's shootdown_flush_and_free() is working on, NULL
 * when none: only for gdb ("tlb-gather" in tools/gdb/), which cannot
 * find a gather on another function's stack by itself. */
extern struct pt_gather *shootdown_cpu_gather[MAX_CPUS];

/* The sum over every CPU; max_pages_waiting is the maximum. */
struct shootdown_stats shootdown_stats_total(void);

/* Invalidate the gather's stale range on every online CPU, wait for all
 * of them to acknowledge, tell the subscribers, then free every frame
 * on the gather.  A gather with nothing on it and no stale range costs
 * nothing.
 * => thread context (not from a cross-CPU call handler, not NMI); no
 *    spinlock held that another CPU may spin on while we wait; IRQs on
 *    or off (a CPU waiting for acks serves calls sent to it).
 * => TLB: no CPU holds a translation or paging-structure-cache entry for
 *    the range; every gathered frame is back in the frame allocator. */
void shootdown_flush_and_free(struct pt_gather *g);

/* One round's request: what every CPU (the IPI carries it) and every
 * subscriber must drop.  One per sending CPU (shootdown.c's
 * shootdown_requests[]), written by that CPU before the IPI and read by
 * the targets until they acknowledge; not written again before every
 * ack of the previous round is in. */
struct shootdown_request {
	virt_addr_t start, end;   /* page-aligned; end == 0 means the top */
	bool full_flush;          /* drop everything: a long range, or frames
				     with no range named */
	uint64_t pt_pages;        /* page-table pages this round frees: a
				     cache of upper-level entries (a CPU's or
				     an IOMMU's paging-structure cache) must
				     drop those too */
};

/* Another translation cache that walks the kernel page tables (a device
 * TLB behind an IOMMU, seed 003) subscribes here, and is told to drop
 * @req's range in the same shootdown as the CPUs: after every CPU has
 * acknowledged and before any page is freed.  The callback runs on the
 * CPU that started the shootdown, with a spinlock held: it must not wait
 * for other CPUs. */
struct shootdown_subscriber {
	const char *name;
	void (*invalidate_range)(struct shootdown_subscriber *s,
				 const struct shootdown_request *req);
	struct shootdown_subscriber *next;   /* shootdown.c's list */
};

/* => thread context.  -EINVAL (with a message) for NULL, no callback,
 *    or a subscriber already on the list. */
int shootdown_subscribe(struct shootdown_subscriber *s);
void shootdown_unsubscribe(struct shootdown_subscriber *s);

/* Negative controls, for the selftests only: each disables one step of
 * the protocol so a test can show that the bug it prevents is visible.
 * Never set outside tests/; SHOOTDOWN_SAFE is the only correct value. */
enum shootdown_selftest_fault {
	SHOOTDOWN_SAFE,
	SHOOTDOWN_FAULT_SKIP_REMOTE,       /* no IPI: only this CPU flushes */
	SHOOTDOWN_FAULT_FREE_BEFORE_ACK,   /* free right after sending the
					      IPI, then wait (seed 002) */
	SHOOTDOWN_FAULT_SKIP_ALL,          /* no flush anywhere */
};
extern enum shootdown_selftest_fault shootdown_selftest_fault;

/* One line per counter, totals and per CPU (the boot summary). */
void shootdown_print_summary(void);

#endif
