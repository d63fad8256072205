/* The three error tiers, used everywhere in the kernel:
 *   - a caller's mistake: return -EINVAL (etc.) and printk what was wrong;
 *   - a survivable oddity: WARN_ON(), which prints file:line and goes on;
 *   - a broken kernel invariant: panic()/BUG_ON(), which print file:line,
 *     the CPU and what was expected, stop every other CPU, and halt.
 */
#ifndef KERNEL_PANIC_H
#define KERNEL_PANIC_H

#include "kernel/types.h"

__noreturn void panic_at(const char *file, int line, const char *fmt, ...)
	__printf(3, 4);
void warn_at(const char *file, int line, const char *cond);

#define panic(...) panic_at(__FILE__, __LINE__, __VA_ARGS__)

#define BUG_ON(cond)                                                    \
	do {                                                            \
		if (unlikely(cond))                                     \
			panic_at(__FILE__, __LINE__,                    \
				 "BUG_ON(%s): expected it to be false", \
				 #cond);                                \
	} while (0)

/* Evaluates to cond, so it can guard a bail-out: if (WARN_ON(x)) return; */
#define WARN_ON(cond)                                                   \
	({                                                              \
		bool warn_on_c_ = !!(cond);                             \
		if (unlikely(warn_on_c_))                               \
			warn_at(__FILE__, __LINE__, #cond);             \
		warn_on_c_;                                             \
	})

#endif
