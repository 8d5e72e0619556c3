/* SPDX-License-Identifier: MIT */
/*
 * Reusable work objects.  A submission queues the object itself (its task
 * descriptor, object.h), so submitting never allocates; the object counts
 * its queued entries and is freed when it is closed and the last of them
 * has run.
 */
#include "internal.h"

#include <limits.h>
#include <stdlib.h>

struct rp_work {
	struct rp_obj obj;               /* the common header: pool, refs, closed */
	rp_fn *fn;                       /* I */
	void *arg;                       /* I */
	/* A: queued entries, how many of those are to be dropped unrun, and
	 * how many cancels marked some (mod 2^16), changed together by CAS:
	 * see the Q_ macros. */
	_Atomic uint64_t queue;
	_Atomic unsigned long long submitted; /* A */
	_Atomic unsigned long long finished;  /* A: returned or dropped */
	_Atomic uint32_t seq;            /* A: futex word, bumped when finished moves */
	_Atomic unsigned waiters;        /* A */
};

/*
 * The queue word: entries counted queued (bits 63-40), drops (39-16: the
 * next that many entries to run are dropped unrun, as a cancel marked
 * every entry queued at the time), and the cancel generation (15-0), which
 * a submission that fails compares to learn whether a cancel marked its
 * entry meanwhile (submit_undo()).
 */
#define Q_ONE (UINT64_C(1) << 40)
#define Q_DROP (UINT64_C(1) << 16)
#define Q_MAX 0xffffffu                 /* entries, and drops */
#define Q_ENTRIES(v) ((uint32_t)((v) >> 40))
#define Q_DROPS(v) ((uint32_t)((v) >> 16) & Q_MAX)
#define Q_GEN(v) ((uint16_t)(v))

/* @v with @n more drops, and the next generation. */
static uint64_t q_cancel(uint64_t v, uint32_t n)
{
	return ((v + n * Q_DROP) & ~(uint64_t)0xffff) | (uint16_t)(Q_GEN(v) + 1);
}

/* Count @n more callbacks finished and wake waiters.  Pairs with the waiter
 * registration in rp_work_wait(): finished moves before waiters is read. */
static void work_finished(rp_work *work, unsigned n)
{
	atomic_fetch_add(&work->finished, n);
	if (atomic_load(&work->waiters)) {
		atomic_fetch_add(&work->seq, 1);
		rp__futex_wake(&work->seq, INT_MAX);
	}
}

/* One queued entry of @o: the callback, or a drop if a cancel marked it. */
static bool work_run(struct rp_obj *o)
{
	rp_work *work = (rp_work *)o;
	uint64_t v = atomic_load(&work->queue), nv;
	bool drop;

	do {
		drop = Q_DROPS(v) > 0;
		nv = v - Q_ONE - (drop ? Q_DROP : 0);
	} while (!atomic_compare_exchange_weak(&work->queue, &v, nv));
	if (drop) {
		/* rp_work_wait() counted it finished already. */
		atomic_fetch_sub_explicit(&o->pool->ndropped, 1, memory_order_relaxed);
	} else {
		rp__obj_callback_begin(o);
		work->fn(work->arg);
		rp__obj_callback_end(o);
		work_finished(work, 1);
	}
	rp__obj_put(o);
	return !drop;
}

/* The callback ended its thread: it counts finished, as if it had
 * returned.  Context: the exiting worker. */
static void work_abandon(struct rp_obj *o)
{
	work_finished((rp_work *)o, 1);
	rp__obj_put(o);
}

static void work_free(struct rp_obj *o)
{
	free(o);
}

static bool work_stop(struct rp_obj *o, bool drop);
static void work_quiesce(struct rp_obj *o);
static void work_close(struct rp_obj *o);

static const struct rp_obj_ops work_ops = {
	.run = work_run,
	.abandon = work_abandon,
	.free = work_free,
	.stop = work_stop,
	.quiesce = work_quiesce,
	.close = work_close,
};

RP_EXPORT int rp_work_create_env(rp_work **workp, rp_pool *pool, rp_fn *fn, void *arg,
				 const struct rp_env *env)
{
	struct rp_obj *o;
	rp_work *work;
	int ret;

	if (!workp || !fn)
		return -EINVAL;
	ret = rp__obj_new(&o, sizeof(*work), RP_FAULT_ALLOC_WORK, &work_ops, RP_OBJ_WORK, pool, env, arg,
			  NULL);
	if (ret)
		return ret;
	work = (rp_work *)o;
	work->fn = fn;
	work->arg = arg;
	rp__obj_publish(&work->obj);
	*workp = work;
	return 0;
}

RP_EXPORT int rp_work_create(rp_work **workp, rp_pool *pool, rp_fn *fn, void *arg)
{
	return rp_work_create_env(workp, pool, fn, arg, NULL);
}

