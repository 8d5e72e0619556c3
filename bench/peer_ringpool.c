/* SPDX-License-Identifier: MIT */
/*
 * peer_ringpool.c - ringpool behind the bench adapter.  The mapping is
 * one to one; the only choice is that @threads sets the concurrency target
 * (running workers), not a thread count: ringpool starts and retires
 * threads itself, which is part of what is being measured.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ringpool.h>

#include "config.h"

#include "adapter.h"

static int rpp_init(void **ctx, unsigned threads)
{
	struct rp_pool_opts opts = { .concurrency = threads };
	rp_pool *pool;

	/* NULL options on the default path: what a user who sets no knob gets. */
	int ret = rp_pool_create(&pool, threads != 0 ? &opts : NULL);
	if (ret < 0)
		return ret;
	*ctx = pool;
	return 0;
}

static int rpp_post(void *ctx, bench_fn *fn, void *arg)
{
	return rp_post(ctx, fn, arg);
}

static void rpp_fini(void *ctx)
{
	int ret = rp_pool_destroy(ctx);

	if (ret < 0) {
		fprintf(stderr, "peer ringpool: rp_pool_destroy: %s\n", strerror(-ret));
		abort();
	}
}

const struct bench_peer bench_peer_ringpool = {
	.name = "ringpool",
	.about = "this library, " PACKAGE_VERSION ": rp_pool_create (NULL options: concurrency = "
		 "usable physical cores), rp_post, rp_pool_destroy; hints: "
		 "rp_blocking_begin/rp_blocking_end",
	.init = rpp_init,
	.post = rpp_post,
	.fini = rpp_fini,
	.block_begin = rp_blocking_begin,
	.block_end = rp_blocking_end,
};
