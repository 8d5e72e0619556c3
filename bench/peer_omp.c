/* SPDX-License-Identifier: MIT */
/*
 * peer_omp.c - OpenMP tasks behind the bench adapter.
 *
 * An OpenMP task can only be created by a thread of a team, inside a
 * parallel region; rpbench also posts from threads that belong to no team
 * (its main thread).  So init starts one thread that opens a parallel region
 * of T + 1 threads and stays in it until fini.  One of them, the dispatcher,
 * runs a `single` construct: it takes posts made from outside off a lock-free
 * stack and turns each into `#pragma omp task`.  The other T wait at the
 * region's barrier, which in OpenMP is where idle threads pick up tasks.  A
 * post made from inside a task (by a team thread) creates its task directly,
 * as OpenMP code would.
 *
 * The dispatcher is an extra thread, not one of the T: while it sleeps
 * waiting for posts it cannot run tasks, and letting it run tasks instead
 * (taskyield, taskwait) would either spin or stall dispatching behind a task
 * that blocks.  It does run a task now and then: libgomp runs a new task at
 * once in the creating thread when more than 64 per team thread are queued,
 * which is OpenMP's own back-pressure.  So up to T + 1 threads run tasks.
 *
 * The dispatcher sleeps on a futex while no posts arrive, so an idle pool
 * costs what libgomp's idle threads cost (they spin for GOMP_SPINCOUNT, or
 * OMP_WAIT_POLICY, then sleep).  A poster only pays for a wake-up when the
 * dispatcher is asleep, and the dispatcher takes all queued posts at once.
 * A post from outside an idle pool thus wakes two threads in turn: the
 * dispatcher, then (libgomp's doing) a worker.
 *
 * libgomp state is per process (its thread pool hangs off the thread that
 * opened the region); rpbench calls init once per process.  libgomp has no
 * error path for a thread it cannot create: it exits the process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "adapter.h"

/*
 * Without -fopenmp the pragmas vanish and tasks would run inline in the
 * dispatcher, one at a time; clang's -fopenmp=libgomp does just that.
 */
#ifndef _OPENMP
#error "peer_omp.c must be compiled with -fopenmp"
#endif

#define OMP_STR_(x) #x
#define OMP_STR(x) OMP_STR_(x)
/*
 * GCC always lowers to libgomp, clang to libomp.  Build this peer with GCC:
 * libomp's threads keep polling for tasks for as long as a region that has
 * tasks lasts, so under libomp this pool burns its CPUs while idle
 * (KMP_BLOCKTIME does not stop it), and a team of 1025 did not even start
 * within a minute on 2 CPUs.
 */
#ifdef __clang__
#define OMP_RT "libomp, clang " OMP_STR(__clang_major__) "." OMP_STR(__clang_minor__)
#else
#define OMP_RT "libgomp, gcc " OMP_STR(__GNUC__) "." OMP_STR(__GNUC_MINOR__)
#endif

/* A post from outside the team, waiting for the dispatcher. */
struct omp_node {
	struct omp_node *next;
	bench_fn *fn;
	void *arg;
};

struct omp_pool {
	/*
	 * Posts from outside, newest first; NULL when empty.  Posters push
	 * with a CAS, the dispatcher takes the whole stack with one exchange.
	 */
	_Atomic(struct omp_node *) head;
	/*
	 * Futex word: 1 while the dispatcher is asleep or about to be.  It
	 * shares the cache line of head, which a poster has just written.
	 */
	atomic_uint sleeping;
	atomic_bool stopping;		/* fini called: leave once head is empty */
	/* Futex word: 0 until the region has started, then 1, or 2 if short. */
	atomic_uint started;
	unsigned team;			/* requested team size: workers + dispatcher */
	pthread_t thread;		/* opened the region; joined by fini */
};

/*
 * The pool whose team this thread belongs to, or NULL.  Set by every team
 * thread before it can run a task, so a post from inside a task sees it.
 */
static __thread struct omp_pool *omp_self;

