/* lapic.h: the local APIC, each CPU's own interrupt controller.
 *
 * It receives interrupts for its CPU (from devices through the I/O APIC,
 * from its own timer, and from other CPUs as IPIs) and sends IPIs.  Two
 * ways to reach its registers, chosen once at boot for every CPU:
 *   xAPIC:  a 4 KiB page of memory-mapped registers (uncached);
 *   x2APIC: MSRs 0x800 + register/16, used when CPUID offers it.
 */
#ifndef ARCH_X86_LAPIC_H
#define ARCH_X86_LAPIC_H

#include "kernel/types.h"

/* Interrupt vectors of the local APIC's own sources.  The call-function
 * IPI sits high (priority class 15), the way Linux places its IPIs. */
enum {
	VEC_CALL_FUNCTION = 0xfb,   /* kernel/smp.c: cross-CPU calls */
	VEC_APIC_ERROR = 0xfe,      /* the APIC saw a bad vector or message */
	VEC_SPURIOUS = 0xff,        /* low 4 bits all ones: older CPUs need it */
};

enum lapic_mode { LAPIC_NONE, LAPIC_XAPIC, LAPIC_X2APIC };
extern enum lapic_mode lapic_mode;

/* The local APIC timer's rate with divide-by-16, measured against the
 * PIT by lapic_timer_calibrate(); 0 before. */
extern uint64_t lapic_timer_hz;

/* Choose the mode, map the xAPIC page (UC, through mm/), route the call,
 * error and spurious vectors, then lapic_init_this_cpu().
 * => boot CPU, once, after mm_init(); IRQs off. */
int lapic_init_boot(phys_addr_t madt_lapic_pa);

/* Enable this CPU's APIC in the chosen mode: spurious vector, error
 * interrupt, timer and LINT pins masked, task priority 0.
 * => every CPU, during its bring-up; IRQs off. */
void lapic_init_this_cpu(void);

/* This CPU's APIC id: from the ID register, or from CPUID while no
 * local APIC is set up (lapic_mode == LAPIC_NONE). */
uint32_t lapic_id(void);
void lapic_eoi(void);

/* Measure lapic_timer_hz against the PIT.  => boot CPU, IRQs off. */
void lapic_timer_calibrate(void);

/* IPIs.  Each is one write of the Interrupt Command Register; the
 * caller need not disable IRQs (the functions do, around the ICR).
 * => TLB: none of these touch memory mappings. */
void lapic_send_ipi(uint32_t apic_id, uint8_t vector);
void lapic_send_ipi_all_but_self(uint8_t vector);   /* one ICR write */
void lapic_send_nmi_all_but_self(void);             /* one ICR write */
void lapic_send_nmi(uint32_t apic_id);
void lapic_send_init(uint32_t apic_id);
void lapic_send_startup(uint32_t apic_id, phys_addr_t trampoline_pa);

#endif
