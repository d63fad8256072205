/* ksyms.h: kernel symbol lookup for crash reports (RIP -> function).
 *
 * The table is made at build time from the linked kernel by
 * tools/gen_ksyms.py and linked into the .ksyms segment, which lies after
 * everything else, so adding it in a second link moves no address. */
#ifndef KERNEL_KSYMS_H
#define KERNEL_KSYMS_H
#include "kernel/types.h"

struct ksym {
	uint64_t addr;
	uint32_t name_offset;   /* into ksyms_names */
	uint32_t size;          /* bytes up to the next symbol */
};

extern const struct ksym ksyms_table[];
extern const uint32_t ksyms_count;
extern const char ksyms_names[];

/* The name of the function containing @addr and the offset into it, or
 * NULL when @addr is in no known function. */
const char *ksym_lookup(uint64_t addr, uint64_t *offset);
#endif
