/* SPDX-License-Identifier: MIT */
/*
 * peer_dispatch.c - libdispatch (GCD) behind the bench adapter: each post is
 * a dispatch_async_f onto the default-priority global concurrent queue, the
 * way GCD is meant to run independent work items.
 *
 * GCD sizes its worker threads itself (through the kernel's workqueue on
 * Apple systems; on Linux through libdispatch's own, one thread per CPU plus
 * those a once-a-second monitor adds while workers are blocked), so @threads
 * is ignored and the peer is not BENCH_PEER_FIXED.
 *
 * dispatch_function_t is void (*)(void *), exactly bench_fn, so no wrapper
 * is needed and post allocates nothing itself; libdispatch takes the
 * continuation from its own per-thread cache.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>

#include <dispatch/dispatch.h>

#include "adapter.h"

#define DP_STR_(x) #x
#define DP_STR(x) DP_STR_(x)

static int dp_init(void **ctx, unsigned threads)
{
	dispatch_queue_t q = dispatch_get_global_queue(DISPATCH_QUEUE_PRIORITY_DEFAULT, 0);

	/* NULL only for an unknown priority or non-zero flags. */
	if (q == NULL)
		return -EINVAL;
	*ctx = q;
	return 0;
}

static int dp_post(void *ctx, bench_fn *fn, void *arg)
{
	/* Cannot fail: libdispatch aborts when out of memory. */
	dispatch_async_f(ctx, arg, fn);
	return 0;
}

static void dp_fini(void *ctx)
{
	/*
	 * Global queues are never released and their threads belong to the
	 * process; every task has run, so there is nothing to stop.
	 */
}

const struct bench_peer bench_peer_dispatch = {
	.name = "dispatch",
	.about = "libdispatch (API " DP_STR(DISPATCH_API_VERSION) ") dispatch_async_f on the default-priority "
		 "global queue; self-regulating, threads ignored",
	.init = dp_init,
	.post = dp_post,
	.fini = dp_fini,
};
