/* SPDX-License-Identifier: MIT */
/*
 * Timer objects: a callback at a due time, once or periodically, on the
 * pool's completion port (port.h).
 *
 * A timer is one entry of its clock's timer set, with a window: it fires
 * no earlier than due and, given a wake-up, no later than due + window;
 * one kernel timer per clock serves every timer, so timers whose windows
 * overlap share a wake-up.  An expiry adds to the timer's pending count;
 * a callback is queued only if none is queued or running, and it takes
 * every pending expiry at once (its res), so a timer's callbacks never
 * overlap, however short its period or however long a callback.  A
 * periodic timer is re-armed from its previous due time, never from when
 * it fired, so it does not drift.
 *
 * State: the arming (the set entry, period, window) is the port's, under
 * its lock; the delivery (pending, queued, running) is the timer's own,
 * under its own lock, taken inside the port's (lock order: port, then
 * timer).  So a worker running a callback never takes the port's lock,
 * which the event thread holds while it takes expiries off the sets: with
 * one lock for both, workers queued behind the event thread on every
 * callback (measured by bench/timerbench: 2,215 "blocks" detected and 22
 * threads started for a 2-core pool, at 100,000 timers a second).  cancel
 * and close empty the set entry and pending, so a queued callback finds
 * nothing to deliver and is dropped: after they return, no callback
 * starts.
 */
#include "internal.h"

#include <limits.h>
#include <stdlib.h>

struct rp_timer {
	struct rp_obj obj;           /* the common header */
	rp_event_fn *fn;             /* I */
	void *arg;                   /* I */
	struct rp_port *port;        /* I */
	struct rp_tentry e;          /* P: the port's lock */
	uint64_t period;             /* P */
	pthread_mutex_t lock;        /* the delivery's; inside the port's lock */
	uint64_t pending;            /* T: expirations not yet delivered */
	bool queued, running;        /* T: a callback posted, not started; started */
	_Atomic uint32_t seq;        /* A: futex word, bumped when the timer goes quiet */
	_Atomic unsigned waiters;    /* A */
};

#define timer_of(o) ((rp_timer *)(o))

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* No callback queued or running any more: wake rp_timer_wait().
 * Context: the timer's lock held. */
static void quiet_locked(rp_timer *t)
{
	if (t->queued || t->running)
		return;
	atomic_fetch_add(&t->seq, 1);
	if (atomic_load(&t->waiters))
		rp__futex_wake(&t->seq, INT_MAX);
}

/*
 * An expiry (the event thread, the port's lock held): count it, with the
 * periods missed since, re-arm a periodic timer from its due time, and
 * queue a callback unless one is queued or running already.
 */
static struct rp_obj *timer_expire(struct rp_tentry *e, uint64_t now)
{
	rp_timer *t = (rp_timer *)((char *)e - offsetof(rp_timer, e));
	uint64_t n = 1;

	if (t->period) {
		if (now > e->due)
			n += (now - e->due) / t->period;
		e->due = sat_add(e->due, n * t->period);
		/* Room for it was reserved when it was armed: it has just
		 * left the set. */
		if (rp__port_arm_locked(t->port, e)) {
			/* The event thread programs the set after this
			 * pass: no doorbell needed. */
		}
	}
	pthread_mutex_lock(&t->lock);
	t->pending += n;
	if (t->queued || t->running) {
		pthread_mutex_unlock(&t->lock);
		return NULL;
	}
	t->queued = true;
	pthread_mutex_unlock(&t->lock);
	rp__obj_get(&t->obj);
	return &t->obj;
}

