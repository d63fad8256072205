/* multiboot.c (fuzz): kernel/multiboot.c on any boot information.
 *
 * The input is one flags byte, then the multiboot2 information.  The
 * information is copied into a buffer of exactly its total_size (its
 * first u32; zero-padded when the input is shorter), so that a read
 * past the structure is a heap overflow for AddressSanitizer.  The
 * flags pick the physical address the loader claims (aligned, zero or
 * misaligned).  Then, against the multiboot2 specification:
 *   - -EINVAL exactly when the address or total_size is unusable, with
 *     a message, and nothing kept;
 *   - otherwise the memory map, the modules and the command line are
 *     what a reference walk of the tags (written from the specification
 *     and the contract in kernel/bootinfo.h) finds, entry for entry;
 *   - strings end with their NUL inside their arrays, counts stay
 *     within their arrays, and the RSDP copy is the bytes of the tag it
 *     names.
 * The struct boot_info is a heap object of its own: a write past it is
 * caught too.
 */
#include <sanitizer/asan_interface.h>
#include <string.h>

#include "kernel/multiboot.h"
#include "tests/fuzz/fuzz.h"
#include "tests/host/vmap_shim.h"

#define INFO_MAX (1u << 20)      /* kernel/multiboot.c: MB2_INFO_MAX */
#define INFO_PHYS 0x9000u        /* where the loader "put" it */
#define ARENA_SIZE (INFO_MAX + 8) /* the largest information, aligned */

/* What the reference walk expects. */
struct expect {
	struct mem_region mem[BOOT_MAX_MEM_REGIONS];
	size_t nr_mem;
	size_t nr_modules;
	char cmdline[BOOT_CMDLINE_MAX];
};


/* Memory map tag (type 6): u32 entry_size, u32 version, then entries of
 * u64 base, u64 length, u32 type, u32 reserved (or longer). */
static void ref_mmap(const uint8_t *tag, uint32_t size, struct expect *e)
{
	uint32_t entry_size = size >= 16 ? u32_at(tag + 8) : 0;

	if (entry_size < 24 || entry_size % 8)
		return;
	for (uint64_t off = 16; off + entry_size <= size; off += entry_size) {
		uint64_t base = u64_at(tag + off), len = u64_at(tag + off + 8);

		if (len == 0 || base + len < base)
			continue;
		if (e->nr_mem == BOOT_MAX_MEM_REGIONS)
			return;
		e->mem[e->nr_mem++] = (struct mem_region){ base, len,
							   u32_at(tag + off + 16) };
	}
}

static void ref_walk(const uint8_t *info, uint32_t total, struct expect *e)
{
	for (uint64_t off = 8; off + 8 <= total; off = (off + u32_at(info + off + 4) + 7) & ~7ull) {
		const uint8_t *tag = info + off;
		uint32_t type = u32_at(tag), size = u32_at(tag + 4);

		if (type == 0 || size < 8 || size > total - off)
			return;
		if (type == 6)
			ref_mmap(tag, size, e);
		if (type == 3 && size >= 16 && u32_at(tag + 12) >= u32_at(tag + 8) &&
		    e->nr_modules < BOOT_MAX_MODULES)
			e->nr_modules++;
		if (type == 1) {
			const char *s = (const char *)tag + 8;
			size_t len = strnlen(s, size - 8);

			if (len < size - 8) {       /* has its NUL: kept, maybe cut */
				len = len < BOOT_CMDLINE_MAX - 1 ? len : BOOT_CMDLINE_MAX - 1;
				memcpy(e->cmdline, s, len);
				e->cmdline[len] = '\0';
			}
		}
	}
}

/* An 8-byte-aligned buffer of @len bytes (as the loader leaves the
 * information) whose neighbours are poisoned, so that any read outside
 * is an AddressSanitizer report.  A fresh malloc of up to 1 MiB per input
 * would cost more than the parse: the buffer is one arena, the
 * information placed at its end, everything else poisoned. */
