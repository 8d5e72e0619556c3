/* SPDX-License-Identifier: MIT */
/*
 * The completion port's portable kernel side: an epoll set holding the
 * doorbell (an eventfd) and one timerfd per clock, made when that clock
 * first has a timer.  A timerfd fires on the dot of its absolute time;
 * epoll's own timeout is not used for timing (it pays the 50 us timer
 * slack), except where a timerfd cannot be made (out of descriptors).
 *
 * A readiness poll is a registration of a duplicate of the caller's
 * descriptor (so several objects may watch one descriptor, and a cancel
 * closes what the kernel holds), with EPOLLONESHOT.  Its record (struct
 * reg) holds the object's reference; whoever removes the registration
 * (the event thread on its event, a cancel, a timeout) closes the
 * duplicate at once and hands the record to the event thread, which
 * frees it after the batch of events it is handling: an event collected
 * before the removal may still point at it.  A descriptor epoll cannot
 * watch (a regular file, which is always ready) completes at once, as
 * io_uring's poll does.  Futex waits are not this side's: the object
 * waits on a worker instead (watch.c).
 */
#include "internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

struct reg {
	struct rp_obj *obj;		/* a reference held for the request */
	struct rp_kop *op;		/* the object's request (op->reg is this) */
	uint32_t gen;
	int dupfd;			/* -1 once removed */
	int ready;			/* completed at arming: the result, else 0 */
	struct reg *next;		/* on ready or dead (T) */
};

struct epoll_port {
	int epfd;
	int tfd[RP_NCLOCKS];		/* -1 until the clock's first timer */
	uint64_t fallback[RP_NCLOCKS];	/* deadlines without a timerfd */
	struct reg *ready;		/* T: completed at arming, to deliver */
	struct reg *dead;		/* T: removed, to free after this batch */
};

#define DOORBELL RP_NCLOCKS		/* epoll data of the doorbell */

static int epoll_init(struct rp_port *port)
{
	struct epoll_port *ep = calloc(1, sizeof(*ep));
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = DOORBELL };

	if (!ep)
		return -ENOMEM;
	for (unsigned c = 0; c < RP_NCLOCKS; c++)
		ep->tfd[c] = -1;
	ep->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ep->epfd < 0 || epoll_ctl(ep->epfd, EPOLL_CTL_ADD, port->doorbell, &ev)) {
		int err = -errno;

		if (ep->epfd >= 0)
			close(ep->epfd);
		free(ep);
		return err;
	}
	port->impl = ep;
	return 0;
}

static void reg_free_list(struct reg *r)
{
	while (r) {
		struct reg *next = r->next;

		rp__obj_put(r->obj);
		free(r);
		r = next;
	}
}

static void epoll_fini(struct rp_port *port)
{
	struct epoll_port *ep = port->impl;

	reg_free_list(ep->dead);
	reg_free_list(ep->ready);
	for (unsigned c = 0; c < RP_NCLOCKS; c++)
		if (ep->tfd[c] >= 0)
			close(ep->tfd[c]);
	close(ep->epfd);
	free(ep);
	port->impl = NULL;
}

static int timerfd_for(struct epoll_port *ep, unsigned clock)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = clock };
	int fd;

	if (ep->tfd[clock] >= 0)
		return ep->tfd[clock];
	fd = timerfd_create(rp__clock_id(clock), TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return ep->tfd[clock] = fd;
}

static int epoll_program(struct rp_port *port, unsigned clock, uint64_t deadline)
{
	struct epoll_port *ep = port->impl;
	struct itimerspec its = { .it_value = rp__timespec(deadline) };
	int fd = deadline || ep->tfd[clock] >= 0 ? timerfd_for(ep, clock) : 0;

	if (fd < 0) {
		/* EMFILE: epoll's timeout serves, with its slack. */
		ep->fallback[clock] = deadline;
		return fd;
	}
	ep->fallback[clock] = 0;
	if (!fd)
		return 0;
	return timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) ? -errno : 0;
}

/* epoll's timeout, in ms, for deadlines that have no timerfd: -1 if none. */
static int fallback_timeout(struct epoll_port *ep)
{
	int ms = -1;

	for (unsigned c = 0; c < RP_NCLOCKS; c++) {
		uint64_t d = ep->fallback[c], now, left;
		int m;

		if (!d)
			continue;
		now = rp__clock_now(c);
		left = d <= now ? 0 : (d - now + 999999) / 1000000;
		m = left > 3600000 ? 3600000 : (int)left;
		if (ms < 0 || m < ms)
			ms = m;
	}
	return ms;
}

/* Take @r's registration out of the kernel and give it to the dead list.
 * Context: the port's lock held. */
static void reg_remove_locked(struct rp_port *port, struct reg *r)
{
	struct epoll_port *ep = port->impl;

	if (r->dupfd >= 0) {
		epoll_ctl(ep->epfd, EPOLL_CTL_DEL, r->dupfd, NULL);
		close(r->dupfd);
		r->dupfd = -1;
	}
	if (r->op->reg == r)
		r->op->reg = NULL;
	r->next = ep->dead;
	ep->dead = r;
}

