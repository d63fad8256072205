/* frame.c: the buddy allocator over frame_table[] (see mm/frame.h).
 *
 * Free blocks of each order sit on a doubly linked list threaded through
 * the first frame of each block (struct frame .next/.prev, as frame
 * numbers).  Every frame of a block carries the block's use; only the
 * first carries its order, the others FRAME_ORDER_TAIL.  So "is the
 * buddy free and whole?" is one look at the buddy's first frame.
 *
 * Single frames, most of what the kernel allocates (vmalloc data, page
 * tables), go through a cache per CPU: a list of free frames that only
 * its CPU uses while memory lasts, so that a vmalloc/vfree pair takes
 * no lock that another CPU wants and splits or merges no buddy block.
 * The caches borrow from the buddy lists and give back in batches.
 *
 * Locks, in the order they nest:
 *   frame_caches[cpu].lock   one CPU's cache; other CPUs take it only
 *                            to drain it when memory runs short;
 *   buddy.lock               the lists (a leaf).
 */
#include "kernel/cmdline.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"
#include "mm/frame.h"

uintptr_t direct_map_offset = DIRECT_MAP_START;

struct frame *frame_table;
uint64_t frame_count;
struct frame_stats frame_stats;
enum frame_debug frame_debug = FRAME_DEBUG_OFF;
long frame_fail_countdown = -1;
bool frame_caches_off;
enum frame_bug_action frame_bug_action = FRAME_BUG_PANIC;
struct frame_bug_record frame_bug_last;

/* The allocator's state. */
static struct buddy {
	struct spinlock lock;      /* guards everything below, frame_stats,
				      and every free frame's struct frame.
				      A leaf lock: taken after kpt.lock,
				      nothing taken inside it */
	uint32_t free_head[FRAME_MAX_ORDER + 1];   /* first block, or FRAME_NIL */
} buddy = {
	.lock = SPINLOCK_INIT("buddy.lock"),
};

/* A CPU's cache holds at most FRAME_CACHE_HIGH frames and moves them to
 * and from the buddy lists FRAME_CACHE_BATCH at a time, under one hold
 * of buddy.lock.  2048 holds the frames a purge gives back after 1,000
 * vfrees, which the next 1,000 vmallocs take again: with 512 the purge
 * gave half of them to the lists, one merge each, and the vmallocs took
 * them back (purge after the burst, `tools/bench.py --row burst --smp 1
 * --cpu qemu64`, three alternating boots: 202-251 us with 512, 125-133
 * us with 2048).  The price: each CPU may keep 8 MiB that the lists do
 * not see; frame_alloc() drains every cache when the lists run short or
 * a larger block is missing, so none of it is lost to an allocation.
 * Alone, the caches left the one-CPU 4 KiB pair as it was (7.7 to 7.9
 * us, `--row vmalloc --smp 4`, poisoning on): what they remove is
 * buddy.lock from every CPU's pair, and the splits and merges. */
#define FRAME_CACHE_BATCH 64
#define FRAME_CACHE_HIGH  2048

static struct frame_cache {
	struct spinlock lock;      /* guards head and count; see the top */
	uint32_t head;             /* first cached frame (FRAME_NIL: none),
				      linked through struct frame .next */
	uint32_t count;
} frame_caches[MAX_CPUS];

static const char *const frame_use_names[FRAME_USE_COUNT] = {
	[FRAME_FREE] = "free",          [FRAME_RESERVED] = "reserved",
	[FRAME_KERNEL] = "kernel",      [FRAME_PT_PTE] = "PTE table",
	[FRAME_PT_PMD] = "PMD table",   [FRAME_PT_PUD] = "PUD table",
	[FRAME_PT_PGD] = "PGD table",   [FRAME_VMALLOC] = "vmalloc data",
};

const char *frame_use_name(enum frame_use use)
{
	return (unsigned int)use < FRAME_USE_COUNT ? frame_use_names[use] : "?";
}

void frame_beyond_ram(phys_addr_t pa)
{
	panic("frame_of: pa %#llx is beyond the end of RAM (%#llx)",
	      (unsigned long long)pa,
	      (unsigned long long)(frame_count << FRAME_SHIFT));
}

