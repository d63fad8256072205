/* pte.h: the x86-64 page-table format (SDM Vol. 3A, 4.5 "4-Level Paging").
 *
 * A virtual address is cut into four 9-bit table indices and an offset.
 * We use Linux's names for the levels; the SDM's names are below them:
 *
 *   63     48 47    39 38    30 29    21 20    12 11           0
 *  +---------+--------+--------+--------+--------+-------------+
 *  | copies  |  pgd   |  pud   |  pmd   |  pte   | byte within |
 *  | bit 47  | index  | index  | index  | index  | the page    |
 *  +---------+--------+--------+--------+--------+-------------+
 *   Linux:      pgd      pud      pmd      pte
 *   SDM table:  PML4     PDPT     PD       PT
 *   SDM entry:  PML4E    PDPTE    PDE      PTE
 *   a leaf is:  never    1 GiB    2 MiB    4 KiB
 *   level:      4        3        2        1     (enum pt_level)
 *
 * CR3 holds the physical address of the pgd.  Each table is one 4 KiB
 * frame of 512 eight-byte entries, and an entry has the same format at
 * every level: it either points to the next table down or, with PS set
 * in a pud or pmd entry (always in a pte), maps a page (a "leaf").
 */
#ifndef MM_PTE_H
#define MM_PTE_H

#include "arch/x86/arch.h"
#include "kernel/types.h"

/* One entry of any level.  The four names document which table a
 * pointer points into; the format is the same. */
typedef uint64_t pte_t;
typedef pte_t pmd_t;
typedef pte_t pud_t;
typedef pte_t pgd_t;

/* Entry bits, high bit first (SDM Vol. 3A, Tables 4-15 to 4-19). */
#define PTE_NX        (1ULL << 63)   /* execute-disable; reserved unless EFER.NXE */
/*                    bits 62..59       protection key (CR4.PKE); unused, 0 */
/*                    bits 58..52       ignored by the CPU; unused, 0 */
/*                    bits 51..MAXPHYADDR reserved: must be 0, else #PF(RSVD) */
/*                    bits 51..12       next table or page: PHYS_ADDR_MASK */
#define PTE_PAT_HUGE  (1ULL << 12)   /* PAT index bit 2, in a 1G/2M leaf */
/*                    bits 11..9        ignored by the CPU; unused, 0 */
#define PTE_G         (1ULL << 8)    /* global (with CR4.PGE): never set here */
#define PTE_PS        (1ULL << 7)    /* pud/pmd entry: this is a leaf */
#define PTE_PAT_4K    (1ULL << 7)    /* pte entry: PAT index bit 2 */
#define PTE_D         (1ULL << 6)    /* dirty: the page was written */
#define PTE_A         (1ULL << 5)    /* accessed: the entry was used */
#define PTE_PCD       (1ULL << 4)    /* PAT index bit 1 */
#define PTE_PWT       (1ULL << 3)    /* PAT index bit 0 */
#define PTE_US        (1ULL << 2)    /* user may access; never set here */
#define PTE_RW        (1ULL << 1)    /* writable */
#define PTE_P         (1ULL << 0)    /* present */

/* Cache attributes: PAT:PCD:PWT index the IA32_PAT MSR, which
 * cpu_enable_features() programs like Linux: 0 = WB, 1 = WC, 2 = UC-,
 * 3 = UC.  We only use indices 0..3, so PAT (whose position differs
 * between 4K and huge leaves) is always 0. */
#define PTE_CACHE_WB  0ULL
#define PTE_CACHE_WC  PTE_PWT
#define PTE_CACHE_UC  (PTE_PCD | PTE_PWT)

/* What a table entry (one pointing to a lower table) carries besides the
 * address.  RW and no NX here, so that each leaf alone decides its page's
 * access (the CPU ANDs RW and ORs NX over the levels).  A is preset so the
 * CPU never needs to write the entry back. */
#define PTE_TABLE_BITS (PTE_P | PTE_RW | PTE_A)

