/* tests/mm_kpt.c: the kernel page-table API, in the kernel and on the
 * host (tests/host/ runs this file unchanged, its probes going through a
 * software MMU).
 *
 * Every case works in the mm selftest window (mm/layout.h), reads what it
 * mapped only through the probes (a fault is a result, not a crash), and
 * leaves the page tables and the allocator as it found them: the counts
 * of page-table pages per level are compared before and after. */
#include "arch/x86/arch.h"
#include "kernel/extable.h"
#include "kernel/selftest.h"
#include "kernel/string.h"
#include "mm/frame.h"
#include "mm/kpt.h"
#include "mm/shootdown.h"

#define W(gib)   (MM_SELFTEST_START + (uint64_t)(gib) * GiB)
#define PF_WRITE 0x2    /* #PF error code: the access was a write */
#define PF_INSTR 0x10   /* #PF error code: an instruction fetch */

/* The host defines this to check that an error message names the bad
 * argument; in the kernel printk output is not captured. */
bool mm_test_printk_has(const char *needle) __attribute__((weak));

/* ---- helpers ---- */

/* The level of the leaf that maps @va, or 0 when nothing does. */
static int leaf_level(virt_addr_t va)
{
	struct kpt_walk w;

	return kpt_walk(va, &w) == 0 ? (int)w.level : 0;
}

struct pt_counts {
	uint64_t live[PT_LEVEL_PGD + 1];     /* allocated table frames */
	uint64_t linked[PT_LEVEL_PGD + 1];   /* reachable from the root */
	uint64_t free_frames;
};

static struct pt_counts pt_counts_now(void)
{
	struct pt_counts c = { .free_frames = frame_stats.frames[FRAME_FREE] };

	for (enum pt_level l = PT_LEVEL_PTE; l <= PT_LEVEL_PGD; l++) {
		c.live[l] = frame_stats.frames[frame_use_of_level(l)];
		c.linked[l] = kpt.stats.tables_linked[l];
	}
	return c;
}

