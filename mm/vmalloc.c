/* vmalloc.c: vmalloc, vzalloc, vfree, vmap, vunmap (mm/vmalloc.h).
 *
 * The map path needs no TLB flush on x86: it only turns not-present
 * entries into present ones, and no CPU caches a not-present entry
 * (SDM Vol. 3A, 4.10.2.3 "Details of TLB Use": only translations whose
 * entries are present are cached).  A flush is needed only when a
 * PRESENT entry changes, which happens on unmap (vfree, vunmap,
 * iounmap) and on replacement (ioremap_replace_at), and those go
 * through mm/shootdown.c.  The vmalloc window never changes a present
 * entry on map: a range is lent again only after the purge that shot
 * its old translations down.
 *
 * A vmalloc area's data frames are listed through their struct frame's
 * .next (the same link the gather uses later), the first in area->owner:
 * no array to allocate, and vfree moves them onto the gather one by one.
 */
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/string.h"
#include "mm/layout.h"
#include "mm/shootdown.h"
#include "mm/vmalloc_internal.h"

int vm_map_range(virt_addr_t va, phys_addr_t pa, uint64_t size,
		 enum pt_prot prot, enum pt_cache cache,
		 enum pt_page_size max_page)
{
	struct kpt_mapping m = {
		.va = va, .pa = pa, .size = size, .prot = prot,
		.cache = cache, .max_page = max_page,
	};

	return kpt_map(&m, KPT_MAP_NEW, NULL);
}

void vm_unmap_range(virt_addr_t va, uint64_t size, struct pt_gather *g)
{
	int err = kpt_unmap(va, size, g);

	if (err)
		panic("vm_unmap_range: kpt_unmap(%#llx, %#llx) failed with %d; "
		      "expected an area's range to unmap",
		      (unsigned long long)va, (unsigned long long)size, err);
}

enum vm_flush_policy vm_flush_policy = VM_FLUSH_LAZY;

/* ---- the data frames of a vmalloc area ---- */

static struct frame *frame_list_next(const struct frame *f)
{
	return f->next == FRAME_NIL ? NULL : &frame_table[f->next];
}

static void frame_list_free_unmapped(struct frame *head)
{
	while (head) {
		struct frame *next = frame_list_next(head);

		frame_free(head, FRAME_VMALLOC);   /* never mapped: no TLB */
		head = next;
	}
}

/* @n frames for a vmalloc area, listed; NULL if the allocator is out
 * even after a purge returned the waiting pages. */
static struct frame *frame_list_alloc(uint64_t n)
{
	struct frame *head = NULL;
	bool purged = false;

	for (uint64_t i = 0; i < n; i++) {
		struct frame *f = frame_alloc(0, FRAME_VMALLOC);

		if (!f && !purged && vm_lazy_pages() > 0) {
			vm_purge_lazy_now();
			purged = true;
			f = frame_alloc(0, FRAME_VMALLOC);
		}
		if (!f) {
			frame_list_free_unmapped(head);
			return NULL;
		}
		f->next = head ? (uint32_t)frame_pfn(head) : FRAME_NIL;
		head = f;
	}
	return head;
}

/* Move every frame of the list onto @g (links are rewritten by the
 * gather, so read each next first). */
static void frame_list_gather(struct frame *head, struct pt_gather *g)
{
	while (head) {
		struct frame *next = frame_list_next(head);

		pt_gather_add(g, head);
		head = next;
	}
}

/* A map that ran out of page-table frames halfway: undo it like a free,
 * lazily (some pages were mapped, so some CPU may have cached them).
 * @frames (vmalloc's own data frames, or NULL) are freed after the purge. */
static void vm_undo_partial_map(struct vmap_area *area, struct frame *frames)
{
	struct pt_gather g;

	pt_gather_init(&g);
	vm_unmap_range(area->start, area->end - area->start, &g);
	frame_list_gather(frames, &g);
	vm_area_abandon(area, &g);
}

/* The unmap path shared by vfree and iounmap: @area is UNMAPPING (or a
 * failed map's), @frames its data frames or NULL.  Frees per policy.
 * => TLB: LAZY: stale anywhere until the purge; else nothing stale. */
void vm_unmap_area_and_free(struct vmap_area *area, struct frame *frames)
{
	virt_addr_t va = area->start, end = area->end;
	struct pt_gather g;

	pt_gather_init(&g);
	switch (READ_ONCE(vm_flush_policy)) {
	case VM_FLUSH_LAZY:
		vm_unmap_range(va, end - va, &g);
		frame_list_gather(frames, &g);
		vm_area_free_lazy(area, &g);
		return;
	case VM_FLUSH_PER_UNMAP:
		vm_unmap_range(va, end - va, &g);
		break;
	case VM_FLUSH_PER_PAGE:   /* ioremap may use huge pages: per unmap */
		for (; area->kind != VMAP_KIND_IOREMAP && va + PAGE_SIZE < end;
		     va += PAGE_SIZE) {
			vm_unmap_range(va, PAGE_SIZE, &g);
			shootdown_flush_and_free(&g);
		}
		vm_unmap_range(va, end - va, &g);
		break;
	}
	frame_list_gather(frames, &g);
	shootdown_flush_and_free(&g);
	vm_area_release_flushed(area);
}

/* ---- vmalloc ---- */

enum vm_fill { VM_FILL_UNDEFINED, VM_FILL_ZERO };

/* A size the window can hold; else a message naming @fn. */
static bool vm_size_ok(const char *fn, uint64_t size)
{
	if (size != 0 && size <= VMALLOC_END - VMALLOC_START - PAGE_SIZE)
		return true;
	printk("%s: size %#llx is %s\n", fn, (unsigned long long)size,
	       size == 0 ? "zero" : "larger than the vmalloc window");
	return false;
}

