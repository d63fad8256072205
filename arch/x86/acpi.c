/* acpi.c: find the MADT and decode it (see arch/x86/acpi.h).
 *
 * Boot-only.  The RSDP comes from the multiboot2 ACPI tag, which both
 * GRUB-on-BIOS and GRUB-on-UEFI provide; without one, under BIOS, it is
 * searched for where ACPI says it may be: the first KiB of the EBDA and
 * the BIOS ROM area 0xe0000-0xfffff, on 16-byte boundaries.
 *
 * Physical memory is read through the direct map where the table lies
 * in RAM the kernel maps (ACPI reclaimable, NVS, low memory), and
 * through ioremap() elsewhere: QEMU's firmware puts its tables in a
 * "reserved" range at the top of low RAM, which the direct map leaves
 * out.  So acpi_init() runs after vmalloc_init(); its mappings are
 * undone at its end (the tables' contents are copied into acpi_madt).
 */
#include "arch/x86/acpi.h"
#include "kernel/printk.h"
#include "kernel/string.h"
#include "mm/kpt.h"
#include "mm/layout.h"
#include "mm/vmalloc.h"

struct acpi_madt_info acpi_madt;

/* ---- reading physical memory ---- */

/* Tables mapped by acpi_phys(), unmapped at the end of acpi_init().  A
 * machine has a dozen tables; each is looked at twice (header, whole). */
#define ACPI_MAX_MAPPINGS 64
static void *acpi_mappings[ACPI_MAX_MAPPINGS];
static unsigned int acpi_nr_mappings;

static bool in_direct_map(phys_addr_t pa, uint64_t len)
{
	struct kpt_walk w;

	return kpt_walk((virt_addr_t)phys_to_virt(pa), &w) == 0 &&
	       kpt_walk((virt_addr_t)phys_to_virt(pa + len - 1), &w) == 0;
}

/* A pointer to [pa, pa + len), or NULL with a message naming @what. */
static const void *acpi_phys(phys_addr_t pa, uint64_t len, const char *what)
{
	void *p;

	if (len == 0 || pa + len < pa) {
		printk("acpi: %s at %#llx has a bad length %llu\n", what,
		       (unsigned long long)pa, (unsigned long long)len);
		return NULL;
	}
	if (in_direct_map(pa, len))
		return phys_to_virt(pa);
	if (acpi_nr_mappings == ACPI_MAX_MAPPINGS) {
		printk("acpi: more than %u table mappings; %s at %#llx not read\n",
		       ACPI_MAX_MAPPINGS, what, (unsigned long long)pa);
		return NULL;
	}
	p = ioremap(pa, len);
	if (!p)
		printk("acpi: cannot map %s at %#llx (+%llu bytes)\n", what,
		       (unsigned long long)pa, (unsigned long long)len);
	else
		acpi_mappings[acpi_nr_mappings++] = p;
	return p;
}

static void acpi_unmap_all(void)
{
	while (acpi_nr_mappings)
		iounmap(acpi_mappings[--acpi_nr_mappings]);
}

static uint8_t checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return sum;
}

/* ---- RSDP ---- */

/* The Root System Description Pointer (ACPI 6.5, 5.2.5.3). */
struct acpi_rsdp {
	char signature[8];          /* "RSD PTR " */
	uint8_t checksum;           /* of the first 20 bytes */
	char oem_id[6];
	uint8_t revision;           /* 0: ACPI 1.0 (20 bytes), 2: 2.0+ (36) */
	uint32_t rsdt_pa;
	/* ACPI 2.0+ only: */
	uint32_t length;
	uint64_t xsdt_pa;
	uint8_t extended_checksum;  /* of all @length bytes */
	uint8_t reserved[3];
} __packed;

#define RSDP_V1_LEN 20

int acpi_rsdp_check(const void *p, size_t len, phys_addr_t *root_pa,
		    bool *root_is_xsdt)
{
	const struct acpi_rsdp *r = p;

	if (len < RSDP_V1_LEN || memcmp(r->signature, "RSD PTR ", 8) != 0) {
		printk("acpi: RSDP: bad signature (or only %zu bytes)\n", len);
		return -EINVAL;
	}
	if (checksum(r, RSDP_V1_LEN) != 0) {
		printk("acpi: RSDP: checksum of the first 20 bytes is %#x, not 0\n",
		       checksum(r, RSDP_V1_LEN));
		return -EINVAL;
	}
	if (r->revision >= 2 && len >= sizeof(*r)) {
		if (r->length < sizeof(*r) || r->length > len ||
		    checksum(r, r->length) != 0) {
			printk("acpi: RSDP: ACPI 2.0 part is corrupt (length %u, "
			       "extended checksum %#x)\n", r->length,
			       r->length <= len ? checksum(r, r->length) : 0);
			return -EINVAL;
		}
		if (r->xsdt_pa) {
			*root_pa = r->xsdt_pa;
			*root_is_xsdt = true;
			return 0;
		}
	}
	*root_pa = r->rsdt_pa;
	*root_is_xsdt = false;
	return 0;
}

