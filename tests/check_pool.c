/* SPDX-License-Identifier: MIT */
/*
 * Pool lifecycle: create/destroy/default/stats, bad input, LIFO wake-ups,
 * idle retirement, no wake-ups while idle, fork, fault injection.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "../lib/internal.h"

static void nop(void *arg)
{
	(void)arg;
}

static void count(void *arg)
{
	atomic_fetch_add((_Atomic int *)arg, 1);
}

/* ------------------------------------------------------------------ core */

START_TEST(test_rp_pool_create_defaults)
{
	rp_pool *pool = NULL;
	struct rp_stats st;

	ck_assert_int_eq(rp_pool_create(&pool, NULL), 0);
	ck_assert_ptr_nonnull(pool);
	ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.concurrency, rp__topology_concurrency());
	ck_assert_uint_eq(st.threads, 0); /* workers start on demand */
	ck_assert_uint_eq(pool->max_threads, RP_DEFAULT_MAX_THREADS);
	ck_assert_uint_eq(pool->idle_timeout_ms, RP_DEFAULT_IDLE_TIMEOUT_MS);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

START_TEST(test_rp_pool_create_env_concurrency)
{
	rp_pool *pool;
	struct rp_stats st;

	setenv("RINGPOOL_CONCURRENCY", "3", 1);
	ck_assert_int_eq(rp_pool_create(&pool, NULL), 0);
	ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.concurrency, 3);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	/* An explicit option still wins. */
	pool = t_pool(5, 0, 0, 0);
	ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.concurrency, 5);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	unsetenv("RINGPOOL_CONCURRENCY");
}
END_TEST

static bool idle_is(void *arg)
{
	rp_pool *pool = ((void **)arg)[0];
	unsigned want = (unsigned)(uintptr_t)((void **)arg)[1];
	struct rp_stats st;

	rp_pool_stats(pool, &st);
	if (getenv("T_DEBUG"))
		fprintf(stderr, "idle %u threads %u running %u blocked %u\n", st.idle, st.threads, st.running, st.blocked);
	return st.idle == want && st.threads == want;
}

START_TEST(test_rp_pool_create_min_threads)
{
	rp_pool *pool = t_pool(2, 3, 8, 50);
	void *a[2] = { pool, (void *)(uintptr_t)3 };
	struct rp_stats st;

	ck_assert(t_wait_until(idle_is, a, 5000));
	/* min_threads are never retired, however long they idle. */
	t_sleep_ms(300);
	ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.threads, 3);
	ck_assert_uint_eq(st.threads_retired, 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

START_TEST(test_rp_pool_create_thread_names)
{
	rp_pool *pool = t_pool(1, 1, 0, 0);
	void *a[2] = { pool, (void *)(uintptr_t)1 };
	char path[64], comm[32] = "";
	FILE *f;
	int tid;

	ck_assert(t_wait_until(idle_is, a, 5000));
	pthread_mutex_lock(&pool->lock);
	tid = atomic_load(&pool->workers[0]->tid);
	pthread_mutex_unlock(&pool->lock);
	snprintf(path, sizeof(path), "/proc/self/task/%d/comm", tid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(comm, sizeof(comm), f));
	fclose(f);
	ck_assert_msg(!strncmp(comm, "t-", 2), "worker named %s", comm);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

static void *default_racer(void *arg)
{
	(void)arg;
	return rp_pool_default();
}

START_TEST(test_rp_pool_default_once)
{
	pthread_t th[8];
	void *got[8];
	_Atomic int n = 0;

	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, default_racer, NULL), 0);
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], &got[i]);
		ck_assert_ptr_nonnull(got[i]);
		ck_assert_ptr_eq(got[i], got[0]);
	}
	ck_assert_ptr_eq(rp_pool_default(), got[0]);
	ck_assert_int_eq(rp_post(NULL, count, &n), 0);
	for (int i = 0; i < 5000 && atomic_load(&n) != 1; i++)
		t_sleep_ms(1);
	t_assert_i(atomic_load(&n), ==, 1);
	/* The default pool is never destroyed. */
	ck_assert_int_eq(rp_pool_destroy(rp_pool_default()), -EINVAL);
}
END_TEST

