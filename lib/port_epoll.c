/* SPDX-License-Identifier: MIT */
/*
 * The completion port's portable kernel side: an epoll set holding the
 * doorbell (an eventfd) and one timerfd per clock, made when that clock
 * first has a timer.  A timerfd fires on the dot of its absolute time;
 * epoll's own timeout is not used for timing (it pays the 50 us timer
 * slack), except where a timerfd cannot be made (out of descriptors).
 */
#include "internal.h"

#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

struct epoll_port {
	int epfd;
	int tfd[RP_NCLOCKS];		/* -1 until the clock's first timer */
	uint64_t fallback[RP_NCLOCKS];	/* deadlines without a timerfd */
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

static void epoll_fini(struct rp_port *port)
{
	struct epoll_port *ep = port->impl;

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

static void epoll_wait_events(struct rp_port *port)
{
	struct epoll_port *ep = port->impl;
	struct epoll_event ev[RP_NCLOCKS + 1];
	int n = epoll_wait(ep->epfd, ev, RP_NCLOCKS + 1, fallback_timeout(ep));

	for (int i = 0; i < n; i++) {
		uint64_t v;
		int fd = ev[i].data.u32 == DOORBELL ? port->doorbell : ep->tfd[ev[i].data.u32];

		/* Reset the eventfd's count, or the timerfd's expirations. */
		if (read(fd, &v, sizeof(v)) < 0) {
			/* EAGAIN: a timerfd re-armed since it fired. */
		}
	}
}

const struct rp_port_ops rp__port_epoll = {
	.name = "epoll",
	.init = epoll_init,
	.fini = epoll_fini,
	.program = epoll_program,
	.wait = epoll_wait_events,
};
