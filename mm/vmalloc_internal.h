/* vmalloc_internal.h: what mm/vmalloc.c lends mm/ioremap.c: the ranges
 * of the window, and the two ways to give one back after unmapping it.
 * Each is a step of the life in mm/vmap_area.h, with the node supply,
 * the purge on shortage, and the lazy pending gather added. */
#ifndef MM_VMALLOC_INTERNAL_H
#define MM_VMALLOC_INTERNAL_H

#include "mm/gather.h"
#include "mm/kpt.h"
#include "mm/vmap_area.h"
#include "mm/vmalloc.h"

/* Borrow a range (mm/vmap_area.h rules on size and align), purging the
 * lazy areas once and retrying if the window or the frames for its node
 * are short.  => 0, or -EINVAL/-ENOMEM with nothing taken and a message
 * naming @fn (vmap_area_alloc() prints the bad argument of -EINVAL). */
int vm_borrow_range(const char *fn, uint64_t size, uint64_t align,
		    enum vmap_kind kind, struct vmap_area **out);

/* kpt_map(KPT_MAP_NEW) into a borrowed range, purging once and retrying
 * if the page tables cannot be allocated.  An error changes nothing. */
int vm_map_area(struct kpt_mapping *m);

/* Give back a borrowed range that no CPU can hold a translation for:
 * it was never mapped, or its unmap was already shot down. */
void vm_return_range(struct vmap_area *area);

/* Claim the live area of @kind that starts at @addr for freeing; else
 * warn, naming @fn, the address and what it is, and return -EINVAL. */
int vm_claim_area(const char *fn, virt_addr_t addr, enum vmap_kind kind,
		  struct vmap_area **out);

/* Unmap a claimed area; its emptied tables and @frames (NULL for none)
 * wait for the next purge, which may be now if too many pages wait.
 * => TLB: stale anywhere until the purge; nothing is reused before. */
void vm_unmap_lazily(struct vmap_area *area, struct frame *frames);

/* Unmap a claimed area, shoot down now, free its emptied tables and
 * @frames, and give the range back.
 * => TLB: no CPU holds a translation for the area on return. */
void vm_unmap_now(struct vmap_area *area, struct frame *frames);

#endif
