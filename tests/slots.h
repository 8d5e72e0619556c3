/* SPDX-License-Identifier: MIT */
/*
 * For white-box tests (after lib/internal.h) of the pool's slots: C, or up
 * to slots_max while the pool over-commits for unhinted blocks (slot.c).
 */
#ifndef T_SLOTS_H
#define T_SLOTS_H

#include <stdio.h>

/* No over-commit on @pool, for a test whose premise is strict C (each
 * block seen before the next callback starts).  Before the first post. */
static inline void t_strict_slots(rp_pool *pool)
{
	pool->slots_max = pool->concurrency;
}

static inline bool t_slots_back_(void *arg)
{
	rp_pool *pool = arg;

	return rp__slots(pool) == pool->concurrency;
}

/* Wait up to 10 s for @pool's slots to be back at C (the over-commit
 * lapses RP_OVERCOMMIT_US after the last block seen); fail with a dump if
 * they never are. */
static inline void t_wait_slots_back(rp_pool *pool)
{
	if (!t_wait_until(t_slots_back_, pool, 10000)) {
		rp__pool_dump(pool, stderr);
		ck_abort_msg("slots still %u, 10 s after the last block", rp__slots(pool));
	}
}

#endif
