/* test_frame.c: host-only frame allocator tests, the ones that need a
 * machine of their own (a memory map of their choosing, all of memory,
 * or a panic the kernel could not survive). */
#include <string.h>

#include "mm/frame.h"
#include "tests/host/host_env.h"

/* A memory map as loaders really give them: unsorted, overlapping
 * available regions, edges off page boundaries, a reserved region inside
 * an available one. */
static const struct boot_info messy_map = {
	.mem = {
		{ 0x100000,  0x3f00000, MEM_AVAILABLE },   /* 1 MiB .. 64 MiB */
		{ 0x0,       0x9fc00,   MEM_AVAILABLE },
		{ 0x2000000, 0x3000000, MEM_AVAILABLE },   /* overlaps the first */
		{ 0x800123,  0x1000,    MEM_RESERVED },    /* inside, unaligned */
		{ 0x5000000, 0x800,     MEM_AVAILABLE },   /* less than a frame */
		{ 0x6000800, 0x1fff000, MEM_AVAILABLE },   /* unaligned edges */
	},
	.nr_mem = 6,
};
static const struct phys_range messy_reserved[] = {
	{ 0, 1 * MiB }, { 1 * MiB, 2 * MiB + 100 }, { 0x3000000, 0x3001000 },
};

/* Usable frames of messy_map, counted by hand: [0, 640K) and the first
 * MiB are reserved; [2 MiB + 4 KiB, 80 MiB) minus the two 4 KiB reserved
 * frames at 8 MiB + 0x123 (2 frames: it straddles) and 48 MiB... */
static uint64_t messy_usable_frames(void)
{
	uint64_t frames = 0;

	frames += (0x5000000 - 0x201000) / FRAME_SIZE;   /* merged 1..80 MiB, minus */
	frames -= 2;                                      /* 0x800000-0x802000 */
	frames -= 1;                                      /* 0x3000000 */
	frames += (0x7fff000 - 0x6001000) / FRAME_SIZE;   /* rounded inward */
	return frames;
}

static void test_messy_map(struct selftest *t)
{
	uint64_t table_frames;
	struct phys_range tr;

	host_mm_boot(&messy_map, messy_reserved, ARRAY_SIZE(messy_reserved));
	tr = frame_table_range();
	table_frames = (tr.end - tr.start) / FRAME_SIZE;
	EXPECT_EQ(t, frame_count, 0x7fff000 / FRAME_SIZE);
	/* The frame table and the pgd kpt_init() took come out of it too. */
	EXPECT_EQ(t, frame_stats.frames[FRAME_FREE] + table_frames + 1,
		  messy_usable_frames());
	EXPECT_EQ(t, frame_of(0x800000)->use, FRAME_RESERVED);
	EXPECT_EQ(t, frame_of(0x801000)->use, FRAME_RESERVED);
	EXPECT_EQ(t, frame_of(0x802000)->use, FRAME_FREE);
	EXPECT_EQ(t, frame_of(0x3000000)->use, FRAME_RESERVED);
	EXPECT_EQ(t, frame_of(0x5000000)->use, FRAME_RESERVED);
	EXPECT_EQ(t, frame_of(0x6000000)->use, FRAME_RESERVED);
	EXPECT_EQ(t, frame_of(0x6001000)->use, FRAME_FREE);
	EXPECT_TRUE(t, tr.start >= 0x201000);
	host_mm_boot_default();
}

/* Take every frame one by one: none may be reserved; give them all back:
 * the buddy lists must merge back to exactly the blocks they started as. */
