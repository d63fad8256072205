/* tests/traps.c: deliberate exceptions, caught through the fixup table.
 * Each row provokes one fault and states what the handler must record. */
#include "arch/x86/trap.h"
#include "kernel/extable.h"
#include "kernel/selftest.h"

/* Nothing is ever mapped at the bottom of the vmalloc area's first
 * PML4 slot before vmalloc exists, and the address is canonical. */
#define UNMAPPED_ADDR    0xffffc90000000000ULL
#define NONCANONICAL     0x0000800000000000ULL

static uint64_t sink;

static int do_read_unmapped(void)  { return probe_read_u64((void *)UNMAPPED_ADDR, &sink); }
static int do_write_unmapped(void) { return probe_write_u64((void *)UNMAPPED_ADDR, 1); }
static int do_exec_unmapped(void)  { return probe_exec((void *)UNMAPPED_ADDR); }
static int do_read_noncanonical(void) { return probe_read_u64((void *)NONCANONICAL, &sink); }

struct fault_case {
	const char *what;
	int (*provoke)(void);
	uint64_t vector;
	uint64_t error_code_bits;   /* must all be set in the error code */
	uint64_t cr2;               /* checked for #PF */
};

static const struct fault_case fault_table[] = {
	{ "read of an unmapped page", do_read_unmapped, VEC_PAGE_FAULT, 0, UNMAPPED_ADDR },
	{ "write to an unmapped page", do_write_unmapped, VEC_PAGE_FAULT, PF_ERR_WRITE, UNMAPPED_ADDR },
	{ "jump to an unmapped page", do_exec_unmapped, VEC_PAGE_FAULT, PF_ERR_INSTR, UNMAPPED_ADDR },
	{ "read of a non-canonical address", do_read_noncanonical, VEC_GENERAL_PROTECTION, 0, 0 },
	{ "ud2", probe_ud2, VEC_INVALID_OPCODE, 0, 0 },
	{ "int3", probe_int3, VEC_BREAKPOINT, 0, 0 },
};

static void test_fault_table(struct selftest *t)
{
	for (size_t i = 0; i < ARRAY_SIZE(fault_table); i++) {
		const struct fault_case *c = &fault_table[i];
		int ret = c->provoke();
		const struct fault_record *f = extable_last_fault();

		if (ret != -EFAULT || f->vector != c->vector ||
		    (f->error_code & c->error_code_bits) != c->error_code_bits ||
		    (c->vector == VEC_PAGE_FAULT && f->cr2 != c->cr2))
			selftest_fail_at(t, __FILE__, __LINE__,
				"%s: expected -EFAULT, vector %lu, error bits %#lx, cr2 %#lx; "
				"saw %d, vector %lu, error %#lx, cr2 %#lx", c->what,
				c->vector, c->error_code_bits, c->cr2, ret, f->vector,
				f->error_code, f->cr2);
	}
}

/* The probes must not report a fault when there is none. */
static void test_probe_success(struct selftest *t)
{
	uint64_t value = 0x5a5a5a5a12345678ULL, out = 0;

	EXPECT_EQ(t, probe_read_u64(&value, &out), 0);
	EXPECT_EQ(t, out, value);
	EXPECT_EQ(t, probe_write_u64(&out, 42), 0);
	EXPECT_EQ(t, out, 42);
}

/* The spurious-#PF bound: SPURIOUS_PF_REPEAT_LIMIT in a row at one
 * (CR2, RIP) trips it; another address or RIP in between starts over. */
static void test_spurious_fault_repeats_are_bounded(struct selftest *t)
{
	static const struct {
		const char *name;
		uint64_t other_cr2, other_rip;   /* one fault elsewhere midway */
		bool trips;
	} rows[] = {
		{ "the same (CR2, RIP) every time", 0, 0, true },
		{ "another CR2 midway",  0x2000, 0x10, false },
		{ "another RIP midway",  0x1000, 0x20, false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct spurious_pf s = { 0 };
		unsigned int tripped_at = 0;

		for (unsigned int n = 1; n <= SPURIOUS_PF_REPEAT_LIMIT && !tripped_at; n++) {
			bool other = rows[i].other_cr2 && n == SPURIOUS_PF_REPEAT_LIMIT / 2;

			if (spurious_pf_repeated(&s, other ? rows[i].other_cr2 : 0x1000,
						 other ? rows[i].other_rip : 0x10))
				tripped_at = n;
		}
		if ((tripped_at != 0) != rows[i].trips ||
		    (rows[i].trips && tripped_at != SPURIOUS_PF_REPEAT_LIMIT))
			selftest_fail_at(t, __FILE__, __LINE__, "%s: tripped at "
				"fault %u (0: never), want %s", rows[i].name, tripped_at,
				rows[i].trips ? "at the limit" : "never");
	}
}

static const struct selftest_case traps_cases[] = {
	{ "faults_are_caught_with_vector_and_address", test_fault_table },
	{ "probes_succeed_on_mapped_memory", test_probe_success },
	{ "spurious_fault_repeats_are_bounded", test_spurious_fault_repeats_are_bounded },
};
SELFTEST_SUITE(traps, traps_cases);
