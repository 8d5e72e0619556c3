/* SPDX-License-Identifier: MIT */
/*
 * The portable backend: every worker parks on its own futex word (its wake
 * word).  Used where io_uring is missing, disabled by sysctl or filtered by
 * seccomp, and when RINGPOOL_BACKEND=futex.  LIFO order and regulation are
 * the same: they live in worker.c, above either backend.
 */
#include "internal.h"

static int futex_pool_init(rp_pool *pool)
{
	atomic_store(&pool->bk.uring, false);
	return 0;
}

static void futex_pool_fini(rp_pool *pool)
{
}

static void futex_worker_nop(rp_pool *pool, struct rp_worker *w)
{
}

static int futex_park(rp_pool *pool, struct rp_worker *w, uint64_t deadline_ns)
{
	return rp__futex_park(w, deadline_ns);
}

static void futex_kick(rp_pool *pool, struct rp_worker *w)
{
	atomic_fetch_add_explicit(&pool->bk.kicks_futex, 1, memory_order_relaxed);
	rp__futex_kick(w);
}

const struct rp_backend_ops rp__backend_futex = {
	.name = "futex",
	.pool_init = futex_pool_init,
	.pool_fini = futex_pool_fini,
	.worker_prepare = futex_worker_nop,
	.worker_fini = futex_worker_nop,
	.park = futex_park,
	.kick = futex_kick,
};
