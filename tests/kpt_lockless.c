/* tests/kpt_lockless.c: kpt_map()'s short way maps 4 KiB pages into a
 * PTE table without kpt.lock, racing a purge's reclaim that may unlink
 * that table (mm/kpt_internal.h).  Its two guards, each with its
 * negative control (kpt_selftest_fault):
 *
 *   the pin       the map adds its pages to the table's count before it
 *                 writes them, and an unlink first turns a count of 0
 *                 into DEAD: so the map either pins a linked table or
 *                 goes the long way.  Without it the page is written
 *                 into the table the purge just unlinked: lost.
 *   IRQs off      an unlinked table is freed only after a shootdown that
 *                 this CPU acknowledges from its IPI handler.  With
 *                 interrupts on, the shootdown completes while the map
 *                 is between its walk and its pin: the table it holds
 *                 is free.
 *
 * The race is made to happen every time: kpt_selftest_window runs the
 * purge's part in the window between the map's walk and its pin.
 * tools/model/ checks the same two guards over every interleaving
 * (variants lockless_no_pin and lockless_irqs_on).
 */
#include "kernel/clock.h"
#include "kernel/printk.h"
#include "mm/layout.h"
#include "mm/shootdown.h"
#include "tests/vm_common.h"

/* 4 MiB: a whole 2 MiB-aligned stretch of it, and so a whole PTE table,
 * belongs to the area alone. */
#define LOCKLESS_AREA_SIZE (4 * MiB)
/* How long the map's window waits for the other CPU's shootdown to
 * complete.  With interrupts off it never does, whatever the wait; with
 * them on (the negative control) it takes well under a millisecond
 * under TCG, so half a second only matters on a stalled host, where the
 * control would fail to show its bug rather than pass wrongly. */
#define LOCKLESS_WINDOW_WAIT_NS (500ULL * 1000000ULL)

/* One race: the table the map will walk into, and what the window saw. */
struct lockless_race {
	enum kpt_selftest_fault fault;
	virt_addr_t va;              /* the page the map maps */
	phys_addr_t pa;              /* the frame it maps there */
	struct frame *table;         /* the PTE table of va, emptied */
	struct pt_gather reclaimed;  /* where the purge's part gathers it */
	bool reclaim_asked, reclaim_done, freed;
	bool freed_in_window;        /* the table was free when the window ended */
};

static struct lockless_race *race;   /* for the window and CPU 1 */

/* The purge's part: unlink the emptied table (it becomes DEAD) onto the
 * race's gather.  The shootdown that frees it is the caller's. */
static void reclaim_the_table(struct lockless_race *r)
{
	pt_gather_init(&r->reclaimed);
	kpt_reclaim_empty_tables(ALIGN_DOWN(r->va, 2 * MiB), 2 * MiB,
				 &r->reclaimed);
}

/* Set an area up: its table emptied (kpt_unmap_leaves leaves it linked,
 * count 0), the page and frame to map again remembered. */
static char *race_setup(struct selftest *t, struct lockless_race *r)
{
	struct kpt_walk w = { 0 };
	struct pt_gather g;
	char *p;

	vm_purge_lazy_now();
	p = vmalloc(LOCKLESS_AREA_SIZE);
	if (!EXPECT_TRUE(t, p != NULL))
		return NULL;
	r->va = ALIGN_UP((virt_addr_t)p, 2 * MiB);
	if (!EXPECT_EQ(t, kpt_walk(r->va, &w), 0)) {
		vfree(p);
		return NULL;
	}
	r->pa = w.pa;
	r->table = frame_of(virt_to_phys(w.entry) & ~(PAGE_SIZE - 1));
	pt_gather_init(&g);
	EXPECT_EQ(t, kpt_unmap_leaves(r->va, 2 * MiB, &g), 0);
	shootdown_flush_and_free(&g);
	EXPECT_EQ(t, r->table->entries, 0);
	return p;
}

/* Map r->va again (the short way finds the emptied table), then check
 * where the page went.  Returns whether the page is mapped, to r->pa. */
static bool race_map(struct selftest *t, struct lockless_race *r)
{
	struct kpt_mapping m = {
		.va = r->va, .pa = r->pa, .size = PAGE_SIZE, .prot = PT_PROT_RW,
		.cache = PT_CACHE_WB, .max_page = PT_PAGE_4K,
	};
	struct kpt_walk w = { 0 };
	struct pt_gather g;
	int err, walk_err;

	pt_gather_init(&g);
	kpt_selftest_fault = r->fault;
	err = kpt_map(&m, KPT_MAP_NEW, &g);
	kpt_selftest_fault = KPT_SAFE;
	kpt_selftest_window = NULL;
	walk_err = kpt_walk(r->va, &w);
	selftest_diag(t, "%s: kpt_map %d; kpt_walk %#llx: %s, pa %#llx, in table "
		      "%#llx (the emptied table was %#llx, now %s%s)",
		      r->fault == KPT_SAFE ? "safe" : r->fault == KPT_FAULT_NO_PIN ?
		      "no pin" : "irqs on", err, (unsigned long long)r->va,
		      walk_err ? "not mapped" : "mapped",
		      (unsigned long long)(walk_err ? 0 : w.pa),
		      (unsigned long long)(virt_to_phys(w.entry) & ~(PAGE_SIZE - 1)),
		      (unsigned long long)frame_pa(r->table),
		      frame_use_name((enum frame_use)r->table->use),
		      r->table->flags & FRAME_F_LINKED ? ", linked" : "");
	return err == 0 && walk_err == 0 && w.pa == r->pa;
}

