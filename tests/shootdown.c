/* tests/shootdown.c: the shootdown protocol, step by step, with a
 * negative control for each safety step: switch the step off
 * (shootdown_selftest_fault) and the bug it prevents becomes visible;
 * switch it back on and the bug is gone.  QEMU's TCG keeps a stale TLB
 * entry per vCPU until INVLPG or a flush, so a missing flush is seen as
 * a read through the old translation.
 *
 * The cases: no remote IPI (a stale read after the VA is reused), free
 * before the acks (a CPU reads a freed frame), tables freed under a
 * modelled paging-structure cache (mm/psc_model.h), the INVLPG ceiling,
 * one broadcast per vunmap and one per lazy purge.  Huge-page
 * replacement, the subscriber and the spurious-fault rule are in
 * tests/shootdown_replace.c.
 */
#include "arch/x86/arch.h"
#include "kernel/printk.h"
#include "kernel/string.h"
#include "mm/layout.h"
#include "mm/psc_model.h"
#include "tests/vm_common.h"

/* Scratch addresses in the mm selftest window, away from tests/mm_kpt.c. */
#define SD_WINDOW(n) (MM_SELFTEST_START + (900ULL + (n)) * GiB)

/* ---- helpers ---- */

struct remote_read {
	const void *va;
	uint64_t value;
	int err;
};

static void remote_read_fn(void *arg)
{
	struct remote_read *r = arg;

	r->err = probe_read_u64(r->va, &r->value);
}

/* Read @va on @cpu; the value, or ~0 when it faulted. */
static uint64_t read_on_cpu(unsigned int cpu, const void *va)
{
	struct remote_read r = { va, 0, 0 };

	if (smp_call_one(cpu, remote_read_fn, &r, SMP_WAIT_ACK))
		return ~0ULL;
	return r.err ? ~0ULL : r.value;
}

static struct shootdown_stats stats_of(unsigned int cpu)
{
	return shootdown_cpu_stats[cpu];
}

/* ---- negative control 1: skip the remote IPI ---- */

/* vmap frame A at V and let CPU 1 read it; vunmap (with @fault); vmap
 * frame B, which lands at V again; what does CPU 1 read at V now?
 * Returns true when it still reads A: a stale translation. */
static bool stale_after_va_reuse(struct selftest *t,
				 enum shootdown_selftest_fault fault)
{
	struct frame *a = frame_alloc(0, FRAME_KERNEL), *b = frame_alloc(0, FRAME_KERNEL);
	uint64_t seen = 0;
	void *p, *q = NULL;

	if (!EXPECT_TRUE(t, a && b))
		goto out;
	*(uint64_t *)frame_virt(a) = 0xaaaa;
	*(uint64_t *)frame_virt(b) = 0xbbbb;
	p = vmap(&a, 1, PT_PROT_RW);
	if (!EXPECT_TRUE(t, p != NULL) || !EXPECT_EQ(t, read_on_cpu(1, p), 0xaaaa))
		goto out;
	shootdown_selftest_fault = fault;
	vunmap(p);
	shootdown_selftest_fault = SHOOTDOWN_SAFE;
	q = vmap(&b, 1, PT_PROT_RW);
	if (!EXPECT_TRUE(t, q == p))   /* lowest fit: the same address */
		goto out;
	seen = read_on_cpu(1, q);
	selftest_diag(t, "%s: CPU 1 reads %#llx at %p (frame A holds 0xaaaa, "
		      "frame B 0xbbbb)", fault == SHOOTDOWN_SAFE ? "safe" :
		      "remote IPI skipped", (unsigned long long)seen, q);
out:
	vunmap(q);
	selftest_flush_every_tlb();
	if (a)
		frame_free(a, FRAME_KERNEL);
	if (b)
		frame_free(b, FRAME_KERNEL);
	return seen == 0xaaaa;
}

static void test_skipping_the_remote_ipi_leaves_a_stale_entry(struct selftest *t)
{
	if (!vm_need_two_cpus(t))
		return;
	EXPECT_TRUE(t, stale_after_va_reuse(t, SHOOTDOWN_FAULT_SKIP_REMOTE));
	EXPECT_TRUE(t, !stale_after_va_reuse(t, SHOOTDOWN_SAFE));
}

/* ---- negative control 2: free before the acknowledgments ---- */

