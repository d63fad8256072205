/* seed004_no_alloc_free.c: no allocation in a path that frees page
 * tables (seed 004).
 *
 * The thread: a fix for seed 000 made the routine that frees a PTE table
 * allocate a scratch page, to save the entries it clears until the TLBs
 * are flushed.  A path whose job is to give memory back then needs memory
 * to do it, and when memory is short (exactly when freeing matters) it
 * fails.  The kernel's answer is the intrusive gather: its links live in
 * struct frame, so freeing never asks the allocator for anything.
 *
 * The players:
 *   CPU 1: reads the pages below, so that its TLB holds them and each
 *          shootdown has a real target.
 *   CPU 0: maps four 4 KiB pages at SEED4_VA (one PTE table), vmallocs
 *          three pages and ioremaps one; then, with the allocator failing
 *          every request (frame_fail_countdown at 0, re-armed after each
 *          step as tests/alloc_fail_free.c does), frees all of it and
 *          remaps SEED4_VA with one 2 MiB page.
 *          Fixed: vfree, iounmap, ioremap_replace_at, the purge and
 *          kpt_unmap + shootdown_flush_and_free.  Broken: the remap and
 *          the unmap of SEED4_VA go through table_free_2018(), staged
 *          here, which needs a scratch page as the 2018 patch did.
 * The hazards, counted: each step that asked the allocator, each that
 * could not complete, and each page table or vmalloc frame still
 * allocated once every step is done (a leak).
 */
#include "arch/x86/arch.h"
#include "kernel/string.h"
#include "kernel/trace.h"
#include "mm/frame.h"
#include "mm/gather.h"
#include "mm/kpt.h"
#include "mm/layout.h"
#include "mm/shootdown.h"
#include "mm/vmalloc.h"
#include "scenarios/scenario.h"

#define READER_CPU  1
/* A GiB of the selftest window nothing else uses (tests/alloc_fail.h
 * lists the others; seed 000's scenario has 930). */
#define SEED4_VA    (MM_SELFTEST_START + 940ULL * GiB)
#define SEED4_PAGES 4
/* The physical range the ioremaps point at: 1 GiB, above RAM when the
 * machine has at most 1 GiB (checked), so no RAM is mapped twice and
 * nothing reads through it. */
#define SEED4_HOLE_PA GiB
#define SEED4_IO_PA   (SEED4_HOLE_PA + 4 * MiB)
#define VM_PAGES    3

static struct {
	struct frame *pages[SEED4_PAGES];
	void *vm, *io;
	unsigned int asked;        /* steps that asked the allocator */
	unsigned int incomplete;   /* steps that could not complete */
} s;

static void reader(void *arg)
{
	(void)arg;
	for (unsigned int i = 0; i < SEED4_PAGES; i++)
		(void)*(volatile uint64_t *)(SEED4_VA + i * PAGE_SIZE);
	for (unsigned int i = 0; i < VM_PAGES; i++)
		(void)((volatile uint8_t *)s.vm)[i * PAGE_SIZE];
	trace_step("CPU 1 reads the pages: its TLB holds them");
}

static bool map_pages(void)
{
	if (!scenario_map_new_frames(SEED4_VA, s.pages, SEED4_PAGES))
		return false;
	s.vm = vmalloc(VM_PAGES * PAGE_SIZE);
	s.io = ioremap(SEED4_IO_PA, PAGE_SIZE);
	return s.vm && s.io;
}

/* The PTE table that maps SEED4_VA, or NULL when none does. */
static struct frame *pte_table(void)
{
	struct kpt_walk w;

	if (kpt_walk(SEED4_VA, &w) != 0 || w.level != PT_LEVEL_PTE)
		return NULL;
	return frame_of(virt_to_phys(w.entry) & ~(FRAME_SIZE - 1));
}

/* The 2018 routine, staged: save the PTE table's entries in a scratch
 * page, unmap the range with its tables, flush, free.  Without the
 * scratch page it cannot start: -ENOMEM, the table stays where it is. */
static int table_free_2018(void)
{
	struct frame *table = pte_table(), *scratch;
	struct pt_gather g;

	trace_step("the 2018 routine asks for a scratch page");
	scratch = frame_alloc(0, FRAME_KERNEL);
	if (!scratch) {
		trace_step("HAZARD: no scratch page; the table is not freed");
		return -ENOMEM;
	}
	if (table)
		memcpy(frame_virt(scratch), frame_virt(table), PAGE_SIZE);
	pt_gather_init(&g);
	kpt_unmap(SEED4_VA, 2 * MiB, &g);
	shootdown_flush_and_free(&g);
	frame_free(scratch, FRAME_KERNEL);
	return 0;
}

static int step_vfree(void)   { vfree(s.vm); return 0; }
static int step_iounmap(void) { iounmap(s.io); return 0; }
static int step_purge(void)   { vm_purge_lazy_now(); return 0; }

static int step_remap_fixed(void)
{
	trace_step("CPU 0 ioremap_replace_at: 2 MiB over the 4 KiB pages");
	return ioremap_replace_at(SEED4_VA, SEED4_HOLE_PA, 2 * MiB, PT_CACHE_UC);
}

/* Broken: the old table must go first, through the 2018 routine; the
 * 2 MiB page is written only if it could (else the 4 KiB pages stay). */
static int step_remap_broken(void)
{
	int err;

	trace_step("CPU 0 remaps 2 MiB: the old table must be freed first");
	if ((err = table_free_2018()) != 0)
		return err;
	return ioremap_replace_at(SEED4_VA, SEED4_HOLE_PA, 2 * MiB, PT_CACHE_UC);
}

