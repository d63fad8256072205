/* vmalloc_space.c: the vmalloc window's areas from birth to purge.
 *
 * mm/vmap_area.c decides which addresses; this file adds what the kernel
 * needs around it:
 *   - nodes: vmap_area.c never allocates, so nodes come from a pool that
 *     is refilled (one frame at a time) before the space's lock is
 *     taken, and to which freeing returns them.  Pool frames are kept
 *     for good: a node count only grows to the peak number of areas.
 *   - the lazy pending gather: page tables and data pages of lazily
 *     freed areas, waiting for the purge's shootdown with their ranges.
 *   - the purge: one shootdown for every waiting area.
 *
 * Locks, in the order they nest:
 *   vm_lazy.lock    guards vm_lazy.pending and the LAZY step, so an
 *                   area and its pages always enter a purge together;
 *   vm_space.lock   (inside vmap_area.c) the trees;
 *   node_pool.lock  a leaf.
 */
#include "arch/x86/arch.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/spinlock.h"
#include "mm/layout.h"
#include "mm/shootdown.h"
#include "mm/vmalloc_internal.h"

struct vm_stats vm_stats;
uint64_t vm_lazy_max_pages_override;

static struct vmap_space vm_space;

static struct {
	struct spinlock lock;
	struct pt_gather pending;   /* tables and data pages of LAZY areas */
} vm_lazy = { .lock = SPINLOCK_INIT("vm_lazy") };

static struct {
	struct spinlock lock;
	struct vmap_area *head;     /* free nodes, linked by .link */
	uint64_t count;
} node_pool = { .lock = SPINLOCK_INIT("vm_node_pool") };

/* ---- nodes ---- */

/* Carve one fresh frame into nodes.  -ENOMEM if there is none. */
static int node_pool_grow(void)
{
	struct frame *f = frame_alloc(0, FRAME_KERNEL);
	struct vmap_area *nodes;
	size_t n = PAGE_SIZE / sizeof(struct vmap_area);
	irqflags_t irq;

	if (!f)
		return -ENOMEM;
	nodes = frame_virt(f);
	irq = spin_lock_irqsave(&node_pool.lock);
	for (size_t i = 0; i < n; i++) {
		nodes[i].link = node_pool.head;
		node_pool.head = &nodes[i];
	}
	node_pool.count += n;
	vm_stats.node_frames++;   /* node_pool.lock held */
	spin_unlock_irqrestore(&node_pool.lock, irq);
	return 0;
}

static struct vmap_area *node_pool_take(void)
{
	irqflags_t irq = spin_lock_irqsave(&node_pool.lock);
	struct vmap_area *va = node_pool.head;

	if (va) {
		node_pool.head = va->link;
		node_pool.count--;
	}
	spin_unlock_irqrestore(&node_pool.lock, irq);
	return va;
}

static void node_pool_put(struct vmap_area *va)
{
	irqflags_t irq = spin_lock_irqsave(&node_pool.lock);

	va->link = node_pool.head;
	node_pool.head = va;
	node_pool.count++;
	spin_unlock_irqrestore(&node_pool.lock, irq);
}

static void node_pool_put_spares(struct vmap_spares *sp)
{
	struct vmap_area *va;

	while ((va = vmap_spares_pop(sp)))
		node_pool_put(va);
}

/* Fill both slots of @r.  -ENOMEM (slots taken so far stay in @r). */
static int node_reserve_fill(struct vmap_node_reserve *r)
{
	struct vmap_area **slots[] = { &r->area, &r->split };

	for (size_t i = 0; i < ARRAY_SIZE(slots); i++) {
		while (!*slots[i]) {
			*slots[i] = node_pool_take();
			if (!*slots[i] && node_pool_grow())
				return -ENOMEM;
		}
	}
	return 0;
}

static void node_reserve_return(struct vmap_node_reserve *r)
{
	if (r->area)
		node_pool_put(r->area);
	if (r->split)
		node_pool_put(r->split);
}

/* ---- areas ---- */

void vmalloc_init(void)
{
	struct vmap_area *first;

	if (node_pool_grow())
		panic("vmalloc_init: no frame for the first area nodes");
	first = node_pool_take();
	if (vmap_space_init(&vm_space, VMALLOC_START, VMALLOC_END, first))
		panic("vmalloc_init: bad window [%#llx, %#llx)",
		      (unsigned long long)VMALLOC_START,
		      (unsigned long long)VMALLOC_END);
}

int vm_area_alloc(uint64_t size, uint64_t align, enum vmap_kind kind,
		  struct vmap_area **out)
{
	struct vmap_node_reserve r = { NULL, NULL };
	int err = node_reserve_fill(&r);

	if (!err) {
		err = vmap_area_alloc(&vm_space, size, align, kind, &r, out);
		if (err == -ENOMEM && vm_lazy_pages() > 0) {
			vm_purge_lazy_now();   /* the window is short: purge */
			err = vmap_area_alloc(&vm_space, size, align, kind, &r, out);
		}
	}
	node_reserve_return(&r);
	return err;
}

int vm_area_begin_free(const char *fn, virt_addr_t addr, enum vmap_kind kind,
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

void vm_area_release_flushed(struct vmap_area *area)
{
	struct vmap_spares spares = { NULL, 0 };

	vmap_area_free_unmapped(&vm_space, area, &spares);
	node_pool_put_spares(&spares);
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

void vm_area_free_lazy(struct vmap_area *area, struct pt_gather *g)
{
	irqflags_t irq = spin_lock_irqsave(&vm_lazy.lock);
	uint64_t waiting;

	pt_gather_splice(&vm_lazy.pending, g);
	vmap_area_lazy_free(&vm_space, area);
	waiting = vm_lazy_pages();
	vm_stats.lazy_pages_max = MAX(vm_stats.lazy_pages_max, waiting);
	spin_unlock_irqrestore(&vm_lazy.lock, irq);
	if (waiting > vm_lazy_max_pages())
		vm_purge_lazy_now();
}

void vm_area_abandon(struct vmap_area *area, struct pt_gather *g)
{
	int err = vmap_area_begin_free(&vm_space, area->start, area->kind, &area);

	if (err)
		panic("vm_area_abandon: area at %#llx is not BUSY (error %d); "
		      "expected the caller to own it",
		      (unsigned long long)area->start, err);
	vm_area_free_lazy(area, g);
}

/* Take every waiting area and its pages, shoot down once, then free.
 * Two purges may run at once on two CPUs: each takes a disjoint batch
 * under vm_lazy.lock and returns only its own (mm/vmap_area.h). */
void vm_purge_lazy_now(void)
{
	struct vmap_purge_batch batch;
	struct vmap_spares spares = { NULL, 0 };
	struct pt_gather g;
	uint64_t areas;
	irqflags_t irq;

	pt_gather_init(&g);
	irq = spin_lock_irqsave(&vm_lazy.lock);
	pt_gather_splice(&g, &vm_lazy.pending);
	vmap_purge_begin(&vm_space, &batch);
	spin_unlock_irqrestore(&vm_lazy.lock, irq);
	if (batch.nr_areas == 0 && pt_gather_empty(&g))
		return;

	pt_gather_note_stale(&g, batch.flush_start, batch.flush_end);
	areas = batch.nr_areas;
	shootdown_flush_and_free(&g);     /* every CPU acked; pages freed */
	vmap_purge_finish(&vm_space, &batch, &spares);
	node_pool_put_spares(&spares);
	COUNTER_ADD(vm_stats.purges, 1);
	COUNTER_ADD(vm_stats.areas_purged, areas);
}

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
	       (unsigned long long)vm_stats.node_frames);
}
