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
 * Objects' requests (a watch's POLL_ADD or FUTEX_WAIT, Linux 6.7) are
 * handed to the event thread on a list under the port's lock; it prepares
 * and submits them under that lock, so a cancel either takes a request off
 * the list before it reaches the kernel or finds it there and cancels it
 * synchronously from its own thread (IORING_REGISTER_SYNC_CANCEL, Linux
 * 6.0), then waits for the event thread to pass through the kernel once,
 * which runs the task_work that frees the request: only then does the
 * kernel hold nothing of it (its file, say).  A
 * request's user_data is its object's address with the arming's
 * generation in the top bits; the object holds a reference until the CQE
 * is reaped, so a stale CQE never touches freed memory.
 *
 * SQ 64, CQ 128 entries: 8 KiB of RLIMIT_MEMLOCK for an unprivileged user,
 * counted beside the worker rings (monitor.c keeps room for it).  Where
 * the ring cannot be made (io_uring refused or missing, the memlock
 * budget spent, no descriptor) or lacks the timeout clocks, the port
 * falls back to the epoll reactor: users see the same behaviour.
 */
#include "internal.h"

#include <limits.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EV_SQ 64
#define UD_DOORBELL 1ull
#define UD_REMOVE 2ull
#define UD_TIMER (1ull << 63)	/* | clock << 32 | generation */
#define UD_ADDR ((1ull << 48) - 1)	/* an object's request: address | gen << 48 */
#define OP_FUTEX_WAIT 51	/* Linux 6.7; liburing 2.3 has no helper */
#define FUTEX2_SIZE_U32 0x02
#define FUTEX2_PRIVATE 128

struct sub {
	struct rp_obj *obj;
	uint32_t gen;
	struct rp_kop *op;
};

#define EV_CQ (2 * EV_SQ)	/* the kernel's default CQ size */

struct done {
	uint64_t ud;
	int res;
};

