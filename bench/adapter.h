/* SPDX-License-Identifier: MIT */
/*
 * adapter.h - the one interface every benchmarked thread pool ("peer")
 * implements, so that every workload in rpbench.c runs unchanged on each.
 *
 * The interface is the least common denominator of the pools we compare
 * (ringpool, a hand-written pthread pool, GLib's GThreadPool, libuv's work
 * queue, OpenMP tasks, oneTBB, APR's apr_thread_pool, libdispatch): create a
 * pool, fire-and-forget a function call, and tear the pool down.  Anything
 * richer (priorities, groups, waiting on one task) is left out on purpose; a
 * workload that needs to know when work is done counts completions itself,
 * identically for every peer.
 *
 * rpbench runs every measurement in a child process of its own, forked from
 * a parent that has no threads: a peer may keep process-wide state (libuv's
 * pool, OpenMP's runtime, TBB's market) without one run leaking into the
 * next, and a run that deadlocks is killed without harming the others.
 *
 * Contract, for an implementer:
 *  - init(ctx, threads): create a pool and store it in *ctx.  @threads is the
 *    worker count (or, for a self-regulating pool, its concurrency target);
 *    0 means the peer's own default, which is what a user who sets no knob
 *    gets.  Return 0 or a negative errno value; on failure *ctx is untouched.
 *    Called once per process.
 *  - post(ctx, fn, arg): run fn(arg) once, on a pool thread, some time
 *    later.  Callable from any thread, including from inside a task running
 *    on the same pool, and concurrently.  Must not wait for a task to run
 *    (a lock is fine).  Return 0 or a negative errno value; on failure fn
 *    will never be called.
 *  - fini(ctx): called once every posted task has run (the workload waits
 *    for its own completion count first; the last task may still be
 *    returning).  Stop the threads and free the pool.  A peer that cannot
 *    tear down cleanly says so on stderr and aborts.
 *  - block_begin() / block_end(): NULL for a pool with no way to be told
 *    that a task is about to block.  Where set, workloads run a variant
 *    "<name>+hints" that brackets each blocking call with them.
 */
#ifndef RPBENCH_ADAPTER_H
#define RPBENCH_ADAPTER_H

#ifdef __cplusplus
extern "C" {
#endif

typedef void bench_fn(void *arg);

/* Flags of a peer. */
enum {
	/*
	 * A fixed-size pool: workloads that ask how the thread count matters
	 * (W3, W4, W5) run it at several sizes.  A self-regulating pool is
	 * run on its defaults only.
	 */
	BENCH_PEER_FIXED = 1 << 0,
};

struct bench_peer {
	const char *name;	/* short, lower case: used by --peers and in output */
	/*
	 * One line for the report: the library and version it was built
	 * against, its default size, and how the adapter drives it where that
	 * is not a plain call (e.g. "posts go through the loop thread").
	 */
	const char *about;
	unsigned flags;		/* BENCH_PEER_* */
	int (*init)(void **ctx, unsigned threads /* 0 = peer default */);
	int (*post)(void *ctx, bench_fn *fn, void *arg);
	void (*fini)(void *ctx);
	void (*block_begin)(void);	/* NULL: no hints */
	void (*block_end)(void);
};

/*
 * One object per peer, each defined in bench/peer_<name>.c (peer_tbb.cc for
 * oneTBB); configure decides which are built (BENCH_HAVE_<NAME>).
 */
extern const struct bench_peer bench_peer_ringpool;
extern const struct bench_peer bench_peer_pthread;
extern const struct bench_peer bench_peer_glib;
extern const struct bench_peer bench_peer_uv;
extern const struct bench_peer bench_peer_omp;
extern const struct bench_peer bench_peer_tbb;
extern const struct bench_peer bench_peer_apr;
extern const struct bench_peer bench_peer_dispatch;

#ifdef __cplusplus
}
#endif

#endif /* RPBENCH_ADAPTER_H */
