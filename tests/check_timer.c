/* SPDX-License-Identifier: MIT */
/*
 * check_timer.c - timer objects (lib/timer.c on the completion port): the
 * object rules of DESIGN for timers (one callback per arming unless a
 * cancel or close wins, none after either returns, close never blocks and
 * works from the callback, callbacks never overlap, objects outlive their
 * arming thread) and behaviour 12 (no early expiry, no drift, shared
 * wake-ups within windows, no wake-ups for a far timer), under both
 * backends.  Callbacks record; the test body asserts.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "../lib/internal.h"

#define T_LONG_MS 20000u
#define MS 1000000ull

struct rec {
	rp_timer *t;
	_Atomic unsigned calls;
	_Atomic unsigned long long expirations;
	_Atomic int conc, peak;
	_Atomic uint64_t at[64];      /* CLOCK_MONOTONIC time of each call */
	unsigned sleep_ms;            /* each callback sleeps (hinted) this long */
	_Atomic bool close_self, reset_self; /* the callback closes / re-arms its timer */
	_Atomic int self_ret;
};

static void rec_fn(void *arg, int res)
{
	struct rec *r = arg;
	unsigned i = atomic_fetch_add(&r->calls, 1);
	int c = atomic_fetch_add(&r->conc, 1) + 1;
	int p = atomic_load(&r->peak);

	while (c > p && !atomic_compare_exchange_weak(&r->peak, &p, c))
		;
	if (i < 64)
		atomic_store(&r->at[i], t_now_ns());
	atomic_fetch_add(&r->expirations, (unsigned long long)res);
	if (r->sleep_ms) {
		rp_blocking_begin();
		t_sleep_ms(r->sleep_ms);
		rp_blocking_end();
	}
	if (r->reset_self)
		atomic_store(&r->self_ret, rp_timer_set(r->t, 1 * MS, 0, 0, 0));
	atomic_fetch_sub(&r->conc, 1);
	if (r->close_self)
		atomic_store(&r->self_ret, rp_timer_close(r->t));
}

struct target {
	struct rec *r;
	unsigned n;
};

static bool calls_reached(void *arg)
{
	struct target *t = arg;

	return atomic_load(&t->r->calls) >= t->n;
}

static void wait_calls(struct rec *r, unsigned n)
{
	struct target t = { r, n };

	ck_assert_msg(t_wait_until(calls_reached, &t, T_LONG_MS), "%u of %u callbacks",
		      atomic_load(&r->calls), n);
}

static rp_timer *timer(rp_pool *pool, struct rec *r)
{
	rp_timer *t = NULL;

	ck_assert_int_eq(rp_timer_create(&t, pool, rec_fn, r, NULL), 0);
	r->t = t;
	return t;
}

/* ------------------------------------------------------------------ core */

