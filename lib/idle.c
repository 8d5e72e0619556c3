/* SPDX-License-Identifier: MIT */
/*
 * Idle workers: the LIFO idle stack, the wake-up protocol (backend.h), and
 * the two ways work gets a worker: rp__release_worker() for waiting work,
 * and rp__handoff(), the post fast path; the regulator's doorbell, rung
 * when work waits and no slot is free (the regulator thread itself is in
 * regulator.c, above).  A worker parks here too (rp__idle_park()).
 *
 * Releasing a worker may start one (rp__spawn_unlock(), worker.c), whose
 * loop parks here: worker.c and this file call each other, as a thread
 * pool's spawn and its threads' loop must.
 *
 * Idle workers are woken last-in-first-out: the most recently idle one has
 * a warm cache and stack, and the ones at the bottom stay asleep, time out
 * and retire.
 *
 * Dekker pairs (a) and (b) (pair (c) is in slot.c): each side does a
 * seq_cst RMW or fence between its store and its load, so at least one
 * side sees the other:
 *   (a) post: push to a queue (seq_cst RMW), read running/nspinning
 *       park: nidle++ (lock), running-- (seq_cst), read the queues
 *   (b) a spinner stops (found work, or parks): nspinning-- (seq_cst),
 *       read the queues
 *       post: as (a)
 */
#include "internal.h"

static void idle_push_locked(rp_pool *pool, struct rp_worker *w, uint64_t now)
{
	rp__assert_held(&pool->lock);
	w->parked_ns = now;
	w->park_cpu = sched_getcpu();
	w->idle_next = pool->idle_top;
	w->idle_prev = NULL;
	if (pool->idle_top)
		pool->idle_top->idle_prev = w;
	else
		pool->idle_bottom = w;
	pool->idle_top = w;
	w->on_idle = true;
	atomic_fetch_add(&pool->nidle, 1);
	if (atomic_load_explicit(&w->mon.attached, memory_order_relaxed))
		atomic_fetch_add(&pool->reg.idle_monitors, 1);
}

static void idle_remove_locked(rp_pool *pool, struct rp_worker *w)
{
	rp__assert_held(&pool->lock);
	if (w->idle_prev)
		w->idle_prev->idle_next = w->idle_next;
	else
		pool->idle_top = w->idle_next;
	if (w->idle_next)
		w->idle_next->idle_prev = w->idle_prev;
	else
		pool->idle_bottom = w->idle_prev;
	w->idle_next = w->idle_prev = NULL;
	w->on_idle = false;
	atomic_fetch_sub(&pool->nidle, 1);
	if (atomic_load_explicit(&w->mon.attached, memory_order_relaxed))
		atomic_fetch_sub(&pool->reg.idle_monitors, 1);
}

/* The most recently idle worker: LIFO keeps caches and stacks warm and lets
 * the ones at the bottom time out and retire. */
static struct rp_worker *idle_pop_locked(rp_pool *pool)
{
	struct rp_worker *w = pool->idle_top;

	if (w)
		idle_remove_locked(pool, w);
	return w;
}

/* How deep rp__slot_release_near() looks into the idle stack. */
#define RP_NEAR_DEPTH 8

/*
 * The most recently idle worker that parked on @cpu, among the top
 * RP_NEAR_DEPTH, else the top one (@cpu < 0: the top one).
 *
 * A replacement must run on the CPU its blocked worker leaves, and the
 * scheduler decides where a woken thread runs from the CPU it last ran
 * on: there if that CPU is idle (or is the waker's), else on the waker's
 * or the last one by load.  It does not look further for an idle CPU
 * when the machine is busy (Linux's SIS_UTIL stops the search), and an
 * idle CPU does not pull a waiting thread while its idle spells are
 * short.  So a worker that last ran on a busy CPU waits there behind the
 * running thread, holding its slot, while the CPU it was meant for stays
 * idle: W3 showed 113 of its 132 ms of idle CPU so (perf sched, 2 vCPUs,
 * issue 14).  One that parked on the freed CPU is placed on it.
 */
static struct rp_worker *idle_pop_near_locked(rp_pool *pool, int cpu)
{
	struct rp_worker *w = pool->idle_top;

	for (int i = 0; cpu >= 0 && w && i < RP_NEAR_DEPTH; i++, w = w->idle_next) {
		if (w->park_cpu == cpu) {
			idle_remove_locked(pool, w);
			return w;
		}
	}
	return idle_pop_locked(pool);
}

