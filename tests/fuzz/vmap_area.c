/* vmap_area.c (fuzz): mm/vmap_area.c against a reference model.
 *
 * An input is a window (where and how large) and a sequence of
 * operations on it: allocations of any size, alignment and kind; frees
 * (begin, then lazy, or begin and free-unmapped, or begin alone and
 * lazy later), some of them wrong on purpose (wrong kind, an address
 * inside an area, an area already freed); purges split into begin and
 * finish with frees in between.  The model is a plain array of areas
 * with their states.  After each operation:
 *   - an allocation that succeeds lies in the window, aligned, with its
 *     guard page, over no other area; without a near-miss fallback it
 *     is the lowest fit the model computes from its gaps; an -ENOMEM
 *     means the model has no fit (with a fallback: no gap long enough
 *     to fit at any alignment);
 *   - a free succeeds exactly when the model has a BUSY area of that
 *     kind starting there, else -EINVAL with a message;
 *   - a purge takes exactly the model's LAZY areas and its flush range
 *     covers each of them;
 *   - every counter (busy, unmapping, lazy, reserved and lazy bytes)
 *     equals the model's, and vmap_space_check() holds (debug mode runs
 *     it after every change; a broken invariant panics, which aborts).
 * At the end everything is freed and purged: the window must be one
 * free range again, and every node is accounted for (freed here, so
 * LeakSanitizer sees a lost one).
 */
#include <string.h>

#include "mm/layout.h"
#include "mm/vmap_area.h"
#include "tests/fuzz/fuzz.h"
#include "tests/host/vmap_shim.h"

#define PAGE VMAP_PAGE_SIZE
#define MAX_AREAS 128          /* the model's capacity: plenty for 4 KiB inputs */

enum mstate { M_BUSY, M_UNMAPPING, M_LAZY, M_BATCH };

struct marea {
	virt_addr_t start, end;
	enum vmap_kind kind;
	enum mstate state;
	struct vmap_area *node;
};

static struct vmap_space space;
static struct vmap_node_reserve reserve;
static struct vmap_spares spares;
static struct marea model[MAX_AREAS];
static size_t nr_model;
static bool batch_pending;
static struct vmap_purge_batch batch;
static long nodes_out;

static struct vmap_area *node_new(void)
{
	struct vmap_area *va = malloc(sizeof(*va));

	memset(va, 0xa5, sizeof(*va));   /* a field the allocator forgets shows */
	nodes_out++;
	return va;
}

static void node_delete(struct vmap_area *va)
{
	free(va);
	nodes_out--;
}

static void drain_spares(void)
{
	struct vmap_area *va;

	while ((va = vmap_spares_pop(&spares)))
		node_delete(va);
}

static void model_remove(size_t i)
{
	model[i] = model[--nr_model];
}

/* ---- the model's answers ---- */