/* ---- free lists (buddy.lock held) ---- */

static void free_list_push(uint64_t pfn, unsigned int order)
{
	struct frame *f = &frame_table[pfn];

	f->prev = FRAME_NIL;
	f->next = buddy.free_head[order];
	if (f->next != FRAME_NIL)
		frame_table[f->next].prev = (uint32_t)pfn;
	buddy.free_head[order] = (uint32_t)pfn;
	f->order = (uint8_t)order;
	frame_stats.free_blocks[order]++;
}

static void free_list_remove(uint64_t pfn, unsigned int order)
{
	struct frame *f = &frame_table[pfn];

	if (f->prev != FRAME_NIL)
		frame_table[f->prev].next = f->next;
	else
		buddy.free_head[order] = f->next;
	if (f->next != FRAME_NIL)
		frame_table[f->next].prev = f->prev;
	f->next = f->prev = FRAME_NIL;
	frame_stats.free_blocks[order]--;
}

/* Give every frame of the block at @pfn the use @use, the first one the
 * block's order and the others FRAME_ORDER_TAIL, and count them. */
static void block_set_use(uint64_t pfn, unsigned int order, enum frame_use use)
{
	for (uint64_t i = 0; i < (1ULL << order); i++) {
		struct frame *f = &frame_table[pfn + i];

		/* Atomic: the caches change uses outside buddy.lock. */
		__atomic_sub_fetch(&frame_stats.frames[f->use], 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&frame_stats.frames[use], 1, __ATOMIC_RELAXED);
		f->use = (uint8_t)use;
		f->order = i == 0 ? (uint8_t)order : FRAME_ORDER_TAIL;
	}
}

/* Put the free block at @pfn on a list, first merging it with its buddy
 * for as long as the buddy is a free block of the same order. */
static void buddy_insert(uint64_t pfn, unsigned int order)
{
	while (order < FRAME_MAX_ORDER) {
		uint64_t buddy = pfn ^ (1ULL << order);

		if (buddy >= frame_count ||
		    frame_table[buddy].use != FRAME_FREE ||
		    (frame_table[buddy].flags & FRAME_F_CACHED) ||
		    frame_table[buddy].order != order)
			break;
		free_list_remove(buddy, order);
		frame_table[MAX(pfn, buddy)].order = FRAME_ORDER_TAIL;
		pfn = MIN(pfn, buddy);
		order++;
	}
	free_list_push(pfn, order);
}

/* ---- boot helpers, for mm/frame_init.c ---- */

void frame_buddy_reset(void)
{
	buddy.lock = (struct spinlock)SPINLOCK_INIT("buddy.lock");
	for (unsigned int o = 0; o <= FRAME_MAX_ORDER; o++)
		buddy.free_head[o] = FRAME_NIL;
	for (unsigned int cpu = 0; cpu < MAX_CPUS; cpu++)
		frame_caches[cpu] = (struct frame_cache){
			.lock = SPINLOCK_INIT("frame_cache.lock"), .head = FRAME_NIL };
	memset(&frame_stats, 0, sizeof(frame_stats));
	frame_stats.frames[FRAME_RESERVED] = frame_count;
}

/* Turn the RESERVED block at @pfn into free memory. */
void frame_buddy_add_block(uint64_t pfn, unsigned int order)
{
	irqflags_t irq = spin_lock_irqsave(&buddy.lock);

	block_set_use(pfn, order, FRAME_FREE);
	buddy_insert(pfn, order);
	spin_unlock_irqrestore(&buddy.lock, irq);
}

/* ---- debug poison ---- */

static char frame_poison_option[8] = "off";
KERNEL_PARAM_STRING(frame_poison, frame_poison_option,
		    "poison freed frames: off (default), edges or full");

static const char *const frame_debug_names[] = {
	[FRAME_DEBUG_OFF] = "off",
	[FRAME_DEBUG_POISON_EDGES] = "edges",
	[FRAME_DEBUG_POISON_FULL] = "full",
};

const char *frame_debug_name(enum frame_debug mode)
{
	return mode < ARRAY_SIZE(frame_debug_names) ? frame_debug_names[mode] : "?";
}