/* Tell @w why it wakes.  The caller calls kick_finish(@w) after unlocking. */
static void wake_locked(rp_pool *pool, struct rp_worker *w, enum rp_wake why)
{
	rp__assert_held(&pool->lock);
	atomic_fetch_add_explicit(&w->kicks, 1, memory_order_relaxed);
	/* Pairs with the acquire load of the wake word in park_wait(): the
	 * handed-over task and the slot reservation are visible before the
	 * wake word is. */
	atomic_store_explicit(&w->wake, why, memory_order_release);
}

static void kick_finish(rp_pool *pool, struct rp_worker *w)
{
	pool->ops->kick(pool, w);
	/* Pairs with the acquire load in worker_exit() (worker.c): the kick
	 * is done with @w's ring before the worker may close it. */
	atomic_fetch_sub_explicit(&w->kicks, 1, memory_order_release);
}

/* ------------------------------------------------------------------ the regulator's doorbell */

/* Tests: the regulator never samples, to show that workers detect blocks
 * without it (it still retries spawns). */
_Atomic bool rp__regulator_off;

/* Wake the regulator if it sleeps.  Pairs with its store-then-look before
 * it sleeps (regulator_main()). */
static void regulator_wake(rp_pool *pool)
{
	struct rp_regulator *reg = &pool->reg;

	if (atomic_load(&reg->active) || atomic_exchange(&reg->active, 1))
		return;
	if (atomic_load_explicit(&reg->started, memory_order_acquire))
		rp__futex_wake(&reg->active, 1);
}

/*
 * Make sure the regulator watches: called when work is queued and no slot
 * is free.  Cheap when it already does (one load).
 */
void rp__regulator_kick(rp_pool *pool)
{
	/* seq_cst: the other half of the regulator's store-then-look when it
	 * goes to sleep; our caller published its work by a seq_cst RMW. */
	if (atomic_load(&pool->reg.active) ||
	    rp_unlikely(atomic_load_explicit(&rp__regulator_off, memory_order_relaxed)))
		return;
	regulator_wake(pool);
}

/*
 * Work waits and no worker could be started to run it: have the regulator
 * try again until one can.  Context: any thread.
 */
void rp__regulator_retry(rp_pool *pool)
{
	atomic_store(&pool->reg.spawn_retry, true);
	regulator_wake(pool);
}

/* ------------------------------------------------------------------ releasing workers */

static bool release_worker(rp_pool *pool, int cpu);

/*
 * Give up a slot and pass it on: to a worker waiting for admission first
 * (it holds a callback half done), else to queued work.  Pairs (c) and (a).
 */
void rp__slot_release(rp_pool *pool)
{
	rp__slot_release_near(pool, -1);
}

/* rp__slot_release() of the slot of a worker that leaves @cpu (it blocks
 * there): the worker woken for queued work is one that last ran on @cpu
 * if one is near the top of the idle stack (idle_pop_near_locked()). */
void rp__slot_release_near(rp_pool *pool, int cpu)
{
	do {
		atomic_fetch_sub(&pool->running, 1);
		if (!atomic_load(&pool->nadmit)) {
			if (!rp__queues_empty(pool))
				release_worker(pool, cpu);
			return;
		}
		/* Admission reserved a slot for a waiter that another granter
		 * served first: pass that one on too. */
	} while (rp__admit_waiters(pool));
}

/* A slot was added (rp__slots_widen()): pass it on as a freed one, to a
 * worker waiting for admission first, else to queued work. */
void rp__slot_offer_near(rp_pool *pool, int cpu)
{
	if (atomic_load(&pool->nadmit) && rp__admit_waiters(pool))
		rp__slot_release_near(pool, cpu);
	else if (!rp__queues_empty(pool))
		release_worker(pool, cpu);
}

/* Give back a slot that was reserved and never used (slot.c); a waiter for
 * admission still gets it, or else queued work. */
static void slot_unreserve(rp_pool *pool)
{
	if (rp__slot_return(pool))
		rp__slot_release(pool);
}

/*
 * Work is waiting: make sure a worker will run it.  A spinning worker will;
 * else reserve a free slot and wake the most recently idle worker, or start
 * one.  With no free slot, the regulator watches for blocked workers.  If
 * no worker can be started (the system is out of threads or memory), the
 * regulator tries again until one can (rp__regulator_retry()): accepted
 * work is never left without a worker to run it.
 * Return: false if the work was left so, with no worker to run it for now.
 */
bool rp__release_worker(rp_pool *pool)
{
	return release_worker(pool, -1);
}