struct uring_port {
	struct io_uring ring;
	struct done done[EV_CQ];		/* E: completions reaped, to hand over */
	pthread_mutex_t subs_lock;		/* the S lock, innermost: subs, submitting */
	struct sub *subs;			/* S: requests for the event thread to submit */
	unsigned nsubs, subs_cap;		/* S */
	bool submitting;			/* S: the event thread took requests (fl) and
						 * has not submitted them all yet */
	_Atomic bool subs_added;		/* A: set with each, under S */
	_Atomic uint32_t submitted;		/* A: futex word, bumped when submitting ends */
	_Atomic unsigned sub_waiters;		/* A */
	struct sub *fl;				/* E: taken from subs, being submitted */
	unsigned nfl, flpos, fl_cap;		/* E */
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

static uint64_t req_ud(struct rp_obj *obj, uint32_t gen)
{
	return (uint64_t)(uintptr_t)obj | (uint64_t)(gen & RP_GEN_MASK) << 48;
}

/* Can a thread other than the submitter cancel a request and wait for it?
 * (IORING_REGISTER_SYNC_CANCEL, Linux 6.0: -ENOENT for a request that is
 * not there.)  It also answers for the timeout clocks (IORING_TIMEOUT_ABS
 * with BOOTTIME and REALTIME, Linux 5.15), which an older probe tested by
 * submitting a timeout: the creating thread must not submit (see
 * uring_thread_init()). */
static bool probe_sync_cancel(struct uring_port *up)
{
	struct io_uring_sync_cancel_reg reg = { .addr = UD_REMOVE, .fd = -1,
						.timeout = { -1, -1 } };

	return io_uring_register_sync_cancel(&up->ring, &reg) == -ENOENT;
}

static bool probe_futex(struct uring_port *up)
{
	struct io_uring_probe *probe = io_uring_get_probe_ring(&up->ring);
	bool ok = probe && io_uring_opcode_supported(probe, OP_FUTEX_WAIT);

	free(probe);
	return ok;
}

/*
 * io-wq, the kernel's workers for what io_uring cannot do without blocking
 * (a file operation the filesystem cannot do asynchronously, fsync,
 * openat, statx), run outside the pool's regulation on behalf of the
 * submitter, the event thread.  Bound them: 2 x concurrency for regular
 * files and block devices (enough to keep a disk's queue busy behind C
 * running callbacks), concurrency for the rest.  The kernel applies the
 * bound to the caller's io-wq and to every thread that has submitted to
 * this ring, so it is set by the event thread, and no other thread ever
 * submits to the ring (the probes in uring_init() only register).
 * Best effort: before Linux 5.15 the kernel's default stands (the SQ
 * size, 4 x CPUs, RLIMIT_NPROC).
 */
static void uring_thread_init(struct rp_port *port)
{
	struct uring_port *up = port->impl;
	unsigned c = port->pool->concurrency;
	unsigned v[2] = { 2 * c, c };

	io_uring_register_iowq_max_workers(&up->ring, v);
}

static int uring_init(struct rp_port *port)
{
	struct uring_port *up = calloc(1, sizeof(*up));
	int ret;

	if (!up)
		return -ENOMEM;
	pthread_mutex_init(&up->subs_lock, NULL);
	ret = rp__fault(RP_FAULT_RING_SETUP);
	ret = ret ? -ret : io_uring_queue_init(EV_SQ, &up->ring, IORING_SETUP_COOP_TASKRUN);
	if (ret == -EINVAL) /* COOP_TASKRUN is Linux 5.19 */
		ret = io_uring_queue_init(EV_SQ, &up->ring, 0);
	if (ret < 0) {
		pthread_mutex_destroy(&up->subs_lock);
		free(up);
		return ret;
	}
	if (!probe_sync_cancel(up))
		ret = -ENOSYS;
	if (!ret)
		ret = arm_doorbell(port, up);
	if (ret) {
		io_uring_queue_exit(&up->ring);
		pthread_mutex_destroy(&up->subs_lock);
		free(up);
		return ret;
	}
	port->futex_ok = probe_futex(up);
	port->sqe_ok = true;
	port->impl = up;
	return 0;
}

static void uring_fini(struct rp_port *port)
{
	struct uring_port *up = port->impl;

	/* Requests never submitted: their references. */
	for (unsigned i = 0; i < up->nsubs; i++)
		rp__obj_put(up->subs[i].obj);
	for (unsigned i = up->flpos; i < up->nfl; i++)
		rp__obj_put(up->fl[i].obj);
	free(up->subs);
	free(up->fl);
	pthread_mutex_destroy(&up->subs_lock);
	io_uring_queue_exit(&up->ring);
	free(up);
	port->impl = NULL;
}

/* Context: any thread; locks held are outside the S lock. */
static int uring_req_arm(struct rp_port *port, struct rp_obj *obj, uint32_t gen, struct rp_kop *op)
{
	struct uring_port *up = port->impl;

	if (op->kind == RP_KOP_FUTEX && !port->futex_ok)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&up->subs_lock);
	if (up->nsubs == up->subs_cap) {
		unsigned cap = up->subs_cap ? 2 * up->subs_cap : 16;
		struct sub *v = rp__realloc(RP_FAULT_ALLOC_REG, up->subs, cap * sizeof(*v));

		if (!v) {
			pthread_mutex_unlock(&up->subs_lock);
			return -ENOMEM;
		}
		up->subs = v;
		up->subs_cap = cap;
	}
	up->subs[up->nsubs++] = (struct sub){ obj, gen, op };
	op->reg = NULL;
	atomic_store(&up->subs_added, true);
	pthread_mutex_unlock(&up->subs_lock);
	rp__port_kick_sleeper(port);
	return 0;
}

/* Take @obj's request for @gen off the list, if it has not been taken
 * for submission.  Return: true if so (its reference is the caller's to
 * drop).  Context: the S lock held. */
static bool unsubmit(struct uring_port *up, struct rp_obj *obj, uint32_t gen)
{
	for (unsigned i = 0; i < up->nsubs; i++) {
		if (up->subs[i].obj == obj && up->subs[i].gen == gen) {
			up->subs[i] = up->subs[--up->nsubs];
			return true;
		}
	}
	return false;
}

/* Every request taken for submission is in the kernel: release the
 * cancels that wait for that.  Context: the event thread. */
static void submitted(struct uring_port *up)
{
	pthread_mutex_lock(&up->subs_lock);
	up->submitting = false;
	atomic_fetch_add(&up->submitted, 1);
	pthread_mutex_unlock(&up->subs_lock);
	if (atomic_load(&up->sub_waiters))
		rp__futex_wake(&up->submitted, INT_MAX);
	up->nfl = up->flpos = 0;
}

