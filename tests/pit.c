/* tests/pit.c: how a calibration against the PIT keeps and drops
 * windows (arch/x86/pit.c).  Windows are either made up (a table of
 * counts and errors) or timed on a made-up counter that advances a fixed
 * step per read, so every figure here is exact and none depends on how
 * fast the machine runs. */
#include "arch/x86/arch.h"
#include "arch/x86/pit.h"
#include "kernel/selftest.h"

#define GHZ2 2000000000ULL          /* a 2 GHz counter's... */
#define W10MS (GHZ2 / 100)          /* ...counts in a 10 ms window */
#define US10MS 10000

struct rate_case {
	const char *name;
	unsigned int n;
	struct pit_window w[5];
	uint64_t hz, spread_hz;
	unsigned int kept, dropped;
};

static const struct rate_case rate_table[] = {
	{ "five clean windows: their median and spread", 5,
	  { { W10MS, 1000 }, { W10MS + 10, 1000 }, { W10MS - 20, 1000 },
	    { W10MS + 30, 1000 }, { W10MS + 40, 1000 } },
	  GHZ2 + 1000, 6000, 5, 0 },
	/* The 3262-MHz boot: three of five windows ran long by 5 ms. */
	{ "three held up at an edge: dropped, not the median", 5,
	  { { W10MS * 3 / 2, W10MS / 2 }, { W10MS, 1000 },
	    { W10MS * 3 / 2, W10MS / 2 }, { W10MS + 100, 1000 },
	    { W10MS * 3 / 2, W10MS / 2 } },
	  GHZ2 + 10000, 10000, 2, 3 },
	{ "an error of exactly the tolerance is kept", 2,
	  { { W10MS, W10MS / PIT_TOLERANCE }, { W10MS + 10, W10MS / PIT_TOLERANCE + 1 } },
	  GHZ2, 0, 1, 1 },
	{ "none within the tolerance: all of them, kept 0", 3,
	  { { W10MS, W10MS }, { W10MS * 2, W10MS }, { W10MS * 3, W10MS } },
	  GHZ2 * 2, GHZ2 * 2, 0, 3 },
};

static void test_rate_table(struct selftest *t)
{
	for (size_t i = 0; i < ARRAY_SIZE(rate_table); i++) {
		const struct rate_case *c = &rate_table[i];
		struct pit_rate r;

		pit_rate_of(c->w, c->n, US10MS, &r);
		if (r.hz != c->hz || r.spread_hz != c->spread_hz ||
		    r.kept != c->kept || r.dropped != c->dropped)
			selftest_fail_at(t, __FILE__, __LINE__,
				"%s: expected %llu Hz, spread %llu, kept %u, "
				"dropped %u; saw %llu Hz, spread %llu, kept %u, "
				"dropped %u", c->name,
				(unsigned long long)c->hz,
				(unsigned long long)c->spread_hz, c->kept, c->dropped,
				(unsigned long long)r.hz,
				(unsigned long long)r.spread_hz, r.kept, r.dropped);
	}
}

/* A made-up counter: each read advances it by fake_step, and the read
 * numbered fake_stall_at (1 = the first) by fake_stall more, as if the
 * CPU had been held up just before it. */
#define FAKE_STEP 100
static uint64_t fake_now, fake_reads, fake_stall_at, fake_stall;

static uint64_t fake_read(void)
{
	fake_now += FAKE_STEP;
	if (++fake_reads == fake_stall_at)
		fake_now += fake_stall;
	return fake_now;
}

struct window_case {
	const char *name;
	uint64_t stall_at, stall;
	uint64_t error;            /* expected */
	bool dropped;              /* expected; whether a clean window is
				      kept depends on how many polls fit
				      in it, i.e. on the machine's speed */
};

/* Reads 1 and 2 bracket the start; the last two reads the end, with
 * the poll that saw the window over between them. */
static const struct window_case window_table[] = {
	{ "edges one and two steps wide", 0, 0, 3 * FAKE_STEP, false },
	{ "held up between the start's two reads", 2, 50000000,
	  3 * FAKE_STEP + 50000000, true },
};

static void test_window_table(struct selftest *t)
{
	for (size_t i = 0; i < ARRAY_SIZE(window_table); i++) {
		const struct window_case *c = &window_table[i];
		struct pit_window w;
		struct pit_rate r;

		fake_now = fake_reads = 0;
		fake_stall_at = c->stall_at;
		fake_stall = c->stall;
		pit_time_window(fake_read, 1000, &w);
		pit_rate_of(&w, 1, 1000, &r);
		if (w.error != c->error || (c->dropped && r.kept) ||
		    w.counts < FAKE_STEP)
			selftest_fail_at(t, __FILE__, __LINE__,
				"%s: expected error %llu%s; saw error %llu, "
				"counts %llu over %llu reads, %s", c->name,
				(unsigned long long)c->error,
				c->dropped ? ", dropped" : "",
				(unsigned long long)w.error,
				(unsigned long long)w.counts,
				(unsigned long long)fake_reads,
				r.kept ? "kept" : "dropped");
	}
}

static const struct selftest_case pit_cases[] = {
	{ "rates_keep_windows_within_tolerance", test_rate_table },
	{ "window_error_is_the_width_of_its_edges", test_window_table },
};
SELFTEST_SUITE(pit, pit_cases);