struct chain {
	rp_pool *pool;
	_Atomic int ran;
	int left;
};

static void chain_step(void *arg)
{
	struct chain *c = arg;

	atomic_fetch_add(&c->ran, 1);
	t_spin_us(50);
	if (--c->left > 0)
		ck_assert_int_eq(rp_post(c->pool, chain_step, c), 0);
}

/* Destroy runs every accepted task, including those that callbacks post
 * while it drains (DESIGN rule 7). */
START_TEST(test_rp_pool_destroy_drains)
{
	struct chain c = { .left = 200 };
	_Atomic int n = 0;

	c.pool = t_pool(2, 0, 0, 0);
	for (int i = 0; i < 5000; i++)
		ck_assert_int_eq(rp_post(c.pool, count, &n), 0);
	ck_assert_int_eq(rp_post(c.pool, chain_step, &c), 0);
	ck_assert_int_eq(rp_pool_destroy(c.pool), 0);
	t_assert_i(atomic_load(&n), ==, 5000);
	t_assert_i(atomic_load(&c.ran), ==, 200);
}
END_TEST

/* ------------------------------------------------------------------ errors */

START_TEST(test_rp_pool_create_einval)
{
	rp_pool *sentinel = (rp_pool *)(uintptr_t)0x1234, *pool = sentinel;
	struct rp_pool_opts o;

	ck_assert_int_eq(rp_pool_create(NULL, NULL), -EINVAL);

	memset(&o, 0, sizeof(o));
	o.flags = 1;
	ck_assert_int_eq(rp_pool_create(&pool, &o), -EINVAL);
	for (int i = 0; i < 6; i++) {
		memset(&o, 0, sizeof(o));
		o.resv[i] = 1;
		ck_assert_int_eq(rp_pool_create(&pool, &o), -EINVAL);
	}
	memset(&o, 0, sizeof(o));
	o.min_threads = 5;
	o.max_threads = 4;
	ck_assert_int_eq(rp_pool_create(&pool, &o), -EINVAL);
	memset(&o, 0, sizeof(o));
	o.concurrency = 5;
	o.max_threads = 4;
	ck_assert_int_eq(rp_pool_create(&pool, &o), -EINVAL);
	memset(&o, 0, sizeof(o));
	o.min_threads = RP_DEFAULT_MAX_THREADS + 1;
	ck_assert_int_eq(rp_pool_create(&pool, &o), -EINVAL);
	/* Concurrency is bounded (C + 4 wrapped for UINT_MAX; 100,000 cost
	 * 402 MiB of deques at create). */
	memset(&o, 0, sizeof(o));
	o.concurrency = RP_CONCURRENCY_MAX + 1;
	ck_assert_int_eq(rp_pool_create(&pool, &o), -EINVAL);
	o.concurrency = UINT_MAX;
	o.max_threads = UINT_MAX;
	ck_assert_int_eq(rp_pool_create(&pool, &o), -EINVAL);
	/* Nothing was written on failure. */
	ck_assert_ptr_eq(pool, sentinel);
	/* The largest is accepted. */
	memset(&o, 0, sizeof(o));
	o.concurrency = RP_CONCURRENCY_MAX;
	ck_assert_int_eq(rp_pool_create(&pool, &o), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

START_TEST(test_rp_pool_stats_einval)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);

	ck_assert_int_eq(rp_pool_stats(pool, NULL), -EINVAL);
	ck_assert_int_eq(rp_pool_destroy(NULL), -EINVAL);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

struct self_destroy {
	rp_pool *pool;
	_Atomic int ret;
	struct t_event done;
};

static void destroy_from_inside(void *arg)
{
	struct self_destroy *s = arg;

	atomic_store(&s->ret, rp_pool_destroy(s->pool));
	t_event_set(&s->done);
}

START_TEST(test_rp_pool_destroy_edeadlk)
{
	struct self_destroy s = { .ret = 1 };
	_Atomic int n = 0;

	s.pool = t_pool(2, 0, 0, 0);
	ck_assert_int_eq(rp_post(s.pool, destroy_from_inside, &s), 0);
	t_event_wait(&s.done);
	t_assert_i(atomic_load(&s.ret), ==, -EDEADLK);
	/* The pool is unchanged and still serves. */
	ck_assert_int_eq(rp_post(s.pool, count, &n), 0);
	ck_assert_int_eq(rp_pool_destroy(s.pool), 0);
	t_assert_i(atomic_load(&n), ==, 1);
}
END_TEST

START_TEST(test_rp_pool_destroy_ebusy)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	rp_work *w;

	ck_assert_int_eq(rp_work_create(&w, pool, nop, NULL), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), -EBUSY);
	ck_assert_int_eq(rp_work_close(w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* ------------------------------------------------------------------ limits */

struct gate {
	struct t_event open;
	_Atomic int entered;
	int tid[64];
	_Atomic int order;
	int release_order[64];
};

static void hinted_gate(void *arg)
{
	struct gate *g = arg;
	int me = atomic_fetch_add(&g->entered, 1);

	g->tid[me] = t_gettid();
	rp_blocking_begin();
	t_event_wait(&g->open);
	rp_blocking_end();
}

START_TEST(test_rp_pool_create_max_threads)
{
	rp_pool *pool = t_pool(1, 0, 4, 0);
	struct gate g = { 0 };
	struct rp_stats st;

	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(rp_post(pool, hinted_gate, &g), 0);
	for (int i = 0; i < 5000 && atomic_load(&g.entered) < 4; i++)
		t_sleep_ms(1);
	t_sleep_ms(50);
	ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
	ck_assert_uint_le(st.threads, 4);
	t_assert_i(atomic_load(&g.entered), ==, 4);
	ck_assert_uint_eq(st.queued, 16);
	t_event_set(&g.open);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	t_assert_i(atomic_load(&g.entered), ==, 20);
}
END_TEST

/* Worker state for the LIFO test: each blocker is released on its own, so
 * the order in which the workers go idle is known. */
struct lifo {
	struct t_event open[4];
	_Atomic int entered;
	int tid[4];
};

struct lifo_arg {
	struct lifo *l;
	int i;
};

static void lifo_blocker(void *arg)
{
	struct lifo_arg *a = arg;

	a->l->tid[a->i] = t_gettid();
	atomic_fetch_add(&a->l->entered, 1);
	rp_blocking_begin();
	t_event_wait(&a->l->open[a->i]);
	rp_blocking_end();
}

struct probe {
	_Atomic int tid;
	struct t_event done;
};

static void record_tid(void *arg)
{
	struct probe *p = arg;

	atomic_store(&p->tid, t_gettid());
	t_event_set(&p->done);
}

/* DESIGN rule 5: sequential post-and-wait tasks on an idle pool run on the
 * most recently idle worker. */
START_TEST(test_rp_post_lifo)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct lifo l = { 0 };
	struct lifo_arg a[4];
	void *w4[2] = { pool, (void *)(uintptr_t)4 };

	for (int i = 0; i < 4; i++) {
		a[i] = (struct lifo_arg){ &l, i };
		ck_assert_int_eq(rp_post(pool, lifo_blocker, &a[i]), 0);
	}
	for (int i = 0; i < 5000 && atomic_load(&l.entered) < 4; i++)
		t_sleep_ms(1);
	t_assert_i(atomic_load(&l.entered), ==, 4);
	/* Release them one by one, 2 then 0 then 3 then 1; each parks before
	 * the next is released, so worker 1 is the most recently idle. */
	static const int order[4] = { 2, 0, 3, 1 };
	for (int k = 0; k < 4; k++) {
		t_event_set(&l.open[order[k]]);
		t_sleep_ms(30);
	}
	ck_assert(t_wait_until(idle_is, w4, 5000));
	for (int k = 0; k < 20; k++) {
		struct probe p = { 0 };

		ck_assert_int_eq(rp_post(pool, record_tid, &p), 0);
		t_event_wait(&p.done);
		t_assert_i(atomic_load(&p.tid), ==, l.tid[1]);
		/* The worker parks again (a sleep past its spin is not enough
		 * on a loaded machine). */
		ck_assert(t_wait_until(idle_is, w4, 5000));
	}
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

static bool threads_at_most(void *arg)
{
	rp_pool *pool = ((void **)arg)[0];
	unsigned want = (unsigned)(uintptr_t)((void **)arg)[1];
	struct rp_stats st;

	rp_pool_stats(pool, &st);
	return st.threads <= want;
}

/* DESIGN rule 6: idle workers retire after the timeout, down to min_threads. */
START_TEST(test_rp_pool_create_idle_retire)
{
	rp_pool *pool = t_pool(2, 1, 0, 100);
	struct gate g = { 0 };
	void *a[2] = { pool, (void *)(uintptr_t)1 };
	struct rp_stats st;

	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(rp_post(pool, hinted_gate, &g), 0);
	for (int i = 0; i < 5000 && atomic_load(&g.entered) < 6; i++)
		t_sleep_ms(1);
	ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
	ck_assert_uint_ge(st.threads, 6);
	t_event_set(&g.open);
	ck_assert(t_wait_until(threads_at_most, a, 10000));
	t_sleep_ms(300);
	ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.threads, 1);
	ck_assert_uint_ge(st.threads_retired, 5);
	ck_assert_uint_eq(st.threads_created - st.threads_retired, 1);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST


/* DESIGN rule 6: an idle pool causes no periodic wake-ups (workers parked,
 * regulator asleep). */
START_TEST(test_rp_pool_idle_no_wakeups)
{
	rp_pool *pool = t_pool(2, 4, 0, 0);
	void *a[2] = { pool, (void *)(uintptr_t)4 };
	struct gate g = { 0 };
	unsigned long long before, after;

	/* Exercise workers and the regulator first. */
	ck_assert(t_wait_until(idle_is, a, 5000));
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(rp_post(pool, hinted_gate, &g), 0);
	t_sleep_ms(20);
	t_event_set(&g.open);
	ck_assert(t_wait_until(idle_is, a, 5000));
	t_sleep_ms(100);
	before = t_others_switches();
	t_sleep_ms(500);
	after = t_others_switches();
	ck_assert_msg(after == before, "idle pool threads switched %llu times in 500 ms",
		      after - before);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* ------------------------------------------------------------------ fork */

static bool all_parked(void *arg)
{
	struct rp_stats st;

	rp_pool_stats(arg, &st);
	return st.threads && st.idle == st.threads;
}

START_TEST(test_rp_pool_fork_child)
{
	rp_pool *pool = t_pool(2, 1, 0, 0);
	_Atomic int n = 0;
	pid_t pid;
	int status;

	ck_assert_int_eq(rp_post(pool, count, &n), 0);
	ck_assert_ptr_nonnull(rp_pool_default());
	/* Fork from a quiet parent.  glibc's malloc survives a fork taken
	 * while another thread allocates (it has fork handlers), but the
	 * allocator of GCC 12's AddressSanitizer does not: the child then
	 * hangs on a lock copied held.  That is no ringpool behaviour. */
	for (int i = 0; i < 5000 && atomic_load(&n) != 1; i++)
		t_sleep_ms(1);
	ck_assert(t_wait_until(all_parked, pool, 5000));
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		_Atomic int m = 0;
		rp_pool *child;
		int bad = 0;

		/* The parent's pools are unusable here... */
		bad |= rp_post(pool, count, &m) != -ECHILD;
		bad |= rp_pool_destroy(pool) != -ECHILD;
		/* ...but new pools, and a new default pool, work. */
		bad |= rp_pool_create(&child, NULL) != 0;
		bad |= rp_post(child, count, &m) != 0;
		bad |= rp_pool_destroy(child) != 0;
		bad |= rp_post(NULL, count, &m) != 0;
		for (int i = 0; i < 5000 && atomic_load(&m) != 2; i++)
			t_sleep_ms(1);
		bad |= atomic_load(&m) != 2;
		_exit(bad ? 1 : 0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	/* The parent's pool is untouched. */
	ck_assert_int_eq(rp_post(pool, count, &n), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	t_assert_i(atomic_load(&n), ==, 2);
}
END_TEST

/* ------------------------------------------------------------------ faults */

START_TEST(test_rp_pool_create_spawn_failure)
{
	rp_pool *sentinel = (rp_pool *)(uintptr_t)0x1234, *pool = sentinel;
	struct rp_pool_opts o = { .concurrency = 2, .min_threads = 3 };

	rp__fault_set(RP_FAULT_THREAD, 2, -1, EAGAIN, NULL, NULL);
	ck_assert_int_eq(rp_pool_create(&pool, &o), -EAGAIN);
	ck_assert_ptr_eq(pool, sentinel);
	rp__fault_reset();
}
END_TEST

/* Out of threads at run time: the work waits for the workers there are. */
START_TEST(test_rp_post_spawn_failure)
{
	rp_pool *pool = t_pool(2, 1, 0, 0);
	void *a[2] = { pool, (void *)(uintptr_t)1 };
	_Atomic int n = 0;

	ck_assert(t_wait_until(idle_is, a, 5000));
	rp__fault_set(RP_FAULT_THREAD, 0, -1, EAGAIN, NULL, NULL);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(rp_post(pool, count, &n), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	rp__fault_reset();
	t_assert_i(atomic_load(&n), ==, 1000);
}
END_TEST

/*
 * A callback that ends its worker's thread (pthread_exit()): with C = 1 the
 * pool must not lose its only slot.  The thread is replaced, later work
 * runs, destroy returns.
 */
static void exit_thread(void *arg)
{
	atomic_fetch_add((_Atomic int *)arg, 1);
	pthread_exit(NULL);
}

static void exit_hinted(void *arg)
{
	atomic_fetch_add((_Atomic int *)arg, 1);
	rp_blocking_begin();
	pthread_exit(NULL);
}

static bool count_is(void *arg)
{
	_Atomic int *n = ((void **)arg)[0];

	return atomic_load(n) == (int)(uintptr_t)((void **)arg)[1];
}

static bool six_retired(void *arg)
{
	struct rp_stats st;

	return rp_pool_stats(arg, &st) == 0 && st.threads_retired >= 6;
}

START_TEST(test_rp_post_callback_exits_thread)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	_Atomic int exited = 0, n = 0;
	void *a[2] = { (void *)&n, (void *)(uintptr_t)10 };
	struct rp_stats st;

	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(rp_post(pool, exit_thread, &exited), 0);
		ck_assert_int_eq(rp_post(pool, exit_hinted, &exited), 0);
	}
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(rp_post(pool, count, &n), 0);
	if (!t_wait_until(count_is, a, 10000)) {
		t_dump(pool, "work after a callback that ended its thread never ran");
		ck_abort();
	}
	t_assert_i(atomic_load(&exited), ==, 6);
	/* The threads finish leaving after their slots moved on. */
	ck_assert(t_wait_until(six_retired, pool, 10000));
	ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.running, 0);
	ck_assert_uint_eq(st.blocked, 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* Ring setup fails (RLIMIT_MEMLOCK spent): the pool parks on futexes. */
START_TEST(test_rp_pool_ring_setup_failure)
{
	rp_pool *pool;
	_Atomic int n = 0;

	if (!t_backend() || strcmp(t_backend(), "uring"))
		return;
	pool = t_pool(2, 0, 0, 0);
	rp__fault_set(RP_FAULT_RING_SETUP, 0, -1, ENOMEM, NULL, NULL);
	for (int i = 0; i < 200; i++) {
		ck_assert_int_eq(rp_post(pool, count, &n), 0);
		if (i % 10 == 0)
			t_sleep_ms(1); /* let workers park, so posts wake them */
	}
	for (int i = 0; i < 5000 && atomic_load(&n) != 200; i++)
		t_sleep_ms(1);
	t_assert_i(atomic_load(&n), ==, 200);
	/* Out of memory is a budget, not a refusal: io_uring stays. */
	ck_assert(atomic_load(&pool->bk.uring));
	t_assert_u(atomic_load(&pool->bk.rings), ==, 0);
	t_assert_u(atomic_load(&pool->bk.kicks_ring), ==, 0);
	t_assert_u(atomic_load(&pool->bk.kicks_futex), >, 0);
	rp__fault_reset();
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* Threads outside the pool wake ring-parked workers through
 * IORING_REGISTER_SEND_MSG_RING (Linux 6.13) or, where the kernel lacks it,
 * through a pool-owned sender ring: both paths deliver. */
static void check_outside_wakeups(bool force_sender)
{
	rp_pool *pool;
	_Atomic int n = 0;

	rp__uring_force_sender_ring(force_sender);
	pool = t_pool(2, 0, 0, 0);
	ck_assert(atomic_load(&pool->bk.uring));
	for (int i = 0; i < 50; i++) {
		ck_assert_int_eq(rp_post(pool, count, &n), 0);
		for (int k = 0; k < 5000 && atomic_load(&n) != i + 1; k++)
			t_sleep_ms(1);
		t_assert_i(atomic_load(&n), ==, i + 1);
		t_sleep_ms(1); /* the worker parks on its ring again */
	}
	t_assert_u(atomic_load(&pool->bk.kicks_ring), >, 0);
	/* Forced, the pool made its sender ring for this thread's kicks. */
	if (force_sender)
		ck_assert_ptr_nonnull(pool->bk.sender);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	rp__uring_force_sender_ring(false);
}

START_TEST(test_rp_post_outside_thread_wakeups)
{
	if (!t_backend() || strcmp(t_backend(), "uring"))
		return;
	check_outside_wakeups(false);
	check_outside_wakeups(true);
}
END_TEST

Suite *make_suite(void);
Suite *make_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc;

	tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_pool_create_defaults);
	tcase_add_test(tc, test_rp_pool_create_env_concurrency);
	tcase_add_test(tc, test_rp_pool_create_min_threads);
	tcase_add_test(tc, test_rp_pool_create_thread_names);
	tcase_add_test(tc, test_rp_pool_default_once);
	tcase_add_test(tc, test_rp_pool_destroy_drains);
	tcase_add_test(tc, test_rp_post_lifo);
	tcase_add_test(tc, test_rp_pool_create_idle_retire);
#ifndef __SANITIZE_THREAD__
	/* Not under ThreadSanitizer: its background thread makes the
	 * wake-ups the first counts, and it cannot follow fork() of a
	 * threaded process. */
	tcase_add_test(tc, test_rp_pool_idle_no_wakeups);
	tcase_add_test(tc, test_rp_pool_fork_child);
#endif
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_rp_pool_create_einval);
	tcase_add_test(tc, test_rp_pool_stats_einval);
	tcase_add_test(tc, test_rp_pool_destroy_edeadlk);
	tcase_add_test(tc, test_rp_pool_destroy_ebusy);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_pool_create_max_threads);
	tcase_add_test(tc, test_rp_pool_create_spawn_failure);
	tcase_add_test(tc, test_rp_post_spawn_failure);
	tcase_add_test(tc, test_rp_post_callback_exits_thread);
	tcase_add_test(tc, test_rp_pool_ring_setup_failure);
	tcase_add_test(tc, test_rp_post_outside_thread_wakeups);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return t_main(make_suite, true);
}
