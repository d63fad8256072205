#ifndef ARCH_X86_GDT_H
#define ARCH_X86_GDT_H
#include "kernel/types.h"

/* Segment selectors: long mode ignores segment bases and limits, but the
 * CPU still needs a code segment with L=1, a data segment, and a TSS. */
#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define TSS_SEL   0x18

/* Interrupt Stack Table slots: these exceptions switch to a known-good
 * stack, because they can arrive when the current stack is unusable
 * (a #DF after a kernel stack overflow, an NMI at any instruction). */
enum ist_slot { IST_NONE = 0, IST_DOUBLE_FAULT = 1, IST_NMI = 2, IST_MACHINE_CHECK = 3 };
#define IST_STACK_SIZE 4096

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __packed;

struct cpu_tables {
	uint64_t gdt[5];            /* null, code, data, TSS (two slots) */
	struct tss tss;
	uint8_t ist_stacks[3][IST_STACK_SIZE] __aligned(16);
};

/* => runs on the CPU being set up, IRQs off; loads GDTR, segments, TR. */
void gdt_init_this_cpu(struct cpu_tables *t);
#endif
