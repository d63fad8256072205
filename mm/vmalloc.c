/* vmalloc.c: vmalloc, vzalloc, vfree, vmap, vunmap (mm/vmalloc.h), and
 * the lazy purge that every lazy free ends in.
 *
 * One vfree, read top to bottom, goes through this file and then down:
 *
 *   vfree(addr)
 *     vm_claim_area()          BUSY -> UNMAPPING        mm/vmap_area.c
 *     vm_unmap_lazily()
 *       kpt_unmap_leaves()     clear the entries; the tables stay linked,
 *                              for the next area there  mm/kpt_unmap.c
 *       UNMAPPING -> LAZY; then the data frames join this CPU's
 *       vm_lazy.cpu[].pending
 *       vm_purge_lazy_now()    when too much waits (or the window, or the
 *                              frames, run short)
 *         kpt_reclaim_empty_tables()   unlink the tables still empty
 *         shootdown_flush_and_free()   invalidate everywhere, wait for
 *                              every ack, then free each page and table
 *                                                       mm/shootdown.c
 *         vmap_purge_finish()  LAZY -> FREE: the range may be lent again
 *
 * Why the tables wait for the purge: a vfree that unlinked its emptied
 * PTE, PMD and PUD tables at once made the next vmalloc, a page further
 * on, allocate and zero three new ones.  Kept linked until the purge, a
 * table serves every area of its span in between, and the purge, which
 * shoots down anyway, frees the ones still empty.
 *
 * The map side needs no TLB flush on x86: it only turns not-present
 * entries into present ones, and no CPU caches a not-present entry (SDM
 * Vol. 3A, 4.10.2.3 "Details of TLB Use").  A flush is needed when a
 * PRESENT entry changes: on unmap, and on replacement (mm/ioremap.c).
 * The window never changes a present entry on map: a range is lent
 * again only after the purge that shot its old translations down.
 *
 * A vmalloc area's data frames are a list linked through their struct
 * frame (frame_list_push/next, mm/frame.h), the first in area->owner: no
 * array to allocate, and vfree moves them onto the gather one by one.
 *
 * Locks, in the order they nest:
 *   vm_lazy.cpu[].lock    one CPU's pending gather (a leaf; why the
 *                         area goes LAZY before its pages join it is
 *                         explained at vm_lazy);
 *   vm_space.lock         (inside mm/vmap_area.c) the trees;
 *   vmap_node_pool.lock   a leaf (mm/vmap_node_pool.c).
 */
#include "arch/x86/arch.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"
#include "kernel/trace.h"
#include "mm/layout.h"
#include "mm/shootdown.h"
#include "mm/vmalloc_internal.h"

struct vm_stats vm_stats;
uint64_t vm_lazy_max_pages_override;

/* The window's ranges (mm/vmap_area.h). */
static struct vmap_space vm_space;

/* The data pages (and any table) that lazy unmaps took out, waiting for
 * a purge's shootdown, one gather per CPU: vfrees on different CPUs share
 * no lock here (a single lock here was the one every CPU's vfree waited
 * for most: `tools/profiler.py --under all_cpus_body --callers spin_lock`
 * on the linux table's all_4k row).  An area becomes LAZY before its
 * pages join its CPU's gather, and a purge takes the gathers before the
 * LAZY areas: so pages never enter an earlier purge than the area whose
 * shootdown makes freeing them safe (a later one is safe too).  And the
 * purges that took their batch but have not given it back yet. */
struct vm_lazy_cpu {
	struct spinlock lock;      /* guards pending; a leaf */
	struct pt_gather pending;
};

static struct {
	struct vm_lazy_cpu cpu[MAX_CPUS];
	unsigned int purges_in_flight;   /* atomic */
	bool limit_purge;                /* atomic: a CPU purges for the limit */
} vm_lazy = {
	.cpu = { [0 ... MAX_CPUS - 1] = { .lock = SPINLOCK_INIT("vm_lazy") } },
};

/* Does any CPU's gather hold pages?  A peek without the locks: a purge
 * that misses pages added meanwhile leaves them to the next one. */
