/* SPDX-License-Identifier: MIT */
/*
 * The io_uring backend, the only file that includes <liburing.h>.
 *
 * A worker within the pool's ring budget owns a small ring and is the only
 * thread that ever sleeps on it: its completion queue is its inbox.  A wake-up
 * is an IORING_OP_MSG_RING message into that ring (a "doorbell"; the task
 * itself travels in the worker's hand-over slot, written before the wake word
 * is released, see backend.h).  Senders:
 *   - a worker with a ring: an SQE on its own ring (one io_uring_enter);
 *   - any other thread: IORING_REGISTER_SEND_MSG_RING (Linux 6.13), a ringless
 *     MSG_RING sent through io_uring_register(2);
 *   - else a pool-owned sender ring behind a mutex.
 * Workers over the budget, or whose ring setup failed (RLIMIT_MEMLOCK: 8 KiB
 * a ring for an unprivileged user, EMFILE), park on their futex instead.
 *
 * Kernel features newer than liburing 2.3 are probed at run time.
 */
#include "internal.h"

#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef IORING_REGISTER_SEND_MSG_RING
#define IORING_REGISTER_SEND_MSG_RING 31 /* Linux 6.13 */
#endif

#define RP_UD_DOORBELL 0x7270646f6f72ull /* "rpdoor" */
#define RP_RING_ENTRIES 8
#define RP_RING_RETRY_NS 1000000000ull   /* after a setup failure */

struct rp_ring {
	struct io_uring r;
	bool skip; /* IOSQE_CQE_SKIP_SUCCESS is supported */
};

enum { SEND_UNKNOWN, SEND_REGISTER, SEND_RING };

static _Atomic bool force_sender;
static _Atomic int fail_setup;

void rp__uring_force_sender_ring(bool on)
{
	atomic_store(&force_sender, on);
}

void rp__uring_fail_setup(int err)
{
	atomic_store(&fail_setup, err);
}

static int ring_setup(struct io_uring *r, unsigned entries)
{
	int err = atomic_load_explicit(&fail_setup, memory_order_relaxed);

	if (err)
		return -err;
	return io_uring_queue_init(entries, r, 0);
}

static void drain(struct io_uring *r)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(r, head, cqe)
		n++;
	if (n)
		io_uring_cq_advance(r, n);
}

/* Send a doorbell through io_uring_register(2) without a ring of our own.
 * Return: 0, or a negative errno (-EINVAL where the kernel lacks it). */
static int send_register(int fd)
{
	struct io_uring_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	io_uring_prep_msg_ring(&sqe, fd, 0, RP_UD_DOORBELL, 0);
	if (syscall(__NR_io_uring_register, -1, IORING_REGISTER_SEND_MSG_RING, &sqe, 1) < 0)
		return -errno;
	return 0;
}

static int send_from(struct rp_ring *from, int fd)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&from->r);
	int ret;

	if (!sqe) {
		io_uring_submit(&from->r);
		sqe = io_uring_get_sqe(&from->r);
		if (!sqe)
			return -EBUSY;
	}
	io_uring_prep_msg_ring(sqe, fd, 0, RP_UD_DOORBELL, 0);
	if (from->skip)
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	ret = io_uring_submit(&from->r);
	if (!from->skip)
		drain(&from->r); /* our own inbox holds nothing live while we run */
	return ret == 1 ? 0 : (ret < 0 ? ret : -EIO);
}

static int uring_pool_init(rp_pool *pool)
{
	struct rp_backend_pool *bk = &pool->bk;
	struct io_uring_probe *probe;
	struct rp_ring *probe_ring;
	int ret;

	probe_ring = calloc(1, sizeof(*probe_ring));
	if (!probe_ring)
		return -ENOMEM;
	ret = ring_setup(&probe_ring->r, 2);
	if (ret < 0) {
		free(probe_ring);
		/* Missing, disabled (io_uring_disabled sysctl), or filtered
		 * (seccomp): the caller falls back to the futex backend.  Out of
		 * memlock or fds: same, rather than fail the pool. */
		return -ENOSYS;
	}
	probe = io_uring_get_probe_ring(&probe_ring->r);
	if (!probe || !io_uring_opcode_supported(probe, IORING_OP_MSG_RING)) {
		/* MSG_RING needs Linux 5.18. */
		free(probe);
		io_uring_queue_exit(&probe_ring->r);
		free(probe_ring);
		return -ENOSYS;
	}
	free(probe);
	probe_ring->skip = probe_ring->r.features & IORING_FEAT_CQE_SKIP;

	bk->uring = true;
	bk->ring_budget = pool->concurrency + RP_RING_EXTRA;
	pthread_mutex_init(&bk->send_lock, NULL);
	if (!atomic_load(&force_sender) && send_register(probe_ring->r.ring_fd) == 0) {
		/* The kernel sends for ringless threads: no sender ring. */
		atomic_store(&bk->send_mode, SEND_REGISTER);
		io_uring_queue_exit(&probe_ring->r);
		free(probe_ring);
	} else {
		/* Keep the probe ring as the outside threads' sender. */
		drain(&probe_ring->r);
		atomic_store(&bk->send_mode, SEND_RING);
		bk->sender = probe_ring;
	}
	return 0;
}