/* CPU 1 reads the area with IRQs off (so it cannot take the IPI yet),
 * then waits until CPU 0's shootdown waits for acks, and reads again:
 * is the frame behind its translation already free? */
struct early_free {
	void *va;
	struct frame *frame;
	enum shootdown_selftest_fault fault;
	volatile bool reader_ready;
	bool frame_was_free;   /* when CPU 1 read through its translation */
	int read_err;
	uint64_t value;
};

static void early_free_reader(struct early_free *e)
{
	uint64_t v;

	arch_irq_disable();
	probe_read_u64(e->va, &v);                    /* fill the TLB */
	WRITE_ONCE(e->reader_ready, true);
	while (READ_ONCE(shootdown_cpu_step[0]) != SHOOTDOWN_WAITING_FOR_ACKS)
		cpu_relax();
	e->frame_was_free = READ_ONCE(e->frame->use) == FRAME_FREE;
	e->read_err = probe_read_u64(e->va, &e->value);
	arch_irq_enable();                            /* now take the IPI */
}

static void early_free_body(struct selftest *t, unsigned int cpu, void *arg)
{
	struct early_free *e = arg;

	(void)t;
	if (cpu == 1) {
		early_free_reader(e);
	} else if (cpu == 0) {
		while (!READ_ONCE(e->reader_ready))
			cpu_relax();
		vfree(e->va);                         /* lazy: no flush yet */
		shootdown_selftest_fault = e->fault;
		vm_purge_lazy_now();
		shootdown_selftest_fault = SHOOTDOWN_SAFE;
	}
}

static bool read_freed_frame(struct selftest *t, enum shootdown_selftest_fault fault)
{
	struct early_free e = { .fault = fault };
	uint64_t limit = vm_lazy_max_pages_override;
	struct kpt_walk w;

	vm_purge_lazy_now();
	vm_lazy_max_pages_override = ~0ULL;   /* no purge inside vfree */
	e.va = vmalloc(PAGE_SIZE);
	if (!EXPECT_TRUE(t, e.va != NULL) || !EXPECT_EQ(t, kpt_walk((uintptr_t)e.va, &w), 0))
		return false;
	e.frame = frame_of(w.pa);
	*(uint64_t *)e.va = 0x1234;
	selftest_run_on_all_cpus(t, early_free_body, &e);
	vm_lazy_max_pages_override = limit;
	selftest_flush_every_tlb();
	selftest_diag(t, "%s: CPU 1 read %#llx (error %d) while its frame was %s",
		      fault == SHOOTDOWN_SAFE ? "safe" : "free before ack",
		      (unsigned long long)e.value, e.read_err,
		      e.frame_was_free ? "FREE" : "still allocated");
	return e.frame_was_free && e.read_err == 0;
}

static void test_freeing_before_the_acks_exposes_a_freed_frame(struct selftest *t)
{
	if (!vm_need_two_cpus(t))
		return;
	EXPECT_TRUE(t, read_freed_frame(t, SHOOTDOWN_FAULT_FREE_BEFORE_ACK));
	EXPECT_TRUE(t, !read_freed_frame(t, SHOOTDOWN_SAFE));
}

/* ---- negative control 3: the paging-structure-cache model (seed 000) ---- */

static void psc_fill_fn(void *arg)
{
	psc_model_fill((virt_addr_t)arg);
}

/* CPU 1's walker caches the tables on the way to a fresh vmalloc page;
 * the page is freed and purged with @fault.  How many page tables did
 * the shootdown free while CPU 1's (modelled) cache still pointed to
 * them? */
static uint64_t tables_freed_under_a_cache(struct selftest *t,
					   enum shootdown_selftest_fault fault)
{
	uint64_t before;
	void *p;

	vm_purge_lazy_now();   /* the window is empty: p gets tables of its own */
	p = vmalloc(PAGE_SIZE);
	if (!EXPECT_TRUE(t, p != NULL))
		return 0;
	smp_call_one(1, psc_fill_fn, p, SMP_WAIT_ACK);
	EXPECT_GE(t, psc_model_entries(1), 1);
	before = psc_model_violations;
	vfree(p);
	shootdown_selftest_fault = fault;
	vm_purge_lazy_now();
	shootdown_selftest_fault = SHOOTDOWN_SAFE;
	selftest_flush_every_tlb();     /* empty every model again */
	selftest_diag(t, "%s: %llu page tables freed under CPU 1's cache%s%s",
		      fault == SHOOTDOWN_SAFE ? "safe" : "remote IPI skipped",
		      (unsigned long long)(psc_model_violations - before),
		      psc_model_violations != before ? "; last: " : "",
		      psc_model_violations != before ? psc_model_last_violation : "");
	return psc_model_violations - before;
}

