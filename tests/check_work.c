/* SPDX-License-Identifier: MIT */
/*
 * check_work.c - tests for the reusable work objects (lib/work.c):
 * rp_work_create, rp_work_submit, rp_work_wait, rp_work_close, and the
 * rp_pool_destroy rules that involve them.
 *
 * Every suite runs once per backend (t_main(..., true)).  Pools are created
 * inside the forked test bodies, never in a fixture.  Callbacks never call
 * ck_assert (they run on pool threads): they record what they saw, and the
 * test body asserts on it.
 *
 * Several tests hold a concurrency-1 pool busy with a *spinning* blocker (a
 * posted callback that stays on CPU until the test releases it), so that
 * submissions made meanwhile are known to be queued, not started.
 */
#include "config.h"

#include "helpers.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/internal.h"

/* Generous: the machines are 2-core and noisy. */
#define T_LONG_MS 60000u

/* ------------------------------------------------------------------ helpers */


/* A callback that counts its runs; with @spin_us it burns CPU first, so the
 * count moves only at the end of the callback. */
struct cnt {
	_Atomic unsigned long n;
	unsigned spin_us;
};

static void cnt_fn(void *arg)
{
	struct cnt *c = arg;

	if (c->spin_us)
		t_spin_us(c->spin_us);
	atomic_fetch_add(&c->n, 1);
}

struct cnt_cond {
	struct cnt *c;
	unsigned long target;
};

static bool cnt_reached(void *arg)
{
	struct cnt_cond *cc = arg;

	return atomic_load(&cc->c->n) >= cc->target;
}

static void cnt_wait(struct cnt *c, unsigned long target)
{
	struct cnt_cond cc = { c, target };

	ck_assert_msg(t_wait_until(cnt_reached, &cc, T_LONG_MS), "only %lu of %lu callbacks ran",
		      c->n, target);
}

static struct rp_stats stats(rp_pool *pool)
{
	struct rp_stats st;

	ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
	return st;
}

struct stats_cond {
	rp_pool *pool;
	unsigned long long completed;
};

static bool completed_reached(void *arg)
{
	struct stats_cond *c = arg;
	struct rp_stats st;

	return rp_pool_stats(c->pool, &st) == 0 && st.completed >= c->completed;
}

/* completed moves just after a callback returns: wait for it. */
static void completed_wait(rp_pool *pool, unsigned long long n)
{
	struct stats_cond c = { pool, n };

	ck_assert_msg(t_wait_until(completed_reached, &c, T_LONG_MS), "completed never reached %llu",
		      n);
}

/* ------------------------------------------------------------------ core */

/* Creating a work object runs nothing. */
START_TEST(test_rp_work_create_runs_nothing)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct cnt c = { 0 };
	rp_work *w = NULL;

	ck_assert_int_eq(rp_work_create(&w, pool, cnt_fn, &c), 0);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(rp_work_wait(w, false), 0);
	ck_assert_int_eq(rp_work_wait(w, true), 0);
	ck_assert_int_eq(rp_work_close(w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	ck_assert_uint_eq(c.n, 0);
}
END_TEST

/* One callback per submit, and rp_work_wait(false) returns only once all the
 * callbacks submitted so far have returned; the object is reusable. */
START_TEST(test_rp_work_submit_one_callback_each)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct cnt c = { 0, 200 };
	unsigned long total = 0;
	rp_work *w;

	ck_assert_int_eq(rp_work_create(&w, pool, cnt_fn, &c), 0);
	for (unsigned round = 1; round <= 20; round++) {
		for (unsigned i = 0; i < round; i++)
			ck_assert_int_eq(rp_work_submit(w), 0);
		total += round;
		ck_assert_int_eq(rp_work_wait(w, false), 0);
		/* Each callback counts at its very end: all must be in. */
		ck_assert_uint_eq(c.n, total);
	}
	ck_assert_int_eq(rp_work_close(w), 0);
	completed_wait(pool, total);
	ck_assert_uint_eq(stats(pool).completed, total);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	ck_assert_uint_eq(c.n, total);
}
END_TEST

/* A NULL pool is the default pool. */
START_TEST(test_rp_work_create_default_pool)
{
	struct cnt c = { 0 };
	rp_work *w;

	ck_assert_int_eq(rp_work_create(&w, NULL, cnt_fn, &c), 0);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(rp_work_submit(w), 0);
	ck_assert_int_eq(rp_work_wait(w, false), 0);
	ck_assert_uint_eq(c.n, 100);
	ck_assert_int_eq(rp_work_close(w), 0);
}
END_TEST

/* rp_work_wait(true) drops the submissions not yet started: they never run,
 * they leave the queued count, and they do not count as completed. */
