/* tests/nmi.c: NMI context is known and respected.  A real NMI, sent by
 * IPI with delivery mode NMI (nmi_run_on_cpu()), makes CPU 1 run a
 * function in NMI context that tries what must be refused there (a
 * cross-CPU call, a shootdown) and what must work there (the fixmap
 * slot), and records what happened; the boot CPU checks the record
 * afterwards, since EXPECT would printk inside the NMI.
 *
 * Negative control: with nmi_selftest_skip_check, the same attempts are
 * not refused.  Only harmless ones are made then (a call to this CPU
 * alone, which sends no IPI, and a shootdown of an empty gather), and
 * the bypass is seen in the counters.
 */
#include "arch/x86/arch.h"
#include "arch/x86/smp.h"
#include "kernel/nmi.h"
#include "kernel/printk.h"
#include "kernel/selftest.h"
#include "kernel/smp.h"
#include "kernel/string.h"
#include "mm/fixmap.h"
#include "mm/frame.h"
#include "mm/gather.h"
#include "mm/shootdown.h"

#define NMI_CPU 1                      /* the CPU that takes the NMI */
#define PATTERN 0x6e6d6920636f6e74ULL  /* "nmi cont" */

/* Filled in NMI context on NMI_CPU, read by the boot CPU afterwards. */
static struct {
	bool saw_in_nmi;
	int call_one, call_all, wait_acks;
	const char *call_refusal;          /* the record after smp_call_one */
	const char *shootdown_refusal;     /* ... after the shootdown */
	bool gather_kept;                  /* the frames stayed on the gather */
	bool fixmap_mapped;
	uint64_t fixmap_read;
	bool misaligned_refused;
	const char *misaligned_record;
	uint64_t printk_calls;             /* printk_calls_in_nmi, after - before */
} seen;

static unsigned int calls_run_here;
static struct pt_gather nmi_gather;
static phys_addr_t nmi_page_pa;

static void count_call(void *arg)
{
	(void)arg;
	calls_run_here++;
}

static bool need_nmi_cpu(struct selftest *t)
{
	if (smp_num_online() > NMI_CPU)
		return true;
	selftest_skip(t, "needs at least two CPUs");
	return false;
}

static void try_everything_in_nmi(void)
{
	uint64_t printks = printk_calls_in_nmi;
	unsigned int self = this_cpu_id();
	void *slot;

	seen.saw_in_nmi = in_nmi();
	seen.call_one = smp_call_one(0, count_call, NULL, SMP_WAIT_ACK);
	seen.call_refusal = nmi_record_of(self).what;
	seen.call_all = smp_call_all_but_self(count_call, NULL, SMP_NO_WAIT);
	seen.wait_acks = smp_call_wait_for_acks();
	shootdown_flush_and_free(&nmi_gather);
	seen.shootdown_refusal = nmi_record_of(self).what;
	seen.gather_kept = !pt_gather_empty(&nmi_gather);

	slot = fixmap_local_map(nmi_page_pa);
	seen.fixmap_mapped = slot != NULL;
	if (slot) {
		seen.fixmap_read = *(volatile uint64_t *)slot;
		fixmap_local_unmap(slot);
	}
	seen.misaligned_refused = fixmap_local_map(nmi_page_pa + 8) == NULL;
	seen.misaligned_record = nmi_record_of(self).what;
	seen.printk_calls = printk_calls_in_nmi - printks;
}

