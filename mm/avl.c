/* avl.c: the AVL tree of avl.h.
 *
 * Invariant: at every node the heights of the two subtrees differ by at
 * most one.  Inserting or erasing changes heights only on the path from
 * the changed spot to the root, so avl_fix_path() walks that path and,
 * at each node, refreshes height and augmented value, and rotates when
 * the node leans by two.  One or two rotations restore a node (the
 * double case when its heavy child leans the other way):
 *
 *        x                 y              x                   z
 *       / \               / \            / \                /   \
 *      a   y     ==>     x   c          a   y     ==>      x     y
 *         / \           / \                / \            / \   / \
 *        b   c         a   b              z   d          a  b1 b2  d
 *                                        / \
 *     rotate_left(x)                    b1  b2   rotate_right(y), then
 *                                                rotate_left(x)
 */
#include "mm/avl.h"

/* Refresh @n from its children, which must already be right. */
static void avl_update(const struct avl_tree *t, struct avl_node *n)
{
	n->height = 1 + MAX(avl_height(n->left), avl_height(n->right));
	if (t->augment)
		t->augment(n);
}

/* Make @new take @old's place below @parent (or at the root). */
static void avl_replace_child(struct avl_tree *t, struct avl_node *parent,
			      struct avl_node *old, struct avl_node *new)
{
	if (!parent)
		t->root = new;
	else if (parent->left == old)
		parent->left = new;
	else
		parent->right = new;
}

/* @x's right child takes @x's place; @x becomes its left child. */
static struct avl_node *avl_rotate_left(struct avl_tree *t, struct avl_node *x)
{
	struct avl_node *y = x->right;

	x->right = y->left;
	if (y->left)
		y->left->parent = x;
	avl_replace_child(t, x->parent, x, y);
	y->parent = x->parent;
	y->left = x;
	x->parent = y;
	avl_update(t, x);
	avl_update(t, y);
	return y;
}

/* The mirror image of avl_rotate_left(). */
static struct avl_node *avl_rotate_right(struct avl_tree *t, struct avl_node *x)
{
	struct avl_node *y = x->left;

	x->left = y->right;
	if (y->right)
		y->right->parent = x;
	avl_replace_child(t, x->parent, x, y);
	y->parent = x->parent;
	y->right = x;
	x->parent = y;
	avl_update(t, x);
	avl_update(t, y);
	return y;
}

/* Refresh @n, rotating if it leans by two; returns the node now at
 * @n's place. */
static struct avl_node *avl_balance(struct avl_tree *t, struct avl_node *n)
{
	int lean = avl_height(n->left) - avl_height(n->right);

	if (lean > 1) {
		if (avl_height(n->left->left) < avl_height(n->left->right))
			avl_rotate_left(t, n->left);
		return avl_rotate_right(t, n);
	}
	if (lean < -1) {
		if (avl_height(n->right->right) < avl_height(n->right->left))
			avl_rotate_right(t, n->right);
		return avl_rotate_left(t, n);
	}
	avl_update(t, n);
	return n;
}

/* Up from @n (whose own subtree changed) to the root.  In a tree with
 * no augmented value the walk stops at the first subtree whose height
 * came out as before: nothing above it can change.  An augmented tree
 * walks to the root, since the values above may still be stale.  The
 * early stop matters to the busy tree of mm/vmap_area.c: a purge takes
 * thousands of areas out of it, and refreshing every node up to the
 * root was a quarter of the purge's samples (tools/profiler.py on the
 * linux table's purge_burst row). */
void avl_fix_path(struct avl_tree *t, struct avl_node *n)
{
	if (!n)
		return;
	n = avl_balance(t, n)->parent;   /* @n's height is new, not old */
	while (n) {
		int old = n->height;
		struct avl_node *top = avl_balance(t, n);

		if (!t->augment && top->height == old)
			return;
		n = top->parent;
	}
}

void avl_insert_at(struct avl_tree *t, struct avl_node *n,
		   struct avl_node *parent, struct avl_node **link)
{
	n->parent = parent;
	n->left = NULL;
	n->right = NULL;
	n->height = 1;
	*link = n;
	avl_fix_path(t, n);
}

/* A node with two children is replaced by its successor @s, the
 * leftmost node of its right subtree, which has no left child; the
 * path is then fixed from the lowest node whose subtree lost a node. */
void avl_erase(struct avl_tree *t, struct avl_node *n)
{
	struct avl_node *fix;

	if (n->left && n->right) {
		struct avl_node *s = n->right;

		while (s->left)
			s = s->left;
		if (s == n->right) {
			fix = s;
		} else {
			fix = s->parent;
			fix->left = s->right;
			if (s->right)
				s->right->parent = fix;
			s->right = n->right;
			n->right->parent = s;
		}
		s->left = n->left;
		n->left->parent = s;
		avl_replace_child(t, n->parent, n, s);
		s->parent = n->parent;
		s->height = n->height;   /* the old height at its new place:
					    avl_fix_path() compares with it */
	} else {
		struct avl_node *child = n->left ? n->left : n->right;

		fix = n->parent;
		if (child)
			child->parent = n->parent;
		avl_replace_child(t, n->parent, n, child);
	}
	avl_fix_path(t, fix);
}

struct avl_node *avl_first(const struct avl_tree *t)
{
	struct avl_node *n = t->root;

	while (n && n->left)
		n = n->left;
	return n;
}

struct avl_node *avl_last(const struct avl_tree *t)
{
	struct avl_node *n = t->root;

	while (n && n->right)
		n = n->right;
	return n;
}

/* In order: the leftmost node of the right subtree, or else the first
 * ancestor reached from its left. */
struct avl_node *avl_next(const struct avl_node *n)
{
	if (n->right) {
		n = n->right;
		while (n->left)
			n = n->left;
		return (struct avl_node *)n;
	}
	while (n->parent && n == n->parent->right)
		n = n->parent;
	return n->parent;
}

struct avl_node *avl_prev(const struct avl_node *n)
{
	if (n->left) {
		n = n->left;
		while (n->right)
			n = n->right;
		return (struct avl_node *)n;
	}
	while (n->parent && n == n->parent->left)
		n = n->parent;
	return n->parent;
}

/* The height of @n's subtree if its links, heights and balance are
 * right, else -1. */
static int avl_check_subtree(const struct avl_node *n,
			     const struct avl_node *parent)
{
	int l, r;

	if (!n)
		return 0;
	if (n->parent != parent)
		return -1;
	l = avl_check_subtree(n->left, n);
	r = avl_check_subtree(n->right, n);
	if (l < 0 || r < 0 || l - r > 1 || r - l > 1 || n->height != 1 + MAX(l, r))
		return -1;
	return n->height;
}

bool avl_check(const struct avl_tree *t)
{
	return avl_check_subtree(t->root, NULL) >= 0;
}
