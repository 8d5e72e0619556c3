/* SPDX-License-Identifier: MIT */
/*
 * Subsystem queues: a FIFO of callbacks, a width (how many may be in
 * progress at once, blocked ones included), a priority and a target (the
 * pool, or another queue of the pool, whose width then bounds it too).
 *
 * A queue has no thread, no ring, no descriptor: its callbacks run inside
 * *drainers*, tasks of its target.  While it has callbacks queued and
 * fewer than `width` drainers, a post starts one more; a drainer runs
 * callbacks one at a time, up to `quantum` of them, then puts itself back
 * at the tail of its target (the pool's shared run queue at the queue's
 * priority, never a worker's own deque; or the target queue's FIFO), so
 * queues of one priority take turns on the pool's workers.  Each drainer
 * runs one callback at a time, so a queue never has more than `width`
 * callbacks in progress, however they block; the pool's regulation sees a
 * blocked drainer like any blocked task and releases another worker.
 *
 * Invariant (the queue's lock): count > 0 implies drainers > 0.  A post
 * that finds the queue at width leaves its callback to the drainers
 * running; a drainer leaves only when the FIFO is empty.  A drainer is
 * started under the queue's lock, so a failed start (no memory) takes its
 * callback back before anyone sees it.
 *
 * Lifetime: a reference for the open queue, one per drainer, one per
 * object or queue that names it (until that one is freed).  Lock order:
 * a queue's lock before its target's, before the pool's.
 *
 * Each drainer pushes a frame on a per-thread chain while it runs its
 * callbacks: how rp_queue_wait() knows it is called from a callback of
 * the queue (or of one that targets it: its drainer runs inside the
 * target's), and how a callback that ends its thread is accounted for.
 */
#include "internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define QUANTUM_DEFAULT 16u

struct qitem {
	rp_fn *fn;
	void *arg;
	bool posted;                   /* by rp_queue_post(): a cancel may drop it */
};

struct rp_queue {
	rp_pool *pool;                 /* I */
	struct rp_queue *target;       /* I: NULL: the pool */
	enum rp_priority prio;         /* I */
	unsigned width, quantum;       /* I */
	unsigned flags;                /* I: RP_RUNS_LONG */
	char *name;                    /* I: or NULL */
	pthread_mutex_t lock;          /* the Q lock: all below but A */
	struct qitem *v;               /* the FIFO: a ring of cap entries */
	unsigned cap, head, count;
	unsigned nposted;              /* of count, posted by rp_queue_post() */
	unsigned inflight;             /* callbacks in progress */
	unsigned drainers;             /* drainer tasks queued or running */
	unsigned nnamed;               /* open objects and queues naming it */
	_Atomic bool closed;           /* written under Q */
	unsigned long long completed, cancelled; /* of rp_queue_post()'s */
	_Atomic unsigned refs;         /* A */
	_Atomic uint32_t seq;          /* A: futex word, bumped when it goes quiet */
	_Atomic unsigned waiters;      /* A */
};

struct qframe {
	struct rp_queue *q;
	struct qframe *prev;
	bool posted;                   /* the callback running is a post's */
};

static __thread struct qframe *frames;

static void drain(void *arg);
static int push(struct rp_queue *q, rp_fn *fn, void *arg, bool posted);

static void queue_free(struct rp_queue *q)
{
	struct rp_queue *target = q->target;

	pthread_mutex_destroy(&q->lock);
	free(q->v);
	free(q->name);
	free(q);
	if (target)
		rp__queue_unref(target);
}

rp_pool *rp__queue_pool(const struct rp_queue *q)
{
	return q->pool;
}

void rp__queue_ref(struct rp_queue *q)
{
	atomic_fetch_add_explicit(&q->refs, 1, memory_order_relaxed);
}

void rp__queue_unref(struct rp_queue *q)
{
	if (atomic_fetch_sub_explicit(&q->refs, 1, memory_order_acq_rel) == 1)
		queue_free(q);
}

/* Nothing queued and nothing in progress: wake rp_queue_wait().
 * Context: the Q lock held. */
