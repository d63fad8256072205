/* tests/soak.c: random vmalloc, vzalloc, vfree, vmap, vunmap, ioremap,
 * iounmap and ioremap_replace_at from every CPU at once, in rounds.
 *
 * A round: every CPU makes SOAK_OPS_PER_ROUND random operations on its
 * own slots (with random purges among them); then, all CPUs stopped at
 * a barrier, one purge, and every CPU checks every live area of every
 * CPU (each page's first word) and every range freed during the round
 * (each page must fault, at that address: a read that succeeds is a
 * stale translation).  An area is freed only after it went through such
 * a check, so each area's contents were read on every CPU before its
 * free.  A freed range that a later area of the same round reuses is
 * checked through that area's contents instead.  At the end every count
 * (frames per use, page tables linked per level, lazy pages) is back
 * where it started.
 *
 * The kernel option soak=N sets the total number of operations: `make
 * soak` boots soak=1000000; every other boot runs SOAK_TINY_OPS, enough
 * rounds to free, reuse and purge.  Every page of every area and of every
 * freed range is read on every CPU: no sampling (docs/testing.md). */
#include "kernel/clock.h"
#include "kernel/cmdline.h"
#include "kernel/selftest_internal.h"
#include "kernel/string.h"
#include "tests/alloc_fail.h"

/* Every selftest boot: 768 operations, at -smp 4 two rounds of 64 per
 * CPU and the last round, which only frees.  Under multi-threaded TCG
 * with more vCPUs than host cores a round costs up to a few hundred ms
 * (every shootdown waits for descheduled vCPUs), so every boot runs
 * only this. */
#define SOAK_TINY_OPS 768
static uint64_t soak_ops = SOAK_TINY_OPS;
KERNEL_PARAM_UINT(soak, soak_ops, "operations of the soak suite, all CPUs together");

#define SOAK_SLOTS          16   /* live areas per CPU at most */
#define SOAK_OPS_PER_ROUND  64   /* per CPU between two checks */
#define SOAK_MAX_PAGES      16
#define SOAK_FREED_MAX      (SOAK_OPS_PER_ROUND + SOAK_SLOTS)
#define SOAK_SHOWN_MAX      3    /* failure messages per CPU and round */
/* Purges inside a round: about two per round at -smp 4 besides those of
 * the lazy limit, so that purges run while other CPUs map and unmap.
 * Each one makes the ranges freed so far reusable before the round's
 * check, which then reads them through their new areas instead. */
#define SOAK_PURGE_ONE_IN   128
/* The lazy limit during the soak, in pages: about a round's frees at
 * -smp 4 (4 CPUs x 32 frees x 8.5 pages), so it also starts purges. */
#define SOAK_LAZY_MAX_PAGES 1024
/* Where each CPU's ioremap_replace_at goes (alloc_fail.h's AF_VA range):
 * one 2 MiB-aligned range per CPU. */
#define SOAK_REPLACE_VA(cpu)  AF_VA(12 + (cpu))

enum soak_kind { SOAK_VMALLOC, SOAK_VZALLOC, SOAK_VMAP, SOAK_IOREMAP,
		 SOAK_REPLACE, SOAK_KINDS };

struct soak_slot {
	virt_addr_t va;          /* 0: empty */
	uint64_t pages, seed, round;
	enum soak_kind kind;
	struct frame *frames[SOAK_MAX_PAGES];   /* vmap's */
};

struct soak_range {
	virt_addr_t va;
	uint64_t pages;
};

/* One CPU's share; only its CPU writes it, except in the checks, where
 * every CPU only reads the others'. */
struct soak_cpu {
	struct soak_slot slots[SOAK_SLOTS];
	struct soak_range freed[SOAK_FREED_MAX];
	unsigned int nr_freed, shown;
	uint64_t rng, ops, freed_total, content_reads, fault_reads, reused, stale, bad;
	bool replace_live;
} __aligned(64);

static struct soak_cpu soak_cpus[MAX_CPUS];
static uint64_t soak_round;
static uint64_t soak_scratch_word;   /* what the scratch page holds now */

static uint64_t soak_rng(struct soak_cpu *me)   /* xorshift64 */
{
	me->rng ^= me->rng << 13;
	me->rng ^= me->rng >> 7;
	me->rng ^= me->rng << 17;
	return me->rng;
}

