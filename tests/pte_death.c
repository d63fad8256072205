/* tests/pte_death.c: one PTE table, from linked to free, in the order
 * the protocol promises: vfree clears its entries and leaves it linked,
 * empty (the next area there would reuse it); the purge unlinks it and
 * gathers it (still allocated), its shootdown runs, and only then is it
 * free.
 *
 * This is also the scenario that docs/gdb.md steps through and that
 * tests/gdb/test_gdb.py stops in (`selftest=pte_death`): the diagnostics
 * print the kernel's own walk and the table's address, which the gdb
 * helpers must agree with.  Change a diagnostic's words and that test's
 * patterns together.
 */
#include "kernel/printk.h"
#include "mm/layout.h"
#include "tests/vm_common.h"

/* 4 MiB: wherever vmalloc puts the area, a whole 2 MiB-aligned stretch
 * of it, and so a whole PTE table, belongs to it alone; vfree must
 * empty that table, and the purge unlink and free it. */
#define DEATH_AREA_SIZE (4 * MiB)

/* The table this case watches, kept where a debugger finds it by name
 * ("frame-info (pte_death_table - frame_table) << 12"); NULL between runs. */
static struct frame *pte_death_table;

static const char *level_name(enum pt_level level)
{
	static const char *const names[] = { "?", "pte", "pmd", "pud", "pgd" };

	return level <= PT_LEVEL_PGD ? names[level] : "?";
}

/* The kernel's walk of @va, as a diagnostic line the gdb test reads. */
static void print_walk(struct selftest *t, const char *when, virt_addr_t va)
{
	struct kpt_walk w = { 0 };
	int err = kpt_walk(va, &w);

	selftest_diag(t, "%s: kpt_walk %#llx: %s, level %s, entry %#llx = %#llx, "
		      "pa %#llx", when, (unsigned long long)va,
		      err ? "not mapped" : "mapped", level_name(w.level),
		      (unsigned long long)virt_to_phys(w.entry),
		      (unsigned long long)w.value,
		      (unsigned long long)(err ? 0 : w.pa));
}

static void test_vfree_frees_an_emptied_pte_table_after_every_ack(struct selftest *t)
{
	struct kpt_walk w = { 0 };
	struct frame *table;
	virt_addr_t va;
	char *p;

	vm_purge_lazy_now();   /* nothing else waits: the purge below is ours */
	p = vmalloc(DEATH_AREA_SIZE);
	if (!EXPECT_TRUE(t, p != NULL))
		return;
	vm_fill(p, DEATH_AREA_SIZE / PAGE_SIZE, 0xdea7);
	va = ALIGN_UP((virt_addr_t)p, 2 * MiB);   /* the table's first page */
	if (!EXPECT_EQ(t, kpt_walk(va, &w), 0) ||
	    !EXPECT_EQ(t, w.level, PT_LEVEL_PTE)) {
		vfree(p);
		return;
	}
	table = frame_of(virt_to_phys(w.entry) & ~(PAGE_SIZE - 1));
	WRITE_ONCE(pte_death_table, table);
	selftest_diag(t, "area %p size %#llx; pte table at pa %#llx maps %#llx",
		      p, (unsigned long long)DEATH_AREA_SIZE,
		      (unsigned long long)frame_pa(table), (unsigned long long)va);
	print_walk(t, "before vfree", va);
	print_walk(t, "before vfree", va + PAGE_SIZE + 0x123);

	vfree(p);
	print_walk(t, "after vfree", va);
	EXPECT_EQ(t, kpt_walk(va, &w), -ENOENT);
	EXPECT_EQ(t, w.level, PT_LEVEL_PTE);    /* the pte cleared ... */
	EXPECT_EQ(t, table->entries, 0);        /* ... in a linked, empty table */
	EXPECT_EQ(t, table->flags & (FRAME_F_LINKED | FRAME_F_GATHERED),
		  FRAME_F_LINKED);

	vm_purge_lazy_now();   /* unlink, gather, shoot down, then free */
	selftest_diag(t, "after the purge: pte table %#llx is %s",
		      (unsigned long long)frame_pa(table),
		      frame_use_name((enum frame_use)table->use));
	EXPECT_EQ(t, table->use, FRAME_FREE);
	WRITE_ONCE(pte_death_table, NULL);
}

static const struct selftest_case pte_death_cases[] = {
	{ "vfree_frees_an_emptied_pte_table_after_every_ack",
	  test_vfree_frees_an_emptied_pte_table_after_every_ack },
};
SELFTEST_SUITE(pte_death, pte_death_cases);
