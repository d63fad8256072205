/* percpu.h: the data each CPU keeps for itself, reached through GS.
 *
 * Every CPU's GS base points at its own struct percpu, whose first field
 * points back at itself, so this_cpu() is one load: mov %gs:0, %rax.
 * Only the owning CPU writes its struct, except where a field says so. */
#ifndef ARCH_X86_PERCPU_H
#define ARCH_X86_PERCPU_H

#include "arch/x86/arch.h"
#include "arch/x86/gdt.h"
#include "arch/x86/trap.h"
#include "kernel/extable.h"

struct selftest;

struct percpu {
	struct percpu *self;            /* must stay first: see this_cpu() */
	unsigned int cpu_id;            /* 0 = the boot CPU */
	uint32_t apic_id;
	struct fault_record last_fault; /* the last fault extable caught */
	struct selftest *running_test;  /* the selftest case running here */
	unsigned int exception_depth;   /* nested exceptions, to stop loops */
	struct spurious_pf spurious_pf; /* see SPURIOUS_PF_REPEAT_LIMIT */
	unsigned int nmi_depth;         /* > 0 inside an NMI handler: see in_nmi() */
	struct cpu_tables tables;       /* GDT, TSS and IST stacks */
};

extern struct percpu percpu_areas[MAX_CPUS];

static inline struct percpu *this_cpu(void)
{
	struct percpu *p;
	__asm__ __volatile__("movq %%gs:0, %0" : "=r"(p));
	return p;
}

/* => runs on the CPU being set up, IRQs off, before anything uses GS. */
void percpu_init_this_cpu(unsigned int cpu_id);

#endif
