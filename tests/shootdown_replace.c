/* tests/shootdown_replace.c: a 2 MiB ioremap over a range mapped with
 * 4 KiB pages unlinks the old PTE table and frees it only after the
 * shootdown; the old translations are gone on every CPU; a subscribed
 * translation cache is told after every CPU acknowledged and before the
 * table is freed.  And the negative control: with no flush at all, the
 * CPUs keep reading the old 4 KiB pages.  Also: shootdown_subscribe()'s
 * bad input, and the spurious-fault decision (kpt_fault_is_spurious(),
 * table-driven: TCG never raises such a fault). */
#include "arch/x86/arch.h"
#include "kernel/printk.h"
#include "mm/layout.h"
#include "tests/vm_common.h"

#define REPLACE_VA(n)   (MM_SELFTEST_START + (910ULL + (n)) * GiB)
#define REPLACE_PAGES   4
#define DEVICE_HOLE_PA  GiB   /* no RAM, no device below 4 GiB: reads ~0 */

/* What replaces the 4 KiB pages: one 2 MiB page frees their PTE table;
 * one 1 GiB page (where the CPU has them) frees the PMD table and the
 * PTE table below it. */
struct replacement {
	const char *name;
	uint64_t size;
	enum pt_level level;
	uint64_t tables_freed;
};
static const struct replacement replace_2m = { "2 MiB", 2 * MiB, PT_LEVEL_PMD, 1 };
static const struct replacement replace_1g = { "1 GiB", GiB, PT_LEVEL_PUD, 2 };

/* A model of a device TLB (seed 003) that checks, when told to drop a
 * range, that every CPU has acknowledged and the old table is not yet
 * free; and, since it is called in the middle of the shootdown, whether
 * the new mapping is already in the tables (break before make: it must
 * not be, while CPUs may still hold the old 4 KiB translations). */
struct device_tlb_model {
	struct shootdown_subscriber sub;
	struct frame *watched_table;
	uint64_t ipis_before[MAX_CPUS];
	bool armed;                  /* record the next call only */
	unsigned int calls;
	bool table_still_gathered;
	bool every_cpu_had_acked;
	uint64_t pt_pages;           /* what the request said */
	virt_addr_t va;              /* the replaced range's start */
	bool new_mapping_visible;    /* kpt_walk(va) found a leaf */
};

static void device_tlb_invalidate(struct shootdown_subscriber *s,
				  const struct shootdown_request *req)
{
	struct device_tlb_model *m = (struct device_tlb_model *)s;
	unsigned int self = this_cpu_id();

	if (!m->armed)
		return;
	m->armed = false;
	m->calls++;
	m->pt_pages = req->pt_pages;
	m->new_mapping_visible = kpt_walk(m->va, &(struct kpt_walk){ 0 }) == 0;
	m->table_still_gathered = m->watched_table->use == FRAME_PT_PTE &&
				  (m->watched_table->flags & FRAME_F_GATHERED);
	m->every_cpu_had_acked = true;
	for (unsigned int c = 0; c < smp_num_online(); c++)
		if (c != self && shootdown_cpu_stats[c].ipis_received ==
				 m->ipis_before[c])
			m->every_cpu_had_acked = false;
}

struct replace_probe {
	virt_addr_t va;
	uint64_t seed;
	uint64_t stale_cpus;       /* bit per CPU that still read the old pages */
};

static void replace_probe_body(struct selftest *t, unsigned int cpu, void *arg)
{
	struct replace_probe *p = arg;
	bool stale = false;

	(void)t;
	for (unsigned int i = 0; i < REPLACE_PAGES; i++) {
		uint64_t v = 0;

		if (probe_read_u64((const void *)(p->va + i * PAGE_SIZE), &v) == 0 &&
		    v == vm_pattern(p->seed, i))
			stale = true;
	}
	if (stale)
		__atomic_or_fetch(&p->stale_cpus, 1ULL << cpu, __ATOMIC_RELAXED);
}

