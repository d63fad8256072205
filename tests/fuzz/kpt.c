/* kpt.c (fuzz): the kernel page tables (mm/kpt*.c) against a reference
 * model, on the host's pretend machine (tests/host/host_env.c).
 *
 * An input is a CPU feature byte (1 GiB pages or not) and operations of
 * 12 bytes each: kpt_map (KPT_MAP_NEW), kpt_unmap, kpt_unmap_leaves,
 * kpt_reclaim_empty_tables (of the range, or of the whole window) and
 * kpt_protect of
 * random sizes (4 KiB pages up to two 1 GiB pages), alignments, physical
 * offsets, rights, cache types and largest page sizes (4K/2M/1G), in a
 * 4 GiB window that straddles a 512 GiB (pgd entry) boundary; some maps
 * with the frame allocator failing after a few allocations; some unmaps
 * and protects into a gather that is flushed only later.  The model is a
 * list of extents (va, size, pa, rights, cache, largest page); the page
 * size of each address follows from kpt_map's rule (the largest page
 * whose whole span is in the range, with va and pa aligned to it).
 * After each operation:
 *   - the return value is the model's: -EEXIST over anything mapped,
 *     -EINVAL for a range that would split a 2M/1G page, -ENOENT for a
 *     protect over a hole, -ENOMEM only when an allocation was made to
 *     fail (and then nothing changed);
 *   - kpt_walk() agrees with the model at both ends and the middle of
 *     every extent, beside it, and around the operation's range: level,
 *     physical address, rights and cache bits, or -ENOENT in a hole;
 *   - the number of linked tables per level is what the model's leaves
 *     need (no empty table stays linked, none is missing), and the live
 *     page-table frames are those plus the ones waiting on a gather;
 *     after a kpt_unmap_leaves() and until the next reclaim of the whole
 *     window, empty tables may stay linked: at least what the leaves
 *     need, then exactly that again once the whole window is reclaimed.
 * Every flush first checks each gathered frame: an unlinked page table,
 * marked gathered, with no entry present, all zero.  At the end of the
 * input everything is unmapped and flushed, and every frame count is
 * back to its value after boot: nothing leaked.
 */
#include <string.h>

#include "mm/frame.h"
#include "mm/kpt.h"
#include "mm/layout.h"
#include "mm/shootdown.h"
#include "tests/fuzz/fuzz.h"
#include "tests/host/host_env.h"

#define WIN_START (MM_SELFTEST_START + PGD_SIZE - 2 * GiB)
#define WIN_SIZE  (4 * GiB)
#define WIN_END   (WIN_START + WIN_SIZE)
#define PGD_BLOCK0 (MM_SELFTEST_START)   /* the first pgd entry's span */
#define MAX_EXTENTS 256

struct extent {
	virt_addr_t va;
	uint64_t size;
	phys_addr_t pa;
	enum pt_prot prot;
	enum pt_cache cache;
	enum pt_level max_leaf;   /* the caller's largest page, and the CPU's */
};

static struct extent ext[MAX_EXTENTS];
static size_t nr_ext;
static struct pt_gather pending;        /* flushed by an op, or at the end */
static uint64_t boot_frames[FRAME_USE_COUNT];
static uint64_t boot_linked[PT_LEVEL_PGD + 1];
static bool empty_tables_may_stay;      /* kpt_unmap_leaves() since the
					   last reclaim of the whole window */

/* ---- the model ---- */

static virt_addr_t ext_end(const struct extent *e)
{
	return e->va + e->size;
}

/* The level of the leaf that maps @x in @e. */
static enum pt_level leaf_level(const struct extent *e, virt_addr_t x)
{
	for (enum pt_level l = e->max_leaf; l > PT_LEVEL_PTE; l--) {
		uint64_t size = pt_level_size(l);
		virt_addr_t block = ALIGN_DOWN(x, size);

		if (block >= e->va && block + size <= ext_end(e) &&
		    IS_ALIGNED(block - e->va + e->pa, size))
			return l;
	}
	return PT_LEVEL_PTE;
}

