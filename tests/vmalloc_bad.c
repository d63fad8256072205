/* tests/vmalloc_bad.c: bad input to vmalloc/vmap/ioremap and their
 * frees is refused with a message and changes nothing; running out of
 * frames leaks nothing; 100,000 random operations from all CPUs at once
 * leave every count where it started. */
#include "kernel/clock.h"
#include "kernel/printk.h"
#include "kernel/string.h"
#include "mm/layout.h"
#include "tests/vm_common.h"

/* ---- bad input ---- */

/* Each case does one bad call and names a piece of the message. */
struct bad_call {
	const char *name;
	void *(*call)(void *live_vmalloc, void *live_ioremap);
	const char *message;
};

static void *bad_vmalloc_zero(void *v, void *io) { (void)v; (void)io; return vmalloc(0); }
static void *bad_vmalloc_huge(void *v, void *io) { (void)v; (void)io; return vmalloc(VMALLOC_END - VMALLOC_START); }
static void *bad_vmap_null(void *v, void *io) { (void)v; (void)io; return vmap(NULL, 1, PT_PROT_RW); }
static void *bad_ioremap_zero(void *v, void *io) { (void)v; (void)io; return ioremap(VM_TEST_SCRATCH_PA, 0); }
static void *bad_ioremap_wrap(void *v, void *io) { (void)v; (void)io; return ioremap(~0ULL - PAGE_SIZE, 2 * PAGE_SIZE); }
static void *bad_ioremap_width(void *v, void *io)
{
	(void)v; (void)io;
	return ioremap(1ULL << cpu_features.phys_addr_bits, PAGE_SIZE);
}
static void *bad_ioremap_ram(void *v, void *io)   /* v's own data page */
{
	struct kpt_walk w;

	(void)io;
	return kpt_walk((uintptr_t)v, &w) ? NULL : ioremap(w.pa, PAGE_SIZE);
}
static void *bad_ioremap_direct(void *v, void *io)   /* WB in the direct map */
{
	(void)v; (void)io;
	return ioremap(VM_TEST_SCRATCH_PA, PAGE_SIZE);
}
static void *bad_ioremap_wc_direct(void *v, void *io)
{
	(void)v; (void)io;
	return ioremap_wc(VM_TEST_SCRATCH_PA, PAGE_SIZE);
}
static void *bad_vfree_never(void *v, void *io) { (void)v; (void)io; vfree((void *)(VMALLOC_END - 64 * PAGE_SIZE)); return NULL; }
static void *bad_vfree_middle(void *v, void *io) { (void)io; vfree((char *)v + PAGE_SIZE); return NULL; }
static void *bad_vfree_kind(void *v, void *io) { (void)v; vfree(io); return NULL; }
static void *bad_iounmap_kind(void *v, void *io) { (void)io; iounmap(v); return NULL; }
static void *bad_vunmap_kind(void *v, void *io) { (void)io; vunmap(v); return NULL; }
static void *bad_vfree_outside(void *v, void *io) { (void)v; (void)io; vfree(frame_table); return NULL; }

/* ioremap_replace_at() over a range the kernel owns: NULL when refused
 * with -EINVAL, as the table expects; anything else is reported. */
static void *replace_refused(virt_addr_t va, uint64_t size)
{
	int err = ioremap_replace_at(va, VM_TEST_SCRATCH_PA, size, PT_CACHE_UC);

	return err == -EINVAL ? NULL : (void *)(uintptr_t)(err ? 1 : 2);
}
static void *bad_replace_fixmap(void *v, void *io) { (void)v; (void)io; return replace_refused(FIXMAP_LOCAL_START, PAGE_SIZE); }
static void *bad_replace_lapic(void *v, void *io) { (void)v; (void)io; return replace_refused(FIXMAP_LAPIC, PAGE_SIZE); }
static void *bad_replace_stacks(void *v, void *io) { (void)v; (void)io; return replace_refused(CPU_STACKS_START, 2 * MiB); }
static void *bad_replace_direct(void *v, void *io) { (void)v; (void)io; return replace_refused(DIRECT_MAP_START, 2 * MiB); }
static void *bad_replace_image(void *v, void *io) { (void)v; (void)io; return replace_refused(KERNEL_IMAGE_START, 2 * MiB); }
static void *bad_replace_vmalloc(void *v, void *io) { (void)io; return replace_refused((virt_addr_t)v, PAGE_SIZE); }
static void *bad_replace_wrap(void *v, void *io) { (void)v; (void)io; return replace_refused(~0ULL - 2 * MiB + 1, 4 * MiB); }