/* How many CPUs @mask names. */
static unsigned int cpus_in(uint64_t mask)
{
	unsigned int n = 0;

	for (; mask; mask &= mask - 1)
		n++;
	return n;
}

/* Map REPLACE_PAGES frames with 4 KiB pages at @va, let every CPU read
 * them, then replace the 2 MiB around them with one device page.
 * Returns the mask of CPUs that still read the old pages afterwards. */
static uint64_t replace_and_count_stale(struct selftest *t, virt_addr_t va,
					    const struct replacement *r,
					    enum shootdown_selftest_fault fault,
					    struct device_tlb_model *model)
{
	struct frame *frames[REPLACE_PAGES] = { 0 };
	struct vm_probe before = { (void *)va, REPLACE_PAGES, va, VM_EXPECT_PATTERN };
	struct replace_probe after = { va, va, 0 };
	uint64_t freed0 = shootdown_cpu_stats[this_cpu_id()].pt_pages_freed;
	struct kpt_walk w;
	struct pt_gather g;

	for (unsigned int i = 0; i < REPLACE_PAGES; i++) {
		struct kpt_mapping m = {
			.va = va + i * PAGE_SIZE, .pa = 0, .size = PAGE_SIZE,
			.prot = PT_PROT_RW, .cache = PT_CACHE_WB,
			.max_page = PT_PAGE_4K,
		};

		frames[i] = frame_alloc(0, FRAME_KERNEL);
		if (!EXPECT_TRUE(t, frames[i] != NULL))
			goto out;
		*(uint64_t *)frame_virt(frames[i]) = vm_pattern(va, i);
		m.pa = frame_pa(frames[i]);
		if (!EXPECT_EQ(t, kpt_map(&m, KPT_MAP_NEW, NULL), 0))
			goto out;
	}
	vm_probe_on_all_cpus(t, &before);            /* every TLB holds them */
	EXPECT_EQ(t, kpt_walk(va, &w), 0);
	model->watched_table = frame_of(virt_to_phys(w.entry) & ~(FRAME_SIZE - 1));
	for (unsigned int c = 0; c < smp_num_online(); c++)
		model->ipis_before[c] = shootdown_cpu_stats[c].ipis_received;

	model->armed = true;
	model->va = va;
	shootdown_selftest_fault = fault;
	EXPECT_EQ(t, ioremap_replace_at(va, DEVICE_HOLE_PA, r->size, PT_CACHE_UC), 0);
	shootdown_selftest_fault = SHOOTDOWN_SAFE;
	EXPECT_EQ(t, kpt_walk(va, &w), 0);
	EXPECT_EQ(t, w.level, r->level);
	EXPECT_EQ(t, model->watched_table->use, FRAME_FREE);
	EXPECT_EQ(t, shootdown_cpu_stats[this_cpu_id()].pt_pages_freed - freed0,
		  r->tables_freed);
	selftest_run_on_all_cpus(t, replace_probe_body, &after);
out:
	selftest_flush_every_tlb();   /* forget any stale entry */
	pt_gather_init(&g);
	kpt_unmap(va, r->size, &g);
	shootdown_flush_and_free(&g);
	for (unsigned int i = 0; i < REPLACE_PAGES; i++)
		if (frames[i])
			frame_free(frames[i], FRAME_KERNEL);
	return after.stale_cpus;
}