/* Under BIOS without a multiboot2 tag: the EBDA's first KiB (its segment
 * is the word at 0x40e), then 0xe0000-0xfffff.  Each area is mapped once,
 * whole: one mapping per 16-byte candidate would use up the
 * ACPI_MAX_MAPPINGS slots within the first KiB (acpi_phys() then returns
 * NULL) and would map 16 bytes of a candidate that is read for 20 or 36. */
static int acpi_rsdp_scan_bios(phys_addr_t *root_pa, bool *root_is_xsdt)
{
	const uint16_t *ebda_seg = acpi_phys(0x40e, 2, "BIOS data area");
	struct { phys_addr_t start, end; } areas[] = {
		{ 0, 0 }, { 0xe0000, 0x100000 },
	};

	if (ebda_seg && *ebda_seg)
		areas[0] = (typeof(areas[0])){ (phys_addr_t)*ebda_seg << 4,
					       ((phys_addr_t)*ebda_seg << 4) + 1024 };
	for (size_t i = 0; i < ARRAY_SIZE(areas); i++) {
		uint64_t len = areas[i].end - areas[i].start;
		const uint8_t *area = len ? acpi_phys(areas[i].start, len, "BIOS area") : NULL;

		for (uint64_t off = 0; area && off + RSDP_V1_LEN <= len; off += 16) {
			const struct acpi_rsdp *r = (const void *)(area + off);

			if (memcmp(r->signature, "RSD PTR ", 8) == 0 &&
			    checksum(r, RSDP_V1_LEN) == 0) {
				printk("acpi: RSDP found at %#llx by the BIOS area scan\n",
				       (unsigned long long)(areas[i].start + off));
				return acpi_rsdp_check(r, MIN(sizeof(*r), len - off),
						       root_pa, root_is_xsdt);
			}
		}
	}
	printk("acpi: no RSDP in the EBDA or the BIOS area\n");
	return -ENOENT;
}

/* ---- tables ---- */

int acpi_table_check(const struct acpi_sdt_header *h, size_t avail, const char *sig)
{
	char name[5] = { 0 };

	if (avail < sizeof(*h)) {
		printk("acpi: table header needs %zu bytes, only %zu readable\n",
		       sizeof(*h), avail);
		return -EINVAL;
	}
	memcpy(name, h->signature, 4);
	if (sig && memcmp(h->signature, sig, 4) != 0) {
		printk("acpi: %s: bad signature \"%s\"\n", sig, name);
		return -EINVAL;
	}
	if (h->length < sizeof(*h) || h->length > avail) {
		printk("acpi: %s: length %u is outside %zu..%zu\n", name,
		       h->length, sizeof(*h), avail);
		return -EINVAL;
	}
	if (checksum(h, h->length) != 0) {
		printk("acpi: %s: checksum of its %u bytes is %#x, not 0\n",
		       name, h->length, checksum(h, h->length));
		return -EINVAL;
	}
	return 0;
}

/* The longest table read here.  The kernel reads the RSDT/XSDT and the
 * MADT only: an MADT entry is 8 bytes per CPU (12 per I/O APIC), so 256
 * CPUs take about 2 KiB.  A header claiming more is corrupt; mapping and
 * checksumming up to 4 GiB of it would take the boot with it. */
#define ACPI_TABLE_MAX (64 * KiB)

/* Map the table at @pa: first its header, then its whole length. */
static const struct acpi_sdt_header *acpi_table_at(phys_addr_t pa, const char *sig)
{
	const struct acpi_sdt_header *h = acpi_phys(pa, sizeof(*h), sig);

	if (h && h->length > ACPI_TABLE_MAX) {
		printk("acpi: %s at %#llx claims %u bytes, more than the %llu "
		       "this kernel reads; ignored\n", sig, (unsigned long long)pa,
		       h->length, (unsigned long long)ACPI_TABLE_MAX);
		return NULL;
	}
	if (h)   /* now the whole table, which may run past the header's page */
		h = acpi_phys(pa, MAX(h->length, (uint32_t)sizeof(*h)), sig);
	if (!h || acpi_table_check(h, h->length, sig) < 0)
		return NULL;
	return h;
}

