/* layout.h: the kernel's virtual address space, and the two ways of
 * turning a physical address into a pointer.
 *
 * x86-64 with 4-level paging has 48-bit virtual addresses; bits 63..48
 * copy bit 47, so the usable space is two halves with a hole between.
 * The lower half belongs to user space (none yet: this kernel runs no
 * processes).  The upper half is the kernel's, laid out as Linux lays it
 * out (Documentation/arch/x86/x86_64/mm.rst), so addresses seen in a
 * debugger here mean what they mean there:
 *
 *   0xffffffffffffffff +-------------------------------+
 *                      | kernel image (2 GiB)          | text r-x, rodata r--,
 *   0xffffffff80000000 +-------------------------------+ data/bss rw-
 *                      |   unused                      |
 *   0xfffffe8000000000 +-------------------------------+
 *                      | cpu area (512 GiB)            | LAPIC registers (UC),
 *   0xfffffe0000000000 +-------------------------------+ AP stacks, guard pages,
 *                                                         the fixmap slot
 *                      |   unused                      |
 *   0xffffea0000000000 +-------------------------------+
 *                      | mm selftest window (1 TiB)    | scratch VAs for
 *   0xffffe90000000000 +-------------------------------+ tests/mm_*.c
 *                      | vmalloc / ioremap (32 TiB)    | mapped on demand,
 *   0xffffc90000000000 +-------------------------------+ 4K / 2M / 1G pages
 *                      |   unused (0.5 TiB)            |
 *   0xffffc88000000000 +-------------------------------+
 *                      | direct map of all RAM (64 TiB)| phys 0 is here;
 *   0xffff888000000000 +-------------------------------+ rw-, 1G or 2M pages
 *                      |   unused (guard, 8.5 TiB)     |
 *   0xffff800000000000 +-------------------------------+ start of kernel half
 *                      |   non-canonical hole          |
 *   0x00007fffffffffff +-------------------------------+
 *                      | user space (unused)           |
 *   0x0000000000000000 +-------------------------------+
 *
 * Every area starts on a 1 GiB boundary, so any of them can use 1 GiB
 * pages, and on a 512 GiB boundary except the kernel image, so each
 * owns whole top-level (pgd) entries.
 */
#ifndef MM_LAYOUT_H
#define MM_LAYOUT_H

#include "kernel/types.h"
#include "kernel/bootinfo.h"   /* KERNEL_VIRT_BASE */

#define KERNEL_HALF_START    0xffff800000000000ULL

#define DIRECT_MAP_START     0xffff888000000000ULL
#define DIRECT_MAP_SIZE      (64ULL << 40)          /* 64 TiB of RAM at most */

#define VMALLOC_START        0xffffc90000000000ULL
#define VMALLOC_END          0xffffe90000000000ULL  /* exclusive: 32 TiB */

#define MM_SELFTEST_START    0xffffe90000000000ULL
#define MM_SELFTEST_END      0xffffea0000000000ULL  /* exclusive: 1 TiB */

/* Fixed per-machine and per-CPU mappings (arch/x86/lapic.c, smpboot.c),
 * where Linux has its fixmap and cpu_entry_area.  Each AP's stack sits
 * in a CPU_STACK_SLOT of its own above an unmapped guard page, so an
 * overflow faults instead of running into the next stack. */
#define CPU_AREA_START       0xfffffe0000000000ULL
#define CPU_AREA_END         0xfffffe8000000000ULL  /* exclusive: 512 GiB */
#define FIXMAP_LAPIC         CPU_AREA_START         /* 4 KiB, uncached */
#define CPU_STACKS_START     (CPU_AREA_START + 2 * MiB)
#define CPU_STACK_SLOT       (64 * KiB)             /* guard page + stack + gap */
#define FIXMAP_LOCAL_START   (CPU_AREA_START + 1 * GiB)  /* mm/fixmap.c: one
						       pinned PTE table */

#define KERNEL_IMAGE_START   KERNEL_VIRT_BASE       /* -mcmodel=kernel: the */
#define KERNEL_IMAGE_END     0ULL                   /* top 2 GiB; end wraps */

/* The direct map's offset: pa + direct_map_offset is where physical
 * address pa can be read.  It is DIRECT_MAP_START in the kernel; the host
 * tests point it at a buffer that plays the part of RAM.  Written once,
 * before anything else in mm/ runs. */
extern uintptr_t direct_map_offset;

/* Physical address -> pointer through the direct map (Linux: __va()). */
static inline void *phys_to_virt(phys_addr_t pa)
{
	return (void *)(uintptr_t)(pa + direct_map_offset);
}

/* Direct-map pointer -> physical address (Linux: __pa()).  Only for
 * pointers into the direct map; kernel-image symbols use the next one. */
static inline phys_addr_t virt_to_phys(const void *p)
{
	return (phys_addr_t)((uintptr_t)p - direct_map_offset);
}

/* Kernel-image symbol -> physical address: the image is linked at
 * KERNEL_VIRT_BASE + its physical load address. */
static inline phys_addr_t kernel_image_virt_to_phys(const void *p)
{
	return (phys_addr_t)((uintptr_t)p - KERNEL_VIRT_BASE);
}

#endif