static bool vm_lazy_frames_waiting(void)
{
	for (unsigned int cpu = 0; cpu < MAX_CPUS; cpu++)
		if (READ_ONCE(vm_lazy.cpu[cpu].pending.head))
			return true;
	return false;
}

void vmalloc_init(void)
{
	struct vmap_area *first = vmap_node_pool_first();

	if (!first)
		panic("vmalloc_init: no frame for the first area nodes");
	if (vmap_space_init(&vm_space, VMALLOC_START, VMALLOC_END, first))
		panic("vmalloc_init: bad window [%#llx, %#llx)",
		      (unsigned long long)VMALLOC_START,
		      (unsigned long long)VMALLOC_END);
}

/* ---- shortage ---- */

/* Frames, nodes or the window ran short: get back what purging can give.
 * Purge now if anything waits; else, if another CPU's purge has taken
 * the waiting areas and not yet freed them, wait for it (serving
 * cross-CPU calls meanwhile: that purge waits for our acknowledgment).
 * Returns whether it is worth trying again.
 * => thread context, no spinlock held; IRQs on or off. */
static bool vm_reclaim_for_shortage(void)
{
	if (vm_lazy_pages() > 0 || vm_lazy_frames_waiting()) {
		vm_purge_lazy_now();
		return true;
	}
	if (!READ_ONCE(vm_lazy.purges_in_flight))
		return false;
	COUNTER_ADD(vm_stats.purge_waits, 1);
	while (READ_ONCE(vm_lazy.purges_in_flight)) {
		smp_call_poll();
		cpu_relax();
	}
	return true;
}

/* ---- ranges of the window ---- */

/* The reserve's nodes come from this CPU's stash in the node pool
 * (mm/vmap_node_pool.c), and the one an allocation leaves unused goes
 * back there: no lock either way while the stash lasts. */
int vm_borrow_range(const char *fn, uint64_t size, uint64_t align,
		    enum vmap_kind kind, struct vmap_area **out)
{
	struct vmap_node_reserve r = { NULL, NULL };
	int err, nodes_err;

	for (bool retried = false; ; retried = true) {
		err = nodes_err = vmap_node_reserve_fill(&r);
		if (!err)
			err = vmap_area_alloc(&vm_space, size, align, kind, &r, out);
		if (err != -ENOMEM || retried || !vm_reclaim_for_shortage())
			break;   /* done, or nothing more to get back */
	}
	vmap_node_reserve_return(&r);
	if (err == -ENOMEM)
		printk("%s: no room for %#llx bytes aligned to %#llx: %s\n", fn,
		       (unsigned long long)size, (unsigned long long)align,
		       nodes_err ? "no frame for the area's node" :
				   "the vmalloc window is full");
	return err;
}

int vm_claim_area(const char *fn, virt_addr_t addr, enum vmap_kind kind,
		  struct vmap_area **out)
{
	if (vmap_area_begin_free(&vm_space, addr, kind, out) == 0)
		return 0;
	/* vmap_area_begin_free() printed what @addr is; say who asked. */
	printk("%s(%#llx): refused, nothing freed\n", fn,
	       (unsigned long long)addr);
	COUNTER_ADD(vm_stats.bad_frees, 1);
	return -EINVAL;
}

void vm_return_range(struct vmap_area *area)
{
	struct vmap_spares spares = { NULL, NULL, 0 };

	vmap_area_free_unmapped(&vm_space, area, &spares);
	vmap_spares_return(&spares);
}

int vm_map_area(struct kpt_mapping *m)
{
	int err = kpt_map(m, KPT_MAP_NEW, NULL);

	if (err == -ENOMEM && vm_reclaim_for_shortage())
		err = kpt_map(m, KPT_MAP_NEW, NULL);
	return err;
}

/* ---- unmapping: now, or lazily ---- */

/* An error of kpt_unmap*() on an area's own range is a kernel bug. */
static void expect_unmapped(const char *how, const struct vmap_area *area,
			    int err)
{
	if (err)
		panic("vmalloc: %s(%#llx, %#llx) failed with %d; expected an "
		      "area's range to unmap", how,
		      (unsigned long long)area->start,
		      (unsigned long long)(area->end - area->start), err);
}

/* Move every frame of the list onto @g (the gather rewrites the links,
 * so read each next first). */
