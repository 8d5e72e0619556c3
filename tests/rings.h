/* SPDX-License-Identifier: MIT */
/*
 * For white-box tests (after lib/internal.h) whose premise is a pool with
 * worker rings: wait for its first one.
 */
#ifndef T_RINGS_H
#define T_RINGS_H

#include <stdio.h>
#include <unistd.h>

static inline bool t_has_rings_(void *arg)
{
	return atomic_load(&((rp_pool *)arg)->bk.rings) > 0;
}

/*
 * Wait up to 5 s for @pool's first worker ring.  As root it must come.  As
 * another user the rings are charged to RLIMIT_MEMLOCK, which all of that
 * user's processes share (`make check-confined` runs two test programs at
 * once as nobody, at 64 KiB): none may fit for a while, and the test then
 * has no ring to take away.  Return: whether one came; if not, @test says
 * so on stdout.
 */
static inline bool t_rings_made(rp_pool *pool, const char *test)
{
	if (t_wait_until(t_has_rings_, pool, 5000))
		return true;
	ck_assert_msg(geteuid() != 0, "%s: no worker ring in 5 s, as root", test);
	printf("%s: no worker ring could be made (this user's memlock is in use): "
	       "nothing to take away\n", test);
	return false;
}

#endif
