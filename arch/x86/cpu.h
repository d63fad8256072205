#ifndef ARCH_X86_CPU_H
#define ARCH_X86_CPU_H
#include "arch/x86/arch.h"

void cpu_features_init(void);     /* boot CPU, once: fills cpu_features */
void cpu_features_print(void);
void cpu_enable_features(void);   /* every CPU: NXE, WP, PGE, SMEP, SMAP, PAT */
__noreturn void cpu_halt_forever(void);

/* The PAT layout programmed by cpu_enable_features().  A PTE selects an
 * entry with its PAT, PCD and PWT bits (index = PAT*4 + PCD*2 + PWT). */
enum pat_index {
	PAT_IDX_WB = 0,      /* write-back: ordinary RAM */
	PAT_IDX_WC = 1,      /* write-combining: frame buffers (PWT) */
	PAT_IDX_UC_MINUS = 2,
	PAT_IDX_UC = 3,      /* uncached: device registers (PCD|PWT) */
};
#endif
