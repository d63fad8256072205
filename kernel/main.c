/* main.c: kmain(), where the boot CPU arrives in 64-bit C.
 *
 * The order matters and each step says what it needs: per-CPU data first
 * (spinlocks and printk ask which CPU they run on), then the console, the
 * CPU's tables and features, the boot information, memory, and finally
 * the selftests, whose result is the machine's exit status. */
#include "arch/x86/acpi.h"
#include "arch/x86/cpu.h"
#include "arch/x86/i8259.h"
#include "arch/x86/percpu.h"
#include "arch/x86/smp.h"
#include "arch/x86/trap.h"
#include "arch/x86/uart.h"
#include "kernel/bootinfo.h"
#include "kernel/clock.h"
#include "kernel/cmdline.h"
#include "kernel/multiboot.h"
#include "kernel/nmi.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/selftest.h"
#include "kernel/shutdown.h"
#include "kernel/smp.h"
#include "kernel/string.h"
#include "kernel/trace.h"
#include "mm/fixmap.h"
#include "mm/mm.h"
#include "mm/shootdown.h"
#include "mm/vmalloc.h"
#include "scenarios/scenario.h"

/* The early page tables (boot/multiboot2.S) map physical 0..1 GiB here. */
#define EARLY_DIRECT_MAP      0xffff888000000000ULL
#define EARLY_DIRECT_MAP_SIZE (1 * GiB)

static char selftest_pattern[128] = "*";
KERNEL_PARAM_STRING(selftest, selftest_pattern,
		    "suites to run: a glob, comma-separated globs, or 'none'");

static void read_boot_information(uint32_t mbi_phys)
{
	/* A pointer outside the early window would fault on first read. */
	if (mbi_phys == 0 || mbi_phys >= EARLY_DIRECT_MAP_SIZE - 16 * KiB) {
		printk("boot: multiboot2 information at %#x is outside the first "
		       "GiB; booting without it\n", mbi_phys);
		return;
	}
	if (multiboot_parse((const void *)(EARLY_DIRECT_MAP + mbi_phys), mbi_phys,
			    &boot_info) < 0)
		printk("boot: multiboot2 information unusable; booting without it\n");
	boot_info_print(&boot_info);
	if (cmdline_apply_boot(boot_info.cmdline)) {
		printk("cmdline: the known options are:\n");
		cmdline_print_options();
	}
}

static __noreturn void run_selftests_and_exit(void)
{
	int failed;

	scenario_run_requested();    /* scenario=NAME: that instead */
	if (strcmp(selftest_pattern, "none") == 0) {
		printk("selftest: none selected; halting\n");
		machine_exit(MACHINE_EXIT_SUCCESS);
	}
	failed = selftest_run_matching(selftest_pattern);
	nmi_print_deferred();        /* errors recorded in NMI context */
	shootdown_print_summary();   /* what the run cost, every CPU */
	smp_print_summary();
	vm_print_summary();
	machine_exit(failed == 0 ? MACHINE_EXIT_SUCCESS : MACHINE_EXIT_FAILURE);
}

void kmain(uint32_t magic, uint32_t mbi_phys);
void kmain(uint32_t magic, uint32_t mbi_phys)
{
	(void)magic;   /* checked in boot/multiboot2.S before we got here */
	percpu_init_this_cpu(0);
	uart_init();
	printk("\nshootdown: a teaching kernel about page-table lifecycles on SMP\n");

	gdt_init_this_cpu(&this_cpu()->tables);
	idt_init();
	idt_load_this_cpu();
	i8259_disable();   /* before any sti: the firmware left IRQ 0 on
			      vector 8, which would look like a #DF */
	cpu_features_init();
	cpu_enable_features();
	cpu_features_print();

	read_boot_information(mbi_phys);
	mm_init();
	fixmap_init();
	vmalloc_init();
	acpi_init(&boot_info);   /* after vmalloc_init: tables outside the
				    direct map are read through ioremap */
	clock_init();
	smp_boot();              /* after mm_init (stacks, LAPIC mapping) and
				    clock_init (INIT-SIPI-SIPI delays) */
	/* From here on the boot CPU takes interrupts too: cross-CPU calls
	 * reach it by IPI, not only when it polls. */
	arch_irq_enable();
	trace_clock_check();     /* cross-CPU calls: after the sti above */

	run_selftests_and_exit();
}
