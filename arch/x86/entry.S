/* entry.S: the first instructions of every interrupt and exception.
 *
 * The CPU pushes SS, RSP, RFLAGS, CS, RIP and, for some exceptions, an
 * error code.  Each of the 256 stubs below makes the frame uniform (a 0
 * error code where the CPU pushed none, then the vector number) and jumps
 * to trap_common, which saves the general registers and calls
 * trap_dispatch(struct trap_frame *) (arch/x86/idt.c).  The stubs are 16
 * bytes apart, so idt.c finds stub n at trap_stubs + 16 * n.
 */

	.text
	.altmacro
.macro trap_stub vector
	.balign 16
	/* Exceptions that push an error code: #DF #TS #NP #SS #GP #PF #AC
	 * #CP #VC #SX (SDM Vol. 3A, Table 6-1). */
	.if (\vector == 8) || (\vector >= 10 && \vector <= 14) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30)
	.else
	pushq $0
	.endif
	pushq $\vector
	jmp trap_common
.endm

	.balign 16
	.globl trap_stubs
trap_stubs:
	.set vec, 0
	.rept 256
	trap_stub %vec
	.set vec, vec + 1
	.endr

trap_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	cld
	call trap_dispatch
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp               /* vector and error code */
	iretq
