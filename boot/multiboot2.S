/* boot/multiboot2.S: from GRUB's 32-bit hand-off to kmain() in 64-bit mode.
 *
 * GRUB (BIOS or UEFI alike) enters _start in 32-bit protected mode with
 * paging off, EAX = the multiboot2 magic and EBX = the physical address of
 * the multiboot2 information.  This file:
 *   1. checks the magic and that the CPU has long mode, else writes a
 *      message straight to COM1 and halts;
 *   2. builds early page tables that map physical 0..1 GiB three times
 *      with 2 MiB pages: identity (to survive turning paging on), the
 *      direct-map window at 0xffff888000000000, and the kernel image at
 *      0xffffffff80000000;
 *   3. turns on PAE, long mode (EFER.LME) and paging, loads a 64-bit GDT
 *      and jumps into 64-bit code, then into the higher half;
 *   4. zeroes .bss, sets up the boot stack and calls kmain(magic, mbi).
 * mm_init() later replaces these tables with the real kernel page tables.
 */

#define MB2_HEADER_MAGIC   0xe85250d6
#define MB2_BOOT_MAGIC     0x36d76289
#define MB2_ARCH_I386      0
#define MB2_TAG_END        0
#define MB2_TAG_INFO_REQ   1
#define MB2_TAG_OPTIONAL   1

#define KERNEL_VIRT_BASE   0xffffffff80000000

#define CR0_PG      (1 << 31)
#define CR0_PE      (1 << 0)
#define CR4_PAE     (1 << 5)
#define MSR_EFER    0xc0000080
#define EFER_LME    (1 << 8)
#define PTE_P_W     0x003          /* present, writable */
#define PTE_P_W_PS  0x083          /* present, writable, 2 MiB page */
#define COM1        0x3f8

/* ------------------------------------------------------------------ */
	.section .multiboot2, "a"
	.balign 8
mb2_header:
	.long MB2_HEADER_MAGIC
	.long MB2_ARCH_I386
	.long mb2_header_end - mb2_header
	.long -(MB2_HEADER_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))

	/* Information request: marked optional, so a loader that cannot
	 * provide one of these still boots us (we check what we got). */
	.balign 8
mb2_info_request:
	.short MB2_TAG_INFO_REQ
	.short MB2_TAG_OPTIONAL
	.long mb2_info_request_end - mb2_info_request
	.long 1            /* boot command line */
	.long 6            /* memory map */
	.long 8            /* framebuffer info */
	.long 14           /* ACPI 1.0 RSDP */
	.long 15           /* ACPI 2.0+ RSDP */
mb2_info_request_end:

	.balign 8
	.short MB2_TAG_END
	.short 0
	.long 8
mb2_header_end:

/* ------------------------------------------------------------------ */
	.section .boot.text, "ax"
	.code32
	.globl _start
_start:
	cli
	cld
	movl $boot_stack32_top, %esp
	movl %eax, boot_magic        /* keep magic and MBI for kmain */
	movl %ebx, boot_mbi

	cmpl $MB2_BOOT_MAGIC, %eax
	jne .Lnot_multiboot2

	/* CPUID exists if EFLAGS.ID (bit 21) can be toggled. */
	pushfl
	popl %eax
	movl %eax, %ecx
	xorl $(1 << 21), %eax
	pushl %eax
	popfl
	pushfl
	popl %eax
	pushl %ecx
	popfl
	cmpl %eax, %ecx
	je .Lno_long_mode

	movl $0x80000000, %eax       /* extended leaves present? */
	cpuid
	cmpl $0x80000001, %eax
	jb .Lno_long_mode
	movl $0x80000001, %eax
	cpuid
	testl $(1 << 29), %edx       /* LM: long mode */
	jz .Lno_long_mode

	call build_early_page_tables

	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $early_pgd, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG | CR0_PE), %eax
	movl %eax, %cr0              /* now in compatibility mode */

	lgdt early_gdt_ptr
	ljmp $0x08, $long_mode_low