/*
 * A submission that could not be queued is taken back without moving any
 * counter backwards: a waiter that counted it in its target must not wait
 * for it, and a cancel that marked it dropped must not leave a drop with no
 * entry to take it (a later submission would be dropped in its place).
 * So the entry leaves the count of queued entries and counts as finished,
 * unless a cancel marked it since it was counted (the generation moved):
 * that cancel counted it finished already, and it takes one of the drops
 * with it (any one: drops are not tied to particular entries, only to how
 * many of the queued ones will not run).  @gen: the generation when the
 * entry was counted.
 */
static void submit_undo(rp_work *work, uint16_t gen)
{
	uint64_t v = atomic_load(&work->queue), nv;
	bool dropped;

	do {
		dropped = Q_GEN(v) != gen;
		nv = v - Q_ONE - (dropped ? Q_DROP : 0);
	} while (!atomic_compare_exchange_weak(&work->queue, &v, nv));
	if (dropped)
		atomic_fetch_sub_explicit(&work->obj.pool->ndropped, 1, memory_order_relaxed);
	else
		work_finished(work, 1);
}

RP_EXPORT int rp_work_submit(rp_work *work)
{
	uint64_t v;
	int ret;

	if (!work || !rp__obj_armable(&work->obj))
		return -EINVAL;
	if (!rp__pool_valid(work->obj.pool))
		return -ECHILD;
	/* Counted before it is queued: a worker may run it at once. */
	v = atomic_load(&work->queue);
	do {
		if (Q_ENTRIES(v) == Q_MAX)
			return -EAGAIN;
	} while (!atomic_compare_exchange_weak(&work->queue, &v, v + Q_ONE));
	atomic_fetch_add(&work->submitted, 1);
	ret = rp__obj_post(&work->obj);
	if (ret)
		submit_undo(work, Q_GEN(v));
	return ret;
}

RP_EXPORT int rp_work_wait(rp_work *work, bool cancel_pending)
{
	unsigned long long target;
	struct rp_worker *self = rp__self;

	if (!work)
		return -EINVAL;
	if (self && self->cur_obj == &work->obj)
		return -EDEADLK;
	if (!rp__pool_valid(work->obj.pool))
		return -ECHILD;
	target = atomic_load(&work->submitted);
	if (cancel_pending) {
		uint64_t v = atomic_load(&work->queue), nv;
		uint32_t n;

		/* Every queued entry not yet marked becomes a drop; those are
		 * finished as far as waiters are concerned. */
		do {
			n = Q_ENTRIES(v) - Q_DROPS(v);
			nv = n ? q_cancel(v, n) : v;
		} while (!atomic_compare_exchange_weak(&work->queue, &v, nv));
		if (n) {
			atomic_fetch_add_explicit(&work->obj.pool->ndropped, n, memory_order_relaxed);
			work_finished(work, n);
		}
	}
	if (atomic_load(&work->finished) >= target)
		return 0;

	/* A wait inside a worker is a hinted block: the pool runs other work
	 * (perhaps the very callbacks awaited) on a replacement. */
	if (self)
		rp__block_begin(self);
	atomic_fetch_add(&work->waiters, 1);
	for (;;) {
		uint32_t s = atomic_load(&work->seq);

		if (atomic_load(&work->finished) >= target)
			break;
		rp__futex_wait(&work->seq, s, NULL);
	}
	atomic_fetch_sub(&work->waiters, 1);
	if (self)
		rp__block_end(self);
	return 0;
}

RP_EXPORT int rp_work_close(rp_work *work)
{
	rp_pool *pool;

	if (!work)
		return -EINVAL;
	pool = work->obj.pool;
	if (!rp__obj_close(&work->obj))
		return -EINVAL;
	/* @work may be gone: its pool is not. */
	atomic_fetch_sub(&pool->nobjects, 1);
	return 0;
}

/* Cleanup groups: a work object has nothing armed; with @drop, the
 * submissions not started are dropped, as rp_work_wait(work, true) does. */
static bool work_stop(struct rp_obj *o, bool drop)
{
	rp_work *work = (rp_work *)o;
	uint64_t v, nv;
	uint32_t n;

	if (!drop)
		return false;
	v = atomic_load(&work->queue);
	do {
		n = Q_ENTRIES(v) - Q_DROPS(v);
		nv = n ? q_cancel(v, n) : v;
	} while (!atomic_compare_exchange_weak(&work->queue, &v, nv));
	if (n) {
		atomic_fetch_add_explicit(&work->obj.pool->ndropped, n, memory_order_relaxed);
		work_finished(work, n);
	}
	return n > 0;
}

static void work_quiesce(struct rp_obj *o)
{
	rp_work_wait((rp_work *)o, false);
}

static void work_close(struct rp_obj *o)
{
	rp_work_close((rp_work *)o);
}
