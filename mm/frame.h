/* frame.h: physical memory, one 4 KiB frame at a time or in blocks.
 *
 * Every frame of RAM has a struct frame (Linux: struct page) in one flat
 * array, frame_table[], indexed by frame number (pfn = pa >> 12).  It
 * records what the frame is used for, so that a free with the wrong
 * use, a double free, or a page-table walk into a frame that is not a
 * page table is caught at once, with the values, instead of corrupting
 * memory later.
 *
 * The allocator is a binary buddy allocator (Knuth; Linux's page
 * allocator): free memory is kept as naturally aligned blocks of 2^order
 * frames, order 0 (4 KiB) to FRAME_MAX_ORDER (1 GiB), one free list per
 * order.  Allocation splits a larger block in halves as needed; a freed
 * block merges with its "buddy" (the other half of its parent block,
 * found by flipping bit @order of its pfn) whenever that one is free
 * too.  Why a buddy allocator: page tables and vmalloc need single
 * frames, but a 2 MiB or 1 GiB mapping needs an aligned physically
 * contiguous block, and the buddy system hands those out in O(orders)
 * time with no per-frame scan, merging freed memory back eagerly.
 *
 * API, in the order a frame lives:
 *   frame_table_init(), frame_add_ram()   boot (mm/frame_init.c)
 *   frame_alloc(order, use)               -> block, or NULL when out
 *   frame_pa(), frame_of(), phys_to_virt() addresses and metadata
 *   frame_free(frame, use)                checks, poisons, merges
 */
#ifndef MM_FRAME_H
#define MM_FRAME_H

#include "kernel/types.h"
#include "kernel/bootinfo.h"
#include "mm/layout.h"
#include "mm/pte.h"

#define FRAME_SHIFT       12
#define FRAME_SIZE        (1ULL << FRAME_SHIFT)
#define FRAME_MAX_ORDER   18       /* 2^18 frames = 1 GiB: a 1G page */
#define FRAME_NIL         0xffffffffU   /* "no frame" in a 32-bit link */
#define FRAME_ORDER_TAIL  0xff     /* .order of a frame inside a block */

/* What a frame is used for.  The page-table uses are consecutive, in
 * level order, so frame_use_of_level() is an addition. */
enum frame_use {
	FRAME_FREE,        /* on a buddy free list */
	FRAME_RESERVED,    /* never allocatable: not RAM, firmware, the first
			      1 MiB, kernel image, multiboot info, modules,
			      the frame table itself */
	FRAME_KERNEL,      /* a kernel allocation with no special rules */
	FRAME_PT_PTE,      /* a page table of level 1 (SDM: PT) */
	FRAME_PT_PMD,      /* level 2 (PD) */
	FRAME_PT_PUD,      /* level 3 (PDPT) */
	FRAME_PT_PGD,      /* level 4 (PML4): the root */
	FRAME_VMALLOC,     /* a data page of a vmalloc area */
	FRAME_USE_COUNT
};

/* Per-frame flags. */
#define FRAME_F_LINKED    0x01   /* page table reachable from the root */
#define FRAME_F_GATHERED  0x02   /* on a pt_gather list, waiting for its
				    TLB flush; nothing may write it */
#define FRAME_F_POISONED  0x04   /* free and filled with FRAME_POISON_BYTE */
#define FRAME_F_PINNED    0x08   /* page table never unlinked, even empty:
				    its entries are written without
				    kpt.lock (mm/fixmap.c) */
#define FRAME_F_POISON_FULL 0x10 /* with POISONED: all of it, not only the
				    edges (frame_debug) */
#define FRAME_F_CACHED    0x20   /* free, in a CPU's frame cache, not on
				    the buddy lists: never merged */

/* 16 bytes per 4 KiB frame: 0.4% of RAM.  Links are 32-bit frame numbers,
 * not pointers, to stay at 16 bytes; that caps RAM at 2^32 frames, 16 TiB
 * (checked at boot).
 * Who may touch what: a free frame belongs to the allocator (buddy.lock
 * in mm/frame.c); an allocated one to whoever allocated it (for page
 * tables: kpt.lock, mm/kpt.c), including its link while on a gather. */
struct frame {
	uint32_t next;      /* list link: buddy free list, or pt_gather list */
	uint32_t prev;      /* buddy free list: previous block */
	uint16_t entries;   /* page table: how many of its entries are present */
	uint8_t use;        /* enum frame_use */
	uint8_t order;      /* first frame of a block: the block's order;
			       the others: FRAME_ORDER_TAIL */
	uint8_t flags;      /* FRAME_F_* */
	uint8_t unused[3];
};

