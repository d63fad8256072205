/* nmi.c: refusals and errors in NMI context, recorded without printk
 * (kernel/nmi.h). */
#include "arch/x86/arch.h"
#include "kernel/nmi.h"
#include "kernel/panic.h"
#include "kernel/printk.h"

bool nmi_selftest_skip_check;

static struct nmi_record nmi_records[MAX_CPUS];

bool nmi_refuse(const char *who)
{
	if (!in_nmi())
		return false;
	if (READ_ONCE(nmi_selftest_skip_check)) {
		nmi_records[this_cpu_id()].checks_bypassed++;
		return false;
	}
	nmi_record_error(who, 0);
	return true;
}

void nmi_record_error(const char *what, uint64_t value)
{
	struct nmi_record *r = &nmi_records[this_cpu_id()];

	WRITE_ONCE(r->what, what);
	WRITE_ONCE(r->value, value);
	__atomic_store_n(&r->count, r->count + 1, __ATOMIC_RELEASE);
}

void nmi_print_deferred(void)
{
	BUG_ON(in_nmi());
	for (unsigned int cpu = 0; cpu < MAX_CPUS; cpu++) {
		struct nmi_record *r = &nmi_records[cpu];
		uint64_t count = __atomic_load_n(&r->count, __ATOMIC_ACQUIRE);

		if (count == r->printed)
			continue;
		printk("nmi: CPU %u: %llu error(s) in NMI context, the last: %s "
		       "(value %#llx)\n", cpu,
		       (unsigned long long)(count - r->printed),
		       READ_ONCE(r->what), (unsigned long long)READ_ONCE(r->value));
		r->printed = count;
	}
}

struct nmi_record nmi_record_of(unsigned int cpu)
{
	BUG_ON(cpu >= MAX_CPUS);
	return nmi_records[cpu];
}
