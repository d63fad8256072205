/* multiboot.c: read the multiboot2 boot information (the GRUB hand-off).
 *
 * The information is a list of tags, each 8-byte aligned: a u32 type and a
 * u32 size, then the payload.  Nothing in it is trusted: the total size,
 * every tag size and every entry must lie inside the structure, or the
 * piece is reported (naming the tag and the fault) and dropped.
 */
#include "kernel/multiboot.h"
#include "kernel/printk.h"
#include "kernel/string.h"

struct boot_info boot_info;

enum mb2_tag_type {
	MB2_TAG_END = 0,
	MB2_TAG_CMDLINE = 1,
	MB2_TAG_LOADER_NAME = 2,
	MB2_TAG_MODULE = 3,
	MB2_TAG_MMAP = 6,
	MB2_TAG_FRAMEBUFFER = 8,
	MB2_TAG_EFI32 = 11,
	MB2_TAG_EFI64 = 12,
	MB2_TAG_ACPI_OLD = 14,
	MB2_TAG_ACPI_NEW = 15,
};

struct mb2_tag { uint32_t type, size; };
struct mb2_mmap_entry { uint64_t base, length; uint32_t type, reserved; };

/* Bigger than any real boot information (GRUB's are a few KiB); a larger
 * total_size means the pointer or the structure is garbage. */
#define MB2_INFO_MAX (1 * MiB)

/* Copy a NUL-terminated string payload, refusing one without its NUL. */
static bool copy_tag_string(const struct mb2_tag *tag, size_t skip, char *dst,
			    size_t dst_size, const char *what)
{
	const char *s = (const char *)tag + sizeof(*tag) + skip;
	size_t avail = tag->size - sizeof(*tag) - skip;
	size_t len = strnlen(s, avail);

	if (len == avail) {
		printk("multiboot2: %s tag has no terminating NUL; ignored\n", what);
		return false;
	}
	if (len >= dst_size) {
		printk("multiboot2: %s is %zu bytes, more than the %zu kept; cut\n",
		       what, len, dst_size - 1);
		len = dst_size - 1;
	}
	memcpy(dst, s, len);
	dst[len] = '\0';
	return true;
}

static void parse_mmap(const struct mb2_tag *tag, struct boot_info *bi)
{
	const uint32_t *hdr = (const uint32_t *)(tag + 1);  /* entry_size, version */
	uint32_t entry_size;
	const uint8_t *p, *end = (const uint8_t *)tag + tag->size;

	if (tag->size < sizeof(*tag) + 8) {
		printk("multiboot2: memory map tag of %u bytes is too short; ignored\n", tag->size);
		return;
	}
	entry_size = hdr[0];
	if (entry_size < sizeof(struct mb2_mmap_entry) || entry_size % 8) {
		printk("multiboot2: memory map entry size %u is invalid; map ignored\n", entry_size);
		return;
	}
	for (p = (const uint8_t *)(hdr + 2); p + entry_size <= end; p += entry_size) {
		const struct mb2_mmap_entry *e = (const void *)p;

		if (e->length == 0 || e->base + e->length < e->base) {
			printk("multiboot2: memory map entry base %#lx length %#lx is "
			       "empty or wraps; ignored\n", e->base, e->length);
			continue;
		}
		if (bi->nr_mem == BOOT_MAX_MEM_REGIONS) {
			printk("multiboot2: more than %d memory regions; rest ignored\n",
			       BOOT_MAX_MEM_REGIONS);
			return;
		}
		bi->mem[bi->nr_mem++] = (struct mem_region){ e->base, e->length, e->type };
	}
}

static void parse_module(const struct mb2_tag *tag, struct boot_info *bi)
{
	const uint32_t *m = (const uint32_t *)(tag + 1);  /* mod_start, mod_end */

	if (tag->size < sizeof(*tag) + 8 || m[1] < m[0]) {
		printk("multiboot2: module tag is malformed; ignored\n");
		return;
	}
	if (bi->nr_modules == BOOT_MAX_MODULES) {
		printk("multiboot2: more than %d modules; rest ignored\n", BOOT_MAX_MODULES);
		return;
	}
	bi->modules[bi->nr_modules++] = (struct phys_range){ m[0], m[1] };
}

static void parse_acpi(const struct mb2_tag *tag, struct boot_info *bi, phys_addr_t tag_phys)
{
	size_t len = tag->size - sizeof(*tag);

	/* A 2.0+ RSDP (tag 15) wins over a 1.0 one (tag 14). */
	if (bi->acpi_rsdp_len > 20 && tag->type == MB2_TAG_ACPI_OLD)
		return;
	if (len < 20 || len > sizeof(bi->acpi_rsdp_copy)) {
		printk("multiboot2: ACPI RSDP tag of %zu bytes is malformed; ignored\n", len);
		return;
	}
	memcpy(bi->acpi_rsdp_copy, tag + 1, len);
	bi->acpi_rsdp_len = len;
	bi->acpi_rsdp = tag_phys + sizeof(*tag);
}

