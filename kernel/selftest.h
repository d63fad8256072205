/* In-kernel selftests, reported in KTAP version 1 on the console.
 *
 * A suite is a table of named cases, registered in the .selftests linker
 * section by SELFTEST_SUITE(); kmain() runs the suites that the kernel
 * option selftest=<name or glob> picks (all of them by default,
 * selftest=none for none).  A case fails through the EXPECT_ and ASSERT_ macros, whose
 * messages print the values they saw; a case that takes an unexpected
 * exception is reported as "not ok" with the exception report, and the
 * run goes on with the next case.
 *
 *   static void test_thing(struct selftest *t)
 *   {
 *           EXPECT_EQ(t, add(2, 2), 4);
 *   }
 *   static const struct selftest_case thing_cases[] = {
 *           { "add_small_numbers", test_thing },
 *   };
 *   SELFTEST_SUITE(thing, thing_cases);
 */
#ifndef KERNEL_SELFTEST_H
#define KERNEL_SELFTEST_H

#include "kernel/types.h"

struct selftest;   /* the state of one running case (kernel/selftest.c) */

struct selftest_case {
	const char *name;
	void (*run)(struct selftest *t);
};

struct selftest_suite {
	const char *name;
	const struct selftest_case *cases;
	size_t ncases;
};

#define SELFTEST_SUITE(ident, table)                                         \
	static const struct selftest_suite selftest_suite_##ident             \
		__section(".selftests") __used __aligned(8) = {               \
		.name = #ident, .cases = table, .ncases = ARRAY_SIZE(table) }

void selftest_fail_at(struct selftest *t, const char *file, int line,
		      const char *fmt, ...) __printf(4, 5);
void selftest_diag(struct selftest *t, const char *fmt, ...) __printf(2, 3);
void selftest_skip(struct selftest *t, const char *reason);
bool selftest_failed(const struct selftest *t);

#define EXPECT_TRUE(t, cond)                                                 \
	({                                                                   \
		bool ok_ = !!(cond);                                         \
		if (!ok_)                                                    \
			selftest_fail_at(t, __FILE__, __LINE__,              \
					 "expected %s to be true", #cond);   \
		ok_;                                                         \
	})

#define EXPECT_CMP_(t, a, op, b)                                             \
	({                                                                   \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);             \
		bool ok_ = a_ op b_;                                         \
		if (!ok_)                                                    \
			selftest_fail_at(t, __FILE__, __LINE__,              \
				"expected %s %s %s, saw %lld (0x%llx) and "  \
				"%lld (0x%llx)", #a, #op, #b,                \
				(long long)a_, (unsigned long long)a_,       \
				(long long)b_, (unsigned long long)b_);      \
		ok_;                                                         \
	})

/* Comparisons are made on the values converted to uint64_t, so compare
 * like with like; the message prints both signed and hex. */
#define EXPECT_EQ(t, a, b) EXPECT_CMP_(t, a, ==, b)
#define EXPECT_NE(t, a, b) EXPECT_CMP_(t, a, !=, b)
#define EXPECT_LE(t, a, b) EXPECT_CMP_(t, a, <=, b)
#define EXPECT_LT(t, a, b) EXPECT_CMP_(t, a, <, b)
#define EXPECT_GE(t, a, b) EXPECT_CMP_(t, a, >=, b)
#define EXPECT_GT(t, a, b) EXPECT_CMP_(t, a, >, b)

#define EXPECT_STREQ(t, a, b)                                                \
	({                                                                   \
		const char *sa_ = (a), *sb_ = (b);                           \
		bool ok_ = strcmp(sa_, sb_) == 0;                            \
		if (!ok_)                                                    \
			selftest_fail_at(t, __FILE__, __LINE__,              \
				"expected %s == %s, saw \"%s\" and \"%s\"",  \
				#a, #b, sa_, sb_);                           \
		ok_;                                                         \
	})

/* ASSERT_*: like EXPECT_*, but ends the case at once when it fails. */
#define ASSERT_TRUE(t, c)      do { if (!EXPECT_TRUE(t, c)) return; } while (0)
#define ASSERT_EQ(t, a, b)     do { if (!EXPECT_EQ(t, a, b)) return; } while (0)
#define ASSERT_NE(t, a, b)     do { if (!EXPECT_NE(t, a, b)) return; } while (0)

/* Run @fn on every online CPU at the same moment: the boot CPU runs it
 * in the calling case, each AP from its idle loop with IRQs on, and all
 * enter it together after a barrier.  Each CPU gets its own struct
 * selftest for the EXPECT and ASSERT macros.  Their failures are not
 * printed where they happen: the boot CPU gathers them after every CPU
 * has returned and reports them as diagnostics of the calling case,
 * naming the CPU, and the case fails.  A CPU that has not returned after
 * SELFTEST_ALL_CPUS_TIMEOUT_NS is a hung kernel: panic, naming it.
 * => boot CPU, inside a case; one run at a time. */
#define SELFTEST_ALL_CPUS_TIMEOUT_NS (120ULL * 1000000000ULL)
typedef void (*selftest_cpu_fn)(struct selftest *t, unsigned int cpu, void *arg);
void selftest_run_on_all_cpus(struct selftest *t, selftest_cpu_fn fn, void *arg);

/* Inside a selftest_run_on_all_cpus() body: wait until every CPU of the
 * run has arrived here.  It serves cross-CPU calls while it waits. */
void selftest_cpu_barrier(struct selftest *t);

/* After a negative control, or a case that left stale entries on
 * purpose: every online CPU flushes its whole TLB and paging-structure
 * caches, and this returns after the last one has.  Call it before the
 * frames those entries point to are freed or reused.
 * => thread context; no spinlock held. */
void selftest_flush_every_tlb(void);

/* Runs the suites whose names match @pattern ('*' and '?' globs, several
 * patterns separated by commas); returns the number of failed cases, or
 * -ENOENT when the pattern matched no suite.  Prints KTAP. */
int selftest_run_matching(const char *pattern);

#endif