void frame_debug_from_cmdline(void)
{
	for (size_t m = 0; m < ARRAY_SIZE(frame_debug_names); m++)
		if (strcmp(frame_poison_option, frame_debug_names[m]) == 0) {
			frame_debug = (enum frame_debug)m;
			return;
		}
	printk("frame_poison=%s: not off, edges or full; keeping %s\n",
	       frame_poison_option, frame_debug_name(frame_debug));
}

/* The byte ranges of a frame that @mode poisons: [0, head) and
 * [FRAME_SIZE - tail, FRAME_SIZE). */
static void poison_span(enum frame_debug mode, size_t *head, size_t *tail)
{
	*head = mode == FRAME_DEBUG_POISON_FULL ? FRAME_SIZE : FRAME_POISON_EDGE;
	*tail = mode == FRAME_DEBUG_POISON_FULL ? 0 : FRAME_POISON_EDGE;
}

static void poison_block(enum frame_debug mode, uint64_t pfn,
			 unsigned int order)
{
	size_t head, tail;

	poison_span(mode, &head, &tail);
	for (uint64_t i = 0; i < (1ULL << order); i++) {
		uint8_t *p = phys_to_virt((pfn + i) << FRAME_SHIFT);

		memset(p, FRAME_POISON_BYTE, head);
		memset(p + FRAME_SIZE - tail, FRAME_POISON_BYTE, tail);
		frame_table[pfn + i].flags |= FRAME_F_POISONED |
			(mode == FRAME_DEBUG_POISON_FULL ? FRAME_F_POISON_FULL : 0);
	}
}

/* Panic unless [p + from, p + to) still holds the poison. */
static void check_poison_span(const struct frame *f, const uint8_t *p,
			      size_t from, size_t to)
{
	const uint64_t poison = 0x0101010101010101ULL * FRAME_POISON_BYTE;

	for (size_t k = from; k < to; k += 8)
		if (*(const uint64_t *)(p + k) != poison)
			panic("frame_alloc: frame %#llx was written while "
			      "free: offset %#zx holds %#llx, not poison",
			      (unsigned long long)frame_pa(f), k,
			      (unsigned long long)*(const uint64_t *)(p + k));
}

/* A frame still holds its poison when it is handed out again, unless
 * someone wrote to it while it was free.  Each frame is checked the way
 * it was poisoned (its flags), whatever frame_debug says now. */
static void check_poison_block(uint64_t pfn, unsigned int order)
{
	for (uint64_t i = 0; i < (1ULL << order); i++) {
		struct frame *f = &frame_table[pfn + i];
		const uint8_t *p = phys_to_virt((pfn + i) << FRAME_SHIFT);
		size_t head, tail;

		if (!(f->flags & FRAME_F_POISONED))
			continue;
		poison_span(f->flags & FRAME_F_POISON_FULL ?
			    FRAME_DEBUG_POISON_FULL : FRAME_DEBUG_POISON_EDGES,
			    &head, &tail);
		f->flags &= (uint8_t)~(FRAME_F_POISONED | FRAME_F_POISON_FULL);
		check_poison_span(f, p, 0, head);
		check_poison_span(f, p, FRAME_SIZE - tail, FRAME_SIZE);
	}
}

/* ---- the buddy lists ---- */

/* Remove a block of exactly @order from the lists, splitting a larger
 * one if need be; FRAME_NIL when none is free.  The halves split off go
 * back on the lists. */
static uint64_t buddy_take(unsigned int order)
{
	unsigned int o = order;
	uint64_t pfn;

	while (o <= FRAME_MAX_ORDER && buddy.free_head[o] == FRAME_NIL)
		o++;
	if (o > FRAME_MAX_ORDER)
		return FRAME_NIL;
	pfn = buddy.free_head[o];
	free_list_remove(pfn, o);
	while (o > order) {
		o--;
		free_list_push(pfn + (1ULL << o), o);   /* the upper half */
	}
	return pfn;
}

/* The fault-injection switch: does this allocation fail on purpose? */
static bool frame_fail_injected(void)
{
	if (READ_ONCE(frame_fail_countdown) < 0)
		return false;
	return __atomic_fetch_sub(&frame_fail_countdown, 1, __ATOMIC_RELAXED) == 0;
}