static void quiet_locked(struct rp_queue *q)
{
	if (q->count || q->inflight)
		return;
	atomic_fetch_add(&q->seq, 1);
	if (atomic_load(&q->waiters))
		rp__futex_wake(&q->seq, INT_MAX);
}

/* Put a drainer of @q on its target: the pool's shared queue, at the
 * tail (a yield must let the others go first), or the target's FIFO.
 * Context: the Q lock held.  Return: 0, -ENOMEM, or -EAGAIN (the pool's
 * first post could not start its regulator). */
static int post_drainer(struct rp_queue *q)
{
	void *arg = q;

	if (q->target)
		return push(q->target, drain, q, false);
	if (rp__post_many(q->pool, q->prio, drain, &arg, 1))
		return 0;
	/* The pool's first post could not start its regulator, or no memory. */
	return atomic_load(&q->pool->reg.started) ? -ENOMEM : -EAGAIN;
}

/*
 * Queue @fn(@arg) on @q, starting a drainer if the queue has room for
 * one more.  @posted: by rp_queue_post() (a cancel drops only those: the
 * entries of objects, groups and target queues carry what their owners
 * count on).  Context: any thread.  Return: 0, -ENOMEM or -EAGAIN
 * (nothing queued).
 */
static int push(struct rp_queue *q, rp_fn *fn, void *arg, bool posted)
{
	int ret = 0;

	pthread_mutex_lock(&q->lock);
	if (q->count == q->cap) {
		unsigned cap = q->cap ? 2 * q->cap : 4;
		struct qitem *v = rp__calloc(RP_FAULT_ALLOC_QUEUE, cap, sizeof(*v));

		if (!v) {
			pthread_mutex_unlock(&q->lock);
			return -ENOMEM;
		}
		for (unsigned i = 0; i < q->count; i++)
			v[i] = q->v[(q->head + i) % q->cap];
		free(q->v);
		q->v = v;
		q->cap = cap;
		q->head = 0;
	}
	q->v[(q->head + q->count) % q->cap] = (struct qitem){ fn, arg, posted };
	q->count++;
	q->nposted += posted;
	/* One drainer per callback that could be in progress at once. */
	if (q->drainers < q->width && q->drainers < q->count + q->inflight) {
		ret = post_drainer(q);
		if (!ret) {
			q->drainers++;
			rp__queue_ref(q);
		} else if (q->drainers) {
			ret = 0; /* those running will take it */
		} else {
			q->count--; /* still the tail: nobody saw it */
			q->nposted -= posted;
		}
	}
	pthread_mutex_unlock(&q->lock);
	return ret;
}

int rp__queue_push(struct rp_queue *q, rp_fn *fn, void *arg)
{
	return push(q, fn, arg, false);
}

/* Run one callback of @q: an object's entry names the object as the
 * worker's current one (its waits say -EDEADLK), as the loop does. */
static void run_item(struct rp_queue *q, const struct qitem *it)
{
	struct rp_worker *self = rp__self;

	if (q->flags & RP_RUNS_LONG)
		rp_blocking_begin();
	if (it->fn == rp__obj_task && self) {
		struct rp_obj *prev = self->cur_obj, *obj = it->arg;

		self->cur_obj = obj;
		obj->ops->run(obj);
		self->cur_obj = prev;
	} else {
		it->fn(it->arg);
	}
	if (q->flags & RP_RUNS_LONG)
		rp_blocking_end();
}

/*
 * A drainer: callbacks one at a time, up to the quantum, then back to the
 * tail of the target; gone when the FIFO is empty.  It holds a reference
 * to the queue.
 */
