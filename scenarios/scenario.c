/* scenario.c: choosing, running and judging a scenario (scenarios/scenario.h). */
#include "arch/x86/arch.h"
#include "kernel/clock.h"
#include "kernel/cmdline.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/shutdown.h"
#include "kernel/smp.h"
#include "kernel/string.h"
#include "kernel/trace.h"
#include "mm/frame.h"
#include "mm/kpt.h"
#include "scenarios/scenario.h"

/* Every scenario, in seed order. */
static const struct scenario *const scenarios[] = {
	&scenario_huge_ioremap,
	&scenario_nmi_fixmap,
	&scenario_no_ack_wait,
	&scenario_dirty_bit,
	&scenario_device_tlb,
	&scenario_no_alloc_free,
};

/* "NAME" or "NAME:broken"; empty: run the selftests instead. */
static char scenario_option[64];
KERNEL_PARAM_STRING(scenario, scenario_option,
		    "run one seed scenario instead of the selftests: NAME or "
		    "NAME:broken (docs/trace.md)");

static struct smp_idle_work scenario_work[MAX_CPUS];

void scenario_say(const char *fmt, ...)
{
	char line[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printk("scenario: %s\n", line);
}

int scenario_start_on(unsigned int cpu, void (*fn)(void *), void *arg)
{
	if (cpu >= MAX_CPUS)
		return -EINVAL;
	scenario_work[cpu] = (struct smp_idle_work){ .fn = fn, .arg = arg };
	return smp_post_idle_work(cpu, &scenario_work[cpu]);
}

void scenario_join(void)
{
	for (unsigned int cpu = 1; cpu < smp_num_online(); cpu++)
		while (smp_idle_work_pending(cpu))
			cpu_relax();
}

/* Order-0 allocations a new owner makes to get a freed frame back: the
 * buddy allocator may first merge it and split another block. */
#define ALLOC_TRIES 64

bool scenario_wait_until(const bool *flag, uint64_t limit_ns)
{
	uint64_t start = clock_ns();

	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE))
		if (clock_ns() - start > limit_ns)
			return false;
	return true;
}

bool scenario_take_frame(struct frame *want)
{
	struct frame *others[ALLOC_TRIES];
	int n = 0;
	bool got = false;

	while (n < ALLOC_TRIES && !got) {
		struct frame *f = frame_alloc(0, FRAME_KERNEL);

		if (!f)
			break;
		got = f == want;
		if (!got)
			others[n++] = f;
	}
	while (n > 0)
		frame_free(others[--n], FRAME_KERNEL);
	return got;
}

bool scenario_map_new_frames(virt_addr_t va, struct frame **pages,
			     unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		struct kpt_mapping m = {
			.va = va + i * PAGE_SIZE, .size = PAGE_SIZE,
			.prot = PT_PROT_RW, .cache = PT_CACHE_WB,
			.max_page = PT_PAGE_4K,
		};

		if (!(pages[i] = frame_alloc(0, FRAME_KERNEL)))
			return false;
		m.pa = frame_pa(pages[i]);
		if (kpt_map(&m, KPT_MAP_NEW, NULL) != 0)
			return false;
	}
	return true;
}

static const struct scenario *scenario_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(scenarios); i++)
		if (strcmp(scenarios[i]->name, name) == 0)
			return scenarios[i];
	return NULL;
}

static void scenario_list(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(scenarios); i++)
		printk("scenario:   %-14s seed %s: %s\n", scenarios[i]->name,
		       scenarios[i]->seed, scenarios[i]->title);
}

/* Split "NAME[:broken]" in place; false if the variant is unknown. */
static bool parse_option(char *opt, enum scenario_variant *variant)
{
	char *colon = strchr(opt, ':');

	*variant = SCENARIO_FIXED;
	if (!colon)
		return true;
	*colon = '\0';
	if (strcmp(colon + 1, "broken") == 0)
		*variant = SCENARIO_BROKEN;
	else if (strcmp(colon + 1, "fixed") != 0)
		return false;
	return true;
}

void scenario_run_requested(void)
{
	const struct scenario *s;
	enum scenario_variant variant;
	unsigned int hazards;
	uint64_t since;
	bool as_expected;

	if (!scenario_option[0])
		return;
	if (!parse_option(scenario_option, &variant) ||
	    !(s = scenario_find(scenario_option))) {
		printk("scenario: no scenario '%s'; the scenarios are:\n", scenario_option);
		scenario_list();
		machine_exit(MACHINE_EXIT_FAILURE);
	}
	printk("scenario: seed %s, %s (%s): %s\n", s->seed, s->name,
	       variant == SCENARIO_BROKEN ? "broken" : "fixed", s->title);
	if (smp_num_online() < s->min_cpus) {
		printk("scenario: needs %u CPUs, %u online; boot with -smp %u\n",
		       s->min_cpus, smp_num_online(), s->min_cpus);
		machine_exit(MACHINE_EXIT_FAILURE);
	}
	since = trace_mark();
	frame_caches_off = true;   /* a freed frame may go to any CPU next */
	frame_caches_drain();
	hazards = s->run(variant);
	frame_caches_off = false;
	trace_dump(since);
	as_expected = variant == SCENARIO_BROKEN ? hazards > 0 : hazards == 0;
	printk("scenario: verdict: %s: %u hazard%s observed; %s\n",
	       hazards ? "HAZARD" : "SAFE", hazards, hazards == 1 ? "" : "s",
	       as_expected ? "as expected for this variant" :
	       variant == SCENARIO_BROKEN ? "the broken variant failed to show "
	       "its hazard" : "the fixed variant must show none");
	machine_exit(as_expected ? MACHINE_EXIT_SUCCESS : MACHINE_EXIT_FAILURE);
}
