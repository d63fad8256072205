/* seed002_dirty_bit.c: dirty tracking before the acks (seed 002, second case).
 *
 * The thread's second case: cleaning a page, as writeback does, means
 * write-protecting it, reading and clearing its Dirty bit, and writing
 * back its contents if it was dirty.  A CPU whose TLB still holds the
 * old writable entry, already dirty, keeps writing through it without
 * a fault and without touching the PTE again (the CPU sets D only when
 * its cached entry is clean).  If the contents are taken before that
 * CPU has flushed, its write is in memory but in no writeback, and D
 * says the page is clean: the write is lost.
 *
 * Three CPUs play it, on one page mapped writable with D clear:
 *   CPU 1, the writer: writes FIRST_DATA (the CPU sets D, its TLB now
 *          caches a writable, dirty entry), turns IRQs off, and stays
 *          busy until the page was cleaned (at most WRITER_WAIT_NS in
 *          the fixed variant, where no cleaning can come before its
 *          ack); then writes SECOND_DATA through its entry and turns
 *          IRQs back on, which takes the IPI and acknowledges.  Last,
 *          it tries a third write, which must fault: the page is
 *          read-only in every TLB now.
 *   CPU 0, the initiator: write-protects the page onto a gather and
 *          runs the shootdown.
 *   CPU 2, writeback: reads and clears D and snapshots the contents as
 *          "written back".  Fixed: once CPU 0's shootdown returned, after
 *          every ack.  Broken: as soon as CPU 0 waits for acks, the IPI
 *          out but CPU 1 not flushed (the thread's mistake).
 * The hazard: memory differs from the last writeback while D is clear,
 * a write lost to writeback (a stale_read event: the value written back,
 * the value in memory).
 */
#include "arch/x86/arch.h"
#include "kernel/clock.h"
#include "kernel/extable.h"
#include "kernel/trace.h"
#include "mm/frame.h"
#include "mm/kpt.h"
#include "mm/layout.h"
#include "mm/pte.h"
#include "mm/shootdown.h"
#include "scenarios/scenario.h"

#define WRITER_CPU    1
#define WRITEBACK_CPU 2
/* A GiB of the mm selftest window no test and no other scenario uses
 * (grep MM_SELFTEST_START in tests/ and scenarios/). */
#define DIRTY_VA      (MM_SELFTEST_START + 950ULL * GiB)
#define FIRST_DATA    0x0000545352494fULL    /* "FIRST" */
#define SECOND_DATA   0x0000444e4f4353ULL    /* "SECOND" */
/* How long the writer waits for the cleaning in the fixed variant,
 * where it cannot come before the writer's own ack: all the time that
 * variant loses.  In the broken one it waits up to PATIENCE_NS (a vCPU
 * descheduled by a busy host can take 50 ms to get there). */
#define WRITER_WAIT_NS (50 * NSEC_PER_MSEC)
/* A safety net against a hang, never reached when the kernel works. */
#define PATIENCE_NS   (2 * NSEC_PER_SEC)

static struct {
	pte_t *entry;             /* the page's PTE, in the direct map */
	uint64_t *page;           /* the frame, through the direct map */
	enum scenario_variant variant;
	bool writer_ready;        /* CPU 1: dirty writable entry, IRQs off */
	bool flushed;             /* CPU 0: shootdown returned */
	bool cleaned;             /* CPU 2: D read and cleared, snapshot */
	bool was_dirty;           /* D as CPU 2 read it */
	uint64_t written_back;    /* CPU 2's snapshot */
	int late_write;           /* CPU 1's write after its ack */
} s;

static void writer_cpu(void *arg)
{
	(void)arg;
	probe_write_u64((void *)DIRTY_VA, FIRST_DATA);  /* sets D */
	arch_irq_disable();
	trace_step("CPU 1 wrote; its TLB caches a writable, dirty entry");
	__atomic_store_n(&s.writer_ready, true, __ATOMIC_RELEASE);
	while (READ_ONCE(shootdown_cpu_step[0]) != SHOOTDOWN_WAITING_FOR_ACKS)
		cpu_relax();
	scenario_wait_until(&s.cleaned, s.variant == SCENARIO_BROKEN ? PATIENCE_NS :
		   WRITER_WAIT_NS);
	trace_step("CPU 1 writes again through its TLB entry");
	probe_write_u64((void *)DIRTY_VA, SECOND_DATA);
	arch_irq_enable();                        /* takes the IPI: ack */
	s.late_write = probe_write_u64((void *)DIRTY_VA, 0);
	trace_step("CPU 1 writes after its ack");
}

/* Writeback's half of cleaning: D read and cleared in one atomic step
 * (the CPUs set it with a locked update), then the contents taken. */