static void futex_wait(atomic_uint *word, unsigned val)
{
	/* EAGAIN (value changed) and EINTR are ordinary: every caller re-checks. */
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(atomic_uint *word, int n)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/*
 * Wake the dispatcher if it sleeps.  The caller has just made head
 * non-empty, or set stopping, with a sequentially consistent write; the
 * dispatcher sets sleeping before it checks both again, so either it sees
 * the write or we see sleeping set: the wake-up cannot be lost.
 */
static void omp_kick(struct omp_pool *pool)
{
	if (atomic_load(&pool->sleeping) != 0 && atomic_exchange(&pool->sleeping, 0) != 0)
		futex_wake(&pool->sleeping, 1);
}

static void omp_task_create(bench_fn *fn, void *arg)
{
	/*
	 * Tied (the default) and deferred.  libgomp copies fn and arg into
	 * its own task; it aborts rather than return if that allocation fails.
	 */
#pragma omp task firstprivate(fn, arg)
	fn(arg);
}

static void omp_dispatch(struct omp_pool *pool)
{
	for (;;) {
		struct omp_node *n = atomic_exchange_explicit(&pool->head, NULL, memory_order_acquire);

		if (n == NULL) {
			if (atomic_load(&pool->stopping))
				break;
			atomic_store(&pool->sleeping, 1);
			if (atomic_load(&pool->head) == NULL && !atomic_load(&pool->stopping))
				futex_wait(&pool->sleeping, 1);
			atomic_store_explicit(&pool->sleeping, 0, memory_order_relaxed);
			continue;
		}

		/* The stack is newest first: reverse it, so tasks start in post order. */
		struct omp_node *fifo = NULL;
		while (n != NULL) {
			struct omp_node *next = n->next;
			n->next = fifo;
			fifo = n;
			n = next;
		}
		while (fifo != NULL) {
			struct omp_node *next = fifo->next;
			bench_fn *fn = fifo->fn;
			void *arg = fifo->arg;

			free(fifo);
			omp_task_create(fn, arg);
			fifo = next;
		}
	}
}

static void *omp_main(void *p)
{
	struct omp_pool *pool = p;

	/*
	 * Dynamic adjustment (OMP_DYNAMIC) could give a smaller team; this
	 * ICV is this thread's own, so it touches no other OpenMP user.
	 */
	omp_set_dynamic(0);
#pragma omp parallel num_threads(pool->team)
	{
		omp_self = pool;
		/*
		 * nowait: the other threads go straight to the barrier below,
		 * where they run tasks until the dispatcher arrives there too
		 * and every task has finished.
		 */
#pragma omp single nowait
		{
			/* OMP_THREAD_LIMIT, say, can still cut the team short. */
			bool full = (unsigned)omp_get_num_threads() == pool->team;

			atomic_store(&pool->started, full ? 1 : 2);
			futex_wake(&pool->started, INT_MAX);
			if (full)
				omp_dispatch(pool);
		}
		/*
		 * A barrier also completes every task.  Only then may a thread
		 * forget the pool: libgomp keeps its threads for later regions.
		 */
#pragma omp barrier
		omp_self = NULL;
	}
	return NULL;
}

static int omp_init(void **ctx, unsigned threads)
{
	/* The default is what `#pragma omp parallel` alone would give. */
	unsigned workers = threads != 0 ? threads : (unsigned)omp_get_max_threads();
	struct omp_pool *pool;

	if (workers > INT_MAX - 1)
		return -EINVAL;		/* num_threads takes an int */
	pool = calloc(1, sizeof(*pool));
	if (pool == NULL)
		return -ENOMEM;
	pool->team = workers + 1;

	int ret = pthread_create(&pool->thread, NULL, omp_main, pool);
	if (ret != 0) {
		free(pool);
		return -ret;
	}

	/* Wait for the team, so that a short one fails init, not the run. */
	unsigned started;
	while ((started = atomic_load(&pool->started)) == 0)
		futex_wait(&pool->started, 0);
	if (started != 1) {
		/* The dispatcher did not start: the region is already ending. */
		pthread_join(pool->thread, NULL);
		free(pool);
		return -EAGAIN;
	}
	*ctx = pool;
	return 0;
}

static int omp_post(void *ctx, bench_fn *fn, void *arg)
{
	struct omp_pool *pool = ctx;

	/* Inside a task of this pool: a plain OpenMP task, no detour. */
	if (omp_self == pool) {
		omp_task_create(fn, arg);
		return 0;
	}

	struct omp_node *n = malloc(sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	n->fn = fn;
	n->arg = arg;

	struct omp_node *old = atomic_load_explicit(&pool->head, memory_order_relaxed);
	do
		n->next = old;
	while (!atomic_compare_exchange_weak_explicit(&pool->head, &old, n, memory_order_seq_cst,
						      memory_order_relaxed));
	omp_kick(pool);
	return 0;
}

static void omp_fini(void *ctx)
{
	struct omp_pool *pool = ctx;

	/*
	 * The dispatcher leaves the single construct once the stack is
	 * empty; the barrier that ends the region waits for every task,
	 * including those that tasks create meanwhile.
	 */
	atomic_store(&pool->stopping, true);
	omp_kick(pool);
	int ret = pthread_join(pool->thread, NULL);
	if (ret != 0) {
		fprintf(stderr, "peer openmp: pthread_join: %s\n", strerror(ret));
		abort();
	}
	free(pool);
}

const struct bench_peer bench_peer_omp = {
	.name = "openmp",
	.about = "OpenMP " OMP_STR(_OPENMP) " tasks (" OMP_RT "): posts from outside go through "
		 "a dispatcher thread that creates the tasks, posts from tasks create them "
		 "directly; team = N workers + the dispatcher; default N: omp_get_max_threads()",
	.flags = BENCH_PEER_FIXED,
	.init = omp_init,
	.post = omp_post,
	.fini = omp_fini,
};