/* ---- the per-CPU caches ----
 *
 * A cached frame is FREE with FRAME_F_CACHED set, so that buddy_insert()
 * never merges it: the flag is set before the use becomes FREE and
 * cleared after it stops being FREE, and a CPU merging a neighbour under
 * buddy.lock sees one or the other, never a bare FREE frame off-list. */

/* The caller adds to frame_stats.cached, once for all it pushed. */
static void cache_push(struct frame_cache *c, uint64_t pfn)
{
	struct frame *f = &frame_table[pfn];

	f->flags |= FRAME_F_CACHED;
	f->order = 0;
	f->next = c->head;
	c->head = (uint32_t)pfn;
	c->count++;
}

/* The first cached frame, still flagged CACHED; FRAME_NIL if none.  The
 * caller takes from frame_stats.cached, once for all it popped. */
static uint64_t cache_pop(struct frame_cache *c)
{
	uint64_t pfn = c->head;

	if (pfn == FRAME_NIL)
		return FRAME_NIL;
	c->head = frame_table[pfn].next;
	frame_table[pfn].next = FRAME_NIL;
	c->count--;
	return pfn;
}

/* Up to FRAME_CACHE_BATCH frames from the lists into @c.
 * => @c->lock held, IRQs off. */
static void cache_refill(struct frame_cache *c)
{
	unsigned int i;

	spin_lock(&buddy.lock);
	for (i = 0; i < FRAME_CACHE_BATCH; i++) {
		uint64_t pfn = buddy_take(0);

		if (pfn == FRAME_NIL)
			break;
		cache_push(c, pfn);
	}
	spin_unlock(&buddy.lock);
	__atomic_add_fetch(&frame_stats.cached, i, __ATOMIC_RELAXED);
}

/* Move @n frames (all, if fewer) from @c back to the lists.
 * => @c->lock held, IRQs off. */
static void cache_give_back(struct frame_cache *c, uint64_t n)
{
	uint64_t pfn, moved = 0;

	spin_lock(&buddy.lock);
	while (n-- > 0 && (pfn = cache_pop(c)) != FRAME_NIL) {
		frame_table[pfn].flags &= (uint8_t)~FRAME_F_CACHED;
		buddy_insert(pfn, 0);
		moved++;
	}
	spin_unlock(&buddy.lock);
	__atomic_sub_fetch(&frame_stats.cached, moved, __ATOMIC_RELAXED);
}

void frame_caches_drain(void)
{
	for (unsigned int cpu = 0; cpu < MAX_CPUS; cpu++) {
		struct frame_cache *c = &frame_caches[cpu];
		irqflags_t irq = spin_lock_irqsave(&c->lock);

		cache_give_back(c, c->count);
		spin_unlock_irqrestore(&c->lock, irq);
	}
}

/* One frame for @use from this CPU's cache; FRAME_NIL when the cache and
 * the lists are empty. */
static uint64_t cache_alloc(enum frame_use use)
{
	struct frame_cache *c = &frame_caches[this_cpu_id()];
	irqflags_t irq = spin_lock_irqsave(&c->lock);
	uint64_t pfn;

	if (c->head == FRAME_NIL)
		cache_refill(c);
	pfn = cache_pop(c);
	if (pfn != FRAME_NIL) {
		__atomic_sub_fetch(&frame_stats.cached, 1, __ATOMIC_RELAXED);
		block_set_use(pfn, 0, use);   /* not FREE any more ... */
		barrier();
		frame_table[pfn].flags &= (uint8_t)~FRAME_F_CACHED;   /* ... then */
	}
	spin_unlock_irqrestore(&c->lock, irq);
	return pfn;
}

/* An allocated single frame (checked, poisoned; order 0) made a cached
 * free frame: its old use counted in @was, for cache_free_chain() to
 * take off the statistics once per chain (per-frame atomics were a
 * fifth of a purge's time under TCG).  Its .next is the caller's to
 * link. */
static void cache_mark_free(struct frame *f, uint32_t *was)
{
	f->flags |= FRAME_F_CACHED;   /* before it is FREE */
	barrier();
	was[f->use]++;
	f->use = (uint8_t)FRAME_FREE;
	f->entries = 0;
}

