/* host_env.c: what the kernel supplies to mm/, for the host tests (see
 * host_env.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernel/extable.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/spinlock.h"
#include "kernel/trace.h"
#include "mm/frame.h"
#include "mm/kpt.h"
#include "mm/shootdown.h"
#include "tests/host/host_env.h"

struct cpu_features cpu_features;
char host_printk_last[512];
unsigned long host_printk_count;
unsigned long host_tlb_flush_all_count;
jmp_buf *host_panic_catcher;
char host_panic_message[512];

static unsigned char *host_ram;
static phys_addr_t host_root;
static bool host_irqs_on = true;
static struct fault_record host_fault;

/* Set by the runner (selftest_host.c): where an unexpected panic goes. */
jmp_buf *host_case_abort;

/* ---- console and errors ---- */

int vprintk(const char *fmt, va_list ap)
{
	int n = vsnprintf(host_printk_last, sizeof(host_printk_last), fmt, ap);

	host_printk_count++;
	if (getenv("HOST_VERBOSE"))
		fprintf(stderr, "printk: %s", host_printk_last);
	return n;
}

int printk(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintk(fmt, ap);
	va_end(ap);
	return n;
}

bool host_printk_has(const char *needle)
{
	return strstr(host_printk_last, needle) != NULL;
}

/* tests/mm_kpt.c checks messages through this where it is defined. */
bool mm_test_printk_has(const char *needle);
bool mm_test_printk_has(const char *needle)
{
	return host_printk_has(needle);
}

__noreturn void panic_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(host_panic_message, sizeof(host_panic_message), fmt, ap);
	va_end(ap);
	if (host_panic_catcher)
		longjmp(*host_panic_catcher, 1);
	printf("    # PANIC at %s:%d: %s\n", file, line, host_panic_message);
	fflush(stdout);
	if (host_case_abort)
		longjmp(*host_case_abort, 1);
	abort();
}

void warn_at(const char *file, int line, const char *cond)
{
	printf("    # WARNING at %s:%d: %s\n", file, line, cond);
}

/* ---- spinlocks: one thread, so "already locked" is a self-deadlock ---- */

bool spin_trylock(struct spinlock *lock)
{
	if (lock->locked)
		return false;
	lock->locked = 1;
	lock->owner_cpu = 0;
	return true;
}

void spin_lock(struct spinlock *lock)
{
	if (!spin_trylock(lock))
		panic("spinlock '%s': taken again (self-deadlock)", lock->name);
}

void spin_unlock(struct spinlock *lock)
{
	if (!spin_is_held_by_me(lock))
		panic("spinlock '%s': released but not held", lock->name);
	lock->locked = 0;
	lock->owner_cpu = -1;
}

bool spin_is_held_by_me(const struct spinlock *lock)
{
	return lock->locked && lock->owner_cpu == 0;
}

irqflags_t spin_lock_irqsave(struct spinlock *lock)
{
	irqflags_t flags = host_irqs_on;

	host_irqs_on = false;
	spin_lock(lock);
	return flags;
}

void spin_unlock_irqrestore(struct spinlock *lock, irqflags_t flags)
{
	spin_unlock(lock);
	host_irqs_on = flags;
}

/* ---- arch hooks ---- */

void tlb_flush_local_page(virt_addr_t va)
{
	(void)va;
}

void tlb_flush_local_all(void)
{
	host_tlb_flush_all_count++;
}

phys_addr_t arch_read_pgd_root(void)
{
	return host_root;
}

void arch_write_pgd_root(phys_addr_t root)
{
	host_root = root;
}

unsigned int this_cpu_id(void)
{
	return 0;
}

/* The trace points of mm/ record nothing on the host: the host tests
 * check page tables, not timelines. */
void trace_record(enum trace_event event, uint64_t a0, uint64_t a1, uint64_t a2)
{
	(void)event, (void)a0, (void)a1, (void)a2;
}

bool arch_irqs_enabled(void)
{
	return host_irqs_on;
}

void arch_irq_disable(void)
{
	host_irqs_on = false;
}

void arch_irq_enable(void)
{
	host_irqs_on = true;
}

/* ---- the software MMU behind the probes ---- */

enum host_access { HOST_READ, HOST_WRITE, HOST_EXEC };

#define PF_ERR_PRESENT 0x1
#define PF_ERR_WRITE   0x2
#define PF_ERR_RSVD    0x8
#define PF_ERR_INSTR   0x10

static int host_fault_at(virt_addr_t va, uint64_t error_code)
{
	host_fault = (struct fault_record){ .vector = 14, .error_code = error_code,
					    .cr2 = va };
	return -EFAULT;
}

/* Translate @va as the CPU would for a supervisor @access with CR0.WP
 * and EFER.NXE on; 0 and *pa, or -EFAULT with host_fault filled. */
