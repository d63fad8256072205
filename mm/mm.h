/* mm.h: bringing memory management up. */
#ifndef MM_MM_H
#define MM_MM_H

/* Build the frame allocator from the multiboot2 memory map, build the
 * kernel page tables (the direct map of all RAM and the kernel image,
 * section by section), switch CR3 to them, and print the layout.
 * => boot CPU, once, after cpu_enable_features() (EFER.NXE must be on
 *    before a table with NX bits is loaded) and after boot_info is
 *    filled; IRQs off.
 * => TLB: flushed; the early tables' identity map of 0..1 GiB is gone. */
void mm_init(void);

#endif
