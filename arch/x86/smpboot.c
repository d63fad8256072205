/* smpboot.c: starting the application processors (APs).
 *
 * The boot CPU, once per AP in MADT order:
 *   1. maps a 16 KiB stack for it in the cpu area, above a guard page;
 *   2. fills in the trampoline's hand-off block: the kernel's CR3, that
 *      stack, the CPU number, the EFER bits;
 *   3. sends INIT, waits 10 ms, then STARTUP twice, 200 us apart (the
 *      SDM's "INIT-SIPI-SIPI", Vol. 3A 8.4.4.1; the second STARTUP is
 *      ignored by a CPU that already started);
 *   4. waits up to AP_START_TIMEOUT_NS for the AP to come online.  An AP
 *      that does not is sent INIT again, which parks it (a reset CPU
 *      waits for a STARTUP), so it cannot wake up later on a stack or
 *      hand-off block meant for the next one; it is reported and left
 *      out, and the next AP gets its CPU number.
 * One AP at a time: they share the trampoline and its hand-off block.
 *
 * The AP (trampoline.S, then ap_start()) sets up exactly what the boot
 * CPU set up in kmain(), with the same functions, and goes online.
 */
#include "arch/x86/acpi.h"
#include "arch/x86/asm.h"
#include "arch/x86/cpu.h"
#include "arch/x86/gdt.h"
#include "arch/x86/lapic.h"
#include "arch/x86/percpu.h"
#include "arch/x86/smp.h"
#include "arch/x86/trap.h"
#include "kernel/bootinfo.h"
#include "kernel/clock.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/string.h"
#include "mm/frame.h"
#include "mm/kpt.h"
#include "mm/layout.h"
#include "mm/pte.h"

_Static_assert(PAGE_SIZE + AP_STACK_SIZE < CPU_STACK_SLOT,
	       "a stack slot holds a guard page, the stack and a gap");
_Static_assert(CPU_STACKS_START + MAX_CPUS * CPU_STACK_SLOT <= CPU_AREA_END,
	       "every CPU's stack slot fits in the cpu area");

extern const char trampoline_start[], trampoline_end[], trampoline_handoff[];

#define EFER_LME          (1U << 8)
#define INIT_DELAY_US     10000   /* SDM: 10 ms between INIT and STARTUP */
#define STARTUP_DELAY_US  200     /* SDM: 200 us after each STARTUP */
/* An AP comes online 0.5 ms to 5 ms after its first STARTUP under TCG
 * (10.5-15.6 ms after the INIT, -smp 4, 2026-11-23); two seconds is a
 * safety net that still leaves a hung AP obvious. */
#define AP_START_TIMEOUT_NS (2 * NSEC_PER_SEC)

/* The boot CPU's control registers, as the APs must have them.  They
 * hold what cpu_enable_features() set, and also what the firmware added
 * (OVMF leaves CR0.NE and MP and CR4's SSE bits on; SeaBIOS does not), so
 * an AP runs cpu_enable_features() and then takes these values whole.
 * Written by smp_boot() before the first STARTUP; read-only after. */
static struct { uint64_t cr0, cr4, efer; } boot_cpu_control;

/* Top of each AP's stack once mapped; 0 before.  A slot whose AP did not
 * start keeps its stack for the next AP, which takes that number. */
static virt_addr_t ap_stack_top[MAX_CPUS];

/* See arch_nr_present_cpus(); set once by smp_boot(). */
static unsigned int cpus_present = 1;

unsigned int arch_nr_present_cpus(void)
{
	return cpus_present;
}

void arch_wait_for_interrupt(void)
{
	__asm__ __volatile__("sti; hlt" ::: "memory");
}

/* ---- the AP's side ---- */

/* => the AP, from trampoline.S: IRQs off, on its own stack and the
 *    kernel's page tables, nothing else set up. */
void ap_start(unsigned int cpu)
{
	percpu_init_this_cpu(cpu);          /* first: everything uses GS */
	gdt_init_this_cpu(&this_cpu()->tables);
	idt_load_this_cpu();
	cpu_enable_features();
	write_cr0(boot_cpu_control.cr0);
	write_cr4(boot_cpu_control.cr4);
	wrmsr(MSR_EFER, boot_cpu_control.efer);
	lapic_init_this_cpu();
	if (lapic_id() != this_cpu()->apic_id)
		panic("smp: CPU %u started as APIC %u, but APIC %u was sent the "
		      "STARTUP", cpu, lapic_id(), this_cpu()->apic_id);
	smp_ap_online();
}

