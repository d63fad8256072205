/* tests/host/vmap_test.c: a small KTAP harness, and the fixture the
 * cases of mm/vmap_area.c share (vmap_test.h). */
#include <time.h>

#include "tests/host/vmap_test.h"

/* ---- Checks ------------------------------------------------------------ */

void fail(struct test *t, const char *fmt, ...)
{
	va_list ap;

	printf("    # ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	t->failed = true;
}

bool expect_eq(struct test *t, int line, const char *a_text,
	       const char *b_text, uint64_t a, uint64_t b)
{
	if (a == b)
		return true;
	fail(t, "line %d: expected %s == %s, saw %#lx and %#lx", line,
	     a_text, b_text, a, b);
	return false;
}


/* ---- The fixture: a space, its node pool, the caller's reserve --------- */

/* Filled with junk, so a field the allocator forgets to set shows. */
static struct vmap_area *node_new(struct fx *f)
{
	struct vmap_area *va = malloc(sizeof(*va));

	memset(va, 0xa5, sizeof(*va));
	f->nodes_out++;
	return va;
}

static void node_delete(struct fx *f, struct vmap_area *va)
{
	free(va);
	f->nodes_out--;
}

bool fx_init(struct test *t, struct fx *f, virt_addr_t start,
		    virt_addr_t end)
{
	memset(f, 0, sizeof(*f));
	struct vmap_area *first = node_new(f);

	if (vmap_space_init(&f->s, start, end, first) != 0) {
		fail(t, "vmap_space_init(%#lx, %#lx) failed: %s", start, end, shim_log);
		node_delete(f, first);
		return false;
	}
	f->s.debug = VMAP_DEBUG_CHECK_EVERY_OP;
	return true;
}

void fx_fill_reserve(struct fx *f)
{
	if (!f->r.area)
		f->r.area = node_new(f);
	if (!f->r.split)
		f->r.split = node_new(f);
}

/* What a caller does once the lock is dropped: give spares back. */
void fx_drain_spares(struct fx *f)
{
	struct vmap_area *va;

	while ((va = vmap_spares_pop(&f->spares)))
		node_delete(f, va);
}

int fx_alloc(struct fx *f, uint64_t size, uint64_t align,
		    enum vmap_kind kind, struct vmap_area **out)
{
	fx_fill_reserve(f);
	return vmap_area_alloc(&f->s, size, align, kind, &f->r, out);
}

/* Allocate or fail the case; returns the start, 0 on failure. */
virt_addr_t fx_must_alloc(struct test *t, struct fx *f, uint64_t size,
				 uint64_t align)
{
	struct vmap_area *va;
	int err = fx_alloc(f, size, align, VMAP_KIND_VMALLOC, &va);

	if (err) {
		fail(t, "alloc of %#lx aligned %#lx: error %d", size, align, err);
		return 0;
	}
	return va->start;
}

/* vfree without the purge: begin, (unmap), lazy. */
int fx_free(struct fx *f, virt_addr_t addr, enum vmap_kind kind)
{
	struct vmap_area *va;
	int err = vmap_area_begin_free(&f->s, addr, kind, &va);

	if (!err)
		vmap_area_lazy_free(&f->s, va);
	return err;
}

void fx_purge(struct fx *f)
{
	struct vmap_purge_batch batch;

	vmap_purge_begin(&f->s, &batch, &f->spares);
	vmap_purge_finish(&f->s, &batch, &f->spares);
	fx_drain_spares(f);
}

/* The invariants, and no node lost: every node is in a tree, in the
 * reserve, or on the spares list. */
bool fx_check(struct test *t, struct fx *f)
{
	const char *broken = vmap_space_check(&f->s);
	long in_use = (long)(f->s.nr_free + f->s.nr_busy + f->s.nr_unmapping +
			     f->s.nr_lazy + f->spares.count) +
		      (f->r.area != NULL) + (f->r.split != NULL);

	if (broken) {
		fail(t, "vmap_space_check: %s; printk said: %s", broken, shim_log);
		return false;
	}
	return EXPECT_EQ(t, f->nodes_out, in_use);
}

static void tree_free_all(struct fx *f, struct avl_tree *tree)
{
	struct avl_node *n;

	while ((n = tree->root)) {
		avl_erase(tree, n);
		node_delete(f, container_of(n, struct vmap_area, node));
	}
}

void fx_destroy(struct test *t, struct fx *f)
{
	fx_check(t, f);
	f->s.debug = VMAP_DEBUG_OFF;
	tree_free_all(f, &f->s.free_tree);
	tree_free_all(f, &f->s.busy_tree);
	while (f->s.lazy_head) {   /* LAZY areas are in no tree */
		struct vmap_area *va = f->s.lazy_head;

		f->s.lazy_head = va->link;
		node_delete(f, va);
	}
	fx_drain_spares(f);
	if (f->r.area)
		node_delete(f, f->r.area);
	if (f->r.split)
		node_delete(f, f->r.split);
	EXPECT_EQ(t, f->nodes_out, 0);
}

/* A fingerprint of the whole state: counters and every node in order. */
uint64_t fx_fingerprint(struct fx *f)
{
	struct vmap_space *s = &f->s;
	uint64_t h = s->nr_free * 3 + s->nr_busy * 5 + s->nr_lazy * 7 +
		     s->nr_unmapping * 11 + s->reserved_bytes + s->lazy_bytes;
	struct avl_tree *trees[] = { &s->free_tree, &s->busy_tree };

	for (size_t i = 0; i < ARRAY_SIZE(trees); i++) {
		for (struct avl_node *n = avl_first(trees[i]); n; n = avl_next(n)) {
			struct vmap_area *va = container_of(n, struct vmap_area, node);

			h = h * 1000003 + va->start;
			h = h * 1000003 + va->end;
			h = h * 1000003 + va->state;
		}
	}
	return h;
}

/* ---- The suites, and KTAP out ------------------------------------------ */

struct suite {
	const char *name;
	const struct test_case *cases;
	const size_t *nr_cases;
};

static const struct suite suites[] = {
	{ "vmap_area_alloc", alloc_cases, &alloc_cases_count },
	{ "vmap_area_lazy", lazy_cases, &lazy_cases_count },
	{ "vmap_area_errors", error_cases, &error_cases_count },
	{ "vmap_area_scale", scale_cases, &scale_cases_count },
};

/* The printk log of a failed case, as diagnostics; 20 lines at most. */
static void print_log_as_diagnostics(void)
{
	char *line = shim_log, *nl;
	int lines = 0;

	while (*line && lines++ < 20) {
		nl = strchr(line, '\n');
		printf("    # printk: %.*s\n", nl ? (int)(nl - line) : (int)strlen(line),
		       line);
		line = nl ? nl + 1 : line + strlen(line);
	}
}

/* A panic (a BUG_ON, or a debug check after an update) ends the case,
 * not the run; whatever the case held is leaked. */
static void run_case(const struct test_case *tc, struct test *t)
{
	jmp_buf panicked;

	shim_expect_panic = &panicked;
	if (setjmp(panicked) == 0)
		tc->run(t);
	else
		fail(t, "panic: %s", shim_panic_message);
	shim_expect_panic = NULL;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long)((t1.tv_sec - t0->tv_sec) * 1000 +
		      (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

/* Returns whether every case passed. */
static bool run_suite(const struct suite *s)
{
	bool passed = true;

	printf("    KTAP version 1\n    # Subtest: %s\n    1..%zu\n", s->name,
	       *s->nr_cases);
	for (size_t c = 0; c < *s->nr_cases; c++) {
		struct test t = { .failed = false };
		struct timespec t0;
		long ms;

		shim_log_clear();
		clock_gettime(CLOCK_MONOTONIC, &t0);
		run_case(&s->cases[c], &t);
		ms = ms_since(&t0);
		if (t.failed)
			print_log_as_diagnostics();
		if (ms >= 1000)
			printf("    # took %ld ms\n", ms);
		printf("    %s %zu %s\n", t.failed ? "not ok" : "ok", c + 1,
		       s->cases[c].name);
		passed &= !t.failed;
	}
	return passed;
}

int main(void)
{
	int failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("KTAP version 1\n1..%zu\n", ARRAY_SIZE(suites));
	for (size_t s = 0; s < ARRAY_SIZE(suites); s++) {
		bool passed = run_suite(&suites[s]);

		printf("%s %zu %s\n", passed ? "ok" : "not ok", s + 1, suites[s].name);
		failed += !passed;
	}
	return failed ? 1 : 0;
}