static void uring_pool_fini(rp_pool *pool)
{
	struct rp_ring *s = pool->bk.sender;

	if (s) {
		io_uring_queue_exit(&s->r);
		free(s);
		pool->bk.sender = NULL;
	}
	if (pool->bk.uring)
		pthread_mutex_destroy(&pool->bk.send_lock);
}

static void uring_worker_prepare(rp_pool *pool, struct rp_worker *w)
{
	struct rp_backend_pool *bk = &pool->bk;
	struct rp_ring *ring;

	if (atomic_load_explicit(&w->ring, memory_order_relaxed) || !bk->uring)
		return;
	if (rp__now_ns() < atomic_load_explicit(&bk->ring_retry_ns, memory_order_relaxed))
		return;
	if (atomic_fetch_add(&bk->rings, 1) >= bk->ring_budget)
		goto out;
	ring = calloc(1, sizeof(*ring));
	if (!ring)
		goto out;
	if (ring_setup(&ring->r, RP_RING_ENTRIES) < 0) {
		/* ENOMEM (RLIMIT_MEMLOCK), EMFILE: park on the futex, and do
		 * not hammer the kernel: try again in a while. */
		free(ring);
		atomic_store(&bk->ring_retry_ns, rp__now_ns() + RP_RING_RETRY_NS);
		goto out;
	}
	ring->skip = ring->r.features & IORING_FEAT_CQE_SKIP;
	atomic_store_explicit(&w->ring, ring, memory_order_release);
	return;
out:
	atomic_fetch_sub(&bk->rings, 1);
}

static void uring_worker_fini(rp_pool *pool, struct rp_worker *w)
{
	struct rp_ring *ring = atomic_load(&w->ring);

	if (!ring)
		return;
	atomic_store(&w->ring, NULL);
	io_uring_queue_exit(&ring->r);
	free(ring);
	atomic_fetch_sub(&pool->bk.rings, 1);
}

static int uring_park(rp_pool *pool, struct rp_worker *w, uint64_t deadline_ns)
{
	struct rp_ring *ring = atomic_load_explicit(&w->ring, memory_order_relaxed);
	struct io_uring_cqe *cqe;
	int ret;

	if (!ring)
		return rp__futex_park(w, deadline_ns);
	if (deadline_ns) {
		uint64_t now = rp__now_ns();
		struct __kernel_timespec ts;

		if (now >= deadline_ns)
			return -ETIMEDOUT;
		ts.tv_sec = (long long)((deadline_ns - now) / 1000000000u);
		ts.tv_nsec = (long long)((deadline_ns - now) % 1000000000u);
		ret = io_uring_wait_cqe_timeout(&ring->r, &cqe, &ts);
	} else {
		ret = io_uring_wait_cqe(&ring->r, &cqe);
	}
	/* Doorbells carry nothing: the wake word is the message. */
	drain(&ring->r);
	return ret == -ETIME ? -ETIMEDOUT : 0;
}

/* One doorbell to @fd, by the cheapest path this thread has.
 * Return: 0, or the last path's negative errno. */
static int send_doorbell(rp_pool *pool, int fd)
{
	struct rp_backend_pool *bk = &pool->bk;
	struct rp_worker *self = rp__self;
	struct rp_ring *mine = self ? atomic_load_explicit(&self->ring, memory_order_relaxed) : NULL;
	int ret = -EINVAL;

	if (mine)
		ret = send_from(mine, fd);
	if (ret && atomic_load_explicit(&bk->send_mode, memory_order_relaxed) == SEND_REGISTER)
		ret = send_register(fd);
	if (ret) {
		pthread_mutex_lock(&bk->send_lock);
		if (!bk->sender) {
			struct rp_ring *s = calloc(1, sizeof(*s));

			if (s && ring_setup(&s->r, 2) == 0) {
				s->skip = s->r.features & IORING_FEAT_CQE_SKIP;
				bk->sender = s;
			} else {
				free(s);
			}
		}
		if (bk->sender)
			ret = send_from(bk->sender, fd);
		pthread_mutex_unlock(&bk->send_lock);
	}
	return ret;
}

static void uring_kick(rp_pool *pool, struct rp_worker *w)
{
	struct rp_backend_pool *bk = &pool->bk;
	struct rp_ring *to = atomic_load_explicit(&w->ring, memory_order_acquire);

	if (!to) {
		atomic_fetch_add_explicit(&bk->kicks_futex, 1, memory_order_relaxed);
		rp__futex_kick(w);
		return;
	}
	atomic_fetch_add_explicit(&bk->kicks_ring, 1, memory_order_relaxed);
	/* A worker asleep in io_uring_enter() can be reached only through its
	 * ring.  Every path can fail only for want of memory (a sender ring,
	 * a request); the wake-up must not be lost, so try again until one
	 * goes through. */
	while (send_doorbell(pool, to->r.ring_fd)) {
		const struct timespec ts = { 0, 100000 };

		nanosleep(&ts, NULL);
	}
}

const struct rp_backend_ops rp__backend_uring = {
	.name = "uring",
	.pool_init = uring_pool_init,
	.pool_fini = uring_pool_fini,
	.worker_prepare = uring_worker_prepare,
	.worker_fini = uring_worker_fini,
	.park = uring_park,
	.kick = uring_kick,
};
