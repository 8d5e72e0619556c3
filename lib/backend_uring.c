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
#define RP_UD_PROBE 0x727070726f62ull    /* "rpprob": the probe's own request */
#define RP_RING_ENTRIES 8
#define RP_RING_RETRY_MIN_NS 5000000ull    /* after a setup failure: 5 ms, */
#define RP_RING_RETRY_MAX_NS 1000000000ull /* doubling up to 1 s */

struct rp_ring {
	struct io_uring r;
	bool skip; /* IOSQE_CQE_SKIP_SUCCESS is supported */
};

/* How a thread without a ring of its own sends a doorbell: learnt at the
 * first such send, for the whole process. */
enum { SEND_UNKNOWN, SEND_REGISTER, SEND_RING };
static _Atomic int send_mode;

/*
 * What this process may do with io_uring, probed once: setup, enter and
 * MSG_RING all work (YES), or one of them is missing or refused (NO: every
 * pool uses the futex backend).  A probe that fails for want of memory or
 * descriptors decides nothing: RLIMIT_MEMLOCK is per user, and the kernel
 * frees a closed ring's charge asynchronously, so a ring set up right after
 * another pool's destroy may fail with ENOMEM and succeed a moment later.
 * Such a pool keeps the io_uring backend, and its first worker ring probes.
 */
enum { AVAIL_UNKNOWN, AVAIL_YES, AVAIL_NO };
static _Atomic int avail;

static _Atomic bool force_sender;

void rp__uring_force_sender_ring(bool on)
{
	atomic_store(&force_sender, on);
}

bool rp__uring_refused(void)
{
	return atomic_load_explicit(&avail, memory_order_relaxed) == AVAIL_NO;
}

/* Errors that say io_uring is refused here (seccomp, the io_uring_disabled
 * sysctl, a kernel without it), as opposed to a budget running out. */
static bool refusal(int err)
{
	return err == -EPERM || err == -EACCES || err == -ENOSYS;
}

static int ring_setup(struct io_uring *r, unsigned entries)
{
	int err = rp__fault(RP_FAULT_RING_SETUP);

	if (err)
		return -err;
	return io_uring_queue_init(entries, r, 0);
}

/* io_uring_submit(), through the io_uring_enter fault site. */
static int ring_submit(struct io_uring *r)
{
	int err = rp__fault(RP_FAULT_URING_ENTER);

	return err ? -err : io_uring_submit(r);
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

/*
 * Exercise on @ring every call a worker ring depends on: io_uring_enter(),
 * both to submit and to wait, and IORING_OP_MSG_RING (Linux 5.18), by a
 * message from the ring to itself.  A filter that allows io_uring_setup
 * but refuses io_uring_enter (container profiles filter per call) is seen
 * here, not later as a park that returns at once for ever.
 * Return: 0, -ENOSYS (refused or missing), or another negative errno (a
 * budget: try again later).
 */
static int probe_ring(struct rp_ring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring->r);
	struct io_uring_cqe *cqe;
	int ret, res = 0, err;

	if (!sqe)
		return -EBUSY;
	io_uring_prep_msg_ring(sqe, ring->r.ring_fd, 0, RP_UD_DOORBELL, 0);
	sqe->user_data = RP_UD_PROBE;
	err = rp__fault(RP_FAULT_URING_ENTER);
	ret = err ? -err : io_uring_submit_and_wait(&ring->r, 1);
	if (ret < 0)
		return refusal(ret) ? -ENOSYS : ret;
	/* The request's own completion says whether the opcode exists (an
	 * old kernel fails it with -EINVAL); the message is the other CQE. */
	for (;;) {
		ret = io_uring_wait_cqe(&ring->r, &cqe);
		if (ret < 0)
			return refusal(ret) ? -ENOSYS : ret;
		if (cqe->user_data == RP_UD_PROBE) {
			res = cqe->res;
			io_uring_cqe_seen(&ring->r, cqe);
			break;
		}
		io_uring_cqe_seen(&ring->r, cqe);
	}
	drain(&ring->r);
	if (res < 0)
		return -ENOSYS;
	atomic_store(&avail, AVAIL_YES);
	return 0;
}

/* Send a doorbell through io_uring_register(2) without a ring of our own.
 * Return: 0, or a negative errno (-EINVAL where the kernel lacks it). */
