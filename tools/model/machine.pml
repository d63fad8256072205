/* machine.pml: the hardware of the shootdown model -- frames, the page
 * tables in memory, and the translation caches that walk them.
 *
 * Three CPUs and one device share the kernel page tables:
 *
 *   root (pinned, never freed)
 *    |- M   a table frame shared by the two vmalloc areas
 *    |   |- TA  the table of area A -> data frame DA   (VA_A)
 *    |   `- TB  the table of area B -> data frame DB   (VA_B)
 *    `- the fixmap slot's pinned tables -> X0 or X2  (VA_FIX)
 *
 * Every agent (CPU 0..2, the device TLB = agent 3) has a TLB (one entry
 * per virtual page: the frame it leads to, 0 = none) and a
 * paging-structure cache (one bit per table frame it remembers a pointer
 * to).  The walker of any agent may fill both at any moment from what is
 * linked and present: speculation, with nobody touching the address.
 * When that matters, and why deciding it late is exact: see "Speculation"
 * below.
 */

#define NCPU    3
#define DEV     3                 /* agent number of the device TLB */
#define NAGENT  4

#define VA_A    0                 /* area A: vfree'd by CPU 0, lazily */
#define VA_B    1                 /* area B: vfree'd by CPU 1, at once */
#define VA_FIX  2                 /* the fixmap slot */
#define NVA     3

#define F_M     1                 /* frames; 0 means "none" */
#define F_TA    2
#define F_DA    3
#define F_TB    4
#define F_DB    5
#define F_X0    6                 /* CPU 0's buffer, mapped at the slot */
#define F_X2    7                 /* CPU 2's buffer, mapped at the slot */
#define NFRAME  8

#define BIT(n)  (1 << (n))

/* Who a frame belongs to: what a read through it expects to find. */
#define O_FREE  0
#define O_PT    1                 /* a page table of the kernel */
#define O_A     2                 /* area A's data */
#define O_B     3
#define O_X0    4
#define O_X2    5
#define O_OTHER 6                 /* reused: someone else's now */

byte owner[NFRAME];

/* The page tables, as memory holds them now. */
bool root_m = 1;                  /* root -> M */
bool m_ta = 1, m_tb = 1;          /* M -> TA, M -> TB */
bool ta_da = 1, tb_db = 1;        /* TA -> DA, TB -> DB (leaves) */
byte fix_pte;                     /* the slot's leaf: a frame, or 0 */

/* The caches. */
byte tlb[NAGENT * NVA];
byte psc[NAGENT];

#define TLB(a, va)      tlb[(a) * NVA + (va)]
#define HOLDS(a, f)     (TLB(a, 0) == (f) || TLB(a, 1) == (f) || \
			 TLB(a, 2) == (f) || (psc[a] & BIT(f)))
#define CACHED(f)       (HOLDS(0, f) || HOLDS(1, f) || HOLDS(2, f) || HOLDS(3, f))

/* Trail lines (printed in a replay only): "@@ WHO TEXT", WHO an agent
 * (0..3) or 9 for none; tools/model/run.py names the frames ("frame 2"),
 * the pages ("VA 0") and the agents ("agents 1001": CPU 0 and the
 * device) when it renders a counterexample. */

/* INVLPG of one page on agent @a: its TLB entry, and (we assume no
 * more than this) the paging-structure-cache entries on that page's
 * path.  The SDM promises more (INVLPG drops every such entry of the
 * current PCID); the model does not rely on it. */
inline invlpg(a, va)
{
	TLB(a, va) = 0;
	if
	:: va == VA_A -> psc[a] = psc[a] & ~(BIT(F_M) | BIT(F_TA))
	:: va == VA_B -> psc[a] = psc[a] & ~(BIT(F_M) | BIT(F_TB))
	:: else -> skip           /* the slot's tables are pinned */
	fi
}

/* INVLPG every page of the VA bitmask @m. */
inline invalidate_range(a, m)
{
	if :: m & BIT(VA_A) -> invlpg(a, VA_A) :: else fi;
	if :: m & BIT(VA_B) -> invlpg(a, VA_B) :: else fi;
	if :: m & BIT(VA_FIX) -> invlpg(a, VA_FIX) :: else fi
}

/* Speculation, decided at the last moment it matters.  A walker may
 * cache an entry at any moment while the entry is linked and present,
 * and nothing but an invalidation drops it.  So what an agent may hold
 * when an entry stops being there to cache is that entry, or not,
 * whatever it did before.  The model decides at the very write that
 * unlinks the entry (or clears the leaf), each entry at its own write: a
 * leaf cleared by a lazy vfree decides the TLB entry then, while the
 * table it was in, left linked, is decided when the purge unlinks it.
 * That gives the cache contents that any earlier fills could leave,
 * without interleaving each fill with every other step.  (Caching an entry while it is linked and present is
 * harmless: it is not stale yet.)
 *
 * Which agents?  By default, all of them.  Nothing in the protocol
 * reads a cache (no step branches on what is cached; the fixmap
 * reader's read through the slot is a property, not a step), and every
 * property is monotone in the cache contents (an entry more can only
 * add a violation), so "every agent cached it" is the worst case of
 * every choice: a violation under some choice is one here too.
 * -DSPECULATE_SUBSETS makes the choice per agent instead (every subset;
 * `make model` verifies the fixed protocol that way too).  There, an
 * area's leaf and the pointer to its table are one choice per agent,
 * made when the leaf goes and kept in walked[] until the table goes:
 * a choice per entry would multiply the search by up to 16 for each
 * table, past what the machine holds; choices tied this way are still
 * every subset of agents for each path, as earlier versions of the
 * model made them. */
