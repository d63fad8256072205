/* smp.h: starting the application processors (arch/x86/smpboot.c and
 * trampoline.S), and the memory the trampoline occupies.
 *
 * A STARTUP IPI starts a CPU in real mode at a page-aligned address
 * below 1 MiB, so the trampoline is copied to low memory, which mm_init()
 * never hands out.  Its own page tables sit right above it:
 *
 *   0x8000  code and hand-off block (STARTUP vector 0x08: CS = 0x0800)
 *   0x9000  pgd: entry 0 -> identity map of the first 2 MiB, entries
 *           256..511 copied from the kernel's pgd
 *   0xa000  pud  \  the identity map of [0, 2 MiB): one 2 MiB page,
 *   0xb000  pmd  /  executable, which the trampoline runs from
 *
 * This file is included by trampoline.S: only #defines below __ASSEMBLY__.
 */
#ifndef ARCH_X86_SMP_H
#define ARCH_X86_SMP_H

#define TRAMPOLINE_PA      0x8000
#define TRAMPOLINE_PGD_PA  0x9000
#define TRAMPOLINE_PUD_PA  0xa000
#define TRAMPOLINE_PMD_PA  0xb000
#define TRAMPOLINE_END_PA  0xc000

/* The hand-off block, written by the boot CPU before each STARTUP IPI
 * (offsets from trampoline_handoff; struct ap_handoff below). */
#define HANDOFF_CR3    0    /* the kernel's pgd, for after the trampoline */
#define HANDOFF_STACK  8    /* top of this AP's stack */
#define HANDOFF_CPU    16   /* its CPU number, the argument of ap_start() */
#define HANDOFF_EFER   24   /* EFER bits to set: LME, and NXE if in use */

#ifndef __ASSEMBLY__
#include "kernel/types.h"

struct ap_handoff {
	uint64_t cr3;
	uint64_t stack_top;
	uint64_t cpu;
	uint32_t efer;
	uint32_t unused;
};

/* Each AP's stack: 16 KiB, at CPU_STACKS_START + cpu * CPU_STACK_SLOT +
 * a guard page (mm/layout.h). */
#define AP_STACK_ORDER 2
#define AP_STACK_SIZE  (PAGE_SIZE << AP_STACK_ORDER)

/* Find the CPUs (ACPI MADT), bring up the local APIC, start every AP and
 * print who came up.  A machine without a usable MADT or APIC, or whose
 * trampoline memory is not free RAM, runs on the boot CPU alone.
 * => boot CPU, once, after mm_init() and clock_init(); IRQs off. */
void smp_boot(void);

/* The lowest byte of AP @cpu's stack; NULL for the boot CPU (its stack
 * is in the kernel image) and for a CPU that has no stack mapped. */
const uint8_t *smp_ap_stack_bottom(unsigned int cpu);

/* The trampoline's 64-bit C entry (it never returns). */
__noreturn void ap_start(unsigned int cpu);


/* Register the NMI handler that parks CPUs on panic (smp_stop.c).
 * => boot CPU, once, before the APs start. */
void smp_stop_init(void);

/* Run @fn on online CPU @cpu (not this one) inside a real NMI, sent by
 * IPI with delivery mode NMI, and wait until it returned.  For tests of
 * NMI context (tests/nmi.c).  => thread context; -EINVAL, -EBUSY. */
int nmi_run_on_cpu(unsigned int cpu, void (*fn)(void));
#endif

#endif
