/* SPDX-License-Identifier: MIT */
/*
 * peer_apr.c - APR-util's apr_thread_pool behind the bench adapter.
 *
 * The pool is created with as many initial threads as its maximum, which
 * makes it a fixed pool: all threads start in init, push never starts one,
 * and none retires, since APR keeps up to "initial" threads idle.  APR has no
 * default size, so 0 means the number of online CPUs, as for the pthread
 * baseline.
 *
 * An APR task is void *(*)(apr_thread_t *, void *), so each post wraps
 * (fn, arg) in a malloc'ed node.  Tasks are pushed at normal priority; APR
 * keeps them FIFO within a priority, which costs it a walk over the queued
 * tasks of that priority on every push.
 */
/* apr-1's pkg-config flags define it already. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_thread_pool.h>
#include <apr_version.h>
#include <apu_version.h>

#include "adapter.h"

struct aprp {
	apr_pool_t *pool;		/* this struct lives in it */
	apr_thread_pool_t *tp;
};

struct aprp_task {
	bench_fn *fn;
	void *arg;
};

/* APR passes system errors through unchanged, below APR_OS_START_ERROR. */
static int aprp_errno(apr_status_t rv)
{
	return rv > 0 && rv < APR_OS_START_ERROR ? -(int)rv : -EIO;
}

static void *APR_THREAD_FUNC aprp_run(apr_thread_t *thread, void *data)
{
	struct aprp_task *t = data;
	bench_fn *fn = t->fn;
	void *arg = t->arg;

	/* Free before the call, so the node is reused while still hot. */
	free(t);
	fn(arg);
	return NULL;
}

static int aprp_init(void **ctx, unsigned threads)
{
	apr_pool_t *pool;
	apr_thread_pool_t *tp;

	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)n : 1;
	}

	apr_status_t rv = apr_initialize();
	if (rv != APR_SUCCESS)
		return aprp_errno(rv);
	rv = apr_pool_create(&pool, NULL);
	if (rv != APR_SUCCESS)
		goto terminate;
	rv = apr_thread_pool_create(&tp, threads, threads, pool);
	if (rv != APR_SUCCESS)
		goto destroy_pool;

	struct aprp *p = apr_palloc(pool, sizeof(*p));
	p->pool = pool;
	p->tp = tp;
	*ctx = p;
	return 0;

destroy_pool:
	/*
	 * The thread pool lives in a subpool whose cleanup stops and joins
	 * whatever threads apr_thread_pool_create started before it failed.
	 */
	apr_pool_destroy(pool);
terminate:
	apr_terminate();
	return aprp_errno(rv);
}

static int aprp_post(void *ctx, bench_fn *fn, void *arg)
{
	struct aprp *p = ctx;
	struct aprp_task *t = malloc(sizeof(*t));

	if (t == NULL)
		return -ENOMEM;
	t->fn = fn;
	t->arg = arg;

	/*
	 * Push reports an error after queueing the task only when it failed
	 * to start a new thread, which a pool already at its maximum never
	 * tries; any other error means the task was not queued.
	 */
	apr_status_t rv = apr_thread_pool_push(p->tp, aprp_run, t, APR_THREAD_TASK_PRIORITY_NORMAL, NULL);
	if (rv != APR_SUCCESS) {
		free(t);
		return aprp_errno(rv);
	}
	return 0;
}

static void aprp_fini(void *ctx)
{
	struct aprp *p = ctx;
	apr_pool_t *pool = p->pool;

	/* Stops and joins the threads; it always returns APR_SUCCESS. */
	apr_thread_pool_destroy(p->tp);
	apr_pool_destroy(pool);
	apr_terminate();
}

const struct bench_peer bench_peer_apr = {
	.name = "apr",
	.about = "APR-util " APU_VERSION_STRING " apr_thread_pool (APR " APR_VERSION_STRING
		 "), initial = max threads; default size: online CPUs (APR has none)",
	.flags = BENCH_PEER_FIXED,
	.init = aprp_init,
	.post = aprp_post,
	.fini = aprp_fini,
};
