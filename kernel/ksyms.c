/* ksyms.c: binary search of the build-time symbol table. */
#include "kernel/ksyms.h"

const char *ksym_lookup(uint64_t addr, uint64_t *offset)
{
	uint32_t lo = 0, hi = ksyms_count;

	while (lo < hi) {          /* find the last symbol with addr <= @addr */
		uint32_t mid = lo + (hi - lo) / 2;

		if (ksyms_table[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct ksym *s = &ksyms_table[lo - 1];
	if (addr - s->addr >= s->size)
		return NULL;
	*offset = addr - s->addr;
	return &ksyms_names[s->name_offset];
}
