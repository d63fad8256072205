/* fuzz.h: what the libFuzzer targets of tests/fuzz/ share.
 *
 * Each target is one file defining LLVMFuzzerTestOneInput().  It decodes
 * its input with the reader below (bytes past the end read as 0, so every
 * input, even the empty one, is a complete program), runs the code under
 * test, and checks it against a reference model or the parser's
 * contract.  A broken check ends the run through FUZZ_CHECK: it prints
 * the values seen and aborts, which libFuzzer reports as a crash and
 * saves the input that caused it.  AddressSanitizer and
 * UndefinedBehaviorSanitizer (no recovery) catch the rest.
 */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct fuzz_reader {
	const uint8_t *p;
	size_t left;
};

/* Little-endian fields of a table in the input, at any alignment. */
static inline uint32_t u32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t u64_at(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline bool fuzz_more(const struct fuzz_reader *r)
{
	return r->left > 0;
}

/* The next @bytes (at most 8) as a little-endian number. */
static inline uint64_t fuzz_take(struct fuzz_reader *r, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes; i++) {
		uint64_t b = 0;

		if (r->left) {
			b = *r->p++;
			r->left--;
		}
		v |= b << (8 * i);
	}
	return v;
}

static inline uint8_t fuzz_u8(struct fuzz_reader *r)
{
	return (uint8_t)fuzz_take(r, 1);
}

/* Print where and what, then abort: libFuzzer keeps the input. */
#define FUZZ_CHECK(cond, ...)                                                \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "FUZZ CHECK FAILED at %s:%d: %s\n  ", \
				__FILE__, __LINE__, #cond);                  \
			fprintf(stderr, __VA_ARGS__);                        \
			fprintf(stderr, "\n");                               \
			abort();                                             \
		}                                                            \
	} while (0)

#endif
