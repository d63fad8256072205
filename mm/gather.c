/* gather.c: the deferred-free list of mm/gather.h. */
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
	if (!g->head)
		g->tail = f;
	frame_list_push(&g->head, f);
	g->nr_frames++;
	if (frame_is_table(f))
		g->nr_tables++;
}

void pt_gather_splice(struct pt_gather *to, struct pt_gather *from)
{
	if (from->head) {
		/* from's tail ends its list: link it to to's head, O(1). */
		if (to->head)
			from->tail->next = (uint32_t)frame_pfn(to->head);
		else
			to->tail = from->tail;
		to->head = from->head;
		to->nr_frames += from->nr_frames;
		to->nr_tables += from->nr_tables;
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
	frame_free_list(&g->head);   /* clears FRAME_F_GATHERED too */
	pt_gather_init(g);
}