static int send_register(int fd)
{
	struct io_uring_sqe sqe;
	int err = rp__fault(RP_FAULT_URING_REGISTER);

	if (err)
		return -err;
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
		ring_submit(&from->r);
		sqe = io_uring_get_sqe(&from->r);
		if (!sqe)
			return -EBUSY;
	}
	io_uring_prep_msg_ring(sqe, fd, 0, RP_UD_DOORBELL, 0);
	if (from->skip)
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	ret = ring_submit(&from->r);
	if (!from->skip)
		drain(&from->r); /* our own inbox holds nothing live while we run */
	return ret == 1 ? 0 : (ret < 0 ? ret : -EIO);
}

static struct rp_ring *ring_new(unsigned entries, int *err)
{
	struct rp_ring *ring = rp__calloc(RP_FAULT_ALLOC_RING, 1, sizeof(*ring));

	if (!ring) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = ring_setup(&ring->r, entries);
	if (*err < 0) {
		free(ring);
		return NULL;
	}
	ring->skip = ring->r.features & IORING_FEAT_CQE_SKIP;
	return ring;
}

static void ring_free(struct rp_ring *ring)
{
	io_uring_queue_exit(&ring->r);
	free(ring);
}

/*
 * The process's first pool probes io_uring on a small ring of its own, and
 * how outside threads can send doorbells; later pools know both.
 * Return: 0 (io_uring serves, or a budget kept the probe from deciding), or
 * -ENOSYS: io_uring is refused or missing, the futex backend serves.
 */
static int uring_pool_init(rp_pool *pool)
{
	struct rp_backend_pool *bk = &pool->bk;
	struct rp_ring *ring;
	int ret;

	if (atomic_load(&avail) == AVAIL_NO)
		return -ENOSYS;
	if (atomic_load(&avail) == AVAIL_UNKNOWN) {
		ring = ring_new(2, &ret);
		if (ring) {
			ret = probe_ring(ring);
			ring_free(ring);
		}
		if (refusal(ret)) {
			atomic_store(&avail, AVAIL_NO);
			return -ENOSYS;
		}
	}
	bk->ring_budget = pool->concurrency + RP_RING_EXTRA;
	pthread_mutex_init(&bk->send_lock, NULL);
	atomic_store(&bk->uring, true);
	return 0;
}

static void uring_pool_fini(rp_pool *pool)
{
	struct rp_backend_pool *bk = &pool->bk;

	if (bk->sender) {
		ring_free(bk->sender);
		bk->sender = NULL;
	}
	if (bk->ring_budget)
		pthread_mutex_destroy(&bk->send_lock);
}

/* A ring could not be made for want of memory or descriptors: no worker
 * tries again before a while, doubling while it keeps failing. */
static void ring_backoff(struct rp_backend_pool *bk)
{
	uint64_t b = atomic_load_explicit(&bk->ring_backoff_ns, memory_order_relaxed);

	b = b ? 2 * b : RP_RING_RETRY_MIN_NS;
	if (b > RP_RING_RETRY_MAX_NS)
		b = RP_RING_RETRY_MAX_NS;
	atomic_store_explicit(&bk->ring_backoff_ns, b, memory_order_relaxed);
	atomic_store_explicit(&bk->ring_retry_ns, rp__now_ns() + b, memory_order_relaxed);
}

static void uring_worker_prepare(rp_pool *pool, struct rp_worker *w)
{
	struct rp_backend_pool *bk = &pool->bk;
	struct rp_ring *ring;
	int ret;

	if (atomic_load_explicit(&w->ring, memory_order_relaxed) ||
	    !atomic_load_explicit(&bk->uring, memory_order_relaxed))
		return;
	if (rp__now_ns() < atomic_load_explicit(&bk->ring_retry_ns, memory_order_relaxed))
		return;
	if (atomic_fetch_add(&bk->rings, 1) >= bk->ring_budget)
		goto out;
	ring = ring_new(RP_RING_ENTRIES, &ret);
	if (ring && atomic_load(&avail) != AVAIL_YES) {
		/* The pool's probe could not decide (a budget): this ring
		 * probes. */
		ret = probe_ring(ring);
		if (ret) {
			ring_free(ring);
			ring = NULL;
		}
	}
	if (!ring) {
		if (refusal(ret)) {
			/* Refused to this thread (a seccomp filter installed
			 * since, or io_uring missing): no more rings for this
			 * pool, whose workers park on their futex words. */
			if (ret == -ENOSYS && atomic_load(&avail) != AVAIL_YES)
				atomic_store(&avail, AVAIL_NO);
			atomic_store(&bk->uring, false);
		} else {
			/* ENOMEM (RLIMIT_MEMLOCK, perhaps a ring closed a moment
			 * ago whose charge the kernel has not yet returned),
			 * EMFILE: park on the futex, and try again later. */
			ring_backoff(bk);
		}
		goto out;
	}
	atomic_store_explicit(&bk->ring_backoff_ns, 0, memory_order_relaxed);
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
	ring_free(ring);
	atomic_fetch_sub(&pool->bk.rings, 1);
}