/* ---- the boot CPU's side ---- */

/* The trampoline and its tables must be RAM the memory map calls
 * available (mm_init() keeps the first MiB out of the allocator). */
static bool trampoline_memory_is_free(void)
{
	for (size_t i = 0; i < boot_info.nr_mem; i++) {
		const struct mem_region *r = &boot_info.mem[i];

		if (r->type == MEM_AVAILABLE && r->base <= TRAMPOLINE_PA &&
		    r->base + r->size >= TRAMPOLINE_END_PA)
			return true;
	}
	printk("smp: [%#x, %#x) is not free RAM in the memory map; no room "
	       "for the AP trampoline\n", TRAMPOLINE_PA, TRAMPOLINE_END_PA);
	return false;
}

/* The trampoline's page tables: an identity map of [0, 2 MiB), for the
 * instructions that turn paging on, plus the kernel half as it is now
 * (refreshed before each AP, so that mappings made since are in it). */
static void trampoline_build_tables(void)
{
	pgd_t *pgd = phys_to_virt(TRAMPOLINE_PGD_PA);
	pud_t *pud = phys_to_virt(TRAMPOLINE_PUD_PA);
	pmd_t *pmd = phys_to_virt(TRAMPOLINE_PMD_PA);
	const pgd_t *kernel_pgd = phys_to_virt(arch_read_pgd_root());

	memset(pgd, 0, PAGE_SIZE);
	memset(pud, 0, PAGE_SIZE);
	memset(pmd, 0, PAGE_SIZE);
	pmd[0] = 0 | PTE_PS | PTE_RW | PTE_P;      /* executable: no NX */
	pud[0] = TRAMPOLINE_PMD_PA | PTE_RW | PTE_P;
	pgd[0] = TRAMPOLINE_PUD_PA | PTE_RW | PTE_P;
	for (int i = 256; i < 512; i++)
		pgd[i] = kernel_pgd[i];
}

static int ap_stack_map(unsigned int cpu)
{
	virt_addr_t va = CPU_STACKS_START + cpu * CPU_STACK_SLOT + PAGE_SIZE;
	struct frame *f = frame_alloc(AP_STACK_ORDER, FRAME_KERNEL);
	int err;

	if (!f) {
		printk("smp: no memory for CPU %u's stack\n", cpu);
		return -ENOMEM;
	}
	err = kpt_map(&(struct kpt_mapping){
		.va = va, .pa = frame_pa(f), .size = AP_STACK_SIZE,
		.prot = PT_PROT_RW, .cache = PT_CACHE_WB, .max_page = PT_PAGE_4K,
	}, KPT_MAP_NEW, NULL);
	if (err) {
		frame_free(f, FRAME_KERNEL);
		return err;
	}
	/* Written whole once, before the AP runs on it.  Free RAM can hold
	 * code that the firmware or the loader ran (UEFI's boot-services
	 * code becomes free RAM at ExitBootServices).  QEMU's TCG keeps
	 * its translations of that code after it has stopped running, and
	 * sends every store to a page that still holds one through its
	 * self-modifying-code check.  A stack that is only ever written
	 * in part keeps the untouched translations for good: OVMF at
	 * -smp 8 (single-threaded TCG) ran whole suites 10 to 20 times
	 * slower on such stacks (docs/testing.md).  Overwriting the pages
	 * drops every translation in them. */
	memset((void *)va, 0, AP_STACK_SIZE);
	ap_stack_top[cpu] = va + AP_STACK_SIZE;
	return 0;
}

const uint8_t *smp_ap_stack_bottom(unsigned int cpu)
{
	if (cpu == 0 || cpu >= MAX_CPUS || !ap_stack_top[cpu])
		return NULL;
	return (const uint8_t *)(ap_stack_top[cpu] - AP_STACK_SIZE);
}

/* Steps 1-4 of the top comment for the AP with @apic_id, to become
 * CPU @cpu.  0 once it is online. */
