/* tests/acpi.c: the ACPI parsers against crafted tables.  A good MADT
 * decodes to what it lists; each kind of corruption (bad signature, bad
 * checksum, truncated or short entry) is refused with a message naming
 * the table and the fault, which appears as this case's diagnostics. */
#include "arch/x86/acpi.h"
#include "kernel/printk.h"
#include "kernel/selftest.h"
#include "kernel/smp.h"
#include "kernel/string.h"
#include "mm/frame.h"
#include "mm/layout.h"

/* A MADT's entries, as bytes (ACPI 6.5, 5.2.12): what a small machine
 * might list, with the awkward cases firmware produces. */
static const uint8_t good_entries[] = {
	0, 8, 0, 0, 1, 0, 0, 0,                      /* LAPIC uid 0, APIC 0, enabled */
	0, 8, 1, 2, 1, 0, 0, 0,                      /* LAPIC uid 1, APIC 2, enabled */
	0, 8, 2, 5, 0, 0, 0, 0,                      /* LAPIC uid 2, APIC 5, disabled */
	1, 12, 1, 0, 0x00, 0x00, 0xc0, 0xfe, 0, 0, 0, 0, /* IOAPIC 1 at 0xfec00000, GSI 0 */
	2, 10, 0, 0, 2, 0, 0, 0, 0, 0,               /* ISA IRQ 0 -> GSI 2 */
	4, 6, 0xff, 0, 0, 1,                         /* LAPIC NMI on LINT1 */
	9, 16, 0, 0, 0x2c, 1, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, /* x2APIC 300, uid 7 */
	9, 16, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0,    /* APIC 2 again */
};

#define MADT_HEADER_LEN 44      /* SDT header, lapic address, flags */

static uint8_t table[512] __aligned(16);

static void fix_checksum(uint8_t *t, size_t len)
{
	uint8_t sum = 0;

	t[9] = 0;
	for (size_t i = 0; i < len; i++)
		sum += t[i];
	t[9] = (uint8_t)-sum;
}

/* Build "APIC" with @entries into table[]; returns its header. */
static struct acpi_sdt_header *build_madt(const uint8_t *entries, size_t len)
{
	struct acpi_sdt_header *h = (void *)table;
	uint32_t lapic = 0xfee00000, flags = 1;

	memset(table, 0, sizeof(table));
	memcpy(h->signature, "APIC", 4);
	h->length = (uint32_t)(MADT_HEADER_LEN + len);
	h->revision = 3;
	memcpy(table + 36, &lapic, 4);
	memcpy(table + 40, &flags, 4);
	memcpy(table + MADT_HEADER_LEN, entries, len);
	fix_checksum(table, h->length);
	return h;
}

static void test_good_madt_decodes(struct selftest *t)
{
	struct acpi_sdt_header *h = build_madt(good_entries, sizeof(good_entries));
	struct acpi_madt_info m;

	ASSERT_EQ(t, acpi_table_check(h, sizeof(table), "APIC"), 0);
	ASSERT_EQ(t, acpi_madt_parse(h, &m), 0);
	EXPECT_EQ(t, m.lapic_pa, 0xfee00000);
	EXPECT_TRUE(t, m.has_8259);
	ASSERT_EQ(t, m.nr_cpus, 3);                  /* APIC 2 counted once */
	EXPECT_EQ(t, m.cpus[0].apic_id, 0);
	EXPECT_EQ(t, m.cpus[1].apic_id, 2);
	EXPECT_EQ(t, m.cpus[2].apic_id, 300);
	EXPECT_EQ(t, m.cpus[2].acpi_uid, 7);
	EXPECT_EQ(t, m.cpus_disabled, 1);
	ASSERT_EQ(t, m.nr_ioapics, 1);
	EXPECT_EQ(t, m.ioapics[0].pa, 0xfec00000);
	ASSERT_EQ(t, m.nr_overrides, 1);
	EXPECT_EQ(t, m.overrides[0].bus_irq, 0);
	EXPECT_EQ(t, m.overrides[0].gsi, 2);
}

/* One corruption per row, applied to the good MADT. */
struct madt_fault {
	const char *name;
	void (*corrupt)(struct acpi_sdt_header *h);
	int (*check)(struct acpi_sdt_header *h);
};

static int check_header(struct acpi_sdt_header *h)
{
	return acpi_table_check(h, sizeof(table), "APIC");
}

static int check_entries(struct acpi_sdt_header *h)
{
	struct acpi_madt_info m;

	return acpi_madt_parse(h, &m);
}

