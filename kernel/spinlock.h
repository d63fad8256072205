/* Spinlocks.
 *
 * A spinlock is a word that one CPU at a time may own.  The functions are
 * out of line on purpose: mm/ is also built on the host for unit tests,
 * where tests/host/ supplies its own implementation.
 *
 * spin_lock_irqsave() disables interrupts before taking the lock, so an
 * interrupt handler on this CPU cannot deadlock against the holder.  The
 * lock records its owner CPU, so spin_is_held_by_me() can assert lock
 * rules at function entry (xv6's holding()).
 */
#ifndef KERNEL_SPINLOCK_H
#define KERNEL_SPINLOCK_H

#include "kernel/types.h"

struct spinlock {
	volatile uint32_t locked;   /* 0 free, 1 held */
	int32_t owner_cpu;          /* CPU id of the holder, -1 when free */
	const char *name;           /* shown by panics and gdb */
};

#define SPINLOCK_INIT(n) { .locked = 0, .owner_cpu = -1, .name = (n) }

void spin_lock(struct spinlock *lock);
void spin_unlock(struct spinlock *lock);
bool spin_trylock(struct spinlock *lock);
bool spin_is_held_by_me(const struct spinlock *lock);

/* Saved interrupt state: restore exactly what the caller had. */
typedef unsigned long irqflags_t;
irqflags_t spin_lock_irqsave(struct spinlock *lock);
void spin_unlock_irqrestore(struct spinlock *lock, irqflags_t flags);

#endif
