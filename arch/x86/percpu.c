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

_Static_assert(__builtin_offsetof(struct percpu, cpu_id) == PERCPU_CPU_ID_OFFSET,
	       "this_cpu_id() (arch/x86/arch.h) reads cpu_id at this offset");
