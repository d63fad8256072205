/* smp.pml: the cross-CPU call of kernel/smp.c, as the shootdown uses it.
 *
 *   pending[s]  the targets of CPU s's call that have not acknowledged
 *               (a bit each); s reuses its call only when it is 0
 *   queued[t]   CPU t's queue: a bit for each caller with an entry in it
 *   ipi[t]      an IPI latched in CPU t's local APIC, not yet taken
 *   irqon[t]    CPU t takes the IPI only while its interrupts are on
 *   req[s]      CPU s's shootdown request slot: the pages (a VA bitmask)
 *               the targets invalidate; valid until the last ack
 *
 * The kernel keeps SMP_CALLS_PER_CPU descriptors per CPU; the shootdown
 * waits for every ack before its next call, so one is all it ever has
 * in flight, and one is what the model keeps.
 */

byte pending[NCPU];
byte queued[NCPU];
bool ipi[NCPU];
bool irqon[NCPU] = 1;
byte req[NCPU];

#define OTHERS(s)       ((BIT(0) | BIT(1) | BIT(2)) & ~BIT(s))

/* Run every call queued for CPU @c: the shootdown's handler for each
 * caller, then the acknowledgment.  => IRQs off on @c (a handler, or the
 * wait loop).  One atomic step: all it does is local to @c, except the
 * acks, and each ack follows its own invalidation. */
inline serve_queue(c)
{
	if
	:: queued[c] & BIT(0) ->
		invalidate_range(c, req[0]);              /* code: shootdown_on_target */
		pending[0] = pending[0] & ~BIT(c);
		printf("@@ %d shootdown_on_target: invalidates cpu0's pages, acks cpu0\n", c)
	:: else
	fi;
	if
	:: queued[c] & BIT(1) ->
		invalidate_range(c, req[1]);
		pending[1] = pending[1] & ~BIT(c);
		printf("@@ %d shootdown_on_target: invalidates cpu1's pages, acks cpu1\n", c)
	:: else
	fi;
	if
	:: queued[c] & BIT(2) ->
		invalidate_range(c, req[2]);
		pending[2] = pending[2] & ~BIT(c);
		printf("@@ %d shootdown_on_target: invalidates cpu2's pages, acks cpu2\n", c)
	:: else
	fi;
	queued[c] = 0
}

/* The IPI handler of CPU @c: runs when an IPI is latched and @c's
 * interrupts are on. */
proctype ipi_handler(byte c)
{
end:
	do
	:: atomic {
		irqon[c] && ipi[c] ->
		ipi[c] = 0;
		serve_queue(c)
	}
	od
}

/* Spin until CPU @s's call is acknowledged by every target, serving
 * @s's own queue meanwhile (IRQs are off): two CPUs that wait for each
 * other both make progress.  A variant leaves the serving out. */
inline wait_for_acks(s)
{
	do
	:: pending[s] == 0 -> break
#ifndef NO_SERVE_WHILE_WAITING
	:: atomic { queued[s] != 0 -> serve_queue(s) }
#endif
	od
}

/* smp_call_all_but_self(shootdown_on_target, &req[s], SMP_NO_WAIT):
 * take the call (waiting for its last round), fill it, push an entry on
 * every other CPU's queue, then ONE IPI for all of them. */
inline call_all_but_self(s)
{
	wait_for_acks(s);                                 /* code: smp_call_all_but_self */
	atomic {
		pending[s] = OTHERS(s);
		queued[0] = queued[0] | (BIT(s) & OTHERS(0));
		queued[1] = queued[1] | (BIT(s) & OTHERS(1));
		queued[2] = queued[2] | (BIT(s) & OTHERS(2));
		printf("@@ %d smp_call_all_but_self: queues the call on the others\n", s)
	}
	atomic {
		ipi[0] = ipi[0] || s != 0;
		ipi[1] = ipi[1] || s != 1;
		ipi[2] = ipi[2] || s != 2;
		printf("@@ %d sends ONE broadcast IPI\n", s)
	}
}

/* smp_call_wait_for_acks(): IRQs off, wait. */
inline wait_for_all_acks(s)
{
	irqon[s] = 0;                                     /* code: smp_call_wait_for_acks */
	printf("@@ %d smp_call_wait_for_acks: IRQs off, waits\n", s);
	wait_for_acks(s);
	printf("@@ %d every target has acknowledged\n", s);
	irqon[s] = 1
}