static void frame_list_gather(struct frame *head, struct pt_gather *g)
{
	while (head) {
		struct frame *next = frame_list_next(head);

		pt_gather_add(g, head);
		head = next;
	}
}

void vm_unmap_now(struct vmap_area *area, struct frame *frames)
{
	struct pt_gather g;

	pt_gather_init(&g);
	expect_unmapped("kpt_unmap", area,
			kpt_unmap(area->start, area->end - area->start, &g));
	frame_list_gather(frames, &g);
	shootdown_flush_and_free(&g);   /* every CPU acked; pages freed */
	vm_return_range(area);
}

void vm_unmap_lazily(struct vmap_area *area, struct frame *frames)
{
	struct vm_lazy_cpu *c = &vm_lazy.cpu[this_cpu_id()];
	struct pt_gather g;
	uint64_t waiting;
	irqflags_t irq;

	pt_gather_init(&g);
	expect_unmapped("kpt_unmap_leaves", area,
			kpt_unmap_leaves(area->start, area->end - area->start, &g));
	frame_list_gather(frames, &g);

	vmap_area_lazy_free(&vm_space, area);   /* the area first: see vm_lazy */
	irq = spin_lock_irqsave(&c->lock);
	pt_gather_splice(&c->pending, &g);
	spin_unlock_irqrestore(&c->lock, irq);

	waiting = vm_lazy_pages();
	if (waiting > READ_ONCE(vm_stats.lazy_pages_max))   /* a statistic: */
		WRITE_ONCE(vm_stats.lazy_pages_max, waiting);   /* racy is fine */
	/* One CPU at a time purges for the limit: CPUs that cross it together
	 * would each shoot down, the later ones for almost nothing (the linux
	 * table's all_4k row, -smp 4: 183 IPIs for its 480,000 pairs, against
	 * 126 with one purger). */
	if (waiting > vm_lazy_max_pages() &&
	    !__atomic_exchange_n(&vm_lazy.limit_purge, true, __ATOMIC_ACQUIRE)) {
		vm_purge_lazy_now();
		__atomic_store_n(&vm_lazy.limit_purge, false, __ATOMIC_RELEASE);
	}
}

/* ---- the purge ---- */

/* Take every waiting area and its pages, shoot down once, then free.
 * Two purges may run at once on two CPUs: each takes disjoint pages
 * (under each CPU's vm_lazy lock) and a disjoint batch of areas (under
 * vm_space.lock), and returns only its own (mm/vmap_area.h). */
void vm_purge_lazy_now(void)
{
	struct vmap_purge_batch batch;
	struct vmap_spares spares = { NULL, NULL, 0 };
	struct pt_gather g;
	irqflags_t irq;

	/* Counted first: a shortage waits for what we are about to take. */
	__atomic_add_fetch(&vm_lazy.purges_in_flight, 1, __ATOMIC_RELAXED);
	pt_gather_init(&g);
	for (unsigned int cpu = 0; cpu < MAX_CPUS; cpu++) {   /* pages first */
		struct vm_lazy_cpu *c = &vm_lazy.cpu[cpu];

		if (!READ_ONCE(c->pending.head))
			continue;
		irq = spin_lock_irqsave(&c->lock);
		pt_gather_splice(&g, &c->pending);
		spin_unlock_irqrestore(&c->lock, irq);
	}
	vmap_purge_begin(&vm_space, &batch, &spares);       /* then areas */
	if (batch.nr_areas == 0 && pt_gather_empty(&g)) {
		__atomic_sub_fetch(&vm_lazy.purges_in_flight, 1, __ATOMIC_RELEASE);
		return;
	}
	trace1(TRACE_PURGE_BEGIN, batch.nr_areas);

	if (batch.nr_areas > 0)   /* every batch area's tables: still empty? */
		kpt_reclaim_empty_tables(batch.flush_start,
					 batch.flush_end - batch.flush_start, &g);
	pt_gather_note_stale(&g, batch.flush_start, batch.flush_end);
	shootdown_flush_and_free(&g);     /* every CPU acked; pages freed */
	COUNTER_ADD(vm_stats.purges, 1);
	COUNTER_ADD(vm_stats.areas_purged, batch.nr_areas);
	vmap_purge_finish(&vm_space, &batch, &spares);
	vmap_spares_return(&spares);
	__atomic_sub_fetch(&vm_lazy.purges_in_flight, 1, __ATOMIC_RELEASE);
	trace0(TRACE_PURGE_END);
}

