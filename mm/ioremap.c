/* ioremap.c: device memory in the vmalloc window (mm/vmalloc.h).
 *
 * ioremap(pa, size) maps the pages that hold [pa, pa + size) uncached
 * (ioremap_wc: write-combining) and returns the address of pa itself:
 * the offset inside the first page is kept, as Linux does, so a
 * device's registers at 0xfee00300 come back at area + 0x300.
 *
 * Huge pages: when the physical start is 1 GiB (or 2 MiB) aligned and
 * the range is at least that long, the area is aligned the same way and
 * kpt_map() uses 1 GiB (2 MiB) pages for as much as fits; 1 GiB only
 * where CPUID offers them.  A 1 GiB mapping is one PUD entry instead of
 * one PMD table and 512 PTE tables: 2 MiB of page tables saved, and one
 * TLB entry instead of 262,144.
 *
 * Refused: RAM that the frame allocator manages (the allocator could
 * hand it out meanwhile: use vmap()), and, for ioremap and ioremap_wc,
 * anything the direct map maps (the first MiB, firmware-reserved RAM,
 * ACPI tables in RAM): the direct map maps it write-back, and two
 * mappings of one page with different memory types are undefined (SDM
 * Vol. 3A 11.12.4, "Programming the PAT").  ioremap_cache() maps those
 * write-back, the same type.  Device memory (holes in the memory map,
 * which the direct map leaves out) takes any type.
 */
#include "arch/x86/arch.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "mm/layout.h"
#include "mm/shootdown.h"
#include "mm/vmalloc_internal.h"

/* The first frame in [pa, end) that the allocator manages, or end. */
static phys_addr_t first_managed_ram(phys_addr_t pa, phys_addr_t end)
{
	uint64_t last = MIN(end, frame_count * FRAME_SIZE);

	for (phys_addr_t p = pa; p < last; p += FRAME_SIZE)
		if (frame_table[p >> FRAME_SHIFT].use != FRAME_RESERVED)
			return p;
	return end;
}

/* The first page of [pa, end) that the direct map maps, or end.  Steps
 * over whole leaves and holes, so a 1 GiB range costs a few walks. */
static phys_addr_t first_direct_mapped(phys_addr_t pa, phys_addr_t end)
{
	phys_addr_t reach = MIN(end, DIRECT_MAP_SIZE);   /* the direct map's */

	while (pa < reach) {
		struct kpt_walk w;
		int err = kpt_walk((virt_addr_t)phys_to_virt(pa), &w);

		if (err == 0)
			return pa;
		pa = ALIGN_DOWN(pa, pt_level_size(w.level)) + pt_level_size(w.level);
	}
	return end;
}

/* A mapping of type @cache may not alias the direct map's write-back
 * one; else a message naming @fn. */
static bool ioremap_type_ok(const char *fn, phys_addr_t pa, uint64_t size,
			    enum pt_cache cache)
{
	phys_addr_t mapped;

	if (cache == PT_CACHE_WB)
		return true;
	mapped = first_direct_mapped(ALIGN_DOWN(pa, PAGE_SIZE), pa + size);
	if (mapped >= pa + size)
		return true;
	printk("%s: [pa %#llx, +%#llx) is mapped write-back by the direct map "
	       "(at %#llx); another memory type there is undefined: use "
	       "ioremap_cache()\n", fn, (unsigned long long)pa,
	       (unsigned long long)size, (unsigned long long)mapped);
	return false;
}

/* The physical range is mappable; else a message naming @fn and why. */
static bool ioremap_range_ok(const char *fn, phys_addr_t pa, uint64_t size)
{
	phys_addr_t limit = 1ULL << cpu_features.phys_addr_bits, ram;

	if (size == 0) {
		printk("%s: size is 0 (pa %#llx)\n", fn, (unsigned long long)pa);
		return false;
	}
	if (pa + size < pa) {
		printk("%s: pa %#llx + size %#llx overflows\n", fn,
		       (unsigned long long)pa, (unsigned long long)size);
		return false;
	}
	if (pa + size > limit) {
		printk("%s: [pa %#llx, +%#llx) passes the CPU's %u-bit physical "
		       "address width\n", fn, (unsigned long long)pa,
		       (unsigned long long)size, cpu_features.phys_addr_bits);
		return false;
	}
	ram = first_managed_ram(ALIGN_DOWN(pa, FRAME_SIZE), pa + size);
	if (ram < pa + size) {
		printk("%s: [pa %#llx, +%#llx) covers RAM the frame allocator "
		       "manages (at %#llx); use vmap() for RAM\n", fn,
		       (unsigned long long)pa, (unsigned long long)size,
		       (unsigned long long)ram);
		return false;
	}
	return true;
}

