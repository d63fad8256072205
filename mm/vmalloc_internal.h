/* vmalloc_internal.h: what mm/vmalloc.c shares with mm/ioremap.c.
 * The area life cycle of mm/vmap_area.h, with node supply, purge on
 * shortage, and the lazy pending gather added. */
#ifndef MM_VMALLOC_INTERNAL_H
#define MM_VMALLOC_INTERNAL_H

#include "mm/gather.h"
#include "mm/vmap_area.h"
#include "mm/vmalloc.h"

/* Borrow a range (mm/vmap_area.h rules on size and align), purging the
 * lazy areas once and retrying if the window is short.
 * => 0, or -EINVAL/-ENOMEM with nothing taken. */
int vm_area_alloc(uint64_t size, uint64_t align, enum vmap_kind kind,
		  struct vmap_area **out);

/* Claim the live area of @kind that starts at @addr for freeing; else
 * warn, naming @fn, the address and what it is, and return -EINVAL. */
int vm_area_begin_free(const char *fn, virt_addr_t addr, enum vmap_kind kind,
		       struct vmap_area **out);

/* Give back an area no CPU can hold a translation for: never mapped, or
 * already shot down. */
void vm_area_release_flushed(struct vmap_area *area);

/* The area is unmapped; its tables and pages are on @g.  Both wait for
 * the next purge, which may be now if too many pages wait.
 * => @g ends empty. */
void vm_area_free_lazy(struct vmap_area *area, struct pt_gather *g);

/* A BUSY area whose mapping failed halfway, already unmapped onto @g:
 * free it lazily like an unmapped one.  => @g ends empty. */
void vm_area_abandon(struct vmap_area *area, struct pt_gather *g);

/* Unmap a claimed area and free it, its tables and @frames (NULL for
 * none) the way vm_flush_policy says. */
void vm_unmap_area_and_free(struct vmap_area *area, struct frame *frames);

/* Map [va, va + size) to [pa, ...) with pages up to @max_page. */
int vm_map_range(virt_addr_t va, phys_addr_t pa, uint64_t size,
		 enum pt_prot prot, enum pt_cache cache,
		 enum pt_page_size max_page);

/* Clear [va, va + size) onto @g.  Cannot fail for an area's range. */
void vm_unmap_range(virt_addr_t va, uint64_t size, struct pt_gather *g);

#endif
