/* spinlock.c: test-and-test-and-set spinlocks (see kernel/spinlock.h).
 * xchg is a full barrier on x86, so the lock orders memory both ways;
 * the release is a plain store, which x86's TSO keeps after every earlier
 * load and store of the critical section. */
#include "arch/x86/arch.h"
#include "kernel/panic.h"
#include "kernel/spinlock.h"

static uint32_t xchg32(volatile uint32_t *p, uint32_t v)
{
	__asm__ __volatile__("xchgl %0, %1" : "+r"(v), "+m"(*p) :: "memory");
	return v;
}

bool spin_trylock(struct spinlock *lock)
{
	if (xchg32(&lock->locked, 1))
		return false;
	lock->owner_cpu = (int32_t)this_cpu_id();
	return true;
}

/* The uncontended path is one xchg; the self-deadlock check costs
 * nothing there: a lock we hold is never free, so it is made only when
 * the xchg finds the lock taken (owner_cpu is ours only while we hold
 * it: it is set after the xchg and cleared before the release). */
void spin_lock(struct spinlock *lock)
{
	int32_t me = (int32_t)this_cpu_id();

	if (xchg32(&lock->locked, 1)) {
		if (READ_ONCE(lock->owner_cpu) == me)
			panic("spinlock '%s': CPU %d takes it again (self-deadlock)",
			      lock->name, me);
		do {
			while (READ_ONCE(lock->locked))
				cpu_relax();
		} while (xchg32(&lock->locked, 1));
	}
	lock->owner_cpu = me;
}

void spin_unlock(struct spinlock *lock)
{
	if (!spin_is_held_by_me(lock))
		panic("spinlock '%s': CPU %u releases it, but the owner is CPU %d",
		      lock->name, this_cpu_id(), lock->owner_cpu);
	lock->owner_cpu = -1;
	barrier();
	WRITE_ONCE(lock->locked, 0);
}

bool spin_is_held_by_me(const struct spinlock *lock)
{
	return READ_ONCE(lock->locked) &&
	       READ_ONCE(lock->owner_cpu) == (int32_t)this_cpu_id();
}

irqflags_t spin_lock_irqsave(struct spinlock *lock)
{
	irqflags_t flags = arch_irqs_enabled();

	arch_irq_disable();
	spin_lock(lock);
	return flags;
}

void spin_unlock_irqrestore(struct spinlock *lock, irqflags_t flags)
{
	spin_unlock(lock);
	if (flags)
		arch_irq_enable();
}
