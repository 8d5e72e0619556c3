/* SPDX-License-Identifier: MIT */
/*
 * Park and kick (lib/backend.h), for each backend, on a worker structure
 * of the test's own: a kick wakes a parked worker; a wake word set before
 * the park needs no kick; a kick with nobody parked is a harmless spurious
 * wake-up later; a park with a deadline times out; and a worker may give
 * its ring back once its kicks have drained.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "../lib/internal.h"

struct parked {
	rp_pool *pool;
	struct rp_worker *w;
	_Atomic int started, woke;
};

static struct rp_worker *fake_worker(rp_pool *pool)
{
	struct rp_worker *w = calloc(1, sizeof(*w));

	ck_assert_ptr_nonnull(w);
	w->pool = pool;
	rp__monitor_init(&w->mon);
	/* As the idle path does before it joins the stack: a ring, within
	 * the budget (io_uring backend). */
	pool->ops->worker_prepare(pool, w);
	return w;
}

static void fake_worker_free(rp_pool *pool, struct rp_worker *w)
{
	pool->ops->worker_fini(pool, w);
	free(w);
}

/* The parked side of backend.h's protocol. */
static void *park_main(void *arg)
{
	struct parked *p = arg;

	atomic_store(&p->started, 1);
	while (atomic_load_explicit(&p->w->wake, memory_order_acquire) == RP_WAKE_NONE)
		p->pool->ops->park(p->pool, p->w, 0);
	atomic_store(&p->woke, 1);
	return NULL;
}

/* The waker's side: word, kick count, kick. */
static void wake(rp_pool *pool, struct rp_worker *w)
{
	atomic_fetch_add(&w->kicks, 1);
	atomic_store_explicit(&w->wake, RP_WAKE_WORK, memory_order_release);
	pool->ops->kick(pool, w);
	atomic_fetch_sub_explicit(&w->kicks, 1, memory_order_release);
}

static bool woke(void *arg)
{
	return atomic_load(&((struct parked *)arg)->woke);
}

START_TEST(test_backend_kick_wakes_parked)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct parked p = { .pool = pool };
	pthread_t t;

	p.w = fake_worker(pool);
	if (!strcmp(t_backend(), "uring"))
		ck_assert_ptr_nonnull(atomic_load(&p.w->ring));
	for (int round = 0; round < 20; round++) {
		atomic_store(&p.w->wake, RP_WAKE_NONE);
		atomic_store(&p.woke, 0);
		ck_assert_int_eq(pthread_create(&t, NULL, park_main, &p), 0);
		if (round % 2)
			t_sleep_ms(2); /* asleep by now, usually */
		wake(pool, p.w);
		ck_assert_msg(t_wait_until(woke, &p, 10000), "round %d: the kick was lost", round);
		pthread_join(t, NULL);
	}
	fake_worker_free(pool, p.w);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* A kick that finds nobody parked is a spurious wake-up of the next park,
 * which the loop absorbs: the worker sleeps again until its word is set. */
START_TEST(test_backend_late_kick)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct parked p = { .pool = pool };
	pthread_t t;

	p.w = fake_worker(pool);
	pool->ops->kick(pool, p.w);
	pool->ops->kick(pool, p.w);
	ck_assert_int_eq(pthread_create(&t, NULL, park_main, &p), 0);
	t_sleep_ms(50);
	ck_assert(!atomic_load(&p.woke));
	wake(pool, p.w);
	ck_assert(t_wait_until(woke, &p, 10000));
	pthread_join(t, NULL);
	fake_worker_free(pool, p.w);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* A park with a deadline returns -ETIMEDOUT once it passes, not before. */
START_TEST(test_backend_park_deadline)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct rp_worker *w = fake_worker(pool);
	uint64_t t0 = t_now_ns(), deadline = t0 + 20000000u;
	int ret;

	do
		ret = pool->ops->park(pool, w, deadline);
	while (ret != -ETIMEDOUT && t_now_ns() < t0 + 10000000000ull);
	t_assert_i(ret, ==, -ETIMEDOUT);
	t_assert_u(t_now_ns(), >=, deadline);
	fake_worker_free(pool, w);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

Suite *make_suite(void);
Suite *make_suite(void)
{
	Suite *s = suite_create("backend");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_backend_kick_wakes_parked);
	tcase_add_test(tc, test_backend_late_kick);
	tcase_add_test(tc, test_backend_park_deadline);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return t_main(make_suite, true);
}