static void writeback_cpu(void *arg)
{
	uint64_t old;

	(void)arg;
	if (s.variant == SCENARIO_BROKEN) {
		while (READ_ONCE(shootdown_cpu_step[0]) !=
		       SHOOTDOWN_WAITING_FOR_ACKS)
			cpu_relax();
	} else if (!scenario_wait_until(&s.flushed, PATIENCE_NS)) {
		return;
	}
	old = __atomic_fetch_and(s.entry, ~PTE_D, __ATOMIC_ACQ_REL);
	s.was_dirty = old & PTE_D;
	s.written_back = READ_ONCE(*s.page);
	trace_step("CPU 2 reads and clears D, writes the page back");
	__atomic_store_n(&s.cleaned, true, __ATOMIC_RELEASE);
}

/* Map a frame writable at DIRTY_VA with D clear, nowhere cached. */
static struct frame *map_clean(void)
{
	struct frame *f = frame_alloc(0, FRAME_KERNEL);
	struct kpt_mapping m;
	struct kpt_walk w;

	if (!f)
		return NULL;
	*(uint64_t *)frame_virt(f) = 0;
	m = (struct kpt_mapping){ .va = DIRTY_VA, .pa = frame_pa(f),
		.size = PAGE_SIZE, .prot = PT_PROT_RW, .cache = PT_CACHE_WB,
		.max_page = PT_PAGE_4K };
	if (kpt_map(&m, KPT_MAP_NEW, NULL) < 0 ||
	    kpt_walk(DIRTY_VA, &w) < 0) {
		frame_free(f, FRAME_KERNEL);
		return NULL;
	}
	s.entry = w.entry;
	s.page = frame_virt(f);
	/* Kernel mappings are made with A and D preset; the scenario needs
	 * the CPU to set D itself.  Nothing has used the new VA yet, so no
	 * TLB caches it: the local INVLPG is belt and braces. */
	__atomic_fetch_and(s.entry, ~PTE_D, __ATOMIC_ACQ_REL);
	tlb_flush_local_page(DIRTY_VA);
	return f;
}

static void unmap_clean(struct frame *f)
{
	struct pt_gather g;

	pt_gather_init(&g);
	kpt_unmap(DIRTY_VA, PAGE_SIZE, &g);
	shootdown_flush_and_free(&g);
	frame_free(f, FRAME_KERNEL);
}

static unsigned int run(enum scenario_variant variant)
{
	struct pt_gather g;
	struct frame *f;
	uint64_t now;
	unsigned int hazards;

	s = (typeof(s)){ .variant = variant };
	if (!(f = map_clean())) {
		scenario_say("mapping one clean page failed");
		return 0;
	}
	scenario_say("a page at %#llx, writable, D clear; CPU 1 writes it, "
		     "then stays busy with IRQs off", (unsigned long long)DIRTY_VA);
	scenario_start_on(WRITER_CPU, writer_cpu, NULL);
	scenario_start_on(WRITEBACK_CPU, writeback_cpu, NULL);
	scenario_wait_until(&s.writer_ready, PATIENCE_NS);

	scenario_say("CPU 0 write-protects it and sends ONE IPI; CPU 2 takes "
		     "D and the contents %s", variant == SCENARIO_BROKEN ?
		     "before the acks (broken)" : "after every ack (fixed)");
	trace_step("CPU 0 write-protects the page");
	pt_gather_init(&g);
	kpt_protect(DIRTY_VA, PAGE_SIZE, PT_PROT_RO, &g);
	shootdown_flush_and_free(&g);
	__atomic_store_n(&s.flushed, true, __ATOMIC_RELEASE);
	scenario_join();

	now = READ_ONCE(*s.page);
	hazards = s.cleaned && now != s.written_back &&
		  !(READ_ONCE(*s.entry) & PTE_D);
	if (hazards)
		trace3(TRACE_STALE_READ, DIRTY_VA, now, s.written_back);
	scenario_say("D was %s; written back %#llx; in memory %#llx, D now "
		     "clear: %s", s.was_dirty ? "set" : "clear",
		     (unsigned long long)s.written_back,
		     (unsigned long long)now, hazards ?
		     "CPU 1's second write is LOST to writeback" :
		     "nothing lost");
	scenario_say("CPU 1's write after its ack %s (%d)", s.late_write ?
		     "faulted: the page is read-only" : "went through",
		     s.late_write);
	if (!s.late_write)
		hazards++;                        /* a writable entry survived */
	unmap_clean(f);
	return hazards;
}

const struct scenario scenario_dirty_bit = {
	.name = "dirty-bit",
	.seed = "002",
	.title = "reading the dirty bit before the acks",
	.min_cpus = 3,
	.run = run,
};
