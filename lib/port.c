/* SPDX-License-Identifier: MIT */
/*
 * The completion port's event thread and its doorbell (port.h).
 *
 * The loop: take what is due (every clock's expired timers, and expiries
 * whose post failed earlier), post them as tasks, program each clock's
 * kernel timer at its earliest deadline, then sleep in the kernel side's
 * wait until the doorbell rings or a kernel timer fires.  Expiries are
 * taken under the port's lock and posted after it, so a post that wakes
 * or starts a worker never holds it.
 */
#include "internal.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#define RP_RETRY_NS 1000000u	/* a failed post is tried again after 1 ms */

static const clockid_t clock_ids[RP_NCLOCKS] = { CLOCK_MONOTONIC, CLOCK_BOOTTIME,
						 CLOCK_REALTIME };

clockid_t rp__clock_id(unsigned clock)
{
	return clock_ids[clock];
}

uint64_t rp__clock_now(unsigned clock)
{
	struct timespec ts;

	clock_gettime(clock_ids[clock], &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Ring the doorbell: the event thread looks again.  Context: any thread. */
void rp__port_kick(struct rp_port *port)
{
	uint64_t one = 1;

	while (write(port->doorbell, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

/*
 * Ring the doorbell if the event thread sleeps, once per sleep: for a
 * request handed to it, which it looks for before it sleeps.  The caller
 * has published the request (a seq_cst store) before; the event thread
 * sets asleep (seq_cst) before its last look: one of the two sees the
 * other.  Context: any thread.
 */
void rp__port_kick_sleeper(struct rp_port *port)
{
	if (atomic_load(&port->asleep) && !atomic_exchange(&port->kicked, true))
		rp__port_kick(port);
}

/*
 * Wait until the event thread has made one whole pass through its kernel
 * wait that began after this call.  Work the kernel queued for it before
 * the call (the task_work that completes and frees a request it
 * submitted) has then run: a thread runs its task_work on its way into
 * and out of the kernel.  One pass is not enough: the pass under way when
 * this is called may have left the kernel before the work was queued.
 * Context: any thread but the event thread, no lock held, the port live.
 */
void rp__port_barrier(struct rp_port *port)
{
	uint32_t target;

	/* Counted before the pass count is read: the event thread bumps the
	 * count, then looks for waiters (a Dekker pair, both seq_cst). */
	atomic_fetch_add(&port->barrier_waiters, 1);
	target = atomic_load(&port->passes) + 2;
	for (;;) {
		uint32_t now = atomic_load(&port->passes);

		if ((int32_t)(now - target) >= 0)
			break;
		rp__port_kick(port);
		rp__futex_wait(&port->passes, now, NULL);
	}
	atomic_fetch_sub(&port->barrier_waiters, 1);
}

/*
 * Post @obj's entry (its reference was taken for it).  A post fails only
 * for want of memory: the expiry is kept and posted again a little later,
 * so an armed object still gets its one callback.  Context: any thread.
 */
void rp__port_post(struct rp_port *port, struct rp_obj *obj)
{
	if (!rp__obj_enqueue(obj))
		return;
	pthread_mutex_lock(&port->lock);
	if (port->nretry == port->retry_cap) {
		unsigned cap = port->retry_cap ? 2 * port->retry_cap : 16;
		struct rp_obj **v = realloc(port->retry, cap * sizeof(*v));

		/* Out of memory twice over: spin on the post rather than lose
		 * the callback. */
		if (!v) {
			pthread_mutex_unlock(&port->lock);
			while (rp__obj_enqueue(obj))
				sched_yield();
			return;
		}
		port->retry = v;
		port->retry_cap = cap;
	}
	port->retry[port->nretry++] = obj;
	pthread_mutex_unlock(&port->lock);
	rp__port_kick(port);
}

/*
 * A kernel request of @obj's arming @gen completed with @res: the object
 * decides (a stale completion is dropped).  Context: the event thread,
 * the port's lock held.  *@post: the object to post after unlocking, or
 * NULL.
 */
void rp__port_complete_locked(struct rp_port *port, struct rp_obj *obj, uint32_t gen, int res,
			      struct rp_obj **post)
{
	rp__assert_held(&port->lock);
	*post = obj->ops->complete(obj, gen, res);
}

/*
 * Arm @e in its clock's timer set.  Context: port->lock held, the set
 * reserved (rp__timerset_reserve()).  Return: true if @e comes before the
 * deadline the event thread programs: the caller rings the doorbell after
 * unlocking.
 */
bool rp__port_arm_locked(struct rp_port *port, struct rp_tentry *e)
{
	uint64_t *next = &port->next_deadline[e->clock], deadline;

	rp__assert_held(&port->lock);
	deadline = rp__timerset_insert(&port->timers[e->clock], e);
	if (*next && *next <= deadline)
		return false;
	*next = deadline;
	return true;
}

/* Post @n entries at once; those that fail (no memory) go one by one
 * through rp__port_post(), which keeps them for later. */
void rp__port_post_batch(struct rp_port *port, struct rp_obj **batch, unsigned n)
{
	unsigned np = 0, posted;

	/* Those of queues go to their queues; the rest together. */
	for (unsigned i = 0; i < n; i++) {
		if (batch[i]->queue)
			rp__port_post(port, batch[i]);
		else
			batch[np++] = batch[i];
	}
	posted = rp__post_many(port->pool, RP_PRIORITY_NORMAL, rp__obj_task, (void *const *)batch,
			       np);
	for (unsigned i = posted; i < np; i++)
		rp__port_post(port, batch[i]);
}

/*
 * Take every due expiry, post them, and return in @want each clock's next
 * deadline (0: none).  The lock is held for RP_PORT_HOLD expiries at a
 * time, so that an arming thread (a worker re-arming from a callback, say)
 * never waits long enough to be taken for blocked; the expiries are
 * posted RP_PORT_BATCH at a time, so that a worker woken for them finds
 * them all.  Context: the event thread.
 */
static void run_due(struct rp_port *port, uint64_t want[RP_NCLOCKS])
{
	struct rp_obj **batch = port->batch;
	unsigned n = 0;
	bool more;

	do {
		unsigned limit = n + RP_PORT_HOLD < RP_PORT_BATCH ? n + RP_PORT_HOLD : RP_PORT_BATCH;

		pthread_mutex_lock(&port->lock);
		while (port->nretry && n < limit)
			batch[n++] = port->retry[--port->nretry];
		for (unsigned c = 0; c < RP_NCLOCKS; c++) {
			struct rp_timerset *ts = &port->timers[c];
			uint64_t now = rp__clock_now(c);
			struct rp_tentry *e;

			while (n < limit && (e = rp__timerset_first_due(ts)) && e->due <= now) {
				struct rp_obj *obj;

				rp__timerset_remove(ts, e);
				obj = e->expire(e, now);
				if (obj)
					batch[n++] = obj;
			}
			want[c] = port->next_deadline[c] = rp__timerset_next_deadline(ts);
		}
		pthread_mutex_unlock(&port->lock);
		/* A hold cut short by its limit: more may be due. */
		more = n == limit;
		if (n == RP_PORT_BATCH || !more) {
			rp__port_post_batch(port, batch, n);
			n = 0;
		}
	} while (more);
}

static void *event_main(void *arg)
{
	struct rp_port *port = arg;
	char name[16];

	snprintf(name, sizeof(name), "%s-ev", port->pool->name);
	pthread_setname_np(pthread_self(), name);
	/* Its waits time timers: no slack on top of the windows. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	if (port->ops->thread_init)
		port->ops->thread_init(port);
	while (!atomic_load(&port->stop)) {
		uint64_t want[RP_NCLOCKS];

		run_due(port, want);
		pthread_mutex_lock(&port->lock);
		if (port->nretry) {
			/* A failed post: look again soon. */
			uint64_t soon = rp__clock_now(RP_CLOCK_MONO) + RP_RETRY_NS;

			if (!want[RP_CLOCK_MONO] || soon < want[RP_CLOCK_MONO])
				want[RP_CLOCK_MONO] = soon;
		}
		pthread_mutex_unlock(&port->lock);
		for (unsigned c = 0; c < RP_NCLOCKS; c++) {
			if (want[c] == port->programmed[c])
				continue;
			port->ops->program(port, c, want[c]);
			port->programmed[c] = want[c];
		}
		if (atomic_load(&port->stop))
			break;
		port->ops->wait(port);
		atomic_fetch_add_explicit(&port->wakeups, 1, memory_order_relaxed);
		atomic_fetch_add(&port->passes, 1);
		if (atomic_load(&port->barrier_waiters))
			rp__futex_wake(&port->passes, INT_MAX);
	}
	return NULL;
}

static void port_free(struct rp_port *port)
{
	for (unsigned c = 0; c < RP_NCLOCKS; c++)
		rp__timerset_fini(&port->timers[c]);
	free(port->retry);
	pthread_mutex_destroy(&port->lock);
	if (port->doorbell >= 0)
		close(port->doorbell);
	free(port);
}

/* Make the port and start its event thread.  Context: pool->lock held. */
static int port_start(rp_pool *pool, struct rp_port **portp)
{
	struct rp_port *port = rp__calloc(RP_FAULT_ALLOC_PORT, 1, sizeof(*port));
	sigset_t all, old;
	int ret;

	if (!port)
		return -ENOMEM;
	port->pool = pool;
	pthread_mutex_init(&port->lock, NULL);
	port->doorbell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (port->doorbell < 0) {
		ret = -errno;
		goto fail;
	}
	/* The event ring where the pool's workers use io_uring; the epoll
	 * reactor where they do not, or where the ring cannot be made (the
	 * memlock budget spent, no descriptor, no timeout clocks). */
	ret = -ENOSYS;
	if (pool->ops == &rp__backend_uring && atomic_load(&pool->bk.uring)) {
		port->ops = &rp__port_uring;
		ret = port->ops->init(port);
	}
	if (ret) {
		port->ops = &rp__port_epoll;
		ret = port->ops->init(port);
	}
	if (ret)
		goto fail;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = rp__fault(RP_FAULT_THREAD_PORT);
	if (!ret)
		ret = pthread_create(&port->thread, NULL, event_main, port);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		port->ops->fini(port);
		ret = ret == ENOMEM ? -ENOMEM : -EAGAIN;
		goto fail;
	}
	*portp = port;
	return 0;
fail:
	port_free(port);
	return ret;
}

/*
 * The pool's port, made on first use: its event thread runs from the
 * pool's first object to its destroy.  The regulator, which starts
 * workers for the tasks the port posts, is started with it.
 * Return: 0, -ENOMEM, -EAGAIN (no thread), -EMFILE (no descriptor).
 */
int rp__port_get(rp_pool *pool, struct rp_port **portp)
{
	struct rp_port *port = atomic_load_explicit(&pool->port, memory_order_acquire);
	int ret = 0;

	if (rp_likely(port)) {
		*portp = port;
		return 0;
	}
	ret = rp__regulator_start(pool);
	if (ret)
		return ret;
	pthread_mutex_lock(&pool->lock);
	port = atomic_load_explicit(&pool->port, memory_order_relaxed);
	if (!port) {
		ret = port_start(pool, &port);
		/* Pairs with the acquire above: a thread that sees the port
		 * sees it whole. */
		if (!ret)
			atomic_store_explicit(&pool->port, port, memory_order_release);
	}
	pthread_mutex_unlock(&pool->lock);
	if (!ret)
		*portp = port;
	return ret;
}

/* Stop the event thread and free the port.  Context: rp_pool_destroy(),
 * every object closed. */
void rp__port_stop(rp_pool *pool)
{
	struct rp_port *port = atomic_load(&pool->port);

	if (!port)
		return;
	atomic_store(&port->stop, true);
	rp__port_kick(port);
	pthread_join(port->thread, NULL);
	/* Expiries of closed objects that never got posted. */
	while (port->nretry)
		rp__obj_put(port->retry[--port->nretry]);
	port->ops->fini(port);
	port_free(port);
	atomic_store(&pool->port, NULL);
}
