/* string.c: byte-at-a-time string and memory functions.  Simple on
 * purpose; memcpy uses rep movsb, which current CPUs (ERMS) run as fast
 * as any hand-written loop for the sizes a kernel copies. */
#include "kernel/string.h"

/* rep stosq for the whole 8-byte words, rep stosb for the rest.  On
 * hardware (ERMS) rep stosb alone is as fast, but QEMU's TCG runs a rep
 * string instruction one iteration at a time, so eight times fewer
 * iterations make zeroing a page-table page, or poisoning a freed frame,
 * eight times cheaper under emulation. */
void *memset(void *dst, int c, size_t n)
{
	uint64_t word = 0x0101010101010101ULL * (unsigned char)c;
	size_t words = n / 8, bytes = n % 8;
	void *d = dst;

	__asm__ __volatile__("rep stosq" : "+D"(d), "+c"(words) : "a"(word) : "memory");
	__asm__ __volatile__("rep stosb" : "+D"(d), "+c"(bytes) : "a"(word) : "memory");
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;
	__asm__ __volatile__("rep movsb" : "+D"(d), "+S"(src), "+c"(n) :: "memory");
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

size_t strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

int strcmp(const char *a, const char *b)
{
	return strncmp(a, b, SIZE_MAX);
}

char *strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (!*s)
			return NULL;
	}
}

char *strstr(const char *haystack, const char *needle)
{
	size_t n = strlen(needle);

	for (; *haystack; haystack++)
		if (strncmp(haystack, needle, n) == 0)
			return (char *)haystack;
	return n == 0 ? (char *)haystack : NULL;
}
