/* shootdown.pml: the kernel's TLB shootdown protocol, checked by SPIN.
 *
 * The protocol of mm/shootdown.c: unhook -> ONE IPI to the others, then
 * invalidate here while they do -> wait for every ack -> tell the device
 * TLB -> free.
 * docs/model.md says what is modelled, what is left out and why, and
 * how to run it.  Each step names the kernel function it stands for in
 * a "code:" comment; tools/model/check_names.py fails when one of those
 * names is no longer defined in the kernel's sources.
 *
 * The scripts the three CPUs run, all at once (proctype cpu below):
 *   CPU 0  vfree(A), lazily: its leaf cleared, its emptied table left
 *          linked; then vm_purge_lazy_now(), which unlinks that table
 *          if it is still empty and shoots down once
 *   CPU 1  vfree_now(B), unlinking at once: a second shootdown,
 *          concurrent with the purge's; then frame_alloc() hands a
 *          freed frame to someone else
 *   CPU 2  an IRQ-off window; then a purge of its own, racing CPU 0's
 * and, as a second scenario (-DFIXMAP), CPU 0 and CPU 2 (IRQs off, as
 * NMI code runs) each map their own buffer at the fixmap slot, read
 * through it and unmap it; as a third (-DLOCKLESS_MAP), CPU 0 as above
 * while CPU 2 maps area C, a new area in TA's span, without kpt.lock.
 * The walkers of every CPU and of the device may have cached any entry
 * before it was unlinked (machine.pml).
 *
 * Variants (-D NAME; none = the kernel as it is):
 *   NO_REMOTE_IPI                       the local invalidation only
 *   FREE_BEFORE_ACK                     seed 002: free, then wait
 *   DEVICE_TOLD_AFTER_FREE              seed 003: free, then tell the device
 *   FIXMAP_NO_LOCAL_INVALIDATE_ON_MAP   seed 001: the slot reused unflushed
 *   FREE_AT_UNLINK                      seed 000: the purge frees a table
 *                                       where it unlinks it
 *   RECLAIM_AFTER_FLUSH                 the purge unlinks its tables after
 *                                       its shootdown, then frees them
 *   NO_SERVE_WHILE_WAITING              a waiting CPU does not serve its
 *                                       own queue: two waiters deadlock
 *   LOCKLESS_NO_PIN                     (with LOCKLESS_MAP) the map does
 *                                       not pin TA; the reclaim looks at
 *                                       the leaves instead of the count
 *   LOCKLESS_IRQS_ON                    (with LOCKLESS_MAP) the map walks
 *                                       with interrupts on
 */

#include "machine.pml"
#include "smp.pml"

/* Each CPU's gather (mm/gather.c): the frames on it, and the pages
 * (a VA bitmask) whose translations may be stale. */
byte gf[NCPU];
byte gva[NCPU];

/* vm_lazy (mm/vmalloc.c): lazily freed areas' frames and pages, waiting
 * for a purge.  The kernel keeps one such gather per CPU, each under its
 * own lock; a gather carries its frames with the pages that lead to
 * them, so a purge that takes some CPUs' gathers and not others is this
 * one list with the rest joining later: one list models them all. */
byte lazy_f;
byte lazy_va;

bool kpt_lock;                    /* kpt.lock: one writer of the tables at a time */

/* TA's count of present entries (frame.entries): A's leaf at first.  A
 * lockless map adds to it before writing, an unlink makes it DEAD from 0
 * (mm/kpt_internal.h); the allocator sets it to 0 again. */
#define DEAD 255
byte ta_cnt = 1;
bool ta_dc;                       /* TA -> DC, area C's leaf (LOCKLESS_MAP) */

#define SLOT_FREE NCPU
byte slot_owner = SLOT_FREE;      /* the fixmap slot's holder */

bool in_shootdown[NCPU];          /* for the progress property */

/* Who writes, in a trail line ("fn 1"): tools/model/run.py names them. */
#define FN_UNMAP        0         /* kpt_unmap() */
#define FN_UNMAP_LEAVES 1         /* kpt_unmap_leaves() */
#define FN_RECLAIM      2         /* kpt_reclaim_empty_tables() */

/* Clear the leaf of page @va (leading to data frame @D): any walker
 * may have cached it until now.  => kpt.lock. */
inline clear_leaf(s, fn, va, D, pte_d)
{
	atomic {
		speculate_leaf(va, D);
		pte_d = 0;
		printf("@@ %d fn %d: clears the leaf of VA %d, cached by agents %d%d%d%d\n",
		       s, fn, va, TLB(0, va) != 0, TLB(1, va) != 0, TLB(2, va) != 0,
		       TLB(DEV, va) != 0)
	}
}

#define VA_NONE NVA                /* M maps both areas' pages */