.Lnot_multiboot2:
	movl $msg_not_multiboot2, %esi
	jmp .Lfail
.Lno_long_mode:
	movl $msg_no_long_mode, %esi
.Lfail:
	call early_serial_puts
1:	hlt
	jmp 1b

/* Map physical 0..1 GiB with 2 MiB pages at three places (see the top).
 * One page directory (early_pd) serves all three; two PDPTs point at it. */
build_early_page_tables:
	movl $early_pd, %edi
	movl $PTE_P_W_PS, %eax       /* entry i maps i * 2 MiB */
	movl $512, %ecx
1:	movl %eax, (%edi)
	movl $0, 4(%edi)
	addl $0x200000, %eax
	addl $8, %edi
	loop 1b

	movl $(early_pd + PTE_P_W), early_pud_low          /* [0]: 0..1 GiB */
	movl $(early_pd + PTE_P_W), early_pud_high + 510 * 8  /* -2 GiB */
	movl $(early_pud_low + PTE_P_W), early_pgd          /* identity */
	movl $(early_pud_low + PTE_P_W), early_pgd + 273 * 8  /* 0xffff888000000000 */
	movl $(early_pud_high + PTE_P_W), early_pgd + 511 * 8 /* 0xffffff8000000000 */
	ret

/* Write the NUL-terminated string at %esi to COM1, polling the
 * transmitter-empty bit (LSR bit 5).  Used only when we cannot boot. */
early_serial_puts:
	movw $(COM1 + 3), %dx        /* LCR: 8 data bits, no parity, 1 stop */
	movb $0x03, %al
	outb %al, %dx
1:	lodsb
	testb %al, %al
	jz 3f
	movb %al, %ah
	movw $(COM1 + 5), %dx
2:	inb %dx, %al
	testb $0x20, %al
	jz 2b
	movw $COM1, %dx
	movb %ah, %al
	outb %al, %dx
	jmp 1b
3:	ret

	.code64
long_mode_low:
	movabsq $long_mode_high, %rax
	jmp *%rax

/* ------------------------------------------------------------------ */
	.section .boot.data, "aw"
	.balign 8
early_gdt:
	.quad 0                          /* null */
	.quad 0x00af9a000000ffff         /* 0x08: 64-bit code, ring 0 */
	.quad 0x00cf92000000ffff         /* 0x10: data, ring 0 */
early_gdt_end:
early_gdt_ptr:
	.short early_gdt_end - early_gdt - 1
	.long early_gdt

	.globl boot_magic, boot_mbi
boot_magic: .long 0
boot_mbi:   .long 0

msg_not_multiboot2:
	.asciz "shootdown: not started by a multiboot2 loader (EAX has the wrong magic); halting.\r\n"
msg_no_long_mode:
	.asciz "shootdown: this CPU has no long mode (64-bit); halting.\r\n"

	.section .boot.bss, "aw", @nobits
	.balign 4096
	.globl early_pgd
early_pgd:      .skip 4096
early_pud_low:  .skip 4096
early_pud_high: .skip 4096
early_pd:       .skip 4096
	.skip 1024
boot_stack32_top:

/* ------------------------------------------------------------------ */
	.section .text.entry, "ax"
	.code64
long_mode_high:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorw %ax, %ax
	movw %ax, %fs
	movw %ax, %gs

	/* GRUB zero-fills .bss, but we do not rely on a loader for that. */
	movabsq $__bss_start, %rdi
	movabsq $__bss_end, %rcx
	subq %rdi, %rcx
	xorl %eax, %eax
	rep stosb

	movabsq $boot_stack_top, %rsp
	xorl %ebp, %ebp              /* ends backtraces */
	movl boot_magic, %edi
	movl boot_mbi, %esi
	call kmain
1:	cli
	hlt
	jmp 1b

	.section .bss
	.balign 16
	.globl boot_stack_bottom, boot_stack_top
boot_stack_bottom:
	.skip 16384
boot_stack_top:
