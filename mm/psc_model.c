/* psc_model.c: the paging-structure-cache model (mm/psc_model.h). */
#include "kernel/printk.h"
#include "kernel/string.h"
#include "mm/kpt_internal.h"
#include "mm/psc_model.h"
#include "mm/shootdown.h"

struct psc_model_cpu psc_model_cpus[MAX_CPUS];
uint64_t psc_model_violations;
char psc_model_last_violation[160];

static void remember(struct psc_model_cpu *m, uint32_t pfn)
{
	for (unsigned int i = 0; i < PSC_MODEL_ENTRIES; i++)
		if (READ_ONCE(m->table_pfn[i]) == pfn)
			return;
	WRITE_ONCE(m->table_pfn[m->next], pfn);
	m->next = (m->next + 1) % PSC_MODEL_ENTRIES;
	WRITE_ONCE(m->filled, true);   /* after the entry: see check_free */
}

void psc_model_fill(virt_addr_t va)
{
	struct psc_model_cpu *m = &psc_model_cpus[this_cpu_id()];
	irqflags_t irq = spin_lock_irqsave(&kpt.lock);
	pte_t *table = kpt_root_table();

	/* Every table below the root that the walk enters is what the
	 * PML4E, PDPTE and PDE caches would remember the address of. */
	for (enum pt_level level = PT_LEVEL_PGD; level > PT_LEVEL_PTE; level--) {
		pte_t e = READ_ONCE(table[pt_index(va, level)]);

		if (!pte_is_table(e, level))
			break;
		remember(m, (uint32_t)(pte_table_addr(e) >> FRAME_SHIFT));
		table = kpt_descend(e, level - 1, va);
	}
	spin_unlock_irqrestore(&kpt.lock, irq);
}

void psc_model_invalidate_this_cpu(void)
{
	struct psc_model_cpu *m = &psc_model_cpus[this_cpu_id()];

	if (!m->filled)   /* the common case: one load per INVLPG */
		return;
	for (unsigned int i = 0; i < PSC_MODEL_ENTRIES; i++)
		WRITE_ONCE(m->table_pfn[i], 0);
	WRITE_ONCE(m->filled, false);
}

/* Does CPU @cpu's model hold the table at @pfn? */
static bool model_holds(unsigned int cpu, uint32_t pfn)
{
	for (unsigned int i = 0; i < PSC_MODEL_ENTRIES; i++)
		if (READ_ONCE(psc_model_cpus[cpu].table_pfn[i]) == pfn)
			return true;
	return false;
}

void psc_model_check_free(const struct frame *table)
{
	uint32_t pfn = (uint32_t)frame_pfn(table);

	for (unsigned int cpu = 0; cpu < MAX_CPUS; cpu++) {
		/* An empty model holds nothing: one load for the CPU, not
		 * sixteen (a purge checks every table it frees against every
		 * CPU: the table pass of the free after 1,000 vfrees, six
		 * tables, went from 8-10 to 4-5 us, -smp 1 -cpu max).  A fill
		 * that sets filled after this load is not of @table: no walk
		 * reaches an unlinked table. */
		if (!READ_ONCE(psc_model_cpus[cpu].filled) || !model_holds(cpu, pfn))
			continue;
		COUNTER_ADD(psc_model_violations, 1);
		snprintf(psc_model_last_violation, sizeof(psc_model_last_violation),
			 "%s at %#llx freed while CPU %u's paging-structure "
			 "cache may still point to it", frame_use_name(table->use),
			 (unsigned long long)frame_pa(table), cpu);
		if (READ_ONCE(shootdown_selftest_fault) == SHOOTDOWN_SAFE)
			panic("psc_model: %s; expected every CPU to have flushed "
			      "first", psc_model_last_violation);
		printk("psc_model: %s\n", psc_model_last_violation);
	}
}

unsigned int psc_model_entries(unsigned int cpu)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < PSC_MODEL_ENTRIES; i++)
		n += READ_ONCE(psc_model_cpus[cpu].table_pfn[i]) != 0;
	return n;
}
