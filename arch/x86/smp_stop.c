/* smp_stop.c: stopping the other CPUs on panic.
 * The application processors are not started yet (the SMP bring-up
 * replaces this file's body with an NMI broadcast), so there is nothing
 * to stop: the boot CPU is the only one running. */
#include "kernel/shutdown.h"

void machine_stop_other_cpus(void)
{
}