extern struct frame *frame_table;   /* frame_count entries, in the direct map */
extern uint64_t frame_count;        /* frames from physical 0 to the end of RAM */

/* Frames per use, over all of frame_table (readable by tests and gdb:
 * "p frame_stats").  frames[FRAME_PT_PTE] is the number of live PTE
 * pages: allocated, whether linked or waiting on a gather. */
struct frame_stats {
	uint64_t frames[FRAME_USE_COUNT];
	uint64_t allocs, frees;             /* calls that succeeded */
	uint64_t cached;                    /* free frames in CPU caches */
	uint64_t free_blocks[FRAME_MAX_ORDER + 1];
};
extern struct frame_stats frame_stats;

/* Debug mode: poison frames as they are freed, and check the poison when
 * they are handed out again (a write in between is a use-after-free, and
 * a read through a stale translation sees 0x6b bytes).  Kernel option
 * frame_poison=off|edges|full, read by frame_debug_from_cmdline():
 *   OFF    nothing: the default, as in Linux (page_poison= is off unless
 *          asked for).  Poisoning touches every freed and every handed
 *          out frame, so a purge pays it for thousands of frames at once:
 *          with EDGES, the linux table of `make bench` (-smp 4 -cpu max,
 *          one session) took a 2 MiB vmalloc pair from 480 to 666 us and
 *          its p99 from 4.9 to 11.8 ms, a 64 KiB pair from 21.4 to 27.4
 *          us; `make test` boots one machine with EDGES (boot check
 *          poison-edges) so that the check itself stays tested;
 *   EDGES  the first and the last 64 bytes of each frame: where a stale
 *          pointer's first access or an overrun lands;
 *   FULL   the whole frame: every byte checked.  Under QEMU's TCG a full
 *          4 KiB poison and check cost about as much as the rest of a
 *          4 KiB vmalloc/vfree pair together (docs/bench.md); natively
 *          a 4 KiB memset takes 93 ns (glibc, the 2-core dev machine).
 * The benchmarks print which mode was on. */
enum frame_debug { FRAME_DEBUG_OFF, FRAME_DEBUG_POISON_EDGES,
		   FRAME_DEBUG_POISON_FULL };
extern enum frame_debug frame_debug;
#define FRAME_POISON_EDGE 64   /* bytes poisoned at each end in EDGES */

/* Set frame_debug from the kernel option frame_poison; a bad value gets
 * a warning naming it and leaves the default.  => boot, before mm_init. */
void frame_debug_from_cmdline(void);
const char *frame_debug_name(enum frame_debug mode);

/* Selftest switches, read only by mm/frame.c:
 *   frame_fail_countdown: when >= 0, counts allocations down; the one
 *     that finds it at 0 fails as if memory were exhausted.  -1 = off.
 *   frame_bug_action: what a broken frame invariant (double free, wrong
 *     use, freeing a linked page table) does.  FRAME_BUG_PANIC except
 *     while a selftest shows that the check fires; FRAME_BUG_RECORD then
 *     records it in frame_bug_last and refuses the operation.
 *   frame_caches_off: single frames bypass the per-CPU caches, so that a
 *     frame freed on one CPU is the next one any CPU gets: the scenarios
 *     (scenarios/) stage that worst case, which caches make rarer, not
 *     impossible (a cache spills to the lists above FRAME_CACHE_HIGH). */
extern long frame_fail_countdown;
extern bool frame_caches_off;
enum frame_bug_action { FRAME_BUG_PANIC, FRAME_BUG_RECORD };
extern enum frame_bug_action frame_bug_action;
struct frame_bug_record {
	uint64_t count;          /* how many were recorded */
	char message[160];       /* the panic message of the last one */
};
extern struct frame_bug_record frame_bug_last;

/* Is @f a page-table page (of any level)? */
static inline bool frame_is_table(const struct frame *f)
{
	return f->use >= FRAME_PT_PTE && f->use <= FRAME_PT_PGD;
}

static inline uint64_t frame_pfn(const struct frame *f)
{
	return (uint64_t)(f - frame_table);
}

static inline phys_addr_t frame_pa(const struct frame *f)
{
	return frame_pfn(f) << FRAME_SHIFT;
}

static inline void *frame_virt(const struct frame *f)
{
	return phys_to_virt(frame_pa(f));
}

/* ---- lists of frames linked through .next ----
 *
 * A frame that is allocated may sit on one list linked through its own
 * struct frame: a gather (mm/gather.h), a vmalloc area's data frames
 * (mm/vmalloc.c), kpt_map()'s spare tables (mm/kpt_map.c).  The link
 * lives in the metadata, never in the page, so building a list never
 * allocates and never writes a page that a remote walker may still
 * read.  These three helpers are the only code that follows the link. */

