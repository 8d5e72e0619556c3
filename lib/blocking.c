/* SPDX-License-Identifier: MIT */
/*
 * Hinted blocks: rp_blocking_begin() gives the caller's slot to waiting work
 * at once; rp_blocking_end() waits for a slot again (admission) before it
 * returns to user code.
 */
#include "internal.h"

/* Context: worker @w, in a callback. */
void rp__block_begin(struct rp_worker *w)
{
	rp_pool *pool = w->pool;
	int st;

	if (w->block_depth++ > 0)
		return;
	atomic_fetch_add_explicit(&pool->blocks_hinted, 1, memory_order_relaxed);
	for (;;) {
		st = RP_W_RUN;
		if (atomic_compare_exchange_strong(&w->state, &st, RP_W_HINTED)) {
			atomic_fetch_add(&pool->nblocked, 1);
			/* What this callback posted or took goes to the
			 * worker released in its place first (deque.c). */
			if (w->dq)
				rp__deque_stall(pool, w->dq);
			rp__slot_release(pool);
			return;
		}
		/* Already seen blocked by the regulator: its slot is gone and it
		 * is counted blocked; only the kind of block changes. */
		if (st == RP_W_DETECTED) {
			if (atomic_compare_exchange_strong(&w->state, &st, RP_W_HINTED))
				return;
			continue;
		}
		if (st != RP_W_RUN) {
			/* Not in a callback (cannot happen from user code). */
			w->block_depth--;
			return;
		}
	}
}

/* Context: worker @w, in a callback, inside a hinted block. */
void rp__block_end(struct rp_worker *w)
{
	rp_pool *pool = w->pool;

	if (w->block_depth == 0 || --w->block_depth > 0)
		return;
	rp__admission_wait(w);
	atomic_fetch_sub(&pool->nblocked, 1);
	if (w->dq)
		rp__deque_unstall(pool, w->dq);
	atomic_store_explicit(&w->state, RP_W_RUN, memory_order_release);
}

RP_EXPORT void rp_blocking_begin(void)
{
	struct rp_worker *w = rp__self;

	if (w && atomic_load_explicit(&w->state, memory_order_relaxed) != RP_W_IDLE)
		rp__block_begin(w);
}

RP_EXPORT void rp_blocking_end(void)
{
	struct rp_worker *w = rp__self;

	if (w)
		rp__block_end(w);
}