static void parse_framebuffer(const struct mb2_tag *tag, struct boot_info *bi)
{
	const uint8_t *p = (const uint8_t *)(tag + 1);

	if (tag->size < sizeof(*tag) + 22) {
		printk("multiboot2: framebuffer tag is too short; ignored\n");
		return;
	}
	memcpy(&bi->fb_addr, p, 8);
	memcpy(&bi->fb_pitch, p + 8, 4);
	memcpy(&bi->fb_width, p + 12, 4);
	memcpy(&bi->fb_height, p + 16, 4);
	bi->fb_bpp = p[20];
	bi->have_framebuffer = true;
}

static void parse_tag(const struct mb2_tag *tag, phys_addr_t tag_phys, struct boot_info *bi)
{
	switch (tag->type) {
	case MB2_TAG_CMDLINE:
		copy_tag_string(tag, 0, bi->cmdline, sizeof(bi->cmdline), "command line");
		break;
	case MB2_TAG_LOADER_NAME:
		copy_tag_string(tag, 0, bi->loader_name, sizeof(bi->loader_name), "loader name");
		break;
	case MB2_TAG_MODULE: parse_module(tag, bi); break;
	case MB2_TAG_MMAP: parse_mmap(tag, bi); break;
	case MB2_TAG_FRAMEBUFFER: parse_framebuffer(tag, bi); break;
	case MB2_TAG_EFI32: case MB2_TAG_EFI64: bi->booted_via_efi = true; break;
	case MB2_TAG_ACPI_OLD: case MB2_TAG_ACPI_NEW: parse_acpi(tag, bi, tag_phys); break;
	default: break;      /* tags we did not ask for are allowed */
	}
}

int multiboot_parse(const void *mbi_virt, phys_addr_t mbi_phys, struct boot_info *bi)
{
	const uint8_t *base = mbi_virt;
	uint32_t total;
	size_t off;

	memset(bi, 0, sizeof(*bi));
	if (mbi_phys == 0 || mbi_phys % 8) {
		printk("multiboot2: information address %#lx is not 8-byte aligned\n", mbi_phys);
		return -EINVAL;
	}
	total = *(const uint32_t *)base;
	if (total < 16 || total > MB2_INFO_MAX) {
		printk("multiboot2: total_size %u is outside 16..%lu\n", total, MB2_INFO_MAX);
		return -EINVAL;
	}
	bi->mbi = (struct phys_range){ mbi_phys, mbi_phys + total };
	for (off = 8; off + sizeof(struct mb2_tag) <= total;) {
		const struct mb2_tag *tag = (const void *)(base + off);

		if (tag->type == MB2_TAG_END)
			return 0;
		if (tag->size < sizeof(*tag) || tag->size > total - off) {
			printk("multiboot2: tag type %u at offset %zu has size %u, which "
			       "leaves the structure; the rest is ignored\n",
			       tag->type, off, tag->size);
			return 0;
		}
		parse_tag(tag, mbi_phys + off, bi);
		off = ALIGN_UP(off + tag->size, 8);
	}
	printk("multiboot2: no end tag within total_size %u; used what was there\n", total);
	return 0;
}

static const char *mem_type_name(uint32_t type)
{
	switch (type) {
	case MEM_AVAILABLE: return "available";
	case MEM_RESERVED: return "reserved";
	case MEM_ACPI_RECLAIMABLE: return "ACPI reclaimable";
	case MEM_ACPI_NVS: return "ACPI NVS";
	case MEM_BAD: return "bad";
	default: return "unknown (reserved)";
	}
}

void boot_info_print(const struct boot_info *bi)
{
	printk("boot: loader \"%s\"%s, command line \"%s\"\n", bi->loader_name,
	       bi->booted_via_efi ? " (UEFI)" : " (BIOS)", bi->cmdline);
	printk("boot: physical memory map (%zu regions):\n", bi->nr_mem);
	for (size_t i = 0; i < bi->nr_mem; i++)
		printk("  [%#014lx-%#014lx] %8lu KiB %s\n", bi->mem[i].base,
		       bi->mem[i].base + bi->mem[i].size - 1, bi->mem[i].size / KiB,
		       mem_type_name(bi->mem[i].type));
	printk("boot: multiboot info at [%#lx-%#lx), %zu modules, ACPI RSDP %s\n",
	       bi->mbi.start, bi->mbi.end, bi->nr_modules,
	       bi->acpi_rsdp_len ? (bi->acpi_rsdp_len > 20 ? "v2" : "v1") : "none");
}
