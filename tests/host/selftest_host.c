/* selftest_host.c: kernel/selftest.h for the host, so a suite written for
 * the kernel (tests/mm_*.c) runs here unchanged, next to host-only suites
 * (tests/host/test_*.c).
 *
 * SELFTEST_SUITE() puts each suite in the .selftests section, as in the
 * kernel; tests/host/selftests.ld gives the section the bounds
 * __start_selftests/__stop_selftests.  The output is the kernel's KTAP.
 * mm/ is booted on the default pretend machine before the first suite;
 * a case that panics unexpectedly fails, and the machine is booted again
 * for the next one.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/host/host_env.h"

extern const struct selftest_suite __start_selftests[], __stop_selftests[];
extern jmp_buf *host_case_abort;

struct selftest {
	bool failed;
	bool skipped;
	char skip_reason[96];
};

void selftest_fail_at(struct selftest *t, const char *file, int line,
		      const char *fmt, ...)
{
	va_list ap;

	printf("    # %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	t->failed = true;
}

void selftest_diag(struct selftest *t, const char *fmt, ...)
{
	va_list ap;

	(void)t;
	printf("    # ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

void selftest_skip(struct selftest *t, const char *reason)
{
	snprintf(t->skip_reason, sizeof(t->skip_reason), "%s", reason);
	t->skipped = true;
}

bool selftest_failed(const struct selftest *t)
{
	return t->failed;
}

/* '*' and '?' globs. */
static bool glob_match(const char *pat, const char *s)
{
	if (*pat == '\0')
		return *s == '\0';
	if (*pat == '*')
		return glob_match(pat + 1, s) || (*s && glob_match(pat, s + 1));
	return *s && (*pat == '?' || *pat == *s) && glob_match(pat + 1, s + 1);
}

static bool suite_selected(const char *patterns, const char *name)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", patterns);
	for (char *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save))
		if (glob_match(p, name))
			return true;
	return false;
}

static bool run_case(const struct selftest_case *c, unsigned int n)
{
	/* static: a longjmp back here must find what the case recorded. */
	static struct selftest t;
	static jmp_buf abort_jb;

	t = (struct selftest){ .failed = false };

	host_case_abort = &abort_jb;
	if (setjmp(abort_jb) == 0) {
		c->run(&t);
	} else {
		t.failed = true;
		host_mm_boot_default();   /* the panic left mm/ half-way */
	}
	host_case_abort = NULL;
	if (t.skipped && !t.failed)
		printf("    ok %u %s # SKIP %s\n", n, c->name, t.skip_reason);
	else
		printf("    %sok %u %s\n", t.failed ? "not " : "", n, c->name);
	fflush(stdout);
	return !t.failed;
}

int selftest_run_matching(const char *pattern)
{
	const struct selftest_suite *s;
	unsigned int nsuites = 0, n = 0;
	int failed = 0;

	for (s = __start_selftests; s < __stop_selftests; s++)
		nsuites += suite_selected(pattern, s->name);
	if (nsuites == 0)
		return -ENOENT;
	printf("KTAP version 1\n1..%u\n", nsuites);
	for (s = __start_selftests; s < __stop_selftests; s++) {
		bool suite_ok = true;

		if (!suite_selected(pattern, s->name))
			continue;
		printf("    KTAP version 1\n    # Subtest: %s\n    1..%zu\n",
		       s->name, s->ncases);
		for (size_t i = 0; i < s->ncases; i++) {
			if (!run_case(&s->cases[i], (unsigned int)i + 1)) {
				suite_ok = false;
				failed++;
			}
		}
		printf("%sok %u %s\n", suite_ok ? "" : "not ", ++n, s->name);
	}
	return failed;
}

int main(int argc, char **argv)
{
	const char *pattern = argc > 1 ? argv[1] : "*";
	struct timespec t0, t1;
	int failed;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	host_mm_boot_default();
	failed = selftest_run_matching(pattern);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (failed < 0) {
		printf("KTAP version 1\n1..0\n# no suite matches '%s'\n", pattern);
		return 1;
	}
	printf("# %s: %d failed, %.2f s\n", argv[0], failed,
	       (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return failed ? 1 : 0;
}