static uint8_t *info_place(size_t len)
{
	static uint8_t *arena;
	size_t start = (ARENA_SIZE - len) & ~(size_t)7;

	if (!arena)
		arena = malloc(ARENA_SIZE);
	ASAN_UNPOISON_MEMORY_REGION(arena, ARENA_SIZE);
	ASAN_POISON_MEMORY_REGION(arena, start);
	ASAN_POISON_MEMORY_REGION(arena + start + len, ARENA_SIZE - start - len);
	return arena + start;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void check_parsed(const uint8_t *info, uint32_t total, phys_addr_t phys,
			 const struct boot_info *bi)
{
	struct expect *e = calloc(1, sizeof(*e));

	ref_walk(info, total, e);
	FUZZ_CHECK(bi->mbi.start == phys && bi->mbi.end == phys + total,
		   "mbi [%#lx, %#lx), want [%#lx, +%#x)", bi->mbi.start, bi->mbi.end,
		   phys, total);
	FUZZ_CHECK(bi->nr_mem == e->nr_mem, "%zu regions, reference %zu", bi->nr_mem,
		   e->nr_mem);
	for (size_t i = 0; i < e->nr_mem; i++)
		FUZZ_CHECK(!memcmp(&bi->mem[i], &e->mem[i], sizeof(e->mem[i])),
			   "region %zu: base %#lx size %#lx type %u, reference %#lx %#lx %u",
			   i, bi->mem[i].base, bi->mem[i].size, bi->mem[i].type,
			   e->mem[i].base, e->mem[i].size, e->mem[i].type);
	FUZZ_CHECK(bi->nr_modules == e->nr_modules, "%zu modules, reference %zu",
		   bi->nr_modules, e->nr_modules);
	for (size_t i = 0; i < bi->nr_modules; i++)
		FUZZ_CHECK(bi->modules[i].start <= bi->modules[i].end,
			   "module %zu: [%#lx, %#lx)", i, bi->modules[i].start,
			   bi->modules[i].end);
	FUZZ_CHECK(strnlen(bi->cmdline, sizeof(bi->cmdline)) < sizeof(bi->cmdline),
		   "command line without its NUL");
	FUZZ_CHECK(!strcmp(bi->cmdline, e->cmdline), "command line \"%s\", reference \"%s\"",
		   bi->cmdline, e->cmdline);
	FUZZ_CHECK(strnlen(bi->loader_name, sizeof(bi->loader_name)) < sizeof(bi->loader_name),
		   "loader name without its NUL");
	if (bi->acpi_rsdp_len) {
		uint64_t at = bi->acpi_rsdp - phys;

		FUZZ_CHECK(bi->acpi_rsdp_len >= 20 && bi->acpi_rsdp_len <= 36 &&
			   at >= 16 && at + bi->acpi_rsdp_len <= total &&
			   !memcmp(info + at, bi->acpi_rsdp_copy, bi->acpi_rsdp_len),
			   "RSDP copy of %zu bytes from offset %#lx in %u", bi->acpi_rsdp_len,
			   at, total);
	}
	free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const phys_addr_t phys_of_flags[] = { INFO_PHYS, 0, INFO_PHYS + 4 };
	phys_addr_t phys = phys_of_flags[(size ? data[0] : 0) % 3];
	const uint8_t *in = data + (size > 0);
	size_t in_len = size - (size > 0);
	uint8_t head[4] = { 0 };
	uint32_t total;
	bool usable;
	size_t buf_len;
	uint8_t *info;
	struct boot_info *bi = malloc(sizeof(*bi));
	int err;

	memcpy(head, in, in_len < 4 ? in_len : 4);   /* total_size, zero-padded */
	total = u32_at(head);
	usable = total >= 16 && total <= INFO_MAX;
	buf_len = usable ? total : (in_len > 4 ? in_len : 4);
	info = info_place(buf_len);
	memcpy(info, in, in_len < buf_len ? in_len : buf_len);
	if (in_len < buf_len)
		memset(info + in_len, 0, buf_len - in_len);
	memset(bi, 0xa5, sizeof(*bi));        /* the parser must clear it */
	shim_log_clear();
	err = multiboot_parse(info, phys, bi);
	if (!usable || phys == 0 || phys % 8) {
		FUZZ_CHECK(err == -EINVAL, "address %#lx, total_size %u: returned %d",
			   phys, total, err);
		FUZZ_CHECK(all_zero(bi, sizeof(*bi)), "boot_info not cleared on error");
		FUZZ_CHECK(shim_log_contains("multiboot2: "), "no message for the error");
	} else {
		FUZZ_CHECK(err == 0, "address %#lx, total_size %u: returned %d; %s",
			   phys, total, err, shim_log);
		check_parsed(info, total, phys, bi);
	}
	free(bi);
	return 0;
}
