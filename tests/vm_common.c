/* vm_common.c: see vm_common.h. */
#include "kernel/string.h"
#include "mm/vmap_area.h"
#include "tests/vm_common.h"

static void probe_body(struct selftest *t, unsigned int cpu, void *arg)
{
	const struct vm_probe *p = arg;
	unsigned int shown = 0;

	for (uint64_t i = 0; i < p->pages && shown < 3; i++) {
		const uint64_t *word = (const uint64_t *)
			((uintptr_t)p->va + i * PAGE_SIZE);
		uint64_t v = 0;
		int err = probe_read_u64(word, &v);

		if (p->expect == VM_EXPECT_PATTERN &&
		    (err || v != vm_pattern(p->seed, i))) {
			shown++;
			selftest_fail_at(t, __FILE__, __LINE__,
				"CPU %u, page %llu at %p: %s %#llx, expected %#llx",
				cpu, (unsigned long long)i, word,
				err ? "faulted; cr2" : "read",
				err ? (unsigned long long)extable_last_fault()->cr2
				    : (unsigned long long)v,
				(unsigned long long)vm_pattern(p->seed, i));
		}
		if (p->expect == VM_EXPECT_FAULT &&
		    (!err || extable_last_fault()->vector != 14 ||
		     extable_last_fault()->cr2 != (uintptr_t)word)) {
			shown++;
			selftest_fail_at(t, __FILE__, __LINE__,
				"CPU %u, page %llu at %p: expected a #PF there, "
				"saw %s (value or cr2 %#llx): a stale translation",
				cpu, (unsigned long long)i, word,
				err ? "another fault" : "a successful read",
				err ? (unsigned long long)extable_last_fault()->cr2
				    : (unsigned long long)v);
		}
	}
}

void vm_probe_on_all_cpus(struct selftest *t, const struct vm_probe *p)
{
	selftest_run_on_all_cpus(t, probe_body, (void *)p);
}

struct vm_counts vm_counts_now(void)
{
	struct vm_counts c = {
		.vmalloc_frames = frame_stats.frames[FRAME_VMALLOC],
		.free_frames_plus_nodes = frame_stats.frames[FRAME_FREE] +
					  vmap_node_pool_frames(),
	};

	for (enum pt_level l = PT_LEVEL_PTE; l <= PT_LEVEL_PGD; l++) {
		c.tables_live[l] = frame_stats.frames[frame_use_of_level(l)];
		c.tables_linked[l] = kpt.stats.tables_linked[l];
	}
	return c;
}

void vm_expect_counts_equal(struct selftest *t, const struct vm_counts *a,
			    const struct vm_counts *b, const char *when)
{
	for (enum pt_level l = PT_LEVEL_PTE; l <= PT_LEVEL_PGD; l++)
		if (a->tables_live[l] != b->tables_live[l] ||
		    a->tables_linked[l] != b->tables_linked[l])
			selftest_fail_at(t, __FILE__, __LINE__,
				"%s: level %d tables: %llu live, %llu linked "
				"before; %llu live, %llu linked after", when, (int)l,
				(unsigned long long)a->tables_live[l],
				(unsigned long long)a->tables_linked[l],
				(unsigned long long)b->tables_live[l],
				(unsigned long long)b->tables_linked[l]);
	if (a->vmalloc_frames != b->vmalloc_frames ||
	    a->free_frames_plus_nodes != b->free_frames_plus_nodes)
		selftest_fail_at(t, __FILE__, __LINE__,
			"%s: vmalloc frames %llu -> %llu, free + node frames "
			"%llu -> %llu", when,
			(unsigned long long)a->vmalloc_frames,
			(unsigned long long)b->vmalloc_frames,
			(unsigned long long)a->free_frames_plus_nodes,
			(unsigned long long)b->free_frames_plus_nodes);
}

bool vm_need_two_cpus(struct selftest *t)
{
	if (smp_num_online() >= 2)
		return true;
	selftest_skip(t, "needs at least two CPUs");
	return false;
}
