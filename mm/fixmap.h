/* fixmap.h: one page mapped and unmapped with LOCAL-ONLY invalidation,
 * for code that cannot send an IPI: an NMI handler, or a cross-CPU call
 * handler with interrupts off (seed 001, the APEI/GHES thread).
 *
 * The slot is one virtual page that every CPU shares, taken by one CPU
 * at a time.  Without a shootdown, another CPU may keep a stale TLB
 * entry for the slot, filled (even speculatively) while someone else had
 * it mapped.  Invalidating locally on unmap does not reach that CPU, so
 * the rule is: invalidate locally on MAP as well, before the first use.
 * Then whatever this CPU cached about the slot is gone, and the only
 * translation it can use is the one just written.
 *
 * The slot's PTE table is made at boot and pinned (FRAME_F_PINNED): it
 * is never unlinked, so the entry can be written without kpt.lock, which
 * an NMI could find held by the code it interrupted.
 */
#ifndef MM_FIXMAP_H
#define MM_FIXMAP_H

#include "kernel/types.h"

/* => boot CPU, once, after mm_init(). */
void fixmap_init(void);

/* Map @pa (page-aligned, RAM or device, write-back) at the slot and
 * return its address; NULL if another CPU holds the slot (an NMI cannot
 * wait) or @pa is not page-aligned.
 * => any context, NMI included, IRQs on or off: it takes no lock and
 *    sends no IPI.  A misaligned @pa is reported with printk, or in NMI
 *    context recorded by nmi_record_error() (kernel/nmi.h), because
 *    printk takes the console lock.
 * => TLB: this CPU holds no entry for the slot but the new one. */
void *fixmap_local_map(phys_addr_t pa);

/* Unmap the slot and release it.
 * => the CPU that mapped it, in any context (as fixmap_local_map(); a
 *    wrong @va is reported with printk, or recorded in NMI context).
 * => TLB: this CPU holds no entry for the slot; OTHER CPUs MAY, which is
 *    why fixmap_local_map() invalidates too. */
void fixmap_local_unmap(void *va);

/* Negative control, tests only: skip the invalidation on map. */
extern bool fixmap_selftest_skip_invalidate_on_map;

#endif
