/* frame_init.c: boot only.  From the multiboot2 memory map to frames.
 *
 * The memory map (E820 under BIOS, converted from the UEFI map by GRUB)
 * is a list of regions that may be unsorted, may overlap, and need not
 * start or end on a page.  We reduce it to two sorted lists:
 *   ram[]   available RAM, shrunk inward to whole frames, overlaps merged;
 *   holes[] everything that must not be handed out, grown outward to
 *           whole frames: every region that is not available (a reserved
 *           region inside an available one wins), plus the ranges the
 *           caller reserves (first 1 MiB, kernel image, multiboot info,
 *           modules), plus the frame table once it is placed.
 * Usable memory is ram[] minus holes[], walked with boot_next_free().
 */
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/string.h"
#include "mm/frame.h"

/* Every region of the map, plus what mm_init() reserves (first MiB,
 * kernel, multiboot info, BOOT_MAX_MODULES modules: 11) and the frame
 * table, rounded up. */
#define BOOT_MAX_HOLES (BOOT_MAX_MEM_REGIONS + 16)

static struct phys_range ram[BOOT_MAX_MEM_REGIONS];
static size_t nr_ram;
static struct phys_range holes[BOOT_MAX_HOLES];
static size_t nr_holes;
static struct phys_range table_range;

struct phys_range frame_table_range(void)
{
	return table_range;
}

void phys_range_insert_sorted(struct phys_range *v, size_t *n, size_t cap,
				phys_addr_t start, phys_addr_t end)
{
	size_t i = *n;

	if (start >= end)
		return;
	if (*n == cap)
		panic("frame_init: more than %zu memory ranges", cap);
	while (i > 0 && v[i - 1].start > start) {
		v[i] = v[i - 1];
		i--;
	}
	v[i] = (struct phys_range){ start, end };
	(*n)++;
}

void phys_range_merge(struct phys_range *v, size_t *n)
{
	size_t out = 0;

	for (size_t i = 0; i < *n; i++) {
		if (out > 0 && v[i].start <= v[out - 1].end)
			v[out - 1].end = MAX(v[out - 1].end, v[i].end);
		else
			v[out++] = v[i];
	}
	*n = out;
}

static void collect_ranges(const struct boot_info *bi,
			   const struct phys_range *reserved, size_t nr_reserved)
{
	nr_ram = nr_holes = 0;
	for (size_t i = 0; i < bi->nr_mem; i++) {
		const struct mem_region *r = &bi->mem[i];
		phys_addr_t end = r->base + r->size;

		if (end < r->base)          /* wraps: clamp to the top */
			end = ~0ULL & ~(FRAME_SIZE - 1);
		if (r->type == MEM_AVAILABLE)
			phys_range_insert_sorted(ram, &nr_ram, ARRAY_SIZE(ram),
					    ALIGN_UP(r->base, FRAME_SIZE),
					    ALIGN_DOWN(end, FRAME_SIZE));
		else
			phys_range_insert_sorted(holes, &nr_holes, ARRAY_SIZE(holes),
					    ALIGN_DOWN(r->base, FRAME_SIZE),
					    ALIGN_UP(end, FRAME_SIZE));
	}
	phys_range_merge(ram, &nr_ram);
	for (size_t i = 0; i < nr_reserved; i++)
		phys_range_insert_sorted(holes, &nr_holes, ARRAY_SIZE(holes),
				    ALIGN_DOWN(reserved[i].start, FRAME_SIZE),
				    ALIGN_UP(reserved[i].end, FRAME_SIZE));
}

/* The lowest usable range that starts at or after @from: true and *out
 * set, or false when there is none.  Holes are sorted by start, so one
 * pass pushes the start past every hole covering it and stops at the
 * first hole beyond it. */
static bool boot_next_free(phys_addr_t from, struct phys_range *out)
{
	for (size_t r = 0; r < nr_ram; r++) {
		phys_addr_t s = MAX(ram[r].start, from), e = ram[r].end;

		for (size_t h = 0; h < nr_holes && s < e; h++) {
			if (holes[h].end <= s)
				continue;
			if (holes[h].start <= s) {
				s = holes[h].end;
				continue;
			}
			e = MIN(e, holes[h].start);
			break;
		}
		if (s < e) {
			*out = (struct phys_range){ s, e };
			return true;
		}
	}
	return false;
}

/* Put the frame table in the first usable range below @window_end that
 * holds it, so the direct map's early window already covers it. */
static phys_addr_t place_frame_table(uint64_t bytes, phys_addr_t window_end)
{
	struct phys_range r = { 0, 0 };

	while (boot_next_free(r.end, &r)) {
		if (r.start + bytes <= MIN(r.end, window_end))
			return r.start;
	}
	panic("frame_init: no %llu KiB of free RAM below %#llx for the frame "
	      "table", (unsigned long long)(bytes / KiB),
	      (unsigned long long)window_end);
}

void frame_table_init(const struct boot_info *bi,
		      const struct phys_range *reserved, size_t nr_reserved,
		      phys_addr_t window_end)
{
	uint64_t bytes;
	phys_addr_t pa;

	collect_ranges(bi, reserved, nr_reserved);
	if (nr_ram == 0)
		panic("frame_init: the memory map lists no available RAM "
		      "(%zu regions)", bi->nr_mem);
	frame_count = ram[nr_ram - 1].end >> FRAME_SHIFT;
	if (frame_count >= FRAME_NIL)
		panic("frame_init: %llu frames of RAM; 32-bit frame links "
		      "reach %u", (unsigned long long)frame_count, FRAME_NIL);

	bytes = ALIGN_UP(frame_count * sizeof(struct frame), FRAME_SIZE);
	pa = place_frame_table(bytes, window_end);
	table_range = (struct phys_range){ pa, pa + bytes };
	phys_range_insert_sorted(holes, &nr_holes, ARRAY_SIZE(holes), pa, pa + bytes);

	frame_table = phys_to_virt(pa);
	for (uint64_t i = 0; i < frame_count; i++)
		frame_table[i] = (struct frame){
			.next = FRAME_NIL, .prev = FRAME_NIL,
			.use = FRAME_RESERVED, .order = 0,
		};
	frame_buddy_reset();
}

/* Free [start, end) as the largest naturally aligned blocks that fit. */
static void add_range_as_blocks(phys_addr_t start, phys_addr_t end)
{
	uint64_t pfn = start >> FRAME_SHIFT, last = end >> FRAME_SHIFT;

	while (pfn < last) {
		unsigned int order = 0;

		while (order < FRAME_MAX_ORDER &&
		       (pfn & ((2ULL << order) - 1)) == 0 &&
		       pfn + (2ULL << order) <= last)
			order++;
		frame_buddy_add_block(pfn, order);
		pfn += 1ULL << order;
	}
}

void frame_add_ram(phys_addr_t start, phys_addr_t end)
{
	struct phys_range r = { 0, start };

	while (boot_next_free(r.end, &r) && r.start < end)
		add_range_as_blocks(r.start, MIN(r.end, end));
}
