/* SPDX-License-Identifier: MIT */
/*
 * Watches: a callback when a descriptor is ready, a futex word changes (or
 * is woken), or a process exits, with an optional timeout, on the pool's
 * completion port (port.h).
 *
 * Each arming has a generation.  Its kernel request (a readiness poll, or
 * an io_uring FUTEX_WAIT) carries it, so a completion of an arming since
 * cancelled or replaced is recognised and dropped.  A completion, or the
 * timeout, gives the watch a result; one task of the watch at a time
 * delivers results (the callback), so callbacks never overlap, and a
 * repeating watch is re-armed when its callback returns.  A process watch
 * polls a pidfd for readability (the child has exited) and reaps it with
 * waitid() in the delivering task.
 *
 * A futex wait where the port's kernel side cannot take one (the epoll
 * reactor, or io_uring before Linux 6.7) waits on a worker instead: the
 * watch's task sleeps in futex_waitv() on the word and on a cancel word of
 * its own, inside a hinted block, so it holds a thread but no slot.
 *
 * Cancel is synchronous: the request is taken back before cancel returns,
 * so the kernel holds no reference to the descriptor any more (io_uring:
 * IORING_REGISTER_SYNC_CANCEL; epoll: the registered duplicate is closed).
 *
 * State (the port's lock): the arming (gen, armed, kreq, op, timeout), the
 * result not yet delivered (have, result), and the task (task: one is
 * queued or running; running: its callback is in progress).
 */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef FUTEX2_SIZE_U32
#define FUTEX2_SIZE_U32 0x02
#endif
#ifndef FUTEX2_PRIVATE
#define FUTEX2_PRIVATE FUTEX_PRIVATE_FLAG
#endif

enum watch_kind { WK_FD, WK_FUTEX, WK_PID };

#define POLL_EVENTS (POLLIN | POLLPRI | POLLOUT | POLLRDNORM | POLLRDBAND | POLLWRNORM | \
		     POLLWRBAND | POLLRDHUP | POLLERR | POLLHUP)

struct rp_watch {
	struct rp_obj obj;            /* the common header */
	rp_event_fn *fn;              /* I */
	void *arg;                    /* I */
	struct rp_port *port;         /* I */
	/* T: the port's lock */
	uint32_t gen;                 /* the current arming */
	bool armed;                   /* it waits for its event */
	bool kreq;                    /* a kernel request of it is started (op) */
	bool on_worker;               /* a futex wait the task does itself */
	bool repeat;                  /* re-arm after each callback */
	enum watch_kind kind;
	struct rp_kop op;
	int pidfd;                    /* WK_PID: -1 if none */
	bool own_pidfd, noreap;       /* WK_PID */
	uint64_t timeout_ns;          /* RP_INFINITE: none */
	struct rp_tentry te;          /* the timeout */
	uint64_t deadline;            /* a worker futex wait's timeout (0: none) */
	bool have;                    /* a result to deliver */
	int result;
	int res_pidfd;                /* WK_PID: the pidfd the result is about, or -1 */
	bool res_own;                 /* ...ours to close once reaped */
	bool task, running;           /* a task queued or running; its callback running */
	_Atomic uint32_t cancel_word; /* A: worker futex waits also wait on it */
	_Atomic uint32_t seq;         /* A: futex word, bumped when it goes quiet */
	_Atomic unsigned waiters;     /* A */
};

#define watch_of(o) ((rp_watch *)(o))

static int usable(const rp_watch *w)
{
	if (!w || !rp__obj_armable(&w->obj))
		return -EINVAL;
	return rp__pool_valid(w->obj.pool) ? 0 : -ECHILD;
}

/* Nothing queued or running any more: wake rp_watch_wait().
 * Context: the port's lock held. */
static void quiet_locked(rp_watch *w)
{
	if (w->running || w->have)
		return;
	atomic_fetch_add(&w->seq, 1);
	if (atomic_load(&w->waiters))
		rp__futex_wake(&w->seq, INT_MAX);
}

