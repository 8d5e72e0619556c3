/* SPDX-License-Identifier: MIT */
/*
 * adapter.h - the one interface every benchmarked thread pool ("peer")
 * implements, so that every workload in rpbench.c runs unchanged on each.
 *
 * The interface is the least common denominator of the pools we compare
 * (ringpool, a hand-written pthread pool, and later GLib's GThreadPool,
 * libuv's work queue, OpenMP tasks, oneTBB's task_arena and APR's
 * apr_thread_pool): create a pool, fire-and-forget a function call, and tear
 * the pool down after its work has run.  Anything richer (priorities, groups,
 * waiting on one task) is left out on purpose; a workload that needs to know
 * when work is done counts completions itself, identically for every peer.
 *
 * Contract, for an implementer:
 *  - init(ctx, threads): create a pool and store it in *ctx.  @threads is the
 *    worker count (or, for a self-regulating pool, its concurrency target);
 *    0 means the peer's own default, which is what a user who sets no knob
 *    gets.  Return 0 or a negative errno value; on failure *ctx is untouched
 *    and nothing is left running.
 *  - post(ctx, fn, arg): run fn(arg) once, on a pool thread, some time
 *    later.  Callable from any thread, including from inside a task running
 *    on the same pool, and concurrently.  Must not block for long (a lock is
 *    fine; waiting for a task to finish is not).  Return 0 or a negative
 *    errno value; on failure fn will never be called.
 *  - fini(ctx): run every task posted so far, including tasks that those
 *    tasks post while fini waits, then stop the threads and free the pool.
 *    Only called once nothing outside the pool posts any more.  A peer that
 *    cannot tear down cleanly reports it on stderr and aborts: the numbers of
 *    a benchmark that leaked a running pool are not worth printing.
 */
#ifndef RPBENCH_ADAPTER_H
#define RPBENCH_ADAPTER_H

typedef void bench_fn(void *arg);

struct bench_peer {
	const char *name;	/* short, lower case: used by --peers and in output */
	int (*init)(void **ctx, unsigned threads /* 0 = peer default */);
	int (*post)(void *ctx, bench_fn *fn, void *arg);
	void (*fini)(void *ctx);
};

/* One object per peer, each defined in bench/peer_<name>.c. */
extern const struct bench_peer bench_peer_pthread;
extern const struct bench_peer bench_peer_ringpool;

#endif /* RPBENCH_ADAPTER_H */