/* A queued callback (a worker). */
static bool timer_run(struct rp_obj *o)
{
	rp_timer *t = timer_of(o);
	uint64_t n;
	bool repost;

	pthread_mutex_lock(&t->lock);
	t->queued = false;
	n = t->pending;
	t->pending = 0;
	if (!n) {
		/* Cancelled or re-set since it was queued. */
		quiet_locked(t);
		pthread_mutex_unlock(&t->lock);
		rp__obj_put(o);
		return false;
	}
	t->running = true;
	pthread_mutex_unlock(&t->lock);

	rp__obj_callback_begin(o);
	t->fn(t->arg, n > INT_MAX ? INT_MAX : (int)n);
	rp__obj_callback_end(o);

	pthread_mutex_lock(&t->lock);
	t->running = false;
	/* Expired again while it ran (or re-armed by it, and due): one
	 * more callback, now that this one is over. */
	repost = t->pending && !rp__obj_closed(o);
	if (repost) {
		t->queued = true;
		rp__obj_get(o);
	}
	quiet_locked(t);
	pthread_mutex_unlock(&t->lock);
	if (repost)
		rp__port_post(t->port, o);
	rp__obj_put(o);
	return true;
}

/* The callback ended its worker's thread: it is over. */
static void timer_abandon(struct rp_obj *o)
{
	rp_timer *t = timer_of(o);

	pthread_mutex_lock(&t->lock);
	t->running = false;
	quiet_locked(t);
	pthread_mutex_unlock(&t->lock);
	rp__obj_put(o);
}

static void timer_free(struct rp_obj *o)
{
	pthread_mutex_destroy(&timer_of(o)->lock);
	free(o);
}

static bool timer_stop(struct rp_obj *o, bool drop);
static void timer_quiesce(struct rp_obj *o);
static void timer_close(struct rp_obj *o);

static const struct rp_obj_ops timer_ops = {
	.run = timer_run,
	.abandon = timer_abandon,
	.free = timer_free,
	.stop = timer_stop,
	.quiesce = timer_quiesce,
	.close = timer_close,
};

RP_EXPORT int rp_timer_create(rp_timer **tp, rp_pool *pool, rp_event_fn *fn, void *arg,
			      const struct rp_env *env)
{
	struct rp_port *port;
	struct rp_obj *o;
	rp_timer *t;
	int ret;

	if (!tp || !fn)
		return -EINVAL;
	ret = rp__obj_new(&o, sizeof(*t), RP_FAULT_ALLOC_TIMER, &timer_ops, RP_OBJ_TIMER, pool, env, arg,
			  &port);
	if (ret)
		return ret;
	t = (rp_timer *)o;
	t->fn = fn;
	t->arg = arg;
	t->port = port;
	pthread_mutex_init(&t->lock, NULL);
	t->e.expire = timer_expire;
	t->e.idx = UINT32_MAX;
	rp__obj_publish(&t->obj);
	*tp = t;
	return 0;
}

/* Is an object usable?  Return: 0, -EINVAL (NULL or closed), -ECHILD. */
static int usable(const rp_timer *t)
{
	if (!t || !rp__obj_armable(&t->obj))
		return -EINVAL;
	return rp__pool_valid(t->obj.pool) ? 0 : -ECHILD;
}

/* Take back the arming and the expiries not yet delivered.
 * Return: 1 if there was either.  Context: the port's lock held. */
static int cancel_locked(rp_timer *t)
{
	int had = rp__tentry_armed(&t->e);

	rp__timerset_remove(&t->port->timers[t->e.clock], &t->e);
	pthread_mutex_lock(&t->lock);
	had |= t->pending != 0;
	t->pending = 0;
	pthread_mutex_unlock(&t->lock);
	return had;
}

RP_EXPORT int rp_timer_set(rp_timer *t, uint64_t due_ns, uint64_t period_ns, uint64_t window_ns,
			   unsigned flags)
{
	unsigned clock;
	uint64_t due;
	bool kick = false;
	int ret;

	ret = usable(t);
	if (ret)
		return ret;
	if (flags & ~(RP_TIMER_ABS | RP_TIMER_BOOTTIME | RP_TIMER_REALTIME))
		return -EINVAL;
	if ((flags & RP_TIMER_BOOTTIME) && (flags & RP_TIMER_REALTIME))
		return -EINVAL;
	clock = flags & RP_TIMER_BOOTTIME   ? RP_CLOCK_BOOT
		: flags & RP_TIMER_REALTIME ? RP_CLOCK_REAL
					    : RP_CLOCK_MONO;
	due = flags & RP_TIMER_ABS ? due_ns : sat_add(rp__clock_now(clock), due_ns);
	/* GCD's rule: a periodic timer's window is at most half its period. */
	if (period_ns && window_ns > period_ns / 2)
		window_ns = period_ns / 2;

	pthread_mutex_lock(&t->port->lock);
	if (due != UINT64_MAX && rp__timerset_reserve(&t->port->timers[clock], window_ns)) {
		pthread_mutex_unlock(&t->port->lock);
		return -ENOMEM;
	}
	ret = cancel_locked(t);
	t->e.clock = clock;
	t->e.due = due;
	t->e.window = window_ns;
	t->period = period_ns;
	/* RP_INFINITE: never due, so not armed at all. */
	if (due != UINT64_MAX)
		kick = rp__port_arm_locked(t->port, &t->e);
	pthread_mutex_unlock(&t->port->lock);
	if (kick)
		rp__port_kick(t->port);
	return ret;
}