static void test_exhaust_and_merge_back(struct selftest *t)
{
	uint64_t free0, blocks0[FRAME_MAX_ORDER + 1], n = 0;
	struct frame *f, *head = NULL;

	host_mm_boot(&messy_map, messy_reserved, ARRAY_SIZE(messy_reserved));
	frame_debug = FRAME_DEBUG_OFF;    /* speed; poisoning has its own test */
	free0 = frame_stats.frames[FRAME_FREE];
	frame_caches_drain();   /* compare the lists, not what caches hold */
	memcpy(blocks0, frame_stats.free_blocks, sizeof(blocks0));
	while ((f = frame_alloc(0, FRAME_KERNEL)) != NULL) {
		if (frame_pa(f) < 2 * MiB + 4 * KiB || frame_pa(f) == 0x3000000 ||
		    frame_pa(f) == 0x800000)
			selftest_fail_at(t, __FILE__, __LINE__, "reserved frame "
					 "%#llx handed out", (unsigned long long)frame_pa(f));
		f->next = head ? (uint32_t)frame_pfn(head) : FRAME_NIL;
		head = f;
		n++;
	}
	EXPECT_EQ(t, n, free0);
	EXPECT_EQ(t, frame_stats.frames[FRAME_FREE], 0);
	while (head) {
		struct frame *next = head->next == FRAME_NIL ? NULL : &frame_table[head->next];

		frame_free(head, FRAME_KERNEL);
		head = next;
	}
	EXPECT_EQ(t, frame_stats.frames[FRAME_FREE], free0);
	frame_caches_drain();   /* the frames this CPU's cache kept */
	EXPECT_EQ(t, frame_stats.cached, 0);
	EXPECT_EQ(t, memcmp(blocks0, frame_stats.free_blocks, sizeof(blocks0)), 0);
	host_mm_boot_default();
}

/* The default machine has 2.5 GiB: exactly one aligned 1 GiB block. */
static void test_one_gib_block(struct selftest *t)
{
	struct frame *f, *g;

	frame_debug = FRAME_DEBUG_OFF;    /* poisoning 1 GiB: not here */
	f = frame_alloc(FRAME_MAX_ORDER, FRAME_VMALLOC);
	ASSERT_TRUE(t, f != NULL);
	EXPECT_EQ(t, frame_pa(f), 1 * GiB);
	g = frame_alloc(FRAME_MAX_ORDER, FRAME_VMALLOC);
	EXPECT_TRUE(t, g == NULL);
	EXPECT_EQ(t, frame_stats.frames[FRAME_VMALLOC], 1ULL << FRAME_MAX_ORDER);
	frame_free(f, FRAME_VMALLOC);
	EXPECT_EQ(t, frame_stats.frames[FRAME_VMALLOC], 0);
	EXPECT_EQ(t, frame_stats.free_blocks[FRAME_MAX_ORDER], 1);
	frame_debug = FRAME_DEBUG_POISON_FULL;
}

/* A write into a free frame is found when the frame is handed out again. */
static void test_use_after_free_found(struct selftest *t)
{
	struct frame *f = frame_alloc(0, FRAME_KERNEL), *again;
	uint64_t *w;

	ASSERT_TRUE(t, f != NULL);
	w = frame_virt(f);
	frame_free(f, FRAME_KERNEL);
	w[17] = 42;                       /* the bug */
	/* LIFO free lists: the next order-0 allocation is this frame. */
	EXPECT_PANIC(t, again = frame_alloc(0, FRAME_KERNEL), "written while free");
	(void)again;
	host_mm_boot_default();
}

/* Edge poisoning: a write at either end is found, one in the middle is
 * not (what the cheaper mode gives up); full finds both. */
static const struct poison_case {
	const char *name;
	enum frame_debug mode;
	unsigned int word;        /* the uint64_t written after the free */
	bool found;
} poison_cases[] = {
	{ "edges, first word",   FRAME_DEBUG_POISON_EDGES, 0,   true },
	{ "edges, word 7",       FRAME_DEBUG_POISON_EDGES, 7,   true },
	{ "edges, last word",    FRAME_DEBUG_POISON_EDGES, 511, true },
	{ "edges, middle word",  FRAME_DEBUG_POISON_EDGES, 256, false },
	{ "full, middle word",   FRAME_DEBUG_POISON_FULL,  256, true },
	{ "off, first word",     FRAME_DEBUG_OFF,          0,   false },
};

