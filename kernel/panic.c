/* panic.c: stop the machine with the last words readable. */
#include "arch/x86/arch.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/shutdown.h"

static volatile uint32_t panicking;

__noreturn void panic_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	arch_irq_disable();
	/* Only the first panicking CPU speaks; a second one just stops. */
	if (__atomic_exchange_n(&panicking, 1, __ATOMIC_SEQ_CST))
		machine_halt_this_cpu();
	machine_stop_other_cpus();
	printk_ignore_lock();
	printk("\nKERNEL PANIC on CPU %u at %s:%d: ", this_cpu_id(), file, line);
	va_start(ap, fmt);
	vprintk(fmt, ap);
	va_end(ap);
	printk("\n");
	machine_exit(MACHINE_EXIT_PANIC);
}

void warn_at(const char *file, int line, const char *cond)
{
	printk("WARNING on CPU %u at %s:%d: %s\n", this_cpu_id(), file, line, cond);
}