#ifdef SPECULATE_SUBSETS
#define MAYBE(stmt)     if :: stmt :: skip fi
byte walked[NVA];               /* per page: the agents that cached its leaf */
#define LEAF(a, va, D)  if :: TLB(a, va) = D; walked[va] = walked[va] | BIT(a) \
			   :: skip fi
#define TABLE_OF(a, va, T) \
			if :: walked[va] & BIT(a) -> psc[a] = psc[a] | BIT(T) \
			   :: else fi
#define WALKED_DONE(va) walked[va] = 0
#else
#define MAYBE(stmt)     stmt
#define LEAF(a, va, D)  TLB(a, va) = D
#define TABLE_OF(a, va, T) psc[a] = psc[a] | BIT(T)
#define WALKED_DONE(va) skip
#endif

/* The leaf of page @va, leading to data frame @D, is being cleared. */
inline speculate_leaf(va, D)
{
	LEAF(0, va, D);
	LEAF(1, va, D);
	LEAF(2, va, D);
	LEAF(DEV, va, D)
}

/* Table frame @T, which maps page @va, is being unlinked. */
inline speculate_table(va, T)
{
	TABLE_OF(0, va, T);
	TABLE_OF(1, va, T);
	TABLE_OF(2, va, T);
	TABLE_OF(DEV, va, T);
	WALKED_DONE(va)
}

/* Table frame @T, which maps no single page (M), is being unlinked. */
inline speculate_psc(T)
{
	MAYBE(psc[0] = psc[0] | BIT(T));
	MAYBE(psc[1] = psc[1] | BIT(T));
	MAYBE(psc[2] = psc[2] | BIT(T));
	MAYBE(psc[DEV] = psc[DEV] | BIT(T))
}

/* Only CPUs 0 and 2 use the slot; the device walks the areas only. */
inline speculate_slot()
{
	MAYBE(TLB(0, VA_FIX) = fix_pte);
	MAYBE(TLB(2, VA_FIX) = fix_pte)
}

/* The invariant, checked in every state: no agent remembers a pointer to a table frame that is
 * no longer a table (its walker may read it as entries at any moment),
 * and no TLB entry leads into a frame someone else owns now (a CPU may
 * read, or set a dirty bit, through it at any moment). */
#define NOT_TABLE(f)    (owner[f] != O_PT && \
			 ((psc[0] | psc[1] | psc[2] | psc[3]) & BIT(f)))
#define INTO_OTHER(f)   (owner[f] == O_OTHER && CACHED(f))

proctype monitor()
{
end:
	atomic {
		(NOT_TABLE(F_M) || NOT_TABLE(F_TA) || NOT_TABLE(F_TB) ||
		 INTO_OTHER(F_DA) || INTO_OTHER(F_DB)) ->
		printf("@@ 9 VIOLATION a cached entry leads into a frame that is not what it was\n");
		assert(false)
	}
}

/* frame_alloc() handing a free frame to someone else: any of them. */
inline frame_alloc_other(s)
{
	atomic {
		if                                        /* code: frame_alloc */
		:: owner[F_M] == O_FREE -> f = F_M
		:: owner[F_TA] == O_FREE -> f = F_TA
		:: owner[F_DA] == O_FREE -> f = F_DA
		:: owner[F_TB] == O_FREE -> f = F_TB
		:: owner[F_DB] == O_FREE -> f = F_DB
		:: else -> f = 0
		fi;
		if
		:: f != 0 ->
			owner[f] = O_OTHER;
			printf("@@ %d frame_alloc: hands frame %d to someone else\n", s, f)
		:: else
		fi;
		f = 0
	}
}

/* The frame allocator's free, with the check every free must pass:
 * nothing caches a way into the frame any more. */
inline frame_free(f)
{
	if
	:: CACHED(f) ->
#ifndef NO_FREE_CHECK
		printf("@@ 9 VIOLATION frame %d freed while cached by agents %d%d%d%d\n", f,
		       HOLDS(0, f) != 0, HOLDS(1, f) != 0, HOLDS(2, f) != 0, HOLDS(DEV, f) != 0);
		assert(false)
#else
		printf("@@ 9 frame %d freed while cached by agents %d%d%d%d (not checked)\n", f,
		       HOLDS(0, f) != 0, HOLDS(1, f) != 0, HOLDS(2, f) != 0, HOLDS(DEV, f) != 0)
#endif
	:: else
	fi;
	owner[f] = O_FREE
}
