/* tests/alloc_fail_free.c: no free path allocates (seed 004: a path
 * that frees page tables must not need memory to do it).
 *
 * frame_fail_countdown has no "fail every request" value: at 0 the next
 * request fails and the countdown turns itself off (-1).  So each free
 * path runs with the countdown at 0 and must leave it at 0: not one
 * request was made, which is more than "it survived failures".  The
 * mappings must then be gone on every CPU and every frame back.  The
 * negative controls show that the countdown check sees one allocation
 * and that the state comparison sees one leaked page table. */
#include "kernel/selftest_internal.h"
#include "kernel/string.h"
#include "tests/alloc_fail.h"

/* What the free paths take apart: made with the allocator working. */
struct af_victims {
	void *vm, *vm_now, *vz, *vmapped, *io, *io_2m;
	struct frame *pages[2];         /* vmap's, and the 4 KiB mappings' */
	virt_addr_t replace_va;         /* 4 KiB pages, replaced by 2 MiB */
};

struct af_free_path {
	const char *name;
	void (*run)(struct af_victims *v);
};

static void free_vfree(struct af_victims *v)       { vfree(v->vm); }
static void free_vfree_now(struct af_victims *v)   { vfree_now(v->vm_now); }
static void free_vfree_zeroed(struct af_victims *v) { vfree(v->vz); }
static void free_vunmap(struct af_victims *v)      { vunmap(v->vmapped); }
static void free_iounmap(struct af_victims *v)     { iounmap(v->io); }
static void free_iounmap_2m(struct af_victims *v)  { iounmap(v->io_2m); }
static void free_bad_vfree(struct af_victims *v)   { vfree((char *)v->vz + PAGE_SIZE); }
static void free_purge(struct af_victims *v)       { (void)v; vm_purge_lazy_now(); }

/* A 2 MiB page over 4 KiB pages: the replaced PTE table is unlinked,
 * shot down and freed; nothing new is needed. */
static void free_by_replacing(struct af_victims *v)
{
	ioremap_replace_at(v->replace_va, af_hole_pa() + 2 * MiB, 2 * MiB,
			   PT_CACHE_UC);
}

/* The shootdown's own free: a gather of page tables. */
static void free_gathered_tables(struct af_victims *v)
{
	struct pt_gather g;

	pt_gather_init(&g);
	kpt_unmap(v->replace_va, 2 * MiB, &g);
	shootdown_flush_and_free(&g);
}

static const struct af_free_path af_free_paths[] = {
	{ "vfree",                         free_vfree },
	{ "vfree_now",                     free_vfree_now },
	{ "vfree of a vzalloc",            free_vfree_zeroed },
	{ "vunmap",                        free_vunmap },
	{ "iounmap",                       free_iounmap },
	{ "iounmap of 2 MiB pages",        free_iounmap_2m },
	{ "vfree refused (mid-area)",      free_bad_vfree },
	{ "vm_purge_lazy_now",             free_purge },
	{ "ioremap_replace_at 2M over 4K", free_by_replacing },
	{ "kpt_unmap + shootdown free",    free_gathered_tables },
};

static bool af_victims_make(struct selftest *t, struct af_victims *v)
{
	for (int i = 0; i < 2; i++) {
		struct kpt_mapping m = {
			.va = v->replace_va + i * PAGE_SIZE, .size = PAGE_SIZE,
			.prot = PT_PROT_RW, .cache = PT_CACHE_WB,
			.max_page = PT_PAGE_4K,
		};

		v->pages[i] = frame_alloc(0, FRAME_KERNEL);
		if (!EXPECT_TRUE(t, v->pages[i] != NULL))
			return false;
		m.pa = frame_pa(v->pages[i]);
		if (!EXPECT_EQ(t, kpt_map(&m, KPT_MAP_NEW, NULL), 0))
			return false;
	}
	v->vm = vmalloc(3 * PAGE_SIZE);
	v->vm_now = vmalloc(PAGE_SIZE);
	v->vz = vzalloc(2 * PAGE_SIZE);
	v->vmapped = vmap(v->pages, 2, PT_PROT_RO);
	v->io = ioremap(af_hole_pa() + PAGE_SIZE, PAGE_SIZE);
	v->io_2m = ioremap(af_hole_pa() + 2 * MiB, 2 * MiB);
	return EXPECT_TRUE(t, v->vm && v->vm_now && v->vz && v->vmapped &&
			      v->io && v->io_2m);
}