/* Make sure a task of @w will look at it.  Return: the object to post
 * (a reference taken), or NULL if one is queued or running already.
 * Context: the port's lock held. */
static struct rp_obj *task_locked(rp_watch *w)
{
	if (w->task)
		return NULL;
	w->task = true;
	rp__obj_get(&w->obj);
	return &w->obj;
}

/* The arming got its result: keep it for the task.  Context: the port's
 * lock held.  Return: as task_locked(). */
static struct rp_obj *deliver_locked(rp_watch *w, int res)
{
	w->armed = false;
	w->kreq = false;
	rp__timerset_remove(&w->port->timers[RP_CLOCK_MONO], &w->te);
	w->have = true;
	w->result = res;
	/* A process watch's pidfd goes with its result: the task reaps
	 * through it, then closes it if it is ours. */
	w->res_pidfd = w->kind == WK_PID ? w->pidfd : -1;
	w->res_own = w->kind == WK_PID && w->own_pidfd;
	if (w->res_own)
		w->pidfd = -1;
	return task_locked(w);
}

/* The kernel side: the request of arming @gen completed. */
static struct rp_obj *watch_complete(struct rp_obj *o, uint32_t gen, int res)
{
	rp_watch *w = watch_of(o);

	if (!w->armed || !w->kreq || (w->gen & RP_GEN_MASK) != gen)
		return NULL; /* cancelled or replaced since */
	/* A futex word that did not hold the value: as a wake-up. */
	if (w->kind == WK_FUTEX && res == -EAGAIN)
		res = 0;
	return deliver_locked(w, res);
}

/* The timeout (the event thread, the port's lock held). */
static struct rp_obj *watch_expire(struct rp_tentry *e, uint64_t now)
{
	rp_watch *w = (rp_watch *)((char *)e - offsetof(rp_watch, te));

	(void)now;
	if (!w->armed)
		return NULL;
	if (w->kreq)
		w->port->ops->req_abort(w->port, &w->obj, w->gen & RP_GEN_MASK, &w->op);
	return deliver_locked(w, -ETIMEDOUT);
}

/*
 * Start the arming described by @w's fields (kind, op, timeout): a kernel
 * request, or, for a futex wait the kernel side cannot take, the task's
 * own wait.  Context: the port's lock held, the timer set reserved.
 * Return: 0 (*@post: an object to post after unlocking, or NULL; *@kick:
 * the doorbell must ring), or a negative errno, with nothing started.
 */
static int start_locked(rp_watch *w, struct rp_obj **post, bool *kick)
{
	int ret;

	w->gen++;
	w->on_worker = false;
	if (!(w->kind == WK_FUTEX && !w->port->futex_ok)) {
		rp__obj_get(&w->obj); /* the request's */
		ret = w->port->ops->req_arm(w->port, &w->obj, w->gen & RP_GEN_MASK, &w->op);
		if (ret) {
			rp__obj_put(&w->obj);
			return ret;
		}
		w->kreq = true;
	} else {
		w->on_worker = true;
		*post = task_locked(w);
	}
	w->armed = true;
	w->deadline = 0;
	if (w->timeout_ns != RP_INFINITE) {
		uint64_t now = rp__clock_now(RP_CLOCK_MONO);

		w->deadline = w->timeout_ns > UINT64_MAX - now ? UINT64_MAX : now + w->timeout_ns;
		if (!w->on_worker) {
			w->te.due = w->deadline;
			w->te.window = 0;
			w->te.clock = RP_CLOCK_MONO;
			*kick = rp__port_arm_locked(w->port, &w->te);
		}
	}
	return 0;
}

/*
 * Take back the current arming and any result not yet delivered.
 * Return: 1 if there was either.  The kernel request, if one is started,
 * is cancelled by disarm_end() after unlocking (synchronously).
 * Context: the port's lock held.
 */
struct disarm {
	bool cancel;
	uint32_t gen;
	int close_fd;
};