/* A registration's event, or a completion at arming: to its object. */
static void reg_complete(struct rp_port *port, struct reg *r, int res)
{
	struct rp_obj *post = NULL;

	pthread_mutex_lock(&port->lock);
	if (r->op->reg == r) {
		reg_remove_locked(port, r);
		rp__port_complete_locked(port, r->obj, r->gen, res, &post);
	}
	pthread_mutex_unlock(&port->lock);
	if (post)
		rp__port_post(port, post);
}

static void epoll_wait_events(struct rp_port *port)
{
	struct epoll_port *ep = port->impl;
	struct epoll_event ev[32];
	struct reg *ready, *dead;
	int n = epoll_wait(ep->epfd, ev, 32, fallback_timeout(ep));

	for (int i = 0; i < n; i++) {
		uint64_t v;

		if (ev[i].data.u64 > DOORBELL) {
			reg_complete(port, ev[i].data.ptr, (int)ev[i].events);
			continue;
		}
		/* Reset the eventfd's count, or the timerfd's expirations. */
		if (ev[i].data.u32 == DOORBELL) {
			if (read(port->doorbell, &v, sizeof(v)) < 0) {
				/* EAGAIN: emptied already */
			}
		} else if (read(ep->tfd[ev[i].data.u32], &v, sizeof(v)) == sizeof(v)) {
			/* It fired: nothing is armed in the kernel for that
			 * clock now, so the loop programs the next deadline
			 * even if it is the same (as the event ring does).
			 * EAGAIN: re-armed since it fired. */
			port->programmed[ev[i].data.u32] = 0;
		}
	}
	pthread_mutex_lock(&port->lock);
	ready = ep->ready;
	ep->ready = NULL;
	pthread_mutex_unlock(&port->lock);
	while (ready) {
		struct reg *next = ready->next;

		reg_complete(port, ready, ready->ready);
		ready = next;
	}
	/* Every event of this batch is handled: no one holds a removed
	 * record any more. */
	pthread_mutex_lock(&port->lock);
	dead = ep->dead;
	ep->dead = NULL;
	pthread_mutex_unlock(&port->lock);
	reg_free_list(dead);
}

/* Context: the port's lock held. */
static int epoll_req_arm(struct rp_port *port, struct rp_obj *obj, uint32_t gen, struct rp_kop *op)
{
	struct epoll_port *ep = port->impl;
	struct epoll_event ev = { .events = op->events | EPOLLONESHOT };
	struct reg *r;

	if (op->kind != RP_KOP_POLL)
		return -EOPNOTSUPP;
	r = rp__calloc(RP_FAULT_ALLOC_REG, 1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->obj = obj;
	r->op = op;
	r->gen = gen;
	r->dupfd = fcntl(op->fd, F_DUPFD_CLOEXEC, 0);
	if (r->dupfd < 0) {
		int err = -errno;

		/* EMFILE: refused.  EBADF: the request fails, as io_uring's
		 * poll does, with a callback. */
		if (err != -EBADF) {
			free(r);
			return err;
		}
		r->ready = -EBADF;
	} else {
		ev.data.ptr = r;
		if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, r->dupfd, &ev)) {
			int err = errno;

			close(r->dupfd);
			r->dupfd = -1;
			if (err != EPERM) {
				free(r);
				return -err;
			}
			/* A regular file or directory: always ready. */
			r->ready = (int)(op->events & (EPOLLIN | EPOLLOUT | EPOLLRDNORM | EPOLLWRNORM));
		}
	}
	op->reg = r;
	if (r->ready) {
		r->next = ep->ready;
		ep->ready = r;
		rp__port_kick(port);
	}
	return 0;
}

/* The registration is removed at once: no completion of it will come. */
static bool epoll_req_abort(struct rp_port *port, struct rp_obj *obj, uint32_t gen,
			    struct rp_kop *op)
{
	struct epoll_port *ep = port->impl;
	struct reg *r = op->reg;

	(void)obj;
	(void)gen;
	if (!r)
		return true;
	if (r->ready) {
		/* Not delivered yet: off the ready list. */
		for (struct reg **p = &ep->ready; *p; p = &(*p)->next) {
			if (*p == r) {
				*p = r->next;
				break;
			}
		}
	}
	reg_remove_locked(port, r);
	return true;
}

static bool epoll_req_cancel(struct rp_port *port, struct rp_obj *obj, uint32_t gen,
			     struct rp_kop *op)
{
	pthread_mutex_lock(&port->lock);
	epoll_req_abort(port, obj, gen, op);
	pthread_mutex_unlock(&port->lock);
	return true;
}

const struct rp_port_ops rp__port_epoll = {
	.name = "epoll",
	.init = epoll_init,
	.fini = epoll_fini,
	.program = epoll_program,
	.wait = epoll_wait_events,
	.req_arm = epoll_req_arm,
	.req_cancel = epoll_req_cancel,
	.req_abort = epoll_req_abort,
};