uint64_t vm_lazy_max_pages(void)
{
	unsigned int log = 0;

	if (vm_lazy_max_pages_override)
		return vm_lazy_max_pages_override;
	for (unsigned int n = smp_num_online(); n; n >>= 1)
		log++;                              /* Linux: fls(cpus) */
	return log * (32 * MiB / PAGE_SIZE);
}

uint64_t vm_lazy_pages(void)
{
	return READ_ONCE(vm_space.lazy_bytes) / PAGE_SIZE;
}

/* ---- vmalloc, vzalloc, vfree ---- */

/* Frames never mapped: no TLB can hold them. */
static void frame_list_free_unmapped(struct frame *head)
{
	struct frame *f;

	while ((f = frame_list_pop(&head)))
		frame_free(f, FRAME_VMALLOC);
}

/* Reclaims one vmalloc may ask for before it gives up.  One was not
 * always enough with eight CPUs short at once: the frames a purge gives
 * back go to the purging CPU's cache, and other CPUs' caches refill from
 * the lists as they drain (vmalloc_bad.random_ops_on_all_cpus_leak_nothing
 * failed once at -smp 8); each further round purges again or waits for a
 * purge in flight, and stops when nothing is left to get back. */
#define VM_SHORTAGE_ROUNDS 4

/* @n frames for a vmalloc area, listed; NULL if the allocator is out
 * even after purges returned the waiting pages. */
static struct frame *frame_list_alloc(uint64_t n)
{
	struct frame *head = NULL;
	unsigned int rounds = 0;

	for (uint64_t i = 0; i < n; i++) {
		struct frame *f = frame_alloc(0, FRAME_VMALLOC);

		while (!f && rounds < VM_SHORTAGE_ROUNDS && vm_reclaim_for_shortage()) {
			rounds++;
			f = frame_alloc(0, FRAME_VMALLOC);
		}
		if (!f) {
			frame_list_free_unmapped(head);
			return NULL;
		}
		frame_list_push(&head, f);
	}
	return head;
}

/* kpt_map()'s frame source for a list: each call hands out the next. */
static struct frame *next_listed_frame(void *cursor)
{
	struct frame **at = cursor, *f = *at;

	if (f)
		*at = frame_list_next(f);
	return f;
}

/* Map the whole area with 4 KiB pages of the frames @next_frame hands
 * out, in order: all of it or, on error, nothing.
 * => TLB: none needed (not-present -> present only). */
static int map_area_frames(const struct vmap_area *area, enum pt_prot prot,
			   struct frame *(*next_frame)(void *), void *cursor)
{
	struct kpt_mapping m = {
		.va = area->start, .size = area->end - area->start,
		.prot = prot, .cache = PT_CACHE_WB, .max_page = PT_PAGE_4K,
		.next_frame = next_frame, .cursor = cursor,
	};

	return vm_map_area(&m);
}

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

/* Check, take the range and the frames, then map: all or nothing.
 * => TLB: none needed (not-present -> present only). */