static int disarm_locked(rp_watch *w, struct disarm *d)
{
	int had = w->armed || w->have;

	d->cancel = w->armed && w->kreq;
	d->gen = w->gen & RP_GEN_MASK;
	d->close_fd = -1;
	if (w->armed && w->on_worker) {
		/* Wake the task out of its futex wait. */
		atomic_fetch_add(&w->cancel_word, 1);
		rp__futex_wake(&w->cancel_word, INT_MAX);
	}
	rp__timerset_remove(&w->port->timers[RP_CLOCK_MONO], &w->te);
	w->armed = w->kreq = w->on_worker = false;
	w->repeat = false;
	if (w->have && w->res_own) {
		/* A result dropped: nobody will reap through its pidfd. */
		d->close_fd = w->res_pidfd;
		w->res_pidfd = -1;
		w->res_own = false;
	}
	w->have = false;
	w->gen++;
	quiet_locked(w);
	return had;
}

static void disarm_end(rp_watch *w, struct disarm *d)
{
	if (d->cancel)
		w->port->ops->req_cancel(w->port, &w->obj, d->gen, &w->op);
	if (d->close_fd >= 0)
		close(d->close_fd);
}

/* Close the pidfd of the arming that ended, if it is ours.  Context: the
 * port's lock held; returns the descriptor to close after unlocking. */
static int drop_pidfd_locked(rp_watch *w)
{
	int fd = -1;

	if (w->kind == WK_PID && w->own_pidfd && w->pidfd >= 0) {
		fd = w->pidfd;
		w->pidfd = -1;
	}
	return fd;
}

/* A process watch's result: reap (or look at) the child. */
static int pid_result(rp_watch *w, int res, int pidfd)
{
	siginfo_t si;

	if (res < 0)
		return res;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG | (w->noreap ? WNOWAIT : 0)))
		return -errno;
	switch (si.si_code) {
	case CLD_EXITED:
		return (si.si_status & 0xff) << 8;
	case CLD_KILLED:
		return si.si_status & 0x7f;
	case CLD_DUMPED:
		return (si.si_status & 0x7f) | 0x80;
	default:
		return -ECHILD; /* not a child of this process */
	}
}

/* The worker futex wait: the word and the cancel word, until @deadline
 * (CLOCK_MONOTONIC ns; 0: none).  Return: 0 (woken, or the word differs),
 * -ETIMEDOUT, -ECANCELED (cancelled), -EINTR (again), or -errno. */
static int futex_wait_task(rp_watch *w, uint32_t cw, uint64_t deadline)
{
	struct futex_waitv v[2] = {
		{ .val = w->op.val, .uaddr = (uint64_t)(uintptr_t)w->op.word,
		  .flags = FUTEX2_SIZE_U32 | (w->op.shared ? 0 : FUTEX2_PRIVATE) },
		{ .val = cw, .uaddr = (uint64_t)(uintptr_t)&w->cancel_word,
		  .flags = FUTEX2_SIZE_U32 | FUTEX2_PRIVATE },
	};
	struct timespec ts = rp__timespec(deadline);
	long r;

	rp_blocking_begin();
	r = syscall(SYS_futex_waitv, v, 2, 0, deadline ? &ts : NULL, CLOCK_MONOTONIC);
	rp_blocking_end();
	/* EAGAIN says that one of the words differs: which one matters. */
	if (atomic_load(&w->cancel_word) != cw)
		return -ECANCELED;
	if (r >= 0 || errno == EAGAIN)
		return 0;
	return -errno;
}

/*
 * The watch's task (a worker): deliver results, one callback at a time;
 * re-arm a repeating watch after its callback; and do a worker futex
 * wait.  It runs until nothing is left for it.
 */
