/* setjmp.S: save and restore a kernel execution context.
 *
 * The selftest runner saves its context before each case; when the case
 * takes an unexpected exception, the exception handler jumps back to it,
 * abandoning the case's stack frames.  Only callee-saved registers, the
 * stack pointer, the return address and RFLAGS (for the interrupt flag)
 * need saving: the jump looks like a second return from arch_setjmp.
 *
 * struct jmp_context layout: rbx rbp r12 r13 r14 r15 rsp rip rflags.
 */
	.text
/* int arch_setjmp(struct jmp_context *ctx): 0 now, the value given to
 * arch_longjmp when it comes back. */
	.globl arch_setjmp
arch_setjmp:
	movq %rbx, 0(%rdi)
	movq %rbp, 8(%rdi)
	movq %r12, 16(%rdi)
	movq %r13, 24(%rdi)
	movq %r14, 32(%rdi)
	movq %r15, 40(%rdi)
	leaq 8(%rsp), %rax           /* the caller's RSP after we return */
	movq %rax, 48(%rdi)
	movq (%rsp), %rax            /* our return address */
	movq %rax, 56(%rdi)
	pushfq
	popq 64(%rdi)
	xorl %eax, %eax
	ret

/* void arch_longjmp(struct jmp_context *ctx, int value) */
	.globl arch_longjmp
arch_longjmp:
	movq 0(%rdi), %rbx
	movq 8(%rdi), %rbp
	movq 16(%rdi), %r12
	movq 24(%rdi), %r13
	movq 32(%rdi), %r14
	movq 40(%rdi), %r15
	movq 48(%rdi), %rsp
	pushq 64(%rdi)
	popfq                        /* restores IF as it was at setjmp */
	movl %esi, %eax
	jmp *56(%rdi)
