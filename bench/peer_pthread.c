/* SPDX-License-Identifier: MIT */
/*
 * peer_pthread.c - the baseline: the fixed-size pool that servers write by
 * hand.  N threads, one mutex, one condition variable, and a FIFO singly
 * linked list of malloc'ed nodes.
 *
 * It is meant to be a fair baseline, not a straw man, so it takes the two
 * cheap precautions a careful hand-written pool takes (libuv's
 * src/threadpool.c takes the same ones): it signals only when a thread is
 * actually waiting, and it signals after dropping the mutex, so the woken
 * thread does not wake straight into a held lock.  It does nothing cleverer:
 * no spinning, no per-thread queues, no node cache.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter.h"

struct pt_node {
	struct pt_node *next;
	bench_fn *fn;
	void *arg;
};

/*
 * Every field below the mutex is protected by it; nthreads and threads[] are
 * set before the first worker starts and read-only afterwards.
 */
struct pt_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* signalled: work queued, or stopping */
	struct pt_node *head;		/* oldest node; NULL when empty */
	struct pt_node **tailp;		/* &last->next, or &head when empty */
	unsigned idle;			/* threads waiting on cond */
	bool stopping;			/* fini called: exit once the queue is empty */
	unsigned nthreads;
	pthread_t threads[];
};

/*
 * Lock operations on a correctly initialised default mutex cannot fail, so a
 * failure means memory corruption: stop at once rather than run on.
 */
static void check(int ret, const char *what)
{
	if (ret != 0) {
		fprintf(stderr, "peer pthread: %s: %s\n", what, strerror(ret));
		abort();
	}
}

static void *pt_worker(void *p)
{
	struct pt_pool *pool = p;

	check(pthread_mutex_lock(&pool->lock), "pthread_mutex_lock");
	for (;;) {
		while (pool->head == NULL && !pool->stopping) {
			pool->idle++;
			check(pthread_cond_wait(&pool->cond, &pool->lock), "pthread_cond_wait");
			pool->idle--;
		}
		/* Stopping only ends the loop once the queue is drained. */
		struct pt_node *n = pool->head;
		if (n == NULL)
			break;
		pool->head = n->next;
		if (pool->head == NULL)
			pool->tailp = &pool->head;
		check(pthread_mutex_unlock(&pool->lock), "pthread_mutex_unlock");

		/* Free before the call, so the node is reused while still hot. */
		bench_fn *fn = n->fn;
		void *arg = n->arg;
		free(n);
		fn(arg);

		check(pthread_mutex_lock(&pool->lock), "pthread_mutex_lock");
	}
	check(pthread_mutex_unlock(&pool->lock), "pthread_mutex_unlock");
	return NULL;
}

/* Stop and join the first @started workers; the queue must be empty. */
static void pt_stop(struct pt_pool *pool, unsigned started)
{
	check(pthread_mutex_lock(&pool->lock), "pthread_mutex_lock");
	pool->stopping = true;
	check(pthread_cond_broadcast(&pool->cond), "pthread_cond_broadcast");
	check(pthread_mutex_unlock(&pool->lock), "pthread_mutex_unlock");

	for (unsigned i = 0; i < started; i++)
		check(pthread_join(pool->threads[i], NULL), "pthread_join");
	check(pthread_cond_destroy(&pool->cond), "pthread_cond_destroy");
	check(pthread_mutex_destroy(&pool->lock), "pthread_mutex_destroy");
	free(pool);
}

static int pt_init(void **ctx, unsigned threads)
{
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)n : 1;
	}

	struct pt_pool *pool = calloc(1, sizeof(*pool) + threads * sizeof(pool->threads[0]));
	if (pool == NULL)
		return -ENOMEM;
	int ret = pthread_mutex_init(&pool->lock, NULL);
	if (ret != 0) {
		free(pool);
		return -ret;
	}
	ret = pthread_cond_init(&pool->cond, NULL);
	if (ret != 0) {
		check(pthread_mutex_destroy(&pool->lock), "pthread_mutex_destroy");
		free(pool);
		return -ret;
	}
	pool->tailp = &pool->head;
	pool->nthreads = threads;

	for (unsigned i = 0; i < threads; i++) {
		ret = pthread_create(&pool->threads[i], NULL, pt_worker, pool);
		if (ret != 0) {
			pt_stop(pool, i);
			return -ret;
		}
	}
	*ctx = pool;
	return 0;
}

static int pt_post(void *ctx, bench_fn *fn, void *arg)
{
	struct pt_pool *pool = ctx;
	struct pt_node *n = malloc(sizeof(*n));

	if (n == NULL)
		return -ENOMEM;
	n->next = NULL;
	n->fn = fn;
	n->arg = arg;

	check(pthread_mutex_lock(&pool->lock), "pthread_mutex_lock");
	*pool->tailp = n;
	pool->tailp = &n->next;
	bool wake = pool->idle > 0;
	check(pthread_mutex_unlock(&pool->lock), "pthread_mutex_unlock");

	/*
	 * Signalling after the unlock is safe: a thread counted in idle was
	 * already inside pthread_cond_wait when we held the lock, so the
	 * signal cannot be lost; at worst it wakes a thread that finds the
	 * node already taken and waits again.
	 */
	if (wake)
		check(pthread_cond_signal(&pool->cond), "pthread_cond_signal");
	return 0;
}

static void pt_fini(void *ctx)
{
	/* Workers drain the queue (and whatever its tasks post) before exiting. */
	struct pt_pool *pool = ctx;

	pt_stop(pool, pool->nthreads);
}

const struct bench_peer bench_peer_pthread = {
	.name = "pthread",
	.about = "hand-written fixed pool: N threads, one mutex, one condition variable, a FIFO "
		 "list of malloc'ed nodes (default size: online CPUs)",
	.flags = BENCH_PEER_FIXED,
	.init = pt_init,
	.post = pt_post,
	.fini = pt_fini,
};
