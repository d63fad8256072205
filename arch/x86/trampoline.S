/* trampoline.S: an application processor's way from real mode to
 * ap_start() in 64-bit C.
 *
 * A STARTUP IPI starts the AP in 16-bit real mode at CS:IP = 0x0800:0,
 * physical TRAMPOLINE_PA, with paging off (SDM Vol. 3A, 8.4.4).  The code
 * between trampoline_start and trampoline_end is copied there by
 * smpboot.c (it is assembled for that address: TRAMP() below), together
 * with the hand-off block, which smpboot.c fills in for each AP.  Then:
 *
 *   16-bit real mode   load the trampoline's GDT, turn the caches on
 *                      (INIT leaves CR0.CD and NW set), set CR0.PE
 *   32-bit protected   CR4.PAE, CR3 = the trampoline pgd (below 4 GiB,
 *                      as a 32-bit CR3 write requires), EFER.LME (and
 *                      NXE: the kernel's tables use NX, a reserved bit
 *                      without it), CR0.PG: long mode, compatibility
 *   64-bit, low        jump to the higher half (ap_entry64, in .text)
 *   64-bit, high       load this AP's stack and the kernel's own CR3
 *                      (the identity map of low memory goes), call
 *                      ap_start(cpu)
 *
 * Everything else (GDT, TSS, IDT, GS, CR0.WP, CR4's features, PAT) is
 * set in C by the same functions the boot CPU used.
 */
#include "arch/x86/smp.h"

#define CR0_PE      (1 << 0)
#define CR0_NW      (1 << 29)     /* not write-through */
#define CR0_CD      (1 << 30)     /* cache disable */
#define CR0_PG      (1 << 31)
#define CR4_PAE     (1 << 5)
#define MSR_EFER    0xc0000080

#define TRAMP_CS32  0x08
#define TRAMP_DS    0x10
#define TRAMP_CS64  0x18

/* Where label @x is once the trampoline is copied to low memory. */
#define TRAMP(x)    (TRAMPOLINE_PA + (x) - trampoline_start)

	/* Copied, never run in place: it lives with the read-only data. */
	.section .rodata.trampoline, "a"
	.balign 16
	.globl trampoline_start, trampoline_end, trampoline_handoff

	.code16
trampoline_start:
	cli
	cld
	movw %cs, %ax                /* 0x0800: data is CS-relative */
	movw %ax, %ds
	lgdtl trampoline_gdt_ptr - trampoline_start
	movl %cr0, %eax
	andl $~(CR0_CD | CR0_NW), %eax   /* INIT leaves the caches off */
	orl $CR0_PE, %eax
	movl %eax, %cr0
	ljmpl $TRAMP_CS32, $TRAMP(protected_mode)

	.code32
protected_mode:
	movw $TRAMP_DS, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $TRAMPOLINE_PGD_PA, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl TRAMP(trampoline_handoff + HANDOFF_EFER), %eax
	wrmsr
	movl %cr0, %eax
	orl $CR0_PG, %eax
	movl %eax, %cr0              /* long mode, compatibility submode */
	ljmpl $TRAMP_CS64, $TRAMP(long_mode)

	.code64
long_mode:
	movabsq $ap_entry64, %rax
	jmp *%rax

	/* null, 32-bit code, data, 64-bit code: flat, ring 0. */
	.balign 8
trampoline_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff
	.quad 0x00cf92000000ffff
	.quad 0x00af9a000000ffff
trampoline_gdt_ptr:
	.word trampoline_gdt_ptr - trampoline_gdt - 1
	.long TRAMP(trampoline_gdt)

	.balign 8
trampoline_handoff:                  /* struct ap_handoff */
	.quad 0                      /* HANDOFF_CR3 */
	.quad 0                      /* HANDOFF_STACK */
	.quad 0                      /* HANDOFF_CPU */
	.long 0                      /* HANDOFF_EFER */
	.long 0
trampoline_end:

/* Still on the trampoline's tables, which map both low memory and the
 * kernel half: read the hand-off block, then switch to the kernel's
 * tables and stack.  IRQs stay off; the GDTR still points at low memory,
 * so no segment register is loaded until gdt_init_this_cpu(). */
	.text
	.code64
ap_entry64:
	movq TRAMP(trampoline_handoff + HANDOFF_STACK), %rsp
	movq TRAMP(trampoline_handoff + HANDOFF_CPU), %rdi
	movq TRAMP(trampoline_handoff + HANDOFF_CR3), %rax
	movq %rax, %cr3
	xorl %ebp, %ebp              /* ends backtraces */
	call ap_start                /* rsp is 16-byte aligned here */
1:	cli
	hlt
	jmp 1b
