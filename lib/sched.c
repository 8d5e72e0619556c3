/* SPDX-License-Identifier: MIT */
/*
 * Where a worker finds its next task, and the one answer to "is work
 * waiting?".
 *
 * Work waits in three kinds of places: the shared per-priority run queues
 * (fifo.c: posts from outside the pool, and the overflow of the others),
 * the workers' own deques (deque.c: normal-priority posts of callbacks,
 * and batches taken from the shared queue), and a worker's hand-over slot
 * (a task given to a parked worker in its wake-up, counted in nhand).
 * rp__find_work() takes from the first two, in the order its comment
 * gives; the hand-over slot is the loop's own (worker.c).
 *
 * rp__queues_empty() is the predicate "is work waiting for a worker?": the
 * shared queues and the deques (pool->nlocal, which never undercounts).
 * Handed-over tasks are not in it: each already has a worker on its way.
 * These must agree with it:
 *   - a parking worker's last look (idle.c, park_recheck()) and a
 *     spinner's (worker.c), which decide whether anyone must run;
 *   - rp__release_worker() and rp__slot_release() (idle.c), which wake or
 *     start a worker for waiting work;
 *   - rp__handoff() (idle.c): it hands over only while nothing waits, so
 *     a hand-over never jumps the queue;
 *   - the regulator's needed() (regulator.c): sampling matters only while
 *     work waits and no slot is free;
 *   - destroy's quiescent_locked() (pool.c), which adds nhand and nadmit,
 *     and rp__queued() below (for stats), which adds nhand.
 */
#include "internal.h"

bool rp__queues_empty(rp_pool *pool)
{
	if (atomic_load(&pool->nlocal))
		return false;
	for (int p = 0; p < RP_NPRIO; p++)
		if (rp__fifo_len(&pool->q[p]))
			return false;
	return true;
}

unsigned long long rp__queued(rp_pool *pool)
{
	unsigned long long n = atomic_load_explicit(&pool->nhand, memory_order_relaxed) +
			       atomic_load_explicit(&pool->nlocal, memory_order_relaxed);

	for (int p = 0; p < RP_NPRIO; p++)
		n += rp__fifo_len(&pool->q[p]);
	return n;
}

static bool pop_shared(struct rp_worker *w, rp_fn **fn, void **arg);

/*
 * Find @w's next task: highest priority first, except that one start in
 * RP_AGING_SHARE that passed over a waiting lower-priority task goes to the
 * lowest non-empty queue instead, so LOW work is never starved for ever.
 * Normal work comes from the worker's own deque first (newest first), but
 * one start in RP_AGING_SHARE of its callbacks' posts looks at the shared
 * queue before it, so a callback that keeps posting to itself cannot
 * starve the shared queue (a batch taken from that queue, pop_batch(), is
 * its oldest work already); then from the shared queues; then stolen from
 * the other deques.
 */
bool rp__find_work(struct rp_worker *w, rp_fn **fn, void **arg)
{
	rp_pool *pool = w->pool;

	if (w->dq && w->skips < RP_AGING_SHARE - 1 && !rp__fifo_len(&pool->q[RP_PRIORITY_HIGH]) &&
	    (rp__deque_batch_next(w) || ++w->local_runs % RP_AGING_SHARE) &&
	    rp__deque_pop(w, fn, arg)) {
		if (rp__fifo_len(&pool->q[RP_PRIORITY_LOW]))
			w->skips++;
		return true;
	}
	if (pop_shared(w, fn, arg) || rp__deque_pop(w, fn, arg))
		return true;
	return rp__deque_steal(w, fn, arg);
}

/*
 * Take a batch of normal work from the shared queue: run the first entry,
 * and put the others on the worker's own deque, where it runs them in
 * order and thieves can take them if it blocks.  A deep queue then costs
 * its consumers one CAS per batch.  The batch is a fair share: at most the
 * queue's length over the number of slots, when it is short.
 */
static bool pop_batch(struct rp_worker *w, rp_fn **fn, void **arg)
{
	rp_pool *pool = w->pool;
	rp_fn *fns[RP_BATCH];
	void *args[RP_BATCH];
	unsigned max = rp__deque_room(w), n;

	/* Over-committed (slot.c), workers share the CPUs by time slices,
	 * and a batch in a preempted worker's deque would wait out its
	 * slice while later work ran: one at a time then. */
	if (max < 2 || rp__slots(pool) > pool->concurrency)
		return false;
	max = max < RP_BATCH ? max : RP_BATCH;
	n = rp__fifo_pop_many(&pool->q[RP_PRIORITY_NORMAL], fns, args, max, pool->concurrency);
	if (!n)
		return false;
	*fn = fns[0];
	*arg = args[0];
	if (n > 1)
		rp__deque_push_many(w, fns + 1, args + 1, n - 1);
	return true;
}

/*
 * Normal work not of this worker's own: first the shared-queue work left in
 * stalled deques (their owners blocked or parked: deque.c), which came
 * before anything still in the shared queue, then a batch from the shared
 * queue.
 */
static bool pop_normal(struct rp_worker *w, rp_fn **fn, void **arg)
{
	rp_pool *pool = w->pool;

	if (rp_unlikely(atomic_load_explicit(&pool->nstalled, memory_order_relaxed)) &&
	    rp__deque_steal_stalled(w, fn, arg))
		return true;
	return pop_batch(w, fn, arg) || rp__fifo_pop(&pool->q[RP_PRIORITY_NORMAL], fn, arg);
}

/* pop_task() from the shared queues (and stalled deques) alone. */
static bool pop_shared(struct rp_worker *w, rp_fn **fn, void **arg)
{
	rp_pool *pool = w->pool;

	if (rp_unlikely(w->skips >= RP_AGING_SHARE - 1)) {
		for (int p = RP_NPRIO - 1; p > 0; p--) {
			if (rp__fifo_pop(&pool->q[p], fn, arg)) {
				w->skips = 0;
				return true;
			}
		}
	}
	for (int p = 0; p < RP_NPRIO; p++) {
		if (!(p == RP_PRIORITY_NORMAL ? pop_normal(w, fn, arg)
					      : rp__fifo_pop(&pool->q[p], fn, arg)))
			continue;
		for (int l = p + 1; l < RP_NPRIO; l++) {
			if (rp__fifo_len(&pool->q[l])) {
				w->skips++;
				break;
			}
		}
		return true;
	}
	return false;
}