/* The largest page that the physical start and length allow. */
static enum pt_page_size ioremap_page_size(phys_addr_t base, uint64_t len)
{
	if (cpu_features.gbpages && IS_ALIGNED(base, GiB) && len >= GiB)
		return PT_PAGE_1G;
	if (IS_ALIGNED(base, 2 * MiB) && len >= 2 * MiB)
		return PT_PAGE_2M;
	return PT_PAGE_4K;
}

static uint64_t page_size_bytes(enum pt_page_size p)
{
	return p == PT_PAGE_1G ? GiB : p == PT_PAGE_2M ? 2 * MiB : PAGE_SIZE;
}

static void *ioremap_typed(const char *fn, phys_addr_t pa, uint64_t size,
			   enum pt_cache cache)
{
	phys_addr_t base = ALIGN_DOWN(pa, PAGE_SIZE);
	uint64_t len, offset = pa - base;
	enum pt_page_size page;
	struct kpt_mapping m;
	struct vmap_area *area;
	int err;

	if (!ioremap_range_ok(fn, pa, size) || !ioremap_type_ok(fn, pa, size, cache))
		return NULL;
	len = ALIGN_UP(size + offset, PAGE_SIZE);
	page = ioremap_page_size(base, len);
	if (vm_borrow_range(fn, len, page_size_bytes(page), VMAP_KIND_IOREMAP, &area))
		return NULL;
	m = (struct kpt_mapping){
		.va = area->start, .pa = base, .size = len, .prot = PT_PROT_RW,
		.cache = cache, .max_page = page,
	};
	err = vm_map_area(&m);
	if (err) {   /* kpt_map() changed nothing: nothing to flush */
		printk("%s: mapping [pa %#llx, +%#llx) failed with %d\n", fn,
		       (unsigned long long)pa, (unsigned long long)size, err);
		vm_return_range(area);
		return NULL;
	}
	/* What waits after iounmap() is its leaf entries, no frame: it counts
	 * one page per leaf toward the purge trigger, not its span (a 2 MiB
	 * one counted 513 pages and made every 48th iounmap pay a purge: the
	 * linux table's ioremap_2m p99 was 34x its median, `make bench`). */
	area->lazy_cost = (len / page_size_bytes(page) +
			   len % page_size_bytes(page) / PAGE_SIZE) * PAGE_SIZE;
	COUNTER_ADD(vm_stats.ioremaps, 1);
	return (void *)(area->start + offset);
}

void *ioremap(phys_addr_t pa, size_t size)
{
	return ioremap_typed("ioremap", pa, size, PT_CACHE_UC);
}

void *ioremap_wc(phys_addr_t pa, size_t size)
{
	return ioremap_typed("ioremap_wc", pa, size, PT_CACHE_WC);
}

void *ioremap_cache(phys_addr_t pa, size_t size)
{
	return ioremap_typed("ioremap_cache", pa, size, PT_CACHE_WB);
}

/* => TLB: the range may stay in any CPU's TLB until the purge; the
 *    range is not lent again before then. */
void iounmap(const void *addr)
{
	struct vmap_area *area;

	if (!addr)
		return;
	if (vm_claim_area("iounmap", ALIGN_DOWN((virt_addr_t)addr, PAGE_SIZE),
			  VMAP_KIND_IOREMAP, &area))
		return;
	vm_unmap_lazily(area, NULL);
	COUNTER_ADD(vm_stats.iounmaps, 1);
}