/* Every free path with the countdown at 0; it must stay at 0. */
static void test_free_paths_never_allocate(struct selftest *t)
{
	struct af_victims v = { .replace_va = AF_VA(10) };
	struct vm_probe gone = { NULL, 1, 0, VM_EXPECT_FAULT };
	struct af_state before, after;
	uint64_t allocs0;

	vm_purge_lazy_now();
	before = af_state_now();
	if (af_victims_make(t, &v)) {
		allocs0 = frame_stats.allocs;
		for (size_t i = 0; i < ARRAY_SIZE(af_free_paths); i++) {
			long left;

			frame_fail_countdown = 0;
			af_free_paths[i].run(&v);
			left = frame_fail_countdown;
			frame_fail_countdown = -1;
			if (left != 0)
				selftest_fail_at(t, __FILE__, __LINE__, "%s: countdown "
						 "%ld after it, expected 0: it asked the "
						 "frame allocator for memory",
						 af_free_paths[i].name, left);
		}
		EXPECT_EQ(t, frame_stats.allocs - allocs0, 0);
		gone.va = v.vm;                  /* purged: faults everywhere */
		vm_probe_on_all_cpus(t, &gone);
		gone.va = v.vmapped;
		vm_probe_on_all_cpus(t, &gone);
		gone.va = (void *)v.replace_va;
		vm_probe_on_all_cpus(t, &gone);
	}
	for (int i = 0; i < 2; i++)
		if (v.pages[i])
			frame_free(v.pages[i], FRAME_KERNEL);
	after = af_state_now();
	/* The calls were counted: 3 vmallocs (one a vzalloc), 1 vmap, 2
	 * ioremaps, each freed, and the one refused free. */
	EXPECT_EQ(t, after.vm.vmallocs - before.vm.vmallocs, 3);
	EXPECT_EQ(t, after.vm.vfrees - before.vm.vfrees, 3);
	EXPECT_EQ(t, after.vm.vmaps - before.vm.vmaps, 1);
	EXPECT_EQ(t, after.vm.vunmaps - before.vm.vunmaps, 1);
	EXPECT_EQ(t, after.vm.ioremaps - before.vm.ioremaps, 2);
	EXPECT_EQ(t, after.vm.iounmaps - before.vm.iounmaps, 2);
	EXPECT_EQ(t, after.vm.bad_frees - before.vm.bad_frees, 1);
	before.vm = after.vm;   /* the rest must be exactly as it was */
	af_state_expect_equal(t, "after every free path", &before, &after, 0);
}

/* Negative control: an allocation under the same check is seen. */
static void test_countdown_sees_an_allocation(struct selftest *t)
{
	void *p;
	long left;

	vm_purge_lazy_now();
	frame_fail_countdown = 0;
	p = vmalloc(PAGE_SIZE);
	left = frame_fail_countdown;
	frame_fail_countdown = -1;
	EXPECT_TRUE(t, p == NULL);
	EXPECT_EQ(t, left, -1);
	vfree(p);
}

/* Negative control: one page table leaked between two snapshots. */
static void leak_one_table(struct selftest *t)
{
	struct af_state before = af_state_now(), after;
	struct frame *f = frame_alloc(0, FRAME_PT_PTE);

	after = af_state_now();
	if (f)
		frame_free(f, FRAME_PT_PTE);
	af_state_expect_equal(t, "one PTE table leaked on purpose", &before,
			      &after, 0);
}

static void test_state_comparison_sees_a_leak(struct selftest *t)
{
	static const struct selftest_case leak = { "leak_one_table", leak_one_table };

	EXPECT_EQ(t, selftest_run_nested(&leak), SELFTEST_FAILED);
}

static const struct selftest_case alloc_fail_free_cases[] = {
	{ "free_paths_never_allocate",     test_free_paths_never_allocate },
	{ "countdown_sees_an_allocation",  test_countdown_sees_an_allocation },
	{ "state_comparison_sees_a_leak",  test_state_comparison_sees_a_leak },
};
SELFTEST_SUITE(alloc_fail_free, alloc_fail_free_cases);
