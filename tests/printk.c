/* tests/printk.c: the formatting engine, one table row per conversion. */
#include "kernel/printk.h"
#include "kernel/selftest.h"
#include "kernel/string.h"

static void check_row(struct selftest *t, const char *what, const char *got,
		      const char *expected, int len, int expected_len)
{
	if (strcmp(got, expected) != 0 || len != expected_len)
		selftest_fail_at(t, __FILE__, __LINE__,
				 "%s: expected \"%s\" (%d chars), got \"%s\" (%d)",
				 what, expected, expected_len, got, len);
}

#define CHECK_FORMAT(t, expected, ...)                                        \
	do {                                                                  \
		char buf_[96];                                                \
		int n_ = snprintf(buf_, sizeof(buf_), __VA_ARGS__);           \
		check_row(t, #__VA_ARGS__, buf_, expected, n_,                \
			  (int)sizeof(expected) - 1);                         \
	} while (0)

static void test_integers(struct selftest *t)
{
	CHECK_FORMAT(t, "0", "%d", 0);
	CHECK_FORMAT(t, "-42", "%d", -42);
	CHECK_FORMAT(t, "-2147483648", "%d", (int)(-2147483647 - 1));
	CHECK_FORMAT(t, "4294967295", "%u", 4294967295U);
	CHECK_FORMAT(t, "-9223372036854775808", "%ld", (long)(-9223372036854775807L - 1));
	CHECK_FORMAT(t, "18446744073709551615", "%lu", 18446744073709551615UL);
	CHECK_FORMAT(t, "18446744073709551615", "%llu", 18446744073709551615ULL);
	CHECK_FORMAT(t, "123456789", "%zu", (size_t)123456789);
	CHECK_FORMAT(t, "-1", "%hhd", (signed char)-1);
	CHECK_FORMAT(t, "65535", "%hu", (unsigned short)65535);
	CHECK_FORMAT(t, "+5", "%+d", 5);
	CHECK_FORMAT(t, "777", "%o", 0777);
}

static void test_hex(struct selftest *t)
{
	CHECK_FORMAT(t, "ff", "%x", 255);
	CHECK_FORMAT(t, "FF", "%X", 255);
	CHECK_FORMAT(t, "0xff", "%#x", 255);
	CHECK_FORMAT(t, "ffffffff80000000", "%lx", 0xffffffff80000000UL);
	CHECK_FORMAT(t, "00001000", "%08lx", 0x1000UL);
}

static void test_widths(struct selftest *t)
{
	CHECK_FORMAT(t, "   42", "%5d", 42);
	CHECK_FORMAT(t, "42   |", "%-5d|", 42);
	CHECK_FORMAT(t, "00042", "%05d", 42);
	CHECK_FORMAT(t, "-0042", "%05d", -42);
	CHECK_FORMAT(t, "  007", "%5.3d", 7);
	CHECK_FORMAT(t, "   ab", "%*s", 5, "ab");
	CHECK_FORMAT(t, "ab   |", "%-*s|", 5, "ab");
	CHECK_FORMAT(t, "abc", "%.3s", "abcdef");
}

/* volatile: the compiler must not see (and warn about) the NULL. */
static const char *volatile null_string;

static void test_strings_and_chars(struct selftest *t)
{
	CHECK_FORMAT(t, "hello", "%s", "hello");
	CHECK_FORMAT(t, "(null)", "%s", null_string);
	CHECK_FORMAT(t, "x", "%c", 'x');
	CHECK_FORMAT(t, "  x", "%3c", 'x');
	CHECK_FORMAT(t, "100%", "100%%");
}

static void test_pointers(struct selftest *t)
{
	CHECK_FORMAT(t, "0xffff888000001000", "%p", (void *)0xffff888000001000UL);
	CHECK_FORMAT(t, "0x0000000000000000", "%p", (void *)0);
}

/* snprintf must never write past the buffer, must terminate it, and must
 * return the length the whole output would have had. */
static void test_truncation(struct selftest *t)
{
	char buf[8];
	int n;

	memset(buf, 'Z', sizeof(buf));
	n = snprintf(buf, 5, "%s", "abcdefgh");
	EXPECT_EQ(t, n, 8);
	EXPECT_STREQ(t, buf, "abcd");
	EXPECT_EQ(t, buf[5], 'Z');
	n = snprintf(buf, 0, "%d", 12345);
	EXPECT_EQ(t, n, 5);
	EXPECT_EQ(t, buf[0], 'a');
}

static const struct selftest_case printk_cases[] = {
	{ "formats_integers", test_integers },
	{ "formats_hex", test_hex },
	{ "pads_to_width_and_precision", test_widths },
	{ "formats_strings_and_chars", test_strings_and_chars },
	{ "formats_pointers_as_16_digits", test_pointers },
	{ "truncates_and_counts", test_truncation },
};
SELFTEST_SUITE(printk, printk_cases);
