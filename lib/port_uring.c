/* SPDX-License-Identifier: MIT */
/*
 * The completion port's io_uring kernel side: the pool's event ring.
 *
 * Only the event thread submits to it and sleeps on it, so every request
 * belongs to a thread that runs no user code and never exits early, and
 * no herd of sleepers wakes on one completion.  Its requests today: a
 * POLL_ADD on the doorbell eventfd, re-armed after each ring, and one
 * absolute TIMEOUT per clock in use (IORING_TIMEOUT_ABS with the clock's
 * flag, Linux 5.15), replaced when the clock's deadline moves.  Each
 * timeout's user_data carries its clock and a generation, so the CQE of a
 * timeout since replaced is recognised and ignored.
 *
 * SQ 64, CQ 128 entries: 8 KiB of RLIMIT_MEMLOCK for an unprivileged user,
 * counted beside the worker rings (monitor.c keeps room for it).  Where
 * the ring cannot be made (io_uring refused or missing, the memlock
 * budget spent, no descriptor) or lacks the timeout clocks, the port
 * falls back to the epoll reactor: users see the same behaviour.
 */
#include "internal.h"

#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EV_SQ 64
#define UD_DOORBELL 1ull
#define UD_REMOVE 2ull
#define UD_TIMER (1ull << 63)	/* | clock << 32 | generation */

struct uring_port {
	struct io_uring ring;
	uint32_t gen[RP_NCLOCKS];		/* of the clock's current timeout */
	bool armed[RP_NCLOCKS];			/* a timeout is in the kernel */
	struct __kernel_timespec ts[RP_NCLOCKS]; /* read by the kernel until it ends */
};

static const unsigned clock_flags[RP_NCLOCKS] = { 0, IORING_TIMEOUT_BOOTTIME,
						  IORING_TIMEOUT_REALTIME };

static struct io_uring_sqe *sqe_get(struct uring_port *up)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&up->ring);

	if (!sqe) {
		io_uring_submit(&up->ring);
		sqe = io_uring_get_sqe(&up->ring);
	}
	return sqe;
}

static int arm_doorbell(struct rp_port *port, struct uring_port *up)
{
	struct io_uring_sqe *sqe = sqe_get(up);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, port->doorbell, POLLIN);
	sqe->user_data = UD_DOORBELL;
	return 0;
}

/* Does the kernel take absolute timeouts on every clock?  A BOOTTIME one
 * already past answers at once: -ETIME if so, -EINVAL if not (before
 * Linux 5.15).  Context: port init, the ring fresh. */
static int probe_clocks(struct uring_port *up)
{
	struct io_uring_sqe *sqe = sqe_get(up);
	struct io_uring_cqe *cqe;
	int ret;

	if (!sqe)
		return -EBUSY;
	up->ts[RP_CLOCK_BOOT] = (struct __kernel_timespec){ 0, 1 };
	io_uring_prep_timeout(sqe, &up->ts[RP_CLOCK_BOOT], 0,
			      IORING_TIMEOUT_ABS | IORING_TIMEOUT_BOOTTIME);
	sqe->user_data = UD_REMOVE;
	ret = io_uring_submit_and_wait(&up->ring, 1);
	if (ret < 0)
		return ret;
	ret = io_uring_wait_cqe(&up->ring, &cqe);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&up->ring, cqe);
	return ret == -ETIME ? 0 : -ENOSYS;
}

static int uring_init(struct rp_port *port)
{
	struct uring_port *up = calloc(1, sizeof(*up));
	int ret;

	if (!up)
		return -ENOMEM;
	ret = rp__fault(RP_FAULT_RING_SETUP);
	ret = ret ? -ret : io_uring_queue_init(EV_SQ, &up->ring, IORING_SETUP_COOP_TASKRUN);
	if (ret == -EINVAL) /* COOP_TASKRUN is Linux 5.19 */
		ret = io_uring_queue_init(EV_SQ, &up->ring, 0);
	if (ret < 0) {
		free(up);
		return ret;
	}
	ret = probe_clocks(up);
	if (!ret)
		ret = arm_doorbell(port, up);
	if (ret) {
		io_uring_queue_exit(&up->ring);
		free(up);
		return ret;
	}
	port->impl = up;
	return 0;
}

static void uring_fini(struct rp_port *port)
{
	struct uring_port *up = port->impl;

	io_uring_queue_exit(&up->ring);
	free(up);
	port->impl = NULL;
}

/* Replace @clock's timeout: remove the one in the kernel, if any, and
 * arm one for @deadline, if any.  Submitted by the next wait. */
static int uring_program(struct rp_port *port, unsigned clock, uint64_t deadline)
{
	struct uring_port *up = port->impl;
	struct io_uring_sqe *sqe;

	if (up->armed[clock]) {
		sqe = sqe_get(up);
		if (!sqe)
			return -EBUSY;
		io_uring_prep_timeout_remove(sqe, UD_TIMER | (uint64_t)clock << 32 | up->gen[clock],
					     0);
		sqe->user_data = UD_REMOVE;
		up->armed[clock] = false;
	}
	if (!deadline)
		return 0;
	sqe = sqe_get(up);
	if (!sqe)
		return -EBUSY;
	up->gen[clock]++;
	up->ts[clock].tv_sec = (long long)(deadline / 1000000000u);
	up->ts[clock].tv_nsec = (long long)(deadline % 1000000000u);
	io_uring_prep_timeout(sqe, &up->ts[clock], 0, IORING_TIMEOUT_ABS | clock_flags[clock]);
	sqe->user_data = UD_TIMER | (uint64_t)clock << 32 | up->gen[clock];
	up->armed[clock] = true;
	return 0;
}

/* Submit what was prepared and sleep until a completion: the doorbell
 * rang (re-arm it, and empty the eventfd), or a timeout expired. */
static void uring_wait(struct rp_port *port)
{
	struct uring_port *up = port->impl;
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	bool doorbell = false;

	io_uring_submit_and_wait(&up->ring, 1);
	io_uring_for_each_cqe(&up->ring, head, cqe) {
		uint64_t ud = cqe->user_data;

		n++;
		if (ud == UD_DOORBELL) {
			doorbell = true;
		} else if (ud & UD_TIMER) {
			unsigned clock = (unsigned)(ud >> 32) & 0x7fffffffu;

			/* The current timeout has ended (expired, or gone
			 * with a removal we asked for). */
			if (clock < RP_NCLOCKS && (uint32_t)ud == up->gen[clock])
				up->armed[clock] = false;
		}
	}
	io_uring_cq_advance(&up->ring, n);
	if (doorbell) {
		uint64_t v;

		if (read(port->doorbell, &v, sizeof(v)) < 0) {
			/* EAGAIN: emptied already */
		}
		arm_doorbell(port, up);
	}
	/* The event thread programs from its timer sets before it waits
	 * again, and re-arms a clock whose timeout ended. */
	for (unsigned c = 0; c < RP_NCLOCKS; c++)
		if (!up->armed[c])
			port->programmed[c] = 0;
}

const struct rp_port_ops rp__port_uring = {
	.name = "uring",
	.init = uring_init,
	.fini = uring_fini,
	.program = uring_program,
	.wait = uring_wait,
};
