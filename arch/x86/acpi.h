/* acpi.h: what the firmware's ACPI tables say about the CPUs and the
 * interrupt hardware, read once at boot (arch/x86/acpi.c).
 *
 * Only the MADT ("APIC" table) is read: it lists every CPU's local APIC
 * id, the I/O APICs and the ISA interrupt overrides.  The path to it:
 *
 *   RSDP (multiboot2 tag, or the BIOS area scan)
 *     -> XSDT (64-bit entries, ACPI 2.0+) or RSDT (32-bit entries)
 *       -> the table whose signature is "APIC"
 *
 * Nothing is trusted: every signature, length and checksum is checked,
 * and every MADT entry must lie inside its table.  A fault is reported
 * naming the table and what was wrong, and acpi_init() fails, which
 * makes smp_boot() run the machine on the boot CPU alone.
 */
#ifndef ARCH_X86_ACPI_H
#define ARCH_X86_ACPI_H

#include "arch/x86/percpu.h"    /* MAX_CPUS */
#include "kernel/bootinfo.h"
#include "kernel/types.h"

#define ACPI_MAX_IOAPICS   8
#define ACPI_MAX_OVERRIDES 16

/* The header every ACPI table but the RSDP starts with (ACPI 6.5, 5.2.6). */
struct acpi_sdt_header {
	char signature[4];          /* "APIC", "XSDT", ... */
	uint32_t length;            /* of the whole table, this header included */
	uint8_t revision;
	uint8_t checksum;           /* all @length bytes sum to 0 (mod 256) */
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __packed;

struct acpi_cpu {
	uint32_t apic_id;           /* local APIC (or x2APIC) id */
	uint32_t acpi_uid;          /* the processor's ACPI id */
};

struct acpi_ioapic {
	uint32_t id;
	phys_addr_t pa;             /* its register window */
	uint32_t gsi_base;          /* first global system interrupt it serves */
};

struct acpi_irq_override {
	uint8_t bus_irq;            /* the ISA IRQ ... */
	uint32_t gsi;               /* ... arrives on this global interrupt */
	uint16_t flags;             /* polarity and trigger mode (MPS INTI) */
};

/* The MADT, decoded. */
struct acpi_madt_info {
	phys_addr_t lapic_pa;       /* local APIC registers (xAPIC mode) */
	bool has_8259;              /* PCAT_COMPAT: legacy PICs to mask */
	unsigned int nr_cpus;       /* usable CPUs, in MADT order */
	struct acpi_cpu cpus[MAX_CPUS];
	unsigned int cpus_disabled; /* entries not enabled (nor online-capable) */
	unsigned int cpus_dropped;  /* enabled, but beyond MAX_CPUS */
	unsigned int nr_ioapics;
	struct acpi_ioapic ioapics[ACPI_MAX_IOAPICS];
	unsigned int nr_overrides;
	struct acpi_irq_override overrides[ACPI_MAX_OVERRIDES];
};

/* Filled by acpi_init(); nr_cpus == 0 until then or if it failed. */
extern struct acpi_madt_info acpi_madt;

/* Find and decode the MADT.  0, or a negative error after a message
 * naming the table and the fault (the caller then boots one CPU).
 * => boot CPU, once, before mm_init(): the tables (and the BIOS area
 *    under 1 MiB) are read through the early 1 GiB direct-map window. */
int acpi_init(const struct boot_info *bi);

/* ---- the parsers, exposed for tests/acpi.c ---- */

/* Check the RSDP in @rsdp[0..len): signature, checksum, and for ACPI 2.0+
 * the extended checksum.  Sets *root_pa and *root_is_xsdt. */
int acpi_rsdp_check(const void *rsdp, size_t len, phys_addr_t *root_pa,
		    bool *root_is_xsdt);

/* Check a table header and checksum; @avail is how many bytes may be read
 * at @h, @sig the signature expected (NULL: any). */
int acpi_table_check(const struct acpi_sdt_header *h, size_t avail,
		     const char *sig);

/* Look through the RSDT/XSDT at @root_pa for a valid table with
 * signature @sig; its physical address in *table_pa.  -ENOENT if none. */
int acpi_root_find(phys_addr_t root_pa, bool root_is_xsdt, const char *sig,
		   phys_addr_t *table_pa);

/* Decode a checked MADT of @madt->length bytes into *out. */
int acpi_madt_parse(const struct acpi_sdt_header *madt,
		    struct acpi_madt_info *out);

#endif
