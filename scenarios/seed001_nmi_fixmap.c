/* seed001_nmi_fixmap.c: local invalidation, on unmap and on map, in an
 * NMI handler (seed 001).
 *
 * The thread: an NMI handler that must read an error buffer maps it at a
 * fixed virtual slot, reads it and unmaps it.  In NMI context it cannot
 * send an IPI, so it invalidates only its own TLB.  Another CPU that
 * touched the slot while it was mapped (a real CPU may do so
 * speculatively) keeps that translation; when it later maps a different
 * buffer at the slot without invalidating locally first, it reads the
 * old buffer.
 *
 * The players (every map, read and unmap of the slot runs in a real NMI,
 * sent by IPI with nmi_run_on_cpu()):
 *   CPU 1: in an NMI, maps error buffer A at the slot, reads it, waits
 *          for CPU 2 to touch it, unmaps it with a local INVLPG only.
 *   CPU 2: reads the slot while A is mapped (its TLB now holds slot ->
 *          A); later, in an NMI of its own, maps error buffer B there and
 *          reads it.  Fixed: fixmap_local_map() invalidates locally first.
 *          Broken (fixmap_selftest_skip_invalidate_on_map): it does not.
 *          Still in the NMI, it asks for a broadcast shootdown of the
 *          slot, which the kernel refuses (nmi_refuse()).
 *   CPU 0: sends the NMIs, narrates, and flushes the slot afterwards in
 *          thread context, where a shootdown is allowed.
 * The hazards: CPU 2 reads A's data where B is mapped (a stale_read),
 * and a shootdown in NMI context that is not refused.
 */
#include "arch/x86/arch.h"
#include "arch/x86/smp.h"
#include "kernel/clock.h"
#include "kernel/extable.h"
#include "kernel/nmi.h"
#include "kernel/smp.h"
#include "kernel/trace.h"
#include "mm/fixmap.h"
#include "mm/frame.h"
#include "mm/gather.h"
#include "mm/shootdown.h"
#include "scenarios/scenario.h"

#define MAPPER_CPU  1
#define TOUCHER_CPU 2
#define BUF_A_DATA  0x0000415f52525245ULL   /* "ERRR_A" */
#define BUF_B_DATA  0x0000425f52525245ULL   /* "ERRR_B" */
/* How long CPU 1's NMI waits for CPU 2's touch, and CPU 2 for the slot
 * to be mapped: CPU 2 is already spinning when the NMI is sent, so this
 * takes microseconds; the limit is a safety net against a hang. */
#define TOUCH_PATIENCE_NS (NSEC_PER_SEC)

static struct {
	struct frame *a, *b;
	void *slot;                 /* the slot, as CPU 1 mapped it */
	bool mapped, touched;       /* handshake between CPU 1 and CPU 2 */
	uint64_t first_read, touch_read, second_read;
	bool second_mapped;
	struct pt_gather g;         /* CPU 2's shootdown request */
	bool refused;               /* ... refused, its range still noted */
	const char *refusal;        /* nmi_record_of(CPU 2).what afterwards */
} s;

static bool wait_for(const bool *flag)
{
	uint64_t start = clock_ns();

	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE))
		if (clock_ns() - start > TOUCH_PATIENCE_NS)
			return false;
	return true;
}

/* CPU 1, in NMI: map A, read it, let CPU 2 touch it, unmap locally. */
static void nmi_map_buffer_a(void)
{
	void *slot = fixmap_local_map(frame_pa(s.a));

	if (!slot)
		return;
	trace_step("CPU 1 in NMI maps error buffer A at the slot");
	s.first_read = *(volatile uint64_t *)slot;
	s.slot = slot;
	__atomic_store_n(&s.mapped, true, __ATOMIC_RELEASE);
	wait_for(&s.touched);
	fixmap_local_unmap(slot);
	trace_step("CPU 1 in NMI unmaps the slot: local INVLPG only");
}

/* CPU 2, thread context: read the slot while CPU 1 has A mapped. */
static void touch_slot(void *arg)
{
	(void)arg;
	if (!wait_for(&s.mapped))
		return;
	if (probe_read_u64(s.slot, &s.touch_read))
		s.touch_read = ~0ULL;
	trace_step("CPU 2 touches the slot: its TLB caches slot -> A");
	__atomic_store_n(&s.touched, true, __ATOMIC_RELEASE);
}