static bool watch_run(struct rp_obj *o)
{
	rp_watch *w = watch_of(o);
	struct rp_port *port = w->port;
	bool ran = false;

	pthread_mutex_lock(&port->lock);
	for (;;) {
		if (w->have) {
			int res = w->result, pfd = w->res_pidfd, close_fd = -1;
			bool own = w->res_own, kick = false;
			struct rp_obj *post = NULL;
			uint32_t gen;

			w->have = false;
			w->res_pidfd = -1;
			w->res_own = false;
			w->running = true;
			gen = w->gen;
			pthread_mutex_unlock(&port->lock);

			if (pfd >= 0) {
				res = pid_result(w, res, pfd);
				if (own)
					close(pfd);
			}
			rp__obj_callback_begin(o);
			w->fn(w->arg, res);
			rp__obj_callback_end(o);
			ran = true;

			pthread_mutex_lock(&port->lock);
			w->running = false;
			/* Re-arm a repeating watch, unless its callback armed
			 * or cancelled it, or closed it. */
			if (w->repeat && w->gen == gen && !w->armed && rp__obj_armable(o)) {
				int ret = rp__timerset_reserve(&port->timers[RP_CLOCK_MONO], 0);

				if (!ret)
					ret = start_locked(w, &post, &kick);
				if (ret) {
					w->have = true; /* the error, to the callback */
					w->result = ret;
					w->repeat = false;
				}
			}
			close_fd = w->armed ? -1 : drop_pidfd_locked(w);
			quiet_locked(w);
			/* A re-arming here queues no task: this one goes on. */
			(void)post;
			if (kick || close_fd >= 0) {
				pthread_mutex_unlock(&port->lock);
				if (kick)
					rp__port_kick(port);
				if (close_fd >= 0)
					close(close_fd);
				pthread_mutex_lock(&port->lock);
			}
			continue;
		}
		if (w->armed && w->on_worker) {
			uint32_t gen = w->gen, cw = atomic_load(&w->cancel_word);
			uint64_t deadline = w->deadline;
			int res;

			pthread_mutex_unlock(&port->lock);
			res = futex_wait_task(w, cw, deadline);
			pthread_mutex_lock(&port->lock);
			if (w->gen == gen && w->armed && res != -ECANCELED && res != -EINTR) {
				w->armed = w->on_worker = false;
				w->have = true;
				w->result = res;
			}
			continue;
		}
		break;
	}
	w->task = false;
	quiet_locked(w);
	pthread_mutex_unlock(&port->lock);
	rp__obj_put(o);
	return ran;
}

static void watch_abandon(struct rp_obj *o)
{
	rp_watch *w = watch_of(o);

	pthread_mutex_lock(&w->port->lock);
	w->running = false;
	w->task = false;
	quiet_locked(w);
	pthread_mutex_unlock(&w->port->lock);
	rp__obj_put(o);
}

static void watch_free(struct rp_obj *o)
{
	rp_watch *w = watch_of(o);

	if (w->own_pidfd && w->pidfd >= 0)
		close(w->pidfd);
	if (w->res_own && w->res_pidfd >= 0)
		close(w->res_pidfd);
	free(o);
}

static bool watch_stop(struct rp_obj *o, bool drop);
static void watch_quiesce(struct rp_obj *o);
static void watch_close(struct rp_obj *o);

static const struct rp_obj_ops watch_ops = {
	.run = watch_run,
	.abandon = watch_abandon,
	.free = watch_free,
	.complete = watch_complete,
	.stop = watch_stop,
	.quiesce = watch_quiesce,
	.close = watch_close,
};

RP_EXPORT int rp_watch_create(rp_watch **wp, rp_pool *pool, rp_event_fn *fn, void *arg,
			      const struct rp_env *env)
{
	struct rp_port *port;
	struct rp_obj *o;
	rp_watch *w;
	int ret;

	if (!wp || !fn)
		return -EINVAL;
	ret = rp__obj_new(&o, sizeof(*w), RP_FAULT_ALLOC_WATCH, &watch_ops, RP_OBJ_WATCH, pool, env, arg,
			  &port);
	if (ret)
		return ret;
	w = (rp_watch *)o;
	w->fn = fn;
	w->arg = arg;
	w->port = port;
	w->pidfd = w->res_pidfd = -1;
	w->te.expire = watch_expire;
	w->te.idx = UINT32_MAX;
	rp__obj_publish(&w->obj);
	*wp = w;
	return 0;
}

