/* traps.c: what happens when the CPU raises an exception (vectors 0-31).
 *
 * In order: an access the code expected might fault (extable) resumes at
 * its fixup; otherwise the exception is reported in full (name, error
 * code, RIP and symbol, registers, and for #PF the page-table walk of the
 * faulting address) and then either the running selftest case is aborted
 * (so one bad test does not take the run down) or the kernel panics.
 */
#include "arch/x86/arch.h"
#include "arch/x86/asm.h"
#include "arch/x86/percpu.h"
#include "arch/x86/trap.h"
#include "kernel/extable.h"
#include "kernel/ksyms.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/selftest_internal.h"
#include "mm/kpt.h"

static const char *const exception_names[32] = {
	[0] = "#DE divide error",          [1] = "#DB debug",
	[2] = "NMI",                       [3] = "#BP breakpoint",
	[4] = "#OF overflow",              [5] = "#BR bound range",
	[6] = "#UD invalid opcode",        [7] = "#NM device not available",
	[8] = "#DF double fault",          [10] = "#TS invalid TSS",
	[11] = "#NP segment not present",  [12] = "#SS stack fault",
	[13] = "#GP general protection",   [14] = "#PF page fault",
	[16] = "#MF x87 error",            [17] = "#AC alignment check",
	[18] = "#MC machine check",        [19] = "#XM SIMD error",
	[20] = "#VE virtualization",       [21] = "#CP control protection",
};

const char *exception_name(uint64_t vector)
{
	if (vector < 32 && exception_names[vector])
		return exception_names[vector];
	return vector < 32 ? "reserved exception" : "interrupt";
}

static void print_symbol(const char *label, uint64_t addr)
{
	uint64_t offset;
	const char *name = ksym_lookup(addr, &offset);

	if (name)
		printk("%s%p <%s+0x%lx>\n", label, (void *)addr, name, offset);
	else
		printk("%s%p\n", label, (void *)addr);
}

/* Walk the page tables from CR3 down to the entry that maps @va, printing
 * every level.  Tables are read through the direct map with probe reads,
 * so a broken table prints "unreadable" instead of faulting again. */
static void print_page_walk(uint64_t va)
{
	static const char *const level_names[] = { "pgd", "pud", "pmd", "pte" };
	const uint64_t direct_map = 0xffff888000000000ULL;
	uint64_t table = read_cr3() & PHYS_ADDR_MASK;

	printk("  page walk for %p (CR3 %p):\n", (void *)va, (void *)table);
	for (int level = 0; level < 4; level++) {
		unsigned int shift = 39 - 9 * level;
		unsigned int index = (va >> shift) & 511;
		uint64_t entry;

		if (probe_read_u64((void *)(direct_map + table + 8 * index), &entry)) {
			printk("    %s[%3u] unreadable (table at %p)\n",
			       level_names[level], index, (void *)table);
			return;
		}
		printk("    %s[%3u] = %016lx %s%s%s%s\n", level_names[level], index,
		       entry, entry & 1 ? "P" : "not-present",
		       entry & 2 ? " W" : "", entry & (1ULL << 63) ? " NX" : "",
		       (level == 1 || level == 2) && (entry & 0x80) ? " huge" : "");
		if (!(entry & 1) || ((level == 1 || level == 2) && (entry & 0x80)))
			return;
		table = entry & PHYS_ADDR_MASK;
	}
}

static void print_exception_report(const struct trap_frame *f)
{
	printk("EXCEPTION: %s (vector %lu) on CPU %u, error code 0x%lx\n",
	       exception_name(f->vector), f->vector, this_cpu_id(), f->error_code);
	print_symbol("  RIP: ", f->rip);
	printk("  RSP: %p  RFLAGS: %016lx  CS: %lx SS: %lx\n",
	       (void *)f->rsp, f->rflags, f->cs, f->ss);
	printk("  RAX %016lx RBX %016lx RCX %016lx RDX %016lx\n", f->rax, f->rbx, f->rcx, f->rdx);
	printk("  RSI %016lx RDI %016lx RBP %016lx R8  %016lx\n", f->rsi, f->rdi, f->rbp, f->r8);
	printk("  R9  %016lx R10 %016lx R11 %016lx R12 %016lx\n", f->r9, f->r10, f->r11, f->r12);
	printk("  R13 %016lx R14 %016lx R15 %016lx\n", f->r13, f->r14, f->r15);
	if (f->vector == VEC_PAGE_FAULT) {
		uint64_t cr2 = read_cr2();
		printk("  CR2: %p (%s, %s%s%s)\n", (void *)cr2,
		       f->error_code & PF_ERR_PRESENT ? "protection violation" : "not present",
		       f->error_code & PF_ERR_INSTR ? "instruction fetch" :
		       f->error_code & PF_ERR_WRITE ? "write" : "read",
		       f->error_code & PF_ERR_USER ? ", user" : ", kernel",
		       f->error_code & PF_ERR_RSVD ? ", reserved bit set" : "");
		print_page_walk(cr2);
	}
}

/* A kernel #PF that the page tables in memory would not raise: a stale
 * cached entry, now dropped by the fault itself (mm/kpt.h). */
static bool page_fault_is_spurious(const struct trap_frame *f, uint64_t cr2)
{
	enum kpt_access access = f->error_code & PF_ERR_INSTR ? KPT_ACCESS_EXEC :
				 f->error_code & PF_ERR_WRITE ? KPT_ACCESS_WRITE :
								KPT_ACCESS_READ;

	return f->vector == VEC_PAGE_FAULT && !(f->error_code & PF_ERR_USER) &&
	       !(f->error_code & PF_ERR_RSVD) && kpt_fault_is_spurious(cr2, access);
}

bool spurious_pf_repeated(struct spurious_pf *s, uint64_t cr2, uint64_t rip)
{
	if (s->cr2 != cr2 || s->rip != rip || s->repeats == 0) {
		*s = (struct spurious_pf){ cr2, rip, 1 };
		return false;
	}
	return ++s->repeats >= SPURIOUS_PF_REPEAT_LIMIT;
}

void exception_handle(struct trap_frame *f)
{
	struct percpu *cpu = this_cpu();
	uint64_t cr2 = f->vector == VEC_PAGE_FAULT ? read_cr2() : 0;
	uint64_t resume;

	if (page_fault_is_spurious(f, cr2)) {
		if (spurious_pf_repeated(&cpu->spurious_pf, cr2, f->rip))
			panic("#PF at CR2 %p, RIP %p: spurious %u times in a row "
			      "(the page tables allow the access, the CPU keeps "
			      "faulting)", (void *)cr2, (void *)f->rip,
			      SPURIOUS_PF_REPEAT_LIMIT);
		return;   /* retry the access */
	}
	resume = extable_fixup(f, cr2);

	if (resume) {
		f->rip = resume;
		return;
	}
	/* An exception while reporting an exception: say so once and stop,
	 * rather than recursing until the stack is gone. */
	if (++cpu->exception_depth > 1) {
		printk("EXCEPTION: %s at %p while handling an exception\n",
		       exception_name(f->vector), (void *)f->rip);
		panic("nested exception");
	}
	print_exception_report(f);
	cpu->exception_depth = 0;
	if (f->vector != VEC_DOUBLE_FAULT && f->vector != VEC_MACHINE_CHECK &&
	    selftest_abort_running_case(f->vector))
		return;   /* not reached: the abort jumps back into the runner */
	panic("unexpected %s in kernel code at %p", exception_name(f->vector),
	      (void *)f->rip);
}