/* Unlink table frame @T, which maps page @va (clear @link, the entry
 * that points to it):
 * any walker may have cached that entry until now, the table being
 * linked and present.  Then the table goes on CPU @s's gather -- or, in
 * the variants where the purge frees a table where it unlinks it
 * (@by_purge), straight back to the allocator.  => kpt.lock. */
inline unlink_table(s, fn, va, T, link, by_purge)
{
	atomic {
		if                                        /* code: kpt_table_unlink */
		:: va == VA_NONE -> speculate_psc(T)
		:: else -> speculate_table(va, T)
		fi;
		link = 0;
		printf("@@ %d fn %d: unlinks table frame %d, now empty, cached by agents %d%d%d%d\n",
		       s, fn, T, (psc[0] & BIT(T)) != 0, (psc[1] & BIT(T)) != 0,
		       (psc[2] & BIT(T)) != 0, (psc[DEV] & BIT(T)) != 0);
#if defined(FREE_AT_UNLINK) || defined(RECLAIM_AFTER_FLUSH)
		if
		:: by_purge ->
			printf("@@ %d frame_free: frame %d, where it unlinks it\n", s, T);
			frame_free(T)
		:: else -> gf[s] = gf[s] | BIT(T)
		fi
#else
		gf[s] = gf[s] | BIT(T)                    /* code: pt_gather_add */
#endif
	}
}

/* The three writers of the tables, under kpt.lock.  Taking the lock
 * is folded into the first write's step and releasing it into the
 * last's: only the writers look at the lock, and they wait for it
 * anyway, so no other process can tell. */

/* kpt_unmap() of area B, the eager path: clear the leaf, then unlink
 * every table the walk emptied, bottom up, each a separate write that
 * any walker may see half done: TB, and M too if the purge's reclaim
 * already took TA.  => kpt.lock, IRQs off. */
inline kpt_unmap_b(s)
{
	atomic {
		!kpt_lock -> kpt_lock = 1;                /* code: kpt_unmap */
		clear_leaf(s, FN_UNMAP, VA_B, F_DB, tb_db)
	}
	unlink_table(s, FN_UNMAP, VA_B, F_TB, m_tb, 0);
	atomic {
		if
		:: !m_ta -> unlink_table(s, FN_UNMAP, VA_NONE, F_M, root_m, 0)
		:: else
		fi;
		gva[s] = gva[s] | BIT(VA_B);
		kpt_lock = 0
	}
}

/* kpt_unmap_leaves() of area A, the lazy path, without kpt.lock (its
 * range is inside one PTE table): clear the leaf, then take it off TA's
 * count; TA, now empty, stays linked for the next area of its span. */
inline kpt_unmap_leaves_a(s)
{
	atomic {
		clear_leaf(s, FN_UNMAP_LEAVES, VA_A, F_DA, ta_da); /* code: kpt_unmap_leaves_within_table */
		gva[s] = gva[s] | BIT(VA_A)
	}
	atomic {
		ta_cnt--;                                 /* code: kpt_count_sub */
		printf("@@ %d kpt_unmap_leaves: leaves table frame %d linked, counting %d\n", s, F_TA, ta_cnt)
	}
}

/* kpt_reclaim_empty_tables() over the purge's batch (area A's page):
 * unlink, bottom up, every table there that is still empty -- TA, then
 * M if TB is gone too -- onto the purge's gather.  => kpt.lock. */
inline kpt_reclaim(s)
{
	atomic {
		!kpt_lock -> kpt_lock = 1;                /* code: kpt_reclaim_empty_tables */
		if
#ifndef LOCKLESS_NO_PIN
		:: m_ta && ta_cnt == 0 ->
			ta_cnt = DEAD;                    /* code: kpt_table_kill_if_empty */
#else
		:: m_ta && !ta_da && !ta_dc ->            /* what is present now */
#endif
			unlink_table(s, FN_RECLAIM, VA_A, F_TA, m_ta, 1)
		:: else
		fi
	}
	atomic {
		if
		:: root_m && !m_ta && !m_tb ->
			unlink_table(s, FN_RECLAIM, VA_NONE, F_M, root_m, 1)
		:: else
		fi;
		kpt_lock = 0
	}
}

/* Step 4 of the contract: every gathered frame back to the allocator. */
inline free_gathered(s)
{
	atomic {
		f = 1;                                    /* code: frame_free */
		do
		:: f < NFRAME ->
			if
			:: gf[s] & BIT(f) ->
				printf("@@ %d frame_free: frame %d\n", s, f);
				frame_free(f);
				if                        /* code: cache_mark_free */
				:: f == F_TA -> ta_cnt = 0
				:: else
				fi
			:: else
			fi;
			f++
		:: else -> break
		od;
		gf[s] = 0;
		f = 0
	}
}

