/* tests/selftest.c: the framework must be able to see failure.  Each row
 * runs a small case as a nested test and checks the outcome it reported;
 * the nested results are printed as diagnostics, not as KTAP results. */
#include "kernel/selftest_internal.h"

#define UNMAPPED_ADDR 0xffffc90000000000ULL

static void body_passes(struct selftest *t)   { EXPECT_EQ(t, 1 + 1, 2); }
static void body_fails(struct selftest *t)    { EXPECT_EQ(t, 1 + 1, 3); }
static void body_skips(struct selftest *t)    { selftest_skip(t, "nothing to do"); }
static void body_asserts(struct selftest *t)
{
	ASSERT_TRUE(t, false);
	selftest_fail_at(t, __FILE__, __LINE__, "ASSERT_TRUE did not end the case");
}
static void body_faults(struct selftest *t)
{
	/* An unexpected #PF: no fixup entry covers this load. */
	volatile uint64_t *p = (volatile uint64_t *)UNMAPPED_ADDR;
	EXPECT_EQ(t, *p, 0);
}
static void body_ud2(struct selftest *t)
{
	(void)t;
	__asm__ __volatile__("ud2");
}

struct outcome_case {
	struct selftest_case body;
	enum selftest_outcome expected;
};

static const struct outcome_case outcome_table[] = {
	{ { "passes", body_passes }, SELFTEST_PASSED },
	{ { "fails_an_expectation", body_fails }, SELFTEST_FAILED },
	{ { "skips", body_skips }, SELFTEST_SKIPPED },
	{ { "fails_an_assertion", body_asserts }, SELFTEST_FAILED },
	{ { "takes_a_page_fault", body_faults }, SELFTEST_ABORTED },
	{ { "executes_ud2", body_ud2 }, SELFTEST_ABORTED },
};

static void test_outcomes(struct selftest *t)
{
	static const char *const names[] = { "passed", "failed", "skipped", "aborted" };

	for (size_t i = 0; i < ARRAY_SIZE(outcome_table); i++) {
		const struct outcome_case *c = &outcome_table[i];
		enum selftest_outcome got = selftest_run_nested(&c->body);

		if (got != c->expected)
			selftest_fail_at(t, __FILE__, __LINE__,
				"nested case '%s': expected %s, saw %s", c->body.name,
				names[c->expected], names[got]);
	}
}

static const struct selftest_case selftest_cases[] = {
	{ "nested_outcomes_are_reported", test_outcomes },
};
SELFTEST_SUITE(selftest, selftest_cases);