RP_EXPORT int rp_timer_cancel(rp_timer *t)
{
	int ret = usable(t);

	if (ret)
		return ret;
	pthread_mutex_lock(&t->port->lock);
	ret = cancel_locked(t);
	pthread_mutex_unlock(&t->port->lock);
	return ret;
}

RP_EXPORT bool rp_timer_is_set(const rp_timer *t)
{
	rp_timer *m = (rp_timer *)t;
	bool set;

	if (usable(t))
		return false;
	pthread_mutex_lock(&m->port->lock);
	pthread_mutex_lock(&m->lock);
	set = rp__tentry_armed(&m->e) || m->pending;
	pthread_mutex_unlock(&m->lock);
	pthread_mutex_unlock(&m->port->lock);
	return set;
}

RP_EXPORT int rp_timer_wait(rp_timer *t, bool cancel_pending)
{
	struct rp_worker *self = rp__self;
	bool blocked = false;

	if (!t)
		return -EINVAL;
	if (self && self->cur_obj == &t->obj)
		return -EDEADLK;
	if (!rp__pool_valid(t->obj.pool))
		return -ECHILD;
	atomic_fetch_add(&t->waiters, 1);
	for (;;) {
		uint32_t s;
		bool quiet;

		if (cancel_pending) {
			pthread_mutex_lock(&t->port->lock);
			cancel_locked(t);
			pthread_mutex_unlock(&t->port->lock);
		}
		pthread_mutex_lock(&t->lock);
		quiet = !t->queued && !t->running;
		s = atomic_load(&t->seq);
		pthread_mutex_unlock(&t->lock);
		if (quiet)
			break;
		/* Inside a callback, a hinted block: the awaited callback
		 * may need this worker's slot. */
		if (self && !blocked) {
			rp__block_begin(self);
			blocked = true;
		}
		rp__futex_wait(&t->seq, s, NULL);
	}
	atomic_fetch_sub(&t->waiters, 1);
	if (blocked)
		rp__block_end(self);
	return 0;
}

RP_EXPORT int rp_timer_close(rp_timer *t)
{
	rp_pool *pool;

	if (!t)
		return -EINVAL;
	pool = t->obj.pool;
	pthread_mutex_lock(&t->port->lock);
	cancel_locked(t);
	pthread_mutex_unlock(&t->port->lock);
	if (!rp__obj_close(&t->obj))
		return -EINVAL;
	/* @t may be gone: its pool is not. */
	atomic_fetch_sub(&pool->nobjects, 1);
	return 0;
}

/* Cleanup groups: disarm; with @drop, also drop the expiries not yet
 * delivered (as rp_timer_cancel()). */
static bool timer_stop(struct rp_obj *o, bool drop)
{
	rp_timer *t = (rp_timer *)o;
	bool lost;

	pthread_mutex_lock(&t->port->lock);
	if (drop) {
		lost = cancel_locked(t);
	} else {
		lost = rp__tentry_armed(&t->e);
		rp__timerset_remove(&t->port->timers[t->e.clock], &t->e);
	}
	pthread_mutex_unlock(&t->port->lock);
	return lost;
}

static void timer_quiesce(struct rp_obj *o)
{
	rp_timer_wait((rp_timer *)o, false);
}

static void timer_close(struct rp_obj *o)
{
	rp_timer_close((rp_timer *)o);
}
