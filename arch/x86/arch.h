/* arch.h: every hook that generic code (mm/, kernel/) may use to reach the
 * x86 hardware.  mm/ and kernel/ include this header and nothing else from
 * arch/x86/, so the list below is the whole of what the algorithms need
 * from the CPU.  The host-side unit tests (tests/host/) supply their own
 * versions of the functions.
 *
 * What generic code knows of x86, precisely: the page-table entry format
 * (mm/pte.h: levels, bits, the PAT encoding), because the page-table code
 * builds entries itself, as Linux's mm/ does through pgtable.h; and the
 * facts in struct cpu_features.  What it never does: execute a privileged
 * instruction (INVLPG, a CR3/CR4 write, an APIC access, cli/sti); each of
 * those is a function below, implemented in arch/x86/.
 */
#ifndef ARCH_X86_ARCH_H
#define ARCH_X86_ARCH_H

#include "kernel/types.h"

/* CPUs the kernel can run: the size of every per-CPU array.  QEMU's pc
 * machine takes -smp 16 and more; 16 keeps the arrays small, and a
 * cpumask_t (kernel/smp.h) has room for 64. */
#define MAX_CPUS 16

#define PAGE_SHIFT 12
#define PAGE_SIZE  (1UL << PAGE_SHIFT)
#define PAGE_MASK  (~(PAGE_SIZE - 1))

/* The physical-address field wherever x86 stores a page-aligned physical
 * address: page-table entries, CR3, IA32_APIC_BASE.  Bits 51..12: 52 is
 * the architectural maximum MAXPHYADDR (SDM Vol. 3A, 4.1.4); bits from
 * the CPU's own MAXPHYADDR up are reserved and must be 0. */
#define PHYS_ADDR_MASK 0x000ffffffffff000ULL

/* CPU facts, read once by cpu_features_init() on the boot CPU. */
struct cpu_features {
	char vendor[13];
	uint32_t family, model, stepping;
	uint8_t phys_addr_bits;     /* MAXPHYADDR, CPUID 0x80000008 EAX[7:0] */
	uint8_t virt_addr_bits;     /* 48, or 57 with LA57 */
	bool nx;                    /* execute-disable bit (EFER.NXE) */
	bool pge;                   /* global pages: detected, left off */
	bool pat;                   /* page attribute table */
	bool pcid;                  /* process-context identifiers */
	bool invpcid;               /* INVPCID instruction */
	bool gbpages;               /* 1 GiB pages */
	bool la57;                  /* 5-level paging */
	bool apic;                  /* an on-chip local APIC */
	bool x2apic;                /* x2APIC mode */
	bool smep, smap;            /* supervisor exec/access protection */
	bool tsc_deadline;          /* APIC timer TSC-deadline mode */
	bool invariant_tsc;         /* TSC runs at a constant rate */
	bool hypervisor;            /* running under a hypervisor */
};
extern struct cpu_features cpu_features;

/* TLB maintenance on the calling CPU only.  The names carry the scope;
 * reaching other CPUs is the job of mm/shootdown.c. */
void tlb_flush_local_page(virt_addr_t va);   /* INVLPG: one page, and the
						paging-structure caches */
void tlb_flush_local_all(void);              /* everything */

/* The root of the kernel page tables (CR3). */
phys_addr_t arch_read_pgd_root(void);
void arch_write_pgd_root(phys_addr_t root);

/* Inside an NMI handler on this CPU (arch/x86/idt.c counts the nesting:
 * an exception's iret inside the handler unblocks NMIs, so one NMI can
 * interrupt another).  Code that takes locks or sends IPIs refuses to run
 * when this is true (kernel/nmi.h). */
bool in_nmi(void);

/* The CPU running this code (0 for the boot CPU), and this CPU's
 * interrupt state.  In the kernel these are one or two instructions,
 * inline: every lock and counter asks for them, and under QEMU's TCG
 * each call and return of a function costs a translation-block lookup
 * (this_cpu_id() alone was 7% of a vmalloc/vfree pair's samples out of
 * line, tools/profiler.py on the linux table's vmalloc_4k row).  The host
 * tests of mm/ supply their own (tests/host/host_env.c). */
#if __STDC_HOSTED__
unsigned int this_cpu_id(void);
bool arch_irqs_enabled(void);
void arch_irq_disable(void);
void arch_irq_enable(void);
#else
/* The per-CPU area's cpu_id, PERCPU_CPU_ID_OFFSET bytes from GS's base
 * (arch/x86/percpu.c checks the offset). */
#define PERCPU_CPU_ID_OFFSET 8

static inline unsigned int this_cpu_id(void)
{
	unsigned int id;

	__asm__("movl %%gs:%c1, %0" : "=r"(id) : "i"(PERCPU_CPU_ID_OFFSET));
	return id;
}

static inline bool arch_irqs_enabled(void)
{
	uint64_t flags;

	__asm__ __volatile__("pushfq; popq %0" : "=r"(flags));
	return flags & (1ULL << 9);   /* RFLAGS.IF */
}

static inline void arch_irq_disable(void)
{
	__asm__ __volatile__("cli" ::: "memory");
}

static inline void arch_irq_enable(void)
{
	__asm__ __volatile__("sti" ::: "memory");
}
#endif

/* Sleep until an interrupt: enable IRQs and halt with no window between
 * the two, so an interrupt arriving after the caller's last check still
 * ends the sleep (sti's one-instruction shadow).  Returns with IRQs on. */
void arch_wait_for_interrupt(void);

/* Cross-CPU interrupts (arch/x86/lapic.c), for kernel/smp.c: the
 * call-function IPI to one online CPU, or to all but this one with a
 * single command (the APIC's destination shorthand). */
void arch_send_call_ipi_one(unsigned int cpu);
void arch_send_call_ipi_all_but_self(void);

/* CPUs the machine has, online or not: the MADT's enabled CPUs, those
 * beyond MAX_CPUS and those that failed to start included (1 without a
 * MADT).  The "all excluding self" shorthand reaches every one of them,
 * so kernel/smp.c uses it only while this equals smp_num_online(). */
unsigned int arch_nr_present_cpus(void);

/* The clock source (arch/x86/tsc.c), for kernel/clock.c: an ordered read
 * of the cycle counter, and its rate measured once at boot. */
uint64_t arch_clock_cycles(void);
uint64_t arch_clock_calibrate(void);

/* Busy-wait hint inside spin loops. */
static inline void cpu_relax(void) { __asm__ __volatile__("pause" ::: "memory"); }

#endif