/* Debug poison written over a freed frame (mm/frame.c).  Read as an
 * entry, 0x6b6b6b6b6b6b6b6b is present with bits 51, 49 and 48 of the
 * address field set.  Those are reserved, so a hardware walk through a
 * freed, poisoned table faults with #PF(RSVD) at once instead of mapping
 * garbage -- but only while MAXPHYADDR <= 51 (QEMU's -cpu max and
 * qemu64 report 40; cpu_features.phys_addr_bits).  With MAXPHYADDR 52
 * every one of them is an address bit, and the poison is a valid entry
 * pointing at physical 0xb6b6b6b6b6000. */
#define FRAME_POISON_BYTE 0x6b

enum pt_level {
	PT_LEVEL_PTE = 1,
	PT_LEVEL_PMD = 2,
	PT_LEVEL_PUD = 3,
	PT_LEVEL_PGD = 4,
};

#define PT_ENTRIES   512            /* 4096-byte table / 8-byte entries */
#define PTE_SHIFT    12
#define PMD_SHIFT    21
#define PUD_SHIFT    30
#define PGD_SHIFT    39

#define PMD_SIZE     (1ULL << PMD_SHIFT)    /* 2 MiB: one pmd entry maps */
#define PUD_SIZE     (1ULL << PUD_SHIFT)    /* 1 GiB: one pud entry maps */
#define PGD_SIZE     (1ULL << PGD_SHIFT)    /* 512 GiB: one pgd entry maps */

/* What one entry at @level maps: 4 KiB, 2 MiB, 1 GiB or 512 GiB. */
static inline uint64_t pt_level_size(enum pt_level level)
{
	return 1ULL << (PTE_SHIFT + 9 * (level - PT_LEVEL_PTE));
}

static inline unsigned int pt_index(virt_addr_t va, enum pt_level level)
{
	return (va >> (PTE_SHIFT + 9 * (level - PT_LEVEL_PTE))) & (PT_ENTRIES - 1);
}

#define pgd_index(va) pt_index(va, PT_LEVEL_PGD)
#define pud_index(va) pt_index(va, PT_LEVEL_PUD)
#define pmd_index(va) pt_index(va, PT_LEVEL_PMD)
#define pte_index(va) pt_index(va, PT_LEVEL_PTE)

/* The end of the chunk of [addr, end) that one entry at @level covers:
 * the next boundary of that entry, or @end if it comes first.  Written
 * as Linux writes it ("- 1" on both sides) so that end == 0, the top of
 * the address space, works. */
static inline virt_addr_t pt_addr_end(virt_addr_t addr, virt_addr_t end,
				      enum pt_level level)
{
	virt_addr_t boundary = (addr + pt_level_size(level)) &
			       ~(pt_level_size(level) - 1);

	return boundary - 1 < end - 1 ? boundary : end;
}

#define pgd_addr_end(addr, end) pt_addr_end(addr, end, PT_LEVEL_PGD)
#define pud_addr_end(addr, end) pt_addr_end(addr, end, PT_LEVEL_PUD)
#define pmd_addr_end(addr, end) pt_addr_end(addr, end, PT_LEVEL_PMD)

static inline bool pte_present(pte_t e)
{
	return e & PTE_P;
}

/* Does present entry @e at @level map a page (rather than a table)? */
static inline bool pte_is_leaf(pte_t e, enum pt_level level)
{
	return level == PT_LEVEL_PTE || (e & PTE_PS);
}

static inline bool pte_is_table(pte_t e, enum pt_level level)
{
	return pte_present(e) && !pte_is_leaf(e, level);
}

/* Physical address of the table a table entry points to. */
static inline phys_addr_t pte_table_addr(pte_t e)
{
	return e & PHYS_ADDR_MASK;
}

/* Physical address of the page a leaf at @level maps (bit 12 is PAT in a
 * huge leaf, not an address bit). */
static inline phys_addr_t pte_leaf_addr(pte_t e, enum pt_level level)
{
	return e & PHYS_ADDR_MASK & ~(pt_level_size(level) - 1);
}

#endif
