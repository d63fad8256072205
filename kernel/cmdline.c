/* cmdline.c: parse the kernel command line (see kernel/cmdline.h). */
#include "kernel/cmdline.h"
#include "kernel/printk.h"
#include "kernel/string.h"

extern const struct kernel_param __start_kernel_params[], __stop_kernel_params[];

/* The longest word we accept; longer ones are reported and skipped. */
#define CMDLINE_WORD_MAX 256

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "on", "yes", "true" };
	static const char *const no[] = { "0", "off", "no", "false" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcmp(s, yes[i]) == 0) { *out = true; return true; }
		if (strcmp(s, no[i]) == 0) { *out = false; return true; }
	}
	return false;
}

static bool parse_uint(const char *s, uint64_t *out)
{
	unsigned int base = 10;
	uint64_t v = 0, scale = 1;
	const char *digits;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	digits = s;
	for (; *s; s++) {
		unsigned int d;

		if (*s >= '0' && *s <= '9') d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f') d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F') d = *s - 'A' + 10;
		else break;
		if (v > (UINT64_MAX - d) / base)
			return false;           /* overflow */
		v = v * base + d;
	}
	/* At least one digit: a bare suffix ("num=K", "0xM") is malformed,
	 * not zero. */
	if (s == digits)
		return false;
	switch (*s) {
	case '\0': break;
	case 'K': case 'k': scale = KiB; s++; break;
	case 'M': case 'm': scale = MiB; s++; break;
	case 'G': case 'g': scale = GiB; s++; break;
	default: return false;
	}
	if (*s || v > UINT64_MAX / scale)
		return false;
	*out = v * scale;
	return true;
}

static bool param_set(const struct kernel_param *p, const char *value)
{
	switch (p->type) {
	case PARAM_BOOL:
		return parse_bool(value ? value : "on", p->value);
	case PARAM_UINT:
		return value && parse_uint(value, p->value);
	case PARAM_STRING:
		if (!value || strlen(value) >= p->size)
			return false;
		memcpy(p->value, value, strlen(value) + 1);
		return true;
	}
	return false;
}

/* Copy the next word of *@line into @word, splitting "name=value" in
 * place; quotes group spaces.  Returns false at the end of the line. */
static bool next_word(const char **line, char *word, size_t size, char **value, bool *too_long)
{
	const char *s = *line;
	size_t n = 0;
	bool quoted = false;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return false;
	*value = NULL;
	*too_long = false;
	for (; *s && (quoted || (*s != ' ' && *s != '\t')); s++) {
		if (*s == '"') {
			quoted = !quoted;
			continue;
		}
		if (n + 1 >= size) {
			*too_long = true;
			continue;
		}
		word[n] = *s;
		if (*s == '=' && !*value) {
			word[n] = '\0';
			*value = &word[n + 1];
		}
		n++;
	}
	word[n] = '\0';
	*line = s;
	return true;
}

unsigned int cmdline_apply(const char *line, const struct kernel_param *params, size_t n)
{
	char word[CMDLINE_WORD_MAX];
	char *value;
	bool too_long;
	unsigned int warnings = 0;

	while (next_word(&line, word, sizeof(word), &value, &too_long)) {
		const struct kernel_param *p = NULL;

		if (too_long) {
			printk("cmdline: warning: option '%s' is longer than %d characters; ignored\n",
			       word, CMDLINE_WORD_MAX - 1);
			warnings++;
			continue;
		}
		for (size_t i = 0; i < n && !p; i++)
			if (strcmp(params[i].name, word) == 0)
				p = &params[i];
		if (!p) {
			printk("cmdline: warning: unknown option '%s'; ignored\n", word);
			warnings++;
		} else if (!param_set(p, value)) {
			printk("cmdline: warning: option '%s' has a malformed value '%s' (%s); "
			       "default kept\n", word, value ? value : "(none)", p->help);
			warnings++;
		}
	}
	return warnings;
}

unsigned int cmdline_apply_boot(const char *line)
{
	return cmdline_apply(line, __start_kernel_params,
			     (size_t)(__stop_kernel_params - __start_kernel_params));
}

void cmdline_print_options(void)
{
	for (const struct kernel_param *p = __start_kernel_params; p < __stop_kernel_params; p++)
		printk("cmdline:   %-16s %s\n", p->name, p->help);
}