static const struct bad_call bad_calls[] = {
	{ "vmalloc(0)",                  bad_vmalloc_zero,  "size 0x0 is zero" },
	{ "vmalloc(whole window)",       bad_vmalloc_huge,  "larger than the vmalloc window" },
	{ "vmap(NULL)",                  bad_vmap_null,     "need a non-NULL array" },
	{ "ioremap size 0",              bad_ioremap_zero,  "size is 0" },
	{ "ioremap wrapping",            bad_ioremap_wrap,  "overflows" },
	{ "ioremap past MAXPHYADDR",     bad_ioremap_width, "physical address width" },
	{ "ioremap of managed RAM",      bad_ioremap_ram,   "covers RAM" },
	{ "ioremap UC of a direct-mapped page", bad_ioremap_direct, "mapped write-back by the direct map" },
	{ "ioremap_wc of a direct-mapped page", bad_ioremap_wc_direct, "use ioremap_cache()" },
	{ "vfree never mapped",          bad_vfree_never,   "vfree(0xffffe8fffffc0000): refused" },
	{ "vfree of the middle",         bad_vfree_middle,  "vfree(0x" },
	{ "vfree of an ioremap",         bad_vfree_kind,    "vfree(0x" },
	{ "iounmap of a vmalloc",        bad_iounmap_kind,  "iounmap(0x" },
	{ "vunmap of a vmalloc",         bad_vunmap_kind,   "vunmap(0x" },
	{ "vfree outside the window",    bad_vfree_outside, "nothing freed" },
	{ "replace the fixmap's slot",   bad_replace_fixmap, "overlaps the CPU area" },
	{ "replace the LAPIC page",      bad_replace_lapic,  "overlaps the CPU area" },
	{ "replace the AP stacks",       bad_replace_stacks, "overlaps the CPU area" },
	{ "replace the direct map",      bad_replace_direct, "overlaps the direct map" },
	{ "replace the kernel image",    bad_replace_image,  "overlaps the kernel image" },
	{ "replace a vmalloc area",      bad_replace_vmalloc, "overlaps the vmalloc window" },
	{ "replace past the top",        bad_replace_wrap,   "empty or wraps" },
};

static void test_bad_input_changes_nothing(struct selftest *t)
{
	uint64_t *v = vmalloc(2 * PAGE_SIZE);
	void *io = ioremap_cache(VM_TEST_SCRATCH_PA, PAGE_SIZE);
	struct vm_counts before, after;
	uint64_t refused = vm_stats.bad_frees;

	ASSERT_TRUE(t, v != NULL && io != NULL);
	v[0] = 0x600d;
	before = vm_counts_now();
	vfree(NULL);        /* nothing at all */
	iounmap(NULL);
	vunmap(NULL);
	for (size_t i = 0; i < ARRAY_SIZE(bad_calls); i++) {
		void *r = bad_calls[i].call(v, io);

		if (r != NULL)
			selftest_fail_at(t, __FILE__, __LINE__,
					 "%s returned %p, expected NULL",
					 bad_calls[i].name, r);
		if (!printk_last_contains(bad_calls[i].message))
			selftest_fail_at(t, __FILE__, __LINE__,
					 "%s: the last message lacks \"%s\"",
					 bad_calls[i].name, bad_calls[i].message);
	}
	after = vm_counts_now();
	vm_expect_counts_equal(t, &before, &after, "after bad input");
	EXPECT_EQ(t, vm_stats.bad_frees - refused, 6);
	EXPECT_EQ(t, v[0], 0x600d);   /* still mapped, still ours */
	vfree(v);
	vfree(v);                     /* a double free is refused too */
	EXPECT_TRUE(t, printk_last_contains("vfree(0x"));
	iounmap(io);
}