/*
 * Park on the worker's ring.  If io_uring_enter() is refused at run time (a
 * seccomp filter installed after the pool started), the worker stops using
 * its ring: it sets ring_off, then parks on its futex word from then on.
 * Pairs with the fence in uring_kick(): a waker either sees ring_off and
 * wakes the futex, or stored the wake word before our futex wait reads it.
 */
static int uring_park(rp_pool *pool, struct rp_worker *w, uint64_t deadline_ns)
{
	struct rp_ring *ring = atomic_load_explicit(&w->ring, memory_order_relaxed);
	struct io_uring_cqe *cqe;
	int ret;

	if (!ring || atomic_load_explicit(&w->ring_off, memory_order_relaxed))
		return rp__futex_park(w, deadline_ns);
	ret = -rp__fault(RP_FAULT_URING_ENTER);
	if (ret) {
		/* injected */
	} else if (deadline_ns) {
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
	if (rp_unlikely(refusal(ret))) {
		atomic_store(&w->ring_off, true);
		atomic_store(&pool->bk.uring, false);
		return rp__futex_park(w, deadline_ns);
	}
	/* Doorbells carry nothing: the wake word is the message. */
	drain(&ring->r);
	return ret == -ETIME ? -ETIMEDOUT : 0;
}

/* The pool's sender ring, for threads without a ring of their own where
 * the kernel cannot send for them; made on first use. */
static int send_sender(rp_pool *pool, int fd)
{
	struct rp_backend_pool *bk = &pool->bk;
	int ret;

	pthread_mutex_lock(&bk->send_lock);
	if (!bk->sender)
		bk->sender = ring_new(2, &ret);
	ret = bk->sender ? send_from(bk->sender, fd) : ret;
	pthread_mutex_unlock(&bk->send_lock);
	return ret;
}

/* One doorbell to @fd, by the cheapest path this thread has: its own ring,
 * the kernel (IORING_REGISTER_SEND_MSG_RING, Linux 6.13), the pool's
 * sender ring.  Return: 0, or the last path's negative errno. */
static int send_doorbell(rp_pool *pool, int fd)
{
	struct rp_worker *self = rp__self;
	struct rp_ring *mine = self && !atomic_load_explicit(&self->ring_off, memory_order_relaxed)
				       ? atomic_load_explicit(&self->ring, memory_order_relaxed)
				       : NULL;
	int mode = atomic_load_explicit(&send_mode, memory_order_relaxed);
	int ret = -EINVAL;

	if (mine)
		ret = send_from(mine, fd);
	if (ret && mode != SEND_RING && !atomic_load_explicit(&force_sender, memory_order_relaxed)) {
		ret = send_register(fd);
		if (mode == SEND_UNKNOWN && ret != -ENOMEM)
			atomic_store(&send_mode, ret ? SEND_RING : SEND_REGISTER);
	}
	if (ret)
		ret = send_sender(pool, fd);
	return ret;
}

static void uring_kick(rp_pool *pool, struct rp_worker *w)
{
	struct rp_backend_pool *bk = &pool->bk;
	struct rp_ring *to = atomic_load_explicit(&w->ring, memory_order_acquire);

	/* Pairs with the store of ring_off in uring_park(): the wake word
	 * (stored by wake_locked()) before the look at ring_off. */
	atomic_thread_fence(memory_order_seq_cst);
	if (!to || atomic_load_explicit(&w->ring_off, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&bk->kicks_futex, 1, memory_order_relaxed);
		rp__futex_kick(w);
		return;
	}
	atomic_fetch_add_explicit(&bk->kicks_ring, 1, memory_order_relaxed);
	/* A worker asleep in io_uring_enter() can be reached only through its
	 * ring.  Every path fails only for want of memory (a sender ring, a
	 * request) unless io_uring is refused to this thread (ringpool(7),
	 * CAVEATS); the wake-up must not be lost, so try again until one
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
