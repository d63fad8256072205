/* lapic.c: the local APIC (see arch/x86/lapic.h): registers, interrupt
 * vectors, IPIs, and the timer's calibration.
 *
 * Every register is reached through lapic_read()/lapic_write(), which
 * pick MMIO or MSR by lapic_mode, so the rest of the file reads the same
 * in both modes.  The differences that remain are in the ICR (one 64-bit
 * MSR in x2APIC mode, two 32-bit registers in xAPIC mode) and the ID
 * register (bits 31..24 in xAPIC mode, all 32 bits in x2APIC mode).
 */
#include "arch/x86/arch.h"
#include "arch/x86/asm.h"
#include "arch/x86/lapic.h"
#include "arch/x86/percpu.h"
#include "arch/x86/pit.h"
#include "arch/x86/trap.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "mm/kpt.h"
#include "mm/layout.h"

/* Registers: xAPIC MMIO offset; the x2APIC MSR is 0x800 + offset / 16
 * (SDM Vol. 3A, Tables 11-1 and 11-6). */
#define LAPIC_ID             0x020
#define LAPIC_VERSION        0x030   /* bits 23..16: number of LVT entries - 1 */
#define LAPIC_TPR            0x080   /* task priority: 0 accepts every vector */
#define LAPIC_EOI            0x0b0   /* write 0: end of interrupt */
#define LAPIC_SVR            0x0f0   /* spurious-interrupt vector register */
#define   SVR_APIC_ENABLE      (1U << 8)
#define LAPIC_ESR            0x280   /* error status: write, then read */
#define LAPIC_ICR_LOW        0x300   /* interrupt command: writing it sends */
#define   ICR_FIXED            (0U << 8)
#define   ICR_NMI              (4U << 8)
#define   ICR_INIT             (5U << 8)
#define   ICR_STARTUP          (6U << 8)
#define   ICR_SEND_PENDING     (1U << 12)  /* xAPIC: previous IPI not sent yet */
#define   ICR_LEVEL_ASSERT     (1U << 14)
#define   ICR_TRIGGER_LEVEL    (1U << 15)
#define   ICR_ALL_BUT_SELF     (3U << 18)  /* destination shorthand */
#define LAPIC_ICR_HIGH       0x310   /* xAPIC: destination in bits 31..24 */
#define LAPIC_LVT_TIMER      0x320
#define LAPIC_LVT_LINT0      0x350
#define LAPIC_LVT_LINT1      0x360
#define LAPIC_LVT_ERROR      0x370
#define   LVT_NMI              (4U << 8)
#define   LVT_MASKED           (1U << 16)
#define LAPIC_TIMER_INITIAL  0x380   /* writing it starts the countdown */
#define LAPIC_TIMER_CURRENT  0x390
#define LAPIC_TIMER_DIVIDE   0x3e0
#define   TIMER_DIVIDE_BY_16   0x3

#define MSR_APIC_BASE        0x1b
#define   APIC_BASE_BSP        (1ULL << 8)   /* read-only: the boot CPU */
#define   APIC_BASE_X2APIC     (1ULL << 10)  /* EXTD */
#define   APIC_BASE_ENABLE     (1ULL << 11)
#define MSR_X2APIC_FIRST     0x800
#define MSR_X2APIC_ICR       0x830

enum lapic_mode lapic_mode;
uint64_t lapic_timer_hz;
static volatile uint32_t *lapic_mmio;       /* xAPIC: at FIXMAP_LAPIC */
static uint64_t spurious_interrupts;        /* for gdb: all CPUs, racy */

static uint32_t lapic_read(uint32_t reg)
{
	if (lapic_mode == LAPIC_X2APIC)
		return (uint32_t)rdmsr(MSR_X2APIC_FIRST + reg / 16);
	return lapic_mmio[reg / 4];
}

static void lapic_write(uint32_t reg, uint32_t value)
{
	if (lapic_mode == LAPIC_X2APIC)
		wrmsr(MSR_X2APIC_FIRST + reg / 16, value);
	else
		lapic_mmio[reg / 4] = value;
}

/* Before lapic_init_boot() (or on a CPU without a local APIC) there are
 * no registers to read: the initial APIC id that CPUID leaf 1 reports in
 * EBX[31:24] is the same number for every xAPIC id a boot can have. */
