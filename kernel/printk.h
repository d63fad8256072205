/* printk: formatted output to the console (COM1).
 *
 * Supported conversions: %d %i %u %x %X %o %c %s %p %% with the length
 * modifiers hh h l ll z t, flags '-', '0', '#', '+', ' ', and a field
 * width or precision given as a number or '*'.  %p prints 0x and 16 hex
 * digits, so addresses line up in tables.
 * Each printk() call takes the console lock, so the text of one call is
 * never interleaved with another CPU's: print whole lines in one call.
 * It is safe with IRQs on or off.  After a panic, the lock is ignored so
 * the last words always come out.
 */
#ifndef KERNEL_PRINTK_H
#define KERNEL_PRINTK_H

#include "kernel/types.h"

int printk(const char *fmt, ...) __printf(1, 2);
int vprintk(const char *fmt, va_list ap);

/* Stop taking the console lock (panic: the holder may never release it). */
void printk_ignore_lock(void);

/* Format into a buffer; returns the length the whole output would have
 * had, like C99 snprintf.  The buffer is always NUL-terminated if size>0. */
/* Whether the last printk (on any CPU) contained @needle: tests check
 * that bad input got a message naming the bad argument. */
bool printk_last_contains(const char *needle);

/* How many printk calls were made in NMI context (tests/nmi.c checks
 * that the NMI-safe paths make none). */
extern uint64_t printk_calls_in_nmi;

int snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

#endif