static struct extent *find(virt_addr_t x)
{
	for (size_t i = 0; i < nr_ext; i++)
		if (x >= ext[i].va && x < ext_end(&ext[i]))
			return &ext[i];
	return NULL;
}

/* Would a range boundary at @b cut a leaf in two? */
static bool splits(virt_addr_t b)
{
	struct extent *e = find(b);

	return e && !IS_ALIGNED(b, pt_level_size(leaf_level(e, b)));
}

static bool overlaps(virt_addr_t a, virt_addr_t b)
{
	for (size_t i = 0; i < nr_ext; i++)
		if (ext[i].va < b && a < ext_end(&ext[i]))
			return true;
	return false;
}

static bool fully_mapped(virt_addr_t a, virt_addr_t b)
{
	while (a < b) {
		struct extent *e = find(a);

		if (!e)
			return false;
		a = ext_end(e);
	}
	return true;
}

/* Cut every extent at @b (no leaf is cut: checked before). */
static void cut_at(virt_addr_t b)
{
	struct extent *e = find(b);

	if (!e || e->va == b)
		return;
	FUZZ_CHECK(nr_ext < MAX_EXTENTS, "model full");
	ext[nr_ext] = *e;
	ext[nr_ext].va = b;
	ext[nr_ext].size = ext_end(e) - b;
	ext[nr_ext].pa = e->pa + (b - e->va);
	e->size = b - e->va;
	nr_ext++;
}

/* ---- checks ---- */

static pte_t want_bits(const struct extent *e)
{
	pte_t bits = e->prot == PT_PROT_RW ? PTE_RW : 0;

	if (e->prot != PT_PROT_RX && cpu_features.nx)
		bits |= PTE_NX;
	bits |= e->cache == PT_CACHE_WC ? PTE_CACHE_WC :
		e->cache == PT_CACHE_UC ? PTE_CACHE_UC : PTE_CACHE_WB;
	return bits;
}

static void check_walk(virt_addr_t x)
{
	const pte_t mask = PTE_RW | PTE_NX | PTE_PCD | PTE_PWT;
	struct extent *e = x >= WIN_START && x < WIN_END ? find(x) : NULL;
	struct kpt_walk w;
	int err = kpt_walk(x, &w);

	if (x < WIN_START || x >= WIN_END)
		return;
	if (!e) {
		FUZZ_CHECK(err == -ENOENT, "walk %#lx: %d (level %d, pa %#lx), model: a hole",
			   x, err, w.level, w.pa);
		return;
	}
	FUZZ_CHECK(err == 0 && w.level == leaf_level(e, x) &&
		   w.pa == e->pa + (x - e->va) && (w.value & mask) == want_bits(e),
		   "walk %#lx: %d, level %d pa %#lx entry %#lx; model: level %d pa %#lx "
		   "bits %#lx (extent va %#lx size %#lx pa %#lx)", x, err, w.level, w.pa,
		   w.value, leaf_level(e, x), e->pa + (x - e->va), want_bits(e),
		   e->va, e->size, e->pa);
}

/* Linked tables per level that the model's leaves need. */
static void model_tables(uint64_t need[PT_LEVEL_PGD + 1])
{
	static uint8_t pte_tab[WIN_SIZE / PMD_SIZE], pmd_tab[WIN_SIZE / PUD_SIZE];
	bool pud_tab[2] = { false, false };   /* the window's two pgd entries */

	memset(pte_tab, 0, sizeof(pte_tab));
	memset(pmd_tab, 0, sizeof(pmd_tab));
	memset(need, 0, sizeof(uint64_t) * (PT_LEVEL_PGD + 1));
	for (size_t i = 0; i < nr_ext; i++) {
		const struct extent *e = &ext[i];

		for (virt_addr_t b = ALIGN_DOWN(e->va, PMD_SIZE); b < ext_end(e); b += PMD_SIZE)
			if (leaf_level(e, MAX(b, e->va)) == PT_LEVEL_PTE)
				pte_tab[(b - WIN_START) / PMD_SIZE] = 1;
		for (virt_addr_t g = ALIGN_DOWN(e->va, PUD_SIZE); g < ext_end(e); g += PUD_SIZE)
			if (leaf_level(e, MAX(g, e->va)) != PT_LEVEL_PUD)
				pmd_tab[(g - WIN_START) / PUD_SIZE] = 1;
		pud_tab[(e->va - PGD_BLOCK0) / PGD_SIZE] = true;
		pud_tab[(ext_end(e) - 1 - PGD_BLOCK0) / PGD_SIZE] = true;
	}
	for (size_t i = 0; i < ARRAY_SIZE(pte_tab); i++)
		need[PT_LEVEL_PTE] += pte_tab[i];
	for (size_t i = 0; i < ARRAY_SIZE(pmd_tab); i++)
		need[PT_LEVEL_PMD] += pmd_tab[i];
	need[PT_LEVEL_PUD] = pud_tab[0] + pud_tab[1];
}