/* CPU 2, in NMI: map B, read it, unmap; then ask for a shootdown. */
static void nmi_map_buffer_b(void)
{
	void *slot = fixmap_local_map(frame_pa(s.b));

	s.second_mapped = slot != NULL;
	if (!slot)
		return;
	trace_step("CPU 2 in NMI maps error buffer B at the slot");
	s.second_read = *(volatile uint64_t *)slot;
	if (s.second_read != BUF_B_DATA)
		trace3(TRACE_STALE_READ, slot, BUF_B_DATA, s.second_read);
	fixmap_local_unmap(slot);
	trace_step("CPU 2 in NMI asks for a broadcast shootdown of the slot");
	pt_gather_note_stale(&s.g, (virt_addr_t)slot, (virt_addr_t)slot + PAGE_SIZE);
	shootdown_flush_and_free(&s.g);
	s.refusal = nmi_record_of(this_cpu_id()).what;
	s.refused = !pt_gather_empty(&s.g);
	if (s.refused)
		trace_step("refused in NMI: no IPI may be sent or waited for");
}

static bool alloc_buffers(void)
{
	s.a = frame_alloc(0, FRAME_KERNEL);
	s.b = frame_alloc(0, FRAME_KERNEL);
	if (!s.a || !s.b)
		return false;
	*(volatile uint64_t *)frame_virt(s.a) = BUF_A_DATA;
	*(volatile uint64_t *)frame_virt(s.b) = BUF_B_DATA;
	return true;
}

static void tell_refusal(void)
{
	scenario_say("CPU 2's broadcast shootdown from NMI: %s (record: '%s')",
		     s.refused ? "REFUSED, the range stays on its gather" :
		     "not refused", s.refusal ? s.refusal : "(none)");
	nmi_print_deferred();
	trace_step("CPU 0 flushes the slot in thread context instead");
	shootdown_flush_and_free(&s.g);
}

static unsigned int run(enum scenario_variant variant)
{
	unsigned int hazards = 0;

	s = (typeof(s)){ 0 };
	pt_gather_init(&s.g);
	if (!alloc_buffers()) {
		scenario_say("allocating the two buffers failed");
		goto out;
	}
	scenario_start_on(TOUCHER_CPU, touch_slot, NULL);
	if (nmi_run_on_cpu(MAPPER_CPU, nmi_map_buffer_a) != 0)
		scenario_say("the NMI to CPU 1 could not be sent");
	scenario_join();
	scenario_say("CPU 1, in an NMI, mapped buffer A at %p and read %#llx",
		     s.slot, (unsigned long long)s.first_read);
	scenario_say("CPU 2 touched the slot meanwhile (read %#llx); CPU 1 unmapped "
		     "it with a local INVLPG only", (unsigned long long)s.touch_read);
	if (!s.touched) {
		scenario_say("CPU 2 did not touch the slot: nothing to show");
		goto out;
	}
	scenario_say("CPU 2, in an NMI, maps buffer B there %s", variant ==
		     SCENARIO_BROKEN ? "WITHOUT invalidating locally first (broken)" :
		     "after a local INVLPG (fixed)");
	fixmap_selftest_skip_invalidate_on_map = variant == SCENARIO_BROKEN;
	if (nmi_run_on_cpu(TOUCHER_CPU, nmi_map_buffer_b) != 0)
		scenario_say("the NMI to CPU 2 could not be sent");
	fixmap_selftest_skip_invalidate_on_map = false;
	if (s.second_mapped && s.second_read != BUF_B_DATA)
		hazards++;
	scenario_say("CPU 2 read %#llx through the slot (buffer B holds %#llx)%s",
		     (unsigned long long)s.second_read, (unsigned long long)BUF_B_DATA,
		     s.second_read == BUF_A_DATA ? ": buffer A, through its stale entry" : "");
	tell_refusal();
	if (!s.refused)          /* an IPI sent or awaited in NMI context */
		hazards++;
out:
	if (s.a)
		frame_free(s.a, FRAME_KERNEL);
	if (s.b)
		frame_free(s.b, FRAME_KERNEL);
	return hazards;
}

const struct scenario scenario_nmi_fixmap = {
	.name = "nmi-fixmap",
	.seed = "001",
	.title = "local invalidation, on unmap and on map, in an NMI handler",
	.min_cpus = 3,
	.run = run,
};