static void drain(void *arg)
{
	struct rp_queue *q = arg;
	struct qframe frame = { q, frames, false };
	struct rp_worker *self = rp__self;
	unsigned n = 0;

	frames = &frame;
	pthread_mutex_lock(&q->lock);
	while (q->count) {
		struct qitem it;

		if (n == q->quantum) {
			if (!post_drainer(q))
				goto yielded;
			n = 0; /* no memory to yield: go on here */
		}
		it = q->v[q->head];
		q->head = (q->head + 1) % q->cap;
		q->count--;
		q->nposted -= it.posted;
		q->inflight++;
		pthread_mutex_unlock(&q->lock);
		frame.posted = it.posted;
		run_item(q, &it);
		n++;
		pthread_mutex_lock(&q->lock);
		q->inflight--;
		q->completed += it.posted;
		quiet_locked(q);
	}
	q->drainers--;
	pthread_mutex_unlock(&q->lock);
	frames = frame.prev;
	/* The worker counted the drainer as one task: count each callback. */
	if (self && n > 1)
		atomic_store_explicit(&self->completed,
				      atomic_load_explicit(&self->completed, memory_order_relaxed) +
					      n - 1, memory_order_relaxed);
	rp__queue_unref(q);
	return;
yielded:
	pthread_mutex_unlock(&q->lock);
	frames = frame.prev;
	if (self && n > 1)
		atomic_store_explicit(&self->completed,
				      atomic_load_explicit(&self->completed, memory_order_relaxed) +
					      n - 1, memory_order_relaxed);
}

/*
 * A callback ended its thread (pthread_exit()) inside drainers: each one,
 * innermost first, counts its callback finished and passes its place on
 * (a drainer again if callbacks wait), as the rest of drain() would have.
 * Context: the worker's exit, after the object's own abandon.
 */
void rp__queue_abandon(void)
{
	while (frames) {
		struct rp_queue *q = frames->q;
		bool keep = false;

		pthread_mutex_lock(&q->lock);
		q->inflight--;
		q->completed += frames->posted;
		frames = frames->prev;
		if (q->count)
			keep = !post_drainer(q);
		if (!keep)
			q->drainers--;
		quiet_locked(q);
		pthread_mutex_unlock(&q->lock);
		if (!keep)
			rp__queue_unref(q);
	}
}

/* An object (or queue) named @q at its create: it holds a reference, and
 * the queue cannot be closed until it is closed (rp__queue_unname()). */
static bool name_locked(struct rp_queue *q)
{
	if (q->closed)
		return false;
	q->nnamed++;
	rp__queue_ref(q);
	return true;
}

int rp__queue_name(struct rp_queue *q, rp_pool *pool)
{
	bool ok;

	if (q->pool != pool)
		return -EINVAL;
	pthread_mutex_lock(&q->lock);
	ok = name_locked(q);
	pthread_mutex_unlock(&q->lock);
	return ok ? 0 : -EINVAL;
}

void rp__queue_unname(struct rp_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->nnamed--;
	pthread_mutex_unlock(&q->lock);
}

static int opts_check(const struct rp_queue_opts *o)
{
	if (!o)
		return 0;
	for (size_t i = 0; i < sizeof(o->resv) / sizeof(o->resv[0]); i++)
		if (o->resv[i])
			return -EINVAL;
	return o->flags & ~RP_RUNS_LONG ? -EINVAL : 0;
}

