/* mm_init.c: boot only.  From the loader's memory map to the kernel's
 * own page tables.
 *
 * We arrive on boot/multiboot2.S's early tables: 2 MiB pages mapping
 * physical 0..1 GiB three times (identity, direct map, kernel image),
 * all writable and executable.  In order:
 *   1. frames: the frame table and the buddy allocator, holding only RAM
 *      below 1 GiB for now, because page tables we build must be
 *      reachable through the early direct-map window;
 *   2. tables: the direct map of all RAM with the largest pages the CPU
 *      has, and the kernel image section by section (boot_sections[]);
 *   3. switch: CR3 to the new root, flush, and hand the RAM above 1 GiB
 *      to the allocator;
 *   4. print the layout (like Documentation/arch/x86/x86_64/mm.rst).
 */
#include "arch/x86/arch.h"
#include "kernel/bootinfo.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "mm/frame.h"
#include "mm/kpt.h"
#include "mm/mm.h"

/* boot/multiboot2.S maps physical [0, 1 GiB) at DIRECT_MAP_START. */
#define EARLY_WINDOW_END (1 * GiB)

/* The AP trampoline, real-mode IVT/BDA and EBDA live below 1 MiB:
 * never hand that memory out. */
#define LOW_MEMORY_END   (1 * MiB)

struct boot_section {
	const char *name;
	char *start, *end;
	enum pt_prot prot;
};

/* The kernel image, mapped at KERNEL_VIRT_BASE + its physical address
 * (linker.ld aligns every boundary to 4 KiB). */
static const struct boot_section boot_sections[] = {
	{ "boot",   __kernel_start, __text_start,  PT_PROT_RO },  /* 32-bit entry, early tables */
	{ "text",   __text_start,   __text_end,    PT_PROT_RX },
	{ "rodata", __rodata_start, __rodata_end,  PT_PROT_RO },
	{ "data",   __data_start,   __bss_end,     PT_PROT_RW },  /* data and bss */
	{ "ksyms",  __bss_end,      __kernel_end,  PT_PROT_RO },  /* symbol table */
};

static uint64_t direct_mapped_bytes;

/* Ranges no allocation may touch besides what the map calls not-RAM. */
static size_t boot_reserved_ranges(struct phys_range *out, size_t cap)
{
	size_t n = 0;

	out[n++] = (struct phys_range){ 0, LOW_MEMORY_END };
	out[n++] = (struct phys_range){ kernel_image_virt_to_phys(__kernel_start),
					kernel_image_virt_to_phys(__kernel_end) };
	out[n++] = boot_info.mbi;
	for (size_t i = 0; i < boot_info.nr_modules && n < cap; i++)
		out[n++] = boot_info.modules[i];
	return n;
}

static void boot_map_or_panic(const struct kpt_mapping *m, const char *what)
{
	int err = kpt_map(m, KPT_MAP_NEW, NULL);

	if (err)
		panic("mm_init: mapping %s [pa %#llx, +%#llx) at va %#llx: "
		      "error %d", what, (unsigned long long)m->pa,
		      (unsigned long long)m->size, (unsigned long long)m->va, err);
}

/* Leaves of the direct map, by level, for the boot log. */
static uint64_t direct_map_leaves[PT_LEVEL_PGD + 1];

static void count_leaves(virt_addr_t va, virt_addr_t end)
{
	struct kpt_walk w;

	while (va != end) {
		if (kpt_walk(va, &w) != 0)
			panic("mm_init: va %#llx, just mapped, is not mapped",
			      (unsigned long long)va);
		direct_map_leaves[w.level]++;
		va = ALIGN_DOWN(va, pt_level_size(w.level)) + pt_level_size(w.level);
	}
}

/* Every RAM region of the memory map (ACPI's included: its tables are
 * RAM the firmware filled), rounded inward to pages, overlaps merged;
 * and, as Linux does, the whole first MiB (the "ISA range": BIOS data,
 * EBDA and ROM, where ACPI's RSDP may be searched for, and the AP
 * trampoline), holes included, so low memory reads work after the
 * early tables are gone. */
static void boot_map_direct(void)
{
	struct phys_range ram[BOOT_MAX_MEM_REGIONS + 1];
	size_t nr = 0;

	phys_range_insert_sorted(ram, &nr, ARRAY_SIZE(ram), 0, LOW_MEMORY_END);
	for (size_t i = 0; i < boot_info.nr_mem; i++) {
		const struct mem_region *r = &boot_info.mem[i];

		if (r->type == MEM_AVAILABLE || r->type == MEM_ACPI_RECLAIMABLE ||
		    r->type == MEM_ACPI_NVS)
			phys_range_insert_sorted(ram, &nr, ARRAY_SIZE(ram),
						 ALIGN_UP(r->base, PAGE_SIZE),
						 ALIGN_DOWN(r->base + r->size, PAGE_SIZE));
	}
	phys_range_merge(ram, &nr);
	for (size_t i = 0; i < nr; i++) {
		phys_addr_t end = MIN(ram[i].end, (phys_addr_t)DIRECT_MAP_SIZE);

		if (ram[i].start >= end) {
			printk("mm: RAM [%#llx, %#llx) is beyond the direct map's "
			       "64 TiB; not used\n", (unsigned long long)ram[i].start,
			       (unsigned long long)ram[i].end);
			continue;
		}
		boot_map_or_panic(&(struct kpt_mapping){
			.va = DIRECT_MAP_START + ram[i].start, .pa = ram[i].start,
			.size = end - ram[i].start, .prot = PT_PROT_RW,
			.cache = PT_CACHE_WB, .max_page = PT_PAGE_1G,
		}, "RAM into the direct map");
		direct_mapped_bytes += end - ram[i].start;
		count_leaves(DIRECT_MAP_START + ram[i].start, DIRECT_MAP_START + end);
	}
}