static int cmp_start(const void *a, const void *b)
{
	const struct marea *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Walk the gaps between the model's reserved ranges, lowest first:
 * *lowest = the lowest aligned fit (0 if none); returns whether some gap
 * is at least @min_len long. */
static bool model_fit(uint64_t need, uint64_t align, uint64_t min_len,
		      virt_addr_t *lowest)
{
	struct marea sorted[MAX_AREAS];
	virt_addr_t gap_start = space.start;
	bool long_gap = false;

	memcpy(sorted, model, nr_model * sizeof(*model));
	qsort(sorted, nr_model, sizeof(*sorted), cmp_start);
	*lowest = 0;
	for (size_t i = 0; i <= nr_model; i++) {
		virt_addr_t gap_end = i < nr_model ? sorted[i].start : space.end;
		virt_addr_t at = ALIGN_UP(gap_start, align);

		if (!*lowest && at >= gap_start && at <= gap_end && gap_end - at >= need)
			*lowest = at;
		long_gap |= gap_end - gap_start >= min_len;
		if (i < nr_model)
			gap_start = sorted[i].end + PAGE;
	}
	return long_gap;
}

static void check_counters(void)
{
	uint64_t busy = 0, unmapping = 0, lazy = 0, reserved = 0, lazy_bytes = 0;

	for (size_t i = 0; i < nr_model; i++) {
		uint64_t bytes = model[i].end - model[i].start + PAGE;

		busy += model[i].state == M_BUSY;
		unmapping += model[i].state == M_UNMAPPING;
		lazy += model[i].state == M_LAZY;   /* a batch: its runs, below */
		reserved += bytes;
		if (model[i].state == M_LAZY)
			lazy_bytes += bytes;
	}
	if (batch_pending)
		lazy += batch.nr_runs;
	FUZZ_CHECK(space.nr_busy == busy && space.nr_unmapping == unmapping &&
		   space.nr_lazy == lazy,
		   "busy/unmapping/lazy %lu/%lu/%lu, model %lu/%lu/%lu", space.nr_busy,
		   space.nr_unmapping, space.nr_lazy, busy, unmapping, lazy);
	FUZZ_CHECK(space.reserved_bytes == reserved && space.lazy_bytes == lazy_bytes,
		   "reserved %#lx lazy %#lx bytes, model %#lx %#lx", space.reserved_bytes,
		   space.lazy_bytes, reserved, lazy_bytes);
}

/* ---- operations ---- */

static void op_alloc(struct fuzz_reader *r)
{
	static const uint64_t aligns[] = { PAGE, 16 * PAGE, 2 * MiB, GiB };
	uint8_t how = fuzz_u8(r);
	uint64_t size = how % 3 == 0 ? (1 + fuzz_u8(r) % 64) * PAGE :
			how % 3 == 1 ? (1 + fuzz_u8(r) % 4) * 2 * MiB :
				       (1 + fuzz_take(r, 2) % 4096) * PAGE;
	uint64_t align = aligns[(how >> 2) % 4];
	enum vmap_kind kind = (enum vmap_kind)((how >> 4) % VMAP_KIND_COUNT);
	uint64_t fallbacks = space.near_miss_fallbacks;
	struct vmap_area *va;
	virt_addr_t lowest;
	bool long_gap;
	int err;

	if (nr_model == MAX_AREAS)
		return;
	if (!reserve.area)
		reserve.area = node_new();
	if (!reserve.split)
		reserve.split = node_new();
	long_gap = model_fit(size + PAGE, align, size + PAGE + align - PAGE, &lowest);
	err = vmap_area_alloc(&space, size, align, kind, &reserve, &va);
	if (err) {
		FUZZ_CHECK(err == -ENOMEM, "alloc %#lx align %#lx: %d", size, align, err);
		FUZZ_CHECK(fallbacks == space.near_miss_fallbacks ? !lowest : !long_gap,
			   "alloc %#lx align %#lx: -ENOMEM, but the model fits it at %#lx "
			   "(near-miss fallback: %s)", size, align, lowest,
			   fallbacks == space.near_miss_fallbacks ? "no" : "yes");
		return;
	}
	FUZZ_CHECK(va->start % align == 0 && va->end - va->start == size &&
		   va->start >= space.start && va->end + PAGE <= space.end &&
		   va->state == VMAP_AREA_BUSY && va->kind == kind,
		   "alloc %#lx align %#lx: got [%#lx, %#lx) state %d kind %d", size, align,
		   va->start, va->end, va->state, va->kind);
	for (size_t i = 0; i < nr_model; i++)
		FUZZ_CHECK(va->end + PAGE <= model[i].start || model[i].end + PAGE <= va->start,
			   "alloc [%#lx, %#lx) overlaps [%#lx, %#lx)", va->start, va->end,
			   model[i].start, model[i].end);
	if (fallbacks == space.near_miss_fallbacks)
		FUZZ_CHECK(va->start == lowest, "alloc %#lx align %#lx at %#lx, lowest fit %#lx",
			   size, align, va->start, lowest);
	model[nr_model++] = (struct marea){ va->start, va->end, kind, M_BUSY, va };
}

enum free_how { FREE_LAZY, FREE_UNMAPPED, FREE_BEGIN_ONLY };

/* Free an area of the model, or a wrong address on purpose. */
static void op_free(struct fuzz_reader *r, enum free_how how)
{
	uint8_t pick = fuzz_u8(r), twist = fuzz_u8(r) % 4;
	size_t i = nr_model ? pick % nr_model : 0;
	virt_addr_t addr = nr_model ? model[i].start : space.start;
	enum vmap_kind kind = nr_model ? model[i].kind : VMAP_KIND_VMALLOC;
	struct vmap_area *va = NULL;
	bool want_ok;
	int err;

	if (twist == 1)
		kind = (enum vmap_kind)((kind + 1) % VMAP_KIND_COUNT);
	if (twist == 2)
		addr += PAGE;               /* inside the area, or its guard */
	if (twist == 3 && nr_model && model[i].state == M_UNMAPPING) {
		vmap_area_lazy_free(&space, model[i].node);   /* its owner goes on */
		model[i].state = M_LAZY;
		return;
	}
	want_ok = nr_model && addr == model[i].start && kind == model[i].kind &&
		  model[i].state == M_BUSY;
	err = vmap_area_begin_free(&space, addr, kind, &va);
	FUZZ_CHECK(want_ok ? err == 0 && va == model[i].node : err == -EINVAL,
		   "free %#lx as kind %d: %d (model: %s)", addr, kind, err,
		   want_ok ? "a busy area" : "not freeable");
	if (err) {
		FUZZ_CHECK(shim_log_contains("vmap: cannot free"), "no message: %s", shim_log);
		return;
	}
	model[i].state = M_UNMAPPING;
	if (how == FREE_LAZY) {
		vmap_area_lazy_free(&space, va);
		model[i].state = M_LAZY;
	} else if (how == FREE_UNMAPPED) {
		vmap_area_free_unmapped(&space, va, &spares);
		model_remove(i);
		drain_spares();
	}
}

/* The batch's runs: at least its groups of touching areas (only areas
 * next to each other on the lazy list are joined), at most its areas. */
static void check_batch_runs(void)
{
	struct marea in_batch[MAX_AREAS];
	size_t n = 0;
	uint64_t groups = 0;
	virt_addr_t prev_end = 0;

	for (size_t i = 0; i < nr_model; i++)
		if (model[i].state == M_BATCH)
			in_batch[n++] = model[i];
	qsort(in_batch, n, sizeof(*in_batch), cmp_start);
	for (size_t i = 0; i < n; i++) {
		groups += in_batch[i].start != prev_end;
		prev_end = in_batch[i].end + PAGE;
	}
	FUZZ_CHECK(groups <= batch.nr_runs && batch.nr_runs <= batch.nr_areas,
		   "batch: %lu runs of %lu areas; %lu groups touch", batch.nr_runs,
		   batch.nr_areas, groups);
}

static void op_purge(void)
{
	uint64_t lazy = 0;

	if (batch_pending) {            /* finish the one in flight */
		vmap_purge_finish(&space, &batch, &spares);
		drain_spares();
		for (size_t i = nr_model; i-- > 0;)
			if (model[i].state == M_BATCH)
				model_remove(i);
		batch_pending = false;
		return;
	}
	vmap_purge_begin(&space, &batch, &spares);
	batch_pending = true;
	for (size_t i = 0; i < nr_model; i++) {
		if (model[i].state != M_LAZY)
			continue;
		lazy++;
		model[i].state = M_BATCH;
		FUZZ_CHECK(batch.flush_start <= model[i].start && model[i].end <= batch.flush_end,
			   "flush [%#lx, %#lx) misses [%#lx, %#lx)", batch.flush_start,
			   batch.flush_end, model[i].start, model[i].end);
	}
	FUZZ_CHECK(batch.nr_areas == lazy, "batch of %lu, model %lu lazy", batch.nr_areas, lazy);
	check_batch_runs();
}

/* ---- set up, run, tear down ---- */

static void tree_free_all(struct avl_tree *tree)
{
	struct avl_node *n;

	while ((n = tree->root)) {
		avl_erase(tree, n);
		node_delete(container_of(n, struct vmap_area, node));
	}
}

static void free_everything(void)
{
	for (size_t i = 0; i < nr_model; i++) {
		struct vmap_area *va = model[i].node;

		if (model[i].state == M_BUSY)
			FUZZ_CHECK(vmap_area_begin_free(&space, model[i].start, model[i].kind,
							&va) == 0, "final free of %#lx", model[i].start);
		if (model[i].state == M_BUSY || model[i].state == M_UNMAPPING) {
			vmap_area_lazy_free(&space, va);
			model[i].state = M_LAZY;
		}
	}
	if (batch_pending)
		op_purge();
	op_purge();
	op_purge();
	FUZZ_CHECK(nr_model == 0, "%zu areas left in the model", nr_model);
	check_counters();
	FUZZ_CHECK(space.nr_free == 1 && space.reserved_bytes == 0,
		   "after freeing everything: %lu free ranges, %#lx bytes reserved",
		   space.nr_free, space.reserved_bytes);
	FUZZ_CHECK(nodes_out == 1 + (reserve.area != NULL) + (reserve.split != NULL),
		   "%ld nodes out: one free range and the reserve expected", nodes_out);
	space.debug = VMAP_DEBUG_OFF;
	tree_free_all(&space.free_tree);
	tree_free_all(&space.busy_tree);
	if (reserve.area)
		node_delete(reserve.area);
	if (reserve.split)
		node_delete(reserve.split);
	FUZZ_CHECK(nodes_out == 0, "%ld nodes lost", nodes_out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_reader r = { data, size };
	uint8_t shape = fuzz_u8(&r);
	/* Small windows fill up (-ENOMEM paths); 2 GiB ones hold 1 GiB aligns. */
	uint64_t pages = 2 + fuzz_take(&r, 2) % 16384 + (shape & 1 ? (2 * GiB) / PAGE : 0);
	virt_addr_t start = VMALLOC_START + (uint64_t)fuzz_u8(&r) * PAGE;

	memset(&space, 0, sizeof(space));
	memset(&reserve, 0, sizeof(reserve));
	memset(&spares, 0, sizeof(spares));
	nr_model = 0;
	batch_pending = false;
	shim_log_clear();
	FUZZ_CHECK(vmap_space_init(&space, start, start + pages * PAGE, node_new()) == 0,
		   "vmap_space_init(%#lx, %lu pages)", start, pages);
	space.debug = VMAP_DEBUG_CHECK_EVERY_OP;
	while (fuzz_more(&r)) {
		switch (fuzz_u8(&r) % 6) {
		case 0: case 1: op_alloc(&r); break;
		case 2: op_free(&r, FREE_LAZY); break;
		case 3: op_free(&r, FREE_UNMAPPED); break;
		case 4: op_free(&r, FREE_BEGIN_ONLY); break;
		case 5: op_purge(); break;
		}
		check_counters();
		if (shim_log_truncated)
			shim_log_clear();
	}
	free_everything();
	return 0;
}
