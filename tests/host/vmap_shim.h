/* vmap_shim.h: the kernel services mm/vmap_area.c needs, for the host.
 *
 * printk goes to a log that a test can search and that the harness
 * prints as KTAP diagnostics when a case fails.  panic either unwinds
 * to a test that expects it (shim_expect_panic) or prints and aborts.
 * Spinlocks are single-threaded: taking a held lock, or releasing one
 * not held, panics, so lock-rule bugs show up as test failures.
 */
#ifndef TESTS_HOST_VMAP_SHIM_H
#define TESTS_HOST_VMAP_SHIM_H

#include <setjmp.h>
#include <stdbool.h>

/* Everything printk'd since the last shim_log_clear(), NUL-terminated;
 * truncated (shim_log_truncated) if it outgrew the buffer. */
extern char shim_log[16384];
extern bool shim_log_truncated;
void shim_log_clear(void);
bool shim_log_contains(const char *needle);

/* When non-NULL, panic() stores its message in shim_panic_message and
 * longjmps here with 1. */
extern jmp_buf *shim_expect_panic;
extern char shim_panic_message[512];

#endif
