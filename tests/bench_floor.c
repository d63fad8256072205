/* bench_floor.c: the floor of Linux's workload table, and the leak check
 * of the whole bench suite (tests/bench_linux.h).
 *
 * The floor is the cheapest map, touch and unmap this machine can do:
 * one PTE written into a table that already exists, one write through
 * it, the PTE cleared, one INVLPG on this CPU.  No allocation, no lock,
 * no IPI: what any vmalloc + write + vfree must cost at least.  The
 * entry is written directly, beside kpt's back, so the page stays
 * mapped in kpt's books the whole time (its table's entry count never
 * changes) and the neighbouring page keeps the table linked; teardown
 * puts the entry back and unmaps both through kpt.
 */
#include "arch/x86/arch.h"
#include "kernel/printk.h"
#include "mm/frame.h"
#include "mm/kpt.h"
#include "mm/layout.h"
#include "mm/shootdown.h"
#include "mm/vmalloc.h"
#include "tests/bench.h"
#include "tests/bench_linux.h"

/* A GiB of the selftest window no other test maps (tests/mm_kpt.c uses
 * GiBs below 600, tests/shootdown.c 900 up, shootdown_replace.c 910 up
 * to a few more). */
#define FLOOR_VA         (MM_SELFTEST_START + 960ULL * GiB)
#define FLOOR_PAGE_VA    (FLOOR_VA + PAGE_SIZE)   /* the neighbour: FLOOR_VA */

static struct frame *floor_frames;      /* two frames: neighbour, page */
static pte_t *floor_pte, floor_leaf;

bool bench_floor_setup(struct selftest *t)
{
	struct kpt_walk w;
	struct kpt_mapping m = {
		.va = FLOOR_VA, .size = 2 * PAGE_SIZE, .prot = PT_PROT_RW,
		.cache = PT_CACHE_WB, .max_page = PT_PAGE_4K,
	};

	floor_frames = frame_alloc(1, FRAME_KERNEL);
	if (!EXPECT_TRUE(t, floor_frames != NULL))
		return false;
	m.pa = frame_pa(floor_frames);
	if (!EXPECT_EQ(t, kpt_map(&m, KPT_MAP_NEW, NULL), 0) ||
	    !EXPECT_EQ(t, kpt_walk(FLOOR_PAGE_VA, &w), 0) ||
	    !EXPECT_EQ(t, w.level, PT_LEVEL_PTE)) {
		frame_free(floor_frames, FRAME_KERNEL);
		floor_frames = NULL;
		return false;
	}
	floor_pte = w.entry;
	floor_leaf = w.value;
	return true;
}

void bench_floor_once(void)
{
	WRITE_ONCE(*floor_pte, floor_leaf);
	*(volatile uint64_t *)FLOOR_PAGE_VA = 1;
	WRITE_ONCE(*floor_pte, 0);
	tlb_flush_local_page(FLOOR_PAGE_VA);
}

void bench_floor_teardown(struct selftest *t)
{
	struct pt_gather g;

	if (!floor_frames)
		return;
	WRITE_ONCE(*floor_pte, floor_leaf);   /* as kpt left it */
	pt_gather_init(&g);
	EXPECT_EQ(t, kpt_unmap(FLOOR_VA, 2 * PAGE_SIZE, &g), 0);
	shootdown_flush_and_free(&g);
	frame_free(floor_frames, FRAME_KERNEL);
	floor_frames = NULL;
}

/* ---- the page-table count around the suite ---- */

static const struct {
	const char *name;
	enum frame_use use;
} levels[] = {
	{ "pte", FRAME_PT_PTE }, { "pmd", FRAME_PT_PMD },
	{ "pud", FRAME_PT_PUD }, { "pgd", FRAME_PT_PGD },
};

static uint64_t remembered[ARRAY_SIZE(levels)];
static bool was_remembered;

void bench_page_tables_remember(void)
{
	vm_purge_lazy_now();   /* what waits is not the suite's */
	for (size_t i = 0; i < ARRAY_SIZE(levels); i++)
		remembered[i] = READ_ONCE(frame_stats.frames[levels[i].use]);
	was_remembered = true;
}

void bench_page_tables_back(struct selftest *t)
{
	uint64_t now[ARRAY_SIZE(levels)];
	bool back = true;

	ASSERT_TRUE(t, was_remembered);   /* the case facts remembers */
	vm_purge_lazy_now();
	for (size_t i = 0; i < ARRAY_SIZE(levels); i++) {
		now[i] = READ_ONCE(frame_stats.frames[levels[i].use]);
		back &= now[i] == remembered[i];
		bench_figuref(remembered[i] * BENCH_MILLI, "pages", "pt_live.%s.before",
			      levels[i].name);
		bench_figuref(now[i] * BENCH_MILLI, "pages", "pt_live.%s.after",
			      levels[i].name);
	}
	selftest_diag(t, "page tables live, pte/pmd/pud/pgd: %llu/%llu/%llu/%llu "
		      "after the bench, %llu/%llu/%llu/%llu before it: %s",
		      (unsigned long long)now[0], (unsigned long long)now[1],
		      (unsigned long long)now[2], (unsigned long long)now[3],
		      (unsigned long long)remembered[0], (unsigned long long)remembered[1],
		      (unsigned long long)remembered[2], (unsigned long long)remembered[3],
		      back ? "back" : "NOT back (a leak)");
	for (size_t i = 0; i < ARRAY_SIZE(levels); i++)
		if (now[i] != remembered[i])
			selftest_fail_at(t, __FILE__, __LINE__,
				"%s tables: %llu live after the bench, %llu before",
				levels[i].name, (unsigned long long)now[i],
				(unsigned long long)remembered[i]);
}