uint32_t lapic_id(void)
{
	uint32_t id, a, b, c, d;

	if (lapic_mode == LAPIC_NONE) {
		cpuid_count(1, 0, &a, &b, &c, &d);
		return b >> 24;
	}
	id = lapic_read(LAPIC_ID);

	return lapic_mode == LAPIC_X2APIC ? id : id >> 24;
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

/* ---- interrupt handlers ---- */

static void call_function_interrupt(struct trap_frame *f)
{
	(void)f;
	/* EOI first: a call queued while we serve sends a new IPI, which
	 * then waits in the IRR and runs this again after the iret. */
	lapic_eoi();
	smp_call_handle_ipi();
}

static void apic_error_interrupt(struct trap_frame *f)
{
	uint32_t esr;

	(void)f;
	lapic_write(LAPIC_ESR, 0);       /* latch the errors seen so far */
	esr = lapic_read(LAPIC_ESR);
	lapic_eoi();
	printk("lapic: CPU %u: APIC error, ESR %#x (bit 5/6: sent/received an "
	       "illegal vector, bit 7: illegal register)\n", this_cpu_id(), esr);
}

/* A spurious interrupt is not in service: it gets no EOI (SDM 11.9). */
static void spurious_interrupt(struct trap_frame *f)
{
	(void)f;
	__atomic_fetch_add(&spurious_interrupts, 1, __ATOMIC_RELAXED);
}

/* ---- bring-up ---- */

/* => boot CPU, once: kpt_map() takes kpt.lock. */
static int lapic_map_mmio(phys_addr_t pa)
{
	int err = kpt_map(&(struct kpt_mapping){
		.va = FIXMAP_LAPIC, .pa = pa, .size = PAGE_SIZE,
		.prot = PT_PROT_RW, .cache = PT_CACHE_UC, .max_page = PT_PAGE_4K,
	}, KPT_MAP_NEW, NULL);

	if (err) {
		printk("lapic: cannot map the registers at %#llx: error %d\n",
		       (unsigned long long)pa, err);
		return err;
	}
	lapic_mmio = (volatile uint32_t *)FIXMAP_LAPIC;
	return 0;
}

int lapic_init_boot(phys_addr_t madt_lapic_pa)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);
	phys_addr_t pa = base & PHYS_ADDR_MASK;
	int err;

	if (!cpu_features.apic) {
		printk("lapic: CPUID reports no local APIC\n");
		return -ENODEV;
	}
	/* Firmware may hand over in x2APIC mode; then we must stay in it. */
	if (cpu_features.x2apic || (base & APIC_BASE_X2APIC)) {
		lapic_mode = LAPIC_X2APIC;
	} else {
		/* The MSR is the CPU's own word; the MADT's copy may be
		 * missing (no ACPI) or stale. */
		if (madt_lapic_pa && madt_lapic_pa != pa)
			printk("lapic: the MADT says %#llx, the APIC_BASE MSR "
			       "%#llx; using the MSR's\n",
			       (unsigned long long)madt_lapic_pa, (unsigned long long)pa);
		else if (!madt_lapic_pa)
			printk("lapic: no MADT; registers at %#llx, from the "
			       "IA32_APIC_BASE MSR\n", (unsigned long long)pa);
		err = lapic_map_mmio(pa);
		if (err)
			return err;
		lapic_mode = LAPIC_XAPIC;
	}
	idt_set_handler(VEC_CALL_FUNCTION, call_function_interrupt);
	idt_set_handler(VEC_APIC_ERROR, apic_error_interrupt);
	idt_set_handler(VEC_SPURIOUS, spurious_interrupt);
	lapic_init_this_cpu();
	printk("lapic: %s mode, version %#x, %u LVT entries, boot CPU is APIC %u\n",
	       lapic_mode == LAPIC_X2APIC ? "x2APIC (MSRs)" : "xAPIC (MMIO)",
	       lapic_read(LAPIC_VERSION) & 0xff,
	       ((lapic_read(LAPIC_VERSION) >> 16) & 0xff) + 1, lapic_id());
	return 0;
}

void lapic_init_this_cpu(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);

	/* Disabled -> xAPIC -> x2APIC: the only legal way up (SDM 11.12.5). */
	if (!(base & APIC_BASE_ENABLE)) {
		base |= APIC_BASE_ENABLE;
		wrmsr(MSR_APIC_BASE, base);
	}
	if (lapic_mode == LAPIC_X2APIC && !(base & APIC_BASE_X2APIC))
		wrmsr(MSR_APIC_BASE, base | APIC_BASE_X2APIC);

	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_SVR, SVR_APIC_ENABLE | VEC_SPURIOUS);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
	lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);   /* the 8259s' ExtINT */
	/* LINT1 carries the board's NMI (MADT "LAPIC NMI", pin 1 on every
	 * PC); one CPU receiving it is enough. */
	lapic_write(LAPIC_LVT_LINT1, (base & APIC_BASE_BSP) ? LVT_NMI : LVT_MASKED);
	lapic_write(LAPIC_LVT_ERROR, VEC_APIC_ERROR);
	lapic_write(LAPIC_ESR, 0);      /* two writes clear it (SDM 11.5.3) */
	lapic_write(LAPIC_ESR, 0);
	lapic_eoi();                    /* anything the firmware left in service */
}

/* Counts since the timer was started from 2^32 - 1: at divide-by-16
 * under 4 GHz, more than a minute before it runs out. */
static uint64_t lapic_timer_elapsed(void)
{
	return 0xffffffffULL - lapic_read(LAPIC_TIMER_CURRENT);
}

