/* test_kpt.c: host-only page-table tests: the ones that break an
 * invariant on purpose (and must panic), or change the CPU's features. */
#include <string.h>

#include "arch/x86/arch.h"
#include "kernel/extable.h"
#include "mm/kpt_internal.h"
#include "mm/shootdown.h"
#include "tests/host/host_env.h"

#define VA(gib) (MM_SELFTEST_START + (uint64_t)(gib) * GiB)

static int map_4k(virt_addr_t va, phys_addr_t pa, uint64_t size)
{
	return kpt_map(&(struct kpt_mapping){ .va = va, .pa = pa, .size = size,
			.prot = PT_PROT_RW, .cache = PT_CACHE_WB,
			.max_page = PT_PAGE_4K }, KPT_MAP_NEW, NULL);
}

static int unmap_now(virt_addr_t va, uint64_t size)
{
	struct pt_gather g;
	int err;

	pt_gather_init(&g);
	err = kpt_unmap(va, size, &g);
	shootdown_flush_and_free(&g);
	return err;
}

/* The entry for @va at @level, read straight from the tables. */
static pte_t *raw_entry(virt_addr_t va, enum pt_level level)
{
	phys_addr_t table = kpt.root;

	for (enum pt_level l = PT_LEVEL_PGD; l > level; l--)
		table = pte_table_addr(((pte_t *)phys_to_virt(table))[pt_index(va, l)]);
	return &((pte_t *)phys_to_virt(table))[pt_index(va, level)];
}

/* A stale pointer to a freed table, as a CPU's paging-structure cache
 * would hold after an unmap without a flush: our walk must refuse it. */
static void test_walk_into_freed_table_panics(struct selftest *t)
{
	virt_addr_t va = VA(1);
	struct kpt_walk w;
	pmd_t *pmd_entry, stale;

	ASSERT_EQ(t, map_4k(va, 0x400000, PAGE_SIZE), 0);
	ASSERT_EQ(t, map_4k(va + PMD_SIZE, 0x400000, PAGE_SIZE), 0); /* keeps the pmd */
	pmd_entry = raw_entry(va, PT_LEVEL_PMD);
	stale = *pmd_entry;
	ASSERT_EQ(t, unmap_now(va, PAGE_SIZE), 0);         /* frees the PTE table */
	EXPECT_EQ(t, *pmd_entry, 0);
	EXPECT_EQ(t, frame_of(pte_table_addr(stale))->use, FRAME_FREE);
	*pmd_entry = stale;                                 /* the bug */
	EXPECT_PANIC(t, kpt_walk(va, &w), "recorded as free");
	host_mm_boot_default();
}

/* The same, after the frame was handed out again for something else. */
static void test_walk_into_reused_table_panics(struct selftest *t)
{
	virt_addr_t va = VA(1);
	pte_t stale;

	ASSERT_EQ(t, map_4k(va, 0x400000, PAGE_SIZE), 0);
	stale = *raw_entry(va, PT_LEVEL_PGD);
	ASSERT_EQ(t, unmap_now(va, PAGE_SIZE), 0);   /* frees PTE, PMD, PUD */
	EXPECT_EQ(t, kpt.stats.tables_linked[PT_LEVEL_PUD], 0);
	/* Allocate until the old PUD table's frame comes back as data. */
	for (int i = 0; i < 64; i++)
		if (frame_pa(frame_alloc(0, FRAME_VMALLOC)) == pte_table_addr(stale))
			break;
	ASSERT_EQ(t, frame_of(pte_table_addr(stale))->use, FRAME_VMALLOC);
	*raw_entry(va, PT_LEVEL_PGD) = stale;
	EXPECT_PANIC(t, map_4k(va, 0x400000, PAGE_SIZE), "recorded as vmalloc data");
	host_mm_boot_default();
}

/* Replacing 4 KiB pages by one 1 GiB page: the PMD table and both PTE
 * tables go on the gather, and nothing writes into them until the flush
 * (another CPU may still walk them). */
