/* tests/mm_frame.c: the frame allocator, in the kernel and on the host
 * (tests/host/ runs this file unchanged on a pretend machine).
 *
 * Each case leaves the allocator as it found it, so it can run on the
 * live kernel.  The "is caught" cases turn the allocator's panic into a
 * record (frame_bug_action = FRAME_BUG_RECORD) and check that the bad
 * free was refused and named. */
#include "kernel/selftest.h"
#include "kernel/string.h"
#include "mm/frame.h"
#include "mm/gather.h"
#include "mm/shootdown.h"

static bool text_has(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++)
		if (strncmp(hay, needle, n) == 0)
			return true;
	return false;
}

/* One bad free, with the panic turned into a record: was it refused,
 * and does the message say why? */
static void expect_free_refused(struct selftest *t, struct frame *f,
				enum frame_use use, const char *why)
{
	uint64_t before = frame_bug_last.count;

	frame_bug_action = FRAME_BUG_RECORD;
	frame_free(f, use);
	frame_bug_action = FRAME_BUG_PANIC;
	EXPECT_EQ(t, frame_bug_last.count, before + 1);
	if (!text_has(frame_bug_last.message, why))
		selftest_fail_at(t, __FILE__, __LINE__, "message \"%s\" lacks \"%s\"",
				 frame_bug_last.message, why);
}

static void test_alloc_free_each_order(struct selftest *t)
{
	static const unsigned int orders[] = { 0, 1, 9, 10 };

	for (size_t i = 0; i < ARRAY_SIZE(orders); i++) {
		unsigned int order = orders[i];
		uint64_t free_before = frame_stats.frames[FRAME_FREE];
		struct frame *f = frame_alloc(order, FRAME_KERNEL);

		ASSERT_TRUE(t, f != NULL);
		EXPECT_TRUE(t, IS_ALIGNED(frame_pa(f), FRAME_SIZE << order));
		EXPECT_EQ(t, f->use, FRAME_KERNEL);
		EXPECT_EQ(t, f->order, order);
		if (order > 0) {
			EXPECT_EQ(t, f[1].order, FRAME_ORDER_TAIL);
			EXPECT_EQ(t, f[(1 << order) - 1].use, FRAME_KERNEL);
		}
		EXPECT_EQ(t, frame_stats.frames[FRAME_FREE], free_before - (1ULL << order));
		frame_free(f, FRAME_KERNEL);
		EXPECT_EQ(t, f->use, FRAME_FREE);
		EXPECT_EQ(t, frame_stats.frames[FRAME_FREE], free_before);
	}
}

/* Debug mode fills a freed frame with poison (see mm/pte.h for why 0x6b). */
static void test_free_poisons(struct selftest *t)
{
	struct frame *f = frame_alloc(0, FRAME_KERNEL);
	uint64_t *w;

	ASSERT_TRUE(t, f != NULL);
	w = frame_virt(f);
	w[0] = 0x1234;
	w[511] = 0x5678;
	frame_free(f, FRAME_KERNEL);
	if (frame_debug == FRAME_DEBUG_OFF) {
		selftest_skip(t, "frame_debug is off");
		return;
	}
	EXPECT_EQ(t, w[0], 0x6b6b6b6b6b6b6b6bULL);
	EXPECT_EQ(t, w[511], 0x6b6b6b6b6b6b6b6bULL);
	EXPECT_TRUE(t, f->flags & FRAME_F_POISONED);
}

static void test_double_free_caught(struct selftest *t)
{
	struct frame *f = frame_alloc(0, FRAME_KERNEL);

	ASSERT_TRUE(t, f != NULL);
	frame_free(f, FRAME_KERNEL);
	expect_free_refused(t, f, FRAME_KERNEL, "double free");
	EXPECT_EQ(t, f->use, FRAME_FREE);
}

static void test_wrong_use_caught(struct selftest *t)
{
	struct frame *f = frame_alloc(0, FRAME_KERNEL);

	ASSERT_TRUE(t, f != NULL);
	expect_free_refused(t, f, FRAME_VMALLOC, "wrong use");
	EXPECT_EQ(t, f->use, FRAME_KERNEL);     /* refused: still allocated */
	frame_free(f, FRAME_KERNEL);
}

static void test_free_inside_block_caught(struct selftest *t)
{
	struct frame *f = frame_alloc(1, FRAME_KERNEL);

	ASSERT_TRUE(t, f != NULL);
	expect_free_refused(t, f + 1, FRAME_KERNEL, "not its first frame");
	frame_free(f, FRAME_KERNEL);
}

static void test_free_reserved_caught(struct selftest *t)
{
	expect_free_refused(t, frame_of(0), FRAME_KERNEL, "reserved");
	EXPECT_EQ(t, frame_of(0)->use, FRAME_RESERVED);
}

/* The seed-000 bug in one line: freeing a gathered page before its flush. */
static void test_free_of_gathered_caught(struct selftest *t)
{
	struct frame *f = frame_alloc(0, FRAME_PT_PTE);
	struct pt_gather g;

	ASSERT_TRUE(t, f != NULL);
	pt_gather_init(&g);
	pt_gather_add(&g, f);
	expect_free_refused(t, f, FRAME_PT_PTE, "gather");
	EXPECT_EQ(t, f->use, FRAME_PT_PTE);
	shootdown_flush_and_free(&g);
	EXPECT_EQ(t, f->use, FRAME_FREE);
}

static void test_fail_injection(struct selftest *t)
{
	struct frame *a, *b, *c;

	frame_fail_countdown = 1;          /* the second allocation fails */
	a = frame_alloc(0, FRAME_KERNEL);
	b = frame_alloc(0, FRAME_KERNEL);
	c = frame_alloc(0, FRAME_KERNEL);
	EXPECT_EQ(t, frame_fail_countdown, -1);
	frame_fail_countdown = -1;
	EXPECT_TRUE(t, a != NULL);
	EXPECT_TRUE(t, b == NULL);
	EXPECT_TRUE(t, c != NULL);
	if (a)
		frame_free(a, FRAME_KERNEL);
	if (c)
		frame_free(c, FRAME_KERNEL);
}

static void test_bad_alloc_args(struct selftest *t)
{
	EXPECT_TRUE(t, frame_alloc(FRAME_MAX_ORDER + 1, FRAME_KERNEL) == NULL);
	EXPECT_TRUE(t, frame_alloc(0, FRAME_FREE) == NULL);
	EXPECT_TRUE(t, frame_alloc(0, FRAME_RESERVED) == NULL);
}

static const struct selftest_case mm_frame_cases[] = {
	{ "alloc_free_each_order", test_alloc_free_each_order },
	{ "free_poisons_the_frame", test_free_poisons },
	{ "double_free_is_caught", test_double_free_caught },
	{ "free_with_wrong_use_is_caught", test_wrong_use_caught },
	{ "free_inside_a_block_is_caught", test_free_inside_block_caught },
	{ "free_of_reserved_frame_is_caught", test_free_reserved_caught },
	{ "free_of_gathered_frame_before_flush_is_caught", test_free_of_gathered_caught },
	{ "fail_injection_fails_the_nth_allocation", test_fail_injection },
	{ "bad_alloc_arguments_are_refused", test_bad_alloc_args },
};
SELFTEST_SUITE(mm_frame, mm_frame_cases);
