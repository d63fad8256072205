/* idt.c: the Interrupt Descriptor Table and the C side of trap entry. */
#include "arch/x86/gdt.h"
#include "arch/x86/percpu.h"
#include "arch/x86/trap.h"
#include "kernel/panic.h"

struct idt_gate {
	uint16_t offset_low;
	uint16_t selector;
	uint8_t ist;             /* enum ist_slot */
	uint8_t type_attr;       /* 0x8e: present, DPL0, 64-bit interrupt gate */
	uint16_t offset_mid;
	uint32_t offset_high;
	uint32_t reserved;
} __packed;

#define GATE_INTERRUPT 0x8e   /* clears IF on entry: handlers start with IRQs off */
#define TRAP_STUB_SIZE 16     /* see entry.S */

extern char trap_stubs[];
static struct idt_gate idt[256] __aligned(16);
static trap_handler_t handlers[256];

static void idt_set_gate(unsigned int vector, enum ist_slot ist)
{
	uint64_t addr = (uint64_t)trap_stubs + TRAP_STUB_SIZE * vector;

	idt[vector] = (struct idt_gate){
		.offset_low = addr & 0xffff,
		.selector = KERNEL_CS,
		.ist = ist,
		.type_attr = GATE_INTERRUPT,
		.offset_mid = (addr >> 16) & 0xffff,
		.offset_high = addr >> 32,
	};
}

void idt_init(void)
{
	for (unsigned int v = 0; v < 256; v++)
		idt_set_gate(v, IST_NONE);
	idt_set_gate(VEC_DOUBLE_FAULT, IST_DOUBLE_FAULT);
	idt_set_gate(VEC_NMI, IST_NMI);
	idt_set_gate(VEC_MACHINE_CHECK, IST_MACHINE_CHECK);
}

void idt_load_this_cpu(void)
{
	struct { uint16_t limit; uint64_t base; } __packed idtr = {
		sizeof(idt) - 1, (uint64_t)idt
	};
	__asm__ __volatile__("lidt %0" :: "m"(idtr));
}

void idt_set_handler(uint8_t vector, trap_handler_t handler)
{
	BUG_ON(vector < VEC_FIRST_EXTERNAL && vector != VEC_NMI);
	handlers[vector] = handler;
}

bool in_nmi(void)
{
	return this_cpu()->nmi_depth > 0;
}

/* Called from trap_common (entry.S) with IRQs off. */
void trap_dispatch(struct trap_frame *frame);
void trap_dispatch(struct trap_frame *frame)
{
	trap_handler_t h = handlers[frame->vector];

	if (frame->vector == VEC_NMI) {
		this_cpu()->nmi_depth++;
		if (h)
			h(frame);
		else
			exception_handle(frame);
		this_cpu()->nmi_depth--;
		return;
	}
	if (h) {
		h(frame);
		return;
	}
	if (frame->vector < VEC_FIRST_EXTERNAL) {
		exception_handle(frame);
		return;
	}
	panic("interrupt on vector %lu with no handler (RIP %p)",
	      frame->vector, (void *)frame->rip);
}
