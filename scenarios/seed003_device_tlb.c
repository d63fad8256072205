/* seed003_device_tlb.c: a secondary TLB that walks the CPU's page tables
 * (seed 003).
 *
 * The thread: a device behind an IOMMU shares the kernel's page tables
 * and caches translations in its own TLB.  The CPUs' shootdown does not
 * reach it; it must be told, and told before the pages are freed.  Told
 * afterwards, it can still read through its cached entry into a frame
 * that belongs to someone else by then.
 *
 * The players:
 *   the device, modelled here: one cached translation (va -> pa), filled
 *          by walking the kernel page tables (kpt_walk), dropped when the
 *          shootdown tells it to invalidate a range covering va; it
 *          "reads" through the entry (the direct map of pa), else walks.
 *   CPU 0: vmallocs a page, writes DEVICE_DATA, lets the device read it,
 *          then vfrees it and purges.  Fixed: the device is subscribed
 *          (shootdown_subscribe) and told after the CPUs' acks, before
 *          the free.  Broken: it is unsubscribed for the purge and told
 *          only after shootdown_flush_and_free() has freed the frame.
 *   CPU 2, the new owner: takes the freed frame and writes OWNER_DATA.
 * The hazard: the device reads OWNER_DATA (a stale_read event).
 */
#include "arch/x86/arch.h"
#include "kernel/smp.h"
#include "kernel/trace.h"
#include "mm/frame.h"
#include "mm/kpt.h"
#include "mm/shootdown.h"
#include "mm/vmalloc.h"
#include "scenarios/scenario.h"

#define OWNER_CPU   2
#define DEVICE_DATA 0x0000454349564544ULL   /* "DEVICE" */
#define OWNER_DATA  0x0000524544574fULL     /* "OWNER" */

struct device_tlb {
	struct shootdown_subscriber sub;
	virt_addr_t va;              /* the cached translation; 0: none */
	phys_addr_t pa;
};

static struct {
	struct device_tlb dev;
	void *va;
	struct frame *frame;
	bool owner_got_it;
} s;

static void device_invalidate(struct shootdown_subscriber *sub,
			      const struct shootdown_request *req)
{
	struct device_tlb *d = (struct device_tlb *)sub;
	bool covered = req->full_flush || (d->va >= req->start &&
			(req->end == 0 || d->va < req->end));

	if (d->va && covered)
		d->va = 0;
}

/* A DMA read of @va: through the device's TLB, else a walk of the kernel
 * tables (which fills it).  False when nothing translates @va. */
static bool device_read(struct device_tlb *d, virt_addr_t va, uint64_t *out)
{
	struct kpt_walk w;

	if (d->va != va) {
		if (kpt_walk(va, &w) != 0)
			return false;            /* the IOMMU reports a fault */
		d->va = va;
		d->pa = w.pa;
	}
	*out = *(volatile uint64_t *)frame_virt(frame_of(d->pa));
	return true;
}

static void owner_take(void *arg)
{
	(void)arg;
	if (!(s.owner_got_it = scenario_take_frame(s.frame)))
		return;
	*(volatile uint64_t *)frame_virt(s.frame) = OWNER_DATA;
	trace_step("CPU 2 takes the freed frame and writes its data");
}

/* vfree and the purge's shootdown; broken: the device told afterwards. */
static void free_page(enum scenario_variant variant)
{
	uint64_t limit = vm_lazy_max_pages_override;

	vm_lazy_max_pages_override = ~0ULL;       /* the purge below is ours */
	trace_step("CPU 0 vfree and purge");
	vfree(s.va);
	if (variant == SCENARIO_BROKEN)
		shootdown_unsubscribe(&s.dev.sub);
	vm_purge_lazy_now();
	vm_lazy_max_pages_override = limit;
	if (variant == SCENARIO_FIXED)
		return;
	scenario_start_on(OWNER_CPU, owner_take, NULL);
	scenario_join();
}

static unsigned int run(enum scenario_variant variant)
{
	struct kpt_walk w;
	uint64_t seen = 0;
	unsigned int hazards = 0;
	bool read;

	s = (typeof(s)){ .dev = { .sub = { "device TLB", device_invalidate, NULL } } };
	vm_purge_lazy_now();
	s.va = vmalloc(PAGE_SIZE);
	if (!s.va || kpt_walk((virt_addr_t)s.va, &w) < 0) {
		scenario_say("vmalloc of one page failed");
		return 0;
	}
	s.frame = frame_of(w.pa);
	*(volatile uint64_t *)s.va = DEVICE_DATA;
	shootdown_subscribe(&s.dev.sub);
	device_read(&s.dev, (virt_addr_t)s.va, &seen);
	trace_step("the device reads the page; its TLB caches the entry");
	scenario_say("CPU 0 vmallocs a page at %p (frame %#llx); the device reads "
		     "%#llx and caches the translation", s.va,
		     (unsigned long long)w.pa, (unsigned long long)seen);
	scenario_say("CPU 0 vfrees it; the shootdown %s", variant == SCENARIO_BROKEN ?
		     "does not tell the device; it frees the frame (broken)" :
		     "tells the device after the CPUs' acks, before the free (fixed)");
	free_page(variant);
	if (variant == SCENARIO_FIXED) {
		scenario_start_on(OWNER_CPU, owner_take, NULL);
		scenario_join();
	}
	scenario_say("CPU 2 %s the frame", s.owner_got_it ?
		     "took and wrote" : "did not get back");
	trace_step("the device reads the page again");
	read = device_read(&s.dev, (virt_addr_t)s.va, &seen);
	if (read && seen != DEVICE_DATA) {
		trace3(TRACE_STALE_READ, s.va, DEVICE_DATA, seen);
		hazards++;
	}
	if (read)
		scenario_say("the device read %#llx through its TLB (the page held "
			     "%#llx)%s", (unsigned long long)seen,
			     (unsigned long long)DEVICE_DATA, seen == OWNER_DATA ?
			     ": the new owner's data" : "");
	else
		scenario_say("the device found no translation: the IOMMU reports "
			     "a fault, nothing read");
	if (variant == SCENARIO_BROKEN) {
		scenario_say("only now is the device told to invalidate (too late)");
		trace2(TRACE_NOTIFY, 0, s.dev.sub.name);
		device_invalidate(&s.dev.sub, &(struct shootdown_request){
			.start = (virt_addr_t)s.va,
			.end = (virt_addr_t)s.va + PAGE_SIZE });
	}
	if (variant == SCENARIO_FIXED)
		shootdown_unsubscribe(&s.dev.sub);
	if (s.owner_got_it)
		frame_free(s.frame, FRAME_KERNEL);
	return hazards;
}

const struct scenario scenario_device_tlb = {
	.name = "device-tlb",
	.seed = "003",
	.title = "a secondary TLB that walks the CPU's page tables",
	.min_cpus = 3,
	.run = run,
};