static bool uring_req_cancel(struct rp_port *port, struct rp_obj *obj, uint32_t gen,
			     struct rp_kop *op)
{
	struct uring_port *up = port->impl;
	struct io_uring_sync_cancel_reg reg = { .addr = req_ud(obj, gen), .fd = -1,
						.timeout = { -1, -1 } };

	(void)op;
	for (;;) {
		uint32_t seq;
		bool pending, busy;

		pthread_mutex_lock(&up->subs_lock);
		pending = unsubmit(up, obj, gen);
		busy = !pending && up->submitting;
		seq = atomic_load(&up->submitted);
		pthread_mutex_unlock(&up->subs_lock);
		if (pending) {
			rp__obj_put(obj);
			return true;
		}
		if (!busy)
			break;
		/* Taken by the event thread, maybe not in the kernel yet:
		 * a sync cancel now could miss it. */
		atomic_fetch_add(&up->sub_waiters, 1);
		rp__futex_wait(&up->submitted, seq, NULL);
		atomic_fetch_sub(&up->sub_waiters, 1);
	}
	/* In the kernel, or completed already (-ENOENT).  The cancelled
	 * request is completed and freed (its file put) by task_work of
	 * its submitter, the event thread, which runs when that thread next
	 * comes back from the kernel: wait for that, so that when this
	 * returns the kernel holds nothing of the request.  (Measured: the
	 * pipe still had a reader right after the sync cancel alone.) */
	io_uring_register_sync_cancel(&up->ring, &reg);
	rp__port_barrier(port);
	return false;
}

/* Context: the event thread, the port's lock held. */
static bool uring_req_abort(struct rp_port *port, struct rp_obj *obj, uint32_t gen,
			    struct rp_kop *op)
{
	struct uring_port *up = port->impl;
	struct io_uring_sqe *sqe;
	bool pending;

	(void)op;
	pthread_mutex_lock(&up->subs_lock);
	pending = unsubmit(up, obj, gen);
	pthread_mutex_unlock(&up->subs_lock);
	/* Taken but left over by the last flush (the SQ was full): ours. */
	for (unsigned i = up->flpos; !pending && i < up->nfl; i++) {
		if (up->fl[i].obj == obj && up->fl[i].gen == gen) {
			up->fl[i] = up->fl[up->flpos++];
			pending = true;
			if (up->flpos == up->nfl)
				submitted(up);
		}
	}
	if (pending) {
		rp__obj_put(obj);
		return true;
	}
	sqe = sqe_get(up);
	if (sqe) { /* sqe_get() submits to make room: always */
		io_uring_prep_cancel64(sqe, req_ud(obj, gen), 0);
		sqe->user_data = UD_REMOVE;
	}
	return false;
}

static void prep_sub(struct io_uring_sqe *sqe, const struct sub *s)
{
	if (s->op->kind == RP_KOP_SQE) {
		memcpy(sqe, s->op->sqe, sizeof(*sqe));
	} else if (s->op->kind == RP_KOP_POLL) {
		io_uring_prep_poll_add(sqe, s->op->fd, s->op->events);
	} else {
		memset(sqe, 0, sizeof(*sqe));
		sqe->opcode = OP_FUTEX_WAIT;
		sqe->fd = FUTEX2_SIZE_U32 | (s->op->shared ? 0 : FUTEX2_PRIVATE);
		sqe->addr = (uint64_t)(uintptr_t)s->op->word;
		sqe->off = s->op->val;
		sqe->addr3 = 0xffffffffull; /* FUTEX_BITSET_MATCH_ANY */
	}
	sqe->user_data = req_ud(s->obj, s->gen);
}

/*
 * Prepare and submit the requests handed to the event thread.  The list
 * is taken whole under the S lock (a swap), and prepared and submitted
 * after it, so that arming threads never wait for a submission (which
 * does the work of every request the kernel can finish at once, a cached
 * read's copy say).  A cancel that does not find its request on the list
 * while requests are taken waits until they are in the kernel.  Neither
 * lock nor system call when none were handed over (most passes): one
 * added after the look rings the doorbell, so the next pass takes it.
 * Context: the event thread.
 */
