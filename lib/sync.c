/* SPDX-License-Identifier: MIT */
/*
 * Synchronisation primitives under everything else: futex waits and
 * wake-ups (the portable way a thread sleeps on a word), a worker's park
 * and kick on its wake word (backend.h), and the debug check that a lock
 * is held.
 */
#include "internal.h"

#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef NDEBUG
void rp__assert_held_fn(pthread_mutex_t *m)
{
	/* An error-checking trylock would need a different mutex type; a
	 * successful trylock is proof enough that the caller did not hold it. */
	if (pthread_mutex_trylock(m) == 0) {
		fprintf(stderr, "ringpool: lock not held\n");
		abort();
	}
}
#endif

int rp__futex_wait(_Atomic uint32_t *word, uint32_t expect, const struct timespec *abs)
{
	/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a
	 * spurious return needs no recomputation of the timeout. */
	long r = syscall(SYS_futex, word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expect, abs,
			 NULL, FUTEX_BITSET_MATCH_ANY);

	if (r == -1 && errno == ETIMEDOUT)
		return -ETIMEDOUT;
	return 0;
}

void rp__futex_wake(_Atomic uint32_t *word, int n)
{
	syscall(SYS_futex, word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL, NULL, 0);
}

int rp__futex_park(struct rp_worker *w, uint64_t deadline_ns)
{
	struct timespec ts = rp__timespec(deadline_ns);

	return rp__futex_wait(&w->wake, RP_WAKE_NONE, deadline_ns ? &ts : NULL);
}

void rp__futex_kick(struct rp_worker *w)
{
	rp__futex_wake(&w->wake, 1);
}
