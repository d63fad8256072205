/* seed000_huge_ioremap.c: a huge ioremap over old 4 KiB tables (seed 000).
 *
 * The thread: ioremap maps a range with one 2 MiB page where 4 KiB pages
 * were mapped before, and frees the old PTE table right where it unlinks
 * it, before any TLB shootdown.  Two things then go wrong: CPUs keep the
 * old 4 KiB translations next to the new 2 MiB one (QEMU's TLB does keep
 * them: shown directly), and a CPU whose paging-structure cache still
 * holds the old PMD entry walks the freed table, which a new owner has
 * filled with its own data (QEMU has no such cache: shown through the
 * model, mm/psc_model.h).
 *
 * Three CPUs play it:
 *   CPU 0, the remapper: maps SEED0_PAGES frames with 4 KiB pages, then
 *          replaces the 2 MiB around them with one page of a device hole.
 *          Fixed: ioremap_replace_at(): break, gather, ONE shootdown, free,
 *          make.  Broken: the new leaf written over the old table in one
 *          store and the table freed at once, the shootdown only later.
 *   CPU 1, the reader: reads the 4 KiB pages (its TLB holds them) and its
 *          walker caches the tables on the way (psc_model_fill); after the
 *          remap it reads the range again.
 *   CPU 2, the new owner: takes the freed table frame and fills it with
 *          OWNER_DATA.
 * The hazards: CPU 1 reads an old 4 KiB page after the remap (a
 * stale_read event), and the model finds the table freed while CPU 1's
 * cache may still point to it (a violation, and the entry it would use).
 */
#include "arch/x86/arch.h"
#include "kernel/extable.h"
#include "kernel/smp.h"
#include "kernel/trace.h"
#include "mm/frame.h"
#include "mm/gather.h"
#include "mm/pte.h"
#include "mm/kpt.h"
#include "mm/layout.h"
#include "mm/psc_model.h"
#include "mm/shootdown.h"
#include "mm/vmalloc.h"
#include "scenarios/scenario.h"

#define READER_CPU 1
#define OWNER_CPU  2
/* A 2 MiB-aligned range of the selftest window no selftest uses (they
 * use 1-9, 510, 600, 900-915 and 960 GiB). */
#define SEED0_VA     (MM_SELFTEST_START + 930ULL * GiB)
#define SEED0_PAGES  4
/* What replaces them: a 2 MiB page of the hole at 1 GiB (no RAM, no
 * device at -m 512M: holds no page's data), as tests/shootdown_replace.c. */
#define SEED0_NEW_PA GiB
#define OLD_DATA   0x0000444c4fULL            /* "OLD" + the page number */
/* Looks like a present, writable PTE to a walker: bit 0 set. */
#define OWNER_DATA 0x0000524544574fULL        /* "OWNER" */

static struct {
	struct frame *pages[SEED0_PAGES];
	struct frame *table;          /* the old PTE table */
	bool owner_got_it;
	unsigned int stale_reads;     /* CPU 1 read an old page after the remap */
	uint64_t first_seen;
} s;

static void reader_touch(void *arg)
{
	(void)arg;
	for (unsigned int i = 0; i < SEED0_PAGES; i++)
		(void)*(volatile uint64_t *)(SEED0_VA + i * PAGE_SIZE);
	psc_model_fill(SEED0_VA);
	trace_step("CPU 1 reads the 4 KiB pages; its walker caches the tables");
}

static void reader_again(void *arg)
{
	(void)arg;
	trace_step("CPU 1 reads the range again");
	for (unsigned int i = 0; i < SEED0_PAGES; i++) {
		virt_addr_t va = SEED0_VA + i * PAGE_SIZE;
		uint64_t v = 0;

		if (probe_read_u64((const void *)va, &v) != 0)
			continue;
		if (i == 0)
			s.first_seen = v;
		if (v == OLD_DATA + i) {
			trace3(TRACE_STALE_READ, va, ~0ULL, v);
			s.stale_reads++;
		}
	}
}

static void owner_take(void *arg)
{
	(void)arg;
	if (!(s.owner_got_it = scenario_take_frame(s.table)))
		return;
	for (unsigned int i = 0; i < PAGE_SIZE / 8; i++)
		((volatile uint64_t *)frame_virt(s.table))[i] = OWNER_DATA;
	trace_step("CPU 2 takes the freed table frame and fills it");
}

static void on(unsigned int cpu, void (*fn)(void *))
{
	scenario_start_on(cpu, fn, NULL);
	scenario_join();
}

/* Map the old pages; false if that failed. */
static bool map_old(void)
{
	struct kpt_walk w;

	if (!scenario_map_new_frames(SEED0_VA, s.pages, SEED0_PAGES))
		return false;
	for (unsigned int i = 0; i < SEED0_PAGES; i++)
		*(uint64_t *)frame_virt(s.pages[i]) = OLD_DATA + i;
	if (kpt_walk(SEED0_VA, &w) != 0)
		return false;
	s.table = frame_of(virt_to_phys(w.entry) & ~(FRAME_SIZE - 1));
	return true;
}