static void *vmalloc_fill(const char *fn, size_t size, enum vm_fill fill)
{
	struct frame *frames, *cursor;
	struct vmap_area *area;
	uint64_t n;
	int err;

	if (!vm_size_ok(fn, size))
		return NULL;
	n = ALIGN_UP((uint64_t)size, PAGE_SIZE) / PAGE_SIZE;
	if (vm_borrow_range(fn, n * PAGE_SIZE, PAGE_SIZE, VMAP_KIND_VMALLOC, &area))
		return NULL;
	frames = frame_list_alloc(n);
	if (!frames) {
		printk("%s: out of frames for %llu pages\n", fn,
		       (unsigned long long)n);
		vm_return_range(area);   /* nothing was mapped */
		return NULL;
	}
	for (struct frame *f = frames; fill == VM_FILL_ZERO && f;
	     f = frame_list_next(f))
		memset(frame_virt(f), 0, PAGE_SIZE);   /* before it is visible */

	cursor = frames;
	err = map_area_frames(area, PT_PROT_RW, next_listed_frame, &cursor);
	if (err) {   /* kpt_map() changed nothing */
		printk("%s: mapping %llu pages failed with %d\n", fn,
		       (unsigned long long)n, err);
		frame_list_free_unmapped(frames);
		vm_return_range(area);
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

	if (!addr || vm_claim_area("vfree", (virt_addr_t)addr,
				   VMAP_KIND_VMALLOC, &area))
		return;
	frames = area->owner;
	area->owner = NULL;
	vm_unmap_lazily(area, frames);
	COUNTER_ADD(vm_stats.vfrees, 1);
}

/* => TLB: no CPU holds a translation for the range on return; its
 *    pages and emptied tables are free. */
void vfree_now(const void *addr)
{
	struct vmap_area *area;
	struct frame *frames;

	if (!addr || vm_claim_area("vfree_now", (virt_addr_t)addr,
				   VMAP_KIND_VMALLOC, &area))
		return;
	frames = area->owner;
	area->owner = NULL;
	vm_unmap_now(area, frames);
	COUNTER_ADD(vm_stats.vfrees, 1);
}

/* ---- vmap, vunmap ---- */

static bool vmap_args_ok(struct frame *const *pages, size_t count,
			 enum pt_prot prot)
{
	uint64_t max = (VMALLOC_END - VMALLOC_START) / PAGE_SIZE / 2;

	if (!pages || count == 0 || count > max) {
		printk("vmap: pages %p with count %zu: need a non-NULL array "
		       "and 1..%llu pages\n", pages, count,
		       (unsigned long long)max);
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

/* kpt_map()'s frame source for an array: each call hands out the next. */
static struct frame *next_array_frame(void *cursor)
{
	struct frame *const **at = cursor;

	return *(*at)++;
}

/* => TLB: none needed (not-present -> present only). */
void *vmap(struct frame *const *pages, size_t count, enum pt_prot prot)
{
	struct frame *const *cursor = pages;
	struct vmap_area *area;
	int err;

	if (!vmap_args_ok(pages, count, prot))
		return NULL;
	if (vm_borrow_range("vmap", count * PAGE_SIZE, PAGE_SIZE, VMAP_KIND_VMAP,
			    &area))
		return NULL;
	err = map_area_frames(area, prot, next_array_frame, &cursor);
	if (err) {   /* kpt_map() changed nothing */
		printk("vmap: mapping %zu pages failed with %d\n", count, err);
		vm_return_range(area);
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

	if (!addr || vm_claim_area("vunmap", (virt_addr_t)addr,
				   VMAP_KIND_VMAP, &area))
		return;
	vm_unmap_now(area, NULL);
	COUNTER_ADD(vm_stats.vunmaps, 1);
}

/* ---- the boot summary ---- */

void vm_print_summary(void)
{
	printk("vmalloc: %llu vmalloc, %llu vfree, %llu vmap, %llu vunmap, "
	       "%llu ioremap, %llu iounmap, %llu refused frees\n",
	       (unsigned long long)vm_stats.vmallocs,
	       (unsigned long long)vm_stats.vfrees,
	       (unsigned long long)vm_stats.vmaps,
	       (unsigned long long)vm_stats.vunmaps,
	       (unsigned long long)vm_stats.ioremaps,
	       (unsigned long long)vm_stats.iounmaps,
	       (unsigned long long)vm_stats.bad_frees);
	printk("vmalloc: %llu purges of %llu areas; %llu pages waiting now, "
	       "%llu at most (limit %llu); %llu busy areas; %llu node frames\n",
	       (unsigned long long)vm_stats.purges,
	       (unsigned long long)vm_stats.areas_purged,
	       (unsigned long long)vm_lazy_pages(),
	       (unsigned long long)vm_stats.lazy_pages_max,
	       (unsigned long long)vm_lazy_max_pages(),
	       (unsigned long long)READ_ONCE(vm_space.nr_busy),
	       (unsigned long long)vmap_node_pool_frames());
}
