/* tests/cmdline.c: the option parser against a private table of options,
 * so the tests do not disturb the kernel's own settings. */
#include "kernel/cmdline.h"
#include "kernel/selftest.h"
#include "kernel/string.h"

static bool opt_flag;
static uint64_t opt_number;
static char opt_name[16];

static const struct kernel_param test_params[] = {
	{ "flag", PARAM_BOOL, &opt_flag, 0, "a bool" },
	{ "number", PARAM_UINT, &opt_number, 0, "a number" },
	{ "name", PARAM_STRING, opt_name, sizeof(opt_name), "a string" },
};

static void reset_options(void)
{
	opt_flag = false;
	opt_number = 7;
	memcpy(opt_name, "default", 8);
}

struct cmdline_case {
	const char *line;
	unsigned int warnings;
	bool flag;
	uint64_t number;
	const char *name;
};

static const struct cmdline_case cmdline_table[] = {
	{ "", 0, false, 7, "default" },
	{ "flag", 0, true, 7, "default" },
	{ "flag=off number=0x10 name=abc", 0, false, 16, "abc" },
	{ "  number=4K   flag=yes ", 0, true, 4096, "default" },
	{ "number=2M", 0, false, 2 * 1024 * 1024, "default" },
	{ "name=\"a b\"", 0, false, 7, "a b" },
	{ "bogus", 1, false, 7, "default" },                 /* unknown option */
	{ "number=12x", 1, false, 7, "default" },            /* malformed value */
	{ "number=", 1, false, 7, "default" },
	{ "number=K", 1, false, 7, "default" },     /* a suffix, no digit (fuzzer) */
	{ "number=0xM", 1, false, 7, "default" },
	{ "number=99999999999999999999", 1, false, 7, "default" },   /* overflow */
	{ "flag=maybe", 1, false, 7, "default" },
	{ "name=waytoolongforthebuffer", 1, false, 7, "default" },
	{ "bogus number=3 other=1", 2, false, 3, "default" },
};

static void test_table(struct selftest *t)
{
	for (size_t i = 0; i < ARRAY_SIZE(cmdline_table); i++) {
		const struct cmdline_case *c = &cmdline_table[i];
		unsigned int w;

		reset_options();
		w = cmdline_apply(c->line, test_params, ARRAY_SIZE(test_params));
		if (w != c->warnings || opt_flag != c->flag || opt_number != c->number ||
		    strcmp(opt_name, c->name) != 0)
			selftest_fail_at(t, __FILE__, __LINE__,
				"\"%s\": expected %u warnings, flag=%d number=%lu name=%s; "
				"saw %u, flag=%d number=%lu name=%s", c->line, c->warnings,
				c->flag, c->number, c->name, w, opt_flag, opt_number, opt_name);
	}
}

static const struct selftest_case cmdline_cases[] = {
	{ "parses_table_of_lines", test_table },
};
SELFTEST_SUITE(cmdline, cmdline_cases);
