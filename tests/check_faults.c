/* SPDX-License-Identifier: MIT */
/*
 * check_faults.c - accepted work always runs, whatever runs out: threads
 * (RLIMIT_NPROC, pthread_create() failing), memory at every allocation
 * site, the regulator's thread.  The library's fault sites (lib/fault.h)
 * fail on command, so every failure path runs deterministically, under
 * both backends.  The allocation sweep runs in the ASan build in CI.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "helpers.h"
#include "../lib/internal.h"
#include "rings.h"

#define T_LONG_MS 20000u

static void count(void *arg)
{
	atomic_fetch_add((_Atomic unsigned *)arg, 1);
}

static bool no_threads(void *arg)
{
	struct rp_stats st;

	return rp_pool_stats(arg, &st) == 0 && st.threads == 0;
}

struct target {
	_Atomic unsigned *n;
	unsigned want;
};

static bool reached(void *arg)
{
	struct target *t = arg;

	return atomic_load(t->n) >= t->want;
}

/* An idle pool with no worker left (min_threads 0, a short idle timeout). */
static rp_pool *empty_pool(unsigned concurrency)
{
	rp_pool *pool = t_pool(concurrency, 0, 0, 20);
	_Atomic unsigned n = 0;
	struct target t = { &n, 1 };

	ck_assert_int_eq(rp_post(pool, count, &n), 0);
	ck_assert(t_wait_until(reached, &t, T_LONG_MS));
	ck_assert_msg(t_wait_until(no_threads, pool, T_LONG_MS), "workers did not retire");
	return pool;
}

/* ------------------------------------------------------------------ threads */

/*
 * Defect A: a post accepted while no worker can be started.  It returns 0,
 * so its callback must run, as soon as a thread can be created again, with
 * no other post to kick the pool.
 */
START_TEST(test_rp_post_no_thread_runs_later)
{
	rp_pool *pool = empty_pool(2);
	_Atomic unsigned n = 0;
	struct target t = { &n, 1 };
	struct rp_stats st;

	rp__fault_set(RP_FAULT_THREAD, 0, 5, EAGAIN, NULL, NULL);
	ck_assert_int_eq(rp_post(pool, count, &n), 0);
	if (!t_wait_until(reached, &t, T_LONG_MS)) {
		t_dump(pool, "the accepted task never ran");
		ck_abort();
	}
	/* Five creations failed, the sixth ran it: the regulator retried. */
	t_assert_u(atomic_load(&rp__faults[RP_FAULT_THREAD].hits), ==, 5);
	t_assert_u(atomic_load(&pool->reg.spawn_retries), >=, 5);
	ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.queued, 0);
	rp__fault_reset();
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

struct on_thread {
	_Atomic unsigned n;
	_Atomic unsigned elsewhere;
	int tid;
};

static void record_thread(void *arg)
{
	struct on_thread *o = arg;

	if (t_gettid() != o->tid)
		atomic_fetch_add(&o->elsewhere, 1);
	atomic_fetch_add(&o->n, 1);
}

/*
 * No thread can ever be created: destroy still runs every accepted task
 * (on its own thread) and returns, instead of waiting for ever.
 */
