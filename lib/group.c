/* SPDX-License-Identifier: MIT */
/*
 * Groups: a counter of tasks, as libdispatch's dispatch_group.  Enter
 * counts one up, leave one down; each time the count comes to zero the
 * notifications registered before are posted, once each, and waiters
 * return.  rp_group_post() enters, and its task leaves when the callback
 * returns.
 *
 * State under the group's lock: the count, the zero-crossings so far (a
 * waiter returns when the count is zero or a crossing happened since it
 * began: a count that comes back up at once loses no waiter), the
 * notifications registered, and whether it is closed.
 *
 * Lifetime: a reference for the open group, and one while the count is
 * above zero, which the leave that brings it to zero drops once it has
 * posted the notifications: a closed group lives until then.
 */
#include "internal.h"

#include <limits.h>
#include <stdlib.h>
#include <sched.h>
#include <time.h>

struct notify {
	struct notify *next;
	rp_queue *q;                   /* NULL: the pool */
	rp_fn *fn;
	void *arg;
};

struct rp_group {
	rp_pool *pool;                 /* I */
	pthread_mutex_t lock;          /* the G lock: all below but A */
	unsigned long count;
	struct notify *notes, **tail;  /* registered, in order */
	bool closed;
	_Atomic unsigned refs;         /* A */
	_Atomic uint32_t zeros;        /* A: futex word, bumped at each crossing */
	_Atomic unsigned waiters;      /* A */
};

/* A task of rp_group_post(): the user's callback, then leave. */
struct gtask {
	rp_group *g;
	rp_fn *fn;
	void *arg;
};

static void group_put(rp_group *g)
{
	if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1) {
		pthread_mutex_destroy(&g->lock);
		free(g);
	}
}

/* Closed and at zero: the group stops counting as an open object of its
 * pool (a closed group above zero keeps rp_pool_destroy() at -EBUSY: its
 * tasks or its owner's leaves would outlive the pool).  Counted here,
 * under the lock, not when the memory goes: a waiter that saw the zero
 * may close the group and destroy the pool while the leave that made it
 * still posts the notifications (destroy waits for that task).
 * Context: the G lock held. */
static void done_locked(rp_group *g)
{
	if (g->closed && !g->count)
		atomic_fetch_sub(&g->pool->nobjects, 1);
}

/* Post @fn(@arg) to @q, or to @pool at normal priority. */
static int post_to(rp_pool *pool, rp_queue *q, rp_fn *fn, void *arg)
{
	return q ? rp__queue_push(q, fn, arg) : rp__post(pool, RP_PRIORITY_NORMAL, fn, arg);
}

/*
 * The count came to zero: post the notifications (their memory goes with
 * them: a notification's post that fails for want of memory is retried
 * until it goes, as an armed object's callback is), wake the waiters,
 * and drop the count's reference.  Context: the G lock held; released.
 */
static void zero_unlock(rp_group *g)
{
	struct notify *n = g->notes;
	rp_pool *pool = g->pool;

	g->notes = NULL;
	g->tail = &g->notes;
	atomic_fetch_add(&g->zeros, 1);
	done_locked(g);
	pthread_mutex_unlock(&g->lock);
	if (atomic_load(&g->waiters))
		rp__futex_wake(&g->zeros, INT_MAX);
	while (n) {
		struct notify *next = n->next;

		while (post_to(pool, n->q, n->fn, n->arg))
			sched_yield();
		if (n->q)
			rp__queue_unref(n->q);
		free(n);
		n = next;
	}
	group_put(g);
}

static int check_queue(rp_group *g, rp_queue *q)
{
	return q && rp__queue_pool(q) != g->pool ? -EINVAL : 0;
}

static int usable(const rp_group *g)
{
	if (!g)
		return -EINVAL;
	return rp__pool_valid(g->pool) ? 0 : -ECHILD;
}

