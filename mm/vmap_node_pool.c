/* vmap_node_pool.c: the nodes that mm/vmap_area.c works with.
 *
 * vmap_area.c never allocates (seed 004: a path that frees page tables
 * must not allocate), so its callers bring the nodes: before a call
 * that may need some, they take them from this pool, which grows one
 * frame at a time outside every lock of the area allocator; after it,
 * they put back what the call did not use and what freeing handed back.
 * Pool frames are kept for good: the node count only grows to the peak
 * number of areas plus free ranges (about 60 nodes a frame).
 *
 * Each CPU keeps a stash of nodes besides, taken from and given back to
 * the pool VMAP_NODE_STASH_BATCH at a time: a vmalloc takes one node,
 * and without the stash every vmalloc took the pool's lock once more
 * (`tools/profiler.py --callers spin_lock` on the linux table's all_4k
 * row: 2% of all samples spun there).  Only its CPU's thread context
 * touches a stash (vmalloc, vmap, ioremap and the purge are not for
 * interrupt handlers, and nothing preempts a thread here): no lock.
 *
 * Lock: vmap_node_pool.lock, a leaf; held for a few pointer moves.
 */
#include "arch/x86/arch.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"
#include "mm/frame.h"
#include "mm/vmap_area.h"

static struct {
	struct spinlock lock;
	struct vmap_area *head;     /* free nodes, linked by .link */
	uint64_t count;
	uint64_t frames;            /* frames carved into nodes, ever */
} vmap_node_pool = { .lock = SPINLOCK_INIT("vmap_node_pool") };

/* Carve one fresh frame into nodes.  -ENOMEM if there is none.
 * => no lock held; takes buddy.lock, then the pool's. */
#define VMAP_NODE_STASH_BATCH 16   /* nodes moved per hold of the lock */
#define VMAP_NODE_STASH_MAX   64   /* above this, a batch goes back */

static struct vmap_node_stash {
	struct vmap_area *head;     /* linked by .link */
	unsigned int count;
} vmap_node_stashes[MAX_CPUS];

static int vmap_node_pool_grow(void)
{
	struct frame *f = frame_alloc(0, FRAME_KERNEL);
	struct vmap_area *nodes;
	size_t n = PAGE_SIZE / sizeof(struct vmap_area);
	irqflags_t irq;

	if (!f)
		return -ENOMEM;
	nodes = frame_virt(f);
	/* Written whole once: a frame where firmware code ran keeps QEMU's
	 * translations of it until every byte was stored, and each store
	 * to the nodes would pay for QEMU's self-modifying-code check
	 * (docs/testing.md, "Why UEFI boots were slower"). */
	memset(nodes, 0, PAGE_SIZE);
	irq = spin_lock_irqsave(&vmap_node_pool.lock);
	for (size_t i = 0; i < n; i++) {
		nodes[i].link = vmap_node_pool.head;
		vmap_node_pool.head = &nodes[i];
	}
	vmap_node_pool.count += n;
	vmap_node_pool.frames++;
	spin_unlock_irqrestore(&vmap_node_pool.lock, irq);
	return 0;
}

/* Move up to @n nodes from the list *@from to the list *@to, counting
 * them off *@from_count and onto *@to_count. */
static void node_list_move(struct vmap_area **from, uint64_t *from_count,
			   unsigned int n, struct vmap_area **to,
			   uint64_t *to_count)
{
	while (n-- > 0 && *from) {
		struct vmap_area *va = *from;

		*from = va->link;
		va->link = *to;
		*to = va;
		(*from_count)--;
		(*to_count)++;
	}
}

static struct vmap_area *vmap_node_pool_take(void)
{
	struct vmap_node_stash *st = &vmap_node_stashes[this_cpu_id()];
	struct vmap_area *va;

	if (!st->head) {
		irqflags_t irq = spin_lock_irqsave(&vmap_node_pool.lock);
		uint64_t got = 0;

		node_list_move(&vmap_node_pool.head, &vmap_node_pool.count,
			       VMAP_NODE_STASH_BATCH, &st->head, &got);
		st->count += (unsigned int)got;
		spin_unlock_irqrestore(&vmap_node_pool.lock, irq);
	}
	va = st->head;
	if (va) {
		st->head = va->link;
		st->count--;
	}
	return va;
}

static void vmap_node_pool_put(struct vmap_area *va)
{
	struct vmap_node_stash *st = &vmap_node_stashes[this_cpu_id()];

	va->link = st->head;
	st->head = va;
	if (++st->count > VMAP_NODE_STASH_MAX) {
		irqflags_t irq = spin_lock_irqsave(&vmap_node_pool.lock);
		uint64_t left = st->count;

		node_list_move(&st->head, &left, VMAP_NODE_STASH_BATCH,
			       &vmap_node_pool.head, &vmap_node_pool.count);
		st->count = (unsigned int)left;
		spin_unlock_irqrestore(&vmap_node_pool.lock, irq);
	}
}

struct vmap_area *vmap_node_pool_first(void)
{
	if (vmap_node_pool_grow())
		return NULL;
	return vmap_node_pool_take();
}

int vmap_node_reserve_fill(struct vmap_node_reserve *r)
{
	struct vmap_area **slots[] = { &r->area, &r->split };

	for (size_t i = 0; i < ARRAY_SIZE(slots); i++) {
		while (!*slots[i]) {
			*slots[i] = vmap_node_pool_take();
			if (!*slots[i] && vmap_node_pool_grow())
				return -ENOMEM;
		}
	}
	return 0;
}

void vmap_node_reserve_return(struct vmap_node_reserve *r)
{
	if (r->area)
		vmap_node_pool_put(r->area);
	if (r->split)
		vmap_node_pool_put(r->split);
	*r = (struct vmap_node_reserve){ NULL, NULL };
}

/* A few spares go to this CPU's stash; many (a purge's run of 1,000
 * areas leaves 999) go to the pool as one list, under one hold of its
 * lock: node by node through the stash was 14% of that purge's time. */
void vmap_spares_return(struct vmap_spares *sp)
{
	struct vmap_area *va;
	irqflags_t irq;

	if (sp->count <= VMAP_NODE_STASH_MAX) {
		while ((va = vmap_spares_pop(sp)))
			vmap_node_pool_put(va);
		return;
	}
	irq = spin_lock_irqsave(&vmap_node_pool.lock);
	sp->tail->link = vmap_node_pool.head;
	vmap_node_pool.head = sp->head;
	vmap_node_pool.count += sp->count;
	spin_unlock_irqrestore(&vmap_node_pool.lock, irq);
	*sp = (struct vmap_spares){ NULL, NULL, 0 };
}

uint64_t vmap_node_pool_frames(void)
{
	return READ_ONCE(vmap_node_pool.frames);
}
