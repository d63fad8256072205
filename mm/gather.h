/* gather.h: frames that must outlive every CPU's view of them.
 *
 * The rule (seed 000, Joerg Roedel; Linux asm-generic/tlb.h):
 *   1) unhook:     clear the entry that points to a page or table;
 *   2) invalidate: flush the TLB and paging-structure caches that may
 *                  still hold that entry;
 *   3) free:       only then give the frame back.
 * A CPU that cached the old entry may keep walking into the old table,
 * even speculatively, until step 2 reaches it; a table freed and reused
 * before then is read as page tables full of someone else's data.
 *
 * So nothing in mm/ frees a page-table page where it unlinks it.  Unmap
 * puts the page on a struct pt_gather that its caller owns, and the
 * gather also remembers the virtual range whose TLB entries went stale.
 * The owner hands the gather to the shootdown, which invalidates on
 * every CPU, waits for every acknowledgment, and only then frees:
 *
 *   struct pt_gather g;
 *   pt_gather_init(&g);
 *   kpt_unmap(va, size, &g);          unhook; tables go on g
 *   shootdown_flush_and_free(&g);     every CPU invalidates and acks,
 *                                     then free (mm/shootdown.h)
 *
 * A flush of the calling CPU alone is never enough while other CPUs
 * run: one of them may hold the entry (seed 000's bug).
 *
 * The list is intrusive: its links are in the frames' struct frame
 * (.next, through frame_list_push() and frame_list_next()), never in
 * the gathered page itself, which a remote walker may still read and
 * nobody may write, debug poison included, until the flush is done.
 * Adding therefore never allocates and cannot fail.
 */
#ifndef MM_GATHER_H
#define MM_GATHER_H

#include "kernel/types.h"
#include "mm/frame.h"

struct pt_gather {
	struct frame *head;          /* gathered frames, linked by .next */
	struct frame *tail;          /* the last one: splicing is O(1) */
	uint64_t nr_frames;
	uint64_t nr_tables;          /* of them, page tables (the rest: data) */
	virt_addr_t stale_start;     /* [stale_start, stale_end): TLB entries */
	virt_addr_t stale_end;       /* for it may be stale; empty if equal */
};

void pt_gather_init(struct pt_gather *g);

/* Take @f, already unlinked from the page tables (or a data page already
 * unmapped), to be freed after the flush.
 * => the caller holds whatever lock guarded the entry it cleared.
 * => frees nothing; writes only @f's struct frame. */
void pt_gather_add(struct pt_gather *g, struct frame *f);

/* Move everything on @from (frames and stale range) onto @to; @from
 * ends empty.  => the caller owns both. */
void pt_gather_splice(struct pt_gather *to, struct pt_gather *from);

/* Nothing gathered and no stale range: no flush is needed. */
static inline bool pt_gather_empty(const struct pt_gather *g)
{
	return g->head == NULL && g->stale_start == g->stale_end;
}

/* Note that TLB entries for [start, end) may be stale. */
void pt_gather_note_stale(struct pt_gather *g, virt_addr_t start,
			  virt_addr_t end);

/* Free everything gathered.  Only shootdown_flush_and_free() calls it,
 * after every CPU has flushed and acknowledged.
 * => no locks held. */
void pt_gather_free_all(struct pt_gather *g);

#endif