RP_EXPORT int rp_queue_create(rp_queue **qp, rp_pool *pool, unsigned width, enum rp_priority prio,
			      const struct rp_queue_opts *opts)
{
	struct rp_queue *q, *target = opts ? opts->target : NULL;
	int ret;

	if (!qp || !width || (unsigned)prio >= RP_NPRIO)
		return -EINVAL;
	ret = opts_check(opts);
	if (ret)
		return ret;
	ret = rp__pool_get(&pool);
	if (ret)
		return ret;
	q = rp__calloc(RP_FAULT_ALLOC_QUEUE, 1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	if (opts && opts->name) {
		q->name = rp__calloc(RP_FAULT_ALLOC_QUEUE, 1, strlen(opts->name) + 1);
		if (!q->name) {
			free(q);
			return -ENOMEM;
		}
		strcpy(q->name, opts->name);
	}
	q->pool = pool;
	q->prio = prio;
	q->width = width;
	q->quantum = opts && opts->quantum ? opts->quantum : QUANTUM_DEFAULT;
	q->flags = opts ? opts->flags : 0;
	pthread_mutex_init(&q->lock, NULL);
	atomic_init(&q->refs, 1);
	/* A new queue cannot be anyone's target yet: no cycle can form. */
	if (target) {
		ret = rp__queue_name(target, pool);
		if (ret) {
			pthread_mutex_destroy(&q->lock);
			free(q->name);
			free(q);
			return ret;
		}
		q->target = target;
	}
	atomic_fetch_add(&pool->nobjects, 1);
	*qp = q;
	return 0;
}

RP_EXPORT int rp_queue_post(rp_queue *q, rp_fn *fn, void *arg)
{
	if (!q || !fn || atomic_load_explicit(&q->closed, memory_order_relaxed))
		return -EINVAL;
	if (!rp__pool_valid(q->pool))
		return -ECHILD;
	return push(q, fn, arg, true);
}

/* Is a callback of @q, or of a queue that targets it, running on this
 * thread?  (A queue's drainers run inside its target's.) */
static bool own_callback(const struct rp_queue *q)
{
	for (const struct qframe *f = frames; f; f = f->prev)
		if (f->q == q)
			return true;
	return false;
}

/* Take the callbacks posted and not started out of the FIFO; entries of
 * objects, groups and queues that target @q stay (they are not posts of
 * @q's, and carry what their owners count on).
 * Context: the Q lock held. */
static void cancel_locked(struct rp_queue *q)
{
	unsigned kept = 0;

	for (unsigned i = 0; i < q->count; i++) {
		struct qitem it = q->v[(q->head + i) % q->cap];

		if (!it.posted)
			q->v[(q->head + kept++) % q->cap] = it;
		else
			q->cancelled++;
	}
	q->count = kept;
	q->nposted = 0;
	quiet_locked(q);
}

RP_EXPORT int rp_queue_wait(rp_queue *q, bool cancel_pending)
{
	struct rp_worker *self = rp__self;
	bool blocked = false;

	if (!q)
		return -EINVAL;
	if (own_callback(q))
		return -EDEADLK;
	if (!rp__pool_valid(q->pool))
		return -ECHILD;
	atomic_fetch_add(&q->waiters, 1);
	pthread_mutex_lock(&q->lock);
	if (cancel_pending)
		cancel_locked(q);
	while (q->count || q->inflight) {
		uint32_t s = atomic_load(&q->seq);

		pthread_mutex_unlock(&q->lock);
		if (self && !blocked) {
			rp__block_begin(self);
			blocked = true;
		}
		rp__futex_wait(&q->seq, s, NULL);
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	atomic_fetch_sub(&q->waiters, 1);
	if (blocked)
		rp__block_end(self);
	return 0;
}

RP_EXPORT int rp_queue_stats(rp_queue *q, struct rp_queue_stats *st)
{
	if (!q || !st)
		return -EINVAL;
	if (!rp__pool_valid(q->pool))
		return -ECHILD;
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&q->lock);
	st->width = q->width;
	st->inflight = q->inflight;
	st->queued = q->nposted;
	st->completed = q->completed;
	st->cancelled = q->cancelled;
	pthread_mutex_unlock(&q->lock);
	return 0;
}

RP_EXPORT int rp_queue_close(rp_queue *q)
{
	rp_pool *pool;

	if (!q)
		return -EINVAL;
	pool = q->pool;
	if (!rp__pool_valid(pool))
		return -ECHILD;
	pthread_mutex_lock(&q->lock);
	if (q->closed || q->nnamed) {
		int ret = q->closed ? -EINVAL : -EBUSY;

		pthread_mutex_unlock(&q->lock);
		return ret;
	}
	atomic_store(&q->closed, true);
	pthread_mutex_unlock(&q->lock);
	if (q->target)
		rp__queue_unname(q->target);
	rp__queue_unref(q); /* the open queue's; drainers hold theirs */
	atomic_fetch_sub(&pool->nobjects, 1);
	return 0;
}