START_TEST(test_rp_pool_destroy_runs_work_without_threads)
{
	rp_pool *pool = empty_pool(2);
	struct on_thread o = { .tid = t_gettid() };

	rp__fault_set(RP_FAULT_THREAD, 0, -1, EAGAIN, NULL, NULL);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(rp_post(pool, record_thread, &o), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	rp__fault_reset();
	t_assert_u(atomic_load(&o.n), ==, 100);
	t_assert_u(atomic_load(&o.elsewhere), ==, 0);
}
END_TEST

/* A tree of hinted parents waiting for their children. */
struct node {
	rp_pool *pool;
	int depth;
	struct t_event done;
	_Atomic unsigned *leaves;
};

static void tree(void *arg)
{
	struct node *n = arg;

	if (n->depth > 0) {
		struct node c[2];

		for (int i = 0; i < 2; i++) {
			c[i] = (struct node){ .pool = n->pool, .depth = n->depth - 1,
					      .leaves = n->leaves };
			/* From a callback: nothing may fail here. */
			if (rp_post(n->pool, tree, &c[i]))
				abort();
		}
		rp_blocking_begin();
		t_event_wait(&c[0].done);
		t_event_wait(&c[1].done);
		rp_blocking_end();
	} else {
		atomic_fetch_add(n->leaves, 1);
	}
	t_event_set(&n->done);
}

static bool event_set(void *arg)
{
	return t_event_is_set(arg);
}

/*
 * Thread creation fails for a while in the middle of a tree of hinted
 * waits (a transient RLIMIT_NPROC): the tree still completes, without any
 * outside post to wake the pool.  Before, it stalled for good with every
 * worker blocked and the children queued.
 */
START_TEST(test_rp_blocking_begin_no_thread_tree)
{
	rp_pool *pool = empty_pool(2);
	_Atomic unsigned leaves = 0;
	struct node root = { .pool = pool, .depth = 6, .leaves = &leaves };

	rp__fault_set(RP_FAULT_THREAD, 3, 20, EAGAIN, NULL, NULL);
	ck_assert_int_eq(rp_post(pool, tree, &root), 0);
	if (!t_wait_until(event_set, &root.done, T_LONG_MS)) {
		t_dump(pool, "the tree stalled");
		ck_abort();
	}
	t_assert_u(atomic_load(&leaves), ==, 64);
	t_assert_u(atomic_load(&rp__faults[RP_FAULT_THREAD].hits), >, 0);
	rp__fault_reset();
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/*
 * The regulator, which starts workers when nothing else can, comes with
 * the pool's first post; a post that cannot start it fails and queues
 * nothing.
 */
START_TEST(test_rp_post_no_regulator_eagain)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	_Atomic unsigned n = 0;
	struct target t = { &n, 1 };
	struct rp_stats st;

	rp__fault_set(RP_FAULT_THREAD_REG, 0, 1, EAGAIN, NULL, NULL);
	ck_assert_int_eq(rp_post(pool, count, &n), -EAGAIN);
	ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.queued, 0);
	ck_assert_uint_eq(st.threads, 0);
	ck_assert(!atomic_load(&pool->reg.started));
	/* The next post starts it. */
	ck_assert_int_eq(rp_post(pool, count, &n), 0);
	ck_assert(atomic_load(&pool->reg.started));
	ck_assert(t_wait_until(reached, &t, T_LONG_MS));
	rp__fault_reset();
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	t_assert_u(atomic_load(&n), ==, 1);
}
END_TEST

/* ------------------------------------------------------------------ io_uring, perf */

static void done_fn(void *arg)
{
	t_latch_done(arg);
}

/* One post at a time to a pool whose workers park between them. */
static void serve(rp_pool *pool, int n)
{
	struct t_latch l;

	for (int i = 0; i < n; i++) {
		t_latch_init(&l, 1);
		ck_assert_int_eq(rp_post(pool, done_fn, &l), 0);
		t_latch_wait(&l);
		t_sleep_ms(2);
	}
}

/*
 * io_uring_enter() starts failing with EPERM while the pool runs: parks
 * and doorbells sent from worker rings fail.  Every worker moves to its
 * futex word, the pool keeps serving, and, idle, burns no CPU.
 */
START_TEST(test_rp_post_uring_enter_fails)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	unsigned long long cpu;

	if (strcmp(pool->ops->name, "uring")) {
		ck_assert_int_eq(rp_pool_destroy(pool), 0);
		return;
	}
	serve(pool, 10);
	if (!t_rings_made(pool, __func__)) {
		ck_assert_int_eq(rp_pool_destroy(pool), 0);
		return;
	}
	rp__fault_set(RP_FAULT_URING_ENTER, 0, -1, EPERM, NULL, NULL);
	serve(pool, 20);
	ck_assert(!atomic_load(&pool->bk.uring));
	t_sleep_ms(50);
	cpu = t_others_cpu_ms();
	t_sleep_ms(300);
	cpu = t_others_cpu_ms() - cpu;
	ck_assert_msg(cpu <= 20, "an idle pool used %llu ms of CPU in 300 ms", cpu);
	serve(pool, 5);
	rp__fault_reset();
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* io_uring_register() refused: outside threads wake ring-parked workers
 * through the pool's sender ring instead. */
START_TEST(test_rp_post_uring_register_fails)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);

	if (strcmp(pool->ops->name, "uring")) {
		ck_assert_int_eq(rp_pool_destroy(pool), 0);
		return;
	}
	rp__fault_set(RP_FAULT_URING_REGISTER, 0, -1, EPERM, NULL, NULL);
	serve(pool, 10);
	if (!t_rings_made(pool, __func__)) {
		rp__fault_reset();
		ck_assert_int_eq(rp_pool_destroy(pool), 0);
		return;
	}
	serve(pool, 20);
	t_assert_u(atomic_load(&pool->bk.kicks_ring), >, 0);
	ck_assert_ptr_nonnull(pool->bk.sender);
	rp__fault_reset();
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