/* Step 3b: the subscribed device TLB drops the request's pages. */
inline notify_device(s)
{
	atomic {
		invalidate_range(DEV, req[s]);
		printf("@@ %d tells the device TLB to drop the pages\n", s)
	}
}

/* shootdown_flush_and_free(): the whole protocol, on CPU @s.  ONE IPI
 * to the others first, then the local invalidation while the targets do
 * theirs. */
inline shootdown(s)
{
	atomic {
		in_shootdown[s] = 1;                      /* code: shootdown_flush_and_free */
		req[s] = gva[s]
	}
#ifndef NO_REMOTE_IPI
	call_all_but_self(s);                             /* code: invalidate_remote */
#endif
	atomic {
		invalidate_range(s, req[s]);              /* code: shootdown_invalidate_local */
		printf("@@ %d shootdown_invalidate_local: invalidates its own TLB\n", s)
	}
#ifdef FREE_BEFORE_ACK
	free_gathered(s);
#endif
#ifndef NO_REMOTE_IPI
	wait_for_all_acks(s);
#endif
#ifdef DEVICE_TOLD_AFTER_FREE
	free_gathered(s);
	notify_device(s);
#else
	notify_device(s);
	free_gathered(s);
#endif
	atomic {
		req[s] = 0;
		gva[s] = 0;
		in_shootdown[s] = 0
	}
}

/* vfree() of area A: vm_unmap_lazily() clears its leaf, and its frame
 * (its table stays linked) waits on the lazy list; then, as when too
 * much waits, vm_unmap_lazily() purges. */
inline vfree_a_lazily(s)
{
	atomic {
		gf[s] = 0; gva[s] = 0;                    /* code: pt_gather_init */
		printf("@@ %d vfree(A): vm_unmap_lazily\n", s) /* code: vfree */ /* code: vm_unmap_lazily */
	}
	kpt_unmap_leaves_a(s);
	atomic {
		gf[s] = gf[s] | BIT(F_DA);
		lazy_f = lazy_f | gf[s];                  /* code: pt_gather_splice */
		lazy_va = lazy_va | gva[s];
		gf[s] = 0;
		gva[s] = 0;
		printf("@@ %d frame %d, A's data, waits on the lazy list\n", s, F_DA)
	}
}

/* vfree_now() of area B: vm_unmap_now(), its own shootdown. */
inline vfree_b_now(s)
{
	atomic {
		gf[s] = 0; gva[s] = 0;
		printf("@@ %d vfree_now(B): vm_unmap_now\n", s) /* code: vfree_now */ /* code: vm_unmap_now */
	}
	kpt_unmap_b(s);
	gf[s] = gf[s] | BIT(F_DB);
	shootdown(s)
}

/* vm_purge_lazy_now(): take every waiting frame and area, unlink the
 * batch's tables still empty onto the same gather, then one shootdown.
 * Two purges may race: each takes what is there, the later one may find
 * nothing and return.  RECLAIM_AFTER_FLUSH unlinks after the shootdown
 * instead, and frees at once. */
inline purge_lazy(s)
{
	atomic {
		gf[s] = lazy_f;                           /* code: vm_purge_lazy_now */
		gva[s] = lazy_va;
		lazy_f = 0;
		lazy_va = 0;
		printf("@@ %d vm_purge_lazy_now: takes the lazy list\n", s)
	}
	if
	:: gf[s] == 0 && gva[s] == 0 -> skip
	:: else ->
#ifndef RECLAIM_AFTER_FLUSH
		kpt_reclaim(s);
		shootdown(s)
#else
		shootdown(s);
		kpt_reclaim(s)
#endif
	fi
}

/* kpt_map() of area C, a new page in TA's span, the short way: without
 * kpt.lock, interrupts off, walk to TA, pin it (add C's page to its
 * count unless it is DEAD), then write C's leaf.  A dead or unlinked TA
 * sends the map the long way, under kpt.lock, which links a new table
 * (not modelled: it is an ordinary locked writer).  The properties, at
 * the write: TA is still a page table (not freed while we walked), and
 * the tree still reaches it (the mapping is not lost). */