START_TEST(test_rp_work_wait_cancel_drops_queued)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct cnt c = { 0 }, sentinel = { 0 };
	struct t_blocker b;
	struct rp_stats st;
	rp_work *w;

	ck_assert_int_eq(rp_work_create(&w, pool, cnt_fn, &c), 0);
	t_blocker_start(pool, &b);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(rp_work_submit(w), 0);
	ck_assert_uint_eq(stats(pool).queued, 100);
	/* None has started, so nothing is left to wait for. */
	ck_assert_int_eq(rp_work_wait(w, true), 0);
	ck_assert_uint_eq(stats(pool).queued, 0);
	/* Queued behind the dropped entries (FIFO among NORMAL tasks). */
	ck_assert_int_eq(rp_post(pool, cnt_fn, &sentinel), 0);
	ck_assert_uint_eq(stats(pool).queued, 1);
	t_event_set(&b.release);
	cnt_wait(&sentinel, 1);
	/* The blocker and the sentinel: not the 100 dropped entries. */
	completed_wait(pool, 2);
	st = stats(pool);
	ck_assert_uint_eq(st.completed, 2);
	ck_assert_uint_eq(st.queued, 0);
	/* The object still works after a cancel. */
	ck_assert_int_eq(rp_work_submit(w), 0);
	ck_assert_int_eq(rp_work_wait(w, false), 0);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_int_eq(rp_work_close(w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	ck_assert_uint_eq(c.n, 1);
}
END_TEST

/* rp_work_wait(true) still waits for the callbacks already running. */
struct held {
	struct t_event started;
	struct t_event release;
	_Atomic unsigned runs;
	_Atomic unsigned returned;
};

static void held_fn(void *arg)
{
	struct held *h = arg;

	atomic_fetch_add(&h->runs, 1);
	t_event_set(&h->started);
	while (!t_event_is_set(&h->release))
		t_busy_us(50);
	atomic_fetch_add(&h->returned, 1);
}

struct waiter {
	rp_work *w;
	bool cancel;
	struct held *h;
	_Atomic int ret;
	_Atomic bool done;
	_Atomic unsigned returned_at_exit; /* callbacks returned when the wait did */
};

static void *waiter_main(void *arg)
{
	struct waiter *wt = arg;
	int ret = rp_work_wait(wt->w, wt->cancel);

	atomic_store(&wt->returned_at_exit, atomic_load(&wt->h->returned));
	atomic_store(&wt->ret, ret);
	atomic_store(&wt->done, true);
	return NULL;
}

static bool queued_zero(void *arg)
{
	struct rp_stats st;

	return rp_pool_stats(arg, &st) == 0 && st.queued == 0;
}

START_TEST(test_rp_work_wait_cancel_waits_running)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct held h;
	struct waiter wt;
	pthread_t th;
	rp_work *w;

	memset(&h, 0, sizeof(h));
	ck_assert_int_eq(rp_work_create(&w, pool, held_fn, &h), 0);
	ck_assert_int_eq(rp_work_submit(w), 0);
	t_event_wait(&h.started);
	/* The running callback holds the only slot: these stay queued. */
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(rp_work_submit(w), 0);
	ck_assert_uint_eq(stats(pool).queued, 50);

	memset(&wt, 0, sizeof(wt));
	wt.w = w;
	wt.cancel = true;
	wt.h = &h;
	ck_assert_int_eq(pthread_create(&th, NULL, waiter_main, &wt), 0);
	/* The cancel is done once the queued count drops... */
	ck_assert(t_wait_until(queued_zero, pool, T_LONG_MS));
	/* ...but the wait goes on: the first callback still runs. */
	ck_assert(!wt.done);
	t_event_set(&h.release);
	pthread_join(th, NULL);
	ck_assert_int_eq(wt.ret, 0);
	ck_assert_uint_eq(wt.returned_at_exit, 1);
	ck_assert_int_eq(rp_work_close(w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	ck_assert_uint_eq(h.runs, 1);
}
END_TEST

/* Several threads may wait on one work object at once; none returns while
 * the callback runs. */
START_TEST(test_rp_work_wait_many_waiters)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct held h;
	struct waiter wt[4];
	pthread_t th[4];
	rp_work *w;

	memset(&h, 0, sizeof(h));
	ck_assert_int_eq(rp_work_create(&w, pool, held_fn, &h), 0);
	ck_assert_int_eq(rp_work_submit(w), 0);
	t_event_wait(&h.started);
	for (int i = 0; i < 4; i++) {
		memset(&wt[i], 0, sizeof(wt[i]));
		wt[i].w = w;
		wt[i].cancel = i & 1;
		wt[i].h = &h;
		ck_assert_int_eq(pthread_create(&th[i], NULL, waiter_main, &wt[i]), 0);
	}
	/* Give the waiters time to block (the check below holds whatever the
	 * timing: the callback is still running). */
	t_sleep_ms(20);
	for (int i = 0; i < 4; i++)
		ck_assert(!wt[i].done);
	t_event_set(&h.release);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(wt[i].ret, 0);
		ck_assert_uint_eq(wt[i].returned_at_exit, 1);
	}
	ck_assert_int_eq(rp_work_close(w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	ck_assert_uint_eq(h.runs, 1);
}
END_TEST

/* A callback may submit its own work object again. */
struct self_sub {
	rp_work *w;
	unsigned limit;
	_Atomic unsigned runs;
	_Atomic unsigned bad;
};

static void self_sub_fn(void *arg)
{
	struct self_sub *s = arg;
	unsigned n = atomic_fetch_add(&s->runs, 1) + 1;

	if (n < s->limit && rp_work_submit(s->w))
		atomic_fetch_add(&s->bad, 1);
}

static bool self_sub_done(void *arg)
{
	struct self_sub *s = arg;

	return atomic_load(&s->runs) >= s->limit;
}

START_TEST(test_rp_work_submit_from_own_callback)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct self_sub s = { .limit = 10000 };

	ck_assert_int_eq(rp_work_create(&s.w, pool, self_sub_fn, &s), 0);
	ck_assert_int_eq(rp_work_submit(s.w), 0);
	ck_assert(t_wait_until(self_sub_done, &s, T_LONG_MS));
	/* The last callback submitted nothing more: the chain has ended. */
	ck_assert_int_eq(rp_work_wait(s.w, false), 0);
	ck_assert_int_eq(rp_work_close(s.w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	ck_assert_uint_eq(s.bad, 0);
	ck_assert_uint_eq(s.runs, s.limit);
}
END_TEST

/* Submissions may overlap: two submits give two callbacks at once. */
struct overlap {
	_Atomic unsigned inside;
	_Atomic unsigned saw_both;
};

static void overlap_fn(void *arg)
{
	struct overlap *o = arg;
	uint64_t end = t_now_ns() + 30ull * 1000000000u;

	atomic_fetch_add(&o->inside, 1);
	while (atomic_load(&o->inside) < 2 && t_now_ns() < end)
		t_busy_us(20);
	if (atomic_load(&o->inside) >= 2)
		atomic_fetch_add(&o->saw_both, 1);
}

START_TEST(test_rp_work_submit_overlapping)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct overlap o = { 0 };
	rp_work *w;

	ck_assert_int_eq(rp_work_create(&w, pool, overlap_fn, &o), 0);
	ck_assert_int_eq(rp_work_submit(w), 0);
	ck_assert_int_eq(rp_work_submit(w), 0);
	ck_assert_int_eq(rp_work_wait(w, false), 0);
	ck_assert_uint_eq(o.inside, 2);
	ck_assert_uint_eq(o.saw_both, 2);
	ck_assert_int_eq(rp_work_close(w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* Close with submissions still queued: they still run. */
START_TEST(test_rp_work_close_queued_still_run)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct cnt c = { 0 };
	struct t_blocker b;
	rp_work *w;

	ck_assert_int_eq(rp_work_create(&w, pool, cnt_fn, &c), 0);
	t_blocker_start(pool, &b);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(rp_work_submit(w), 0);
	ck_assert_int_eq(rp_work_close(w), 0);
	w = NULL;
	ck_assert_uint_eq(stats(pool).queued, 100);
	ck_assert_uint_eq(c.n, 0);
	t_event_set(&b.release);
	cnt_wait(&c, 100);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	ck_assert_uint_eq(c.n, 100);
}
END_TEST

/* Close from the work's own callback; its later submits fail, the
 * submissions already queued still run, and destroy sees it closed. */
struct self_close {
	rp_work *w;
	_Atomic unsigned runs;
	_Atomic bool closed;
	_Atomic int close_ret;
	_Atomic unsigned submit_einval;
	_Atomic unsigned submit_other;
};

static void self_close_fn(void *arg)
{
	struct self_close *s = arg;
	bool was = false;

	if (atomic_compare_exchange_strong(&s->closed, &was, true))
		atomic_store(&s->close_ret, rp_work_close(s->w));
	/* Only callbacks of the closed object still touch it. */
	int ret = rp_work_submit(s->w);

	if (ret == -EINVAL)
		atomic_fetch_add(&s->submit_einval, 1);
	else
		atomic_fetch_add(&s->submit_other, 1);
	atomic_fetch_add(&s->runs, 1);
}

static bool close_ret_set(void *arg)
{
	struct self_close *s = arg;

	return atomic_load(&s->close_ret) != 1;
}

START_TEST(test_rp_work_close_from_own_callback)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct self_close s;
	struct t_blocker b;

	memset(&s, 0, sizeof(s));
	atomic_store(&s.close_ret, 1);
	ck_assert_int_eq(rp_work_create(&s.w, pool, self_close_fn, &s), 0);
	t_blocker_start(pool, &b);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(rp_work_submit(s.w), 0);
	t_event_set(&b.release);
	/* No wait and no close here: the object is the callbacks' now.  Once
	 * the first one has closed it, destroy must not see it open, and runs
	 * the rest. */
	ck_assert(t_wait_until(close_ret_set, &s, T_LONG_MS));
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	ck_assert_int_eq(s.close_ret, 0);
	ck_assert_uint_eq(s.runs, 10);
	ck_assert_uint_eq(s.submit_einval, 10);
	ck_assert_uint_eq(s.submit_other, 0);
}
END_TEST

/* Destroy returns -EBUSY while a work object of the pool is open, and the
 * pool keeps working; 0 once it is closed. */
START_TEST(test_rp_pool_destroy_busy_with_open_work)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct cnt c = { 0 }, d = { 0 };
	rp_work *w1, *w2;

	ck_assert_int_eq(rp_work_create(&w1, pool, cnt_fn, &c), 0);
	ck_assert_int_eq(rp_work_create(&w2, pool, cnt_fn, &c), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), -EBUSY);
	/* Unchanged and still serving. */
	ck_assert_int_eq(rp_post(pool, cnt_fn, &d), 0);
	cnt_wait(&d, 1);
	ck_assert_int_eq(rp_work_submit(w1), 0);
	ck_assert_int_eq(rp_work_wait(w1, false), 0);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_int_eq(rp_work_close(w1), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), -EBUSY);
	ck_assert_int_eq(rp_work_submit(w2), 0);
	ck_assert_int_eq(rp_work_close(w2), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	ck_assert_uint_eq(c.n, 2);
}
END_TEST

/* Destroy runs the submissions of closed work objects. */
START_TEST(test_rp_pool_destroy_runs_closed_work)
{
	rp_pool *pool = t_pool(0, 0, 0, 0);
	struct cnt c = { 0 };
	rp_work *w[4];

	for (int k = 0; k < 4; k++)
		ck_assert_int_eq(rp_work_create(&w[k], pool, cnt_fn, &c), 0);
	for (int i = 0; i < 2500; i++)
		for (int k = 0; k < 4; k++)
			ck_assert_int_eq(rp_work_submit(w[k]), 0);
	for (int k = 0; k < 4; k++)
		ck_assert_int_eq(rp_work_close(w[k]), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	ck_assert_uint_eq(c.n, 10000);
}
END_TEST

/* ------------------------------------------------------------------ errors */

START_TEST(test_rp_work_create_bad_args)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	rp_work *w = (rp_work *)&w; /* a sentinel: must stay untouched */
	struct cnt c = { 0 };

	ck_assert_int_eq(rp_work_create(NULL, pool, cnt_fn, &c), -EINVAL);
	ck_assert_int_eq(rp_work_create(&w, pool, NULL, &c), -EINVAL);
	ck_assert_ptr_eq(w, (rp_work *)&w);
	ck_assert_int_eq(rp_work_create(&w, NULL, NULL, NULL), -EINVAL);
	ck_assert_ptr_eq(w, (rp_work *)&w);
	ck_assert_int_eq(rp_work_create(NULL, NULL, cnt_fn, NULL), -EINVAL);
	/* No work object was left open: destroy is not refused. */
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	ck_assert_uint_eq(c.n, 0);
}
END_TEST

START_TEST(test_rp_work_null)
{
	ck_assert_int_eq(rp_work_submit(NULL), -EINVAL);
	ck_assert_int_eq(rp_work_wait(NULL, false), -EINVAL);
	ck_assert_int_eq(rp_work_wait(NULL, true), -EINVAL);
	ck_assert_int_eq(rp_work_close(NULL), -EINVAL);
}
END_TEST

/* rp_work_wait from the work's own callback: -EDEADLK, and a cancelling one
 * drops nothing. */
struct own_wait {
	rp_work *w;
	_Atomic unsigned runs;
	_Atomic int ret_plain;
	_Atomic int ret_cancel;
	_Atomic int ret_submit;
};

static void own_wait_fn(void *arg)
{
	struct own_wait *o = arg;

	if (atomic_fetch_add(&o->runs, 1) == 0) {
		/* A second submission, then both kinds of wait on ourselves. */
		atomic_store(&o->ret_submit, rp_work_submit(o->w));
		atomic_store(&o->ret_plain, rp_work_wait(o->w, false));
		atomic_store(&o->ret_cancel, rp_work_wait(o->w, true));
	}
}

START_TEST(test_rp_work_wait_own_callback)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct own_wait o;

	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(rp_work_create(&o.w, pool, own_wait_fn, &o), 0);
	ck_assert_int_eq(rp_work_submit(o.w), 0);
	ck_assert_int_eq(rp_work_wait(o.w, false), 0);
	ck_assert_int_eq(o.ret_submit, 0);
	ck_assert_int_eq(o.ret_plain, -EDEADLK);
	ck_assert_int_eq(o.ret_cancel, -EDEADLK);
	/* The second submission was not dropped by the failed cancel.  (It was
	 * made after our wait began, so wait once more.) */
	ck_assert_int_eq(rp_work_wait(o.w, false), 0);
	ck_assert_uint_eq(o.runs, 2);
	ck_assert_int_eq(rp_work_close(o.w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	ck_assert_uint_eq(o.runs, 2);
}
END_TEST

/* ------------------------------------------------------------------ limits */

/* A callback that waits for another work object of the same pool is a hinted
 * block: with concurrency 1, a chain of callbacks each waiting for the next
 * completes, one thread per level (up to max_threads). */
#define CHAIN 64

struct chain {
	rp_work *w[CHAIN];
	_Atomic unsigned runs[CHAIN];
	_Atomic unsigned done_before[CHAIN]; /* the next level had run when the wait returned */
	_Atomic unsigned bad;
};

static struct chain chain;

static void chain_fn(void *arg)
{
	unsigned i = (unsigned)(uintptr_t)arg;

	atomic_fetch_add(&chain.runs[i], 1);
	if (i + 1 < CHAIN) {
		if (rp_work_submit(chain.w[i + 1]) || rp_work_wait(chain.w[i + 1], false))
			atomic_fetch_add(&chain.bad, 1);
		if (atomic_load(&chain.runs[i + 1]) == 1)
			atomic_fetch_add(&chain.done_before[i], 1);
	}
}

START_TEST(test_rp_work_wait_nested_chain)
{
	rp_pool *pool = t_pool(1, 0, CHAIN + 8, 0);
	struct rp_stats st;

	memset(&chain, 0, sizeof(chain));
	for (unsigned i = 0; i < CHAIN; i++)
		ck_assert_int_eq(rp_work_create(&chain.w[i], pool, chain_fn, (void *)(uintptr_t)i), 0);
	ck_assert_int_eq(rp_work_submit(chain.w[0]), 0);
	ck_assert_int_eq(rp_work_wait(chain.w[0], false), 0);
	ck_assert_uint_eq(chain.bad, 0);
	for (unsigned i = 0; i < CHAIN; i++)
		ck_assert_uint_eq(chain.runs[i], 1);
	for (unsigned i = 0; i + 1 < CHAIN; i++)
		ck_assert_uint_eq(chain.done_before[i], 1);
	st = stats(pool);
	/* With one slot, no level could have run before its parent waited:
	 * every wait blocked, and said so. */
	ck_assert_uint_ge(st.blocks_hinted, CHAIN - 1);
	ck_assert_uint_le(st.threads, CHAIN + 8);
	for (unsigned i = 0; i < CHAIN; i++)
		ck_assert_int_eq(rp_work_close(chain.w[i]), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* More submissions of one object than the lock-free ring holds. */
START_TEST(test_rp_work_submit_overflow)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct cnt c = { 0 };
	struct t_blocker b;
	rp_work *w;
	const unsigned n = 50000;

	ck_assert_int_eq(rp_work_create(&w, pool, cnt_fn, &c), 0);
	t_blocker_start(pool, &b);
	for (unsigned i = 0; i < n; i++)
		ck_assert_int_eq(rp_work_submit(w), 0);
	ck_assert_uint_eq(stats(pool).queued, n);
	t_event_set(&b.release);
	ck_assert_int_eq(rp_work_wait(w, false), 0);
	ck_assert_uint_eq(c.n, n);
	/* Again, cancelling half-way through the queue. */
	t_blocker_start(pool, &b);
	for (unsigned i = 0; i < n; i++)
		ck_assert_int_eq(rp_work_submit(w), 0);
	ck_assert_int_eq(rp_work_wait(w, true), 0);
	ck_assert_uint_eq(stats(pool).queued, 0);
	t_event_set(&b.release);
	ck_assert_int_eq(rp_work_close(w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	ck_assert_uint_eq(c.n, n);
}
END_TEST

/* ------------------------------------------------------------------ environments */

/* An environment that is NULL or all zero is the plain pool. */
START_TEST(test_rp_work_create_env_plain)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rp_env zero = { 0 };
	struct cnt c = { 0 };
	rp_work *a, *b;

	ck_assert_int_eq(rp_work_create_env(&a, pool, cnt_fn, &c, NULL), 0);
	ck_assert_int_eq(rp_work_create_env(&b, pool, cnt_fn, &c, &zero), 0);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(rp_work_submit(a), 0);
		ck_assert_int_eq(rp_work_submit(b), 0);
	}
	ck_assert_int_eq(rp_work_wait(a, false), 0);
	ck_assert_int_eq(rp_work_wait(b, false), 0);
	ck_assert_uint_eq(c.n, 20);
	ck_assert_uint_eq(stats(pool).blocks_hinted, 0);
	ck_assert_int_eq(rp_work_close(a), 0);
	ck_assert_int_eq(rp_work_close(b), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* Bad environments change nothing and say why. */
START_TEST(test_rp_work_create_env_bad)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	rp_work *sentinel = (rp_work *)(uintptr_t)0x77, *w = sentinel;
	struct cnt c = { 0 };
	struct rp_env env;

	for (int i = 0; i < 5; i++) {
		memset(&env, 0, sizeof(env));
		env.resv[i] = 1;
		ck_assert_int_eq(rp_work_create_env(&w, pool, cnt_fn, &c, &env), -EINVAL);
	}
	memset(&env, 0, sizeof(env));
	env.flags = RP_RUNS_LONG << 1;
	ck_assert_int_eq(rp_work_create_env(&w, pool, cnt_fn, &c, &env), -EINVAL);
	/* Another pool's queue. */
	{
		rp_pool *other = t_pool(1, 0, 0, 0);
		rp_queue *oq;

		ck_assert_int_eq(rp_queue_create(&oq, other, 1, RP_PRIORITY_NORMAL, NULL), 0);
		memset(&env, 0, sizeof(env));
		env.queue = oq;
		ck_assert_int_eq(rp_work_create_env(&w, pool, cnt_fn, &c, &env), -EINVAL);
		ck_assert_int_eq(rp_queue_close(oq), 0);
		ck_assert_int_eq(rp_pool_destroy(other), 0);
	}
	/* Another pool's cleanup group. */
	{
		rp_pool *other = t_pool(1, 0, 0, 0);
		rp_cleanup *oc;

		ck_assert_int_eq(rp_cleanup_create(&oc, other), 0);
		memset(&env, 0, sizeof(env));
		env.cleanup = oc;
		ck_assert_int_eq(rp_work_create_env(&w, pool, cnt_fn, &c, &env), -EINVAL);
		ck_assert_int_eq(rp_cleanup_destroy(oc), 0);
		ck_assert_int_eq(rp_pool_destroy(other), 0);
	}
	memset(&env, 0, sizeof(env));
	ck_assert_int_eq(rp_work_create_env(&w, pool, NULL, &c, &env), -EINVAL);
	ck_assert_int_eq(rp_work_create_env(NULL, pool, cnt_fn, &c, &env), -EINVAL);
	ck_assert_ptr_eq(w, sentinel);
	/* Nothing was created: destroy does not see an open object. */
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* A callback that blocks without a hint, in a gate. */
struct long_gate {
	struct t_event open;
	_Atomic unsigned in;
};

static void long_fn(void *arg)
{
	struct long_gate *g = arg;

	atomic_fetch_add(&g->in, 1);
	t_event_wait(&g->open);
}

static bool long_in(void *arg)
{
	return atomic_load(&((struct long_gate *)arg)->in) == 3;
}

/*
 * RP_RUNS_LONG: the callbacks start inside a hinted block, so three of
 * them blocking (without hints of their own) on a concurrency-1 pool hold
 * no slot: a plain post still runs at once, and no detection is needed.
 */
START_TEST(test_rp_work_create_env_runs_long)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct rp_env env = { .flags = RP_RUNS_LONG };
	struct long_gate g = { 0 };
	struct cnt c = { 0 };
	struct rp_stats st;
	rp_work *w;

	ck_assert_int_eq(rp_work_create_env(&w, pool, long_fn, &g, &env), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(rp_work_submit(w), 0);
	ck_assert_msg(t_wait_until(long_in, &g, T_LONG_MS), "only %u of 3 started",
		      atomic_load(&g.in));
	ck_assert_int_eq(rp_post(pool, cnt_fn, &c), 0);
	cnt_wait(&c, 1);
	st = stats(pool);
	ck_assert_uint_eq(st.blocks_hinted, 3);
	ck_assert_uint_eq(st.blocked, 3);
	t_event_set(&g.open);
	ck_assert_int_eq(rp_work_wait(w, false), 0);
	st = stats(pool);
	ck_assert_uint_eq(st.blocked, 0);
	ck_assert_int_eq(rp_work_close(w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* ------------------------------------------------------------------ faults */

/*
 * Defect B: a submission whose post fails (out of memory for a queue
 * block) while a cancel marks the queue.  The fault site's hook runs inside
 * the failing allocation, so the interleaving is forced, not hoped for:
 * the cancel sees the failing submission's entry counted, and, with
 * @resubmit, more submissions land before that entry is taken back.
 * Every count must stay exact: the cancelled entries never run, every
 * later submission runs once, waits wait for exactly those, and the
 * pool's queued count is right throughout.
 */
struct undo_race {
	rp_work *w;
	unsigned resubmit;
	_Atomic int wait_ret, submit_bad;
};

static void cancel_hook(void *arg)
{
	struct undo_race *r = arg;

	atomic_store(&r->wait_ret, rp_work_wait(r->w, true));
	for (unsigned i = 0; i < r->resubmit; i++)
		if (rp_work_submit(r->w))
			atomic_fetch_add(&r->submit_bad, 1);
}

static void check_submit_undo(unsigned resubmit, bool cancel)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct undo_race r = { .resubmit = resubmit, .wait_ret = 1 };
	struct cnt c = { 0 };
	struct t_blocker b;
	unsigned ok = 0;
	int ret = 0;

	ck_assert_int_eq(rp_work_create(&r.w, pool, cnt_fn, &c), 0);
	t_blocker_start(pool, &b);
	/* The next queue block the shared queue needs fails once. */
	rp__fault_set(RP_FAULT_ALLOC_QBLOCK, 0, 1, ENOMEM, cancel ? cancel_hook : NULL, &r);
	for (unsigned i = 0; i < 2 * RP_FIFO_BLOCK_SLOTS && !(ret = rp_work_submit(r.w)); i++)
		ok++;
	rp__fault_reset();
	ck_assert_int_eq(ret, -ENOMEM);
	t_assert_i(atomic_load(&r.submit_bad), ==, 0);
	if (cancel) {
		t_assert_i(atomic_load(&r.wait_ret), ==, 0);
		/* Only the hook's submissions wait; the blocker runs. */
		ck_assert_uint_eq(stats(pool).queued, resubmit);
	} else {
		ck_assert_uint_eq(stats(pool).queued, ok);
	}
	/* Ten more, then let everything run. */
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(rp_work_submit(r.w), 0);
	t_event_set(&b.release);
	ck_assert_int_eq(rp_work_wait(r.w, false), 0);
	ck_assert_uint_eq(c.n, (cancel ? resubmit : ok) + 10);
	ck_assert_uint_eq(stats(pool).queued, 0);
	/* And the object still counts right. */
	ck_assert_int_eq(rp_work_submit(r.w), 0);
	ck_assert_int_eq(rp_work_wait(r.w, false), 0);
	ck_assert_uint_eq(c.n, (cancel ? resubmit : ok) + 11);
	ck_assert_int_eq(rp_work_close(r.w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	ck_assert_uint_eq(c.n, (cancel ? resubmit : ok) + 11);
}

START_TEST(test_rp_work_submit_fails_alone)
{
	check_submit_undo(0, false);
}
END_TEST

START_TEST(test_rp_work_submit_fails_under_cancel)
{
	check_submit_undo(0, true);
}
END_TEST

START_TEST(test_rp_work_submit_fails_under_cancel_and_submits)
{
	check_submit_undo(3, true);
}
END_TEST

/* A callback that ends its thread: the pool loses the thread, not the
 * slot, and the work object counts the callback finished. */
static void exit_fn(void *arg)
{
	atomic_fetch_add((_Atomic unsigned long *)arg, 1);
	pthread_exit(NULL);
}

static bool three_retired(void *arg)
{
	struct rp_stats st;

	return rp_pool_stats(arg, &st) == 0 && st.threads_retired >= 3;
}

START_TEST(test_rp_work_wait_callback_exits_thread)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	_Atomic unsigned long n = 0;
	struct cnt c = { 0 };
	rp_work *w;

	ck_assert_int_eq(rp_work_create(&w, pool, exit_fn, (void *)&n), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(rp_work_submit(w), 0);
	ck_assert_int_eq(rp_work_wait(w, false), 0);
	t_assert_u(atomic_load(&n), ==, 3);
	ck_assert_int_eq(rp_work_close(w), 0);
	/* The only slot is free again. */
	ck_assert_int_eq(rp_post(pool, cnt_fn, &c), 0);
	cnt_wait(&c, 1);
	/* The threads finish leaving after their slots moved on. */
	ck_assert(t_wait_until(three_retired, pool, T_LONG_MS));
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* ------------------------------------------------------------------ concurrency */

/* Pool concurrency 1: callback A submits B and waits for it: it completes.
 * Also from a plain posted callback. */
struct ab {
	rp_work *a, *b;
	struct cnt bc;
	_Atomic int wait_ret;
	_Atomic unsigned long b_at_return;
};

static void a_fn(void *arg)
{
	struct ab *x = arg;
	int ret = rp_work_submit(x->b);

	if (!ret)
		ret = rp_work_wait(x->b, false);
	atomic_store(&x->b_at_return, atomic_load(&x->bc.n));
	atomic_store(&x->wait_ret, ret);
}

static bool wait_ret_set(void *arg)
{
	struct ab *x = arg;

	return atomic_load(&x->wait_ret) != 1;
}

START_TEST(test_rp_work_wait_other_work_concurrency_1)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct ab x;

	memset(&x, 0, sizeof(x));
	x.bc.spin_us = 1000;
	atomic_store(&x.wait_ret, 1);
	ck_assert_int_eq(rp_work_create(&x.a, pool, a_fn, &x), 0);
	ck_assert_int_eq(rp_work_create(&x.b, pool, cnt_fn, &x.bc), 0);
	ck_assert_int_eq(rp_work_submit(x.a), 0);
	ck_assert_int_eq(rp_work_wait(x.a, false), 0);
	ck_assert_int_eq(x.wait_ret, 0);
	ck_assert_uint_eq(x.b_at_return, 1);

	/* The same from a posted (non-work) callback. */
	atomic_store(&x.wait_ret, 1);
	ck_assert_int_eq(rp_post(pool, a_fn, &x), 0);
	ck_assert_int_eq(rp_work_close(x.a), 0);
	/* b must stay open until the posted callback's wait has returned. */
	ck_assert(t_wait_until(wait_ret_set, &x, T_LONG_MS));
	ck_assert_int_eq(x.wait_ret, 0);
	ck_assert_uint_eq(x.b_at_return, 2);
	ck_assert_int_eq(rp_work_close(x.b), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	ck_assert_uint_eq(x.bc.n, 2);
}
END_TEST

/* Many threads submit one object at once: one callback per submit. */
struct subs {
	rp_work *w;
	struct t_event go;
	_Atomic unsigned ok;
	_Atomic unsigned bad;
};

#define SUBMITTERS 4
#define SUBMITS 25000u

static void *submitter_main(void *arg)
{
	struct subs *s = arg;

	t_event_wait(&s->go);
	for (unsigned i = 0; i < SUBMITS; i++) {
		if (rp_work_submit(s->w))
			atomic_fetch_add(&s->bad, 1);
		else
			atomic_fetch_add(&s->ok, 1);
		/* Waits from other threads, at the same time. */
		if (i % 5000 == 4999 && rp_work_wait(s->w, false))
			atomic_fetch_add(&s->bad, 1);
	}
	return NULL;
}

START_TEST(test_rp_work_submit_many_threads)
{
	rp_pool *pool = t_pool(0, 0, 0, 0);
	static struct subs s;
	struct cnt c = { 0 };
	pthread_t th[SUBMITTERS];
	const unsigned long total = (unsigned long)SUBMITTERS * SUBMITS;

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(rp_work_create(&s.w, pool, cnt_fn, &c), 0);
	for (int i = 0; i < SUBMITTERS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, submitter_main, &s), 0);
	t_event_set(&s.go);
	for (int i = 0; i < SUBMITTERS; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(rp_work_wait(s.w, false), 0);
	ck_assert_uint_eq(s.bad, 0);
	ck_assert_uint_eq(s.ok, total);
	ck_assert_uint_eq(c.n, total);
	completed_wait(pool, total);
	ck_assert_uint_eq(stats(pool).completed, total);
	ck_assert_int_eq(rp_work_close(s.w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	ck_assert_uint_eq(c.n, total);
}
END_TEST

/* Many threads create, submit, sometimes wait, and close their own work
 * objects at once; closes race with the objects' own callbacks. */
struct churn {
	rp_pool *pool;
	struct t_event go;
	struct cnt c;
	_Atomic unsigned long ok;
	_Atomic unsigned bad;
};

static void *churn_main(void *arg)
{
	struct churn *ch = arg;

	t_event_wait(&ch->go);
	for (unsigned i = 0; i < 2000; i++) {
		rp_work *w;

		if (rp_work_create(&w, ch->pool, cnt_fn, &ch->c)) {
			atomic_fetch_add(&ch->bad, 1);
			continue;
		}
		for (unsigned k = 0; k < i % 7; k++) {
			if (rp_work_submit(w))
				atomic_fetch_add(&ch->bad, 1);
			else
				atomic_fetch_add(&ch->ok, 1);
		}
		if (i % 3 == 0 && rp_work_wait(w, false))
			atomic_fetch_add(&ch->bad, 1);
		if (rp_work_close(w))
			atomic_fetch_add(&ch->bad, 1);
	}
	return NULL;
}

START_TEST(test_rp_work_create_close_many_threads)
{
	static struct churn ch;
	pthread_t th[4];

	memset(&ch, 0, sizeof(ch));
	ch.pool = t_pool(0, 0, 0, 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, churn_main, &ch), 0);
	t_event_set(&ch.go);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	ck_assert_uint_eq(ch.bad, 0);
	/* All closed: destroy is allowed and runs what is left. */
	ck_assert_int_eq(rp_pool_destroy(ch.pool), 0);
	ck_assert_uint_eq(ch.c.n, ch.ok);
	ck_assert_uint_gt(ch.ok, 0);
}
END_TEST

/* Fan-out with nested waits: callbacks of a parent object submit a child
 * object several times and wait for it, on a concurrency-1 pool. */
struct fan {
	rp_work *parent, *child;
	struct cnt cc;
	_Atomic unsigned bad;
	_Atomic unsigned parents;
};

static void fan_parent_fn(void *arg)
{
	struct fan *f = arg;

	for (int i = 0; i < 10; i++)
		if (rp_work_submit(f->child))
			atomic_fetch_add(&f->bad, 1);
	if (rp_work_wait(f->child, false))
		atomic_fetch_add(&f->bad, 1);
	atomic_fetch_add(&f->parents, 1);
}

START_TEST(test_rp_work_wait_fan_out)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct fan f;

	memset(&f, 0, sizeof(f));
	f.cc.spin_us = 100;
	ck_assert_int_eq(rp_work_create(&f.parent, pool, fan_parent_fn, &f), 0);
	ck_assert_int_eq(rp_work_create(&f.child, pool, cnt_fn, &f.cc), 0);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(rp_work_submit(f.parent), 0);
	ck_assert_int_eq(rp_work_wait(f.parent, false), 0);
	ck_assert_uint_eq(f.parents, 20);
	ck_assert_uint_eq(f.bad, 0);
	ck_assert_uint_eq(f.cc.n, 200);
	ck_assert_int_eq(rp_work_close(f.parent), 0);
	ck_assert_int_eq(rp_work_close(f.child), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* ------------------------------------------------------------------ suite */

static Suite *make_suite(void)
{
	Suite *s = suite_create("work");
	TCase *tc;

	tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_work_create_runs_nothing);
	tcase_add_test(tc, test_rp_work_submit_one_callback_each);
	tcase_add_test(tc, test_rp_work_create_default_pool);
	tcase_add_test(tc, test_rp_work_wait_cancel_drops_queued);
	tcase_add_test(tc, test_rp_work_wait_cancel_waits_running);
	tcase_add_test(tc, test_rp_work_wait_many_waiters);
	tcase_add_test(tc, test_rp_work_submit_from_own_callback);
	tcase_add_test(tc, test_rp_work_submit_overlapping);
	tcase_add_test(tc, test_rp_work_close_queued_still_run);
	tcase_add_test(tc, test_rp_work_close_from_own_callback);
	tcase_add_test(tc, test_rp_pool_destroy_busy_with_open_work);
	tcase_add_test(tc, test_rp_pool_destroy_runs_closed_work);
	tcase_add_test(tc, test_rp_work_create_env_plain);
	tcase_add_test(tc, test_rp_work_create_env_runs_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_work_create_bad_args);
	tcase_add_test(tc, test_rp_work_null);
	tcase_add_test(tc, test_rp_work_wait_own_callback);
	tcase_add_test(tc, test_rp_work_create_env_bad);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_work_wait_nested_chain);
	tcase_add_test(tc, test_rp_work_submit_overflow);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_work_submit_fails_alone);
	tcase_add_test(tc, test_rp_work_submit_fails_under_cancel);
	tcase_add_test(tc, test_rp_work_submit_fails_under_cancel_and_submits);
	tcase_add_test(tc, test_rp_work_wait_callback_exits_thread);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrency");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_work_wait_other_work_concurrency_1);
	tcase_add_test(tc, test_rp_work_submit_many_threads);
	tcase_add_test(tc, test_rp_work_create_close_many_threads);
	tcase_add_test(tc, test_rp_work_wait_fan_out);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return t_main(make_suite, true);
}
