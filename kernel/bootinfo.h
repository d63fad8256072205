/* What the boot loader told us, copied out of the multiboot2 information
 * by multiboot_parse() (kernel/multiboot.c) before anything else runs, so
 * that no later code reads loader memory.  Every field was validated: a
 * tag with a bad size or an entry that runs past its tag is reported and
 * dropped, never trusted.
 */
#ifndef KERNEL_BOOTINFO_H
#define KERNEL_BOOTINFO_H

#include "kernel/types.h"

/* Memory map entry types, as multiboot2 (and the BIOS E820 call) number them. */
enum mem_type {
	MEM_AVAILABLE = 1,
	MEM_RESERVED = 2,
	MEM_ACPI_RECLAIMABLE = 3,
	MEM_ACPI_NVS = 4,
	MEM_BAD = 5,
};

struct mem_region {
	phys_addr_t base;
	uint64_t size;
	uint32_t type;           /* enum mem_type; others are treated as reserved */
};

struct phys_range {
	phys_addr_t start, end;  /* [start, end) */
};

#define BOOT_MAX_MEM_REGIONS 128
#define BOOT_MAX_MODULES 8
#define BOOT_CMDLINE_MAX 512

struct boot_info {
	char cmdline[BOOT_CMDLINE_MAX];
	char loader_name[64];

	struct mem_region mem[BOOT_MAX_MEM_REGIONS];
	size_t nr_mem;

	struct phys_range mbi;                    /* the multiboot info itself */
	struct phys_range modules[BOOT_MAX_MODULES];
	size_t nr_modules;

	phys_addr_t acpi_rsdp;    /* physical address of a copy of the RSDP
				     inside the multiboot info, 0 if none */
	uint8_t acpi_rsdp_copy[36];   /* the RSDP bytes (v1: 20, v2: 36) */
	size_t acpi_rsdp_len;

	bool have_framebuffer;
	phys_addr_t fb_addr;
	uint32_t fb_width, fb_height, fb_pitch;
	uint8_t fb_bpp;

	bool booted_via_efi;      /* an EFI system table tag was present */
};

extern struct boot_info boot_info;

/* Linker-script symbols: the kernel image's sections.  Their addresses
 * are virtual (higher half); subtract KERNEL_VIRT_BASE for physical. */
extern char __kernel_start[], __kernel_end[];
extern char __text_start[], __text_end[];
extern char __rodata_start[], __rodata_end[];
extern char __data_start[], __data_end[];
extern char __bss_start[], __bss_end[];

/* The kernel is linked at KERNEL_VIRT_BASE + its physical load address. */
#define KERNEL_VIRT_BASE 0xffffffff80000000ULL
#define KERNEL_PHYS_LOAD 0x100000ULL      /* 1 MiB, where GRUB puts it */

#endif