/*
 * Arm @w with what @set fills in (under the lock, after the old arming is
 * taken back): replaces an arming in progress.  @pidfd/@own: a process
 * watch's descriptor, closed here on failure if ours.
 * Return: 0 or a negative errno (nothing armed).
 */
static int arm(rp_watch *w, enum watch_kind kind, const struct rp_kop *op, uint64_t timeout_ns,
	       unsigned flags, int pidfd, bool own)
{
	struct rp_port *port = w->port;
	struct rp_obj *post = NULL;
	struct disarm d;
	bool kick = false;
	int ret, close_fd;

	pthread_mutex_lock(&port->lock);
	if (rp__timerset_reserve(&port->timers[RP_CLOCK_MONO], 0)) {
		pthread_mutex_unlock(&port->lock);
		ret = -ENOMEM;
		goto fail;
	}
	disarm_locked(w, &d);
	close_fd = drop_pidfd_locked(w);
	pthread_mutex_unlock(&port->lock);
	disarm_end(w, &d);
	if (close_fd >= 0)
		close(close_fd);

	pthread_mutex_lock(&port->lock);
	w->kind = kind;
	w->op = *op;
	w->op.reg = NULL;
	w->timeout_ns = timeout_ns;
	w->repeat = flags & RP_WATCH_REPEAT;
	w->noreap = flags & RP_WATCH_NOREAP;
	w->pidfd = pidfd;
	w->own_pidfd = own;
	ret = start_locked(w, &post, &kick);
	if (ret) {
		w->pidfd = -1;
		w->repeat = false;
	}
	pthread_mutex_unlock(&port->lock);
	if (kick)
		rp__port_kick(port);
	if (post)
		rp__port_post(port, post);
	if (!ret)
		return 0;
fail:
	if (own && pidfd >= 0)
		close(pidfd);
	return ret;
}

RP_EXPORT int rp_watch_fd(rp_watch *w, int fd, unsigned events, uint64_t timeout_ns,
			  unsigned flags)
{
	struct rp_kop op = { .kind = RP_KOP_POLL, .fd = fd, .events = events };
	int ret = usable(w);

	if (ret)
		return ret;
	if (fd < 0 || (events & ~(unsigned)POLL_EVENTS) || (flags & ~RP_WATCH_REPEAT))
		return -EINVAL;
	return arm(w, WK_FD, &op, timeout_ns, flags, -1, false);
}

RP_EXPORT int rp_watch_futex(rp_watch *w, const uint32_t *word, uint32_t val, uint64_t timeout_ns,
			     unsigned flags)
{
	struct rp_kop op = { .kind = RP_KOP_FUTEX, .word = word, .val = val,
			     .shared = flags & RP_WATCH_SHARED };
	int ret = usable(w);

	if (ret)
		return ret;
	if (!word || ((uintptr_t)word & 3) || (flags & ~(RP_WATCH_REPEAT | RP_WATCH_SHARED)))
		return -EINVAL;
	return arm(w, WK_FUTEX, &op, timeout_ns, flags, -1, false);
}

RP_EXPORT int rp_watch_pid(rp_watch *w, int id, uint64_t timeout_ns, unsigned flags)
{
	struct rp_kop op = { .kind = RP_KOP_POLL, .events = POLLIN };
	int ret = usable(w), pidfd;

	if (ret)
		return ret;
	if (id <= 0 && !(flags & RP_WATCH_PIDFD))
		return -EINVAL;
	if (id < 0 || (flags & ~(RP_WATCH_PIDFD | RP_WATCH_NOREAP)))
		return -EINVAL;
	if (flags & RP_WATCH_PIDFD) {
		pidfd = id;
	} else {
		pidfd = (int)syscall(SYS_pidfd_open, (pid_t)id, 0);
		if (pidfd < 0)
			return -errno;
		/* The watch's own: close-on-exec, like every descriptor of
		 * the pool's. */
		fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	}
	op.fd = pidfd;
	return arm(w, WK_PID, &op, timeout_ns, flags, pidfd, !(flags & RP_WATCH_PIDFD));
}