static void __printf(3, 4) soak_fail(struct selftest *t, struct soak_cpu *me,
				     const char *fmt, ...)
{
	char line[160];
	va_list ap;

	if (me->shown++ >= SOAK_SHOWN_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	selftest_fail_at(t, __FILE__, __LINE__, "%s", line);
}

/* ---- making and freeing, on the owner's CPU ---- */

static bool soak_make_replace(struct soak_slot *s, unsigned int cpu)
{
	virt_addr_t va = SOAK_REPLACE_VA(cpu);
	struct frame *f[2] = { frame_alloc(0, FRAME_KERNEL), frame_alloc(0, FRAME_KERNEL) };
	bool ok = f[0] && f[1];

	for (int i = 0; ok && i < 2; i++) {   /* 4 KiB pages, read once */
		struct kpt_mapping m = {
			.va = va + i * PAGE_SIZE, .pa = frame_pa(f[i]),
			.size = PAGE_SIZE, .prot = PT_PROT_RW,
			.cache = PT_CACHE_WB, .max_page = PT_PAGE_4K,
		};

		*(uint64_t *)frame_virt(f[i]) = vm_pattern(s->seed, i);
		ok = kpt_map(&m, KPT_MAP_NEW, NULL) == 0 &&
		     *(volatile uint64_t *)(va + i * PAGE_SIZE) == vm_pattern(s->seed, i);
	}
	/* Then one 2 MiB device page over them: their PTE table is freed
	 * after the shootdown, and so may the frames be. */
	ok = ok && ioremap_replace_at(va, af_hole_pa() + 2 * MiB, 2 * MiB,
				      PT_CACHE_UC) == 0;
	for (int i = 0; i < 2; i++)
		if (f[i])
			frame_free(f[i], FRAME_KERNEL);
	s->va = ok ? va : 0;
	s->pages = 2;
	return ok;
}

static bool soak_make(struct soak_cpu *me, struct soak_slot *s, unsigned int cpu)
{
	s->kind = (enum soak_kind)(soak_rng(me) % SOAK_KINDS);
	if (s->kind == SOAK_REPLACE && me->replace_live)
		s->kind = SOAK_VMALLOC;
	s->pages = 1 + soak_rng(me) % SOAK_MAX_PAGES;
	s->seed = soak_rng(me);
	s->round = soak_round;
	switch (s->kind) {
	case SOAK_VMALLOC:
		s->va = (virt_addr_t)vmalloc(s->pages * PAGE_SIZE);
		break;
	case SOAK_VZALLOC:
		s->va = (virt_addr_t)vzalloc(s->pages * PAGE_SIZE);
		for (uint64_t i = 0; s->va && i < s->pages * PAGE_SIZE / 8; i += 509)
			if (((uint64_t *)s->va)[i] != 0)
				me->bad++;   /* not zeroed */
		break;
	case SOAK_VMAP:
		for (uint64_t i = 0; i < s->pages; i++)
			if (!(s->frames[i] = frame_alloc(0, FRAME_KERNEL)))
				return false;
		s->va = (virt_addr_t)vmap(s->frames, s->pages, PT_PROT_RW);
		break;
	case SOAK_IOREMAP:
		s->va = (virt_addr_t)ioremap_cache(VM_TEST_SCRATCH_PA, s->pages * PAGE_SIZE);
		return s->va != 0;
	case SOAK_REPLACE:
		return (me->replace_live = soak_make_replace(s, cpu));
	case SOAK_KINDS:
		break;
	}
	if (s->va)
		vm_fill((void *)s->va, s->pages, s->seed);
	return s->va != 0;
}

static void soak_release(struct soak_cpu *me, struct soak_slot *s)
{
	struct pt_gather g;

	switch (s->kind) {
	case SOAK_VMALLOC:
	case SOAK_VZALLOC: vfree((void *)s->va); break;
	case SOAK_VMAP:    vunmap((void *)s->va); break;
	case SOAK_IOREMAP: iounmap((void *)s->va); break;
	case SOAK_REPLACE:
		pt_gather_init(&g);
		kpt_unmap(s->va, 2 * MiB, &g);
		shootdown_flush_and_free(&g);
		me->replace_live = false;
		break;
	case SOAK_KINDS:
		break;
	}
	for (uint64_t i = 0; s->kind == SOAK_VMAP && i < s->pages; i++)
		frame_free(s->frames[i], FRAME_KERNEL);   /* after vunmap's flush */
	me->freed[me->nr_freed++] = (struct soak_range){ s->va, s->pages };
	me->freed_total++;
	s->va = 0;
}

/* ---- the checks ---- */

/* Read one word; a fault gives false. */
static bool soak_read(virt_addr_t va, uint64_t *v)
{
	return probe_read_u64((const void *)va, v) == 0;
}

/* Check slot @s of CPU @owner from this CPU. */
static void soak_check_slot(struct selftest *t, struct soak_cpu *me,
			    unsigned int cpu, unsigned int owner,
			    const struct soak_slot *s)
{
	uint64_t pages = s->kind == SOAK_IOREMAP ? 1 : s->pages;

	for (uint64_t i = 0; i < pages; i++) {
		virt_addr_t va = s->va + i * PAGE_SIZE;
		uint64_t v = 0, want = s->kind == SOAK_IOREMAP ? soak_scratch_word
							       : vm_pattern(s->seed, i);
		bool read = soak_read(va, &v);

		me->content_reads++;
		if (s->kind == SOAK_REPLACE ? !read || v == want : !read || v != want) {
			if (read && s->kind == SOAK_REPLACE)
				me->stale++;
			else
				me->bad++;
			soak_fail(t, me, "CPU %u: CPU %u's %s area %#llx page %llu: "
				  "%s %#llx, %s %#llx", cpu, owner,
				  s->kind == SOAK_REPLACE ? "replaced" : "live",
				  (unsigned long long)s->va, (unsigned long long)i,
				  read ? "read" : "faulted",
				  read ? (unsigned long long)v : 0ULL,
				  s->kind == SOAK_REPLACE ? "the old page's" : "expected",
				  (unsigned long long)want);
		}
	}
}

/* Is [va, +pages) inside a live area of any CPU (reused)? */
static bool soak_range_live(const struct soak_range *r, unsigned int ncpus)
{
	virt_addr_t end = r->va + r->pages * PAGE_SIZE;

	for (unsigned int c = 0; c < ncpus; c++)
		for (int i = 0; i < SOAK_SLOTS; i++) {
			const struct soak_slot *s = &soak_cpus[c].slots[i];
			uint64_t len = s->kind == SOAK_REPLACE ? 2 * MiB : s->pages * PAGE_SIZE;

			if (s->va && s->va < end && r->va < s->va + len)
				return true;
		}
	return false;
}

static void soak_check_freed(struct selftest *t, struct soak_cpu *me,
			     unsigned int cpu, const struct soak_range *r)
{
	for (uint64_t i = 0; i < r->pages; i++) {
		virt_addr_t va = r->va + i * PAGE_SIZE;
		uint64_t v = 0;

		me->fault_reads++;
		if (!soak_read(va, &v)) {
			if (extable_last_fault()->cr2 == va)
				continue;
			me->bad++;
		} else {
			me->stale++;
		}
		soak_fail(t, me, "CPU %u: freed %#llx page %llu: %s %#llx; "
			  "expected a #PF there", cpu, (unsigned long long)r->va,
			  (unsigned long long)i, v ? "read" : "fault at",
			  v ? (unsigned long long)v
			    : (unsigned long long)extable_last_fault()->cr2);
	}
}

static void soak_check_all(struct selftest *t, struct soak_cpu *me,
			   unsigned int cpu, unsigned int ncpus)
{
	for (unsigned int c = 0; c < ncpus; c++) {
		const struct soak_cpu *o = &soak_cpus[c];

		for (int i = 0; i < SOAK_SLOTS; i++)
			if (o->slots[i].va)
				soak_check_slot(t, me, cpu, c, &o->slots[i]);
		for (unsigned int i = 0; i < o->nr_freed; i++) {
			if (soak_range_live(&o->freed[i], ncpus))
				me->reused++;
			else
				soak_check_freed(t, me, cpu, &o->freed[i]);
		}
	}
}

/* ---- one round, on every CPU ---- */

struct soak_round_arg {
	uint64_t ops;          /* per CPU this round */
	bool last;             /* free everything */
};

static void soak_ops_on_own_slots(struct selftest *t, struct soak_cpu *me,
				  unsigned int cpu, uint64_t ops)
{
	for (uint64_t i = 0; i < ops; i++) {
		struct soak_slot *s = &me->slots[soak_rng(me) % SOAK_SLOTS];

		me->ops++;
		if (soak_rng(me) % SOAK_PURGE_ONE_IN == 0)
			vm_purge_lazy_now();
		if (!s->va) {
			if (!soak_make(me, s, cpu))
				soak_fail(t, me, "CPU %u: op %llu: making a kind %d "
					  "area of %llu pages failed", cpu,
					  (unsigned long long)me->ops, s->kind,
					  (unsigned long long)s->pages);
		} else if (s->round < soak_round) {   /* checked everywhere */
			soak_check_slot(t, me, cpu, cpu, s);
			soak_release(me, s);
		} else {
			soak_check_slot(t, me, cpu, cpu, s);   /* too young */
		}
	}
}

static void soak_round_body(struct selftest *t, unsigned int cpu, void *arg)
{
	const struct soak_round_arg *a = arg;
	struct soak_cpu *me = &soak_cpus[cpu];
	unsigned int ncpus = smp_num_online();

	me->nr_freed = 0;
	me->shown = 0;
	soak_ops_on_own_slots(t, me, cpu, a->ops);
	for (int i = 0; a->last && i < SOAK_SLOTS; i++)
		if (me->slots[i].va)
			soak_release(me, &me->slots[i]);
	selftest_cpu_barrier(t);
	if (cpu == 0)
		vm_purge_lazy_now();   /* every range freed above */
	selftest_cpu_barrier(t);
	soak_check_all(t, me, cpu, ncpus);
}

/* ---- the run ---- */

struct soak_totals {
	uint64_t ops, freed, content_reads, fault_reads, reused, stale, bad;
};

static struct soak_totals soak_sum(unsigned int ncpus)
{
	struct soak_totals s = { 0 };

	for (unsigned int c = 0; c < ncpus; c++) {
		s.ops += soak_cpus[c].ops;
		s.freed += soak_cpus[c].freed_total;
		s.content_reads += soak_cpus[c].content_reads;
		s.fault_reads += soak_cpus[c].fault_reads;
		s.reused += soak_cpus[c].reused;
		s.stale += soak_cpus[c].stale;
		s.bad += soak_cpus[c].bad;
	}
	return s;
}

/* The vmalloc call counters balance: as many frees as makes. */
static void soak_expect_balanced(struct selftest *t, const struct vm_stats *a,
				 const struct vm_stats *b)
{
	EXPECT_EQ(t, b->vmallocs - a->vmallocs, b->vfrees - a->vfrees);
	EXPECT_EQ(t, b->vmaps - a->vmaps, b->vunmaps - a->vunmaps);
	EXPECT_EQ(t, b->ioremaps - a->ioremaps, b->iounmaps - a->iounmaps);
	EXPECT_EQ(t, b->bad_frees, a->bad_frees);
}

/* The soak of @ops operations; prints its figures, checks that nothing
 * was stale, wrong or leaked, and returns its sums. */
static struct soak_totals soak_run(struct selftest *t, uint64_t ops)
{
	unsigned int ncpus = smp_num_online();
	uint64_t per_cpu = ops / ncpus, t0 = clock_ns();
	uint64_t lazy_override = vm_lazy_max_pages_override;
	uint64_t *scratch = phys_to_virt(VM_TEST_SCRATCH_PA), saved = *scratch;
	uint64_t purges0 = vm_stats.purges;
	struct shootdown_stats sd0 = shootdown_stats_total(), sd1;
	struct af_state before, after;
	struct soak_totals sum;

	memset(soak_cpus, 0, sizeof(soak_cpus));
	for (unsigned int c = 0; c < ncpus; c++)
		soak_cpus[c].rng = 0x9e3779b97f4a7c15ULL * (c + 1);
	soak_scratch_word = *scratch = 0x50a4000000000000ULL ^ clock_ns();
	vm_purge_lazy_now();
	before = af_state_now();
	vm_lazy_max_pages_override = SOAK_LAZY_MAX_PAGES;
	for (soak_round = 1; ; soak_round++) {
		uint64_t done = soak_cpus[0].ops;
		struct soak_round_arg a = {
			.ops = MIN(SOAK_OPS_PER_ROUND, per_cpu - done),
			.last = done + SOAK_OPS_PER_ROUND >= per_cpu,
		};

		if (a.last)
			a.ops = 0;   /* the last round only frees: all checked */
		selftest_run_on_all_cpus(t, soak_round_body, &a);
		if (a.last)
			break;
	}
	vm_lazy_max_pages_override = lazy_override;
	vm_purge_lazy_now();
	*scratch = saved;
	after = af_state_now();
	sd1 = shootdown_stats_total();
	sum = soak_sum(ncpus);
	selftest_diag(t, "soak: %llu operations on %u CPUs in %llu rounds, %llu "
		      "purges, %llu shootdowns, %llu page tables and %llu data "
		      "pages freed after acks", (unsigned long long)sum.ops, ncpus,
		      (unsigned long long)soak_round,
		      (unsigned long long)(vm_stats.purges - purges0),
		      (unsigned long long)(sd1.shootdowns - sd0.shootdowns),
		      (unsigned long long)(sd1.pt_pages_freed - sd0.pt_pages_freed),
		      (unsigned long long)(sd1.data_pages_freed - sd0.data_pages_freed));
	selftest_diag(t, "soak: %llu content reads, %llu freed-page reads (%llu of "
		      "%llu checks of a freed range found it reused), %llu "
		      "stale reads, %llu wrong reads, %llu ms",
		      (unsigned long long)sum.content_reads,
		      (unsigned long long)sum.fault_reads,
		      (unsigned long long)sum.reused,
		      (unsigned long long)sum.freed * ncpus,
		      (unsigned long long)sum.stale, (unsigned long long)sum.bad,
		      (unsigned long long)((clock_ns() - t0) / 1000000));
	EXPECT_EQ(t, sum.stale, 0);
	EXPECT_EQ(t, sum.bad, 0);
	EXPECT_GE(t, sum.ops, per_cpu * ncpus - ncpus * SOAK_OPS_PER_ROUND);
	EXPECT_GT(t, sum.fault_reads, 0);   /* the checks ran */
	soak_expect_balanced(t, &before.vm, &after.vm);
	before.vm = after.vm;
	af_state_expect_equal(t, "after the soak", &before, &after, 0);
	return sum;
}

static void test_soak_from_every_cpu(struct selftest *t)
{
	soak_run(t, soak_ops);
}

/* Negative control: with only the purging CPU flushing, the other CPUs
 * read freed pages through their stale TLB entries, and the soak's
 * check sees it.  Then every TLB is flushed, so that nothing stale
 * outlives the case. */
static struct soak_totals soak_control_sum;

static void soak_without_remote_flush(struct selftest *t)
{
	shootdown_selftest_fault = SHOOTDOWN_FAULT_SKIP_REMOTE;
	soak_control_sum = soak_run(t, 3 * SOAK_OPS_PER_ROUND * smp_num_online());
	shootdown_selftest_fault = SHOOTDOWN_SAFE;
}

static void test_soak_sees_stale_reads_without_flush(struct selftest *t)
{
	static const struct selftest_case control = {
		"soak_without_remote_flush", soak_without_remote_flush };
	enum selftest_outcome got;

	if (!vm_need_two_cpus(t))
		return;
	got = selftest_run_nested(&control);
	shootdown_selftest_fault = SHOOTDOWN_SAFE;
	selftest_flush_every_tlb();
	selftest_diag(t, "no remote flush: %llu stale reads seen",
		      (unsigned long long)soak_control_sum.stale);
	EXPECT_EQ(t, got, SELFTEST_FAILED);
	EXPECT_GT(t, soak_control_sum.stale, 0);
}

static const struct selftest_case soak_cases[] = {
	{ "soak_from_every_cpu", test_soak_from_every_cpu },
	{ "soak_sees_stale_reads_without_flush",
	  test_soak_sees_stale_reads_without_flush },
};
SELFTEST_SUITE(soak, soak_cases);