int acpi_root_find(phys_addr_t root_pa, bool root_is_xsdt, const char *sig,
		   phys_addr_t *table_pa)
{
	const char *root_sig = root_is_xsdt ? "XSDT" : "RSDT";
	const struct acpi_sdt_header *root = acpi_table_at(root_pa, root_sig);
	size_t entry_size = root_is_xsdt ? 8 : 4, n;
	const uint8_t *entries;

	if (!root)
		return -EINVAL;
	entries = (const uint8_t *)(root + 1);
	n = (root->length - sizeof(*root)) / entry_size;
	for (size_t i = 0; i < n; i++) {
		uint64_t pa = 0;
		const struct acpi_sdt_header *h;

		memcpy(&pa, entries + i * entry_size, entry_size);   /* unaligned */
		h = acpi_phys(pa, sizeof(*h), root_sig);
		if (h && memcmp(h->signature, sig, 4) == 0) {
			if (!acpi_table_at(pa, sig))
				return -EINVAL;
			*table_pa = pa;
			return 0;
		}
	}
	printk("acpi: %s lists %zu tables, none is \"%s\"\n", root_sig, n, sig);
	return -ENOENT;
}

/* ---- MADT (ACPI 6.5, 5.2.12) ---- */

struct acpi_madt {
	struct acpi_sdt_header h;
	uint32_t lapic_pa;
	uint32_t flags;
#define MADT_PCAT_COMPAT 0x1        /* dual 8259s are present */
	/* entries follow: u8 type, u8 length, then the body */
} __packed;

enum madt_entry_type {
	MADT_LAPIC = 0,             /* u8 uid, u8 apic_id, u32 flags */
	MADT_IOAPIC = 1,            /* u8 id, u8 0, u32 address, u32 gsi_base */
	MADT_IRQ_OVERRIDE = 2,      /* u8 bus, u8 irq, u32 gsi, u16 flags */
	MADT_LAPIC_NMI = 4,         /* which LINT pin is NMI */
	MADT_LAPIC_ADDRESS = 5,     /* u16 0, u64 address: replaces lapic_pa */
	MADT_X2APIC = 9,            /* u16 0, u32 x2apic_id, u32 flags, u32 uid */
};
#define MADT_CPU_ENABLED        0x1  /* usable now */
#define MADT_CPU_ONLINE_CAPABLE 0x2  /* could be hot-added later: not used */

/* Smallest valid length of each entry type we read. */
static const uint8_t madt_entry_min_len[] = {
	[MADT_LAPIC] = 8, [MADT_IOAPIC] = 12, [MADT_IRQ_OVERRIDE] = 10,
	[MADT_LAPIC_NMI] = 6, [MADT_LAPIC_ADDRESS] = 12, [MADT_X2APIC] = 16,
};

static void madt_add_cpu(struct acpi_madt_info *out, uint32_t apic_id,
			 uint32_t uid, uint32_t flags)
{
	if (!(flags & MADT_CPU_ENABLED)) {
		out->cpus_disabled++;
		return;
	}
	/* Firmware may list a CPU twice, as LAPIC and as x2APIC. */
	for (unsigned int i = 0; i < out->nr_cpus; i++)
		if (out->cpus[i].apic_id == apic_id)
			return;
	if (out->nr_cpus == MAX_CPUS) {
		out->cpus_dropped++;
		return;
	}
	out->cpus[out->nr_cpus++] = (struct acpi_cpu){ apic_id, uid };
}