static void expect_counts_equal(struct selftest *t, const struct pt_counts *a,
				const struct pt_counts *b, const char *when)
{
	for (enum pt_level l = PT_LEVEL_PTE; l <= PT_LEVEL_PGD; l++)
		if (a->live[l] != b->live[l] || a->linked[l] != b->linked[l])
			selftest_fail_at(t, __FILE__, __LINE__,
				"%s: level %d tables: %llu live, %llu linked before; "
				"%llu live, %llu linked after", when, (int)l,
				(unsigned long long)a->live[l],
				(unsigned long long)a->linked[l],
				(unsigned long long)b->live[l],
				(unsigned long long)b->linked[l]);
	if (a->free_frames != b->free_frames)
		selftest_fail_at(t, __FILE__, __LINE__, "%s: %llu free frames "
				 "before, %llu after", when,
				 (unsigned long long)a->free_frames,
				 (unsigned long long)b->free_frames);
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

static int map_simple(virt_addr_t va, phys_addr_t pa, uint64_t size,
		      enum pt_prot prot, enum pt_page_size max_page)
{
	return kpt_map(&(struct kpt_mapping){ .va = va, .pa = pa, .size = size,
			.prot = prot, .cache = PT_CACHE_WB, .max_page = max_page },
		       KPT_MAP_NEW, NULL);
}

static uint64_t test_random(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

static uint64_t probe_value(virt_addr_t va)
{
	uint64_t v = 0;

	return probe_read_u64((const void *)va, &v) == 0 ? v : 0xdeadULL;
}

/* ---- round trips at each page size ---- */

/* Map [pa, pa + size) at @va allowing @max_page, check the walk (level,
 * pa, bits) and that the direct map and the new mapping show the same
 * words (both ways if writable), unmap, and check nothing is left. */
static void round_trip(struct selftest *t, virt_addr_t va, phys_addr_t pa,
		       uint64_t size, enum pt_page_size max_page,
		       enum pt_prot prot, enum pt_level want_level)
{
	/* Compare words in the first 4 MiB at most: beyond, the physical
	 * range of the 1 GiB case may not be RAM in the direct map. */
	uint64_t span = MIN(size, 4 * MiB);
	uint64_t offsets[] = { 0, 8, span / 2, span - 8 };
	struct pt_counts before = pt_counts_now(), after;
	struct kpt_walk w;

	ASSERT_EQ(t, map_simple(va, pa, size, prot, max_page), 0);
	ASSERT_EQ(t, kpt_walk(va + size / 2, &w), 0);
	EXPECT_EQ(t, w.level, want_level);
	EXPECT_EQ(t, w.pa, pa + size / 2);
	EXPECT_EQ(t, !!(w.value & PTE_PS), want_level != PT_LEVEL_PTE);
	EXPECT_EQ(t, !!(w.value & PTE_RW), prot == PT_PROT_RW);
	EXPECT_EQ(t, w.value & PTE_G, 0);   /* never global: arch/x86/tlb.c */
	EXPECT_EQ(t, !!(w.value & PTE_NX), cpu_features.nx && prot != PT_PROT_RX);
	for (size_t i = 0; i < ARRAY_SIZE(offsets); i++) {
		uint64_t *direct = phys_to_virt(pa + offsets[i]);

		if (prot == PT_PROT_RW) {
			*direct = 0x5a5a0000ULL + i;
			EXPECT_EQ(t, probe_value(va + offsets[i]), 0x5a5a0000ULL + i);
			EXPECT_EQ(t, probe_write_u64((void *)(va + offsets[i]), ~i), 0);
			EXPECT_EQ(t, *direct, ~i);
		} else {
			EXPECT_EQ(t, probe_value(va + offsets[i]), *direct);
		}
	}
	EXPECT_EQ(t, unmap_now(va, size), 0);
	EXPECT_EQ(t, kpt_walk(va, &w), -ENOENT);
	EXPECT_EQ(t, probe_read_u64((const void *)va, &offsets[0]), -EFAULT);
	after = pt_counts_now();
	expect_counts_equal(t, &before, &after, "after unmap");
}

static void test_round_trip_4k(struct selftest *t)
{
	struct frame *f = frame_alloc(0, FRAME_KERNEL);

	ASSERT_TRUE(t, f != NULL);
	round_trip(t, W(1) + 5 * PAGE_SIZE, frame_pa(f), PAGE_SIZE, PT_PAGE_1G,
		   PT_PROT_RW, PT_LEVEL_PTE);
	frame_free(f, FRAME_KERNEL);
}

static void test_round_trip_2m(struct selftest *t)
{
	struct frame *f = frame_alloc(9, FRAME_KERNEL);   /* 2 MiB, aligned */

	ASSERT_TRUE(t, f != NULL);
	round_trip(t, W(2) + 4 * PMD_SIZE, frame_pa(f), PMD_SIZE, PT_PAGE_1G,
		   PT_PROT_RW, PT_LEVEL_PMD);
	frame_free(f, FRAME_KERNEL);
}

/* Physical 0..1 GiB, read-only: the kernel image and the frame table are
 * in it, so the compared words are real data.  Without 1 GiB pages the
 * same call must fall back to 512 pages of 2 MiB. */
static void test_round_trip_1g(struct selftest *t)
{
	enum pt_level want = cpu_features.gbpages ? PT_LEVEL_PUD : PT_LEVEL_PMD;

	round_trip(t, W(3), 0, PUD_SIZE, PT_PAGE_1G, PT_PROT_RO, want);
}

/* va and pa both 2 MiB aligned in the middle: 4K, then 2M, then 4K.
 * pa 4 KiB off that alignment: 4 KiB pages only; caller's limit too. */
static void test_largest_page_chosen(struct selftest *t)
{
	struct frame *f = frame_alloc(10, FRAME_KERNEL);   /* 4 MiB */
	virt_addr_t va = W(4) + PMD_SIZE - PAGE_SIZE;
	phys_addr_t pa;

	ASSERT_TRUE(t, f != NULL);
	pa = frame_pa(f) + PMD_SIZE - PAGE_SIZE;
	ASSERT_EQ(t, map_simple(va, pa, PMD_SIZE + 2 * PAGE_SIZE, PT_PROT_RW, PT_PAGE_1G), 0);
	EXPECT_EQ(t, leaf_level(va), PT_LEVEL_PTE);
	EXPECT_EQ(t, leaf_level(va + PAGE_SIZE), PT_LEVEL_PMD);
	EXPECT_EQ(t, leaf_level(va + PAGE_SIZE + PMD_SIZE), PT_LEVEL_PTE);
	EXPECT_EQ(t, unmap_now(va, PMD_SIZE + 2 * PAGE_SIZE), 0);

	ASSERT_EQ(t, map_simple(va, pa + PAGE_SIZE, PMD_SIZE, PT_PROT_RW, PT_PAGE_1G), 0);
	EXPECT_EQ(t, leaf_level(va + PAGE_SIZE), PT_LEVEL_PTE);
	EXPECT_EQ(t, unmap_now(va, PMD_SIZE), 0);

	ASSERT_EQ(t, map_simple(va + PAGE_SIZE, pa + PAGE_SIZE, PMD_SIZE, PT_PROT_RW, PT_PAGE_4K), 0);
	EXPECT_EQ(t, leaf_level(va + PAGE_SIZE), PT_LEVEL_PTE);
	EXPECT_EQ(t, unmap_now(va + PAGE_SIZE, PMD_SIZE), 0);
	frame_free(f, FRAME_KERNEL);
}

/* ---- permissions ---- */

static void expect_fault(struct selftest *t, int ret, virt_addr_t va,
			 uint64_t error_bits, const char *what)
{
	const struct fault_record *f = extable_last_fault();

	if (ret != -EFAULT || f->vector != 14 || f->cr2 != va ||
	    (f->error_code & error_bits) != error_bits)
		selftest_fail_at(t, __FILE__, __LINE__, "%s at %#llx: expected a "
			"#PF with error bits %#llx; saw %d, vector %llu, error "
			"%#llx, cr2 %#llx", what, (unsigned long long)va,
			(unsigned long long)error_bits, ret,
			(unsigned long long)f->vector,
			(unsigned long long)f->error_code,
			(unsigned long long)f->cr2);
}

static int protect_now(virt_addr_t va, uint64_t size, enum pt_prot prot)
{
	struct pt_gather g;
	int err;

	pt_gather_init(&g);
	err = kpt_protect(va, size, prot, &g);
	shootdown_flush_and_free(&g);
	return err;
}

static void test_permissions(struct selftest *t)
{
	struct frame *f = frame_alloc(0, FRAME_KERNEL);
	virt_addr_t va = W(5);

	ASSERT_TRUE(t, f != NULL);
	*(uint8_t *)frame_virt(f) = 0xc3;           /* ret */
	ASSERT_EQ(t, map_simple(va, frame_pa(f), PAGE_SIZE, PT_PROT_RO, PT_PAGE_4K), 0);
	EXPECT_EQ(t, probe_value(va) & 0xff, 0xc3);
	expect_fault(t, probe_write_u64((void *)va, 1), va, PF_WRITE, "write to RO");
	if (cpu_features.nx)
		expect_fault(t, probe_exec((const void *)va), va, PF_INSTR, "exec of NX");

	EXPECT_EQ(t, protect_now(va, PAGE_SIZE, PT_PROT_RX), 0);
	EXPECT_EQ(t, probe_exec((const void *)va), 0);
	expect_fault(t, probe_write_u64((void *)va, 1), va, PF_WRITE, "write to RX");

	EXPECT_EQ(t, protect_now(va, PAGE_SIZE, PT_PROT_RW), 0);
	EXPECT_EQ(t, probe_write_u64((void *)va, 0x77c3), 0);
	EXPECT_EQ(t, *(uint64_t *)frame_virt(f), 0x77c3);
	if (cpu_features.nx)
		expect_fault(t, probe_exec((const void *)va), va, PF_INSTR, "exec of RW");
	EXPECT_EQ(t, unmap_now(va, PAGE_SIZE), 0);
	frame_free(f, FRAME_KERNEL);
}

/* ---- no leak ---- */

#define RANDOM_OPS    10000
#define RANDOM_SLOTS  16          /* 4 per GiB, over 4 GiB and two pgd slots */
#define SLOT_SIZE     (4 * MiB)   /* room for 4K and 2M pages */

static virt_addr_t slot_va(unsigned int i)
{
	return W(510) + (i / 4) * GiB + (i % 4) * SLOT_SIZE;
}

/* One random operation on slot @s: map part of it if it is empty; else
 * unmap it, or replace it by two 2 MiB pages. */
static int random_op(struct selftest *t, uint64_t *rng, phys_addr_t backing,
		     uint64_t *mapped_size, unsigned int s)
{
	uint64_t r = test_random(rng), pages = SLOT_SIZE / PAGE_SIZE;
	virt_addr_t va = slot_va(s);
	struct pt_gather g;
	int err;

	if (mapped_size[s] == 0) {
		uint64_t first = r % pages, n = 1 + (r >> 16) % (pages - first);

		if ((r >> 40) % 4 == 0) {         /* often: whole 2 MiB pages */
			first = ((r >> 42) % 2) * 512;
			n = 512;
		}
		err = map_simple(va + first * PAGE_SIZE, backing + first * PAGE_SIZE,
				 n * PAGE_SIZE, PT_PROT_RW,
				 (enum pt_page_size)(PT_PAGE_4K + (r >> 50) % 3));
		mapped_size[s] = err ? 0 : SLOT_SIZE;   /* unmap the whole slot */
		return err;
	}
	pt_gather_init(&g);
	if ((r >> 40) % 8 == 0) {
		err = kpt_map(&(struct kpt_mapping){ .va = va, .pa = backing,
				.size = SLOT_SIZE, .prot = PT_PROT_RO,
				.cache = PT_CACHE_WB, .max_page = PT_PAGE_2M },
			      KPT_MAP_REPLACE, &g);
		EXPECT_EQ(t, leaf_level(va + PMD_SIZE), PT_LEVEL_PMD);
	} else {
		err = kpt_unmap(va, SLOT_SIZE, &g);
		mapped_size[s] = 0;
	}
	shootdown_flush_and_free(&g);
	return err;
}

static void test_no_leak_random(struct selftest *t)
{
	struct frame *backing = frame_alloc(10, FRAME_KERNEL);   /* 4 MiB */
	uint64_t mapped_size[RANDOM_SLOTS] = { 0 }, rng = 0x5eed5eedULL;
	struct pt_counts before = pt_counts_now(), after;
	struct kpt_stats calls = kpt.stats;
	int err = 0;

	ASSERT_TRUE(t, backing != NULL);
	for (unsigned int op = 0; op < RANDOM_OPS && !err; op++) {
		err = random_op(t, &rng, frame_pa(backing), mapped_size,
				(unsigned int)(test_random(&rng) % RANDOM_SLOTS));
		if (err)
			selftest_fail_at(t, __FILE__, __LINE__, "operation %u "
					 "failed: %d (seed 0x5eed5eed)", op, err);
	}
	for (unsigned int s = 0; s < RANDOM_SLOTS; s++)
		EXPECT_EQ(t, unmap_now(slot_va(s), SLOT_SIZE), 0);
	after = pt_counts_now();
	expect_counts_equal(t, &before, &after, "after 10,000 operations");
	selftest_diag(t, "%llu maps, %llu unmaps; %llu PTE tables linked at the end",
		      (unsigned long long)(kpt.stats.maps - calls.maps),
		      (unsigned long long)(kpt.stats.unmaps - calls.unmaps),
		      (unsigned long long)kpt.stats.tables_linked[PT_LEVEL_PTE]);
	frame_free(backing, FRAME_KERNEL);
}

/* ---- allocation failure ---- */

/* A range that needs 1 PUD, 2 PMD and 2 PTE tables: it crosses a 1 GiB
 * boundary with 4 KiB pages on either side.  Fail the 1st, 2nd, ...
 * table allocation: each time, nothing may change. */
static void test_alloc_failure_everywhere(struct selftest *t)
{
	virt_addr_t va = W(600) + GiB - 2 * PAGE_SIZE;
	struct pt_counts before = pt_counts_now(), now;
	unsigned int failures = 0;
	struct kpt_walk w;
	int err;

	ASSERT_EQ(t, kpt_walk(va, &w), -ENOENT);
	ASSERT_EQ(t, w.level, PT_LEVEL_PGD);    /* the pgd slot is empty */
	for (long n = 0; n < 10; n++) {
		frame_fail_countdown = n;
		err = map_simple(va, 0x200000, 4 * PAGE_SIZE, PT_PROT_RO, PT_PAGE_1G);
		frame_fail_countdown = -1;
		if (err == 0)
			break;
		failures++;
		EXPECT_EQ(t, err, -ENOMEM);
		now = pt_counts_now();
		expect_counts_equal(t, &before, &now, "after a failed map");
		EXPECT_EQ(t, kpt_walk(va, &w), -ENOENT);
		EXPECT_EQ(t, w.level, PT_LEVEL_PGD);
	}
	EXPECT_EQ(t, err, 0);
	EXPECT_EQ(t, failures, 5);
	EXPECT_EQ(t, probe_value(va + 3 * PAGE_SIZE), *(uint64_t *)phys_to_virt(0x203000));
	EXPECT_EQ(t, unmap_now(va, 4 * PAGE_SIZE), 0);
	now = pt_counts_now();
	expect_counts_equal(t, &before, &now, "after unmap");
}

/* ---- bad input ---- */

struct bad_map {
	const char *name;
	virt_addr_t va;
	phys_addr_t pa;
	uint64_t size;
	int prot, cache, max_page, mode;   /* int: some rows are out of range */
	int err;
	const char *message;               /* must appear in the printk */
};

#define RO  PT_PROT_RO
#define WB  PT_CACHE_WB
#define P4K PT_PAGE_4K
#define P2M PT_PAGE_2M
#define NEW KPT_MAP_NEW
#define TOP 0xfffffffffffff000ULL

/* W(7) + 2 MiB holds one 4 KiB page during the test. */
static const struct bad_map bad_maps[] = {
	/* name                   va           pa          size       prot cache max  mode  err      message */
	{ "unaligned va",         W(7) + 8,    0x200000,   PAGE_SIZE, RO,  WB,   P4K, NEW, -EINVAL, "va is not" },
	{ "unaligned pa",         W(7),        0x200008,   PAGE_SIZE, RO,  WB,   P4K, NEW, -EINVAL, "pa is not" },
	{ "unaligned size",       W(7),        0x200000,   100,       RO,  WB,   P4K, NEW, -EINVAL, "size is not" },
	{ "zero size",            W(7),        0x200000,   0,         RO,  WB,   P4K, NEW, -EINVAL, "size is 0" },
	{ "range wraps",          TOP,         0x200000,   2 * PAGE_SIZE, RO, WB, P4K, NEW, -EINVAL, "wraps" },
	{ "user-half va",         0x400000,    0x200000,   PAGE_SIZE, RO,  WB,   P4K, NEW, -EINVAL, "kernel half" },
	{ "pa beyond MAXPHYADDR", W(7),        1ULL << 52, PAGE_SIZE, RO,  WB,   P4K, NEW, -EINVAL, "physical address width" },
	{ "bad prot",             W(7),        0x200000,   PAGE_SIZE, 0,   WB,   P4K, NEW, -EINVAL, "prot 0" },
	{ "bad cache",            W(7),        0x200000,   PAGE_SIZE, RO,  9,    P4K, NEW, -EINVAL, "cache is not" },
	{ "bad max_page",         W(7),        0x200000,   PAGE_SIZE, RO,  WB,   9,   NEW, -EINVAL, "max_page" },
	{ "bad mode",             W(7),        0x200000,   PAGE_SIZE, RO,  WB,   P4K, 0,   -EINVAL, "mode" },
	{ "replace, no gather",   W(7),        0x200000,   PAGE_SIZE, RO,  WB,   P4K, KPT_MAP_REPLACE, -EINVAL, "needs a gather" },
	{ "break, no gather",     W(7),        0x200000,   PAGE_SIZE, RO,  WB,   P4K, KPT_MAP_BREAK,   -EINVAL, "KPT_MAP_BREAK needs a gather" },
	{ "overlaps a page",      W(7) + PMD_SIZE, 0x200000, PAGE_SIZE, RO, WB,  P4K, NEW, -EEXIST, "already mapped" },
	{ "2M over a 4K page",    W(7) + PMD_SIZE, 0x200000, PMD_SIZE, RO,  WB,  P2M, NEW, -EEXIST, "already mapped" },
};

static void expect_message(struct selftest *t, const char *case_name,
			   const char *message)
{
	if (mm_test_printk_has && !mm_test_printk_has(message))
		selftest_fail_at(t, __FILE__, __LINE__, "%s: the message does not "
				 "contain \"%s\"", case_name, message);
}

static void test_bad_input(struct selftest *t)
{
	virt_addr_t existing = W(7) + PMD_SIZE;
	struct pt_counts before, after;
	struct pt_gather g;

	ASSERT_EQ(t, map_simple(existing, 0x200000, PAGE_SIZE, PT_PROT_RO, PT_PAGE_4K), 0);
	before = pt_counts_now();
	for (size_t i = 0; i < ARRAY_SIZE(bad_maps); i++) {
		const struct bad_map *b = &bad_maps[i];
		struct kpt_mapping m = { .va = b->va, .pa = b->pa, .size = b->size,
			.prot = b->prot, .cache = b->cache, .max_page = b->max_page };
		int err = kpt_map(&m, b->mode, NULL);

		if (err != b->err)
			selftest_fail_at(t, __FILE__, __LINE__, "%s: expected %d, "
					 "saw %d", b->name, b->err, err);
		expect_message(t, b->name, b->message);
	}
	pt_gather_init(&g);
	EXPECT_EQ(t, kpt_unmap(existing + PAGE_SIZE, 0, &g), -EINVAL);
	expect_message(t, "unmap of size 0", "size is 0");
	EXPECT_EQ(t, kpt_unmap(0x1000, PAGE_SIZE, &g), -EINVAL);
	expect_message(t, "unmap in the user half", "kernel half");
	EXPECT_EQ(t, kpt_unmap(existing, PAGE_SIZE, NULL), -EINVAL);
	expect_message(t, "unmap without gather", "gather");
	EXPECT_EQ(t, kpt_protect(existing, 2 * PAGE_SIZE, PT_PROT_RW, &g), -ENOENT);
	expect_message(t, "protect over a hole", "is not mapped");
	EXPECT_EQ(t, kpt_protect(existing, PAGE_SIZE, 7, &g), -EINVAL);
	expect_message(t, "protect with a bad prot", "prot 7");
	shootdown_flush_and_free(&g);
	after = pt_counts_now();
	expect_counts_equal(t, &before, &after, "after the bad calls");
	EXPECT_EQ(t, probe_value(existing), *(uint64_t *)phys_to_virt(0x200000));
	EXPECT_EQ(t, unmap_now(existing, PAGE_SIZE), 0);
}

/* Unmap or protect half of a 2 MiB page: refused, the page intact. */
static void test_split_refused(struct selftest *t)
{
	virt_addr_t va = W(8);
	struct pt_gather g;
	struct kpt_walk w;

	ASSERT_EQ(t, map_simple(va, 0x200000, PMD_SIZE, PT_PROT_RO, PT_PAGE_2M), 0);
	pt_gather_init(&g);
	EXPECT_EQ(t, kpt_unmap(va + PAGE_SIZE, PAGE_SIZE, &g), -EINVAL);
	expect_message(t, "unmap inside a 2M page", "splitting");
	EXPECT_EQ(t, kpt_unmap(va, PAGE_SIZE, &g), -EINVAL);
	EXPECT_EQ(t, kpt_protect(va, PMD_SIZE / 2, PT_PROT_RW, &g), -EINVAL);
	EXPECT_EQ(t, kpt_map(&(struct kpt_mapping){ .va = va, .pa = 0x200000,
			.size = PAGE_SIZE, .prot = RO, .cache = WB, .max_page = P4K },
			KPT_MAP_REPLACE, &g), -EINVAL);
	expect_message(t, "replace inside a 2M page", "split");
	shootdown_flush_and_free(&g);
	EXPECT_EQ(t, kpt_walk(va + PAGE_SIZE, &w), 0);
	EXPECT_EQ(t, w.level, PT_LEVEL_PMD);
	EXPECT_EQ(t, unmap_now(va, PMD_SIZE), 0);
}

/* ---- page-table frames that must not be freed ---- */

static void test_free_of_linked_table_caught(struct selftest *t)
{
	virt_addr_t va = W(9);
	struct frame *table;
	struct kpt_walk w;
	uint64_t before = frame_bug_last.count;

	ASSERT_EQ(t, map_simple(va, 0x200000, PAGE_SIZE, PT_PROT_RO, PT_PAGE_4K), 0);
	ASSERT_EQ(t, kpt_walk(va, &w), 0);
	table = frame_of(ALIGN_DOWN(virt_to_phys(w.entry), FRAME_SIZE));
	EXPECT_EQ(t, table->use, FRAME_PT_PTE);
	frame_bug_action = FRAME_BUG_RECORD;
	frame_free(table, FRAME_PT_PTE);
	frame_bug_action = FRAME_BUG_PANIC;
	EXPECT_EQ(t, frame_bug_last.count, before + 1);
	EXPECT_EQ(t, table->use, FRAME_PT_PTE);      /* refused */
	EXPECT_EQ(t, kpt_walk(va, &w), 0);           /* still walks */
	EXPECT_EQ(t, unmap_now(va, PAGE_SIZE), 0);
}

static const struct selftest_case mm_kpt_cases[] = {
	{ "map_walk_unmap_4k", test_round_trip_4k },
	{ "map_walk_unmap_2m", test_round_trip_2m },
	{ "map_walk_unmap_1g_or_2m_fallback", test_round_trip_1g },
	{ "largest_page_alignment_allows", test_largest_page_chosen },
	{ "permissions_enforced", test_permissions },
	{ "no_leak_after_10000_random_ops", test_no_leak_random },
	{ "alloc_failure_at_every_point_leaves_no_trace", test_alloc_failure_everywhere },
	{ "bad_input_changes_nothing", test_bad_input },
	{ "splitting_a_huge_page_is_refused", test_split_refused },
	{ "free_of_linked_table_is_caught", test_free_of_linked_table_caught },
};
SELFTEST_SUITE(mm_kpt, mm_kpt_cases);
