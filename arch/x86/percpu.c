/* percpu.c: point this CPU's GS base at its own struct percpu. */
#include "arch/x86/asm.h"
#include "arch/x86/percpu.h"

struct percpu percpu_areas[MAX_CPUS];

void percpu_init_this_cpu(unsigned int cpu_id)
{
	struct percpu *p = &percpu_areas[cpu_id];

	p->self = p;
	p->cpu_id = cpu_id;
	wrmsr(MSR_GS_BASE, (uint64_t)p);
}

unsigned int this_cpu_id(void)
{
	return this_cpu()->cpu_id;
}
