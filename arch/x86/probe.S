/* probe.S: accesses that may fault, each with an __extable entry.
 *
 * Every probe returns 0 in RAX when the access worked.  If it faults, the
 * exception handler finds the instruction in __extable, records the fault
 * (extable_last_fault()) and resumes at the fixup, which returns -EFAULT.
 * Entries are two 32-bit offsets relative to themselves, as in Linux, so
 * the table needs no relocation.
 */
#define EFAULT 14

.macro extable_entry insn, fixup
	.pushsection __extable, "a"
	.balign 4
	.long \insn - .
	.long \fixup - .
	.popsection
.endm

	.text
/* int probe_read_u64(const void *addr, uint64_t *out) */
	.globl probe_read_u64
probe_read_u64:
1:	movq (%rdi), %rax
	movq %rax, (%rsi)
	xorl %eax, %eax
	ret
	extable_entry 1b, probe_failed

/* int probe_write_u64(void *addr, uint64_t value) */
	.globl probe_write_u64
probe_write_u64:
1:	movq %rsi, (%rdi)
	xorl %eax, %eax
	ret
	extable_entry 1b, probe_failed

/* int probe_exec(const void *addr): calls addr, which must hold a 'ret'.
 * A fetch fault happens at addr itself, not here, so the entry names the
 * return address the call pushed; arch/x86/extable.c charges an
 * instruction-fetch fault to the call that jumped there. */
	.globl probe_exec
probe_exec:
	call *%rdi
1:	xorl %eax, %eax
	ret
	extable_entry 1b, probe_failed

/* int probe_ud2(void) */
	.globl probe_ud2
probe_ud2:
1:	ud2
	extable_entry 1b, probe_failed

/* int probe_int3(void): int3 is a trap, so RIP points past it; extable.c
 * looks up RIP - 1 for #BP. */
	.globl probe_int3
probe_int3:
1:	int3
	xorl %eax, %eax
	ret
	extable_entry 1b, probe_failed

probe_failed:
	movq $-EFAULT, %rax
	ret