static void check_tables(void)
{
	uint64_t need[PT_LEVEL_PGD + 1], waiting[PT_LEVEL_PGD + 1] = { 0 };

	model_tables(need);
	for (uint32_t pfn = pending.head ? frame_pfn(pending.head) : FRAME_NIL;
	     pfn != FRAME_NIL; pfn = frame_table[pfn].next)
		waiting[PT_LEVEL_PTE + frame_table[pfn].use - FRAME_PT_PTE]++;
	for (enum pt_level l = PT_LEVEL_PTE; l <= PT_LEVEL_PUD; l++) {
		uint64_t linked = kpt.stats.tables_linked[l] - boot_linked[l];

		FUZZ_CHECK(linked == need[l] || (empty_tables_may_stay && linked > need[l]),
			   "level %d: %lu tables linked, model needs %lu (+%lu at boot)%s",
			   l, linked, need[l], boot_linked[l],
			   empty_tables_may_stay ? "; empty ones may stay" : "");
		FUZZ_CHECK(frame_stats.frames[frame_use_of_level(l)] ==
			   boot_frames[frame_use_of_level(l)] + linked + waiting[l],
			   "level %d: %lu table frames live, want %lu linked + %lu gathered "
			   "(+%lu at boot)", l, frame_stats.frames[frame_use_of_level(l)],
			   linked, waiting[l], boot_frames[frame_use_of_level(l)]);
	}
}

static void check_all_walks(virt_addr_t a, virt_addr_t b)
{
	virt_addr_t around[] = { a - PAGE_SIZE, a, (a + b) / 2 & ~(PAGE_SIZE - 1),
				 b - PAGE_SIZE, b };

	for (size_t i = 0; i < ARRAY_SIZE(around); i++)
		check_walk(around[i]);
	for (size_t i = 0; i < nr_ext; i++) {
		const struct extent *e = &ext[i];

		check_walk(e->va - PAGE_SIZE);
		check_walk(e->va);
		check_walk(ALIGN_DOWN(e->va + e->size / 2, PAGE_SIZE));
		check_walk(ext_end(e) - PAGE_SIZE);
		check_walk(ext_end(e));
	}
}

/* Every frame on @g: an unlinked, gathered page table with nothing in it,
 * its count dead (no lockless map may pin it). */
static void check_gathered(const struct pt_gather *g)
{
	uint64_t n = 0;

	for (uint32_t pfn = g->head ? frame_pfn(g->head) : FRAME_NIL; pfn != FRAME_NIL;
	     pfn = frame_table[pfn].next, n++) {
		const struct frame *f = &frame_table[pfn];
		const pte_t *entries = frame_virt(f);

		FUZZ_CHECK(f->use >= FRAME_PT_PTE && f->use <= FRAME_PT_PUD &&
			   (f->flags & FRAME_F_GATHERED) && !(f->flags & FRAME_F_LINKED) &&
			   f->entries == KPT_TABLE_DEAD,
			   "gathered frame pfn %#x: use %s, flags %#x, %u entries", pfn,
			   frame_use_name(f->use), f->flags, f->entries);
		for (size_t i = 0; i < PT_ENTRIES; i++)
			FUZZ_CHECK(entries[i] == 0, "gathered table pfn %#x: entry %zu is %#lx",
				   pfn, i, entries[i]);
	}
	FUZZ_CHECK(n == g->nr_frames, "%lu frames on the gather, it counts %lu", n,
		   g->nr_frames);
}