static void boot_map_kernel_image(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(boot_sections); i++) {
		const struct boot_section *s = &boot_sections[i];

		if (s->end == s->start)
			continue;
		boot_map_or_panic(&(struct kpt_mapping){
			.va = (virt_addr_t)s->start,
			.pa = kernel_image_virt_to_phys(s->start),
			.size = (uint64_t)(s->end - s->start), .prot = s->prot,
			.cache = PT_CACHE_WB, .max_page = PT_PAGE_2M,
		}, s->name);
	}
}

/* "64 TiB", "512 MiB", "36 KiB": the largest unit that divides @bytes
 * evenly, so nothing is rounded away. */
static const char *size_str(char *buf, size_t len, uint64_t bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned int u = 0;

	while (u + 1 < ARRAY_SIZE(units) && bytes >= 1024 && bytes % 1024 == 0) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, len, "%llu %s", (unsigned long long)bytes, units[u]);
	return buf;
}

static void print_area(virt_addr_t start, virt_addr_t end, const char *what)
{
	char size[24];

	printk("  %016llx - %016llx  %10s  %s\n", (unsigned long long)start,
	       (unsigned long long)(end - 1),
	       size_str(size, sizeof(size), end - start), what);
}

static void boot_print_layout(void)
{
	char a[24], b[24];
	struct phys_range t = frame_table_range();

	printk("mm: direct map: %s of RAM as %llu x 1 GiB + %llu x 2 MiB + "
	       "%llu x 4 KiB pages (1 GiB pages: %s)\n",
	       size_str(a, sizeof(a), direct_mapped_bytes),
	       (unsigned long long)direct_map_leaves[PT_LEVEL_PUD],
	       (unsigned long long)direct_map_leaves[PT_LEVEL_PMD],
	       (unsigned long long)direct_map_leaves[PT_LEVEL_PTE],
	       cpu_features.gbpages ? "yes" : "no, CPUID says so");
	printk("mm: frames: %llu free, %llu reserved, %llu page tables; frame "
	       "table at [%#llx, %#llx); frame poisoning %s\n",
	       (unsigned long long)frame_stats.frames[FRAME_FREE],
	       (unsigned long long)frame_stats.frames[FRAME_RESERVED],
	       (unsigned long long)(frame_stats.frames[FRAME_PT_PTE] +
				    frame_stats.frames[FRAME_PT_PMD] +
				    frame_stats.frames[FRAME_PT_PUD] +
				    frame_stats.frames[FRAME_PT_PGD]),
	       (unsigned long long)t.start, (unsigned long long)t.end,
	       frame_debug_name(frame_debug));
	printk("mm: virtual memory layout:\n");
	printk("  %-16s   %-16s  %10s  %s\n", "start", "end (incl.)", "size", "area");
	print_area(DIRECT_MAP_START, DIRECT_MAP_START + DIRECT_MAP_SIZE,
		   "direct map of all RAM (rw-, NX)");
	print_area(VMALLOC_START, VMALLOC_END, "vmalloc / ioremap");
	print_area(MM_SELFTEST_START, MM_SELFTEST_END, "mm selftest window");
	print_area(KERNEL_IMAGE_START, KERNEL_IMAGE_END, "kernel image:");
	for (size_t i = 0; i < ARRAY_SIZE(boot_sections); i++) {
		const struct boot_section *s = &boot_sections[i];

		printk("    %016llx - %016llx  %10s  %s %s\n",
		       (unsigned long long)(uintptr_t)s->start,
		       (unsigned long long)(uintptr_t)s->end - 1,
		       size_str(b, sizeof(b), (uint64_t)(s->end - s->start)),
		       s->name, s->prot == PT_PROT_RX ? "r-x" :
				s->prot == PT_PROT_RW ? "rw-" : "r--");
	}
}

void mm_init(void)
{
	struct phys_range reserved[3 + BOOT_MAX_MODULES];
	size_t nr_reserved = boot_reserved_ranges(reserved, ARRAY_SIZE(reserved));

	frame_debug_from_cmdline();
	frame_table_init(&boot_info, reserved, nr_reserved, EARLY_WINDOW_END);
	frame_add_ram(0, EARLY_WINDOW_END);

	kpt_init();
	boot_map_direct();
	boot_map_kernel_image();

	/* The new tables map everything the running code uses: its text,
	 * stack and data through the kernel image, the frame table and
	 * page tables through the direct map.  The identity map goes, and
	 * with it every entry of the early tables: the CR3 write drops them
	 * all, since nothing is global (cpu_enable_features() ran first). */
	arch_write_pgd_root(kpt.root);
	frame_add_ram(EARLY_WINDOW_END, ~0ULL);
	boot_print_layout();
}