/* The 2018 mistake: the new leaf written over the old table, and the
 * table freed where it is unlinked; the shootdown comes afterwards. */
static void remap_broken(void)
{
	struct kpt_mapping m = {
		.va = SEED0_VA, .pa = SEED0_NEW_PA, .size = 2 * MiB,
		.prot = PT_PROT_RW, .cache = PT_CACHE_UC, .max_page = PT_PAGE_2M,
	};
	struct pt_gather g;

	pt_gather_init(&g);
	if (kpt_map(&m, KPT_MAP_REPLACE, &g) != 0)
		return;
	trace_step("CPU 0 writes the 2 MiB leaf and frees the old table at once");
	shootdown_selftest_fault = SHOOTDOWN_FAULT_SKIP_ALL;  /* count, no panic */
	for (struct frame *f = g.head; f; f = frame_list_next(f))
		psc_model_check_free(f);
	shootdown_selftest_fault = SHOOTDOWN_SAFE;
	trace2(TRACE_FREE, 0, g.nr_frames);
	pt_gather_free_all(&g);
}

/* What CPU 1's cached PMD entry would lead its walker to now. */
static void tell_model(uint64_t violations)
{
	uint64_t e = *(volatile uint64_t *)frame_virt(s.table);

	if (!violations) {
		scenario_say("model: no CPU's paging-structure cache pointed to the "
			     "table when it was freed (CPU 1 holds %u entries)",
			     psc_model_entries(READER_CPU));
		return;
	}
	scenario_say("model: %s", psc_model_last_violation);
	if (s.owner_got_it)
		scenario_say("model: through it CPU 1 would translate %#llx via the "
			     "owner's data %#llx: %s, pa %#llx", (unsigned long long)SEED0_VA,
			     (unsigned long long)e, (e & PTE_P) ? "present" : "not present",
			     (unsigned long long)(e & PHYS_ADDR_MASK));
}

static void clean_up(void)
{
	struct pt_gather g;

	pt_gather_init(&g);
	pt_gather_note_stale(&g, SEED0_VA, SEED0_VA + 2 * MiB);
	kpt_unmap(SEED0_VA, 2 * MiB, &g);
	shootdown_flush_and_free(&g);
	for (unsigned int i = 0; i < SEED0_PAGES; i++)
		if (s.pages[i])
			frame_free(s.pages[i], FRAME_KERNEL);
	if (s.owner_got_it)
		frame_free(s.table, FRAME_KERNEL);
}

static unsigned int run(enum scenario_variant variant)
{
	uint64_t before;
	unsigned int hazards;

	s = (typeof(s)){ 0 };
	if (frame_count * FRAME_SIZE > GiB) {
		scenario_say("more than 1 GiB of RAM: no device hole at 1 GiB");
		return 0;
	}
	if (!map_old()) {
		scenario_say("mapping the 4 KiB pages failed");
		clean_up();
		return 0;
	}
	scenario_say("CPU 0 maps %u pages at %#llx with 4 KiB pages (PTE table "
		     "%#llx); CPU 1 reads them", SEED0_PAGES,
		     (unsigned long long)SEED0_VA, (unsigned long long)frame_pa(s.table));
	on(READER_CPU, reader_touch);
	before = psc_model_violations;
	if (variant == SCENARIO_BROKEN) {
		scenario_say("CPU 0 remaps 2 MiB with one page: new leaf in one store, "
			     "old table freed at once, shootdown later (broken)");
		remap_broken();
	} else {
		scenario_say("CPU 0 remaps 2 MiB with one page: ioremap_replace_at "
			     "(break, gather, ONE shootdown, free, make) (fixed)");
		trace_step("CPU 0 ioremap_replace_at");
		if (ioremap_replace_at(SEED0_VA, SEED0_NEW_PA, 2 * MiB, PT_CACHE_UC) != 0)
			scenario_say("ioremap_replace_at failed");
	}
	on(OWNER_CPU, owner_take);
	scenario_say("CPU 2 %s the old table frame", s.owner_got_it ?
		     "took and filled" : "did not get back");
	on(READER_CPU, reader_again);
	scenario_say("CPU 1 read %#llx at %#llx: %s (%u of %u pages old)",
		     (unsigned long long)s.first_seen, (unsigned long long)SEED0_VA,
		     s.stale_reads ? "the OLD 4 KiB page, through its stale TLB entry"
		     : "the new 2 MiB page", s.stale_reads, SEED0_PAGES);
	tell_model(psc_model_violations - before);
	hazards = s.stale_reads + (unsigned int)(psc_model_violations - before);
	if (variant == SCENARIO_BROKEN)
		scenario_say("CPU 0 only now shoots down (too late)");
	clean_up();
	return hazards;
}

const struct scenario scenario_huge_ioremap = {
	.name = "huge-ioremap",
	.seed = "000",
	.title = "a huge ioremap over old 4 KiB tables",
	.min_cpus = 3,
	.run = run,
};