/* One case; its own function, so that the panic's longjmp clobbers no
 * loop variable. */
static void poison_case_run(struct selftest *t, const struct poison_case *c)
{
	struct frame *f, *again = NULL;

	host_mm_boot_default();
	frame_debug = c->mode;
	f = frame_alloc(0, FRAME_KERNEL);
	ASSERT_TRUE(t, f != NULL);
	frame_free(f, FRAME_KERNEL);
	((uint64_t *)frame_virt(f))[c->word] = 42;   /* the bug */
	if (c->found) {
		EXPECT_PANIC(t, again = frame_alloc(0, FRAME_KERNEL),
			     "written while free");
	} else {
		again = frame_alloc(0, FRAME_KERNEL);
		if (again != f)
			selftest_fail_at(t, __FILE__, __LINE__, "%s: got frame "
					 "%p back, expected %p unchecked",
					 c->name, (void *)again, (void *)f);
	}
}

static void test_poison_modes(struct selftest *t)
{
	for (size_t i = 0; i < ARRAY_SIZE(poison_cases); i++)
		poison_case_run(t, &poison_cases[i]);
	host_mm_boot_default();
}

/* frame_free_list(): more frames than one batch, each freed as its own
 * use and counted; a frame already free on the list is a double free. */
static void test_free_list(struct selftest *t)
{
	uint64_t free_before = frame_stats.frames[FRAME_FREE];
	struct frame *head = NULL, *f;

	for (unsigned int i = 0; i < 150; i++) {
		f = frame_alloc(0, i % 2 ? FRAME_VMALLOC : FRAME_PT_PTE);
		ASSERT_TRUE(t, f != NULL);
		frame_list_push(&head, f);
	}
	frame_free_list(&head);
	EXPECT_TRUE(t, head == NULL);
	EXPECT_EQ(t, frame_stats.frames[FRAME_FREE], free_before);
	EXPECT_EQ(t, frame_stats.frames[FRAME_VMALLOC], 0);

	f = frame_alloc(0, FRAME_KERNEL);
	ASSERT_TRUE(t, f != NULL);
	frame_free(f, FRAME_KERNEL);
	head = NULL;
	frame_list_push(&head, f);
	EXPECT_PANIC(t, frame_free_list(&head), "double free");
	host_mm_boot_default();
}

static void test_bad_free_panics(struct selftest *t)
{
	struct frame *f = frame_alloc(0, FRAME_KERNEL);

	ASSERT_TRUE(t, f != NULL);
	frame_free(f, FRAME_KERNEL);
	EXPECT_PANIC(t, frame_free(f, FRAME_KERNEL), "double free");
	host_mm_boot_default();
	EXPECT_PANIC(t, frame_of(HOST_RAM_MAX), "beyond the end of RAM");
	EXPECT_PANIC(t, frame_free(frame_table + frame_count, FRAME_KERNEL),
		     "is not a frame");
	host_mm_boot_default();
}

static void test_no_ram_panics(struct selftest *t)
{
	static const struct boot_info none = {
		.mem = { { 0, 0x9fc00, MEM_RESERVED } }, .nr_mem = 1,
	};
	EXPECT_PANIC(t, host_mm_boot(&none, NULL, 0), "no available RAM");
	host_mm_boot_default();
}

static const struct selftest_case host_frame_cases[] = {
	{ "messy_memory_map_gives_exact_free_frames", test_messy_map },
	{ "exhaust_all_then_merge_back", test_exhaust_and_merge_back },
	{ "one_gib_block", test_one_gib_block },
	{ "use_after_free_found_at_next_alloc", test_use_after_free_found },
	{ "poison_modes_find_what_they_cover", test_poison_modes },
	{ "free_list_frees_each_as_its_use", test_free_list },
	{ "bad_free_panics", test_bad_free_panics },
	{ "no_ram_panics", test_no_ram_panics },
};
SELFTEST_SUITE(host_frame, host_frame_cases);
