/* alloc_fail_util.c: see alloc_fail.h. */
#include "arch/x86/arch.h"
#include "kernel/string.h"
#include "tests/alloc_fail.h"

phys_addr_t af_hole_pa(void)
{
	/* One GiB past the end of RAM, 1 GiB aligned: room for a 1 GiB
	 * page and the spacers' 2 MiB pages behind it. */
	return ALIGN_UP(frame_count * FRAME_SIZE, GiB) + GiB;
}

struct af_state af_state_now(void)
{
	struct af_state s = { .vm = vm_stats, .lazy_pages = vm_lazy_pages() };
	uint64_t pool = vmap_node_pool_frames();

	memcpy(s.frames, frame_stats.frames, sizeof(s.frames));
	s.frames[FRAME_KERNEL] -= pool;    /* the pool keeps its frames */
	s.frames[FRAME_FREE] += pool;
	for (enum pt_level l = PT_LEVEL_PTE; l <= PT_LEVEL_PGD; l++)
		s.linked[l] = kpt.stats.tables_linked[l];
	return s;
}

static const struct {
	const char *name;
	size_t offset;
	enum af_counter bit;
} af_counters[] = {
	{ "vmallocs",  offsetof(struct vm_stats, vmallocs),  AF_VMALLOCS },
	{ "vfrees",    offsetof(struct vm_stats, vfrees),    AF_VFREES },
	{ "vmaps",     offsetof(struct vm_stats, vmaps),     AF_VMAPS },
	{ "vunmaps",   offsetof(struct vm_stats, vunmaps),   AF_VUNMAPS },
	{ "ioremaps",  offsetof(struct vm_stats, ioremaps),  AF_IOREMAPS },
	{ "iounmaps",  offsetof(struct vm_stats, iounmaps),  AF_IOUNMAPS },
	{ "bad_frees", offsetof(struct vm_stats, bad_frees), AF_BAD_FREES },
};

static uint64_t counter_of(const struct vm_stats *vm, size_t offset)
{
	return *(const uint64_t *)((const char *)vm + offset);
}

static bool expect_same(struct selftest *t, const char *what, const char *field,
			int index, uint64_t before, uint64_t now)
{
	if (before == now)
		return true;
	selftest_fail_at(t, __FILE__, __LINE__, "%s: %s[%d] was %llu, is %llu",
			 what, field, index, (unsigned long long)before,
			 (unsigned long long)now);
	return false;
}

bool af_state_expect_equal(struct selftest *t, const char *what,
			   const struct af_state *b, const struct af_state *n,
			   unsigned int grown_by_one)
{
	bool ok = true;

	for (int u = 0; u < FRAME_USE_COUNT; u++)
		if (!expect_same(t, what, frame_use_name(u), u, b->frames[u],
				 n->frames[u]))
			ok = false;
	for (int l = PT_LEVEL_PTE; l <= PT_LEVEL_PGD; l++)
		if (!expect_same(t, what, "tables linked, level", l, b->linked[l],
				 n->linked[l]))
			ok = false;
	if (!expect_same(t, what, "lazy pages", 0, b->lazy_pages, n->lazy_pages))
		ok = false;
	for (size_t i = 0; i < ARRAY_SIZE(af_counters); i++) {
		uint64_t was = counter_of(&b->vm, af_counters[i].offset);
		uint64_t is = counter_of(&n->vm, af_counters[i].offset);
		uint64_t grown = (grown_by_one & af_counters[i].bit) ? 1 : 0;

		if (!expect_same(t, what, af_counters[i].name, (int)grown,
				 was + grown, is))
			ok = false;
	}
	return ok;
}

/* ---- the node pool ---- */

/* One node out of the pool; NULL when no frame is left to grow it. */
static struct vmap_area *pool_take_one(void)
{
	/* A filled .area slot is skipped: the fill takes one node, into
	 * .split.  The placeholder is never dereferenced. */
	struct vmap_node_reserve r = { (struct vmap_area *)&r, NULL };