/* Take the page out again and give the area back. */
static void race_teardown(struct lockless_race *r, char *p)
{
	struct pt_gather g;

	pt_gather_init(&g);
	kpt_unmap_leaves(r->va, PAGE_SIZE, &g);
	shootdown_flush_and_free(&g);
	vfree(p);
	vm_purge_lazy_now();
}

/* ---- the pin ---- */

static void reclaim_in_window(virt_addr_t va)
{
	(void)va;
	reclaim_the_table(race);
}

/* Does the page survive a reclaim of its table in the map's window? */
static bool page_survives_reclaim(struct selftest *t, enum kpt_selftest_fault fault)
{
	struct lockless_race r = { .fault = fault };
	char *p = race_setup(t, &r);
	bool mapped;

	if (!p)
		return false;
	race = &r;
	kpt_selftest_window = reclaim_in_window;
	mapped = race_map(t, &r);
	shootdown_flush_and_free(&r.reclaimed);   /* the purge's shootdown */
	race = NULL;
	race_teardown(&r, p);
	return mapped;
}

static void test_a_pinned_table_is_never_unlinked_under_a_map(struct selftest *t)
{
	EXPECT_TRUE(t, page_survives_reclaim(t, KPT_SAFE));
	/* Negative control: the page goes into the unlinked table. */
	EXPECT_TRUE(t, !page_survives_reclaim(t, KPT_FAULT_NO_PIN));
}

/* ---- interrupts off ---- */

/* In the map's window on CPU 0: let CPU 1 reclaim the table and shoot
 * down, and wait (bounded) for that shootdown to free it.  Then, if it
 * was freed (the negative control), make the freed frame's count DEAD so
 * that the map goes the long way instead of writing into a free frame. */
static void purge_elsewhere_in_window(virt_addr_t va)
{
	uint64_t until = clock_ns() + LOCKLESS_WINDOW_WAIT_NS;

	(void)va;
	WRITE_ONCE(race->reclaim_asked, true);
	while (!READ_ONCE(race->reclaim_done))
		cpu_relax();
	while (!READ_ONCE(race->freed) && clock_ns() < until)
		cpu_relax();
	race->freed_in_window = race->table->use == FRAME_FREE;
	if (race->freed_in_window)
		race->table->entries = KPT_TABLE_DEAD;
}

static void purge_elsewhere_body(struct selftest *t, unsigned int cpu, void *arg)
{
	struct lockless_race *r = arg;

	if (cpu == 0) {
		kpt_selftest_window = purge_elsewhere_in_window;
		EXPECT_TRUE(t, race_map(t, r));
	} else if (cpu == 1) {
		while (!READ_ONCE(r->reclaim_asked))
			cpu_relax();
		reclaim_the_table(r);
		WRITE_ONCE(r->reclaim_done, true);
		shootdown_flush_and_free(&r->reclaimed);   /* needs CPU 0's ack */
		WRITE_ONCE(r->freed, true);
	}
}

/* Was the table freed while the map held it between walk and pin? */
static bool table_freed_under_the_map(struct selftest *t,
				      enum kpt_selftest_fault fault)
{
	struct lockless_race r = { .fault = fault };
	char *p = race_setup(t, &r);

	if (!p)
		return false;
	race = &r;
	selftest_run_on_all_cpus(t, purge_elsewhere_body, &r);
	race = NULL;
	if (r.freed_in_window && r.table->use == FRAME_FREE)
		r.table->entries = 0;   /* as the allocator left it */
	selftest_diag(t, "%s: the emptied table %#llx was %s when the map's "
		      "window ended", fault == KPT_SAFE ? "safe" : "irqs on",
		      (unsigned long long)frame_pa(r.table),
		      r.freed_in_window ? "FREE" : "still allocated");
	race_teardown(&r, p);
	return r.freed_in_window;
}

static void test_a_table_is_not_freed_under_a_map_with_irqs_off(struct selftest *t)
{
	if (!vm_need_two_cpus(t))
		return;
	EXPECT_TRUE(t, !table_freed_under_the_map(t, KPT_SAFE));
	/* Negative control: CPU 0 acknowledges inside its window. */
	EXPECT_TRUE(t, table_freed_under_the_map(t, KPT_FAULT_IRQS_ON));
}

static const struct selftest_case kpt_lockless_cases[] = {
	{ "a_pinned_table_is_never_unlinked_under_a_map",
	  test_a_pinned_table_is_never_unlinked_under_a_map },
	{ "a_table_is_not_freed_under_a_map_with_irqs_off",
	  test_a_table_is_not_freed_under_a_map_with_irqs_off },
};
SELFTEST_SUITE(kpt_lockless, kpt_lockless_cases);
