/* SPDX-License-Identifier: MIT */
/* rp_post, rp_post_prio: one call of fn(arg) on a pool; and many at once. */
#include "internal.h"

/* Work was queued: make sure a worker will run it. */
static void see_work(rp_pool *pool)
{
	/* Pairs (a) and (b) in idle.c: the entry was published by a seq_cst
	 * RMW (the CAS on the queue's tail, or nlocal's increment), so these
	 * seq_cst loads and a parking worker's RMW-then-look cannot both
	 * miss each other.  (No fence needed: a plain load on x86.)  A
	 * spinning worker that finds work wakes the next one itself. */
	if (atomic_load(&pool->nspinning))
		return;
	if (atomic_load(&pool->running) < rp__slots(pool))
		rp__release_worker(pool);
	else
		rp__regulator_kick(pool);
}

/*
 * Queue @fn(@arg), or hand it to an idle worker in its wake-up.  A saturated
 * pool (no free slot, or a spinning worker) takes only the queue's push
 * and a few loads: no system call, no lock.  A post that wakes a worker
 * takes pool->lock and makes one system call (the kick); one that finds
 * no worker idle starts one (pthread_create(), after the lock).  A post
 * from a callback of the pool at normal priority goes to the worker's own
 * deque.
 * The pool's first post starts its regulator, which from then on starts
 * workers whenever work waits and none could be started before; a post
 * that cannot start it fails, so accepted work always has a thread that
 * will see it run.
 * Context: any thread.  Return: 0, -ENOMEM, or -EAGAIN (the regulator
 * could not be started); nothing queued on error.
 */
int rp__post(rp_pool *pool, enum rp_priority prio, rp_fn *fn, void *arg)
{
	struct rp_worker *self = rp__self;
	int ret;

	if (rp_unlikely(!atomic_load_explicit(&pool->reg.started, memory_order_acquire))) {
		ret = rp__regulator_start(pool);
		if (ret)
			return ret;
	}
	if (rp__handoff(pool, fn, arg))
		return 0;
	/* From a callback of this pool, holding a slot: onto the worker's
	 * own deque (deque.c), counted first so that nlocal never
	 * undercounts. */
	if (prio == RP_PRIORITY_NORMAL && self && self->pool == pool && self->dq &&
	    atomic_load_explicit(&self->state, memory_order_relaxed) == RP_W_RUN) {
		atomic_fetch_add(&pool->nlocal, 1);
		if (rp__deque_push(self, fn, arg))
			goto look;
		atomic_fetch_sub(&pool->nlocal, 1);
	}
	ret = rp__fifo_push(&pool->q[prio], fn, arg);
	if (ret)
		return ret;
look:
	see_work(pool);
	return 0;
}

/*
 * Queue @n entries @fn(@args[i]) on the shared queue, then see to a worker
 * once: a worker woken finds them all.  (Posted one by one, each wakes a
 * worker that, on a small machine, preempts the poster, runs the one entry
 * and parks again before the next is queued: bench/timerbench measured
 * 5,000 such preemptions of the event thread in a second of timers.)
 * Context: any thread; from a callback too, but the entries skip its deque.
 * Return: the number queued, from the first; fewer than @n only for want
 * of memory, or if the pool's first post cannot start its regulator.
 */
unsigned rp__post_many(rp_pool *pool, enum rp_priority prio, rp_fn *fn, void *const *args,
		       unsigned n)
{
	unsigned i;

	if (rp_unlikely(!atomic_load_explicit(&pool->reg.started, memory_order_acquire)) &&
	    rp__regulator_start(pool))
		return 0;
	for (i = 0; i < n; i++)
		if (rp__fifo_push(&pool->q[prio], fn, args[i]))
			break;
	if (i)
		see_work(pool);
	return i;
}

/* Queue one entry of @obj (its task descriptor, object.h), whose
 * reference the caller holds for it: on its queue, or on the pool at
 * normal priority.  Return: 0, or the post's error. */
int rp__obj_enqueue(struct rp_obj *obj)
{
	if (obj->queue)
		return rp__queue_push(obj->queue, rp__obj_task, obj);
	return rp__post(obj->pool, RP_PRIORITY_NORMAL, rp__obj_task, obj);
}

/* The same, at the tail (an entry making way for other work): never a
 * worker's own deque. */
int rp__obj_yield(struct rp_obj *obj)
{
	void *arg = obj;

	if (obj->queue)
		return rp__queue_push(obj->queue, rp__obj_task, obj);
	return rp__post_many(obj->pool, RP_PRIORITY_NORMAL, rp__obj_task, &arg, 1) ? 0 : -ENOMEM;
}

/* Queue one entry of @obj, taking a reference for it (the object's run
 * op drops it).  Return: 0, or the post's error (the reference dropped). */
int rp__obj_post(struct rp_obj *obj)
{
	int ret;

	rp__obj_get(obj);
	ret = rp__obj_enqueue(obj);
	if (ret)
		rp__obj_put(obj);
	return ret;
}

RP_EXPORT int rp_post_prio(rp_pool *pool, enum rp_priority prio, rp_fn *fn, void *arg)
{
	int ret;

	if (!fn || (unsigned)prio >= RP_NPRIO)
		return -EINVAL;
	ret = rp__pool_get(&pool);
	if (ret)
		return ret;
	return rp__post(pool, prio, fn, arg);
}

RP_EXPORT int rp_post(rp_pool *pool, rp_fn *fn, void *arg)
{
	return rp_post_prio(pool, RP_PRIORITY_NORMAL, fn, arg);
}