/* The chain @first .. @last of @n frames that cache_mark_free() marked,
 * linked by .next, onto this CPU's cache in one splice; the surplus
 * above FRAME_CACHE_HIGH back to the lists. */
static void cache_free_chain(struct frame *first, struct frame *last,
			     uint64_t n, const uint32_t *was)
{
	struct frame_cache *c = &frame_caches[this_cpu_id()];
	irqflags_t irq;

	for (unsigned int use = 0; use < FRAME_USE_COUNT; use++)
		if (was[use])
			__atomic_sub_fetch(&frame_stats.frames[use], was[use],
					   __ATOMIC_RELAXED);
	__atomic_add_fetch(&frame_stats.frames[FRAME_FREE], n, __ATOMIC_RELAXED);
	__atomic_add_fetch(&frame_stats.cached, n, __ATOMIC_RELAXED);
	irq = spin_lock_irqsave(&c->lock);
	last->next = c->head;
	c->head = (uint32_t)frame_pfn(first);
	c->count += (uint32_t)n;
	if (c->count > FRAME_CACHE_HIGH)
		cache_give_back(c, c->count - FRAME_CACHE_HIGH + FRAME_CACHE_BATCH);
	spin_unlock_irqrestore(&c->lock, irq);
	__atomic_add_fetch(&frame_stats.frees, n, __ATOMIC_RELAXED);
}

/* A block of @order from the lists, its frames given @use; FRAME_NIL if
 * none is free. */
static uint64_t buddy_alloc(unsigned int order, enum frame_use use)
{
	irqflags_t irq = spin_lock_irqsave(&buddy.lock);
	uint64_t pfn = buddy_take(order);

	if (pfn != FRAME_NIL)
		block_set_use(pfn, order, use);   /* under the lock: see above */
	spin_unlock_irqrestore(&buddy.lock, irq);
	return pfn;
}

/* ---- allocation ---- */

struct frame *frame_alloc(unsigned int order, enum frame_use use)
{
	uint64_t pfn;

	if (order > FRAME_MAX_ORDER || use <= FRAME_RESERVED ||
	    use >= FRAME_USE_COUNT) {
		printk("frame_alloc: order %u or use %d is invalid (order <= %u, "
		       "use not free/reserved)\n", order, (int)use, FRAME_MAX_ORDER);
		return NULL;
	}
	if (frame_fail_injected())
		return NULL;
	pfn = order == 0 && !READ_ONCE(frame_caches_off) ? cache_alloc(use)
						       : buddy_alloc(order, use);
	if (pfn == FRAME_NIL && READ_ONCE(frame_stats.cached) > 0) {
		frame_caches_drain();   /* what other CPUs keep; blocks merge */
		pfn = buddy_alloc(order, use);
	}
	if (pfn == FRAME_NIL)
		return NULL;
	__atomic_add_fetch(&frame_stats.allocs, 1, __ATOMIC_RELAXED);
	check_poison_block(pfn, order);   /* flags only, when nothing is */
	return &frame_table[pfn];
}

/* ---- freeing ---- */

/* A broken invariant on a frame: panic, or in FRAME_BUG_RECORD mode
 * (selftests only) record the message and let the caller refuse. */
static void __printf(1, 2) frame_bug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(frame_bug_last.message, sizeof(frame_bug_last.message), fmt, ap);
	va_end(ap);
	if (frame_bug_action == FRAME_BUG_PANIC)
		panic("%s", frame_bug_last.message);
	frame_bug_last.count++;
}

/* The block at @pfn (checked, poisoned) back on the lists. */
static void buddy_free(uint64_t pfn, unsigned int order)
{
	irqflags_t irq = spin_lock_irqsave(&buddy.lock);

	block_set_use(pfn, order, FRAME_FREE);
	frame_table[pfn].entries = 0;
	buddy_insert(pfn, order);
	spin_unlock_irqrestore(&buddy.lock, irq);
	__atomic_add_fetch(&frame_stats.frees, 1, __ATOMIC_RELAXED);
}

