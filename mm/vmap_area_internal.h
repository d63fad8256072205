/* vmap_area_internal.h: shared by vmap_area.c and vmap_area_check.c
 * only.  Everything here needs the space's lock held. */
#ifndef MM_VMAP_AREA_INTERNAL_H
#define MM_VMAP_AREA_INTERNAL_H

#include "mm/vmap_area.h"

static inline struct vmap_area *area_of(const struct avl_node *n)
{
	return container_of(n, struct vmap_area, node);
}

/* BUG unless this CPU holds s->lock. */
void vmap_assert_locked(const struct vmap_space *s);

/* The node with the largest start <= @addr in either tree, or NULL. */
struct vmap_area *vmap_tree_find_le(const struct avl_tree *t, virt_addr_t addr);

/* vmap_space_check() and vmap_area_describe() under a held lock. */
const char *vmap_check_locked(struct vmap_space *s);
void vmap_describe_locked(struct vmap_space *s, virt_addr_t addr, char *buf,
			  size_t size);

#endif
