/* cpu.c: CPUID feature detection and the control-register features every
 * CPU turns on.  The boot CPU reads CPUID once; the application processors
 * enable exactly the same features, so all CPUs interpret page tables the
 * same way (an NX bit one CPU ignores would be a reserved-bit fault on
 * another). */
#include "arch/x86/asm.h"
#include "arch/x86/cpu.h"
#include "kernel/printk.h"
#include "kernel/string.h"

struct cpu_features cpu_features;

static void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	cpuid_count(leaf, 0, a, b, c, d);
}

#define BIT(n) (1U << (n))

void cpu_features_init(void)
{
	struct cpu_features *f = &cpu_features;
	uint32_t a, b, c, d, max_leaf, max_ext;

	cpuid(0, &max_leaf, &b, &c, &d);
	memcpy(f->vendor + 0, &b, 4);
	memcpy(f->vendor + 4, &d, 4);
	memcpy(f->vendor + 8, &c, 4);
	f->vendor[12] = '\0';

	cpuid(1, &a, &b, &c, &d);
	f->stepping = a & 0xf;
	f->model = ((a >> 4) & 0xf) | (((a >> 16) & 0xf) << 4);
	f->family = ((a >> 8) & 0xf) + ((a >> 20) & 0xff);
	f->pge = d & BIT(13);
	f->pat = d & BIT(16);
	f->apic = d & BIT(9);
	f->pcid = c & BIT(17);
	f->x2apic = c & BIT(21);
	f->tsc_deadline = c & BIT(24);
	f->hypervisor = c & BIT(31);

	if (max_leaf >= 7) {
		cpuid_count(7, 0, &a, &b, &c, &d);
		f->smep = b & BIT(7);
		f->invpcid = b & BIT(10);
		f->smap = b & BIT(20);
		f->la57 = c & BIT(16);
	}

	cpuid(0x80000000, &max_ext, &b, &c, &d);
	if (max_ext >= 0x80000001) {
		cpuid(0x80000001, &a, &b, &c, &d);
		f->nx = d & BIT(20);
		f->gbpages = d & BIT(26);
	}
	if (max_ext >= 0x80000007) {
		cpuid(0x80000007, &a, &b, &c, &d);
		f->invariant_tsc = d & BIT(8);
	}
	/* Without leaf 0x80000008 the SDM says to assume 36 bits. */
	f->phys_addr_bits = 36;
	f->virt_addr_bits = 48;
	if (max_ext >= 0x80000008) {
		cpuid(0x80000008, &a, &b, &c, &d);
		f->phys_addr_bits = a & 0xff;
		f->virt_addr_bits = (a >> 8) & 0xff;
	}
}

void cpu_features_print(void)
{
	const struct cpu_features *f = &cpu_features;
	const struct { const char *name; bool on; } flags[] = {
		{ "nx", f->nx },         { "pge", f->pge },
		{ "pat", f->pat },       { "pcid", f->pcid },
		{ "invpcid", f->invpcid }, { "1g-pages", f->gbpages },
		{ "la57", f->la57 },     { "x2apic", f->x2apic },
		{ "smep", f->smep },     { "smap", f->smap },
		{ "tsc-deadline", f->tsc_deadline },
		{ "invariant-tsc", f->invariant_tsc },
	};

	printk("cpu: %s family %u model %u stepping %u, %u-bit physical, "
	       "%u-bit virtual addresses%s\n", f->vendor, f->family, f->model,
	       f->stepping, f->phys_addr_bits, f->virt_addr_bits,
	       f->hypervisor ? ", under a hypervisor" : "");
	printk("cpu: features:");
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
		printk(" %s%s", flags[i].on ? "+" : "-", flags[i].name);
	printk("\n");
}

/* PAT entry encodings (SDM Vol. 3A, "Page Attribute Table"). */
enum { PAT_UC = 0, PAT_WC = 1, PAT_WT = 4, PAT_WP = 5, PAT_WB = 6, PAT_UCM = 7 };
#define PAT_ENTRY(i, type) ((uint64_t)(type) << ((i) * 8))

/* => runs on every CPU during its bring-up, IRQs off.
 * => TLB: none needed; the CPU is not using any mapping whose meaning the
 *    new bits change (PAT entries 0-3 keep their power-on meaning except
 *    entry 1, WT -> WC, which no mapping uses before this point). */
void cpu_enable_features(void)
{
	uint64_t cr4 = read_cr4();

	if (cpu_features.nx)
		wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	write_cr0(read_cr0() | CR0_WP);   /* the kernel too obeys read-only */
	/* CR4.PGE off even where the CPU has it, and cleared in case the
	 * firmware left it on (the boot code keeps CR4's other bits).  Global
	 * pages keep a translation alive across the CR3 switches between
	 * address spaces; this kernel has one address space and never
	 * switches, so they would save nothing, and without them a CR3
	 * reload is a complete flush (arch/x86/tlb.c says what that saves). */
	cr4 &= ~CR4_PGE;
	if (cpu_features.smep)
		cr4 |= CR4_SMEP;
	if (cpu_features.smap)
		cr4 |= CR4_SMAP;
	write_cr4(cr4);
	if (cpu_features.pat)
		wrmsr(MSR_PAT, PAT_ENTRY(0, PAT_WB) | PAT_ENTRY(1, PAT_WC) |
			       PAT_ENTRY(2, PAT_UCM) | PAT_ENTRY(3, PAT_UC) |
			       PAT_ENTRY(4, PAT_WB) | PAT_ENTRY(5, PAT_WP) |
			       PAT_ENTRY(6, PAT_UCM) | PAT_ENTRY(7, PAT_WT));
}

__noreturn void cpu_halt_forever(void)
{
	for (;;) {
		cli();
		hlt();
	}
}