/* The frame after @f on its list, or NULL at the end. */
static inline struct frame *frame_list_next(const struct frame *f)
{
	return f->next == FRAME_NIL ? NULL : &frame_table[f->next];
}

/* Put @f at the front of the list *@head. */
static inline void frame_list_push(struct frame **head, struct frame *f)
{
	f->next = *head ? (uint32_t)frame_pfn(*head) : FRAME_NIL;
	*head = f;
}

/* Take the front frame off the list *@head (NULL when it is empty);
 * its link is cleared. */
static inline struct frame *frame_list_pop(struct frame **head)
{
	struct frame *f = *head;

	if (f) {
		*head = frame_list_next(f);
		f->next = FRAME_NIL;
	}
	return f;
}

/* The frame holding physical address @pa; panics beyond the end of RAM
 * (frame_beyond_ram(), mm/frame.c).  Inline: every step of every walk
 * asks for it. */
void frame_beyond_ram(phys_addr_t pa);
static inline struct frame *frame_of(phys_addr_t pa)
{
	if ((pa >> FRAME_SHIFT) >= frame_count)
		frame_beyond_ram(pa);
	return &frame_table[pa >> FRAME_SHIFT];
}

static inline enum frame_use frame_use_of_level(enum pt_level level)
{
	return (enum frame_use)(FRAME_PT_PTE + (level - PT_LEVEL_PTE));
}

/* A block of 2^order frames, naturally aligned, for @use (not FREE or
 * RESERVED); NULL when no block that large is free.  Contents are
 * whatever was there: callers that need zeroes zero.  A single frame
 * comes from this CPU's frame cache (mm/frame.c), refilled from the
 * buddy lists FRAME_CACHE_BATCH at a time.
 * => takes this CPU's cache lock and, inside it, buddy.lock (IRQs off
 *    inside); any context but NMI. */
struct frame *frame_alloc(unsigned int order, enum frame_use use);

/* Give back the block @f heads, which was allocated for @use.  A frame
 * that is not allocated, not the first of its block, allocated for
 * another use, still linked into the page tables, or still on a gather
 * list is a broken invariant: panic naming the frame, its recorded use
 * and the caller.  A single frame goes into this CPU's cache.
 * => takes this CPU's cache lock or buddy.lock (IRQs off inside); any
 *    context but NMI. */
void frame_free(struct frame *f, enum frame_use use);

/* frame_free() for every frame on the list *@head (frame_list_push()),
 * each as its recorded use, with the same checks; @head ends empty.
 * The list may be a gather's after its shootdown (mm/gather.h): the
 * frames' FRAME_F_GATHERED comes off here, in the same pass.  Cheaper
 * than one frame_free() each: the single frames join this CPU's cache
 * in one splice (the purge frees thousands at once).
 * => takes this CPU's cache lock, buddy.lock inside it (IRQs off
 *    inside); any context but NMI. */
void frame_free_list(struct frame **head);

/* Give every CPU's cached frames back to the buddy lists, so that blocks
 * merge again (frame_alloc() does it when a larger block is missing;
 * tests that compare the lists call it).
 * => takes each cache lock, then buddy.lock; any context but NMI. */
void frame_caches_drain(void);

const char *frame_use_name(enum frame_use use);

/* ---- boot (mm/frame_init.c) ---- */

/* Size the frame table from the memory map, place it in RAM below
 * @window_end (the part of the direct map that works this early), and
 * mark every frame RESERVED.  @reserved lists what must never be handed
 * out besides what the memory map says is not RAM. */
void frame_table_init(const struct boot_info *bi,
		      const struct phys_range *reserved, size_t nr_reserved,
		      phys_addr_t window_end);

/* Hand the usable RAM inside [start, end) to the buddy allocator: RAM the
 * memory map calls available, minus everything reserved.  Called once per
 * range, ranges not overlapping. */
void frame_add_ram(phys_addr_t start, phys_addr_t end);

/* Insert [start, end) into @v, a list of @*n ranges sorted by start
 * (panics beyond @cap); merge overlapping or touching ones. */
void phys_range_insert_sorted(struct phys_range *v, size_t *n, size_t cap,
			      phys_addr_t start, phys_addr_t end);
void phys_range_merge(struct phys_range *v, size_t *n);

/* The range the frame table itself occupies (reserved). */
struct phys_range frame_table_range(void);

/* ---- internal to mm/frame*.c ---- */
void frame_buddy_reset(void);
void frame_buddy_add_block(uint64_t pfn, unsigned int order);

#endif