static void test_replace_gathers_subtree_untouched(struct selftest *t)
{
	virt_addr_t va = VA(2);
	uint64_t ptes_live = frame_stats.frames[FRAME_PT_PTE];
	uint64_t pmds_live = frame_stats.frames[FRAME_PT_PMD];
	static uint8_t before[FRAME_SIZE];
	struct pt_gather g;
	struct kpt_walk w;
	void *pte_table;

	ASSERT_EQ(t, map_4k(va, 0x400000, 2 * PAGE_SIZE), 0);
	ASSERT_EQ(t, map_4k(va + 5 * PMD_SIZE, 0x400000, PAGE_SIZE), 0);
	ASSERT_EQ(t, kpt_walk(va, &w), 0);
	pte_table = (void *)ALIGN_DOWN((uintptr_t)w.entry, FRAME_SIZE);
	memcpy(before, pte_table, FRAME_SIZE);

	pt_gather_init(&g);
	ASSERT_EQ(t, kpt_map(&(struct kpt_mapping){ .va = va, .pa = 1 * GiB,
			.size = GiB, .prot = PT_PROT_RO, .cache = PT_CACHE_WB,
			.max_page = PT_PAGE_1G }, KPT_MAP_REPLACE, &g), 0);
	EXPECT_EQ(t, g.nr_frames, 3);
	EXPECT_EQ(t, g.stale_start, va);
	EXPECT_EQ(t, g.stale_end, va + GiB);
	EXPECT_EQ(t, memcmp(before, pte_table, FRAME_SIZE), 0);
	ASSERT_EQ(t, kpt_walk(va + 5 * PMD_SIZE, &w), 0);
	EXPECT_EQ(t, w.level, PT_LEVEL_PUD);
	EXPECT_EQ(t, w.pa, 1 * GiB + 5 * PMD_SIZE);
	EXPECT_EQ(t, frame_stats.frames[FRAME_PT_PTE], ptes_live + 2);  /* not yet freed */
	shootdown_flush_and_free(&g);
	EXPECT_EQ(t, frame_stats.frames[FRAME_PT_PTE], ptes_live);
	EXPECT_EQ(t, frame_stats.frames[FRAME_PT_PMD], pmds_live);
	EXPECT_EQ(t, ((uint64_t *)pte_table)[0], 0x6b6b6b6b6b6b6b6bULL);  /* poisoned at free */
	EXPECT_EQ(t, unmap_now(va, GiB), 0);
}

/* The other way: a 2 MiB page replaced by 4 KiB pages needs a new table. */
static void test_replace_huge_by_small(struct selftest *t)
{
	virt_addr_t va = VA(3);
	struct pt_gather g;
	struct kpt_walk w;

	ASSERT_EQ(t, kpt_map(&(struct kpt_mapping){ .va = va, .pa = 0x400000,
			.size = PMD_SIZE, .prot = PT_PROT_RW, .cache = PT_CACHE_WB,
			.max_page = PT_PAGE_2M }, KPT_MAP_NEW, NULL), 0);
	pt_gather_init(&g);
	ASSERT_EQ(t, kpt_map(&(struct kpt_mapping){ .va = va, .pa = 0x800000,
			.size = PMD_SIZE, .prot = PT_PROT_RO, .cache = PT_CACHE_UC,
			.max_page = PT_PAGE_4K }, KPT_MAP_REPLACE, &g), 0);
	EXPECT_EQ(t, g.nr_frames, 0);
	ASSERT_EQ(t, kpt_walk(va + 7 * PAGE_SIZE, &w), 0);
	EXPECT_EQ(t, w.level, PT_LEVEL_PTE);
	EXPECT_EQ(t, w.pa, 0x800000 + 7 * PAGE_SIZE);
	EXPECT_EQ(t, w.value & (PTE_PCD | PTE_PWT), PTE_CACHE_UC);
	shootdown_flush_and_free(&g);
	EXPECT_EQ(t, unmap_now(va, PMD_SIZE), 0);
}

static void test_no_gbpages_fallback(struct selftest *t)
{
	struct kpt_walk w;
	uint64_t pmds = frame_stats.frames[FRAME_PT_PMD];

	cpu_features.gbpages = false;
	ASSERT_EQ(t, kpt_map(&(struct kpt_mapping){ .va = VA(4), .pa = GiB,
			.size = GiB, .prot = PT_PROT_RO, .cache = PT_CACHE_WB,
			.max_page = PT_PAGE_1G }, KPT_MAP_NEW, NULL), 0);
	ASSERT_EQ(t, kpt_walk(VA(4) + GiB - 1, &w), 0);
	EXPECT_EQ(t, w.level, PT_LEVEL_PMD);
	EXPECT_EQ(t, w.pa, 2 * GiB - 1);
	EXPECT_EQ(t, frame_stats.frames[FRAME_PT_PMD], pmds + 1);
	EXPECT_EQ(t, unmap_now(VA(4), GiB), 0);
	host_cpu_features_default();
}

/* Without NX the bit is reserved, without PAT index 1 is write-through:
 * neither may appear.  G never does, PGE or not: a full flush is a CR3
 * reload, which global entries would survive (arch/x86/tlb.c). */
