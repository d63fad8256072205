/* extable.c: look up a faulting instruction in the __extable section and,
 * on a hit, resume at its fixup instead of reporting a crash (see
 * kernel/extable.h for why and arch/x86/probe.S for the users). */
#include "arch/x86/percpu.h"
#include "arch/x86/trap.h"
#include "kernel/extable.h"

extern const struct extable_entry __start_extable[], __stop_extable[];

static uint64_t entry_insn(const struct extable_entry *e)
{
	return (uint64_t)&e->insn + e->insn;
}

static uint64_t entry_fixup(const struct extable_entry *e)
{
	return (uint64_t)&e->fixup + e->fixup;
}

static const struct extable_entry *extable_search(uint64_t rip)
{
	for (const struct extable_entry *e = __start_extable; e < __stop_extable; e++)
		if (entry_insn(e) == rip)
			return e;
	return NULL;
}

/* => exception context on the faulting CPU, IRQs off.
 * Returns the address to resume at, or 0 when @f is not an expected fault.
 * A fetch fault (#PF on instruction fetch at RIP itself) is charged to the
 * call that jumped there: its return address is on top of the stack, and
 * resuming pops it as a 'ret' would. */
uint64_t extable_fixup(struct trap_frame *f, uint64_t cr2)
{
	const struct extable_entry *e;
	bool fetch_fault = f->vector == VEC_PAGE_FAULT &&
			   (f->error_code & PF_ERR_INSTR) && f->rip == cr2;

	if (fetch_fault) {
		e = extable_search(*(uint64_t *)f->rsp);
		if (e)
			f->rsp += 8;
	} else if (f->vector == VEC_BREAKPOINT) {
		e = extable_search(f->rip - 1);
	} else {
		e = extable_search(f->rip);
	}
	if (!e)
		return 0;
	this_cpu()->last_fault = (struct fault_record){
		.vector = f->vector, .error_code = f->error_code,
		.cr2 = cr2, .rip = f->rip,
	};
	return entry_fixup(e);
}

const struct fault_record *extable_last_fault(void)
{
	return &this_cpu()->last_fault;
}
