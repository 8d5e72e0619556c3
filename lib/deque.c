/* SPDX-License-Identifier: MIT */
/*
 * Worker-local run queues: a task posted from a callback, at normal
 * priority, goes to the posting worker's own deque, which the worker runs
 * newest first (the children of a task while their data is in its cache),
 * and from which idle workers steal oldest first.  This is the Chase-Lev
 * work-stealing deque (bounded: a full deque sends posts to the shared
 * queue), as in TBB, OpenMP and Cilk, inside the pool's regulation: a
 * worker takes from its deque only while it holds a slot, the same as from
 * the shared queues, and the deques count in pool->nlocal, so every rule
 * that asks "is work waiting?" sees them.
 *
 * Deques are a budget like rings and monitors: C + RP_DEQUE_EXTRA of them,
 * owned by the pool for its whole life (so a thief never touches freed
 * memory), each taken by a worker when it starts a task and given back
 * when it parks.  A worker without one posts to the shared queue.
 *
 * A deque whose owner does not run is *stalled*: its owner is blocked in a
 * callback (hinted, or detected), or parked after yielding its slot with
 * entries left.  What waits in it is then of two kinds.  The owner's own
 * posts, the children of its callbacks, are its subtree: they are stolen
 * the ordinary way, once the shared queue is empty, so a tree is walked
 * depth first (taking them first made W4's walk breadth first: 515
 * threads blocked at once instead of 137, twice the makespan).  But the
 * rest of a batch the owner took from the shared queue (below batch_end)
 * is shared-queue work that must not lose its place in line: while posts
 * from outside keep the shared queue busy, nobody would ever steal it
 * (issue 10: requests waited 3-9.5 s in a closed loop of blocking tasks).
 * So the batch entries of stalled deques go before the shared queue's
 * normal work (rp__deque_steal_stalled(), the deque stalled longest
 * first), and a deque given back by a worker that parks counts as batch
 * whole: nobody comes back for its entries.  A free deque with entries is
 * left to thieves: the next worker takes an empty one, so its own newer
 * posts never bury the old entries.
 *
 * Memory orders follow Lê, Pop, Cohen and Zappa Nardelli, "Correct and
 * efficient work-stealing for weak memory models" (PPoPP 2013).
 */
#include "internal.h"

#include <stdlib.h>

int rp__deques_init(rp_pool *pool)
{
	pool->ndeques = pool->concurrency + RP_DEQUE_EXTRA;
	pool->deques = rp__aligned_alloc(RP_FAULT_ALLOC_DEQUES, RP_CACHELINE, pool->ndeques * sizeof(*pool->deques));
	if (!pool->deques)
		return -ENOMEM;
	for (unsigned i = 0; i < pool->ndeques; i++) {
		struct rp_deque *d = &pool->deques[i];

		atomic_init(&d->top, 0);
		atomic_init(&d->bottom, 0);
		atomic_init(&d->owner, NULL);
		atomic_init(&d->stalled, false);
		atomic_init(&d->stalled_ns, 0);
		atomic_init(&d->batch_end, 0);
		for (unsigned k = 0; k < RP_DEQUE_SIZE; k++) {
			atomic_init(&d->slot[k].fn, NULL);
			atomic_init(&d->slot[k].arg, NULL);
		}
	}
	return 0;
}

void rp__deques_fini(rp_pool *pool)
{
	free(pool->deques);
	pool->deques = NULL;
}

static bool deque_empty(struct rp_deque *d)
{
	return atomic_load_explicit(&d->top, memory_order_acquire) >=
	       atomic_load_explicit(&d->bottom, memory_order_acquire);
}

/* Does @d hold batch entries (shared-queue work, or orphans)? */
static bool has_batch(struct rp_deque *d)
{
	return atomic_load_explicit(&d->top, memory_order_acquire) <
	       atomic_load_explicit(&d->batch_end, memory_order_relaxed);
}

/* Mark @d stalled, its owner not running, if it holds batch entries.
 * Context: any thread. */
void rp__deque_stall(rp_pool *pool, struct rp_deque *d)
{
	if (has_batch(d) && !atomic_load_explicit(&d->stalled, memory_order_relaxed) &&
	    !atomic_exchange(&d->stalled, true)) {
		/* A thief may read the time of an earlier stall first: the
		 * order among stalled deques is only a little off. */
		atomic_store_explicit(&d->stalled_ns, rp__now_ns(), memory_order_relaxed);
		atomic_fetch_add(&pool->nstalled, 1);
	}
}

/* Its owner runs again, or nothing is left in it.  Context: any thread. */
void rp__deque_unstall(rp_pool *pool, struct rp_deque *d)
{
	if (atomic_load_explicit(&d->stalled, memory_order_relaxed) &&
	    atomic_exchange(&d->stalled, false))
		atomic_fetch_sub(&pool->nstalled, 1);
}