static void test_features_shape_bits(struct selftest *t)
{
	struct kpt_walk w;

	cpu_features.nx = false;
	cpu_features.pat = false;
	cpu_features.pge = false;
	ASSERT_EQ(t, kpt_map(&(struct kpt_mapping){ .va = VA(5), .pa = 0x400000,
			.size = PAGE_SIZE, .prot = PT_PROT_RO, .cache = PT_CACHE_WC,
			.max_page = PT_PAGE_4K }, KPT_MAP_NEW, NULL), 0);
	ASSERT_EQ(t, kpt_walk(VA(5), &w), 0);
	EXPECT_EQ(t, w.value & (PTE_NX | PTE_G), 0);
	EXPECT_EQ(t, w.value & (PTE_PCD | PTE_PWT), PTE_CACHE_UC);
	EXPECT_EQ(t, w.value & (PTE_A | PTE_D | PTE_P), PTE_A | PTE_D | PTE_P);
	EXPECT_EQ(t, unmap_now(VA(5), PAGE_SIZE), 0);
	host_cpu_features_default();
	ASSERT_EQ(t, kpt_map(&(struct kpt_mapping){ .va = VA(5), .pa = 0x400000,
			.size = PAGE_SIZE, .prot = PT_PROT_RO, .cache = PT_CACHE_WC,
			.max_page = PT_PAGE_4K }, KPT_MAP_NEW, NULL), 0);
	ASSERT_EQ(t, kpt_walk(VA(5), &w), 0);
	EXPECT_EQ(t, w.value & (PTE_PCD | PTE_PWT), PTE_CACHE_WC);
	EXPECT_EQ(t, w.value & (PTE_NX | PTE_G), PTE_NX);
	EXPECT_EQ(t, unmap_now(VA(5), PAGE_SIZE), 0);
}

/* The last 2 MiB of the address space: end wraps to 0. */
static void test_top_of_address_space(struct selftest *t)
{
	virt_addr_t va = 0xffffffffffe00000ULL;
	struct kpt_walk w;

	ASSERT_EQ(t, kpt_map(&(struct kpt_mapping){ .va = va, .pa = 0x400000,
			.size = PMD_SIZE, .prot = PT_PROT_RO, .cache = PT_CACHE_WB,
			.max_page = PT_PAGE_4K }, KPT_MAP_NEW, NULL), 0);
	ASSERT_EQ(t, kpt_walk(0xfffffffffffff000ULL, &w), 0);
	EXPECT_EQ(t, w.pa, 0x5ff000);
	EXPECT_EQ(t, unmap_now(va, PMD_SIZE), 0);
	EXPECT_EQ(t, kpt.stats.tables_linked[PT_LEVEL_PUD], 0);
}

/* A table allocated from a poisoned frame must be all zeroes, except
 * what the map put there, before it is linked. */
static void test_new_tables_zeroed(struct selftest *t)
{
	virt_addr_t va = VA(6) + 3 * PAGE_SIZE;
	struct frame *f[8];
	struct kpt_walk w;
	const pte_t *table;
	unsigned int present = 0;

	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		f[i] = frame_alloc(0, FRAME_KERNEL);
	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		frame_free(f[i], FRAME_KERNEL);      /* poisoned, reused next */
	ASSERT_EQ(t, map_4k(va, 0x400000, PAGE_SIZE), 0);
	ASSERT_EQ(t, kpt_walk(va, &w), 0);
	table = (const pte_t *)ALIGN_DOWN((uintptr_t)w.entry, FRAME_SIZE);
	for (unsigned int i = 0; i < PT_ENTRIES; i++) {
		if (table[i] != 0 && i != pte_index(va))
			selftest_fail_at(t, __FILE__, __LINE__, "entry %u is %#llx",
					 i, (unsigned long long)table[i]);
		present += table[i] != 0;
	}
	EXPECT_EQ(t, present, 1);
	EXPECT_EQ(t, frame_of(virt_to_phys(table))->entries, 1);
	EXPECT_EQ(t, unmap_now(va, PAGE_SIZE), 0);
}

static void test_gather_of_linked_table_panics(struct selftest *t)
{
	struct pt_gather g;

	pt_gather_init(&g);
	EXPECT_PANIC(t, pt_gather_add(&g, frame_of(kpt.root)), "still linked");
	host_mm_boot_default();
}

/* Unmapping 4 KiB from a range of 4 KiB pages leaves its neighbours, and
 * the table stays until its last entry goes. */
