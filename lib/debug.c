/* SPDX-License-Identifier: MIT */
/*
 * Diagnostics: the process's live pools, and a dump of one's state (its
 * counters and each worker's), for a test that stopped making progress to
 * print before it is killed (tests/helpers.c, the watchdog).
 */
#include "internal.h"

#include <stdio.h>

static pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;
static rp_pool *pools;		/* pools_lock: the live pools, newest first */

/* Context: rp_pool_create(), the pool built. */
void rp__pools_add(rp_pool *pool)
{
	pthread_mutex_lock(&pools_lock);
	pool->next_pool = pools;
	pool->prev_pool = NULL;
	if (pools)
		pools->prev_pool = pool;
	pools = pool;
	pthread_mutex_unlock(&pools_lock);
}

/* Context: rp_pool_destroy(), before the pool is freed. */
void rp__pools_remove(rp_pool *pool)
{
	pthread_mutex_lock(&pools_lock);
	if (pool->prev_pool)
		pool->prev_pool->next_pool = pool->next_pool;
	else
		pools = pool->next_pool;
	if (pool->next_pool)
		pool->next_pool->prev_pool = pool->prev_pool;
	pthread_mutex_unlock(&pools_lock);
}

/* In a child after fork(): the parent's pools are not this process's. */
void rp__pools_forget(void)
{
	pthread_mutex_init(&pools_lock, NULL);
	pools = NULL;
}

static const char *state_name(int st)
{
	static const char *const names[] = { "idle", "seek", "run", "hinted", "detected" };

	return st >= 0 && st < (int)(sizeof(names) / sizeof(names[0])) ? names[st] : "?";
}

static long long deque_len(const struct rp_deque *d)
{
	return (long long)(atomic_load(&d->bottom) - atomic_load(&d->top));
}

/*
 * Print @pool's counters and every worker's state to @f.  The pool's lock
 * is taken if it can be: a dump must not hang with the pool it describes,
 * so a pool whose lock is held is read without it (the figures may then
 * be a little inconsistent).  Context: any thread.
 */
void rp__pool_dump(rp_pool *pool, FILE *f)
{
	bool locked = pthread_mutex_trylock(&pool->lock) == 0;

	fprintf(f,
		"ringpool %s (%p)%s: C %u slots %u threads %u idle %u running %u spinning %u blocked %u "
		"admitting %u handed %u active %u stopping %d\n"
		"  queued: high %zu normal %zu low %zu, deques %lu (stalled %u), dropped %llu\n",
		pool->name, (void *)pool, locked ? "" : " [lock held elsewhere]",
		pool->concurrency, rp__slots(pool), atomic_load(&pool->nthreads), atomic_load(&pool->nidle),
		atomic_load(&pool->running), atomic_load(&pool->nspinning),
		atomic_load(&pool->nblocked), atomic_load(&pool->nadmit), atomic_load(&pool->nhand),
		pool->nactive, pool->stopping, rp__fifo_len(&pool->q[RP_PRIORITY_HIGH]),
		rp__fifo_len(&pool->q[RP_PRIORITY_NORMAL]), rp__fifo_len(&pool->q[RP_PRIORITY_LOW]),
		atomic_load(&pool->nlocal), atomic_load(&pool->nstalled),
		atomic_load(&pool->ndropped));
	fprintf(f, "  regulator: started %d active %u rounds %llu scans %llu spawn retry %d (%llu)\n",
		atomic_load(&pool->reg.started), atomic_load(&pool->reg.active),
		atomic_load(&pool->reg.rounds), atomic_load(&pool->reg.worker_scans),
		atomic_load(&pool->reg.spawn_retry), atomic_load(&pool->reg.spawn_retries));
	for (size_t i = 0; i < pool->nworkers; i++) {
		struct rp_worker *w = pool->workers[i];

		fprintf(f, "  worker %u tid %d: %s%s kicks %u wake %u completed %llu monitor %s%s\n",
			w->id, (int)atomic_load(&w->tid), state_name(atomic_load(&w->state)),
			w->on_idle ? " (on the idle stack)" : "", atomic_load(&w->kicks),
			atomic_load(&w->wake), atomic_load(&w->completed), rp__monitor_kind(w),
			atomic_load(&w->ring) ? " ring" : "");
	}
	for (unsigned i = 0; i < pool->ndeques; i++) {
		struct rp_deque *d = &pool->deques[i];
		struct rp_worker *owner = atomic_load(&d->owner);

		if (deque_len(d) || owner)
			fprintf(f, "  deque %u: %lld entries, owner %d%s\n", i, deque_len(d),
				owner ? (int)owner->id : -1, atomic_load(&d->stalled) ? ", stalled" : "");
	}
	if (locked)
		pthread_mutex_unlock(&pool->lock);
}

/* Dump every live pool.  Context: any thread. */
void rp__pools_dump(FILE *f)
{
	pthread_mutex_lock(&pools_lock);
	for (rp_pool *p = pools; p; p = p->next_pool)
		rp__pool_dump(p, f);
	pthread_mutex_unlock(&pools_lock);
}

/* Callbacks completed by every live pool, and tasks waiting in them: a
 * watchdog's measure of progress.  Context: any thread. */
void rp__pools_progress(unsigned long long *completed, unsigned long long *waiting)
{
	*completed = *waiting = 0;
	pthread_mutex_lock(&pools_lock);
	for (rp_pool *p = pools; p; p = p->next_pool) {
		struct rp_stats st;

		if (rp_pool_stats(p, &st) == 0) {
			*completed += st.completed;
			*waiting += st.queued + st.blocked;
		}
	}
	pthread_mutex_unlock(&pools_lock);
}
