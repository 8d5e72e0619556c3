/* SPDX-License-Identifier: MIT */
/*
 * The regulator: a thread per pool that watches running workers for
 * unhinted blocking, only while it matters (work is queued and no slot is
 * free).  It sleeps on a futex otherwise, so an idle pool makes no wake-ups.
 * While it watches, it samples every RP_SAMPLE_PERIOD_US.
 *
 * A worker seen blocked (monitor.c) loses its slot (RUN -> DETECTED), which
 * releases a replacement at once; when it is seen on a CPU again, or when
 * its callback returns, it takes a slot back (DETECTED -> RUN/SEEK), past C
 * if need be; the next task boundary brings the count back to C.
 */
#include "internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

/* Quiet rounds before the regulator sleeps after it sampled: bursts of
 * saturation a few periods apart then cost no futex traffic. */
#define RP_QUIET_ROUNDS 4

static bool needed(rp_pool *pool)
{
	return atomic_load(&pool->running) >= pool->concurrency && !rp__queues_empty(pool);
}

static void sample_all(rp_pool *pool)
{
	unsigned detected = 0;

	pthread_mutex_lock(&pool->lock);
	for (size_t i = 0; i < pool->nworkers; i++) {
		struct rp_worker *w = pool->workers[i];
		int st = atomic_load(&w->state);

		if (st == RP_W_RUN && rp__monitor_blocked(pool, w)) {
			if (atomic_compare_exchange_strong(&w->state, &st, RP_W_DETECTED)) {
				atomic_fetch_add(&pool->nblocked, 1);
				atomic_fetch_add_explicit(&pool->blocks_detected, 1,
							  memory_order_relaxed);
				rp__monitor_steal(pool, w);
				detected++;
			}
		} else if (st == RP_W_DETECTED && rp__monitor_oncpu(pool, w)) {
			if (atomic_compare_exchange_strong(&w->state, &st, RP_W_RUN)) {
				atomic_fetch_add(&pool->running, 1);
				atomic_fetch_sub(&pool->nblocked, 1);
			}
		}
	}
	pthread_mutex_unlock(&pool->lock);
	atomic_fetch_add_explicit(&pool->reg.rounds, 1, memory_order_relaxed);
	/* Each detected worker's slot goes to queued work (or an admission
	 * waiter) now. */
	while (detected--)
		rp__slot_release(pool);
}

static void *regulator_main(void *arg)
{
	rp_pool *pool = arg;
	const struct timespec period = { 0, RP_SAMPLE_PERIOD_US * 1000 };
	unsigned quiet = RP_QUIET_ROUNDS;
	char name[16];

	snprintf(name, sizeof(name), "%s-reg", pool->name);
	pthread_setname_np(pthread_self(), name);
	while (!atomic_load(&pool->reg.stop)) {
		if (needed(pool)) {
			quiet = 0;
			sample_all(pool);
		} else if (++quiet >= RP_QUIET_ROUNDS) {
			/* After a wake-up that found nothing to watch (a slot was
			 * full only for a moment) this is the first round: sleep
			 * again at once.  After sampling, linger a few rounds. */
			quiet = RP_QUIET_ROUNDS - 1;
			/* Sleep; pairs with the poster's push-then-look in
			 * rp__post(): either it sees active == 0 and wakes us,
			 * or we see its work here. */
			atomic_store(&pool->reg.active, 0);
			if (needed(pool) && !atomic_exchange(&pool->reg.active, 1))
				continue;
			rp__futex_wait(&pool->reg.active, 0, NULL);
			continue;
		}
		nanosleep(&period, NULL);
	}
	return NULL;
}

/*
 * Make sure the regulator watches: called when work is queued and no slot
 * is free.  Cheap when it already does (one load).
 */
void rp__regulator_kick(rp_pool *pool)
{
	struct rp_regulator *reg = &pool->reg;

	if (atomic_load_explicit(&reg->active, memory_order_relaxed))
		return;
	if (atomic_exchange(&reg->active, 1))
		return;
	if (atomic_load(&reg->started)) {
		rp__futex_wake(&reg->active, 1);
		return;
	}
	pthread_mutex_lock(&pool->lock);
	if (!atomic_load(&reg->started) && !pool->stopping) {
		sigset_t all, old;

		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		if (pthread_create(&reg->thread, NULL, regulator_main, pool) == 0)
			atomic_store(&reg->started, true);
		else
			atomic_store(&reg->active, 0); /* try again at the next kick */
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	pthread_mutex_unlock(&pool->lock);
}

/* Context: destroy, after the workers have exited. */
void rp__regulator_stop(rp_pool *pool)
{
	struct rp_regulator *reg = &pool->reg;

	if (!atomic_load(&reg->started))
		return;
	atomic_store(&reg->stop, true);
	atomic_store(&reg->active, 1);
	rp__futex_wake(&reg->active, 1);
	pthread_join(reg->thread, NULL);
}
