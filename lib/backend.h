/* SPDX-License-Identifier: MIT */
/*
 * The interface both backends implement: how a worker parks, and how another
 * thread wakes it.  The wake-up protocol is the same for both:
 *
 *   waker (under pool->lock)          parked worker
 *   w->wake = WHY (release)           loop { if (w->wake != NONE) break;
 *   w->kicks++                                 ops->park(...) }
 *   -- unlock --
 *   ops->kick(w); w->kicks--
 *
 * The worker consumes the wake word, never the kick itself, so a kick that
 * arrives late is a harmless spurious wake-up.  A worker that closes its ring
 * or exits first waits for kicks to drain (worker.c: worker_exit()).
 */
#ifndef RINGPOOL_BACKEND_H
#define RINGPOOL_BACKEND_H

struct rp_pool;
struct rp_worker;

struct rp_backend_pool {
	_Atomic bool uring;            /* A: workers may take rings (cleared for good
	                                *    when io_uring is refused at run time) */
	unsigned ring_budget;          /* I: rings this pool may hold at once (0: the
	                                *    io_uring backend is not in use) */
	_Atomic unsigned rings;        /* A: rings held now */
	_Atomic uint64_t ring_retry_ns; /* A: after a setup failure, no new ring before this */
	_Atomic uint64_t ring_backoff_ns; /* A: the current wait between setup attempts */
	pthread_mutex_t send_lock;     /* the B lock of internal.h's legend: a leaf */
	void *sender;                  /* B: a pool-owned ring for outside threads, made on
	                                *    first use */
	_Atomic unsigned long long kicks_ring, kicks_futex; /* A: statistics for tests and bench */
};

struct rp_backend_ops {
	const char *name;
	int (*pool_init)(struct rp_pool *pool);
	void (*pool_fini)(struct rp_pool *pool);
	/* In the worker, before it parks: take a ring if the budget allows. */
	void (*worker_prepare)(struct rp_pool *pool, struct rp_worker *w);
	/* In the worker, when it exits: give its ring back. */
	void (*worker_fini)(struct rp_pool *pool, struct rp_worker *w);
	/* Sleep until w->wake may have changed, or @deadline_ns (0: none) passes.
	 * Return: 0, or -ETIMEDOUT. Spurious returns are allowed. */
	int (*park)(struct rp_pool *pool, struct rp_worker *w, uint64_t deadline_ns);
	/* Wake a worker that may be parked in park(). */
	void (*kick)(struct rp_pool *pool, struct rp_worker *w);
};

extern const struct rp_backend_ops rp__backend_futex;
extern const struct rp_backend_ops rp__backend_uring;

/* Used by both backends: park on and kick the worker's wake word. */
int rp__futex_park(struct rp_worker *w, uint64_t deadline_ns);
void rp__futex_kick(struct rp_worker *w);

/* backend_uring.c: is io_uring refused to this process (seccomp, sysctl,
 * kernel)?  False while unknown. */
bool rp__uring_refused(void);
/* Test hook: outside threads send through the pool's sender ring. */
void rp__uring_force_sender_ring(bool on);

#endif /* RINGPOOL_BACKEND_H */
