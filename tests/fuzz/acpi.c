/* acpi.c (fuzz): the ACPI parsers of arch/x86/acpi.c on any tables.
 *
 * The first input byte picks what runs on the rest:
 *   0  acpi_rsdp_check()   against a reference written from ACPI 6.5
 *                          5.2.5.3 (checksums, revision, the root it
 *                          names);
 *   1  acpi_table_check()  against the same for a table header;
 *   2  acpi_madt_parse()   on a table whose length field is set to the
 *                          input's length (its contract: a checked
 *                          MADT), against a reference count of the CPUs
 *                          and of malformed entries;
 *   3  acpi_init()         the whole path, RSDP -> RSDT/XSDT -> MADT, on a
 *                          pretend physical memory (below).
 * Every buffer is a heap object of exactly the bytes the parser may
 * read, so AddressSanitizer reports a read past it.
 *
 * The pretend machine for acpi_init(): the input after a flags byte and
 * a 36-byte RSDP copy (the multiboot2 tag) is an image of physical
 * memory at IMAGE_PA; every other byte below 4 GiB reads as zero.  The
 * direct map covers the image or nothing (a flag), as kpt_walk() tells
 * acpi.c; ioremap() returns a fresh heap copy of exactly the bytes asked
 * for, so a read past what acpi.c mapped is caught, and counts them, so
 * a mapping acpi_init() forgets to undo is caught too.  A flag fixes the
 * checksums along the path, so that mutations reach the MADT.
 */
#include <string.h>

#include "arch/x86/acpi.h"
#include "mm/kpt.h"
#include "mm/vmalloc.h"
#include "tests/fuzz/fuzz.h"
#include "tests/host/vmap_shim.h"

#define IMAGE_PA   0xe0000ULL          /* the BIOS area the scan reads */
#define PHYS_TOP   (4ULL << 30)        /* "RAM and devices" end here */
#define IOREMAP_MAX (1u << 20)         /* larger: ioremap fails (NULL) */

uintptr_t direct_map_offset;
static const uint8_t *image;
static size_t image_len;
static bool image_direct_mapped;
static long mappings_live;

/* ---- the pretend machine ---- */

int kpt_walk(virt_addr_t va, struct kpt_walk *w)
{
	phys_addr_t pa = va - direct_map_offset;

	memset(w, 0, sizeof(*w));
	if (!image_direct_mapped || pa < IMAGE_PA || pa - IMAGE_PA >= image_len)
		return -ENOENT;
	w->level = PT_LEVEL_PMD;
	w->pa = pa;
	return 0;
}

void *ioremap(phys_addr_t pa, size_t size)
{
	uint8_t *copy;

	if (size == 0 || size > IOREMAP_MAX || pa >= PHYS_TOP || size > PHYS_TOP - pa)
		return NULL;
	copy = calloc(1, size);
	if (pa < IMAGE_PA + image_len && pa + size > IMAGE_PA) {   /* the image part */
		phys_addr_t from = pa > IMAGE_PA ? pa : IMAGE_PA;
		phys_addr_t to = MIN(pa + size, IMAGE_PA + image_len);

		memcpy(copy + (from - pa), image + (from - IMAGE_PA), to - from);
	}
	mappings_live++;
	return copy;
}

void iounmap(const void *addr)
{
	FUZZ_CHECK(mappings_live > 0, "iounmap(%p) with nothing mapped", addr);
	mappings_live--;
	free((void *)addr);
}

/* ---- references ---- */

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}


/* The RSDP: 0 and the root, or -EINVAL. */
static int ref_rsdp(const uint8_t *r, size_t len, phys_addr_t *root, bool *xsdt)
{
	if (len < 20 || memcmp(r, "RSD PTR ", 8) || sum(r, 20))
		return -EINVAL;
	*xsdt = false;
	*root = u32_at(r + 16);
	if (r[15] >= 2 && len >= 36) {
		uint32_t length = u32_at(r + 20);

		if (length < 36 || length > len || sum(r, length))
			return -EINVAL;
		if (u64_at(r + 24)) {
			*xsdt = true;
			*root = u64_at(r + 24);
		}
	}
	return 0;
}