/* The median of three PIT one-shots of 10 ms, each timed again if the
 * CPU was held up at its edges (arch/x86/pit.c).  The timer stays
 * masked: nothing uses its interrupt yet, and the measurement needs
 * none. */
void lapic_timer_calibrate(void)
{
	struct pit_rate r;

	lapic_write(LAPIC_TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
	lapic_write(LAPIC_TIMER_INITIAL, 0xffffffff);
	pit_calibrate(lapic_timer_elapsed, 10000, 3, 12, &r);
	lapic_write(LAPIC_TIMER_INITIAL, 0);   /* stop */
	lapic_timer_hz = r.hz;
	printk("lapic: timer counts at %llu kHz with divide-by-16 (%u of %u "
	       "windows within %llu ppm)\n",
	       (unsigned long long)(lapic_timer_hz / 1000), r.kept,
	       r.kept + r.dropped, (unsigned long long)r.worst_error_ppm);
}

/* ---- IPIs ---- */

/* One IPI: @low is the ICR's low word (vector, delivery mode, shorthand).
 * IRQs are off around it: in xAPIC mode the ICR is two registers, and an
 * interrupt handler sending its own IPI between the two writes would
 * send ours to its destination.  An NMI cannot be held off that way.
 * Cross-CPU calls and shootdowns refuse to run in NMI context
 * (kernel/nmi.h), so the only IPIs sent from an NMI are panic's stop
 * NMIs and tests/nmi.c's; and an IPI sent in NMI context puts back the
 * destination it found in ICR high, which the interrupted code may have
 * written and be about to use. */
static void lapic_write_icr(uint32_t apic_id, uint32_t low)
{
	bool irqs_were_on = read_rflags() & RFLAGS_IF;
	bool nmi = in_nmi();
	uint32_t saved_high = 0;

	cli();
	if (lapic_mode == LAPIC_X2APIC) {
		/* WRMSR to x2APIC registers is not serializing: without the
		 * fence, the IPI could overtake our earlier stores (the queued
		 * call it announces) (SDM 11.12.3; Linux weak_wrmsr_fence). */
		__asm__ __volatile__("mfence; lfence" ::: "memory");
		wrmsr(MSR_X2APIC_ICR, (uint64_t)apic_id << 32 | low);
	} else {
		while (lapic_read(LAPIC_ICR_LOW) & ICR_SEND_PENDING)
			cpu_relax();
		if (nmi)
			saved_high = lapic_read(LAPIC_ICR_HIGH);
		lapic_write(LAPIC_ICR_HIGH, apic_id << 24);
		lapic_write(LAPIC_ICR_LOW, low);   /* this write sends */
		if (nmi) {
			while (lapic_read(LAPIC_ICR_LOW) & ICR_SEND_PENDING)
				cpu_relax();
			lapic_write(LAPIC_ICR_HIGH, saved_high);
		}
	}
	if (irqs_were_on)
		sti();
}

void lapic_send_ipi(uint32_t apic_id, uint8_t vector)
{
	lapic_write_icr(apic_id, ICR_FIXED | vector);
}

void lapic_send_ipi_all_but_self(uint8_t vector)
{
	lapic_write_icr(0, ICR_ALL_BUT_SELF | ICR_FIXED | vector);
}

void lapic_send_nmi_all_but_self(void)
{
	lapic_write_icr(0, ICR_ALL_BUT_SELF | ICR_NMI);
}

void lapic_send_nmi(uint32_t apic_id)
{
	lapic_write_icr(apic_id, ICR_NMI);
}

/* INIT, level-triggered assert: the target resets and waits for a
 * STARTUP IPI (SDM 8.4.4.1).  Also how a CPU that failed to start is
 * parked again. */
void lapic_send_init(uint32_t apic_id)
{
	lapic_write_icr(apic_id, ICR_INIT | ICR_LEVEL_ASSERT | ICR_TRIGGER_LEVEL);
}

/* STARTUP: the target begins in real mode at CS:IP = (pa >> 4):0, so
 * @pa must be page-aligned and below 1 MiB. */
void lapic_send_startup(uint32_t apic_id, phys_addr_t trampoline_pa)
{
	BUG_ON(trampoline_pa >= 1 * MiB || trampoline_pa % PAGE_SIZE);
	lapic_write_icr(apic_id, ICR_STARTUP | ICR_LEVEL_ASSERT |
			(uint32_t)(trampoline_pa >> PAGE_SHIFT));
}

/* ---- the hooks kernel/smp.c uses (arch/x86/arch.h) ---- */

void arch_send_call_ipi_one(unsigned int cpu)
{
	lapic_send_ipi(percpu_areas[cpu].apic_id, VEC_CALL_FUNCTION);
}

void arch_send_call_ipi_all_but_self(void)
{
	lapic_send_ipi_all_but_self(VEC_CALL_FUNCTION);
}