static int host_mmu_translate(virt_addr_t va, enum host_access access,
			      phys_addr_t *pa)
{
	uint64_t rsvd = PHYS_ADDR_MASK & ~((1ULL << cpu_features.phys_addr_bits) - 1);
	uint64_t kind = access == HOST_WRITE ? PF_ERR_WRITE :
			access == HOST_EXEC ? PF_ERR_INSTR : 0;
	phys_addr_t table = kpt.root;
	bool writable = true, executable = true;

	for (enum pt_level level = PT_LEVEL_PGD; level >= PT_LEVEL_PTE; level--) {
		pte_t e = ((pte_t *)phys_to_virt(table))[pt_index(va, level)];

		if (!(e & PTE_P))
			return host_fault_at(va, kind);
		if ((e & rsvd) || (level == PT_LEVEL_PGD && (e & PTE_PS)) ||
		    (!cpu_features.nx && (e & PTE_NX)))
			return host_fault_at(va, kind | PF_ERR_PRESENT | PF_ERR_RSVD);
		writable = writable && (e & PTE_RW);
		executable = executable && !(e & PTE_NX);
		if (pte_is_leaf(e, level)) {
			if ((access == HOST_WRITE && !writable) ||
			    (access == HOST_EXEC && !executable))
				return host_fault_at(va, kind | PF_ERR_PRESENT);
			*pa = pte_leaf_addr(e, level) + (va & (pt_level_size(level) - 1));
			return 0;
		}
		table = pte_table_addr(e);
	}
	abort();   /* a pte is always a leaf */
}

static void *host_ram_at(phys_addr_t pa)
{
	if (pa + 8 > HOST_RAM_MAX) {
		fprintf(stderr, "host MMU: pa %#llx is beyond the simulated RAM\n",
			(unsigned long long)pa);
		abort();
	}
	return phys_to_virt(pa);
}

int probe_read_u64(const void *addr, uint64_t *out)
{
	phys_addr_t pa;
	int err = host_mmu_translate((virt_addr_t)addr, HOST_READ, &pa);

	if (!err)
		memcpy(out, host_ram_at(pa), 8);
	return err;
}

int probe_write_u64(void *addr, uint64_t value)
{
	phys_addr_t pa;
	int err = host_mmu_translate((virt_addr_t)addr, HOST_WRITE, &pa);

	if (!err)
		memcpy(host_ram_at(pa), &value, 8);
	return err;
}

int probe_exec(const void *addr)
{
	phys_addr_t pa;

	return host_mmu_translate((virt_addr_t)addr, HOST_EXEC, &pa);
}

const struct fault_record *extable_last_fault(void)
{
	return &host_fault;
}

/* ---- booting mm/ ---- */

void host_cpu_features_default(void)
{
	cpu_features = (struct cpu_features){
		.phys_addr_bits = 46, .virt_addr_bits = 48,
		.nx = true, .pge = true, .pat = true, .gbpages = true,
	};
}

const struct boot_info host_default_boot_info = {
	.mem = {
		{ 0x0,        0x9fc00,               MEM_AVAILABLE },
		{ 0x9fc00,    0x400,                 MEM_RESERVED },
		{ 0xf0000,    0x10000,               MEM_RESERVED },
		{ 0x100000,   2560 * MiB - 0x100000 - 128 * KiB, MEM_AVAILABLE },
		{ 2560 * MiB - 128 * KiB, 128 * KiB, MEM_ACPI_RECLAIMABLE },
		{ 0xfffc0000, 0x40000,               MEM_RESERVED },
	},
	.nr_mem = 6,
	.mbi = { 0x300000, 0x302000 },
};

static const struct phys_range host_default_reserved[] = {
	{ 0, 1 * MiB },              /* low memory */
	{ 1 * MiB, 3 * MiB },        /* "kernel image" */
	{ 0x300000, 0x302000 },      /* multiboot info */
};

void host_mm_boot(const struct boot_info *bi,
		  const struct phys_range *reserved, size_t nr_reserved)
{
	if (!host_ram) {
		host_ram = mmap(NULL, HOST_RAM_MAX, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (host_ram == MAP_FAILED) {
			perror("mmap of the simulated RAM");
			exit(2);
		}
	} else {
		madvise(host_ram, HOST_RAM_MAX, MADV_DONTNEED);   /* all zero again */
	}
	direct_map_offset = (uintptr_t)host_ram;
	host_cpu_features_default();
	host_irqs_on = true;
	frame_debug = FRAME_DEBUG_POISON_FULL;
	frame_fail_countdown = -1;
	frame_bug_action = FRAME_BUG_PANIC;
	memset(&frame_bug_last, 0, sizeof(frame_bug_last));
	frame_table_init(bi, reserved, nr_reserved, 1 * GiB);
	frame_add_ram(0, ~0ULL);
	kpt_init();
	arch_write_pgd_root(kpt.root);
}

void host_mm_boot_default(void)
{
	host_mm_boot(&host_default_boot_info, host_default_reserved,
		     ARRAY_SIZE(host_default_reserved));
}

uint64_t host_random(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* The host runs one CPU, so the whole shootdown is its local flush,
 * then the free (the kernel's is mm/shootdown.c).  A full flush is
 * always enough here; the host counts it (host_tlb_flush_all_count). */
void shootdown_flush_and_free(struct pt_gather *g)
{
	if (!pt_gather_empty(g))
		tlb_flush_local_all();
	pt_gather_free_all(g);
}