static void test_freeing_tables_under_a_cache_is_seen(struct selftest *t)
{
	if (!vm_need_two_cpus(t))
		return;
	EXPECT_GT(t, tables_freed_under_a_cache(t, SHOOTDOWN_FAULT_SKIP_REMOTE), 0);
	EXPECT_EQ(t, tables_freed_under_a_cache(t, SHOOTDOWN_SAFE), 0);
}

/* ---- the INVLPG ceiling ---- */

static const struct {
	const char *name;
	uint64_t pages;
	uint64_t invlpg_each, full_each;   /* per CPU, this one included */
} ceiling_cases[] = {
	{ "1 page",          1,                            1,                        0 },
	{ "at the ceiling",  SHOOTDOWN_INVLPG_CEILING,     SHOOTDOWN_INVLPG_CEILING, 0 },
	{ "one past it",     SHOOTDOWN_INVLPG_CEILING + 1, 0,                        1 },
};

static void test_ceiling_chooses_invlpg_or_full_flush(struct selftest *t)
{
	for (size_t i = 0; i < ARRAY_SIZE(ceiling_cases); i++) {
		struct shootdown_stats before[MAX_CPUS];
		struct pt_gather g;

		for (unsigned int c = 0; c < smp_num_online(); c++)
			before[c] = stats_of(c);
		pt_gather_init(&g);
		pt_gather_note_stale(&g, SD_WINDOW(2),
				     SD_WINDOW(2) + ceiling_cases[i].pages * PAGE_SIZE);
		shootdown_flush_and_free(&g);
		for (unsigned int c = 0; c < smp_num_online(); c++) {
			struct shootdown_stats now = stats_of(c);
			uint64_t invlpg = now.pages_invalidated - before[c].pages_invalidated;
			uint64_t full = now.full_flushes - before[c].full_flushes;

			if (invlpg != ceiling_cases[i].invlpg_each ||
			    full != ceiling_cases[i].full_each)
				selftest_fail_at(t, __FILE__, __LINE__, "%s: CPU %u did "
					"%llu INVLPGs and %llu full flushes, expected "
					"%llu and %llu", ceiling_cases[i].name, c,
					(unsigned long long)invlpg, (unsigned long long)full,
					(unsigned long long)ceiling_cases[i].invlpg_each,
					(unsigned long long)ceiling_cases[i].full_each);
		}
	}
}

/* ---- one broadcast per unmap, one per purge ---- */

/* The round counted on this CPU, and the IPI each other CPU took. */
static void expect_one_round(struct selftest *t, const char *what,
			     const struct shootdown_stats before[MAX_CPUS])
{
	unsigned int self = this_cpu_id(), n = smp_num_online();
	struct shootdown_stats now = stats_of(self);

	EXPECT_EQ(t, now.shootdowns - before[self].shootdowns, 1);
	EXPECT_EQ(t, now.ipis_sent - before[self].ipis_sent, n > 1 ? 1 : 0);
	for (unsigned int c = 0; c < n; c++) {
		uint64_t got = stats_of(c).ipis_received - before[c].ipis_received;

		if (c != self && got != 1)
			selftest_fail_at(t, __FILE__, __LINE__, "%s: CPU %u took "
					 "%llu shootdown IPIs, expected 1", what, c,
					 (unsigned long long)got);
	}
}

static uint64_t tables_below_pgd(void)
{
	return kpt.stats.tables_linked[PT_LEVEL_PTE] +
	       kpt.stats.tables_linked[PT_LEVEL_PMD] +
	       kpt.stats.tables_linked[PT_LEVEL_PUD];
}

static struct frame *vunmap_pages[600];   /* 600 pages: 2 or 3 PTE tables */