static void test_calls_and_shootdowns_are_refused_in_nmi(struct selftest *t)
{
	struct frame *f;

	if (!need_nmi_cpu(t))
		return;
	f = frame_alloc(0, FRAME_VMALLOC);
	ASSERT_TRUE(t, f != NULL);
	*(volatile uint64_t *)frame_virt(f) = PATTERN;
	nmi_page_pa = frame_pa(f);
	pt_gather_init(&nmi_gather);
	pt_gather_add(&nmi_gather, f);
	pt_gather_note_stale(&nmi_gather, (virt_addr_t)frame_virt(f),
			     (virt_addr_t)frame_virt(f) + PAGE_SIZE);
	seen = (typeof(seen)){ 0 };
	calls_run_here = 0;

	ASSERT_EQ(t, nmi_run_on_cpu(NMI_CPU, try_everything_in_nmi), 0);
	nmi_print_deferred();      /* the records, now that printk is safe */
	EXPECT_TRUE(t, seen.saw_in_nmi);
	EXPECT_EQ(t, seen.call_one, -EPERM);
	EXPECT_EQ(t, seen.call_all, -EPERM);
	EXPECT_EQ(t, seen.wait_acks, -EPERM);
	EXPECT_EQ(t, calls_run_here, 0);
	EXPECT_STREQ(t, seen.call_refusal ? seen.call_refusal : "(none)", "smp_call_one");
	EXPECT_STREQ(t, seen.shootdown_refusal ? seen.shootdown_refusal : "(none)",
		     "shootdown_flush_and_free");
	EXPECT_TRUE(t, seen.gather_kept);
	EXPECT_TRUE(t, seen.fixmap_mapped);
	EXPECT_EQ(t, seen.fixmap_read, PATTERN);
	EXPECT_TRUE(t, seen.misaligned_refused);
	EXPECT_STREQ(t, seen.misaligned_record ? seen.misaligned_record : "(none)",
		     "fixmap_local_map: pa not page-aligned");
	EXPECT_EQ(t, seen.printk_calls, 0);
	EXPECT_TRUE(t, !in_nmi());
	/* Refused, not lost: thread context frees what NMI could not. */
	shootdown_flush_and_free(&nmi_gather);
	EXPECT_TRUE(t, pt_gather_empty(&nmi_gather));
}

/* ---- negative control ---- */

static struct {
	int call_self;
	uint64_t bypassed;
} bypass;

static void bypass_checks_in_nmi(void)
{
	struct pt_gather empty;
	uint64_t before = nmi_record_of(this_cpu_id()).checks_bypassed;

	pt_gather_init(&empty);
	/* Harmless even unchecked: a call to this CPU alone sends no IPI
	 * and takes no descriptor; an empty gather flushes nothing. */
	bypass.call_self = smp_call_one(this_cpu_id(), count_call, NULL, SMP_NO_WAIT);
	shootdown_flush_and_free(&empty);
	bypass.bypassed = nmi_record_of(this_cpu_id()).checks_bypassed - before;
}

static void test_without_the_check_nothing_is_refused(struct selftest *t)
{
	int err;

	if (!need_nmi_cpu(t))
		return;
	calls_run_here = 0;
	bypass.call_self = -1;
	WRITE_ONCE(nmi_selftest_skip_check, true);
	err = nmi_run_on_cpu(NMI_CPU, bypass_checks_in_nmi);
	WRITE_ONCE(nmi_selftest_skip_check, false);
	ASSERT_EQ(t, err, 0);
	EXPECT_EQ(t, bypass.call_self, 0);      /* not refused: it ran */
	EXPECT_EQ(t, calls_run_here, 1);
	EXPECT_EQ(t, bypass.bypassed, 2);       /* the call and the shootdown */
}

static void test_not_in_nmi_outside_one(struct selftest *t)
{
	EXPECT_TRUE(t, !in_nmi());
	EXPECT_TRUE(t, !nmi_refuse("tests/nmi.c"));
}

static const struct selftest_case nmi_cases[] = {
	{ "not_in_nmi_outside_one", test_not_in_nmi_outside_one },
	{ "calls_and_shootdowns_are_refused_in_nmi",
	  test_calls_and_shootdowns_are_refused_in_nmi },
	{ "without_the_check_nothing_is_refused",
	  test_without_the_check_nothing_is_refused },
};
SELFTEST_SUITE(nmi, nmi_cases);
