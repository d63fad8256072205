/* vmap_test.h: the harness and fixture shared by the host tests of
 * mm/vmap_area.c (test_vmap_area.c: the tables of cases;
 * test_vmap_area_scale.c: search cost and the random run).
 *
 * Every case runs with VMAP_DEBUG_CHECK_EVERY_OP (the invariant checker
 * after each change) except where a case turns it off to build a large
 * tree quickly.  Nodes come from malloc, so AddressSanitizer sees any
 * node the allocator leaks or uses after handing it back.
 */
#ifndef TESTS_HOST_VMAP_TEST_H
#define TESTS_HOST_VMAP_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm/layout.h"
#include "mm/vmap_area.h"
#include "tests/host/vmap_shim.h"

#define K4 VMAP_PAGE_SIZE
#define M2 (2 * MiB)
#define G1 GiB

/* A window at an address that is no multiple of 2 MiB. */
#define WSTART (VMALLOC_START + 3 * K4)
#define WEND   (WSTART + 64 * MiB)

struct test {
	bool failed;
};

struct test_case {
	const char *name;
	void (*run)(struct test *t);
};

/* Print a diagnostic and mark the case failed. */
void fail(struct test *t, const char *fmt, ...) __printf(2, 3);
bool expect_eq(struct test *t, int line, const char *a_text,
	       const char *b_text, uint64_t a, uint64_t b);

#define EXPECT_EQ(t, a, b) \
	expect_eq(t, __LINE__, #a, #b, (uint64_t)(a), (uint64_t)(b))
#define ASSERT_EQ(t, a, b) \
	do { if (!EXPECT_EQ(t, a, b)) return; } while (0)

/* A space, its node pool, and the caller's reserve and spares. */
struct fx {
	struct vmap_space s;
	struct vmap_node_reserve r;
	struct vmap_spares spares;
	long nodes_out;              /* malloc'd and not yet freed */
};

bool fx_init(struct test *t, struct fx *f, virt_addr_t start, virt_addr_t end);
void fx_fill_reserve(struct fx *f);
void fx_drain_spares(struct fx *f);
int fx_alloc(struct fx *f, uint64_t size, uint64_t align, enum vmap_kind kind,
	     struct vmap_area **out);
virt_addr_t fx_must_alloc(struct test *t, struct fx *f, uint64_t size,
			  uint64_t align);
int fx_free(struct fx *f, virt_addr_t addr, enum vmap_kind kind);
void fx_purge(struct fx *f);
bool fx_check(struct test *t, struct fx *f);
void fx_destroy(struct test *t, struct fx *f);
uint64_t fx_fingerprint(struct fx *f);

/* The suites' case tables. */
#define DECLARE_CASES(name) \
	extern const struct test_case name[]; extern const size_t name##_count
DECLARE_CASES(alloc_cases);
DECLARE_CASES(lazy_cases);
DECLARE_CASES(error_cases);
DECLARE_CASES(scale_cases);
#define DEFINE_CASES(name, ...) \
	const struct test_case name[] = { __VA_ARGS__ }; \
	const size_t name##_count = ARRAY_SIZE(name)

#endif