static int smp_start_ap(unsigned int cpu, uint32_t apic_id)
{
	struct ap_handoff *handoff = phys_to_virt(TRAMPOLINE_PA +
		(phys_addr_t)(trampoline_handoff - trampoline_start));
	uint64_t start;
	int err;

	if (!ap_stack_top[cpu] && (err = ap_stack_map(cpu)) < 0)
		return err;
	trampoline_build_tables();
	percpu_areas[cpu].apic_id = apic_id;       /* ap_start() checks it */
	*handoff = (struct ap_handoff){
		.cr3 = arch_read_pgd_root(),
		.stack_top = ap_stack_top[cpu],
		.cpu = cpu,
		.efer = EFER_LME | (cpu_features.nx ? (uint32_t)EFER_NXE : 0),
	};

	start = clock_ns();
	lapic_send_init(apic_id);
	clock_delay_us(INIT_DELAY_US);
	for (int i = 0; i < 2; i++) {
		lapic_send_startup(apic_id, TRAMPOLINE_PA);
		clock_delay_us(STARTUP_DELAY_US);
	}
	while (!smp_cpu_online(cpu)) {
		if (clock_ns() - start > AP_START_TIMEOUT_NS) {
			lapic_send_init(apic_id);          /* park it for good */
			printk("smp: APIC %u did not start within %llu ms; left out\n",
			       apic_id, (unsigned long long)(AP_START_TIMEOUT_NS / NSEC_PER_MSEC));
			return -ETIMEDOUT;
		}
		cpu_relax();
	}
	printk("smp: CPU %u is APIC %u, online after %llu us\n", cpu, apic_id,
	       (unsigned long long)((clock_ns() - start) / NSEC_PER_USEC));
	return 0;
}

void smp_boot(void)
{
	unsigned int next_cpu = 1, failed = 0;
	uint32_t boot_apic;
	bool boot_cpu_listed = false;

	/* The local APIC is set up even without a MADT: it is the CPU's own
	 * (IA32_APIC_BASE says where), and lapic_id() and the IPIs need it
	 * whatever the number of CPUs. */
	if (lapic_init_boot(acpi_madt.lapic_pa) < 0) {
		printk("smp: no usable local APIC; running on the boot CPU alone\n");
		return;
	}
	boot_apic = lapic_id();
	this_cpu()->apic_id = boot_apic;
	smp_stop_init();
	lapic_timer_calibrate();
	printk("smp: CPU 0 is APIC %u (the boot CPU)\n", boot_apic);
	if (acpi_madt.nr_cpus == 0) {
		printk("smp: no ACPI MADT lists the other CPUs; running on the "
		       "boot CPU alone\n");
		return;
	}
	if (!trampoline_memory_is_free()) {
		printk("smp: running on the boot CPU alone\n");
		return;
	}
	BUG_ON(trampoline_end - trampoline_start > (long)PAGE_SIZE);
	memcpy(phys_to_virt(TRAMPOLINE_PA), trampoline_start,
	       (size_t)(trampoline_end - trampoline_start));
	boot_cpu_control.cr0 = read_cr0();
	boot_cpu_control.cr4 = read_cr4();
	boot_cpu_control.efer = rdmsr(MSR_EFER);

	for (unsigned int i = 0; i < acpi_madt.nr_cpus; i++) {
		uint32_t apic_id = acpi_madt.cpus[i].apic_id;

		if (apic_id == boot_apic) {
			boot_cpu_listed = true;
			continue;
		}
		if (next_cpu == MAX_CPUS)
			break;
		if (smp_start_ap(next_cpu, apic_id) == 0)
			next_cpu++;
		else
			failed++;
	}
	if (!boot_cpu_listed)
		printk("smp: the boot CPU's APIC %u is not in the MADT\n", boot_apic);
	printk("smp: %u CPUs online%s\n", smp_num_online(),
	       failed ? ", some did not start (see above)" : "");
	cpus_present = acpi_madt.nr_cpus + acpi_madt.cpus_dropped +
		       (boot_cpu_listed ? 0 : 1);
	if (cpus_present != smp_num_online())
		printk("smp: %u CPUs present, %u online: calls to every CPU go "
		       "as one IPI per online CPU, never the broadcast shorthand, "
		       "which would reach the others too\n",
		       cpus_present, smp_num_online());
}