static void madt_decode_entry(struct acpi_madt_info *out, uint8_t type,
			      const uint8_t *e)
{
	uint32_t u32a, u32b, u32c;
	uint64_t u64;

	switch (type) {
	case MADT_LAPIC:
		memcpy(&u32a, e + 4, 4);
		madt_add_cpu(out, e[3], e[2], u32a);
		break;
	case MADT_X2APIC:
		memcpy(&u32a, e + 4, 4);
		memcpy(&u32b, e + 8, 4);
		memcpy(&u32c, e + 12, 4);
		madt_add_cpu(out, u32a, u32c, u32b);
		break;
	case MADT_IOAPIC:
		if (out->nr_ioapics == ACPI_MAX_IOAPICS)
			break;
		memcpy(&u32a, e + 4, 4);
		memcpy(&u32b, e + 8, 4);
		out->ioapics[out->nr_ioapics++] = (struct acpi_ioapic){ e[2], u32a, u32b };
		break;
	case MADT_IRQ_OVERRIDE:
		if (out->nr_overrides == ACPI_MAX_OVERRIDES)
			break;
		memcpy(&u32a, e + 4, 4);
		out->overrides[out->nr_overrides++] = (struct acpi_irq_override){
			.bus_irq = e[3], .gsi = u32a, .flags = (uint16_t)(e[8] | e[9] << 8) };
		break;
	case MADT_LAPIC_ADDRESS:
		memcpy(&u64, e + 4, 8);
		out->lapic_pa = u64;
		break;
	default:
		break;      /* LAPIC NMI pins and types we do not use */
	}
}

int acpi_madt_parse(const struct acpi_sdt_header *h, struct acpi_madt_info *out)
{
	const struct acpi_madt *madt = (const void *)h;
	const uint8_t *p, *end = (const uint8_t *)h + h->length;

	memset(out, 0, sizeof(*out));
	if (h->length < sizeof(*madt)) {
		printk("acpi: APIC: %u bytes, shorter than its %zu-byte header\n",
		       h->length, sizeof(*madt));
		return -EINVAL;
	}
	out->lapic_pa = madt->lapic_pa;
	out->has_8259 = madt->flags & MADT_PCAT_COMPAT;
	for (p = (const uint8_t *)(madt + 1); p < end; p += p[1]) {
		size_t offset = (size_t)(p - (const uint8_t *)h);
		uint8_t min = p[0] < ARRAY_SIZE(madt_entry_min_len) ?
			      madt_entry_min_len[p[0]] : 0;

		if (end - p < 2 || p[1] < 2 || p[1] > end - p) {
			printk("acpi: APIC: entry at offset %zu is truncated "
			       "(length %u, %zu bytes left)\n", offset,
			       end - p < 2 ? 0 : p[1], (size_t)(end - p));
			return -EINVAL;
		}
		if (p[1] < min) {
			printk("acpi: APIC: entry of type %u at offset %zu has "
			       "length %u, needs %u\n", p[0], offset, p[1], min);
			return -EINVAL;
		}
		madt_decode_entry(out, p[0], p);
	}
	if (out->nr_cpus == 0) {
		printk("acpi: APIC: lists no enabled CPU\n");
		return -EINVAL;
	}
	return 0;
}

/* ---- boot ---- */

static void acpi_print(const struct acpi_madt_info *m)
{
	printk("acpi: MADT: %u CPUs (APIC ids", m->nr_cpus);
	for (unsigned int i = 0; i < m->nr_cpus; i++)
		printk(" %u", m->cpus[i].apic_id);
	printk("), %u not enabled (left alone), local APIC at %#llx, %u I/O "
	       "APIC(s), %u IRQ override(s)%s\n", m->cpus_disabled,
	       (unsigned long long)m->lapic_pa, m->nr_ioapics, m->nr_overrides,
	       m->has_8259 ? ", 8259 PICs present" : "");
	if (m->cpus_dropped)
		printk("acpi: MADT: %u more enabled CPUs beyond MAX_CPUS (%d) "
		       "are left out\n", m->cpus_dropped, MAX_CPUS);
}

int acpi_init(const struct boot_info *bi)
{
	const struct acpi_sdt_header *madt;
	phys_addr_t root_pa, madt_pa;
	bool root_is_xsdt;
	int err;

	if (bi->acpi_rsdp_len)
		err = acpi_rsdp_check(bi->acpi_rsdp_copy, bi->acpi_rsdp_len,
				      &root_pa, &root_is_xsdt);
	else if (!bi->booted_via_efi)
		err = acpi_rsdp_scan_bios(&root_pa, &root_is_xsdt);
	else {
		printk("acpi: the loader passed no RSDP, and under UEFI there "
		       "is no BIOS area to search\n");
		err = -ENOENT;
	}
	if (!err)
		err = acpi_root_find(root_pa, root_is_xsdt, "APIC", &madt_pa);
	if (!err)
		err = (madt = acpi_table_at(madt_pa, "APIC")) ?
		      acpi_madt_parse(madt, &acpi_madt) : -EINVAL;
	acpi_unmap_all();
	if (err) {
		memset(&acpi_madt, 0, sizeof(acpi_madt));
		return err;
	}
	acpi_print(&acpi_madt);
	return 0;
}
