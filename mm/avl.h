/* avl.h: an intrusive, augmentable AVL tree.
 *
 * The node is embedded in the object it orders (Linux's rb_node), so
 * inserting and erasing never allocate: the tree is only pointers
 * between objects that already exist.  The user keeps the order: to
 * insert, it walks down from the root comparing its own keys, remembers
 * the last node and the link it would follow, and hands both to
 * avl_insert_at() (Linux's rb_link_node + rb_insert_color, in one).
 *
 * Why AVL and not red-black: the one user (mm/vmap_area.c) augments
 * every node with a value computed from its subtree (the largest free
 * range below it), so every insert and erase must walk back to the root
 * anyway to refresh those values.  AVL's rebalancing is exactly such a
 * walk: one loop, avl_fix_path(), refreshes the height, the augmented
 * value, and rotates where a node leans by two.  A red-black tree's
 * fixup stops early and needs separate propagate/copy/rotate callbacks
 * to keep augmented values right (Linux rb_augment_callbacks).  AVL is
 * also the flatter of the two (height < 1.44 log2(n + 2), red-black
 * 2 log2(n + 1)), and searches are what the allocator does most.
 *
 * Cost: insert, erase, avl_fix_path, first/last O(log n);
 * avl_next/avl_prev O(log n) worst case, O(1) amortized over a walk.
 *
 * Locking: none here; the tree belongs to whatever lock guards its owner.
 */
#ifndef MM_AVL_H
#define MM_AVL_H

#include "kernel/types.h"

struct avl_node {
	struct avl_node *parent;
	struct avl_node *left;
	struct avl_node *right;
	int height;                  /* a leaf is 1; an empty subtree 0 */
};

struct avl_tree {
	struct avl_node *root;
	/* Recompute @n's augmented value from @n and its children (whose
	 * values are already right).  NULL for a plain tree. */
	void (*augment)(struct avl_node *n);
};

#ifndef container_of
/* The object that embeds *@ptr as its field @member. */
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
/* Are the links, heights and balance right everywhere?  O(n), for
 * checkers; the augmented values are the user's to check. */
bool avl_check(const struct avl_tree *t);

#endif

static inline int avl_height(const struct avl_node *n)
{
	return n ? n->height : 0;
}

/* Link @n below @parent at @link (&parent->left, &parent->right, or
 * &t->root when the tree is empty), then rebalance. */
void avl_insert_at(struct avl_tree *t, struct avl_node *n,
		   struct avl_node *parent, struct avl_node **link);

/* Unlink @n and rebalance.  @n's own fields are left stale. */
void avl_erase(struct avl_tree *t, struct avl_node *n);

/* @n's augmented inputs changed in place (not its key order): refresh
 * the augmented values from @n up to the root. */
void avl_fix_path(struct avl_tree *t, struct avl_node *n);

struct avl_node *avl_first(const struct avl_tree *t);
struct avl_node *avl_last(const struct avl_tree *t);
struct avl_node *avl_next(const struct avl_node *n);
struct avl_node *avl_prev(const struct avl_node *n);

/* Are the links, heights and balance right everywhere?  O(n), for
 * checkers; the augmented values are the user's to check. */
bool avl_check(const struct avl_tree *t);

#endif
