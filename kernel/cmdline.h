/* cmdline.h: kernel options from the boot command line.
 *
 * An option is declared next to the variable it sets:
 *     static char selftest_pattern[64] = "*";
 *     KERNEL_PARAM_STRING(selftest, selftest_pattern, "suites to run (glob)");
 * The command line is words separated by spaces: "name=value" or a bare
 * "name" (for a bool, the same as name=on).  A value may be quoted: "a b".
 * An unknown option gets a warning naming it; a malformed value gets a
 * warning naming the option and the value, and leaves the default.  The
 * boot goes on either way.
 */
#ifndef KERNEL_CMDLINE_H
#define KERNEL_CMDLINE_H
#include "kernel/types.h"

enum param_type {
	PARAM_BOOL,      /* on/off, yes/no, true/false, 1/0 */
	PARAM_UINT,      /* decimal or 0x hex, optional K/M/G suffix, u64 */
	PARAM_STRING,    /* copied, must fit the buffer */
};

struct kernel_param {
	const char *name;
	enum param_type type;
	void *value;          /* bool *, uint64_t * or char[size] */
	size_t size;          /* buffer size for PARAM_STRING */
	const char *help;
};

#define KERNEL_PARAM_(nm, ty, var, sz, hlp)                                   \
	static const struct kernel_param kernel_param_##nm                  \
		__section(".kernel_params") __used __aligned(8) = {          \
		.name = #nm, .type = ty, .value = &(var), .size = sz,        \
		.help = hlp }
#define KERNEL_PARAM_BOOL(nm, var, hlp)   KERNEL_PARAM_(nm, PARAM_BOOL, var, 0, hlp)
#define KERNEL_PARAM_UINT(nm, var, hlp)   KERNEL_PARAM_(nm, PARAM_UINT, var, 0, hlp)
#define KERNEL_PARAM_STRING(nm, var, hlp) KERNEL_PARAM_(nm, PARAM_STRING, var, sizeof(var), hlp)

/* Apply @line to the options in [params, params + n).  Returns the number
 * of warnings printed (0 when every word was understood). */
unsigned int cmdline_apply(const char *line, const struct kernel_param *params, size_t n);

/* Apply the boot command line to every registered option. */
unsigned int cmdline_apply_boot(const char *line);
void cmdline_print_options(void);
#endif
