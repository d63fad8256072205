/* nmi.h: what generic code does when it finds itself in NMI context.
 *
 * An NMI arrives whatever the interrupted code holds: a spinlock (the
 * console's, kpt.lock), this CPU's cross-CPU call descriptors half
 * filled, the ICR half written.  So in NMI context the kernel must not
 * take a lock, send an IPI or wait for one (seed 001: a mapping torn
 * down in NMI context cannot be shot down).  in_nmi() (arch/x86/arch.h)
 * says where we are; the functions below let the code that must refuse
 * say so without printk, which takes the console lock:
 *
 *   nmi_refuse("smp_call_one")    true in NMI: the caller returns -EPERM;
 *                                 the refusal is recorded, not printed
 *   nmi_record_error(msg, value)  an error seen in NMI, recorded
 *   nmi_print_deferred()          prints what was recorded since the last
 *                                 call (not in NMI; the boot summary and
 *                                 tests/nmi.c call it)
 *
 * The records are per CPU and written only by their CPU; an NMI cannot
 * interrupt itself, so no lock is needed.
 */
#ifndef KERNEL_NMI_H
#define KERNEL_NMI_H

#include "kernel/types.h"

/* The last error recorded on a CPU in NMI context, and how many. */
struct nmi_record {
	const char *what;        /* a string constant naming the function */
	uint64_t value;          /* the argument at fault, or 0 */
	uint64_t count;          /* records made on this CPU, ever */
	uint64_t printed;        /* ... of which nmi_print_deferred() printed
				    (written by the one CPU that calls it) */
	uint64_t checks_bypassed;  /* nmi_refuse() in NMI with the check off */
};

/* In NMI: record "@who: refused in NMI context" and return true.
 * Elsewhere: false.  => any context. */
bool nmi_refuse(const char *who);

/* Record @what (a string constant) and @value for later printing.
 * => NMI context (elsewhere, printk directly). */
void nmi_record_error(const char *what, uint64_t value);

/* Print every CPU's record made since the last call.  => not in NMI. */
void nmi_print_deferred(void);

struct nmi_record nmi_record_of(unsigned int cpu);

/* Negative control, tests only: nmi_refuse() counts in checks_bypassed
 * and returns false even in NMI, so the operation goes ahead. */
extern bool nmi_selftest_skip_check;

#endif