/* The kernel's own ranges: what they map belongs to the code that made
 * it (the direct map, the area allocator, the LAPIC page, the AP stacks
 * and the fixmap's pinned table, the kernel image), never to a caller of
 * ioremap_replace_at().  [start, last], last inclusive so the image's
 * range can end at the top of the address space. */
static const struct kernel_range {
	const char *name;
	virt_addr_t start, last;
} kernel_ranges[] = {
	{ "the direct map", DIRECT_MAP_START, DIRECT_MAP_START + DIRECT_MAP_SIZE - 1 },
	{ "the vmalloc window", VMALLOC_START, VMALLOC_END - 1 },
	{ "the CPU area (LAPIC, AP stacks, fixmap)", CPU_AREA_START, CPU_AREA_END - 1 },
	{ "the kernel image", KERNEL_IMAGE_START, KERNEL_IMAGE_END - 1 },
};

/* [va, va + size) is a range a caller may own: not empty, not wrapping
 * (va + size == 0, the very top, is the end of the address space and
 * allowed), and clear of every kernel range; else a message naming it. */
static bool replace_range_ok(virt_addr_t va, uint64_t size)
{
	virt_addr_t last = va + size - 1;

	if (size == 0 || last < va) {
		printk("ioremap_replace_at: [va %#llx, +%#llx) is empty or wraps "
		       "past the top of the address space\n",
		       (unsigned long long)va, (unsigned long long)size);
		return false;
	}
	for (size_t i = 0; i < ARRAY_SIZE(kernel_ranges); i++) {
		const struct kernel_range *k = &kernel_ranges[i];

		if (va <= k->last && last >= k->start) {
			printk("ioremap_replace_at: [va %#llx, +%#llx) overlaps %s "
			       "[%#llx, %#llx], which the kernel owns\n",
			       (unsigned long long)va, (unsigned long long)size,
			       k->name, (unsigned long long)k->start,
			       (unsigned long long)k->last);
			return false;
		}
	}
	return true;
}

bool ioremap_selftest_replace_in_one_store;

/* Break before make (SDM Vol. 3A 4.10.2.3; seed 000's order): clear the
 * old entries and unlink the tables the new pages make unreachable,
 * shoot down once and free them, and only then write the new entries.
 * At no moment may a CPU hold both the old 4 KiB translations and the
 * new 2 MiB/1 GiB one, whose sizes and memory types differ (on AMD two
 * such TLB entries can raise a machine check).  The break links every
 * table the new mapping needs, so the make allocates nothing and cannot
 * fail: an error of the break changes nothing, and none comes after it.
 * => thread context, not NMI (it shoots down).
 * => TLB: on return no CPU holds a translation of the old mappings or
 *    an entry of a replaced table; the replaced tables are freed. */
int ioremap_replace_at(virt_addr_t va, phys_addr_t pa, uint64_t size,
		       enum pt_cache cache)
{
	struct kpt_mapping m = {
		.va = va, .pa = pa, .size = size, .prot = PT_PROT_RW,
		.cache = cache, .max_page = ioremap_page_size(pa, size),
	};
	struct pt_gather g;
	int err;

	if (!replace_range_ok(va, size) ||
	    !ioremap_range_ok("ioremap_replace_at", pa, size) ||
	    !ioremap_type_ok("ioremap_replace_at", pa, size, cache))
		return -EINVAL;
	pt_gather_init(&g);
	if (READ_ONCE(ioremap_selftest_replace_in_one_store)) {
		err = kpt_map(&m, KPT_MAP_REPLACE, &g);   /* the negative control */
		if (!err)
			shootdown_flush_and_free(&g);
		return err;
	}
	err = kpt_map(&m, KPT_MAP_BREAK, &g);             /* break */
	if (err)
		return err;
	shootdown_flush_and_free(&g);                     /* flush, free */
	err = kpt_map(&m, KPT_MAP_NEW, NULL);             /* make */
	if (err)
		panic("ioremap_replace_at: the make after the break failed with "
		      "%d at va %#llx; expected the break to leave every table",
		      err, (unsigned long long)va);
	return 0;
}
