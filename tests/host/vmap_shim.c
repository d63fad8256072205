/* vmap_shim.c: printk, panic and spinlocks for host tests of mm/. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/spinlock.h"
#include "tests/host/vmap_shim.h"

char shim_log[16384];
bool shim_log_truncated;
static size_t shim_log_len;
jmp_buf *shim_expect_panic;
char shim_panic_message[512];

void shim_log_clear(void)
{
	shim_log[0] = '\0';
	shim_log_len = 0;
	shim_log_truncated = false;
}

bool shim_log_contains(const char *needle)
{
	return strstr(shim_log, needle) != NULL;
}

int vprintk(const char *fmt, va_list ap)
{
	size_t room = sizeof(shim_log) - shim_log_len;
	int n = vsnprintf(shim_log + shim_log_len, room, fmt, ap);

	if (n < 0)
		return n;
	if ((size_t)n >= room) {
		shim_log_truncated = true;
		shim_log_len = sizeof(shim_log) - 1;
	} else {
		shim_log_len += (size_t)n;
	}
	return n;
}

int printk(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintk(fmt, ap);
	va_end(ap);
	return n;
}

void printk_ignore_lock(void)
{
}

__noreturn void panic_at(const char *file, int line, const char *fmt, ...)
{
	int n = snprintf(shim_panic_message, sizeof(shim_panic_message),
			 "%s:%d: ", file, line);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(shim_panic_message + n, sizeof(shim_panic_message) - (size_t)n,
		  fmt, ap);
	va_end(ap);
	if (shim_expect_panic)
		longjmp(*shim_expect_panic, 1);
	fflush(stdout);
	fprintf(stderr, "panic: %s\nprintk log:\n%s\n", shim_panic_message, shim_log);
	abort();
}

void warn_at(const char *file, int line, const char *cond)
{
	printk("WARNING at %s:%d: %s\n", file, line, cond);
}

/* One CPU, number 0. */
void spin_lock(struct spinlock *lock)
{
	if (lock->locked)
		panic("spin_lock(%s): already held by CPU %d; this would "
		      "deadlock", lock->name, lock->owner_cpu);
	lock->locked = 1;
	lock->owner_cpu = 0;
}

void spin_unlock(struct spinlock *lock)
{
	if (!spin_is_held_by_me(lock))
		panic("spin_unlock(%s): not held", lock->name);
	lock->owner_cpu = -1;
	lock->locked = 0;
}

bool spin_trylock(struct spinlock *lock)
{
	if (lock->locked)
		return false;
	spin_lock(lock);
	return true;
}

bool spin_is_held_by_me(const struct spinlock *lock)
{
	return lock->locked && lock->owner_cpu == 0;
}

irqflags_t spin_lock_irqsave(struct spinlock *lock)
{
	spin_lock(lock);
	return 0;
}

void spin_unlock_irqrestore(struct spinlock *lock, irqflags_t flags)
{
	(void)flags;
	spin_unlock(lock);
}