	if (vmap_node_reserve_fill(&r))
		return NULL;
	return r.split;
}

void af_pool_drain(struct vmap_area **held)
{
	const uint64_t per_frame = PAGE_SIZE / sizeof(struct vmap_area);
	uint64_t frames0 = vmap_node_pool_frames(), left = 0;
	bool grown = false;

	/* Until it grows, the pool held an unknown number; the take that
	 * grew it left per_frame - 1 behind. */
	while (!grown || left > 0) {
		struct vmap_area *va = pool_take_one();

		if (!va)
			return;
		va->link = *held;
		*held = va;
		if (grown) {
			left--;
		} else if (vmap_node_pool_frames() != frames0) {
			grown = true;
			left = per_frame - 1;
		}
	}
}

void af_pool_refill(struct vmap_area **held)
{
	while (*held) {
		struct vmap_node_reserve r = { *held, NULL };

		*held = (*held)->link;
		vmap_node_reserve_return(&r);
	}
}

/* ---- placing an area ---- */

virt_addr_t af_lowest_free(void)
{
	void *p = ioremap(af_hole_pa() + PAGE_SIZE, PAGE_SIZE);

	iounmap(p);
	vm_purge_lazy_now();
	return (virt_addr_t)p;
}

/* One spacer from @from, where the window's lowest fit for @align must
 * be, to @next, where the next 4 KiB area must land (its guard page
 * is the page before @next).  4 KiB pages unless @align is 2 MiB. */
static bool spacer_add(struct selftest *t, void **slot, virt_addr_t from,
		       virt_addr_t next, uint64_t align)
{
	uint64_t pa = af_hole_pa() + (align == 2 * MiB ? 2 * MiB : PAGE_SIZE);
	void *p = ioremap(pa, next - PAGE_SIZE - from);

	*slot = p;
	if ((virt_addr_t)p == from)
		return true;
	selftest_fail_at(t, __FILE__, __LINE__, "spacer of %#llx bytes for "
			 "[%#llx, %#llx) landed at %p: the window is not laid "
			 "out as the lowest fit predicts",
			 (unsigned long long)(next - PAGE_SIZE - from),
			 (unsigned long long)from, (unsigned long long)next, p);
	return false;
}

bool af_spacers_place(struct selftest *t, virt_addr_t target,
		      void *spacers[AF_SPACERS_MAX])
{
	virt_addr_t low = af_lowest_free();
	virt_addr_t b1 = ALIGN_UP(low + 2 * PAGE_SIZE, 2 * MiB);
	virt_addr_t y = ALIGN_DOWN(target - 3 * PAGE_SIZE, 2 * MiB);
	bool ok;

	memset(spacers, 0, AF_SPACERS_MAX * sizeof(spacers[0]));
	if (!low || target < low + 2 * PAGE_SIZE) {
		selftest_fail_at(t, __FILE__, __LINE__, "target %#llx is below "
				 "the lowest free address %#llx plus a spacer",
				 (unsigned long long)target, (unsigned long long)low);
		return false;
	}
	if (y <= b1)   /* one spacer of 4 KiB pages: at most 4 MiB of them */
		return spacer_add(t, &spacers[0], low, target, PAGE_SIZE);
	/* Far: 4 KiB pages to a 2 MiB boundary, 2 MiB pages up to y (its
	 * guard page is y), 4 KiB pages from y + 4 KiB to the target. */
	ok = spacer_add(t, &spacers[0], low, b1, PAGE_SIZE) &&
	     spacer_add(t, &spacers[1], b1, y + PAGE_SIZE, 2 * MiB) &&
	     spacer_add(t, &spacers[2], y + PAGE_SIZE, target, PAGE_SIZE);
	if (!ok)
		af_spacers_release(spacers);
	return ok;
}

void af_spacers_release(void *spacers[AF_SPACERS_MAX])
{
	for (int i = 0; i < AF_SPACERS_MAX; i++) {
		iounmap(spacers[i]);
		spacers[i] = NULL;
	}
	vm_purge_lazy_now();
}