static int ref_table(const uint8_t *h, size_t avail, const char *sig)
{
	if (avail < 36 || (sig && memcmp(h, sig, 4)))
		return -EINVAL;
	if (u32_at(h + 4) < 36 || u32_at(h + 4) > avail || sum(h, u32_at(h + 4)))
		return -EINVAL;
	return 0;
}

/* The MADT: -EINVAL if an entry is malformed or no CPU is enabled, else
 * how many distinct enabled CPUs it lists. */
static int ref_madt_cpus(const uint8_t *t, size_t len)
{
	static const uint8_t min_len[10] = { 8, 12, 10, 0, 6, 12, 0, 0, 0, 16 };
	uint32_t ids[256 + MAX_CPUS];
	size_t off, n = 0;

	if (len < 44)
		return -EINVAL;
	for (off = 44; off < len; off += t[off + 1]) {
		uint8_t type = t[off], elen = len - off >= 2 ? t[off + 1] : 0;
		uint32_t id, flags;
		size_t i;

		if (elen < 2 || elen > len - off || (type < 10 && elen < min_len[type]))
			return -EINVAL;
		if (type == 0)
			id = t[off + 3], flags = u32_at(t + off + 4);
		else if (type == 9)
			id = u32_at(t + off + 4), flags = u32_at(t + off + 8);
		else
			continue;
		for (i = 0; i < n && ids[i] != id; i++)
			;
		if ((flags & 1) && i == n && n < ARRAY_SIZE(ids))
			ids[n++] = id;
	}
	return n ? (int)n : -EINVAL;
}

/* ---- the modes ---- */

static void fuzz_rsdp(const uint8_t *in, size_t len)
{
	uint8_t *r = malloc(len);
	phys_addr_t root = 0, want_root = 0;
	bool xsdt = false, want_xsdt = false;
	int err, want;

	memcpy(r, in, len);
	err = acpi_rsdp_check(r, len, &root, &xsdt);
	want = ref_rsdp(r, len, &want_root, &want_xsdt);
	FUZZ_CHECK(err == want, "acpi_rsdp_check: %d, reference %d (%zu bytes)", err, want, len);
	if (!err)
		FUZZ_CHECK(root == want_root && xsdt == want_xsdt,
			   "root %#lx %s, reference %#lx %s", root, xsdt ? "XSDT" : "RSDT",
			   want_root, want_xsdt ? "XSDT" : "RSDT");
	else
		FUZZ_CHECK(shim_log_contains("acpi: RSDP"), "no message: %s", shim_log);
	free(r);
}

static void fuzz_table(const uint8_t *in, size_t len)
{
	static const char *const sigs[] = { NULL, "APIC", "XSDT", "RSDT" };
	const char *sig = sigs[(len ? in[0] : 0) % 4];
	uint8_t *h = malloc(len ? len - 1 : 1);
	int err, want;

	memcpy(h, in + !!len, len ? len - 1 : 0);
	err = acpi_table_check((const void *)h, len ? len - 1 : 0, sig);
	want = ref_table(h, len ? len - 1 : 0, sig);
	FUZZ_CHECK(err == want, "acpi_table_check(%s): %d, reference %d", sig ? sig : "any",
		   err, want);
	if (err)
		FUZZ_CHECK(shim_log_contains("acpi: "), "no message");
	free(h);
}

static void check_madt_info(const struct acpi_madt_info *m)
{
	FUZZ_CHECK(m->nr_cpus >= 1 && m->nr_cpus <= MAX_CPUS, "%u CPUs", m->nr_cpus);
	FUZZ_CHECK(m->nr_ioapics <= ACPI_MAX_IOAPICS && m->nr_overrides <= ACPI_MAX_OVERRIDES,
		   "%u I/O APICs, %u overrides", m->nr_ioapics, m->nr_overrides);
	for (unsigned int i = 0; i < m->nr_cpus; i++)
		for (unsigned int j = 0; j < i; j++)
			FUZZ_CHECK(m->cpus[i].apic_id != m->cpus[j].apic_id,
				   "APIC id %u listed twice", m->cpus[i].apic_id);
}