/* Why @f may not be freed as @use, or NULL if it may. */
static const char *frame_free_refusal(const struct frame *f, enum frame_use use)
{
	if (f->use == FRAME_FREE)
		return "double free: the frame is already free";
	if (f->use == FRAME_RESERVED)
		return "the frame is reserved, it was never allocated";
	if (f->order == FRAME_ORDER_TAIL)
		return "the frame is inside a block, not its first frame";
	if (f->use != use)
		return "freed as the wrong use";
	if (f->flags & FRAME_F_LINKED)
		return "the page table is still linked into the page tables";
	if (f->flags & FRAME_F_GATHERED)
		return "the frame is on a gather list, its TLB flush not done";
	return NULL;
}

void frame_free(struct frame *f, enum frame_use use)
{
	void *caller = __builtin_return_address(0);
	const char *refusal;
	uint64_t pfn;
	unsigned int order;

	if (f < frame_table || f >= frame_table + frame_count) {
		frame_bug("frame_free: %p is not a frame (caller %p)", (void *)f,
			  caller);
		return;
	}
	refusal = frame_free_refusal(f, use);
	if (refusal) {
		frame_bug("frame_free: frame %#llx: %s (recorded use %s, "
			  "freed as %s, caller %p)",
			  (unsigned long long)frame_pa(f), refusal,
			  frame_use_name(f->use), frame_use_name(use), caller);
		return;
	}
	pfn = frame_pfn(f);
	order = f->order;
	/* Poison before the block is back on a list: from then on another
	 * CPU may allocate it, and our memset would land in its data. */
	if (frame_debug != FRAME_DEBUG_OFF)
		poison_block(frame_debug, pfn, order);
	if (order == 0 && !READ_ONCE(frame_caches_off)) {
		uint32_t was[FRAME_USE_COUNT] = { 0 };

		cache_mark_free(f, was);
		cache_free_chain(f, f, 1, was);
	} else {
		buddy_free(pfn, order);
	}
}

/* One pass over the list: each frame is checked, poisoned if asked and
 * marked; the single frames keep the list's own links (one is rewritten
 * only where a frame leaves the chain), and the chain joins this CPU's
 * cache in one splice at the end (a purge frees a thousand at once).
 * The globals it reads are read once, into locals: every byte it
 * stores into a struct frame could alias them, so the compiler read
 * them again for every frame (the 1,006 frames of a purge after 1,000
 * vfrees: 28 to 25 us, medians of 12 purges each, -smp 1 -cpu max,
 * TSC around the call; a path of its own for the common single cached
 * frame saved 1 us more, not worth a second copy of the checks). */
void frame_free_list(struct frame **head)
{
	uint32_t was[FRAME_USE_COUNT] = { 0 };
	struct frame *const table = frame_table;
	const enum frame_debug poison = frame_debug;
	const bool cache = !READ_ONCE(frame_caches_off);
	struct frame *first = NULL, *last = NULL, *f;
	bool chain_broken = false;   /* a frame left between last and f */
	uint64_t n = 0;
	uint32_t next;

	for (f = *head, *head = NULL; f; f = next == FRAME_NIL ? NULL : &table[next]) {
		const char *refusal;

		next = f->next;
		f->flags &= (uint8_t)~FRAME_F_GATHERED;   /* flushed */
		refusal = frame_free_refusal(f, (enum frame_use)f->use);
		if (refusal) {
			frame_bug("frame_free_list: frame %#llx: %s (recorded "
				  "use %s)", (unsigned long long)frame_pa(f),
				  refusal, frame_use_name(f->use));
			chain_broken = true;
			continue;
		}
		if (poison != FRAME_DEBUG_OFF)
			poison_block(poison, frame_pfn(f), f->order);
		if (f->order != 0 || !cache) {
			f->next = FRAME_NIL;
			buddy_free(frame_pfn(f), f->order);
			chain_broken = true;
			continue;
		}
		cache_mark_free(f, was);
		if (!first)
			first = f;
		else if (chain_broken)
			last->next = (uint32_t)(f - table);
		chain_broken = false;
		last = f;
		n++;
	}
	if (n)
		cache_free_chain(first, last, n, was);
}