static void bad_signature(struct acpi_sdt_header *h) { h->signature[3] = 'X'; fix_checksum(table, h->length); }
static void bad_checksum(struct acpi_sdt_header *h) { h->checksum++; }
static void length_past_end(struct acpi_sdt_header *h) { h->length = sizeof(table) + 1; }
/* The last entry (x2APIC, 16 bytes) is cut to 10 bytes by the length. */
static void truncated_entry(struct acpi_sdt_header *h) { h->length -= 6; fix_checksum(table, h->length); }
static void zero_length_entry(struct acpi_sdt_header *h) { table[MADT_HEADER_LEN + 8 + 1] = 0; fix_checksum(table, h->length); }
static void short_lapic_entry(struct acpi_sdt_header *h) { table[MADT_HEADER_LEN + 1] = 6; fix_checksum(table, h->length); }
static void no_enabled_cpu(struct acpi_sdt_header *h)
{
	(void)h;
	build_madt(good_entries + 16, 8);     /* only the disabled LAPIC */
}

static const struct madt_fault madt_faults[] = {
	{ "bad signature", bad_signature, check_header },
	{ "bad checksum", bad_checksum, check_header },
	{ "length beyond what is readable", length_past_end, check_header },
	{ "last entry truncated", truncated_entry, check_entries },
	{ "entry of length 0", zero_length_entry, check_entries },
	{ "LAPIC entry too short", short_lapic_entry, check_entries },
	{ "no enabled CPU", no_enabled_cpu, check_entries },
};

static void test_corrupt_madt_is_refused(struct selftest *t)
{
	for (size_t i = 0; i < ARRAY_SIZE(madt_faults); i++) {
		const struct madt_fault *f = &madt_faults[i];
		struct acpi_sdt_header *h = build_madt(good_entries, sizeof(good_entries));
		int err;

		f->corrupt(h);
		err = f->check(h);
		if (err != -EINVAL)
			selftest_fail_at(t, __FILE__, __LINE__,
					 "MADT with %s: expected -EINVAL, saw %d", f->name, err);
	}
}

/* ---- RSDP ---- */

static void build_rsdp(uint8_t *r, uint8_t revision, uint32_t rsdt, uint64_t xsdt)
{
	uint32_t length = 36;
	uint8_t sum = 0;

	memset(r, 0, 36);
	memcpy(r, "RSD PTR ", 8);
	r[15] = revision;
	memcpy(r + 16, &rsdt, 4);
	memcpy(r + 20, &length, 4);
	memcpy(r + 24, &xsdt, 8);
	for (int i = 0; i < 20; i++)           /* the 1.0 checksum */
		sum += r[i];
	r[8] = (uint8_t)-sum;
	sum = 0;
	for (int i = 0; i < 36; i++)           /* the extended checksum */
		sum += r[i];
	r[32] = (uint8_t)-sum;
}

static void test_rsdp_checks(struct selftest *t)
{
	uint8_t r[36];
	phys_addr_t root = 0;
	bool xsdt = false;

	build_rsdp(r, 0, 0x1000, 0);
	EXPECT_EQ(t, acpi_rsdp_check(r, 20, &root, &xsdt), 0);
	EXPECT_EQ(t, root, 0x1000);
	EXPECT_TRUE(t, !xsdt);

	build_rsdp(r, 2, 0x1000, 0x2000);
	EXPECT_EQ(t, acpi_rsdp_check(r, 36, &root, &xsdt), 0);
	EXPECT_EQ(t, root, 0x2000);
	EXPECT_TRUE(t, xsdt);

	build_rsdp(r, 2, 0x1000, 0);              /* 2.0 without an XSDT */
	EXPECT_EQ(t, acpi_rsdp_check(r, 36, &root, &xsdt), 0);
	EXPECT_EQ(t, root, 0x1000);

	build_rsdp(r, 2, 0x1000, 0x2000);
	r[0] = 'X';
	EXPECT_EQ(t, acpi_rsdp_check(r, 36, &root, &xsdt), -EINVAL);
	build_rsdp(r, 2, 0x1000, 0x2000);
	r[16]++;                                  /* first 20 bytes */
	EXPECT_EQ(t, acpi_rsdp_check(r, 36, &root, &xsdt), -EINVAL);
	build_rsdp(r, 2, 0x1000, 0x2000);
	r[24]++;                                  /* the 2.0 part */
	EXPECT_EQ(t, acpi_rsdp_check(r, 36, &root, &xsdt), -EINVAL);
	EXPECT_EQ(t, acpi_rsdp_check(r, 8, &root, &xsdt), -EINVAL);
}

/* ---- RSDT / XSDT ---- */

static uint8_t root_table[64] __aligned(16);
static uint8_t other_table[36] __aligned(16);

static phys_addr_t build_root(bool xsdt, phys_addr_t madt_pa)
{
	struct acpi_sdt_header *h = (void *)root_table;
	struct acpi_sdt_header *o = (void *)other_table;
	uint64_t entries[2] = { kernel_image_virt_to_phys(other_table), madt_pa };
	size_t size = xsdt ? 8 : 4;

	memset(other_table, 0, sizeof(other_table));
	memcpy(o->signature, "FACP", 4);
	o->length = sizeof(other_table);
	fix_checksum(other_table, o->length);

	memset(root_table, 0, sizeof(root_table));
	memcpy(h->signature, xsdt ? "XSDT" : "RSDT", 4);
	h->length = (uint32_t)(36 + 2 * size);
	for (int i = 0; i < 2; i++)
		memcpy(root_table + 36 + i * size, &entries[i], size);
	fix_checksum(root_table, h->length);
	return kernel_image_virt_to_phys(root_table);
}

