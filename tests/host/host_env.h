/* host_env.h: the pretend machine the host tests run mm/ on.
 *
 * The files of mm/ are compiled unchanged for Linux.  What the kernel would supply,
 * host_env.c supplies instead:
 *   - RAM: one big anonymous mapping (MAP_NORESERVE: untouched pages cost
 *     nothing) that plays physical memory from address 0, reached through
 *     direct_map_offset like the real direct map;
 *   - printk into a buffer (tests check that a message names the bad
 *     argument), panic that a test can expect (EXPECT_PANIC), spinlocks
 *     that catch self-deadlock, and the arch hooks;
 *   - probe_read/write/exec through a software MMU that walks kpt.root the
 *     way the CPU does (P, RW, NX, PS, reserved bits), written apart from
 *     kpt_walk() so that a bug there cannot hide a bug in kpt_map().
 */
#ifndef TESTS_HOST_HOST_ENV_H
#define TESTS_HOST_HOST_ENV_H

#include <setjmp.h>

#include "arch/x86/arch.h"
#include "kernel/bootinfo.h"
#include "kernel/selftest.h"

#define HOST_RAM_MAX (4 * GiB)   /* the mapping; a memory map uses part */

/* Boot mm/ on a memory map: frame table, all RAM to the allocator, an
 * empty pgd.  Resets every mm/ switch and counter first. */
void host_mm_boot(const struct boot_info *bi,
		  const struct phys_range *reserved, size_t nr_reserved);

/* The default machine: 2.5 GiB (so [1 GiB, 2 GiB) is one free 1 GiB
 * block) with the usual PC holes; the first MiB, a kernel image at 1 MiB
 * and the multiboot info reserved. */
void host_mm_boot_default(void);
extern const struct boot_info host_default_boot_info;

/* Back to the default CPU: 46-bit physical addresses, NX, PGE, PAT, 1 GiB
 * pages. */
void host_cpu_features_default(void);

/* The last printk() message, and how many were printed. */
extern char host_printk_last[512];
extern unsigned long host_printk_count;

/* TLB flushes asked for. */
extern unsigned long host_tlb_flush_all_count;

/* Expecting a panic: run @stmt; the case fails unless it panics with a
 * message containing @needle.  mm/ state after a panic is whatever the
 * panic interrupted (locks may be held): reboot before using it again. */
extern jmp_buf *host_panic_catcher;
extern char host_panic_message[512];
#define EXPECT_PANIC(t, stmt, needle)                                        \
	do {                                                                 \
		jmp_buf jb_;                                                 \
		host_panic_message[0] = '\0';                                \
		host_panic_catcher = &jb_;                                   \
		if (setjmp(jb_) == 0) {                                      \
			stmt;                                                \
			host_panic_catcher = NULL;                           \
			selftest_fail_at(t, __FILE__, __LINE__,              \
					 "expected '%s' to panic", #stmt);   \
		} else {                                                     \
			host_panic_catcher = NULL;                           \
			if (!strstr(host_panic_message, needle))             \
				selftest_fail_at(t, __FILE__, __LINE__,      \
					"panic message \"%s\" lacks \"%s\"", \
					host_panic_message, needle);         \
		}                                                            \
	} while (0)

/* Does the last printk() contain @needle? */
bool host_printk_has(const char *needle);

/* xorshift64*: deterministic pseudo-random numbers for the tests. */
uint64_t host_random(uint64_t *state);

#endif