static bool release_worker(rp_pool *pool, int cpu)
{
	struct rp_worker *w;
	int ret;

	if (atomic_load(&pool->nspinning))
		return true;
	if (!rp__slot_try_acquire(pool)) {
		rp__regulator_kick(pool);
		return true;
	}
	pthread_mutex_lock(&pool->lock);
	/* Look again: another releaser may have woken a worker since (wakers
	 * count their wakee spinning under this lock, and the last spinner to
	 * find work wakes the next one, see stop_spinning()), or the work may
	 * be gone.  Without this, two blocks at once start two workers for
	 * one task. */
	if (atomic_load(&pool->nspinning)) {
		pthread_mutex_unlock(&pool->lock);
		slot_unreserve(pool); /* the spinner looks after its decrement: (b) */
		return true;
	}
	if (rp__queues_empty(pool)) {
		pthread_mutex_unlock(&pool->lock);
		/* A post since our look saw this slot taken and woke nobody:
		 * give the slot back the way that looks at the queue after. */
		rp__slot_release(pool);
		return true;
	}
	w = pool->stopping ? NULL : idle_pop_near_locked(pool, cpu);
	if (w) {
		pool->nactive++;
		w->spinning = true;
		atomic_fetch_add(&pool->nspinning, 1);
		wake_locked(pool, w, RP_WAKE_WORK);
		pthread_mutex_unlock(&pool->lock);
		kick_finish(pool, w);
		return true;
	}
	if (pool->stopping) {
		pthread_mutex_unlock(&pool->lock);
		slot_unreserve(pool);
		return true;
	}
	ret = rp__spawn_unlock(pool, true);
	if (ret == 0)
		return true;
	slot_unreserve(pool);
	/* max_threads workers, none leaving: the work waits for the next one
	 * to finish a callback. */
	if (ret == -EUSERS)
		return true;
	/* Out of threads or memory for now: the regulator tries again. */
	rp__regulator_retry(pool);
	return false;
}

/*
 * The fast path of rp_post(): on a pool with an idle worker, a free slot, no
 * spinner and nothing queued, hand the task over in the wake-up itself.
 * Return: true if handed over.
 */
bool rp__handoff(rp_pool *pool, rp_fn *fn, void *arg)
{
	struct rp_worker *w;

	if (!atomic_load_explicit(&pool->nidle, memory_order_relaxed) ||
	    atomic_load_explicit(&pool->nspinning, memory_order_relaxed) ||
	    atomic_load_explicit(&pool->nadmit, memory_order_relaxed) || !rp__queues_empty(pool))
		return false;
	if (!rp__slot_try_acquire(pool))
		return false;
	pthread_mutex_lock(&pool->lock);
	w = pool->stopping ? NULL : idle_pop_locked(pool);
	if (!w) {
		pthread_mutex_unlock(&pool->lock);
		slot_unreserve(pool);
		return false;
	}
	pool->nactive++;
	w->hand_fn = fn;
	w->hand_arg = arg;
	atomic_fetch_add_explicit(&pool->nhand, 1, memory_order_relaxed);
	wake_locked(pool, w, RP_WAKE_WORK);
	pthread_mutex_unlock(&pool->lock);
	kick_finish(pool, w);
	return true;
}

/* ------------------------------------------------------------------ parking */

/*
 * Park, phase 1: shed what an idle worker does not need (its deque: the
 * running workers get them), and take a ring if the budget allows, before
 * joining the stack, so that w->ring does not change while a waker may
 * look at it.
 */
static void park_prepare(struct rp_worker *w)
{
	rp__deque_give(w);
	w->pool->ops->worker_prepare(w->pool, w);
}

/*
 * Park, phase 2: join the idle stack and stop counting as active (destroy
 * waits for none), then give the slot up and stop counting as a spinner,
 * in that order (pairs (a) and (b)).  If the pool is stopping, leave
 * instead.  Return: false to exit; *@may_retire: whether this worker may
 * retire after the idle timeout (not below min_threads).
 */
static bool park_join(struct rp_worker *w, bool holding, bool *may_retire)
{
	rp_pool *pool = w->pool;
	bool spun;

	pthread_mutex_lock(&pool->lock);
	if (pool->stopping) {
		pool->nactive--;
		pthread_mutex_unlock(&pool->lock);
		if (holding)
			slot_unreserve(pool);
		if (w->spinning) {
			w->spinning = false;
			atomic_fetch_sub(&pool->nspinning, 1);
		}
		return false;
	}
	atomic_store_explicit(&w->wake, RP_WAKE_NONE, memory_order_relaxed);
	atomic_store_explicit(&w->state, RP_W_IDLE, memory_order_relaxed);
	/* Once on the stack, a waker may pop us and set spinning for the
	 * count it adds: take our own count's flag now, under the lock, and
	 * drop the count itself below. */
	spun = w->spinning;
	w->spinning = false;
	*may_retire = atomic_load(&pool->nthreads) - pool->nretiring > pool->min_threads;
	idle_push_locked(pool, w, rp__now_ns());
	pool->nactive--;
	if (atomic_load_explicit(&pool->closing, memory_order_relaxed) && !pool->nactive)
		pthread_cond_broadcast(&pool->quiesce);
	pthread_mutex_unlock(&pool->lock);

	/* Pairs (a): our nidle++ and running-- against a poster's push and
	 * its look at running; then (b): no longer spinning. */
	if (holding)
		atomic_fetch_sub(&pool->running, 1);
	if (spun)
		atomic_fetch_sub(&pool->nspinning, 1);
	return true;
}

