/* SPDX-License-Identifier: MIT */
/* Pool lifecycle: create, the default pool, destroy, stats, fork. */
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Atomic unsigned rp__fork_gen;

static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(rp_pool *) default_pool;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/*
 * fork() copies only the calling thread: the parent's workers do not exist
 * in the child, and their locks may be held.  The child forgets the
 * parent's pools (calls on them return -ECHILD) and makes a new default pool
 * on first use.  The parent's pools are untouched.
 */
static void atfork_prepare(void)
{
	pthread_mutex_lock(&default_lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&default_lock);
}

static void atfork_child(void)
{
	pthread_mutex_init(&default_lock, NULL);
	atomic_fetch_add(&rp__fork_gen, 1);
	atomic_store(&default_pool, NULL);
	rp__self = NULL;
	rp__pools_forget();
}

static void atfork_register(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

bool rp__pool_valid(const rp_pool *pool)
{
	return pool->fork_gen == atomic_load_explicit(&rp__fork_gen, memory_order_relaxed);
}

/*
 * Resolve a caller's pool argument: NULL is the default pool (made on first
 * use).  Return: 0, -ENOMEM if the default pool cannot be made, or -ECHILD
 * for a pool inherited across fork(); *@poolp is set only on success.
 */
int rp__pool_get(rp_pool **poolp)
{
	rp_pool *pool = *poolp ? *poolp : rp_pool_default();

	if (!pool)
		return -ENOMEM;
	if (!rp__pool_valid(pool))
		return -ECHILD;
	*poolp = pool;
	return 0;
}

static const struct rp_backend_ops *pick_backend(void)
{
	const char *s = getenv("RINGPOOL_BACKEND");

	if (s && !strcmp(s, "futex"))
		return &rp__backend_futex;
	return &rp__backend_uring;
}

static bool forced_backend(void)
{
	const char *s = getenv("RINGPOOL_BACKEND");

	return s && !strcmp(s, "uring");
}

static void pool_free(rp_pool *pool)
{
	for (int p = 0; p < RP_NPRIO; p++)
		if (atomic_load(&pool->q[p].head_block))
			rp__fifo_fini(&pool->q[p]);
	pthread_cond_destroy(&pool->quiesce);
	pthread_mutex_destroy(&pool->lock);
	rp__monitor_pool_fini(pool);
	rp__deques_fini(pool);
	for (int i = 0; i < 2; i++)
		if (pool->adm_fd[i] >= 0)
			close(pool->adm_fd[i]);
	free(pool->workers);
	free(pool);
}

RP_EXPORT int rp_pool_create(rp_pool **poolp, const struct rp_pool_opts *opts)
{
	struct rp_pool_opts o = { 0 };
	pthread_condattr_t ca;
	rp_pool *pool;
	int ret;

	if (!poolp)
		return -EINVAL;
	if (opts)
		o = *opts;
	if (o.flags)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(o.resv) / sizeof(o.resv[0]); i++)
		if (o.resv[i])
			return -EINVAL;
	if (o.max_threads && (o.min_threads > o.max_threads || o.concurrency > o.max_threads))
		return -EINVAL;
	if (o.concurrency > RP_CONCURRENCY_MAX)
		return -EINVAL;
	if (!o.concurrency)
		o.concurrency = rp__topology_concurrency();
	if (!o.max_threads)
		o.max_threads = o.concurrency > RP_DEFAULT_MAX_THREADS ? o.concurrency
								       : RP_DEFAULT_MAX_THREADS;
	if (o.min_threads > o.max_threads || o.concurrency > o.max_threads)
		return -EINVAL;

	pthread_once(&atfork_once, atfork_register);
	pool = rp__aligned_alloc(RP_FAULT_ALLOC_POOL, RP_CACHELINE, (sizeof(*pool) + RP_CACHELINE - 1) & ~(size_t)(RP_CACHELINE - 1));
	if (!pool)
		return -ENOMEM;
	memset(pool, 0, sizeof(*pool));
	pool->adm_fd[0] = pool->adm_fd[1] = -1;
	pool->reg.probe_fd = -1;
	pool->concurrency = o.concurrency;
	atomic_init(&pool->slots, o.concurrency);
	pool->slots_max = o.concurrency * (1 + RP_OVERCOMMIT);
	pool->min_threads = o.min_threads;
	pool->max_threads = o.max_threads;
	pool->idle_timeout_ms = o.idle_timeout_ms ? o.idle_timeout_ms : RP_DEFAULT_IDLE_TIMEOUT_MS;
	/* Room for "-NNNN" in the 15 bytes a thread name may have. */
	snprintf(pool->name, sizeof(pool->name), "%s", o.name ? o.name : "ringpool");
	pool->fork_gen = atomic_load(&rp__fork_gen);
	pthread_mutex_init(&pool->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pool->quiesce, &ca);
	pthread_condattr_destroy(&ca);
	for (int p = 0; p < RP_NPRIO; p++) {
		ret = rp__fifo_init(&pool->q[p]);
		if (ret)
			goto fail;
	}
	ret = rp__deques_init(pool);
	if (ret)
		goto fail;
	/* Out of descriptors: admission falls back to a futex FIFO. */
	if (rp__fault(RP_FAULT_PIPE) || pipe2(pool->adm_fd, O_CLOEXEC))
		pool->adm_fd[0] = pool->adm_fd[1] = -1;

	pool->ops = pick_backend();
	ret = pool->ops->pool_init(pool);
	if (ret == -ENOSYS && pool->ops == &rp__backend_uring && !forced_backend()) {
		/* io_uring is missing, disabled or filtered: the portable
		 * backend serves instead. */
		pool->ops = &rp__backend_futex;
		ret = pool->ops->pool_init(pool);
	}
	if (ret)
		goto fail;
	rp__monitor_pool_init(pool);

	for (unsigned i = 0; i < o.min_threads; i++) {
		ret = rp__spawn_idle(pool);
		if (ret)
			goto fail_threads;
	}
	rp__pools_add(pool);
	*poolp = pool;
	return 0;

fail_threads:
	/* Stop the workers that did start; the pool is quiescent. */
	atomic_store(&pool->closing, true);
	pthread_mutex_lock(&pool->lock);
	pool->min_threads = 0;
	while (pool->nactive)
		pthread_cond_wait(&pool->quiesce, &pool->lock);
	rp__workers_stop(pool);
	while (atomic_load(&pool->nthreads))
		pthread_cond_wait(&pool->quiesce, &pool->lock);
	pthread_mutex_unlock(&pool->lock);
	pool->ops->pool_fini(pool);
	ret = ret == -ENOMEM ? -ENOMEM : -EAGAIN;
fail:
	pool_free(pool);
	return ret;
}

