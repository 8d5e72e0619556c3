/* SPDX-License-Identifier: MIT */
/*
 * Hinted blocks: rp_blocking_begin() gives the caller's slot to waiting work
 * at once; rp_blocking_end() waits for a slot again (admission) before it
 * returns to user code.
 */
#include "internal.h"

#include <errno.h>

/* Context: worker @w, in a callback. */
void rp__block_begin(struct rp_worker *w)
{
	rp_pool *pool = w->pool;
	int st;

	if (w->block_depth++ > 0)
		return;
	st = atomic_load_explicit(&w->state, memory_order_relaxed);
	if (st != RP_W_RUN && st != RP_W_DETECTED) {
		/* Not in a callback: cannot happen from user code. */
		w->block_depth--;
		return;
	}
	atomic_fetch_add_explicit(&pool->blocks_hinted, 1, memory_order_relaxed);
	/* Seen blocked by the regulator already: its slot is gone and it is
	 * counted blocked; only the kind of block changes. */
	if (!rp__w_hint(w))
		return;
	/* What this callback took from the shared queue goes to the worker
	 * released in its place first (deque.c). */
	if (w->dq)
		rp__deque_stall(pool, w->dq);
	rp__slot_release_near(pool, sched_getcpu());
}

/* Context: worker @w, in a callback, inside a hinted block. */
void rp__block_end(struct rp_worker *w)
{
	if (w->block_depth == 0 || --w->block_depth > 0)
		return;
	if (rp__w_unhint(w))
		rp__slot_release(w->pool);
}

/* Both leave errno as they found it: the call they bracket sets it, and
 * its caller reads it after rp_blocking_end() (a futex wait that finds its
 * word changed, on the admission path, would otherwise say EAGAIN). */
RP_EXPORT void rp_blocking_begin(void)
{
	struct rp_worker *w = rp__self;
	int saved = errno;

	if (w && atomic_load_explicit(&w->state, memory_order_relaxed) != RP_W_IDLE)
		rp__block_begin(w);
	errno = saved;
}

RP_EXPORT void rp_blocking_end(void)
{
	struct rp_worker *w = rp__self;
	int saved = errno;

	if (w)
		rp__block_end(w);
	errno = saved;
}