static void test_huge_replace_frees_old_table_after_flush(struct selftest *t)
{
	struct device_tlb_model model = { .sub = { "device TLB model",
						   device_tlb_invalidate, NULL } };
	uint64_t online_mask = (1ULL << smp_num_online()) - 1;   /* ids are dense */
	uint64_t stale, others;

	if (frame_count * FRAME_SIZE > GiB) {
		selftest_skip(t, "more than 1 GiB of RAM: no device hole at 1 GiB");
		return;
	}
	ASSERT_EQ(t, shootdown_subscribe(&model.sub), 0);

	/* The bug is visible: every other CPU, idle between the two probes,
	 * still reads the old pages.  This CPU does the replacement's work
	 * in between, and QEMU's TLB is direct-mapped with a small victim
	 * cache: it may evict its own entry (seen once in five `make test`
	 * runs, at uefi -smp 8), so it is shown, not required. */
	stale = replace_and_count_stale(t, REPLACE_VA(0), &replace_2m,
					SHOOTDOWN_FAULT_SKIP_ALL, &model);
	others = online_mask & ~(1ULL << this_cpu_id());
	selftest_diag(t, "no flush: %u of %u CPUs still read the old 4 KiB pages "
		      "(this CPU %s)", cpus_in(stale), smp_num_online(),
		      stale >> this_cpu_id() & 1 ? "too" : "not: it evicted its entry");
	EXPECT_EQ(t, stale & others, others);

	for (int i = 0; i < 2; i++) {
		const struct replacement *r = i == 0 ? &replace_2m : &replace_1g;

		if (r->level == PT_LEVEL_PUD && !cpu_features.gbpages)
			continue;
		model.calls = 0;
		model.table_still_gathered = model.every_cpu_had_acked = false;
		stale = replace_and_count_stale(t, REPLACE_VA(1 + i), r,
						SHOOTDOWN_SAFE, &model);
		selftest_diag(t, "%s page with the shootdown: %u CPUs read the old "
			      "pages", r->name, cpus_in(stale));
		EXPECT_EQ(t, stale, 0);
		EXPECT_EQ(t, model.calls, 1);
		EXPECT_TRUE(t, model.table_still_gathered);   /* told before the free */
		EXPECT_TRUE(t, model.every_cpu_had_acked);    /* and after the acks */
		EXPECT_EQ(t, model.pt_pages, r->tables_freed); /* and of the tables */
		EXPECT_TRUE(t, !model.new_mapping_visible);   /* break, then make */
	}
	shootdown_unsubscribe(&model.sub);
}

/* Break before make, and its negative control: replaced with one store
 * per entry, the new 2 MiB leaf is in the tables while the shootdown
 * still runs, so a CPU could hold the old 4 KiB translations and the new
 * one at once; broken first, the tables say "not mapped" until the old
 * tables are gone. */
static void test_huge_replace_breaks_before_make(struct selftest *t)
{
	struct device_tlb_model model = { .sub = { "device TLB model",
						   device_tlb_invalidate, NULL } };

	if (frame_count * FRAME_SIZE > GiB) {
		selftest_skip(t, "more than 1 GiB of RAM: no device hole at 1 GiB");
		return;
	}
	ASSERT_EQ(t, shootdown_subscribe(&model.sub), 0);
	WRITE_ONCE(ioremap_selftest_replace_in_one_store, true);
	replace_and_count_stale(t, REPLACE_VA(4), &replace_2m, SHOOTDOWN_SAFE, &model);
	WRITE_ONCE(ioremap_selftest_replace_in_one_store, false);
	selftest_diag(t, "one store: the new leaf %s visible during the shootdown",
		      model.new_mapping_visible ? "was" : "was not");
	EXPECT_TRUE(t, model.new_mapping_visible);     /* the hazard is visible */

	replace_and_count_stale(t, REPLACE_VA(5), &replace_2m, SHOOTDOWN_SAFE, &model);
	selftest_diag(t, "break before make: the new leaf %s visible during the "
		      "shootdown", model.new_mapping_visible ? "was" : "was not");
	EXPECT_TRUE(t, !model.new_mapping_visible);
	EXPECT_EQ(t, model.pt_pages, replace_2m.tables_freed);
	shootdown_unsubscribe(&model.sub);
}

static void ignore_invalidation(struct shootdown_subscriber *s,
				const struct shootdown_request *req)
{
	(void)s, (void)req;
}