static void flush(struct pt_gather *g)
{
	check_gathered(g);
	shootdown_flush_and_free(g);
	pt_gather_init(g);
}

/* ---- operations ---- */

struct op {
	uint8_t kind;
	virt_addr_t va;
	uint64_t size;
	phys_addr_t pa;
	enum pt_prot prot;
	enum pt_cache cache;
	enum pt_page_size max_page;
	long fail_after;       /* frame_fail_countdown for a map; -1 = off */
};

static struct op decode(struct fuzz_reader *r)
{
	static const uint64_t aligns[] = { PAGE_SIZE, PMD_SIZE, PUD_SIZE };
	static const enum pt_page_size pages[] = { PT_PAGE_4K, PT_PAGE_2M, PT_PAGE_1G,
						   PT_PAGE_1G };
	struct op o = { .kind = fuzz_u8(r) };
	uint64_t va_pages = fuzz_take(r, 3), n = fuzz_take(r, 2);
	uint8_t shape = fuzz_u8(r), pa_hi = fuzz_u8(r), attrs = fuzz_u8(r),
		fail = fuzz_u8(r);
	uint64_t pa_base = (uint64_t)fuzz_take(r, 2) << PMD_SHIFT;

	fuzz_u8(r);                                     /* spare */
	o.va = WIN_START + ALIGN_DOWN((va_pages * PAGE_SIZE) % WIN_SIZE,
				      aligns[shape % 3]);
	o.max_page = pages[(shape >> 5) % 4];
	/* 1 GiB sizes only where big leaves fit (pa offset as va's, pages
	 * above 4 KiB): a gigabyte of 4 KiB entries costs ~10 ms here, and
	 * 4 KiB leaves are exercised enough by the smaller sizes and the
	 * edges of unaligned big ranges. */
	if ((shape >> 2) % 3 == 2 && (!(pa_hi & 0x80) || o.max_page == PT_PAGE_4K))
		shape -= 4;
	o.size = (shape >> 2) % 3 == 0 ? (1 + n % 600) * PAGE_SIZE :
		 (shape >> 2) % 3 == 1 ? (1 + n % 4) * PMD_SIZE : (1 + n % 2) * PUD_SIZE;
	if (shape & 0x10)
		o.size += PAGE_SIZE;                    /* a 4 KiB tail */
	o.size = MIN(o.size, WIN_END - o.va);
	/* pa: same offset as va in a 1 GiB page (big leaves fit), or shifted. */
	o.pa = pa_base + (pa_hi & 0x80 ? o.va % PUD_SIZE : (pa_hi & 0x7f) * PAGE_SIZE);
	o.prot = (enum pt_prot)(PT_PROT_RO + attrs % 3);
	o.cache = (enum pt_cache)(PT_CACHE_WB + (attrs >> 2) % 3);
	o.fail_after = fail < 6 ? fail : -1;
	return o;
}

/* Reclaim the op's range, or (kind bit 0x20) the whole window, which
 * must leave exactly the tables the model needs. */
static void op_reclaim(const struct op *o)
{
	bool whole = o->kind & 0x20;
	virt_addr_t a = whole ? WIN_START : o->va;
	uint64_t size = whole ? WIN_SIZE : o->size;
	struct pt_gather g;

	pt_gather_init(&g);
	FUZZ_CHECK(kpt_reclaim_empty_tables(a, size, &g) == 0,
		   "kpt_reclaim_empty_tables(va %#lx size %#lx) failed", a, size);
	flush(&g);
	if (whole)
		empty_tables_may_stay = false;
}

