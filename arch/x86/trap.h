#ifndef ARCH_X86_TRAP_H
#define ARCH_X86_TRAP_H
#include "kernel/types.h"

/* The stack frame trap_common builds, lowest address first. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;    /* pushed by the CPU */
};

enum {
	VEC_DIVIDE = 0, VEC_DEBUG = 1, VEC_NMI = 2, VEC_BREAKPOINT = 3,
	VEC_INVALID_OPCODE = 6, VEC_DOUBLE_FAULT = 8, VEC_GENERAL_PROTECTION = 13,
	VEC_PAGE_FAULT = 14, VEC_MACHINE_CHECK = 18,
	VEC_FIRST_EXTERNAL = 32,
};

/* #PF error code bits (SDM Vol. 3A, "Interrupt 14"). */
#define PF_ERR_PRESENT (1U << 0)   /* protection violation, not a missing page */
#define PF_ERR_WRITE   (1U << 1)
#define PF_ERR_USER    (1U << 2)
#define PF_ERR_RSVD    (1U << 3)   /* a reserved bit was set in an entry */
#define PF_ERR_INSTR   (1U << 4)   /* instruction fetch */

typedef void (*trap_handler_t)(struct trap_frame *frame);

/* => boot CPU, once, IRQs off: builds the IDT; every CPU then loads it. */
void idt_init(void);
void idt_load_this_cpu(void);
/* Route vector @vector (>= 32) to @handler; the handler sends its own EOI. */
void idt_set_handler(uint8_t vector, trap_handler_t handler);
/* Called by idt.c for vectors 0..31: fixup, selftest abort, or panic. */
void exception_handle(struct trap_frame *frame);
const char *exception_name(uint64_t vector);
/* The spurious-#PF retry's bound.  A spurious fault (a stale cached
 * entry; mm/kpt.h) is cured by the fault itself, which drops the entry,
 * so the retried access succeeds; the same (CR2, RIP) spurious again and
 * again means the tables and the CPU disagree for good, and retrying
 * would spin forever.  1000: another CPU changing the entry between two
 * retries accounts for a few repeats at most; a thousand retries of one
 * instruction still end in well under a second under TCG, where the
 * panic then names both addresses. */
#define SPURIOUS_PF_REPEAT_LIMIT 1000
struct spurious_pf {
	uint64_t cr2, rip;          /* the last spurious #PF on this CPU */
	unsigned int repeats;       /* how many in a row at that (CR2, RIP) */
};
/* Note a spurious #PF at (@cr2, @rip); true when it is the
 * SPURIOUS_PF_REPEAT_LIMIT-th in a row there. */
bool spurious_pf_repeated(struct spurious_pf *s, uint64_t cr2, uint64_t rip);

/* arch/x86/extable.c: the address to resume at if @f was expected, else 0. */
uint64_t extable_fixup(struct trap_frame *f, uint64_t cr2);
#endif