static void test_subscribe_refuses_bad_input(struct selftest *t)
{
	struct shootdown_subscriber no_callback = { "no callback", NULL, NULL };
	struct shootdown_subscriber ok = { "twice", ignore_invalidation, NULL };

	EXPECT_EQ(t, shootdown_subscribe(NULL), -EINVAL);
	EXPECT_EQ(t, shootdown_subscribe(&no_callback), -EINVAL);
	EXPECT_TRUE(t, printk_last_contains("has no callback"));
	EXPECT_EQ(t, shootdown_subscribe(&ok), 0);
	EXPECT_EQ(t, shootdown_subscribe(&ok), -EINVAL);
	EXPECT_TRUE(t, printk_last_contains("already subscribed"));
	shootdown_unsubscribe(&ok);
}

/* The spurious-fault decision (mm/kpt.h): a fault is spurious only
 * where the tables in memory allow the access.  TCG never raises one
 * (it re-walks before faulting), so the decision is tested directly. */
static const struct {
	const char *name;
	unsigned int page;          /* 0: read-write, 1: read-only, 2: hole */
	enum kpt_access access;
	bool spurious;
} spurious_cases[] = {
	{ "read of a rw page",       0, KPT_ACCESS_READ,  true },
	{ "write of a rw page",      0, KPT_ACCESS_WRITE, true },
	{ "exec of an nx page",      0, KPT_ACCESS_EXEC,  false },
	{ "read of a ro page",       1, KPT_ACCESS_READ,  true },
	{ "write of a ro page",      1, KPT_ACCESS_WRITE, false },
	{ "read of a hole",          2, KPT_ACCESS_READ,  false },
};

static void test_spurious_fault_decision(struct selftest *t)
{
	virt_addr_t va = REPLACE_VA(3);
	struct kpt_mapping rw = {
		.va = va, .pa = VM_TEST_SCRATCH_PA, .size = PAGE_SIZE,
		.prot = PT_PROT_RW, .cache = PT_CACHE_WB, .max_page = PT_PAGE_4K,
	};
	struct kpt_mapping ro = {
		.va = va + PAGE_SIZE, .pa = VM_TEST_SCRATCH_PA, .size = PAGE_SIZE,
		.prot = PT_PROT_RO, .cache = PT_CACHE_WB, .max_page = PT_PAGE_4K,
	};
	uint64_t counted = kpt.stats.spurious_faults, expected = 0;
	struct pt_gather g;

	ASSERT_EQ(t, kpt_map(&rw, KPT_MAP_NEW, NULL), 0);
	ASSERT_EQ(t, kpt_map(&ro, KPT_MAP_NEW, NULL), 0);
	for (size_t i = 0; i < ARRAY_SIZE(spurious_cases); i++) {
		bool got = kpt_fault_is_spurious(va + spurious_cases[i].page * PAGE_SIZE,
						 spurious_cases[i].access);

		expected += spurious_cases[i].spurious;
		if (got != spurious_cases[i].spurious)
			selftest_fail_at(t, __FILE__, __LINE__, "%s: spurious is %d, "
					 "expected %d", spurious_cases[i].name, got,
					 spurious_cases[i].spurious);
	}
	EXPECT_TRUE(t, !kpt_fault_is_spurious(0x1000, KPT_ACCESS_READ));   /* user half */
	EXPECT_EQ(t, kpt.stats.spurious_faults - counted, expected);
	pt_gather_init(&g);
	kpt_unmap(va, 2 * PAGE_SIZE, &g);
	shootdown_flush_and_free(&g);
}

static const struct selftest_case shootdown_replace_cases[] = {
	{ "spurious_fault_decision", test_spurious_fault_decision },
	{ "huge_replace_frees_old_table_after_flush",
	  test_huge_replace_frees_old_table_after_flush },
	{ "huge_replace_breaks_before_make", test_huge_replace_breaks_before_make },
	{ "subscribe_refuses_bad_input", test_subscribe_refuses_bad_input },
};
SELFTEST_SUITE(shootdown_replace, shootdown_replace_cases);
