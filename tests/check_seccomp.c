/* SPDX-License-Identifier: MIT */
/*
 * check_seccomp.c - io_uring refused by a seccomp filter, as container
 * profiles do: whole (setup refused), or call by call (setup and register
 * allowed, io_uring_enter refused), from the start or installed while the
 * pool runs.  The pool must serve on futexes and, idle, make no wake-ups
 * (DESIGN behaviours 6 and 15).  The backend is left to the pool here:
 * RINGPOOL_BACKEND=uring would make a refusal an error.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helpers.h"
#include "../lib/internal.h"
#include "rings.h"

static void done_fn(void *arg)
{
	t_latch_done(arg);
}

/* Posts that wake parked workers, one at a time, then an idle pool: no
 * thread of the process but the caller switches for 500 ms. */
static void check_serves_then_quiet(rp_pool *pool)
{
	unsigned long long before, after, cpu;
	struct t_latch l;

	for (int i = 0; i < 20; i++) {
		t_latch_init(&l, 1);
		ck_assert_int_eq(rp_post(pool, done_fn, &l), 0);
		t_latch_wait(&l);
		t_sleep_ms(2);
	}
	t_sleep_ms(100);
	before = t_others_switches();
	cpu = t_others_cpu_ms();
	t_sleep_ms(500);
	after = t_others_switches();
	cpu = t_others_cpu_ms() - cpu;
#ifdef __SANITIZE_THREAD__
	/* TSan's own thread wakes up: count CPU time only. */
	after = before;
#endif
	if (after != before || cpu > 20) {
		fprintf(stderr, "idle: %llu switches, %llu ms of CPU in 500 ms\n", after - before,
			cpu);
		t_dump(pool, "idle pool woke up");
		ck_abort_msg("idle pool threads switched %llu times in 500 ms", after - before);
	}
}

static const long enter_only[] = { __NR_io_uring_enter };
static const long all_uring[] = { __NR_io_uring_setup, __NR_io_uring_enter,
				  __NR_io_uring_register };

static void tick(void *arg, int res)
{
	atomic_fetch_add((_Atomic int *)arg, res);
}

static void one(void *arg, int res)
{
	(void)res;
	atomic_fetch_add((_Atomic int *)arg, 1);
}

static bool ticked(void *arg)
{
	return atomic_load((_Atomic int *)arg) >= 5;
}

/* io_uring refused whole: the futex backend serves, and timers fire. */
START_TEST(test_rp_pool_create_uring_refused)
{
	_Atomic int n = 0;
	rp_pool *pool;
	rp_timer *t;

	unsetenv("RINGPOOL_BACKEND");
	ck_assert(t_seccomp_refuse(all_uring, 3, EPERM, false));
	ck_assert_int_eq(rp_pool_create(&pool, NULL), 0);
	ck_assert_str_eq(pool->ops->name, "futex");
	check_serves_then_quiet(pool);
	ck_assert_int_eq(rp_timer_create(&t, pool, tick, (void *)&n, NULL), 0);
	ck_assert_int_eq(rp_timer_set(t, 1000000, 1000000, 0, 0), 0);
	ck_assert(t_wait_until(ticked, (void *)&n, 10000));
	ck_assert_int_eq(rp_timer_wait(t, true), 0);
	ck_assert_int_eq(rp_timer_close(t), 0);
	{
		static _Atomic uint32_t word;
		rp_watch *w;

		atomic_store(&n, 0);
		/* The word differs from 1: a callback at once, each time. */
		ck_assert_int_eq(rp_watch_create(&w, pool, one, (void *)&n, NULL), 0);
		ck_assert_int_eq(rp_watch_futex(w, (const uint32_t *)&word, 1, RP_INFINITE,
						RP_WATCH_REPEAT), 0);
		ck_assert(t_wait_until(ticked, (void *)&n, 10000));
		ck_assert_int_eq(rp_watch_wait(w, true), 0);
		ck_assert_int_eq(rp_watch_close(w), 0);
	}
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/*
 * Defect D: only io_uring_enter() refused, from the start.  Setup works, so
 * a probe that stops there kept the io_uring backend, and every park
 * returned at once with EPERM: an idle pool burnt 0.6-1.9 cores.  The
 * probe now enters; the futex backend serves.
 */
START_TEST(test_rp_pool_create_uring_enter_refused)
{
	rp_pool *pool;

	unsetenv("RINGPOOL_BACKEND");
	ck_assert(t_seccomp_refuse(enter_only, 1, EPERM, false));
	ck_assert_int_eq(rp_pool_create(&pool, NULL), 0);
	ck_assert_str_eq(pool->ops->name, "futex");
	check_serves_then_quiet(pool);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/*
 * io_uring_enter() refused while the pool runs (a filter installed on all
 * threads after start-up), with ENOSYS as some profiles answer: the
 * workers asleep on their rings still wake (the kernel sends their
 * doorbells for this thread, Linux 6.13), and each one whose next park is
 * refused moves to its futex word for good.
 */
START_TEST(test_rp_pool_uring_enter_refused_later)
{
	rp_pool *pool;

	unsetenv("RINGPOOL_BACKEND");
	ck_assert_int_eq(rp_pool_create(&pool, NULL), 0);
	if (strcmp(pool->ops->name, "uring")) {
		ck_assert_int_eq(rp_pool_destroy(pool), 0);
		return;
	}
	check_serves_then_quiet(pool);
	if (!t_rings_made(pool, __func__)) {
		ck_assert_int_eq(rp_pool_destroy(pool), 0);
		return;
	}
	if (pool->bk.sender) {
		/* Outside threads needed a sender ring (a kernel before 6.13):
		 * once io_uring_enter is refused they cannot wake a worker
		 * asleep on its ring (ringpool(7), CAVEATS). */
		ck_assert_int_eq(rp_pool_destroy(pool), 0);
		return;
	}
	ck_assert(t_seccomp_refuse(enter_only, 1, ENOSYS, true));
	check_serves_then_quiet(pool);
	ck_assert(!atomic_load(&pool->bk.uring));
	t_assert_u(atomic_load(&pool->bk.kicks_futex), >, 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

Suite *make_suite(void);
Suite *make_suite(void)
{
	Suite *s = suite_create("seccomp");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_pool_create_uring_refused);
	tcase_add_test(tc, test_rp_pool_create_uring_enter_refused);
	tcase_add_test(tc, test_rp_pool_uring_enter_refused_later);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return t_main(make_suite, false);
}