static void fuzz_madt(const uint8_t *in, size_t len)
{
	struct acpi_madt_info *out;
	uint8_t *t;
	uint32_t len32 = (uint32_t)len;
	int err, want;

	if (len < 36)
		return;    /* not a checked table: outside the contract */
	out = malloc(sizeof(*out));
	t = malloc(len);
	memcpy(t, in, len);
	memcpy(t + 4, &len32, 4);
	err = acpi_madt_parse((const void *)t, out);
	want = ref_madt_cpus(t, len);
	FUZZ_CHECK((err < 0) == (want < 0), "acpi_madt_parse: %d, reference %d; %s",
		   err, want, shim_log);
	if (err)
		FUZZ_CHECK(shim_log_contains("acpi: APIC: "), "no message");
	else {
		check_madt_info(out);
		FUZZ_CHECK(out->nr_cpus == (unsigned int)(want < MAX_CPUS ? want : MAX_CPUS),
			   "%u CPUs, reference %d distinct enabled", out->nr_cpus, want);
	}
	free(t);
	free(out);
}

/* Make the table at @pa (in the image) check out: its checksum byte. */
static void fix_table(uint8_t *img, size_t len, phys_addr_t pa)
{
	uint64_t off = pa - IMAGE_PA, tlen;

	if (pa < IMAGE_PA || off >= len || len - off < 36)
		return;
	tlen = u32_at(img + off + 4);
	if (tlen < 36 || tlen > len - off)
		return;
	img[off + 9] -= sum(img + off, tlen);
}

/* Fix the checksums along the path acpi_init() takes: the RSDP, the
 * root table, and every table the root lists. */
static void fix_checksums(uint8_t *rsdp, size_t rsdp_len, uint8_t *img, size_t len)
{
	phys_addr_t root;
	bool xsdt;
	uint64_t off, tlen, esize;

	rsdp[8] -= sum(rsdp, 20);
	if (rsdp_len == 36 && u32_at(rsdp + 20) == 36)
		rsdp[32] -= sum(rsdp, 36);
	if (ref_rsdp(rsdp, rsdp_len, &root, &xsdt))
		return;
	fix_table(img, len, root);
	off = root - IMAGE_PA;
	if (root < IMAGE_PA || off >= len || len - off < 36 ||
	    (tlen = u32_at(img + off + 4)) < 36 || tlen > len - off)
		return;
	esize = xsdt ? 8 : 4;
	for (uint64_t e = off + 36; e + esize <= off + tlen; e += esize)
		fix_table(img, len, xsdt ? u64_at(img + e) : u32_at(img + e));
	fix_table(img, len, root);    /* the entries did not change; its sum did */
}

static void fuzz_init(const uint8_t *in, size_t len)
{
	struct fuzz_reader r = { in, len };
	uint8_t flags = fuzz_u8(&r);
	struct boot_info *bi = calloc(1, sizeof(*bi));
	uint8_t *img;
	int err;

	bi->acpi_rsdp_len = flags & 1 ? (flags & 2 ? 36 : 20) : 0;
	for (size_t i = 0; i < 36; i++)
		bi->acpi_rsdp_copy[i] = fuzz_u8(&r);
	bi->booted_via_efi = flags & 4;
	image_direct_mapped = flags & 8;
	image_len = r.left;
	img = malloc(image_len ? image_len : 1);
	memcpy(img, r.p, image_len);
	if (flags & 16)
		fix_checksums(bi->acpi_rsdp_copy, bi->acpi_rsdp_len ? bi->acpi_rsdp_len : 36,
			      img, image_len);
	image = img;
	direct_map_offset = (uintptr_t)img - IMAGE_PA;

	err = acpi_init(bi);
	FUZZ_CHECK(mappings_live == 0, "%ld mappings left after acpi_init", mappings_live);
	if (err) {
		static const struct acpi_madt_info zero;

		FUZZ_CHECK(!memcmp(&acpi_madt, &zero, sizeof(zero)), "acpi_madt kept after %d", err);
		FUZZ_CHECK(shim_log_contains("acpi: "), "no message for %d", err);
	} else {
		check_madt_info(&acpi_madt);
	}
	free(img);
	free(bi);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void (*const modes[])(const uint8_t *, size_t) = {
		fuzz_rsdp, fuzz_table, fuzz_madt, fuzz_init,
	};

	if (size == 0)
		return 0;
	shim_log_clear();
	modes[data[0] % ARRAY_SIZE(modes)](data + 1, size - 1);
	return 0;
}