static void flush_subs(struct rp_port *port, struct uring_port *up)
{
	if (up->flpos == up->nfl) {
		struct sub *t;
		unsigned cap;

		if (!atomic_load(&up->subs_added))
			return;
		pthread_mutex_lock(&up->subs_lock);
		atomic_store_explicit(&up->subs_added, false, memory_order_relaxed);
		t = up->fl;
		cap = up->fl_cap;
		up->fl = up->subs;
		up->fl_cap = up->subs_cap;
		up->nfl = up->nsubs;
		up->flpos = 0;
		up->subs = t;
		up->subs_cap = cap;
		up->nsubs = 0;
		up->submitting = up->nfl > 0;
		pthread_mutex_unlock(&up->subs_lock);
	}
	for (; up->flpos < up->nfl; up->flpos++) {
		struct io_uring_sqe *sqe = sqe_get(up);

		if (!sqe)
			break; /* full even after a submit: the rest next pass */
		prep_sub(sqe, &up->fl[up->flpos]);
	}
	io_uring_submit(&up->ring);
	if (up->flpos < up->nfl)
		rp__port_kick(port);
	else if (up->nfl)
		submitted(up);
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

/*
 * Hand @n completions of objects' requests to their objects: those with
 * a lock of their own directly, the others RP_PORT_HOLD per hold of the
 * port's lock; the callbacks posted together (one wake-up of a worker for
 * a batch), then the requests' references dropped.
 */
static void complete_all(struct rp_port *port, struct uring_port *up, unsigned n)
{
	struct rp_obj **batch = port->batch;
	unsigned nb = 0, held = 0;

	for (unsigned i = 0; i < n; i++) {
		struct rp_obj *obj = (struct rp_obj *)(uintptr_t)(up->done[i].ud & UD_ADDR), *post;
		uint32_t gen = (uint32_t)(up->done[i].ud >> 48) & RP_GEN_MASK;

		if (obj->ops->own_lock) {
			post = obj->ops->complete(obj, gen, up->done[i].res);
		} else {
			if (!held)
				pthread_mutex_lock(&port->lock);
			rp__port_complete_locked(port, obj, gen, up->done[i].res, &post);
			if (++held == RP_PORT_HOLD) {
				pthread_mutex_unlock(&port->lock);
				held = 0;
			}
		}
		if (post)
			batch[nb++] = post;
	}
	if (held)
		pthread_mutex_unlock(&port->lock);
	rp__port_post_batch(port, batch, nb);
	for (unsigned i = 0; i < n; i++)
		rp__obj_put((struct rp_obj *)(uintptr_t)(up->done[i].ud & UD_ADDR)); /* the request's */
}

/* Submit what was prepared and sleep until a completion: the doorbell
 * rang (re-arm it, and empty the eventfd), or a timeout expired. */
static void uring_wait(struct rp_port *port)
{
	struct uring_port *up = port->impl;
	struct io_uring_cqe *cqe;
	unsigned head, n = 0, nreq = 0;
	bool doorbell = false;

	/* Before the last look for requests (flush_subs), so that one
	 * handed over after it rings the doorbell. */
	atomic_store(&port->asleep, true);
	flush_subs(port, up);
	io_uring_submit_and_wait(&up->ring, 1);
	atomic_store(&port->asleep, false);
	atomic_store(&port->kicked, false);
	io_uring_for_each_cqe(&up->ring, head, cqe) {
		uint64_t ud = cqe->user_data;

		n++;
		if (ud > UD_REMOVE && !(ud & UD_TIMER)) {
			up->done[nreq++] = (struct done){ ud, cqe->res };
		} else if (ud == UD_DOORBELL) {
			doorbell = true;
		} else if (ud & UD_TIMER) {
			unsigned clock = (unsigned)(ud >> 32) & 0x7fffffffu;

			/* The current timeout has ended (expired, or gone
			 * with a removal we asked for). */
			if (clock < RP_NCLOCKS && (uint32_t)ud == up->gen[clock])
				up->armed[clock] = false;
		}
		if (nreq == EV_CQ)
			break;
	}
	io_uring_cq_advance(&up->ring, n);
	complete_all(port, up, nreq);
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
	.thread_init = uring_thread_init,
	.program = uring_program,
	.wait = uring_wait,
	.req_arm = uring_req_arm,
	.req_cancel = uring_req_cancel,
	.req_abort = uring_req_abort,
};
