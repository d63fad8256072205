/* vm_common.h: helpers shared by tests/vmalloc.c and tests/shootdown.c.
 *
 * Pages are checked through their first word, which holds
 * vm_pattern(seed, page index): enough to tell one page, one mapping and
 * one generation from another without touching every byte under TCG. */
#ifndef TESTS_VM_COMMON_H
#define TESTS_VM_COMMON_H

#include "kernel/extable.h"
#include "kernel/selftest.h"
#include "kernel/smp.h"
#include "mm/frame.h"
#include "mm/kpt.h"
#include "mm/shootdown.h"
#include "mm/vmalloc.h"

/* A page of low memory the tests may write through ioremap_cache (the
 * direct map maps it write-back, so no other type may): below 1 MiB,
 * so RESERVED (not the allocator's), and clear of the AP trampoline
 * (0x8000-0xc000) and the BIOS areas.  Its contents are restored. */
#define VM_TEST_SCRATCH_PA 0x70000ULL

static inline uint64_t vm_pattern(uint64_t seed, uint64_t page)
{
	return seed ^ (page * 0x9e3779b97f4a7c15ULL) ^ 0x5a5a0000ULL;
}

/* Write the pattern into the first word of each of @n pages at @va. */
static inline void vm_fill(void *va, uint64_t n, uint64_t seed)
{
	for (uint64_t i = 0; i < n; i++)
		((volatile uint64_t *)va)[i * (PAGE_SIZE / 8)] = vm_pattern(seed, i);
}

/* What every CPU must see at an address. */
enum vm_expect {
	VM_EXPECT_PATTERN,   /* the pattern of @seed */
	VM_EXPECT_FAULT,     /* a #PF at that very address */
};

struct vm_probe {
	const void *va;
	uint64_t pages;
	uint64_t seed;
	enum vm_expect expect;
};

/* Every online CPU reads the first word of every page of @p and checks
 * it; failures name the CPU, the page and the value seen. */
void vm_probe_on_all_cpus(struct selftest *t, const struct vm_probe *p);

/* Page-table and frame counts, to prove that nothing leaked. */
struct vm_counts {
	uint64_t tables_live[PT_LEVEL_PGD + 1];
	uint64_t tables_linked[PT_LEVEL_PGD + 1];
	uint64_t vmalloc_frames;
	uint64_t free_frames_plus_nodes;   /* node frames are kept for good */
};
struct vm_counts vm_counts_now(void);
void vm_expect_counts_equal(struct selftest *t, const struct vm_counts *before,
			    const struct vm_counts *after, const char *when);

bool vm_need_two_cpus(struct selftest *t);

#endif