/* One arming, one callback, with res 1, never before its due time. */
START_TEST(test_rp_timer_set_one_shot)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r = { 0 };
	rp_timer *t = timer(pool, &r);
	uint64_t armed = t_now_ns();

	ck_assert(!rp_timer_is_set(t));
	/* The event ring where the workers use io_uring, else epoll.  Not
	 * root, the ring may not fit: RLIMIT_MEMLOCK is the user's, shared
	 * with every process of it (the confined suite runs tests side by
	 * side as nobody with 64 KiB, whose workers hold rings too), and the
	 * port then falls back to epoll, as it should. */
	const char *port = atomic_load(&pool->port)->ops->name;
	if (strcmp(pool->ops->name, "uring"))
		ck_assert_str_eq(port, "epoll");
	else if (geteuid() == 0)
		ck_assert_str_eq(port, "uring");
	else
		ck_assert(!strcmp(port, "uring") || !strcmp(port, "epoll"));
	ck_assert_int_eq(rp_timer_set(t, 20 * MS, 0, 0, 0), 0);
	ck_assert(rp_timer_is_set(t));
	wait_calls(&r, 1);
	t_sleep_ms(50);
	t_assert_u(atomic_load(&r.calls), ==, 1);
	t_assert_u(atomic_load(&r.expirations), ==, 1);
	t_assert_u(atomic_load(&r.at[0]), >=, armed + 20 * MS);
	ck_assert(!rp_timer_is_set(t));
	ck_assert_int_eq(rp_timer_close(t), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* Absolute due times, on each clock; one in the past fires at once. */
START_TEST(test_rp_timer_set_absolute)
{
	static const unsigned clocks[] = { 0, RP_TIMER_BOOTTIME, RP_TIMER_REALTIME };
	static const clockid_t ids[] = { CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME };
	rp_pool *pool = t_pool(2, 0, 0, 0);

	for (int c = 0; c < 3; c++) {
		struct rec r = { 0 };
		rp_timer *t = timer(pool, &r);
		struct timespec ts;
		uint64_t now;

		clock_gettime(ids[c], &ts);
		now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		ck_assert_int_eq(rp_timer_set(t, now + 10 * MS, 0, 0, RP_TIMER_ABS | clocks[c]), 0);
		wait_calls(&r, 1);
		clock_gettime(ids[c], &ts);
		t_assert_u((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, >=, now + 10 * MS);
		/* In the past: at once. */
		ck_assert_int_eq(rp_timer_set(t, now - 1000 * MS, 0, 0, RP_TIMER_ABS | clocks[c]), 0);
		wait_calls(&r, 2);
		ck_assert_int_eq(rp_timer_wait(t, false), 0);
		ck_assert_int_eq(rp_timer_close(t), 0);
	}
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/*
 * A periodic timer does not drift: the Nth callback is never before due +
 * N periods, and the last is within a generous bound of it (each is timed
 * from the previous *due* time, not from when it fired).
 */
START_TEST(test_rp_timer_set_periodic_no_drift)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r = { 0 };
	rp_timer *t = timer(pool, &r);
	const uint64_t period = 5 * MS;
	uint64_t start = t_now_ns(), due0 = start + period, end;
	unsigned long long n;

	ck_assert_int_eq(rp_timer_set(t, period, period, 0, 0), 0);
	wait_calls(&r, 40);
	ck_assert_int_eq(rp_timer_cancel(t), 1);
	ck_assert_int_eq(rp_timer_wait(t, false), 0);
	end = t_now_ns();
	n = atomic_load(&r.expirations);
	/* Every callback at or after its due time: the k-th delivers the
	 * expirations up to it. */
	for (unsigned k = 0, delivered = 0; k < 40; k++) {
		delivered++;
		t_assert_u(atomic_load(&r.at[k]), >=, due0 + (delivered - 1) * period);
	}
	/* The expirations counted match the time elapsed: no drift (a timer
	 * re-armed from its fire time would count fewer).  Callbacks may run
	 * after the 40th until the cancel (CI saw one under ASan), so the
	 * upper bound is the time of the cancel, the lower that of the 40th. */
	t_assert_u(n, <=, (end - start) / period + 1);
	t_assert_u(n + 3, >=, (atomic_load(&r.at[39]) - start) / period);
	ck_assert_int_eq(rp_timer_close(t), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* Callbacks of one timer never overlap: a periodic timer whose callback
 * outlasts its period gets the expirations merged (res > 1). */
START_TEST(test_rp_timer_set_merges_expirations)
{
	rp_pool *pool = t_pool(4, 0, 0, 0);
	struct rec r = { .sleep_ms = 12 };
	rp_timer *t = timer(pool, &r);

	ck_assert_int_eq(rp_timer_set(t, 2 * MS, 2 * MS, 0, 0), 0);
	wait_calls(&r, 6);
	ck_assert_int_eq(rp_timer_wait(t, true), 0);
	t_assert_i(atomic_load(&r.peak), ==, 1);
	t_assert_u(atomic_load(&r.expirations), >, atomic_load(&r.calls));
	ck_assert_int_eq(rp_timer_close(t), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* set's result: 1 when it replaced a pending expiry, 0 when none; re-set
 * from a one-shot timer's own callback is 0, and the new arming's callback
 * does not overlap the callback that made it. */
START_TEST(test_rp_timer_set_replaces)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r = { 0 };
	rp_timer *t = timer(pool, &r);

	ck_assert_int_eq(rp_timer_set(t, 1000 * MS, 0, 0, 0), 0);
	ck_assert_int_eq(rp_timer_set(t, 1000 * MS, 0, 0, 0), 1);
	ck_assert_int_eq(rp_timer_set(t, 5 * MS, 0, 0, 0), 1);
	wait_calls(&r, 1);
	t_assert_u(atomic_load(&r.calls), ==, 1);
	atomic_store(&r.reset_self, true);
	atomic_store(&r.self_ret, -1);
	ck_assert_int_eq(rp_timer_set(t, 1 * MS, 0, 0, 0), 0);
	wait_calls(&r, 4);
	atomic_store(&r.reset_self, false);
	ck_assert_int_eq(rp_timer_wait(t, true), 0);
	t_assert_i(atomic_load(&r.self_ret), ==, 0);
	t_assert_i(atomic_load(&r.peak), ==, 1);
	ck_assert_int_eq(rp_timer_close(t), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* cancel: 1 and no callback when armed; 0 when nothing is pending. */
START_TEST(test_rp_timer_cancel_armed)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r = { 0 };
	rp_timer *t = timer(pool, &r);

	ck_assert_int_eq(rp_timer_cancel(t), 0);
	ck_assert_int_eq(rp_timer_set(t, 30 * MS, 0, 0, 0), 0);
	ck_assert_int_eq(rp_timer_cancel(t), 1);
	ck_assert(!rp_timer_is_set(t));
	t_sleep_ms(80);
	t_assert_u(atomic_load(&r.calls), ==, 0);
	ck_assert_int_eq(rp_timer_cancel(t), 0);
	ck_assert_int_eq(rp_timer_close(t), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* A callback queued but not started (the only slot is busy) is cancelled:
 * cancel returns 1, and the callback never starts. */
START_TEST(test_rp_timer_cancel_queued)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct rec r = { 0 };
	rp_timer *t = timer(pool, &r);
	struct t_blocker b;

	t_blocker_start(pool, &b);
	ck_assert_int_eq(rp_timer_set(t, 1 * MS, 0, 0, 0), 0);
	t_sleep_ms(30);		/* expired: its callback waits for the slot */
	ck_assert(rp_timer_is_set(t));
	ck_assert_int_eq(rp_timer_cancel(t), 1);
	t_event_set(&b.release);
	ck_assert_int_eq(rp_timer_wait(t, false), 0);
	t_sleep_ms(20);
	t_assert_u(atomic_load(&r.calls), ==, 0);
	ck_assert_int_eq(rp_timer_close(t), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* close: never blocks, no callback starts after it, from the callback
 * itself too; a close with a callback queued frees the timer after it. */
START_TEST(test_rp_timer_close_rules)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct rec r1 = { 0 }, r2 = { .close_self = true }, r3 = { 0 };
	rp_timer *t1 = timer(pool, &r1), *t2 = timer(pool, &r2), *t3 = timer(pool, &r3);
	struct t_blocker b;

	/* Armed, then closed: no callback. */
	ck_assert_int_eq(rp_timer_set(t1, 10 * MS, 0, 0, 0), 0);
	ck_assert_int_eq(rp_timer_close(t1), 0);
	/* Closed from its own callback, periodic: one callback, then none. */
	atomic_store(&r2.self_ret, -1);
	ck_assert_int_eq(rp_timer_set(t2, 1 * MS, 1 * MS, 0, 0), 0);
	wait_calls(&r2, 1);
	t_sleep_ms(30);
	t_assert_u(atomic_load(&r2.calls), ==, 1);
	t_assert_i(atomic_load(&r2.self_ret), ==, 0);
	/* Queued behind a busy slot, then closed: never runs. */
	t_blocker_start(pool, &b);
	ck_assert_int_eq(rp_timer_set(t3, 1 * MS, 0, 0, 0), 0);
	t_sleep_ms(30);
	ck_assert_int_eq(rp_timer_close(t3), 0);
	t_event_set(&b.release);
	t_sleep_ms(30);
	t_assert_u(atomic_load(&r1.calls), ==, 0);
	t_assert_u(atomic_load(&r3.calls), ==, 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

static void wait_own(void *arg, int res)
{
	struct rec *r = arg;

	(void)res;
	atomic_store(&r->self_ret, rp_timer_wait(r->t, false));
	atomic_fetch_add(&r->calls, 1);
}

/* wait: -EDEADLK from the timer's own callback; waits for a running
 * callback; with cancel_pending, nothing runs after it. */
START_TEST(test_rp_timer_wait_rules)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r = { .sleep_ms = 50 }, o = { 0 };
	rp_timer *t = timer(pool, &r), *own;

	ck_assert_int_eq(rp_timer_create(&own, pool, wait_own, &o, NULL), 0);
	o.t = own;
	ck_assert_int_eq(rp_timer_set(own, 1 * MS, 0, 0, 0), 0);
	wait_calls(&o, 1);
	t_assert_i(atomic_load(&o.self_ret), ==, -EDEADLK);

	ck_assert_int_eq(rp_timer_set(t, 1 * MS, 0, 0, 0), 0);
	wait_calls(&r, 1);	/* it now sleeps 50 ms */
	ck_assert_int_eq(rp_timer_wait(t, false), 0);
	t_assert_i(atomic_load(&r.conc), ==, 0);
	ck_assert_int_eq(rp_timer_set(t, 1 * MS, 1 * MS, 0, 0), 0);
	wait_calls(&r, 2);
	ck_assert_int_eq(rp_timer_wait(t, true), 0);
	{
		unsigned c = atomic_load(&r.calls);

		t_sleep_ms(30);
		t_assert_u(atomic_load(&r.calls), ==, c);
	}
	ck_assert_int_eq(rp_timer_close(t), 0);
	ck_assert_int_eq(rp_timer_close(own), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

static void *arm_and_exit(void *arg)
{
	struct rec *r = arg;

	ck_assert_int_eq(rp_timer_set(r->t, 20 * MS, 0, 0, 0), 0);
	return NULL;
}

/* Object rule 6: a timer armed by a thread that then exits still fires. */
START_TEST(test_rp_timer_set_arming_thread_exits)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r = { 0 };
	pthread_t th;

	timer(pool, &r);
	ck_assert_int_eq(pthread_create(&th, NULL, arm_and_exit, &r), 0);
	pthread_join(th, NULL);
	wait_calls(&r, 1);
	ck_assert_int_eq(rp_timer_close(r.t), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* Behaviour 12: timers due within each other's windows share a wake-up.
 * Twenty timers due over 20 ms, each with a 40 ms window: the event
 * thread wakes a handful of times, not twenty. */
START_TEST(test_rp_timer_set_windows_coalesce)
{
	enum { N = 20 };
	rp_pool *pool = t_pool(2, 0, 0, 0);
	static struct rec r[N];
	struct rp_port *port;
	unsigned long long before, woke;

	memset(r, 0, sizeof(r));
	for (int i = 0; i < N; i++)
		timer(pool, &r[i]);
	port = atomic_load(&pool->port);
	t_sleep_ms(20);
	before = atomic_load(&port->wakeups);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(rp_timer_set(r[i].t, (uint64_t)(20 + i) * MS, 0, 40 * MS, 0), 0);
	for (int i = 0; i < N; i++)
		wait_calls(&r[i], 1);
	woke = atomic_load(&port->wakeups) - before;
	/* The first arming rings the doorbell (1), later ones do not move the
	 * deadline; one fire serves all that are due by then. */
	t_assert_u(woke, <=, 4);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(rp_timer_close(r[i].t), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* Many expiries of one wake-up: more than the event thread takes under
 * one hold of its lock, and more than it posts at once.  Each runs once,
 * and they share the wake-up. */
static _Atomic unsigned many_calls[5000];
static _Atomic unsigned many_total;

static void many_fn(void *arg, int res)
{
	atomic_fetch_add(&many_calls[(uintptr_t)arg], (unsigned)res);
	atomic_fetch_add(&many_total, 1);
}

static bool many_done(void *arg)
{
	return atomic_load(&many_total) >= (uintptr_t)arg;
}

START_TEST(test_rp_timer_set_many_due_at_once)
{
	enum { N = 5000 };
	static rp_timer *t[N];
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rp_port *port;
	unsigned long long before, woke;
	uint64_t due, set_done;

	ck_assert_int_gt(N, 4 * RP_PORT_BATCH);
	for (uintptr_t i = 0; i < N; i++) {
		atomic_store(&many_calls[i], 0);
		ck_assert_int_eq(rp_timer_create(&t[i], pool, many_fn, (void *)i, NULL), 0);
	}
	atomic_store(&many_total, 0);
	port = atomic_load(&pool->port);
	due = t_now_ns() + 300 * MS;
	before = atomic_load(&port->wakeups);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(rp_timer_set(t[i], due, 0, 0, RP_TIMER_ABS), 0);
	set_done = t_now_ns();
	if (!t_wait_until(many_done, (void *)(uintptr_t)N, T_LONG_MS)) {
		t_dump(pool, "expiries lost");
		ck_abort_msg("%u of %u callbacks", atomic_load(&many_total), N);
	}
	woke = atomic_load(&port->wakeups) - before;
	t_sleep_ms(50);
	t_assert_u(atomic_load(&many_total), ==, N);
	for (int i = 0; i < N; i++)
		if (atomic_load(&many_calls[i]) != 1)
			ck_abort_msg("timer %d: %u expirations", i, atomic_load(&many_calls[i]));
	/* The first arming rings the doorbell, the due time wakes the event
	 * thread: all 5,000 are taken then.  (Unless the arming itself ran
	 * into the due time, on a machine loaded enough: then later armings
	 * ring again, rightly.) */
	if (set_done + 100 * MS < due)
		t_assert_u(woke, <=, 4);
	else
		fprintf(stderr, "  arming took %llu ms: wake-ups not judged (%llu)\n",
			(unsigned long long)((set_done - (due - 300 * MS)) / MS), woke);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(rp_timer_close(t[i]), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* Behaviour 12: an idle pool with a timer an hour ahead makes no
 * wake-ups. */
START_TEST(test_rp_timer_set_far_no_wakeups)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r = { 0 };
	rp_timer *t = timer(pool, &r);
	unsigned long long before, after;

	ck_assert_int_eq(rp_timer_set(t, 3600ull * 1000 * MS, 0, 0, 0), 0);
	t_sleep_ms(100);
	before = t_others_switches();
	t_sleep_ms(500);
	after = t_others_switches();
#ifdef __SANITIZE_THREAD__
	after = before; /* TSan's own thread wakes up */
#endif
	ck_assert_msg(after == before, "threads switched %llu times in 500 ms", after - before);
	ck_assert(rp_timer_is_set(t));
	ck_assert_int_eq(rp_timer_close(t), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* RP_RUNS_LONG: the callback starts inside a hinted block. */
START_TEST(test_rp_timer_create_runs_long)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct rp_env env = { .flags = RP_RUNS_LONG };
	struct rec r = { 0 };
	struct rp_stats st;
	rp_timer *t;

	ck_assert_int_eq(rp_timer_create(&t, pool, rec_fn, &r, &env), 0);
	ck_assert_int_eq(rp_timer_set(t, 1 * MS, 0, 0, 0), 0);
	wait_calls(&r, 1);
	ck_assert_int_eq(rp_timer_wait(t, false), 0);
	ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
	t_assert_u(st.blocks_hinted, ==, 1);
	ck_assert_int_eq(rp_timer_close(t), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* ------------------------------------------------------------------ errors */

START_TEST(test_rp_timer_errors)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	rp_timer *sentinel = (rp_timer *)(uintptr_t)0x99, *t = sentinel;
	struct rp_env env = { .resv = { 1 } };
	struct rec r = { 0 };
	pid_t pid;
	int status;

	ck_assert_int_eq(rp_timer_create(NULL, pool, rec_fn, &r, NULL), -EINVAL);
	ck_assert_int_eq(rp_timer_create(&t, pool, NULL, &r, NULL), -EINVAL);
	ck_assert_int_eq(rp_timer_create(&t, pool, rec_fn, &r, &env), -EINVAL);
	ck_assert_ptr_eq(t, sentinel);
	t = timer(pool, &r);
	ck_assert_int_eq(rp_timer_set(NULL, 1, 0, 0, 0), -EINVAL);
	ck_assert_int_eq(rp_timer_set(t, 1 * MS, 0, 0, 1u << 3), -EINVAL);
	ck_assert_int_eq(rp_timer_set(t, 1 * MS, 0, 0, RP_TIMER_BOOTTIME | RP_TIMER_REALTIME),
			 -EINVAL);
	ck_assert(!rp_timer_is_set(t));
	ck_assert_int_eq(rp_timer_cancel(NULL), -EINVAL);
	ck_assert_int_eq(rp_timer_wait(NULL, false), -EINVAL);
	ck_assert_int_eq(rp_timer_close(NULL), -EINVAL);
	ck_assert(!rp_timer_is_set(NULL));
	/* An open timer keeps its pool. */
	ck_assert_int_eq(rp_pool_destroy(pool), -EBUSY);
	/* Inherited across fork(): -ECHILD. */
	ck_assert_int_eq(rp_timer_set(t, 1000 * MS, 0, 0, 0), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(rp_timer_set(t, 1 * MS, 0, 0, 0) == -ECHILD &&
		      rp_timer_cancel(t) == -ECHILD && rp_timer_wait(t, true) == -ECHILD ? 0 : 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert(rp_timer_is_set(t));
	ck_assert_int_eq(rp_timer_close(t), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	t_assert_u(atomic_load(&r.calls), ==, 0);
}
END_TEST

Suite *make_suite(void);
Suite *make_suite(void)
{
	Suite *s = suite_create("timer");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_timer_set_one_shot);
	tcase_add_test(tc, test_rp_timer_set_absolute);
	tcase_add_test(tc, test_rp_timer_set_periodic_no_drift);
	tcase_add_test(tc, test_rp_timer_set_merges_expirations);
	tcase_add_test(tc, test_rp_timer_set_replaces);
	tcase_add_test(tc, test_rp_timer_cancel_armed);
	tcase_add_test(tc, test_rp_timer_cancel_queued);
	tcase_add_test(tc, test_rp_timer_close_rules);
	tcase_add_test(tc, test_rp_timer_wait_rules);
	tcase_add_test(tc, test_rp_timer_set_arming_thread_exits);
	tcase_add_test(tc, test_rp_timer_set_windows_coalesce);
	tcase_add_test(tc, test_rp_timer_set_many_due_at_once);
	tcase_add_test(tc, test_rp_timer_set_far_no_wakeups);
	tcase_add_test(tc, test_rp_timer_create_runs_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_timer_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return t_main(make_suite, true);
}