static void op_map(const struct op *o)
{
	struct kpt_mapping m = { .va = o->va, .pa = o->pa, .size = o->size,
				 .prot = o->prot, .cache = o->cache,
				 .max_page = o->max_page };
	int want = overlaps(o->va, o->va + o->size) ? -EEXIST : 0;
	int err;

	if (nr_ext == MAX_EXTENTS)
		return;
	/* kpt_unmap_leaves()'s contract (mm/kpt.h): reclaim before lending
	 * a range again, or an empty table may stand where a larger page
	 * goes (kpt_map then says -EEXIST). */
	if (empty_tables_may_stay)
		op_reclaim(o);
	frame_fail_countdown = o->fail_after;
	err = kpt_map(&m, KPT_MAP_NEW, NULL);
	frame_fail_countdown = -1;
	FUZZ_CHECK(err == want || (err == -ENOMEM && !want && o->fail_after >= 0),
		   "kpt_map(va %#lx size %#lx pa %#lx max %d): %d, model %d", o->va, o->size,
		   o->pa, o->max_page, err, want);
	if (err == 0)
		ext[nr_ext++] = (struct extent){ o->va, o->size, o->pa, o->prot, o->cache,
			MIN((enum pt_level)o->max_page,
			    cpu_features.gbpages ? PT_LEVEL_PUD : PT_LEVEL_PMD) };
}

enum change { UNMAP, UNMAP_LEAVES, PROTECT };

static int change_range(enum change how, const struct op *o, struct pt_gather *g)
{
	switch (how) {
	case UNMAP:        return kpt_unmap(o->va, o->size, g);
	case UNMAP_LEAVES: return kpt_unmap_leaves(o->va, o->size, g);
	case PROTECT:      return kpt_protect(o->va, o->size, o->prot, g);
	}
	return -EINVAL;
}

static void op_change(const struct op *o, enum change how)
{
	static const char *const names[] = { "kpt_unmap", "kpt_unmap_leaves",
					     "kpt_protect" };
	bool protect = how == PROTECT;
	virt_addr_t a = o->va, b = o->va + o->size;
	int want = splits(a) || splits(b) ? -EINVAL :
		   protect && !fully_mapped(a, b) ? -ENOENT : 0;
	struct pt_gather now, *g = o->kind & 0x80 ? &pending : &now;
	int err;

	pt_gather_init(&now);
	err = change_range(how, o, g);
	FUZZ_CHECK(err == want, "%s(va %#lx size %#lx): %d, model %d",
		   names[how], a, o->size, err, want);
	if (err == 0 && how == UNMAP_LEAVES)
		empty_tables_may_stay = true;
	if (err == 0) {
		cut_at(a);
		cut_at(b);
		for (size_t i = nr_ext; i-- > 0;) {
			if (ext[i].va < a || ext[i].va >= b)
				continue;
			if (protect)
				ext[i].prot = o->prot;
			else
				ext[i] = ext[--nr_ext];
		}
	}
	if (g == &now)
		flush(&now);
}


/* ---- set up, run, tear down ---- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	host_mm_boot_default();
	memcpy(boot_frames, frame_stats.frames, sizeof(boot_frames));
	memcpy(boot_linked, kpt.stats.tables_linked, sizeof(boot_linked));
	pt_gather_init(&pending);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_reader r = { data, size };
	struct pt_gather g;

	cpu_features.gbpages = !(fuzz_u8(&r) & 1);
	nr_ext = 0;
	while (fuzz_more(&r)) {
		struct op o = decode(&r);

		switch (o.kind % 6) {
		case 0: case 1: op_map(&o); break;
		case 2: op_change(&o, UNMAP); break;
		case 3: op_change(&o, PROTECT); break;
		case 4: op_change(&o, UNMAP_LEAVES); break;
		case 5: op_reclaim(&o); break;
		}
		if (o.kind & 0x40)
			flush(&pending);
		check_tables();
		check_all_walks(o.va, o.va + o.size);
	}
	flush(&pending);
	pt_gather_init(&g);
	FUZZ_CHECK(kpt_unmap(WIN_START, WIN_SIZE, &g) == 0, "unmapping the window failed");
	flush(&g);
	op_reclaim(&(struct op){ .kind = 0x20 });   /* what unmap_leaves left */
	nr_ext = 0;
	check_tables();
	for (int u = 0; u < FRAME_USE_COUNT; u++)
		FUZZ_CHECK(frame_stats.frames[u] == boot_frames[u],
			   "%s frames: %lu, %lu after boot", frame_use_name(u),
			   frame_stats.frames[u], boot_frames[u]);
	host_cpu_features_default();
	return 0;
}