RP_EXPORT rp_pool *rp_pool_default(void)
{
	rp_pool *pool = atomic_load_explicit(&default_pool, memory_order_acquire);

	if (rp_likely(pool))
		return pool;
	pthread_mutex_lock(&default_lock);
	pool = atomic_load_explicit(&default_pool, memory_order_relaxed);
	if (!pool && rp_pool_create(&pool, NULL) == 0) {
		pool->is_default = true;
		/* Pairs with the acquire above: a thread that sees the
		 * pointer sees a fully built pool. */
		atomic_store_explicit(&default_pool, pool, memory_order_release);
	}
	pthread_mutex_unlock(&default_lock);
	return pool;
}

/* All accepted work has run: every worker is parked and nothing is queued. */
static bool quiescent_locked(rp_pool *pool)
{
	rp__assert_held(&pool->lock);
	return !pool->nactive && rp__queues_empty(pool) &&
	       !atomic_load(&pool->nhand) && !atomic_load(&pool->nadmit);
}

RP_EXPORT int rp_pool_destroy(rp_pool *pool)
{
	if (!pool || pool->is_default)
		return -EINVAL;
	if (!rp__pool_valid(pool))
		return -ECHILD;
	if (rp__self && rp__self->pool == pool)
		return -EDEADLK;
	if (atomic_load(&pool->nobjects))
		return -EBUSY;

	atomic_store(&pool->closing, true);
	pthread_mutex_lock(&pool->lock);
	while (!quiescent_locked(pool)) {
		/* The last worker to park broadcasts; the timeout covers work
		 * queued by a callback just before its worker parked. */
		struct timespec ts;
		uint64_t t = rp__now_ns() + 10000000u;

		ts.tv_sec = (time_t)(t / 1000000000u);
		ts.tv_nsec = (long)(t % 1000000000u);
		if (pthread_cond_timedwait(&pool->quiesce, &pool->lock, &ts) != ETIMEDOUT ||
		    quiescent_locked(pool))
			continue;
		/* Work is still queued after a while: if no worker can be
		 * started to run it (out of threads or memory), run it on
		 * this thread rather than wait for ever. */
		pthread_mutex_unlock(&pool->lock);
		if (!rp__release_worker(pool))
			rp__help(pool);
		pthread_mutex_lock(&pool->lock);
	}
	rp__workers_stop(pool);
	while (atomic_load(&pool->nthreads))
		pthread_cond_wait(&pool->quiesce, &pool->lock);
	pthread_mutex_unlock(&pool->lock);

	rp__regulator_stop(pool);
	rp__port_stop(pool);
	rp__pools_remove(pool);
	pool->ops->pool_fini(pool);
	pool_free(pool);
	return 0;
}

RP_EXPORT int rp_pool_stats(rp_pool *pool, struct rp_stats *st)
{
	unsigned long long completed, dropped, queued;
	unsigned running, spinning;
	int ret;

	if (!st)
		return -EINVAL;
	ret = rp__pool_get(&pool);
	if (ret)
		return ret;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&pool->lock);
	completed = atomic_load(&pool->completed_retired);
	for (size_t i = 0; i < pool->nworkers; i++)
		completed += atomic_load_explicit(&pool->workers[i]->completed, memory_order_relaxed);
	st->threads = atomic_load(&pool->nthreads);
	st->idle = atomic_load(&pool->nidle);
	pthread_mutex_unlock(&pool->lock);

	st->concurrency = pool->concurrency;
	running = atomic_load(&pool->running);
	spinning = atomic_load(&pool->nspinning);
	st->running = running > spinning ? running - spinning : 0;
	st->blocked = atomic_load(&pool->nblocked);
	queued = rp__queued(pool);
	dropped = atomic_load(&pool->ndropped);
	st->queued = queued > dropped ? queued - dropped : 0;
	st->completed = completed;
	st->threads_created = atomic_load(&pool->threads_created);
	st->threads_retired = atomic_load(&pool->threads_retired);
	st->blocks_hinted = atomic_load(&pool->blocks_hinted);
	st->blocks_detected = atomic_load(&pool->blocks_detected);
	return 0;
}