static void test_partial_unmap_keeps_table(struct selftest *t)
{
	virt_addr_t va = VA(7);
	uint64_t ptes = kpt.stats.tables_linked[PT_LEVEL_PTE];
	struct kpt_walk w;

	ASSERT_EQ(t, map_4k(va, 0x400000, 3 * PAGE_SIZE), 0);
	EXPECT_EQ(t, unmap_now(va + PAGE_SIZE, PAGE_SIZE), 0);
	EXPECT_EQ(t, kpt_walk(va, &w), 0);
	EXPECT_EQ(t, kpt_walk(va + PAGE_SIZE, &w), -ENOENT);
	EXPECT_EQ(t, w.level, PT_LEVEL_PTE);
	EXPECT_EQ(t, kpt.stats.tables_linked[PT_LEVEL_PTE], ptes + 1);
	EXPECT_EQ(t, unmap_now(va, 3 * PAGE_SIZE), 0);   /* holes are fine */
	EXPECT_EQ(t, kpt.stats.tables_linked[PT_LEVEL_PTE], ptes);
}

/* kpt_unmap_leaves() keeps emptied tables linked; the reclaim unlinks
 * those still empty, bottom up, and leaves a refilled one, or one that a
 * lockless map has pinned and not yet written (mm/kpt_internal.h).
 * Table-driven: what happens to the table before the reclaim runs, and
 * what it must unlink. */
enum reclaim_meanwhile { NOTHING, REFILL, PIN };
static const struct reclaim_case {
	const char *name;
	enum reclaim_meanwhile meanwhile;
	uint64_t unlinked_tables;    /* on the gather after the reclaim */
	uint64_t pte_tables_left;    /* linked after it, at this test's va */
} reclaim_cases[] = {
	{ "all empty: pte, pmd and pud tables go", NOTHING, 3, 0 },
	{ "refilled: nothing goes",                REFILL,  0, 1 },
	{ "pinned by a map in its window: nothing goes", PIN, 0, 1 },
};

static void reclaim_case_run(struct selftest *t, const struct reclaim_case *c)
{
	virt_addr_t va = VA(7);
	uint64_t pte_before = kpt.stats.tables_linked[PT_LEVEL_PTE];
	struct frame *table;
	struct pt_gather g;
	struct kpt_walk w;

	ASSERT_EQ(t, map_4k(va, 0x400000, 2 * PAGE_SIZE), 0);
	pt_gather_init(&g);
	ASSERT_EQ(t, kpt_unmap_leaves(va, 2 * PAGE_SIZE, &g), 0);
	EXPECT_EQ(t, g.nr_frames, 0);                      /* nothing unlinked */
	EXPECT_EQ(t, kpt_walk(va, &w), -ENOENT);
	EXPECT_EQ(t, w.level, PT_LEVEL_PTE);               /* the table is there */
	EXPECT_EQ(t, kpt.stats.tables_linked[PT_LEVEL_PTE], pte_before + 1);
	shootdown_flush_and_free(&g);
	table = frame_of(virt_to_phys(w.entry) & ~(PAGE_SIZE - 1));
	if (c->meanwhile == REFILL)
		ASSERT_EQ(t, map_4k(va + PAGE_SIZE, 0x400000, PAGE_SIZE), 0);
	if (c->meanwhile == PIN)
		ASSERT_TRUE(t, kpt_table_pin(table, 1));
	pt_gather_init(&g);
	ASSERT_EQ(t, kpt_reclaim_empty_tables(va, 2 * PAGE_SIZE, &g), 0);
	if (g.nr_frames != c->unlinked_tables ||
	    kpt.stats.tables_linked[PT_LEVEL_PTE] != pte_before + c->pte_tables_left)
		selftest_fail_at(t, __FILE__, __LINE__, "%s: %llu tables unlinked "
				 "(want %llu), %llu pte tables left (want %llu)",
				 c->name, (unsigned long long)g.nr_frames,
				 (unsigned long long)c->unlinked_tables,
				 (unsigned long long)(kpt.stats.tables_linked[PT_LEVEL_PTE] -
						      pte_before),
				 (unsigned long long)c->pte_tables_left);
	EXPECT_EQ(t, g.stale_start == g.stale_end, c->unlinked_tables == 0);
	if (c->meanwhile == NOTHING) {   /* unlinked: dead, no map may pin it */
		EXPECT_EQ(t, table->entries, KPT_TABLE_DEAD);
		EXPECT_TRUE(t, !kpt_table_pin(table, 1));
	}
	shootdown_flush_and_free(&g);
	if (c->meanwhile == REFILL)
		EXPECT_EQ(t, unmap_now(va + PAGE_SIZE, PAGE_SIZE), 0);
	if (c->meanwhile == PIN) {       /* the map gives up its pin */
		kpt_count_sub(table, 1);
		EXPECT_EQ(t, unmap_now(va, PAGE_SIZE), 0);   /* unlinks it */
	}
	EXPECT_EQ(t, kpt.stats.tables_linked[PT_LEVEL_PTE], pte_before);
}