static void test_vunmap_costs_one_broadcast(struct selftest *t)
{
	struct shootdown_stats before[MAX_CPUS];
	uint64_t tables0 = tables_below_pgd(), tables;
	void *p = NULL;
	size_t n = 0;

	vm_purge_lazy_now();
	for (; n < ARRAY_SIZE(vunmap_pages); n++)
		if (!(vunmap_pages[n] = frame_alloc(0, FRAME_KERNEL)))
			break;
	if (EXPECT_EQ(t, n, ARRAY_SIZE(vunmap_pages)))
		p = vmap(vunmap_pages, n, PT_PROT_RW);
	if (EXPECT_TRUE(t, p != NULL)) {
		tables = tables_below_pgd() - tables0;
		for (unsigned int c = 0; c < smp_num_online(); c++)
			before[c] = stats_of(c);
		vunmap(p);
		expect_one_round(t, "vunmap", before);
		EXPECT_EQ(t, stats_of(this_cpu_id()).pt_pages_freed -
			  before[this_cpu_id()].pt_pages_freed, tables);
		selftest_diag(t, "vunmap of %zu pages spanning %llu page tables: "
			      "one round", n, (unsigned long long)tables);
	}
	while (n--)
		frame_free(vunmap_pages[n], FRAME_KERNEL);
}

static void test_lazy_purge_of_many_areas_costs_one_broadcast(struct selftest *t)
{
	enum { M = 20 };
	struct shootdown_stats before[MAX_CPUS];
	uint64_t purged0, limit = vm_lazy_max_pages_override;
	void *areas[M];

	vm_purge_lazy_now();
	vm_lazy_max_pages_override = ~0ULL;
	for (int i = 0; i < M; i++)
		areas[i] = vmalloc(3 * PAGE_SIZE);
	for (unsigned int c = 0; c < smp_num_online(); c++)
		before[c] = stats_of(c);
	for (int i = 0; i < M; i++)
		vfree(areas[i]);
	EXPECT_EQ(t, stats_of(this_cpu_id()).shootdowns,
		  before[this_cpu_id()].shootdowns);   /* lazy: none yet */
	purged0 = vm_stats.areas_purged;
	vm_purge_lazy_now();
	vm_lazy_max_pages_override = limit;
	expect_one_round(t, "lazy purge", before);
	EXPECT_EQ(t, vm_stats.areas_purged - purged0, M);
}

/* A gather with frames but no range named: nothing says what to
 * invalidate, so every CPU must flush everything before the frames go. */
static void test_frames_without_a_range_flush_everything(struct selftest *t)
{
	uint64_t full0[MAX_CPUS];
	struct frame *f = frame_alloc(0, FRAME_KERNEL);
	struct pt_gather g;

	ASSERT_TRUE(t, f != NULL);
	for (unsigned int c = 0; c < smp_num_online(); c++)
		full0[c] = READ_ONCE(shootdown_cpu_stats[c].full_flushes);
	pt_gather_init(&g);
	pt_gather_add(&g, f);
	shootdown_flush_and_free(&g);
	for (unsigned int c = 0; c < smp_num_online(); c++) {
		uint64_t d = READ_ONCE(shootdown_cpu_stats[c].full_flushes) - full0[c];

		if (d != 1)
			selftest_fail_at(t, __FILE__, __LINE__, "CPU %u made %llu "
					 "full flushes, expected 1", c,
					 (unsigned long long)d);
	}
	EXPECT_EQ(t, f->use, FRAME_FREE);
}

static const struct selftest_case shootdown_cases[] = {
	{ "skipping_the_remote_ipi_leaves_a_stale_entry",
	  test_skipping_the_remote_ipi_leaves_a_stale_entry },
	{ "freeing_before_the_acks_exposes_a_freed_frame",
	  test_freeing_before_the_acks_exposes_a_freed_frame },
	{ "freeing_tables_under_a_cache_is_seen",
	  test_freeing_tables_under_a_cache_is_seen },
	{ "ceiling_chooses_invlpg_or_full_flush",
	  test_ceiling_chooses_invlpg_or_full_flush },
	{ "vunmap_costs_one_broadcast",
	  test_vunmap_costs_one_broadcast },
	{ "lazy_purge_of_many_areas_costs_one_broadcast",
	  test_lazy_purge_of_many_areas_costs_one_broadcast },
	{ "frames_without_a_range_flush_everything",
	  test_frames_without_a_range_flush_everything },
};
SELFTEST_SUITE(shootdown, shootdown_cases);