/* @w was just seen blocked: stall its deque.  @w's dq is
 * its own to read, so find the deque by its owner.
 * Context: the detecting thread, pool->lock held. */
void rp__deque_stall_owner(rp_pool *pool, struct rp_worker *w)
{
	rp__assert_held(&pool->lock);
	for (unsigned i = 0; i < pool->ndeques; i++) {
		struct rp_deque *d = &pool->deques[i];

		if (atomic_load_explicit(&d->owner, memory_order_relaxed) == w) {
			rp__deque_stall(pool, d);
			return;
		}
	}
}

/*
 * Take a free, empty deque for @w, if the budget has one (a free deque with
 * entries is left to thieves, see above).  Context: worker @w, before a
 * task, after a look at ndq_taken.
 */
void rp__deque_take(rp_pool *pool, struct rp_worker *w)
{
	for (unsigned i = 0; i < pool->ndeques; i++) {
		struct rp_deque *d = &pool->deques[(w->id + i) % pool->ndeques];
		struct rp_worker *none = NULL;

		if (atomic_load_explicit(&d->owner, memory_order_relaxed) ||
		    atomic_load_explicit(&d->stalled, memory_order_relaxed))
			continue;
		if (!atomic_compare_exchange_strong(&d->owner, &none, w))
			continue;
		if (atomic_load_explicit(&d->stalled, memory_order_relaxed) || !deque_empty(d)) {
			/* Its giver stalled it before it let go, and our
			 * look before the CAS missed that: left to thieves. */
			atomic_store_explicit(&d->owner, NULL, memory_order_release);
			continue;
		}
		atomic_fetch_add_explicit(&pool->ndq_taken, 1, memory_order_relaxed);
		w->dq = d;
		atomic_store_explicit(&d->batch_end, atomic_load_explicit(&d->bottom,
									  memory_order_relaxed),
				      memory_order_relaxed);
		return;
	}
}

/*
 * Give @w's deque back.  Entries left in it (a worker yielding its slot)
 * stay counted in nlocal, and are orphans now: the deque is stalled whole,
 * so that the other workers take them before fresh work.
 * Context: worker @w, about to park.
 */
void rp__deque_give(struct rp_worker *w)
{
	struct rp_deque *d = w->dq;

	if (!d)
		return;
	atomic_store_explicit(&d->batch_end, atomic_load_explicit(&d->bottom, memory_order_relaxed),
			      memory_order_relaxed);
	rp__deque_stall(w->pool, d);
	atomic_fetch_sub_explicit(&w->pool->ndq_taken, 1, memory_order_relaxed);
	/* Pairs with the CAS in rp__deque_take(): the next owner sees our
	 * bottom. */
	atomic_store_explicit(&d->owner, NULL, memory_order_release);
	w->dq = NULL;
}

/*
 * Push onto @w's own deque.  Context: worker @w, holding a deque.
 * Return: false if it is full (the caller uses the shared queue).
 */
bool rp__deque_push(struct rp_worker *w, rp_fn *fn, void *arg)
{
	struct rp_deque *d = w->dq;
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
	int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
	struct rp_dslot *s = &d->slot[b & (RP_DEQUE_SIZE - 1)];

	if (b - t >= (int64_t)RP_DEQUE_SIZE)
		return false;
	atomic_store_explicit(&s->fn, fn, memory_order_relaxed);
	atomic_store_explicit(&s->arg, arg, memory_order_relaxed);
	/* Pairs with the acquire of bottom in rp__deque_steal(): the entry
	 * before the new bottom. */
	atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
	return true;
}

/*
 * Push @n entries that @w took from the shared queue, so that its pops run
 * them in queue order (@fn[0] first) and thieves take the last ones.  They
 * are counted in nlocal before they become stealable.
 * Context: worker @w, holding a deque with room for @n (rp__deque_room()).
 */
void rp__deque_push_many(struct rp_worker *w, rp_fn **fn, void **arg, unsigned n)
{
	struct rp_deque *d = w->dq;
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);

	atomic_fetch_add(&w->pool->nlocal, n);
	for (unsigned i = n; i-- > 0; b++) {
		struct rp_dslot *s = &d->slot[b & (RP_DEQUE_SIZE - 1)];

		atomic_store_explicit(&s->fn, fn[i], memory_order_relaxed);
		atomic_store_explicit(&s->arg, arg[i], memory_order_relaxed);
	}
	/* As in rp__deque_push(). */
	atomic_store_explicit(&d->bottom, b, memory_order_release);
	atomic_store_explicit(&d->batch_end, b, memory_order_relaxed);
}

