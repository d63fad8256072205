/* The exception fixup table (Linux calls it the extable).
 *
 * Some kernel code must try an access that may fault: a selftest checking
 * that a read-only page really is read-only, or that a freed mapping is
 * really gone on every CPU.  Such an access is written in assembly with an
 * entry in the __extable section: "if the instruction at A faults, resume
 * at B".  The exception handler looks the faulting RIP up in the table;
 * on a hit it records what happened and jumps to B instead of reporting a
 * crash.  The probe functions below are the only users today.
 *
 * Each returns 0 when the access worked and -EFAULT when it faulted; the
 * vector, error code and CR2 of the last caught fault on this CPU are then
 * in extable_last_fault().
 */
#ifndef KERNEL_EXTABLE_H
#define KERNEL_EXTABLE_H

#include "kernel/types.h"

struct extable_entry {
	int32_t insn;    /* faulting instruction, relative to this field */
	int32_t fixup;   /* where to resume, relative to this field */
};

struct fault_record {
	uint64_t vector;       /* e.g. 14 for #PF */
	uint64_t error_code;
	uint64_t cr2;          /* faulting address, for #PF */
	uint64_t rip;
};

int probe_read_u64(const void *addr, uint64_t *out);
int probe_write_u64(void *addr, uint64_t value);
int probe_exec(const void *addr);   /* calls addr; it must hold a 'ret' */
int probe_ud2(void);                /* executes ud2: -EFAULT, vector 6 */
int probe_int3(void);               /* executes int3: -EFAULT, vector 3 */

/* The fault that the last probe on this CPU caught. */
const struct fault_record *extable_last_fault(void);

#endif