/* Map the listed frames at consecutive pages from @va.  On error the
 * pages mapped so far stay mapped; *mapped says how many. */
static int map_frame_list(virt_addr_t va, struct frame *head,
			  enum pt_prot prot, uint64_t *mapped)
{
	int err = 0;

	*mapped = 0;
	for (struct frame *f = head; f && !err; f = frame_list_next(f)) {
		err = vm_map_range(va + *mapped * PAGE_SIZE, frame_pa(f),
				   PAGE_SIZE, prot, PT_CACHE_WB, PT_PAGE_4K);
		if (!err)
			(*mapped)++;
	}
	return err;
}

static void *vmalloc_fill(const char *fn, size_t size, enum vm_fill fill)
{
	uint64_t n, mapped;
	struct vmap_area *area;
	struct frame *frames;

	if (!vm_size_ok(fn, size))
		return NULL;
	n = ALIGN_UP((uint64_t)size, PAGE_SIZE) / PAGE_SIZE;
	if (vm_area_alloc(n * PAGE_SIZE, PAGE_SIZE, VMAP_KIND_VMALLOC, &area))
		return NULL;
	frames = frame_list_alloc(n);
	if (!frames) {
		printk("%s: out of frames for %llu pages\n", fn,
		       (unsigned long long)n);
		vm_area_release_flushed(area);   /* nothing was mapped */
		return NULL;
	}
	for (struct frame *f = frames; fill == VM_FILL_ZERO && f;
	     f = frame_list_next(f))
		memset(frame_virt(f), 0, PAGE_SIZE);   /* before it is visible */

	if (map_frame_list(area->start, frames, PT_PROT_RW, &mapped)) {
		/* Out of page-table frames halfway: undo like a vfree. */
		printk("%s: out of page-table frames after %llu of %llu pages\n",
		       fn, (unsigned long long)mapped, (unsigned long long)n);
		vm_undo_partial_map(area, frames);
		return NULL;
	}
	area->owner = frames;
	COUNTER_ADD(vm_stats.vmallocs, 1);
	return (void *)area->start;
}

void *vmalloc(size_t size)
{
	return vmalloc_fill("vmalloc", size, VM_FILL_UNDEFINED);
}

void *vzalloc(size_t size)
{
	return vmalloc_fill("vzalloc", size, VM_FILL_ZERO);
}

/* => TLB: the range may stay in any CPU's TLB until the purge; nothing
 *    of it is reused or freed before then. */
void vfree(const void *addr)
{
	struct vmap_area *area;
	struct frame *frames;

	if (!addr)
		return;
	if (vm_area_begin_free("vfree", (virt_addr_t)addr, VMAP_KIND_VMALLOC,
			       &area))
		return;
	frames = area->owner;
	area->owner = NULL;
	vm_unmap_area_and_free(area, frames);
	COUNTER_ADD(vm_stats.vfrees, 1);
}

/* ---- vmap ---- */

static bool vmap_args_ok(struct frame *const *pages, size_t count,
			 enum pt_prot prot)
{
	if (!pages || count == 0 || count > (VMALLOC_END - VMALLOC_START) / PAGE_SIZE / 2) {
		printk("vmap: pages %p with count %zu: need a non-NULL array "
		       "and 1..%llu pages\n", pages, count,
		       (unsigned long long)((VMALLOC_END - VMALLOC_START) /
					    PAGE_SIZE / 2));
		return false;
	}
	if (prot < PT_PROT_RO || prot > PT_PROT_RX) {
		printk("vmap: prot %d is not a enum pt_prot\n", prot);
		return false;
	}
	for (size_t i = 0; i < count; i++) {
		struct frame *f = pages[i];

		if (!f || f < frame_table || f >= frame_table + frame_count ||
		    f->use == FRAME_FREE || f->use == FRAME_RESERVED) {
			printk("vmap: pages[%zu] = %p is not an allocated frame\n",
			       i, f);
			return false;
		}
	}
	return true;
}

void *vmap(struct frame *const *pages, size_t count, enum pt_prot prot)
{
	struct vmap_area *area;
	int err = 0;
	size_t i;

	if (!vmap_args_ok(pages, count, prot))
		return NULL;
	if (vm_area_alloc(count * PAGE_SIZE, PAGE_SIZE, VMAP_KIND_VMAP, &area))
		return NULL;
	for (i = 0; i < count && !err; i++)
		err = vm_map_range(area->start + i * PAGE_SIZE,
				   frame_pa(pages[i]), PAGE_SIZE, prot,
				   PT_CACHE_WB, PT_PAGE_4K);
	if (err) {
		printk("vmap: out of page-table frames after %zu of %zu pages\n",
		       i - 1, count);
		vm_undo_partial_map(area, NULL);
		return NULL;
	}
	COUNTER_ADD(vm_stats.vmaps, 1);
	return (void *)area->start;
}

/* Eager: the caller may hand its pages to someone else the moment we
 * return, so one shootdown now.
 * => TLB: no CPU holds a translation for the range on return. */
void vunmap(const void *addr)
{
	struct vmap_area *area;
	struct pt_gather g;

	if (!addr)
		return;
	if (vm_area_begin_free("vunmap", (virt_addr_t)addr, VMAP_KIND_VMAP,
			       &area))
		return;
	pt_gather_init(&g);
	vm_unmap_range(area->start, area->end - area->start, &g);
	shootdown_flush_and_free(&g);
	vm_area_release_flushed(area);
	COUNTER_ADD(vm_stats.vunmaps, 1);
}