static void test_root_table_finds_madt(struct selftest *t)
{
	phys_addr_t madt_pa = kernel_image_virt_to_phys(table), found = 0;

	for (int xsdt = 0; xsdt < 2; xsdt++) {
		phys_addr_t root = build_root(xsdt, madt_pa);

		build_madt(good_entries, sizeof(good_entries));
		EXPECT_EQ(t, acpi_root_find(root, xsdt, "APIC", &found), 0);
		EXPECT_EQ(t, found, madt_pa);
		EXPECT_EQ(t, acpi_root_find(root, xsdt, "HPET", &found), -ENOENT);
		table[20]++;                  /* the MADT's checksum breaks */
		EXPECT_EQ(t, acpi_root_find(root, xsdt, "APIC", &found), -EINVAL);
		root_table[9]++;              /* and now the root's */
		EXPECT_EQ(t, acpi_root_find(root, xsdt, "APIC", &found), -EINVAL);
	}
}

/* A root table whose header claims 1 GiB is refused at its header, by
 * name, before anything maps or sums that much. */
static void test_oversized_table_is_refused(struct selftest *t)
{
	phys_addr_t root = build_root(false, kernel_image_virt_to_phys(table)), found;
	struct acpi_sdt_header *h = (void *)root_table;

	h->length = 1U << 30;
	EXPECT_EQ(t, acpi_root_find(root, false, "APIC", &found), -EINVAL);
	EXPECT_TRUE(t, printk_last_contains("claims 1073741824 bytes"));
}

/* Firmware may put its tables anywhere in RAM, above 4 GiB too, where
 * only the XSDT's 64-bit entries reach.  Take a 1 GiB block of RAM above
 * 4 GiB (the -m 6G boot has two), build an XSDT and an MADT at its
 * start, and find and decode the MADT through them. */
static void test_tables_above_4g_are_read(struct selftest *t)
{
	struct frame *held[8], *above = NULL;
	unsigned int n = 0;
	phys_addr_t found = 0;
	struct acpi_madt_info info;

	while (n < ARRAY_SIZE(held) && !above) {
		held[n] = frame_alloc(FRAME_MAX_ORDER, FRAME_KERNEL);
		if (!held[n])
			break;
		if (frame_pa(held[n]) >= 4 * GiB)
			above = held[n];
		n++;
	}
	if (above) {
		uint8_t *xsdt = frame_virt(above), *madt = xsdt + PAGE_SIZE;
		phys_addr_t madt_pa = frame_pa(above) + PAGE_SIZE;
		struct acpi_sdt_header *h = (void *)xsdt;

		build_madt(good_entries, sizeof(good_entries));
		memcpy(madt, table, ((struct acpi_sdt_header *)table)->length);
		memset(xsdt, 0, 64);
		memcpy(h->signature, "XSDT", 4);
		h->length = 36 + 8;
		memcpy(xsdt + 36, &madt_pa, 8);
		fix_checksum(xsdt, h->length);
		EXPECT_EQ(t, acpi_root_find(frame_pa(above), true, "APIC", &found), 0);
		EXPECT_EQ(t, found, madt_pa);
		EXPECT_EQ(t, acpi_madt_parse((const void *)madt, &info), 0);
		selftest_diag(t, "XSDT at %#llx, MADT at %#llx: %u CPUs decoded",
			      (unsigned long long)frame_pa(above),
			      (unsigned long long)madt_pa, info.nr_cpus);
	}
	while (n--)
		frame_free(held[n], FRAME_KERNEL);
	if (!above)
		selftest_skip(t, "no free 1 GiB of RAM above 4 GiB (boot with -m 6G)");
}

/* What this boot found agrees with the CPUs that came up. */
static void test_machine_madt_lists_online_cpus(struct selftest *t)
{
	if (acpi_madt.nr_cpus == 0) {
		selftest_skip(t, "this boot found no usable MADT");
		return;
	}
	EXPECT_LE(t, smp_num_online(), acpi_madt.nr_cpus);
	EXPECT_NE(t, acpi_madt.lapic_pa, 0);
}

static const struct selftest_case acpi_cases[] = {
	{ "good_madt_decodes", test_good_madt_decodes },
	{ "corrupt_madt_is_refused", test_corrupt_madt_is_refused },
	{ "rsdp_checks", test_rsdp_checks },
	{ "root_table_finds_madt", test_root_table_finds_madt },
	{ "oversized_table_is_refused", test_oversized_table_is_refused },
	{ "tables_above_4g_are_read", test_tables_above_4g_are_read },
	{ "machine_madt_lists_online_cpus", test_machine_madt_lists_online_cpus },
};
SELFTEST_SUITE(acpi, acpi_cases);