RP_EXPORT int rp_watch_cancel(rp_watch *w)
{
	struct disarm d;
	int ret = usable(w), close_fd;

	if (ret)
		return ret;
	pthread_mutex_lock(&w->port->lock);
	ret = disarm_locked(w, &d);
	close_fd = drop_pidfd_locked(w);
	pthread_mutex_unlock(&w->port->lock);
	disarm_end(w, &d);
	if (close_fd >= 0)
		close(close_fd);
	return ret;
}

RP_EXPORT int rp_watch_wait(rp_watch *w, bool cancel_pending)
{
	struct rp_worker *self = rp__self;
	bool blocked = false;

	if (!w)
		return -EINVAL;
	if (self && self->cur_obj == &w->obj)
		return -EDEADLK;
	if (!rp__pool_valid(w->obj.pool))
		return -ECHILD;
	if (cancel_pending && !rp__obj_closed(&w->obj))
		rp_watch_cancel(w);
	atomic_fetch_add(&w->waiters, 1);
	for (;;) {
		uint32_t s;
		bool quiet;

		pthread_mutex_lock(&w->port->lock);
		quiet = !w->running && !w->have;
		s = atomic_load(&w->seq);
		pthread_mutex_unlock(&w->port->lock);
		if (quiet)
			break;
		if (self && !blocked) {
			rp__block_begin(self);
			blocked = true;
		}
		rp__futex_wait(&w->seq, s, NULL);
	}
	atomic_fetch_sub(&w->waiters, 1);
	if (blocked)
		rp__block_end(self);
	return 0;
}

RP_EXPORT int rp_watch_close(rp_watch *w)
{
	struct disarm d;
	rp_pool *pool;
	int close_fd;

	if (!w)
		return -EINVAL;
	pool = w->obj.pool;
	pthread_mutex_lock(&w->port->lock);
	disarm_locked(w, &d);
	close_fd = drop_pidfd_locked(w);
	pthread_mutex_unlock(&w->port->lock);
	disarm_end(w, &d);
	if (close_fd >= 0)
		close(close_fd);
	if (!rp__obj_close(&w->obj))
		return -EINVAL;
	/* @w may be gone: its pool is not. */
	atomic_fetch_sub(&pool->nobjects, 1);
	return 0;
}

/* Cleanup groups: take back the arming; with @drop, also a result not yet
 * delivered (as rp_watch_cancel()). */
static bool watch_stop(struct rp_obj *o, bool drop)
{
	rp_watch *w = watch_of(o);
	struct disarm d = { .close_fd = -1 };
	bool armed;
	int close_fd;

	if (drop) {
		int had;

		pthread_mutex_lock(&w->port->lock);
		had = disarm_locked(w, &d);
		close_fd = drop_pidfd_locked(w);
		pthread_mutex_unlock(&w->port->lock);
		disarm_end(w, &d);
		if (close_fd >= 0)
			close(close_fd);
		return had;
	}
	pthread_mutex_lock(&w->port->lock);
	armed = w->armed;
	if (armed) {
		d.cancel = w->kreq;
		d.gen = w->gen & RP_GEN_MASK;
		if (w->on_worker) {
			atomic_fetch_add(&w->cancel_word, 1);
			rp__futex_wake(&w->cancel_word, INT_MAX);
		}
		rp__timerset_remove(&w->port->timers[RP_CLOCK_MONO], &w->te);
		w->armed = w->kreq = w->on_worker = false;
		w->gen++;
	}
	w->repeat = false;
	close_fd = drop_pidfd_locked(w);
	quiet_locked(w);
	pthread_mutex_unlock(&w->port->lock);
	disarm_end(w, &d);
	if (close_fd >= 0)
		close(close_fd);
	return armed;
}

static void watch_quiesce(struct rp_obj *o)
{
	rp_watch_wait(watch_of(o), false);
}

static void watch_close(struct rp_obj *o)
{
	rp_watch_close(watch_of(o));
}