/*
 * Park, phase 3, after giving a slot up: the other half of pairs (a) and
 * (b).  A worker waiting for admission takes the slot; work posted while
 * no slot looked free to its poster is taken by this worker itself,
 * which leaves the stack again.  Return: true to run (holding a slot).
 */
static bool park_recheck(struct rp_worker *w)
{
	rp_pool *pool = w->pool;

	if (atomic_load(&pool->nadmit) && rp__admit_waiters(pool))
		rp__slot_release(pool);
	if (rp__queues_empty(pool))
		return false;
	pthread_mutex_lock(&pool->lock);
	if (!w->on_idle || pool->stopping || !rp__slot_try_acquire(pool)) {
		pthread_mutex_unlock(&pool->lock);
		return false;
	}
	idle_remove_locked(pool, w);
	pool->nactive++;
	w->spinning = true;
	atomic_fetch_add(&pool->nspinning, 1);
	atomic_store_explicit(&w->state, RP_W_SEEK, memory_order_relaxed);
	pthread_mutex_unlock(&pool->lock);
	return true;
}

/*
 * Park, phase 4: sleep until woken, or retire once idle_timeout_ms passes
 * (if @may_retire, and still so when it passes).  Return: true to run (a
 * waker reserved a slot), false to exit.
 */
static bool park_wait(struct rp_worker *w, bool may_retire)
{
	rp_pool *pool = w->pool;
	uint64_t deadline = may_retire ? rp__now_ns() + (uint64_t)pool->idle_timeout_ms * 1000000u : 0;
	uint32_t why;

	for (;;) {
		/* Pairs with the release store in wake_locked(). */
		why = atomic_load_explicit(&w->wake, memory_order_acquire);
		if (why != RP_WAKE_NONE)
			break;
		if (pool->ops->park(pool, w, deadline) != -ETIMEDOUT)
			continue;
		pthread_mutex_lock(&pool->lock);
		if (w->on_idle && !pool->stopping &&
		    atomic_load(&pool->nthreads) - pool->nretiring > pool->min_threads) {
			idle_remove_locked(pool, w);
			w->retiring = true;
			pool->nretiring++;
			pthread_mutex_unlock(&pool->lock);
			return false;
		}
		pthread_mutex_unlock(&pool->lock);
		/* Popped by a waker (its word is on the way), or kept for
		 * min_threads: wait without a deadline. */
		deadline = 0;
	}
	atomic_store_explicit(&w->wake, RP_WAKE_NONE, memory_order_relaxed);
	if (why == RP_WAKE_EXIT)
		return false;
	atomic_store_explicit(&w->state, RP_W_SEEK, memory_order_relaxed);
	return true;
}

/*
 * Park on the idle stack until woken.  With @holding, give the worker's slot
 * up first.  Context: worker @w, outside callbacks.
 * Return: true to run (woken with a slot), false to exit.
 */
bool rp__idle_park(struct rp_worker *w, bool holding)
{
	bool may_retire;

	park_prepare(w);
	if (!park_join(w, holding, &may_retire))
		return false;
	if (holding && park_recheck(w))
		return true;
	return park_wait(w, may_retire);
}

/*
 * Destroy: wake every idle worker with EXIT; the rest see pool->stopping when
 * they next try to park.  Context: pool->lock held, pool quiescent.
 */
void rp__workers_stop(rp_pool *pool)
{
	struct rp_worker *w, *list = NULL;

	rp__assert_held(&pool->lock);
	pool->stopping = true;
	while ((w = idle_pop_locked(pool))) {
		wake_locked(pool, w, RP_WAKE_EXIT);
		w->idle_next = list;
		list = w;
	}
	/* The kicks may run under the lock here: destroy is not a hot path, and
	 * the woken workers need the lock only to leave. */
	while ((w = list)) {
		list = w->idle_next;
		kick_finish(pool, w);
	}
}