inline map_c_lockless(s)
{
#ifndef LOCKLESS_IRQS_ON
	irqon[s] = 0;                                     /* code: kpt_map_within_table */
#endif
	atomic {
		reached = root_m && m_ta;                  /* code: kpt_pte_table_unlocked */
		printf("@@ %d kpt_map(C): walks to table frame %d: %d\n", s, F_TA, reached)
	}
	if
	:: reached ->
#ifndef LOCKLESS_NO_PIN
		atomic {
			if                                /* code: kpt_table_pin */
			:: ta_cnt != DEAD -> ta_cnt++; pinned = 1
			:: else -> pinned = 0
			fi;
			printf("@@ %d kpt_map(C): pins table frame %d: %d\n", s, F_TA, pinned)
		}
#else
		pinned = 1;
#endif
		if
		:: pinned ->
			atomic {
				if
				:: owner[F_TA] != O_PT ->
					printf("@@ %d VIOLATION writes C's leaf into frame %d, no longer a page table\n", s, F_TA);
					assert(false)
				:: !(root_m && m_ta) ->
					printf("@@ %d VIOLATION writes C's leaf into table frame %d, which the tree no longer reaches: the mapping is lost\n", s, F_TA);
					assert(false)
				:: else
				fi;
				ta_dc = 1;
				printf("@@ %d kpt_map(C): writes C's leaf into table frame %d\n", s, F_TA)
			}
		:: else -> skip                           /* the long way */
		fi
	:: else -> skip                                   /* the long way */
	fi;
	irqon[s] = 1
}

/* The fixmap slot (mm/fixmap.c): map my buffer, read through the slot,
 * unmap; every invalidation local. */
inline fixmap_use(s, buf)
{
	if
	:: atomic {
		slot_owner == SLOT_FREE ->
		slot_owner = s;                           /* code: fixmap_local_map */
		fix_pte = buf;
		printf("@@ %d fixmap_local_map: maps frame %d at the slot\n", s, buf)
	   }
#ifndef FIXMAP_NO_LOCAL_INVALIDATE_ON_MAP
		atomic {
			invlpg(s, VA_FIX);                /* code: tlb_flush_local_page */
			printf("@@ %d invalidates the slot, locally\n", s)
		}
#endif
		atomic {
			if
			:: TLB(s, VA_FIX) == 0 -> TLB(s, VA_FIX) = fix_pte
			:: else
			fi;
			printf("@@ %d reads the slot: frame %d\n", s, TLB(s, VA_FIX));
			if
			:: TLB(s, VA_FIX) != buf ->
				printf("@@ %d VIOLATION reads frame %d through the slot, not its own frame %d\n",
				       s, TLB(s, VA_FIX), buf);
				assert(false)
			:: else
			fi
		}
		atomic {
			speculate_slot();
			fix_pte = 0;                      /* code: fixmap_local_unmap */
			invlpg(s, VA_FIX);
			printf("@@ %d fixmap_local_unmap: clears the slot, invalidates locally; still cached by agents %d%d%d%d\n",
			       s, TLB(0, VA_FIX) != 0, TLB(1, VA_FIX) != 0, TLB(2, VA_FIX) != 0, 0)
		}
		slot_owner = SLOT_FREE
	:: atomic {
		slot_owner != SLOT_FREE ->
		printf("@@ %d fixmap_local_map: the slot is held, NULL\n", s)
	   }
	fi
}

/* Two scenarios, checked one at a time: they share no state (the
 * slot's tables are pinned, the shootdown never touches the slot), so
 * checking each alone is checking them together, at the sum of the
 * costs instead of the product.  -DFIXMAP selects the slot's. */
proctype cpu(byte id)
{
	byte f;                           /* free_gathered()'s cursor */
	bool reached, pinned;             /* map_c_lockless()'s */

#if defined(LOCKLESS_MAP)
	if
	:: id == 0 ->
		vfree_a_lazily(0);
		purge_lazy(0)
	:: id == 1 -> skip
	:: id == 2 -> map_c_lockless(2)
	fi
#elif !defined(FIXMAP)
	if
	:: id == 0 ->
		vfree_a_lazily(0);
		purge_lazy(0)
	:: id == 1 ->
		vfree_b_now(1);
		frame_alloc_other(1)
	:: id == 2 ->
		irqon[2] = 0;                     /* an IRQ-off window */
		printf("@@ 2 interrupts off\n");
		irqon[2] = 1;
		printf("@@ 2 interrupts on\n");
		purge_lazy(2)
	fi
#else
	if
	:: id == 0 -> fixmap_use(0, F_X0)
	:: id == 1 -> skip
	:: id == 2 ->
		irqon[2] = 0;                     /* as NMI code runs */
		fixmap_use(2, F_X2);
		irqon[2] = 1
	fi
#endif
}

init
{
	atomic {
		owner[F_M] = O_PT; owner[F_TA] = O_PT; owner[F_TB] = O_PT;
		owner[F_DA] = O_A; owner[F_DB] = O_B;
		owner[F_X0] = O_X0; owner[F_X2] = O_X2;
		run monitor();
		run ipi_handler(0); run ipi_handler(1); run ipi_handler(2);
		run cpu(0); run cpu(1); run cpu(2)
	}
}

/* Every shootdown that starts completes (checked under weak fairness). */
ltl progress {
	[] ((in_shootdown[0] -> <> !in_shootdown[0]) &&
	    (in_shootdown[1] -> <> !in_shootdown[1]) &&
	    (in_shootdown[2] -> <> !in_shootdown[2]))
}