/* Out of frames at every allocation a vmalloc makes: NULL, and after
 * the purge every count is where it was. */
static void test_out_of_frames_leaks_nothing(struct selftest *t)
{
	struct vm_counts before, after;
	unsigned int failures = 0;

	vm_purge_lazy_now();
	before = vm_counts_now();
	for (long n = 0; n < 12; n++) {
		void *p;

		frame_fail_countdown = n;
		p = vmalloc(5 * PAGE_SIZE);
		frame_fail_countdown = -1;
		if (!p)
			failures++;
		vfree(p);
	}
	vm_purge_lazy_now();
	after = vm_counts_now();
	selftest_diag(t, "%u of 12 vmallocs ran out of frames", failures);
	EXPECT_GE(t, failures, 5);   /* 5 data frames, then page tables */
	vm_expect_counts_equal(t, &before, &after, "after running out");
}

/* ---- 100,000 random operations from all CPUs at once ---- */

#define STRESS_OPS_TOTAL 100000
#define STRESS_SLOTS     8

struct stress_slot {
	void *va;
	uint64_t pages;
	uint64_t seed;
	bool io;
};

static uint64_t stress_rng_next(uint64_t *s)   /* xorshift64 */
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void stress_release(struct stress_slot *s)
{
	if (s->io)
		iounmap(s->va);
	else
		vfree(s->va);
	s->va = NULL;
}

/* Check the slot's first page still holds what this CPU wrote. */
static bool stress_check(struct selftest *t, unsigned int cpu,
			 const struct stress_slot *s)
{
	uint64_t v = *(volatile uint64_t *)s->va;

	if (s->io || v == vm_pattern(s->seed, 0))
		return true;
	selftest_fail_at(t, __FILE__, __LINE__, "CPU %u: %p reads %#llx, "
			 "expected %#llx", cpu, s->va, (unsigned long long)v,
			 (unsigned long long)vm_pattern(s->seed, 0));
	return false;
}

static void stress_body(struct selftest *t, unsigned int cpu, void *arg)
{
	struct stress_slot slots[STRESS_SLOTS] = { 0 };
	uint64_t rng = 0x9e3779b97f4a7c15ULL * (cpu + 1);
	uint64_t ops = *(uint64_t *)arg;
	bool ok = true;

	for (uint64_t i = 0; i < ops && ok; i++) {
		struct stress_slot *s = &slots[stress_rng_next(&rng) % STRESS_SLOTS];

		if (s->va) {
			ok = stress_check(t, cpu, s);
			stress_release(s);
			continue;
		}
		s->io = stress_rng_next(&rng) % 4 == 0;
		s->pages = 1 + stress_rng_next(&rng) % 16;
		s->seed = rng;
		s->va = s->io ? ioremap_cache(VM_TEST_SCRATCH_PA, s->pages * PAGE_SIZE)
			      : vmalloc(s->pages * PAGE_SIZE);
		if (!s->va) {
			selftest_fail_at(t, __FILE__, __LINE__, "CPU %u: op %llu: "
					 "%s of %llu pages failed", cpu,
					 (unsigned long long)i, s->io ? "ioremap" :
					 "vmalloc", (unsigned long long)s->pages);
			ok = false;
		} else if (!s->io) {
			vm_fill(s->va, 1, s->seed);
		}
	}
	for (size_t i = 0; i < STRESS_SLOTS; i++)
		if (slots[i].va)
			stress_release(&slots[i]);
}

