/* debug_exit.c: leaving QEMU with a status, through its isa-debug-exit
 * device (-device isa-debug-exit,iobase=0xf4,iosize=0x04).  A write of v
 * to the port makes QEMU exit with status (v << 1) | 1; tools/qemu_run.py
 * maps the statuses below back to 0 (passed), 1 (failed), 2 (panic).
 * On a machine without the device the write does nothing, and we halt. */
#include "arch/x86/asm.h"
#include "arch/x86/cpu.h"
#include "kernel/printk.h"
#include "kernel/shutdown.h"

#define DEBUG_EXIT_PORT 0xf4

/* Values chosen so that no status collides with QEMU's own exit codes
 * (0 for a clean quit, 1 for errors): 0x10 -> 33, 0x11 -> 35, 0x12 -> 37. */
static const uint8_t exit_values[] = {
	[MACHINE_EXIT_SUCCESS] = 0x10,
	[MACHINE_EXIT_FAILURE] = 0x11,
	[MACHINE_EXIT_PANIC] = 0x12,
};

__noreturn void machine_exit(enum machine_exit_status status)
{
	outl(DEBUG_EXIT_PORT, exit_values[status]);
	printk("shutdown: no isa-debug-exit device; halting (status %s)\n",
	       status == MACHINE_EXIT_SUCCESS ? "passed" :
	       status == MACHINE_EXIT_FAILURE ? "failed" : "panic");
	cpu_halt_forever();
}

__noreturn void machine_halt_this_cpu(void)
{
	cpu_halt_forever();
}