/*
 * Is the entry rp__deque_pop() would return next one of a batch from the
 * shared queue (below batch_end), rather than a post of @w's callbacks?
 * Context: worker @w, holding a deque.
 */
bool rp__deque_batch_next(const struct rp_worker *w)
{
	return atomic_load_explicit(&w->dq->bottom, memory_order_relaxed) <=
	       atomic_load_explicit(&w->dq->batch_end, memory_order_relaxed);
}

/* Free entries in @w's deque (0 without one).  Context: worker @w. */
unsigned rp__deque_room(const struct rp_worker *w)
{
	const struct rp_deque *d = w->dq;

	if (!d)
		return 0;
	return RP_DEQUE_SIZE - (unsigned)(atomic_load_explicit(&d->bottom, memory_order_relaxed) -
					  atomic_load_explicit(&d->top, memory_order_acquire));
}

/* Pop the newest entry of @w's own deque.  Context: worker @w. */
bool rp__deque_pop(struct rp_worker *w, rp_fn **fn, void **arg)
{
	struct rp_deque *d = w->dq;
	int64_t b, t;
	bool ok = true;

	if (!d)
		return false;
	b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1;
	atomic_store_explicit(&d->bottom, b, memory_order_relaxed);
	/* Pairs with the fence in rp__deque_steal(): a thief and we cannot
	 * both miss each other's claim on the last entry. */
	atomic_thread_fence(memory_order_seq_cst);
	t = atomic_load_explicit(&d->top, memory_order_relaxed);
	if (t > b) {
		atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
		return false;
	}
	struct rp_dslot *s = &d->slot[b & (RP_DEQUE_SIZE - 1)];
	*fn = atomic_load_explicit(&s->fn, memory_order_relaxed);
	*arg = atomic_load_explicit(&s->arg, memory_order_relaxed);
	if (t == b) {
		/* The last entry: race the thieves for it. */
		ok = atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1,
							     memory_order_seq_cst,
							     memory_order_relaxed);
		atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
	}
	/* A batch entry went, or was stolen. */
	if (b < atomic_load_explicit(&d->batch_end, memory_order_relaxed))
		atomic_store_explicit(&d->batch_end, b, memory_order_relaxed);
	if (ok)
		atomic_fetch_sub(&w->pool->nlocal, 1);
	return ok;
}

/* Steal the oldest entry of @d.  Context: any worker of the pool. */
static bool steal(rp_pool *pool, struct rp_deque *d, rp_fn **fn, void **arg)
{
	int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);

	atomic_thread_fence(memory_order_seq_cst);
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_acquire);

	if (t >= b)
		return false;
	struct rp_dslot *s = &d->slot[t & (RP_DEQUE_SIZE - 1)];
	/* May be torn by an owner that wrapped around: then the CAS fails. */
	*fn = atomic_load_explicit(&s->fn, memory_order_relaxed);
	*arg = atomic_load_explicit(&s->arg, memory_order_relaxed);
	if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
						     memory_order_relaxed))
		return false;
	atomic_fetch_sub(&pool->nlocal, 1);
	return true;
}

/*
 * Steal a batch entry from the deque stalled longest; unstall the ones
 * that have none left.  Context: worker @w, holding a slot.
 */
bool rp__deque_steal_stalled(struct rp_worker *w, rp_fn **fn, void **arg)
{
	rp_pool *pool = w->pool;

	for (;;) {
		struct rp_deque *oldest = NULL;
		uint64_t since = UINT64_MAX;

		for (unsigned i = 0; i < pool->ndeques; i++) {
			struct rp_deque *d = &pool->deques[i];
			uint64_t t;

			if (!atomic_load_explicit(&d->stalled, memory_order_relaxed))
				continue;
			t = atomic_load_explicit(&d->stalled_ns, memory_order_relaxed);
			if (t <= since) {
				since = t;
				oldest = d;
			}
		}
		if (!oldest)
			return false;
		if (has_batch(oldest)) {
			if (steal(pool, oldest, fn, arg))
				return true;
			if (has_batch(oldest))
				return false; /* lost a race for its top entry */
		}
		rp__deque_unstall(pool, oldest);
	}
}

/*
 * Steal from the other workers' deques, oldest entry first, starting at a
 * place that differs per worker.  Context: worker @w.
 */
bool rp__deque_steal(struct rp_worker *w, rp_fn **fn, void **arg)
{
	rp_pool *pool = w->pool;

	if (!atomic_load_explicit(&pool->nlocal, memory_order_relaxed))
		return false;
	for (unsigned i = 0; i < pool->ndeques; i++) {
		struct rp_deque *d = &pool->deques[(w->id + 1 + i) % pool->ndeques];

		if (d != w->dq && steal(pool, d, fn, arg))
			return true;
	}
	return false;
}
