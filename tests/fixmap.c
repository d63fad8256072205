/* tests/fixmap.c: local-only invalidation must happen on map too (seed
 * 001).  CPU 0 maps frame A at the shared slot; CPU 1 reads the slot
 * while it is mapped (a real CPU might do so speculatively); CPU 0
 * unmaps, invalidating only its own TLB.  Then CPU 1 maps frame B at the
 * slot from its call handler (no IPIs there, as in an NMI) and reads it.
 * With the invalidation on map it reads B; with the switch that skips it,
 * it still reads A through its stale entry. */
#include "kernel/printk.h"
#include "mm/fixmap.h"
#include "mm/layout.h"
#include "tests/vm_common.h"

struct slot_use {
	const void *va;      /* the slot, as CPU 0 mapped it */
	phys_addr_t pa;
	uint64_t value;      /* what the slot read, ~0 if it faulted */
	bool mapped;
};

static void read_slot_fn(void *arg)   /* the slot as CPU 0 mapped it */
{
	struct slot_use *u = arg;

	if (probe_read_u64(u->va, &u->value))
		u->value = ~0ULL;
}

/* In CPU 1's call handler: map, read, unmap, with local invalidation. */
static void map_read_unmap_fn(void *arg)
{
	struct slot_use *u = arg;
	void *p = fixmap_local_map(u->pa);

	u->mapped = p != NULL;
	if (!p)
		return;
	if (probe_read_u64(p, &u->value))
		u->value = ~0ULL;
	fixmap_local_unmap(p);
}

/* Returns what CPU 1 read after mapping frame B. */
static uint64_t slot_reuse_reads(struct selftest *t, bool skip_invalidate_on_map)
{
	struct frame *a = frame_alloc(0, FRAME_KERNEL), *b = frame_alloc(0, FRAME_KERNEL);
	struct slot_use seen = { 0 }, reuse = { 0 };
	uint64_t *slot;

	if (!EXPECT_TRUE(t, a && b))
		goto out;
	*(uint64_t *)frame_virt(a) = 0xaaaa;
	*(uint64_t *)frame_virt(b) = 0xbbbb;
	slot = fixmap_local_map(frame_pa(a));
	if (!EXPECT_TRUE(t, slot != NULL))
		goto out;
	seen.va = slot;
	smp_call_one(1, read_slot_fn, &seen, SMP_WAIT_ACK);   /* CPU 1 caches it */
	fixmap_local_unmap(slot);                            /* CPU 0 only */
	EXPECT_EQ(t, seen.value, 0xaaaa);

	reuse.pa = frame_pa(b);
	fixmap_selftest_skip_invalidate_on_map = skip_invalidate_on_map;
	smp_call_one(1, map_read_unmap_fn, &reuse, SMP_WAIT_ACK);
	fixmap_selftest_skip_invalidate_on_map = false;
	EXPECT_TRUE(t, reuse.mapped);
	selftest_diag(t, "%s: CPU 1 mapped frame B (0xbbbb) and read %#llx",
		      skip_invalidate_on_map ? "no invalidation on map" :
		      "invalidation on map", (unsigned long long)reuse.value);
out:
	selftest_flush_every_tlb();
	if (a)
		frame_free(a, FRAME_KERNEL);
	if (b)
		frame_free(b, FRAME_KERNEL);
	return reuse.value;
}

static void test_local_invalidation_on_map(struct selftest *t)
{
	if (!vm_need_two_cpus(t))
		return;
	EXPECT_EQ(t, slot_reuse_reads(t, true), 0xaaaa);    /* the bug, visible */
	EXPECT_EQ(t, slot_reuse_reads(t, false), 0xbbbb);   /* and prevented */
}

static void test_slot_refuses_bad_use(struct selftest *t)
{
	void *p = fixmap_local_map(0x1000);

	ASSERT_TRUE(t, p != NULL);
	EXPECT_TRUE(t, fixmap_local_map(0x2000) == NULL);   /* held: no wait */
	fixmap_local_unmap((char *)p + PAGE_SIZE);          /* not the slot */
	EXPECT_TRUE(t, printk_last_contains("is not the slot"));
	fixmap_local_unmap(p);
	EXPECT_TRUE(t, fixmap_local_map(0x1001) == NULL);
	EXPECT_TRUE(t, printk_last_contains("not page-aligned"));
	p = fixmap_local_map(0x1000);                       /* free again */
	EXPECT_TRUE(t, p != NULL);
	fixmap_local_unmap(p);
}

static const struct selftest_case fixmap_cases[] = {
	{ "local_invalidation_on_map", test_local_invalidation_on_map },
	{ "slot_refuses_bad_use",      test_slot_refuses_bad_use },
};
SELFTEST_SUITE(fixmap, fixmap_cases);
