/* cmdline.c (fuzz): kernel/cmdline.c against a reference parser.
 *
 * The input is a command line.  Four options of every type are
 * registered the way the kernel registers its own (KERNEL_PARAM_*), and
 * cmdline_apply_boot() runs on the line.  The same line then goes
 * through a reference written from the contract in kernel/cmdline.h
 * alone, with the C library's number parsing: words split at unquoted
 * spaces and tabs, quotes dropped, words of more than 255 characters
 * refused, "name=value" split at the first '=', values checked in
 * full.  Every option must end as the reference says, the warning count
 * must match, and each warning must be printed.  The string options
 * are separate globals with AddressSanitizer redzones, so a write past
 * either is caught.
 */
#include <errno.h>
#include <string.h>

#include "kernel/cmdline.h"
#include "tests/fuzz/cmdline_params.h"
#include "tests/fuzz/fuzz.h"
#include "tests/host/vmap_shim.h"

#define WORD_MAX 255        /* kernel/cmdline.c: CMDLINE_WORD_MAX - 1 */

/* Registered in cmdline_params.c (see there why apart). */
bool opt_flag;
uint64_t opt_num;
char opt_tag[8];
char opt_path[64];

struct options {
	bool flag;
	uint64_t num;
	char tag[sizeof(opt_tag)];
	char path[sizeof(opt_path)];
};

static const struct options defaults = {
	.flag = false, .num = 12345, .tag = "dflt", .path = "/default",
};

static bool ref_bool(const char *v, bool *out)
{
	if (!strcmp(v, "1") || !strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true"))
		return *out = true, true;
	if (!strcmp(v, "0") || !strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false"))
		return *out = false, true;
	return false;
}

/* Decimal or 0x hex, at least one digit, one optional K/M/G suffix. */
static bool ref_uint(const char *v, uint64_t *out)
{
	bool hex = v[0] == '0' && (v[1] == 'x' || v[1] == 'X');
	const char *digits = hex ? v + 2 : v;
	size_t n = strspn(digits, hex ? "0123456789abcdefABCDEF" : "0123456789");
	const char *suffix = digits + n;
	uint64_t scale = 1;
	unsigned long long x;
	char *end;

	if (n == 0)
		return false;
	if (*suffix && (suffix[1] || !strchr("kKmMgG", *suffix)))
		return false;
	if (*suffix)
		scale = strchr("kK", *suffix) ? 1ULL << 10 :
			strchr("mM", *suffix) ? 1ULL << 20 : 1ULL << 30;
	errno = 0;
	x = strtoull(digits, &end, hex ? 16 : 10);
	if (errno == ERANGE || end != suffix)
		return false;
	if (__builtin_mul_overflow((uint64_t)x, scale, &scale))
		return false;
	*out = scale;
	return true;
}

static bool ref_string(const char *v, char *dst, size_t size)
{
	if (!v || strlen(v) >= size)
		return false;
	strcpy(dst, v);
	return true;
}

/* One word (quotes already removed): returns whether it was understood. */
static bool ref_word(char *word, struct options *o)
{
	char *value = strchr(word, '=');

	if (strlen(word) > WORD_MAX)
		return false;
	if (value)
		*value++ = '\0';
	if (!strcmp(word, "flag"))
		return ref_bool(value ? value : "on", &o->flag);
	if (!strcmp(word, "num"))
		return value && ref_uint(value, &o->num);
	if (!strcmp(word, "tag"))
		return ref_string(value, o->tag, sizeof(o->tag));
	if (!strcmp(word, "path"))
		return ref_string(value, o->path, sizeof(o->path));
	return false;
}

static unsigned int ref_apply(const char *line, struct options *o)
{
	char *word = malloc(strlen(line) + 1);
	unsigned int warnings = 0;

	for (;;) {
		size_t n = 0;
		bool quoted = false;

		line += strspn(line, " \t");
		if (!*line)
			break;
		for (; *line && (quoted || (*line != ' ' && *line != '\t')); line++) {
			if (*line == '"')
				quoted = !quoted;
			else
				word[n++] = *line;
		}
		word[n] = '\0';
		warnings += !ref_word(word, o);
	}
	free(word);
	return warnings;
}

/* Lines of @log that start with @prefix. */
static size_t count_lines_starting(const char *log, const char *prefix)
{
	size_t n = 0;

	for (const char *p = log; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : "")
		n += !strncmp(p, prefix, strlen(prefix));
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	struct options want = defaults;
	unsigned int warnings, want_warnings;

	memcpy(line, data, size);
	line[size] = '\0';
	opt_flag = defaults.flag;
	opt_num = defaults.num;
	memcpy(opt_tag, defaults.tag, sizeof(opt_tag));
	memcpy(opt_path, defaults.path, sizeof(opt_path));
	shim_log_clear();

	warnings = cmdline_apply_boot(line);
	want_warnings = ref_apply(line, &want);

	FUZZ_CHECK(warnings == want_warnings, "warnings %u, reference %u; line \"%s\"",
		   warnings, want_warnings, line);
	FUZZ_CHECK(opt_flag == want.flag, "flag %d, reference %d", opt_flag, want.flag);
	FUZZ_CHECK(opt_num == want.num, "num %#lx, reference %#lx; line \"%s\"",
		   opt_num, want.num, line);
	FUZZ_CHECK(!strcmp(opt_tag, want.tag), "tag \"%.8s\", reference \"%s\"",
		   opt_tag, want.tag);
	FUZZ_CHECK(!strcmp(opt_path, want.path), "path \"%.64s\", reference \"%s\"",
		   opt_path, want.path);
	/* A warning quotes the word; one with a newline would fool the count. */
	if (!shim_log_truncated && !strchr(line, '\n'))
		FUZZ_CHECK(count_lines_starting(shim_log, "cmdline: warning:") == warnings,
			   "%u warnings returned, printed: %s", warnings, shim_log);
	free(line);
	return 0;
}
