/* printk.c: formatted output to the serial console. */
#include "arch/x86/uart.h"
#include "kernel/printk.h"
#include "kernel/spinlock.h"

/* The longest single printk; longer output is cut and marked. */
#define PRINTK_LINE_MAX 512

/* console_lock serialises whole printk calls between CPUs. */
static struct spinlock console_lock = SPINLOCK_INIT("console");
static bool console_lock_ignored;

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

	if (n >= (int)sizeof(line))
		line[sizeof(line) - 2] = '~';   /* mark the cut */
	if (locked)
		flags = spin_lock_irqsave(&console_lock);
	for (const char *p = line; *p; p++)
		uart_putc(*p);
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