struct sleeper {
	struct t_event release;
	_Atomic int started;
};

static void unhinted_sleeper(void *arg)
{
	struct sleeper *s = arg;

	atomic_store(&s->started, 1);
	t_event_wait(&s->release); /* a futex wait, no hint */
}

static bool sleeper_started(void *arg)
{
	return atomic_load(&((struct sleeper *)arg)->started);
}

/* perf_event_open() refused: workers are sampled through /proc, and an
 * unhinted block is still seen. */
START_TEST(test_rp_post_perf_refused)
{
	rp_pool *pool;
	struct sleeper s = { 0 };
	_Atomic unsigned n = 0;
	struct target t = { &n, 1 };
	struct rp_stats st;

	unsetenv("RINGPOOL_MONITOR");
	rp__fault_set(RP_FAULT_PERF, 0, -1, EACCES, NULL, NULL);
	pool = t_pool(1, 0, 0, 0);
	ck_assert_int_eq(rp_post(pool, unhinted_sleeper, &s), 0);
	ck_assert(t_wait_until(sleeper_started, &s, T_LONG_MS));
	ck_assert_int_eq(rp_post(pool, count, &n), 0);
	if (!t_wait_until(reached, &t, T_LONG_MS)) {
		t_dump(pool, "the task behind an unhinted block never ran");
		ck_abort();
	}
	ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
	ck_assert_uint_ge(st.blocks_detected, 1);
	t_assert_u(atomic_load(&pool->reg.monitors), ==, 0);
	/* Refused at creation, to the pool's probe (monitor.c), unless the
	 * pool had no perf budget to begin with (RLIMIT_MEMLOCK; never as
	 * root, who has CAP_IPC_LOCK). */
	if (atomic_load(&rp__faults[RP_FAULT_PERF].hits) > 0) {
		ck_assert(!pool->reg.perf_ok);
	} else {
		ck_assert_msg(geteuid() != 0, "root, and perf_event_open() was never tried");
		printf("perf_refused: no perf budget here (RLIMIT_MEMLOCK): nothing to refuse\n");
	}
	t_event_set(&s.release);
	rp__fault_reset();
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* ------------------------------------------------------------------ memory */

/*
 * One run of a small program: create a pool and a work object, post and
 * submit across several queue blocks, wait, close, destroy.  Any call may
 * fail with -ENOMEM (and only then); what was accepted must run exactly
 * once, and a create that failed must leave its output untouched.
 */
static void tick(void *arg, int res)
{
	atomic_fetch_add((_Atomic unsigned *)arg, (unsigned)res);
}

static bool fired(void *arg)
{
	return atomic_load((_Atomic unsigned *)arg) > 0;
}

static void alloc_scenario(void)
{
	rp_pool *sentinel = (rp_pool *)(uintptr_t)0x5a5a, *pool = sentinel;
	rp_work *wsent = (rp_work *)(uintptr_t)0xa5a5, *work = wsent;
	struct rp_pool_opts o = { .concurrency = 2, .min_threads = 1, .name = "sweep" };
	_Atomic unsigned ran = 0, wran = 0;
	unsigned accepted = 0, submitted = 0;
	int ret;

	ret = rp_pool_create(&pool, &o);
	if (ret) {
		ck_assert_msg(ret == -ENOMEM || ret == -EAGAIN, "rp_pool_create: %d", ret);
		ck_assert_ptr_eq(pool, sentinel);
		return;
	}
	ret = rp_work_create(&work, pool, count, (void *)&wran);
	if (ret) {
		ck_assert_int_eq(ret, -ENOMEM);
		ck_assert_ptr_eq(work, wsent);
		work = NULL;
	}
	for (int i = 0; i < 700; i++) {
		ret = rp_post(pool, count, (void *)&ran);
		ck_assert_msg(ret == 0 || ret == -ENOMEM, "rp_post: %d", ret);
		accepted += ret == 0;
		if (work && i % 2 == 0) {
			ret = rp_work_submit(work);
			ck_assert_msg(ret == 0 || ret == -ENOMEM, "rp_work_submit: %d", ret);
			submitted += ret == 0;
		}
	}
	if (work) {
		ck_assert_int_eq(rp_work_wait(work, false), 0);
		t_assert_u(atomic_load(&wran), ==, submitted);
		ck_assert_int_eq(rp_work_close(work), 0);
	}
	/* A timer: its create or its set may fail, and then nothing fires;
	 * once set, it fires. */
	{
		rp_timer *t = NULL;
		_Atomic unsigned ticks = 0;

		ret = rp_timer_create(&t, pool, tick, (void *)&ticks, NULL);
		ck_assert_msg(ret == 0 || ret == -ENOMEM || ret == -EAGAIN, "rp_timer_create: %d", ret);
		if (!ret) {
			ret = rp_timer_set(t, 1000000, 0, 0, 0);
			ck_assert_msg(ret == 0 || ret == -ENOMEM, "rp_timer_set: %d", ret);
			if (!ret)
				ck_assert_msg(t_wait_until(fired, (void *)&ticks, T_LONG_MS),
					      "an armed timer never fired");
			ck_assert_int_eq(rp_timer_wait(t, false), 0);
			ck_assert_int_eq(rp_timer_close(t), 0);
			t_assert_u(atomic_load(&ticks), ==, ret == 0);
		}
	}
	/* A watch on a pipe: the same. */
	{
		rp_watch *w = NULL;
		_Atomic unsigned hits = 0;
		int p[2];

		ck_assert_int_eq(pipe(p), 0);
		ck_assert_int_eq(write(p[1], "x", 1), 1);
		ret = rp_watch_create(&w, pool, tick, (void *)&hits, NULL);
		ck_assert_msg(ret == 0 || ret == -ENOMEM || ret == -EAGAIN, "rp_watch_create: %d", ret);
		if (!ret) {
			ret = rp_watch_fd(w, p[0], 1 /* POLLIN */, RP_INFINITE, 0);
			ck_assert_msg(ret == 0 || ret == -ENOMEM, "rp_watch_fd: %d", ret);
			if (!ret)
				ck_assert_msg(t_wait_until(fired, (void *)&hits, T_LONG_MS),
					      "an armed watch never fired");
			ck_assert_int_eq(rp_watch_wait(w, false), 0);
			ck_assert_int_eq(rp_watch_close(w), 0);
		}
		close(p[0]);
		close(p[1]);
	}
	/* An I/O object: a two-vector read of a pipe (the vector copy is an
	 * allocation of its own).  Refused, nothing comes; started, it
	 * completes. */
	{
		rp_io *io = NULL;
		_Atomic unsigned hits = 0;
		char a[1], b[1];
		struct iovec v[2] = { { a, 1 }, { b, 1 } };
		int p[2];

		ck_assert_int_eq(pipe(p), 0);
		ck_assert_int_eq(write(p[1], "xy", 2), 2);
		ret = rp_io_create(&io, pool, tick, (void *)&hits, NULL);
		ck_assert_msg(ret == 0 || ret == -ENOMEM || ret == -EAGAIN, "rp_io_create: %d", ret);
		if (!ret) {
			ret = rp_io_readv(io, p[0], v, 2, -1);
			ck_assert_msg(ret == 0 || ret == -ENOMEM, "rp_io_readv: %d", ret);
			if (!ret)
				ck_assert_msg(t_wait_until(fired, (void *)&hits, T_LONG_MS),
					      "a started read never completed");
			ck_assert_int_eq(rp_io_wait(io, false), 0);
			t_assert_u(atomic_load(&hits), ==, ret == 0 ? 2u : 0u); /* res: 2 bytes */
			ck_assert_int_eq(rp_io_close(io), 0);
		}
		close(p[0]);
		close(p[1]);
	}
	/* A queue, a group and a cleanup group: refused, or they serve. */
	{
		_Atomic unsigned qran = 0, gran = 0;
		unsigned qposted = 0, gposted = 0;
		rp_cleanup *c = NULL;
		rp_queue *q = NULL;
		rp_group *g = NULL;

		ret = rp_queue_create(&q, pool, 1, RP_PRIORITY_NORMAL, NULL);
		ck_assert_msg(ret == 0 || ret == -ENOMEM, "rp_queue_create: %d", ret);
		ret = rp_group_create(&g, pool);
		ck_assert_msg(ret == 0 || ret == -ENOMEM, "rp_group_create: %d", ret);
		ret = rp_cleanup_create(&c, pool);
		ck_assert_msg(ret == 0 || ret == -ENOMEM, "rp_cleanup_create: %d", ret);
		for (int i = 0; i < 20; i++) {
			if (q) {
				ret = rp_queue_post(q, count, (void *)&qran);
				ck_assert_msg(ret == 0 || ret == -ENOMEM, "rp_queue_post: %d", ret);
				qposted += ret == 0;
			}
			if (g) {
				ret = rp_group_post(g, q, count, (void *)&gran);
				ck_assert_msg(ret == 0 || ret == -ENOMEM, "rp_group_post: %d", ret);
				gposted += ret == 0;
			}
		}
		if (g) {
			ck_assert_int_eq(rp_group_wait(g, RP_INFINITE), 0);
			t_assert_u(atomic_load(&gran), ==, gposted);
			ck_assert_int_eq(rp_group_close(g), 0);
		}
		if (q) {
			ck_assert_int_eq(rp_queue_wait(q, false), 0);
			t_assert_u(atomic_load(&qran), ==, qposted);
			ck_assert_int_eq(rp_queue_close(q), 0);
		}
		if (c)
			ck_assert_int_eq(rp_cleanup_destroy(c), 0);
	}
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	t_assert_u(atomic_load(&ran), ==, accepted);
}

/*
 * Fail the k-th allocation, for k = 0, 1, 2, ... until the scenario makes
 * fewer than k allocations: every allocation site is failed once (those
 * of worker threads at whatever point they come).
 */
START_TEST(test_rp_pool_alloc_failure_sweep)
{
	unsigned long k, sites = 0;

	for (k = 0; k < 500; k++) {
		rp__fault_reset();
		rp__fault_set(RP_FAULT_ALLOC, (long)k, 1, ENOMEM, NULL, NULL);
		alloc_scenario();
		if (!atomic_load(&rp__faults[RP_FAULT_ALLOC].hits))
			break;
		sites++;
	}
	rp__fault_reset();
	printf("allocation sweep: %lu allocations failed in turn\n", sites);
	ck_assert_uint_gt(sites, 5);
	ck_assert_uint_lt(k, 500);
}
END_TEST

/* Each named site fails for good: the pool still serves (or says why not). */
START_TEST(test_rp_pool_alloc_site_failures)
{
	static const enum rp_fault_site sites[] = {
		RP_FAULT_ALLOC_POOL, RP_FAULT_ALLOC_WORKER, RP_FAULT_ALLOC_WORKERS,
		RP_FAULT_ALLOC_QBLOCK, RP_FAULT_ALLOC_DEQUES, RP_FAULT_ALLOC_WATCHLIST,
		RP_FAULT_ALLOC_RING, RP_FAULT_ALLOC_WORK, RP_FAULT_ALLOC_TIMER,
		RP_FAULT_ALLOC_TIMERS, RP_FAULT_ALLOC_PORT, RP_FAULT_THREAD_PORT,
		RP_FAULT_ALLOC_WATCH, RP_FAULT_ALLOC_REG, RP_FAULT_ALLOC_IO, RP_FAULT_ALLOC_QUEUE,
		RP_FAULT_ALLOC_GROUP, RP_FAULT_ALLOC_CLEANUP,
	};

	for (size_t i = 0; i < sizeof(sites) / sizeof(sites[0]); i++) {
		rp__fault_reset();
		rp__fault_set(sites[i], 0, 3, ENOMEM, NULL, NULL);
		alloc_scenario();
	}
	rp__fault_reset();
}
END_TEST

Suite *make_suite(void);
Suite *make_suite(void)
{
	Suite *s = suite_create("faults");
	TCase *tc = tcase_create("threads");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_rp_post_no_thread_runs_later);
	tcase_add_test(tc, test_rp_pool_destroy_runs_work_without_threads);
	tcase_add_test(tc, test_rp_blocking_begin_no_thread_tree);
	tcase_add_test(tc, test_rp_post_no_regulator_eagain);
	suite_add_tcase(s, tc);

	tc = tcase_create("kernel");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_post_uring_enter_fails);
	tcase_add_test(tc, test_rp_post_uring_register_fails);
	tcase_add_test(tc, test_rp_post_perf_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("memory");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_rp_pool_alloc_failure_sweep);
	tcase_add_test(tc, test_rp_pool_alloc_site_failures);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return t_main(make_suite, true);
}