static void test_reclaim_unlinks_only_empty_tables(struct selftest *t)
{
	for (size_t i = 0; i < ARRAY_SIZE(reclaim_cases); i++)
		reclaim_case_run(t, &reclaim_cases[i]);
}

/* Break before make: KPT_MAP_BREAK clears the 4 KiB pages and gathers
 * their table, writes no leaf; after the flush, KPT_MAP_NEW of the same
 * 2 MiB mapping needs no frame (the allocator fails every request) and
 * succeeds.  A pinned table in the way is refused by REPLACE and BREAK
 * alike, and nothing changes. */
static void test_break_then_make(struct selftest *t)
{
	virt_addr_t va = VA(8);
	struct kpt_mapping huge = { .va = va, .pa = 0x40000000, .size = PMD_SIZE,
				    .prot = PT_PROT_RW, .cache = PT_CACHE_UC,
				    .max_page = PT_PAGE_2M };
	struct pt_gather g;
	struct kpt_walk w;
	struct frame *table;

	ASSERT_EQ(t, map_4k(va, 0x400000, 4 * PAGE_SIZE), 0);
	table = frame_of(pte_table_addr(*raw_entry(va, PT_LEVEL_PMD)));

	table->flags |= FRAME_F_PINNED;
	pt_gather_init(&g);
	EXPECT_EQ(t, kpt_map(&huge, KPT_MAP_REPLACE, &g), -EBUSY);
	EXPECT_EQ(t, kpt_map(&huge, KPT_MAP_BREAK, &g), -EBUSY);
	EXPECT_TRUE(t, host_printk_has("pinned page table"));
	EXPECT_EQ(t, g.nr_frames, 0);
	EXPECT_EQ(t, kpt_walk(va, &w), 0);                 /* nothing changed */
	table->flags &= (uint8_t)~FRAME_F_PINNED;

	EXPECT_EQ(t, kpt_map(&huge, KPT_MAP_BREAK, &g), 0);
	EXPECT_EQ(t, kpt_walk(va, &w), -ENOENT);           /* broken: nothing */
	EXPECT_EQ(t, w.level, PT_LEVEL_PMD);               /* the pmd entry clear */
	EXPECT_EQ(t, g.nr_frames, 1);                      /* the pte table */
	EXPECT_EQ(t, g.nr_tables, 1);
	EXPECT_TRUE(t, g.stale_start == va && g.stale_end == va + PMD_SIZE);
	shootdown_flush_and_free(&g);
	EXPECT_EQ(t, table->use, FRAME_FREE);
	frame_fail_countdown = 0;                          /* no frame at all */
	EXPECT_EQ(t, kpt_map(&huge, KPT_MAP_NEW, NULL), 0);
	frame_fail_countdown = -1;
	EXPECT_EQ(t, kpt_walk(va, &w), 0);
	EXPECT_EQ(t, w.level, PT_LEVEL_PMD);
	EXPECT_EQ(t, unmap_now(va, PMD_SIZE), 0);
}

static const struct selftest_case host_kpt_cases[] = {
	{ "walk_into_freed_table_panics", test_walk_into_freed_table_panics },
	{ "walk_into_reused_table_panics", test_walk_into_reused_table_panics },
	{ "replace_gathers_subtree_untouched", test_replace_gathers_subtree_untouched },
	{ "replace_huge_page_by_small_pages", test_replace_huge_by_small },
	{ "no_gbpages_falls_back_to_2m", test_no_gbpages_fallback },
	{ "cpu_features_shape_entry_bits", test_features_shape_bits },
	{ "top_of_address_space", test_top_of_address_space },
	{ "new_tables_are_zeroed", test_new_tables_zeroed },
	{ "gather_of_linked_table_panics", test_gather_of_linked_table_panics },
	{ "partial_unmap_keeps_table", test_partial_unmap_keeps_table },
	{ "reclaim_unlinks_only_empty_tables", test_reclaim_unlinks_only_empty_tables },
	{ "break_then_make", test_break_then_make },
};
SELFTEST_SUITE(host_kpt, host_kpt_cases);
