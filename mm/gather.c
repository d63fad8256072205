/* gather.c: the deferred-free list of mm/gather.h. */
#include "arch/x86/arch.h"
#include "kernel/panic.h"
#include "mm/gather.h"

void pt_gather_init(struct pt_gather *g)
{
	*g = (struct pt_gather){ .head = NULL };
}

void pt_gather_add(struct pt_gather *g, struct frame *f)
{
	if (f->flags & (FRAME_F_LINKED | FRAME_F_GATHERED))
		panic("pt_gather_add: frame %#llx (%s) is %s",
		      (unsigned long long)frame_pa(f), frame_use_name(f->use),
		      f->flags & FRAME_F_LINKED ? "still linked" :
						  "already gathered");
	f->flags |= FRAME_F_GATHERED;
	f->next = g->head ? (uint32_t)frame_pfn(g->head) : FRAME_NIL;
	if (!g->head)
		g->tail = f;
	g->head = f;
	g->nr_frames++;
}

void pt_gather_splice(struct pt_gather *to, struct pt_gather *from)
{
	if (from->head) {
		from->tail->next = to->head ? (uint32_t)frame_pfn(to->head) :
					      FRAME_NIL;
		if (!to->head)
			to->tail = from->tail;
		to->head = from->head;
		to->nr_frames += from->nr_frames;
	}
	pt_gather_note_stale(to, from->stale_start, from->stale_end);
	pt_gather_init(from);
}

void pt_gather_note_stale(struct pt_gather *g, virt_addr_t start,
			  virt_addr_t end)
{
	if (start == end)
		return;
	if (g->stale_start == g->stale_end) {
		g->stale_start = start;
		g->stale_end = end;
		return;
	}
	g->stale_start = MIN(g->stale_start, start);
	/* end == 0 is the top of the address space (the kernel image). */
	g->stale_end = (g->stale_end == 0 || end == 0) ? 0 :
		       MAX(g->stale_end, end);
}

void pt_gather_free_all(struct pt_gather *g)
{
	struct frame *f = g->head;

	while (f) {
		struct frame *next = f->next == FRAME_NIL ? NULL :
				     &frame_table[f->next];

		f->flags &= (uint8_t)~FRAME_F_GATHERED;
		f->next = FRAME_NIL;
		frame_free(f, (enum frame_use)f->use);
		f = next;
	}
	pt_gather_init(g);
}

void pt_gather_finish_local(struct pt_gather *g)
{
	/* A full flush is always enough; choosing INVLPG for short ranges
	 * is the shootdown's business (mm/shootdown.c, later). */
	if (g->stale_start != g->stale_end || g->head)
		tlb_flush_local_all();
	pt_gather_free_all(g);
}