static int step_unmap_fixed(void)
{
	struct pt_gather g;

	trace_step("CPU 0 unmaps the range; its tables go on the gather");
	pt_gather_init(&g);
	kpt_unmap(SEED4_VA, 2 * MiB, &g);
	shootdown_flush_and_free(&g);
	return 0;
}

/* Broken: an unmap cannot fail its caller, so the leaves go (flushed);
 * the table waits for a scratch page. */
static int step_unmap_broken(void)
{
	struct pt_gather g;

	trace_step("CPU 0 unmaps the range; the 2018 routine frees its table");
	pt_gather_init(&g);
	kpt_unmap_leaves(SEED4_VA, 2 * MiB, &g);
	shootdown_flush_and_free(&g);
	return table_free_2018();
}

struct step {
	const char *what;
	int (*fixed)(void), (*broken)(void);
};

static const struct step steps[] = {
	{ "vfree of 3 vmalloc pages",           step_vfree,       step_vfree },
	{ "iounmap of one page",                step_iounmap,     step_iounmap },
	{ "remap 2 MiB over the 4 KiB pages",   step_remap_fixed, step_remap_broken },
	{ "unmap the 2 MiB range",              step_unmap_fixed, step_unmap_broken },
	{ "purge the lazily freed areas",       step_purge,       step_purge },
};

/* One step with the allocator failing its next request; a step that
 * leaves the countdown at 0 never asked it (it turns itself off, -1,
 * on the request it fails). */
static void under_pressure(const struct step *st, enum scenario_variant variant)
{
	int err;
	long left;

	frame_fail_countdown = 0;
	err = (variant == SCENARIO_BROKEN ? st->broken : st->fixed)();
	left = frame_fail_countdown;
	frame_fail_countdown = -1;
	s.asked += left != 0;
	s.incomplete += err != 0;
	scenario_say("  %-34s %s; the allocator %s", st->what,
		     err ? "COULD NOT COMPLETE" : "done",
		     left != 0 ? "WAS ASKED (and failed)" : "was not asked");
}

static uint64_t tables_now(void)
{
	return frame_stats.frames[FRAME_PT_PTE] + frame_stats.frames[FRAME_PT_PMD] +
	       frame_stats.frames[FRAME_PT_PUD];
}

/* Whatever the broken routine left: empty tables, the 4 KiB pages. */
static void clean_up(void)
{
	struct pt_gather g;

	pt_gather_init(&g);
	kpt_unmap(SEED4_VA, 2 * MiB, &g);
	kpt_reclaim_empty_tables(SEED4_VA, 2 * MiB, &g);
	shootdown_flush_and_free(&g);
	for (unsigned int i = 0; i < SEED4_PAGES; i++)
		if (s.pages[i])
			frame_free(s.pages[i], FRAME_KERNEL);
}

static unsigned int run(enum scenario_variant variant)
{
	uint64_t tables0, vmalloc0, allocs0, leaked;

	s = (typeof(s)){ 0 };
	if (frame_count * FRAME_SIZE > SEED4_HOLE_PA) {
		scenario_say("more than 1 GiB of RAM: no device hole at 1 GiB");
		return 0;
	}
	vm_purge_lazy_now();
	tables0 = tables_now();
	vmalloc0 = frame_stats.frames[FRAME_VMALLOC];
	if (!map_pages()) {
		scenario_say("setting up the mappings failed");
		return 0;
	}
	scenario_say("CPU 0 maps 4 KiB pages at %#llx (PTE table %#llx), vmallocs %u "
		     "pages, ioremaps one; CPU 1 reads them", (unsigned long long)SEED4_VA,
		     (unsigned long long)frame_pa(pte_table()), VM_PAGES);
	scenario_start_on(READER_CPU, reader, NULL);
	scenario_join();
	scenario_say("now the allocator fails every request; CPU 0 frees it all %s",
		     variant == SCENARIO_BROKEN ? "with the 2018 routine, which needs "
		     "a scratch page (broken)" : "with the intrusive gather (fixed)");
	trace_step("the allocator fails every request from here");
	allocs0 = frame_stats.allocs;
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++)
		under_pressure(&steps[i], variant);
	trace_step("the allocator works again");
	leaked = tables_now() - tables0;
	if (leaked)
		trace_step("HAZARD: a page table left allocated (leaked)");
	scenario_say("afterwards: page tables %llu more than before (%s), vmalloc "
		     "frames %llu more, %llu allocations granted",
		     (unsigned long long)leaked, leaked ? "LEAKED" : "all freed",
		     (unsigned long long)(frame_stats.frames[FRAME_VMALLOC] - vmalloc0),
		     (unsigned long long)(frame_stats.allocs - allocs0));
	scenario_say("%u step%s asked the allocator, %u could not complete, %llu "
		     "table%s leaked", s.asked, s.asked == 1 ? "" : "s", s.incomplete,
		     (unsigned long long)leaked, leaked == 1 ? "" : "s");
	clean_up();
	return s.asked + s.incomplete + (unsigned int)leaked +
	       (unsigned int)(frame_stats.frames[FRAME_VMALLOC] - vmalloc0);
}

const struct scenario scenario_no_alloc_free = {
	.name = "no-alloc-free",
	.seed = "004",
	.title = "no allocation in a path that frees page tables",
	.min_cpus = 2,
	.run = run,
};