RP_EXPORT int rp_group_create(rp_group **gp, rp_pool *pool)
{
	rp_group *g;
	int ret;

	if (!gp)
		return -EINVAL;
	ret = rp__pool_get(&pool);
	if (ret)
		return ret;
	g = rp__calloc(RP_FAULT_ALLOC_GROUP, 1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->pool = pool;
	g->tail = &g->notes;
	pthread_mutex_init(&g->lock, NULL);
	atomic_init(&g->refs, 1);
	atomic_fetch_add(&pool->nobjects, 1);
	*gp = g;
	return 0;
}

RP_EXPORT int rp_group_enter(rp_group *g)
{
	int ret = usable(g);

	if (ret)
		return ret;
	pthread_mutex_lock(&g->lock);
	if (g->closed || g->count == ULONG_MAX) {
		pthread_mutex_unlock(&g->lock);
		return -EINVAL;
	}
	if (!g->count++)
		atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static int leave(rp_group *g)
{
	pthread_mutex_lock(&g->lock);
	if (!g->count) {
		pthread_mutex_unlock(&g->lock);
		return -EINVAL;
	}
	if (--g->count)
		pthread_mutex_unlock(&g->lock);
	else
		zero_unlock(g);
	return 0;
}

RP_EXPORT int rp_group_leave(rp_group *g)
{
	int ret = usable(g);

	return ret ? ret : leave(g);
}

static void gtask_run(void *arg)
{
	struct gtask t = *(struct gtask *)arg;

	free(arg);
	t.fn(t.arg);
	leave(t.g);
}

RP_EXPORT int rp_group_post(rp_group *g, rp_queue *q, rp_fn *fn, void *arg)
{
	struct gtask *t;
	int ret = usable(g);

	if (ret)
		return ret;
	if (!fn || check_queue(g, q))
		return -EINVAL;
	t = rp__calloc(RP_FAULT_ALLOC_GROUP, 1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	*t = (struct gtask){ g, fn, arg };
	ret = rp_group_enter(g);
	if (!ret) {
		ret = post_to(g->pool, q, gtask_run, t);
		if (ret)
			leave(g); /* a crossing it causes is a real one */
	}
	if (ret)
		free(t);
	return ret;
}

RP_EXPORT int rp_group_notify(rp_group *g, rp_queue *q, rp_fn *fn, void *arg)
{
	struct notify *n;
	int ret = usable(g);

	if (ret)
		return ret;
	if (!fn || check_queue(g, q))
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	if (g->closed) {
		pthread_mutex_unlock(&g->lock);
		return -EINVAL;
	}
	if (!g->count) {
		pthread_mutex_unlock(&g->lock);
		return post_to(g->pool, q, fn, arg);
	}
	n = rp__calloc(RP_FAULT_ALLOC_GROUP, 1, sizeof(*n));
	if (!n) {
		pthread_mutex_unlock(&g->lock);
		return -ENOMEM;
	}
	*n = (struct notify){ NULL, q, fn, arg };
	if (q)
		rp__queue_ref(q);
	*g->tail = n;
	g->tail = &n->next;
	pthread_mutex_unlock(&g->lock);
	return 0;
}

RP_EXPORT int rp_group_wait(rp_group *g, uint64_t timeout_ns)
{
	struct rp_worker *self = rp__self;
	struct timespec ts;
	uint64_t deadline = 0;
	bool blocked = false;
	uint32_t z0;
	int ret = usable(g);

	if (ret)
		return ret;
	pthread_mutex_lock(&g->lock);
	z0 = atomic_load(&g->zeros);
	ret = g->count ? -ETIMEDOUT : 0;
	pthread_mutex_unlock(&g->lock);
	if (!ret || !timeout_ns)
		return ret;
	if (timeout_ns != RP_INFINITE) {
		uint64_t now = rp__clock_now(RP_CLOCK_MONO);

		deadline = timeout_ns > UINT64_MAX - now ? UINT64_MAX : now + timeout_ns;
		ts = rp__timespec(deadline);
	}
	atomic_fetch_add(&g->waiters, 1);
	for (;;) {
		uint32_t z = atomic_load(&g->zeros);

		if (z != z0) {
			ret = 0;
			break;
		}
		if (deadline && rp__clock_now(RP_CLOCK_MONO) >= deadline) {
			ret = -ETIMEDOUT;
			break;
		}
		if (self && !blocked) {
			rp__block_begin(self);
			blocked = true;
		}
		rp__futex_wait(&g->zeros, z, deadline ? &ts : NULL);
	}
	atomic_fetch_sub(&g->waiters, 1);
	if (blocked)
		rp__block_end(self);
	return ret;
}

RP_EXPORT int rp_group_close(rp_group *g)
{
	if (!g)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	if (g->closed) {
		pthread_mutex_unlock(&g->lock);
		return -EINVAL;
	}
	g->closed = true;
	done_locked(g);
	pthread_mutex_unlock(&g->lock);
	group_put(g); /* the open group's; the count keeps it until zero */
	return 0;
}
