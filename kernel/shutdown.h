/* shutdown.h: how the kernel ends a run. */
#ifndef KERNEL_SHUTDOWN_H
#define KERNEL_SHUTDOWN_H
#include "kernel/types.h"

enum machine_exit_status {
	MACHINE_EXIT_SUCCESS,    /* every selected selftest passed */
	MACHINE_EXIT_FAILURE,    /* some selftest failed */
	MACHINE_EXIT_PANIC,      /* the kernel panicked */
};

/* Leave QEMU through isa-debug-exit with @status; where that device is
 * absent, say so and halt this CPU for good. */
__noreturn void machine_exit(enum machine_exit_status status);
__noreturn void machine_halt_this_cpu(void);
/* Stop every other CPU (NMI) so that they print nothing more.  Before
 * the application processors run, there is nothing to stop. */
void machine_stop_other_cpus(void);
#endif
