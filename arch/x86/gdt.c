/* gdt.c: the Global Descriptor Table and Task State Segment of one CPU.
 * In 64-bit mode the TSS holds no task state; it is only where the CPU
 * finds the IST stacks for #DF, NMI and #MC. */
#include "arch/x86/gdt.h"

struct descriptor_ptr {
	uint16_t limit;
	uint64_t base;
} __packed;

#define GDT_CODE64 0x00af9a000000ffffULL  /* P, DPL0, code, readable, L=1 */
#define GDT_DATA   0x00cf92000000ffffULL  /* P, DPL0, data, writable */

static void gdt_set_tss(uint64_t *slot, const struct tss *tss)
{
	uint64_t base = (uint64_t)tss, limit = sizeof(*tss) - 1;

	slot[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
		  (0x89ULL << 40) |                 /* P, available 64-bit TSS */
		  (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	slot[1] = base >> 32;
}

void gdt_init_this_cpu(struct cpu_tables *t)
{
	struct descriptor_ptr gdtr = { sizeof(t->gdt) - 1, (uint64_t)t->gdt };

	t->gdt[0] = 0;
	t->gdt[1] = GDT_CODE64;
	t->gdt[2] = GDT_DATA;
	for (int i = 0; i < 3; i++)   /* stacks grow down: point at the top */
		t->tss.ist[i] = (uint64_t)&t->ist_stacks[i][IST_STACK_SIZE];
	t->tss.iomap_base = sizeof(t->tss);   /* no I/O permission bitmap */
	gdt_set_tss(&t->gdt[3], &t->tss);

	/* Reload CS with a far return, the data segments directly.  GS and
	 * FS are left alone: their bases live in MSRs (percpu uses GS). */
	__asm__ __volatile__(
		"lgdt %0\n\t"
		"pushq %1\n\t"
		"leaq 1f(%%rip), %%rax\n\t"
		"pushq %%rax\n\t"
		"lretq\n"
		"1:\n\t"
		"movw %w2, %%ax\n\t"
		"movw %%ax, %%ds\n\t"
		"movw %%ax, %%es\n\t"
		"movw %%ax, %%ss\n\t"
		"ltr %w3\n\t"
		:: "m"(gdtr), "i"(KERNEL_CS), "r"(KERNEL_DS), "r"(TSS_SEL)
		: "rax", "memory");
}