static void test_random_ops_on_all_cpus_leak_nothing(struct selftest *t)
{
	uint64_t ops = STRESS_OPS_TOTAL / smp_num_online();
	struct shootdown_stats sd0 = shootdown_stats_total(), sd1;
	uint64_t purges0 = vm_stats.purges;
	uint64_t lazy_override = vm_lazy_max_pages_override;
	struct vm_counts before, after;

	vm_purge_lazy_now();
	before = vm_counts_now();
	/* A small lazy limit, so purges happen during the run: 512 pages. */
	vm_lazy_max_pages_override = 512;
	selftest_run_on_all_cpus(t, stress_body, &ops);
	vm_lazy_max_pages_override = lazy_override;
	vm_purge_lazy_now();
	after = vm_counts_now();
	sd1 = shootdown_stats_total();
	selftest_diag(t, "%llu ops on each of %u CPUs; %llu purges, %llu "
		      "shootdowns, %llu page tables and %llu data pages freed "
		      "after acks", (unsigned long long)ops, smp_num_online(),
		      (unsigned long long)(vm_stats.purges - purges0),
		      (unsigned long long)(sd1.shootdowns - sd0.shootdowns),
		      (unsigned long long)(sd1.pt_pages_freed - sd0.pt_pages_freed),
		      (unsigned long long)(sd1.data_pages_freed - sd0.data_pages_freed));
	vm_expect_counts_equal(t, &before, &after, "after the random run");
	EXPECT_GT(t, vm_stats.purges - purges0, 1);
}

/* Out of frames while another CPU's purge has taken every waiting area
 * but not yet freed its pages: the shortage must wait for that purge,
 * not fail.  CPU 1 purges; this CPU, IRQs off and not polling, holds its
 * acknowledgment back so that the purge stays in flight; then the
 * allocator fails this CPU's next request.  Without the wait, vmalloc
 * sees nothing to purge and returns NULL; with it, it serves CPU 1's IPI
 * while it waits, the purge frees its pages, and the retry succeeds. */
static void purge_on_cpu1(void *arg)
{
	(void)arg;
	vm_purge_lazy_now();
}

static void test_shortage_waits_for_a_purge_in_flight(struct selftest *t)
{
	struct smp_idle_work w = { purge_on_cpu1, NULL };
	uint64_t waits0 = vm_stats.purge_waits, start;
	uint64_t lazy_override = vm_lazy_max_pages_override;
	void *p[8], *q = NULL;

	if (smp_num_online() < 2) {
		selftest_skip(t, "needs a second CPU to purge");
		return;
	}
	vm_purge_lazy_now();
	vm_lazy_max_pages_override = 1 << 20;   /* no purge on its own */
	for (size_t i = 0; i < ARRAY_SIZE(p); i++)
		p[i] = vmalloc(PAGE_SIZE);
	for (size_t i = 0; i < ARRAY_SIZE(p); i++)
		vfree(p[i]);
	ASSERT_TRUE(t, vm_lazy_pages() > 0);

	arch_irq_disable();
	if (!EXPECT_EQ(t, smp_post_idle_work(1, &w), 0)) {
		arch_irq_enable();
		return;
	}
	for (start = clock_ns(); READ_ONCE(shootdown_cpu_step[1]) !=
	     SHOOTDOWN_WAITING_FOR_ACKS && clock_ns() - start < NSEC_PER_SEC; )
		cpu_relax();
	if (READ_ONCE(shootdown_cpu_step[1]) == SHOOTDOWN_WAITING_FOR_ACKS) {
		frame_fail_countdown = 0;          /* the next allocation fails */
		q = vmalloc(PAGE_SIZE);
		frame_fail_countdown = -1;
	}
	arch_irq_enable();
	while (smp_idle_work_pending(1))
		cpu_relax();
	vm_lazy_max_pages_override = lazy_override;
	selftest_diag(t, "vmalloc while CPU 1's purge was in flight: %s; "
		      "%llu waits for a purge", q ? "succeeded" : "NULL",
		      (unsigned long long)(vm_stats.purge_waits - waits0));
	EXPECT_TRUE(t, q != NULL);
	EXPECT_EQ(t, vm_stats.purge_waits - waits0, 1);
	vfree(q);
	vm_purge_lazy_now();
}

static const struct selftest_case vmalloc_bad_cases[] = {
	{ "bad_input_changes_nothing",            test_bad_input_changes_nothing },
	{ "out_of_frames_leaks_nothing",          test_out_of_frames_leaks_nothing },
	{ "random_ops_on_all_cpus_leak_nothing",  test_random_ops_on_all_cpus_leak_nothing },
	{ "shortage_waits_for_a_purge_in_flight", test_shortage_waits_for_a_purge_in_flight },
};
SELFTEST_SUITE(vmalloc_bad, vmalloc_bad_cases);
