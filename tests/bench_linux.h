/* bench_linux.h: Linux's workload in the bench suite (tests/bench_linux.c),
 * its floor and the page-table count around the whole suite
 * (tests/bench_floor.c).  docs/bench.md explains the figures. */
#ifndef TESTS_BENCH_LINUX_H
#define TESTS_BENCH_LINUX_H

#include "kernel/selftest.h"
#include "kernel/types.h"

/* The case linux_table: every row, its figures and its table. */
void bench_linux_table(struct selftest *t);
/* Fail @t for each figure of linux_table that was not recorded; returns
 * how many. */
unsigned int bench_linux_missing_figures(struct selftest *t);
/* The physical address the ioremap rows map (no RAM there), or 0 when
 * this machine has none below 3 GiB. */
phys_addr_t bench_linux_io_pa(void);

/* The floor: a page mapped in the selftest window whose PTE table stays
 * linked (a neighbouring page keeps it), and one cheapest map, touch and
 * unmap of it.  Setup false (and @t failed) when it cannot map;
 * teardown unmaps and frees everything setup made. */
bool bench_floor_setup(struct selftest *t);
void bench_floor_once(void);
void bench_floor_teardown(struct selftest *t);

/* The live page-table pages per level: remembered by the suite's first
 * case, compared (and printed) by the case page_tables_back. */
void bench_page_tables_remember(void);
void bench_page_tables_back(struct selftest *t);

#endif
