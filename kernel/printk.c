/* printk.c: formatted output to the serial console. */
#include "arch/x86/arch.h"
#include "arch/x86/uart.h"
#include "kernel/printk.h"
#include "kernel/selftest_internal.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"

/* The longest single printk; longer output is cut and marked. */
#define PRINTK_LINE_MAX 512

/* console_lock serialises whole printk calls between CPUs. */
static struct spinlock console_lock = SPINLOCK_INIT("console");
static bool console_lock_ignored;
/* console_lock guards this: */
static bool console_at_line_start = true;
static char console_last[PRINTK_LINE_MAX];   /* the last printk, whole */

/* printk calls made in NMI context, where the console lock may be held
 * by the interrupted code: only panic's last words should be here. */
uint64_t printk_calls_in_nmi;

/* Write @text, starting every line with @prefix: while a selftest case
 * runs, everything printed (kernel warnings, exception reports) becomes a
 * KTAP diagnostic line of that case instead of noise between results. */
static void console_write(const char *text, const char *prefix)
{
	for (const char *p = text; *p; p++) {
		if (console_at_line_start)
			for (const char *q = prefix; *q; q++)
				uart_putc(*q);
		uart_putc(*p);
		console_at_line_start = *p == '\n';
	}
}

void printk_ignore_lock(void)
{
	WRITE_ONCE(console_lock_ignored, true);
}

int vprintk(const char *fmt, va_list ap)
{
	char line[PRINTK_LINE_MAX];
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	bool locked = !READ_ONCE(console_lock_ignored);
	irqflags_t flags = 0;

	if (in_nmi())
		COUNTER_ADD(printk_calls_in_nmi, 1);
	if (n >= (int)sizeof(line))
		line[sizeof(line) - 2] = '~';   /* mark the cut */
	if (locked)
		flags = spin_lock_irqsave(&console_lock);
	console_write(line, selftest_diag_prefix());
	memcpy(console_last, line, sizeof(console_last));
	if (locked)
		spin_unlock_irqrestore(&console_lock, flags);
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

bool printk_last_contains(const char *needle)
{
	irqflags_t flags = spin_lock_irqsave(&console_lock);
	bool found = strstr(console_last, needle) != NULL;

	spin_unlock_irqrestore(&console_lock, flags);
	return found;
}
