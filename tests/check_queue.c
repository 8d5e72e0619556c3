/* SPDX-License-Identifier: MIT */
/*
 * check_queue.c - subsystem queues (lib/queue.c), DESIGN's behaviour 13:
 * a width-N queue never has more than N callbacks in progress, blocked
 * ones included (counted); a serial queue runs in post order; a queue
 * flooded with blocking work keeps another of the same priority waiting
 * at most a bound in quanta (counted); rp_queue_wait(q, true) drops what
 * has not started.  Also: widths composing along target chains, kernel
 * objects' callbacks through a queue, priorities between queues,
 * RP_RUNS_LONG, close rules, -EDEADLK, ten thousand queues, and every bad
 * argument; under both backends.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "../lib/internal.h"

#define T_LONG_MS 20000u
#define MS 1000000ull

/* Wait until *n reaches a count. */
struct target {
	_Atomic unsigned *n;
	unsigned want;
};

static bool reached(void *arg)
{
	struct target *t = arg;

	return atomic_load(t->n) >= t->want;
}

static void wait_count(_Atomic unsigned *n, unsigned want)
{
	struct target t = { n, want };

	ck_assert_msg(t_wait_until(reached, &t, T_LONG_MS), "%u of %u callbacks", atomic_load(n),
		      want);
}

/* ------------------------------------------------------------------ width */

struct wjob {
	struct t_conc *conc;
	_Atomic unsigned *done;
	bool hinted;
};

static void width_fn(void *arg)
{
	struct wjob *j = arg;

	t_conc_enter(j->conc);
	if (j->hinted)
		rp_blocking_begin();
	t_sleep_ms(3); /* blocked, hinted or not: still in progress */
	if (j->hinted)
		rp_blocking_end();
	t_conc_leave(j->conc);
	atomic_fetch_add(j->done, 1);
}

/* Behaviour 13: a width-3 queue never runs more than 3 callbacks at once,
 * though they block (hinted and unhinted) and the pool replaces them. */
START_TEST(test_rp_queue_width_bounds_blocked_callbacks)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct t_conc conc = { 0 };
	_Atomic unsigned done = 0;
	struct wjob jobs[60];
	rp_queue *q;

	ck_assert_int_eq(rp_queue_create(&q, pool, 3, RP_PRIORITY_NORMAL, NULL), 0);
	for (int i = 0; i < 60; i++) {
		jobs[i] = (struct wjob){ &conc, &done, i % 2 == 0 };
		ck_assert_int_eq(rp_queue_post(q, width_fn, &jobs[i]), 0);
	}
	wait_count(&done, 60);
	ck_assert_int_eq(rp_queue_wait(q, false), 0);
	t_assert_i(atomic_load(&conc.peak), <=, 3);
	t_assert_i(atomic_load(&conc.peak), ==, 3); /* the width was used */
	ck_assert_int_eq(rp_queue_close(q), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* ------------------------------------------------------------------ serial */

struct order {
	_Atomic unsigned next;
	_Atomic unsigned bad;
	struct t_conc conc;
};

struct ojob {
	struct order *o;
	unsigned idx;
};

static void order_fn(void *arg)
{
	struct ojob *j = arg;

	t_conc_enter(&j->o->conc);
	if (atomic_load(&j->o->next) != j->idx)
		atomic_fetch_add(&j->o->bad, 1);
	if (j->idx % 100 == 0)
		t_sleep_ms(1); /* a block now and then */
	atomic_store(&j->o->next, j->idx + 1);
	t_conc_leave(&j->o->conc);
}

/* A serial queue runs in post order, one at a time. */
START_TEST(test_rp_queue_serial_order)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	static struct ojob jobs[2000];
	struct order o = { 0 };
	rp_queue *q;

	ck_assert_int_eq(rp_queue_create(&q, pool, 1, RP_PRIORITY_NORMAL, NULL), 0);
	for (unsigned i = 0; i < 2000; i++) {
		jobs[i] = (struct ojob){ &o, i };
		ck_assert_int_eq(rp_queue_post(q, order_fn, &jobs[i]), 0);
	}
	ck_assert_int_eq(rp_queue_wait(q, false), 0);
	t_assert_u(atomic_load(&o.next), ==, 2000);
	t_assert_u(atomic_load(&o.bad), ==, 0);
	t_assert_i(atomic_load(&o.conc.peak), ==, 1);
	ck_assert_int_eq(rp_queue_close(q), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* Serial queues (one per "connection") targeting a width-2 queue: each in
 * order, and no more than 2 callbacks of them all at once. */
struct conn {
	struct order o;
	struct t_conc *all;
	_Atomic unsigned *done;
};

struct cjob {
	struct conn *c;
	unsigned idx;
};

static void conn_fn(void *arg)
{
	struct cjob *j = arg;

	t_conc_enter(j->c->all);
	if (atomic_load(&j->c->o.next) != j->idx)
		atomic_fetch_add(&j->c->o.bad, 1);
	t_sleep_ms(1);
	atomic_store(&j->c->o.next, j->idx + 1);
	t_conc_leave(j->c->all);
	atomic_fetch_add(j->c->done, 1);
}

START_TEST(test_rp_queue_target_chain_composes_widths)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	static struct conn conns[10];
	static struct cjob jobs[10][20];
	struct rp_queue_opts opts = { 0 };
	struct t_conc all = { 0 };
	_Atomic unsigned done = 0;
	rp_queue *sub, *cq[10];

	ck_assert_int_eq(rp_queue_create(&sub, pool, 2, RP_PRIORITY_NORMAL, NULL), 0);
	opts.target = sub;
	for (int c = 0; c < 10; c++) {
		memset(&conns[c], 0, sizeof(conns[c]));
		conns[c].all = &all;
		conns[c].done = &done;
		ck_assert_int_eq(rp_queue_create(&cq[c], pool, 1, RP_PRIORITY_NORMAL, &opts), 0);
	}
	/* The subsystem queue is named by its connections: not closable. */
	t_assert_i(rp_queue_close(sub), ==, -EBUSY);
	for (unsigned i = 0; i < 20; i++)
		for (int c = 0; c < 10; c++) {
			jobs[c][i] = (struct cjob){ &conns[c], i };
			ck_assert_int_eq(rp_queue_post(cq[c], conn_fn, &jobs[c][i]), 0);
		}
	wait_count(&done, 200);
	for (int c = 0; c < 10; c++) {
		ck_assert_int_eq(rp_queue_wait(cq[c], false), 0);
		t_assert_u(atomic_load(&conns[c].o.bad), ==, 0);
		t_assert_u(atomic_load(&conns[c].o.next), ==, 20);
		ck_assert_int_eq(rp_queue_close(cq[c]), 0);
	}
	t_assert_i(atomic_load(&all.peak), <=, 2);
	t_assert_i(atomic_load(&all.peak), ==, 2);
	ck_assert_int_eq(rp_queue_close(sub), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* ------------------------------------------------------------------ fairness */

struct flood {
	_Atomic unsigned started;
	_Atomic unsigned at_b;      /* started when B's callback ran */
	_Atomic bool b_ran;
};

static void flood_fn(void *arg)
{
	struct flood *f = arg;

	atomic_fetch_add(&f->started, 1);
	t_sleep_ms(2); /* unhinted: the pool must notice */
}

static void b_fn(void *arg)
{
	struct flood *f = arg;

	atomic_store(&f->at_b, atomic_load(&f->started));
	atomic_store(&f->b_ran, true);
}

static bool b_ran(void *arg)
{
	return atomic_load(&((struct flood *)arg)->b_ran);
}

/* Behaviour 13: queue A, width 4, flooded with 400 blocking callbacks;
 * queue B, same priority, posts one.  On a pool of one thread (no
 * replacement can run B beside A), B waits behind at most A's drainers'
 * turns: width x quantum callbacks of A. */
START_TEST(test_rp_queue_flood_does_not_starve_another)
{
	rp_pool *pool = t_pool(1, 0, 1, 0);
	struct rp_queue_opts opts = { .quantum = 8 };
	struct flood f = { 0 };
	unsigned before, waited;
	rp_queue *a, *b;

	ck_assert_int_eq(rp_queue_create(&a, pool, 4, RP_PRIORITY_NORMAL, &opts), 0);
	ck_assert_int_eq(rp_queue_create(&b, pool, 1, RP_PRIORITY_NORMAL, NULL), 0);
	for (int i = 0; i < 400; i++)
		ck_assert_int_eq(rp_queue_post(a, flood_fn, &f), 0);
	t_sleep_ms(20);
	before = atomic_load(&f.started);
	ck_assert_int_eq(rp_queue_post(b, b_fn, &f), 0);
	ck_assert(t_wait_until(b_ran, &f, T_LONG_MS));
	waited = atomic_load(&f.at_b) - before;
	fprintf(stderr, "  B waited for %u callbacks of A (bound %u) (%s)\n", waited, 4 * 8 + 1,
		t_backend());
	t_assert_u(waited, <=, 4 * 8 + 1);
	t_assert_u(atomic_load(&f.started), <, 400); /* it did not wait for the flood */
	ck_assert_int_eq(rp_queue_wait(a, true), 0);
	ck_assert_int_eq(rp_queue_close(a), 0);
	ck_assert_int_eq(rp_queue_close(b), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* HIGH before NORMAL before LOW, between queues as between posts. */
struct prio_rec {
	_Atomic unsigned seq;
	_Atomic unsigned at[3];
};

struct pjob {
	struct prio_rec *r;
	int which;
};

static void prio_fn(void *arg)
{
	struct pjob *j = arg;

	atomic_store(&j->r->at[j->which], atomic_fetch_add(&j->r->seq, 1) + 1);
}

START_TEST(test_rp_queue_priorities)
{
	rp_pool *pool = t_pool(1, 0, 1, 0);
	struct prio_rec r = { 0 };
	struct pjob jobs[3];
	struct t_blocker b;
	rp_queue *q[3];

	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(rp_queue_create(&q[i], pool, 1, (enum rp_priority)i, NULL), 0);
		jobs[i] = (struct pjob){ &r, i };
	}
	t_blocker_start(pool, &b);
	ck_assert_int_eq(rp_queue_post(q[RP_PRIORITY_LOW], prio_fn, &jobs[RP_PRIORITY_LOW]), 0);
	ck_assert_int_eq(rp_queue_post(q[RP_PRIORITY_NORMAL], prio_fn, &jobs[RP_PRIORITY_NORMAL]),
			 0);
	ck_assert_int_eq(rp_queue_post(q[RP_PRIORITY_HIGH], prio_fn, &jobs[RP_PRIORITY_HIGH]), 0);
	t_event_set(&b.release);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(rp_queue_wait(q[i], false), 0);
	t_assert_u(atomic_load(&r.at[RP_PRIORITY_HIGH]), ==, 1);
	t_assert_u(atomic_load(&r.at[RP_PRIORITY_NORMAL]), ==, 2);
	t_assert_u(atomic_load(&r.at[RP_PRIORITY_LOW]), ==, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(rp_queue_close(q[i]), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* ------------------------------------------------------------------ wait, cancel, close */

struct gate {
	struct t_event open;
	struct t_event in;
	_Atomic unsigned ran;
};

static void gate_fn(void *arg)
{
	struct gate *g = arg;

	t_event_set(&g->in);
	t_event_wait(&g->open);
	atomic_fetch_add(&g->ran, 1);
}

static void count_fn(void *arg)
{
	atomic_fetch_add((_Atomic unsigned *)arg, 1);
}

static void *open_later(void *arg)
{
	struct gate *g = arg;

	t_sleep_ms(30);
	t_event_set(&g->open);
	return NULL;
}

/* Behaviour 13: wait with cancel drops what has not started, waits for
 * what has; stats say so. */
START_TEST(test_rp_queue_wait_cancel_drops_pending)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct gate g = { 0 };
	_Atomic unsigned later = 0;
	struct rp_queue_stats st;
	pthread_t th;
	rp_queue *q;

	ck_assert_int_eq(rp_queue_create(&q, pool, 1, RP_PRIORITY_NORMAL, NULL), 0);
	ck_assert_int_eq(rp_queue_post(q, gate_fn, &g), 0);
	t_event_wait(&g.in);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(rp_queue_post(q, count_fn, &later), 0);
	ck_assert_int_eq(rp_queue_stats(q, &st), 0);
	t_assert_u(st.width, ==, 1);
	t_assert_u(st.inflight, ==, 1);
	t_assert_u(st.queued, ==, 100);
	ck_assert_int_eq(pthread_create(&th, NULL, open_later, &g), 0);
	ck_assert_int_eq(rp_queue_wait(q, true), 0);
	/* It returned after the running one finished. */
	t_assert_u(atomic_load(&g.ran), ==, 1);
	pthread_join(th, NULL);
	t_sleep_ms(20);
	t_assert_u(atomic_load(&later), ==, 0);
	ck_assert_int_eq(rp_queue_stats(q, &st), 0);
	t_assert_u(st.queued, ==, 0);
	t_assert_u(st.inflight, ==, 0);
	t_assert_u(st.completed, ==, 1);
	t_assert_u(st.cancelled, ==, 100);
	/* The queue still serves. */
	ck_assert_int_eq(rp_queue_post(q, count_fn, &later), 0);
	ck_assert_int_eq(rp_queue_wait(q, false), 0);
	t_assert_u(atomic_load(&later), ==, 1);
	ck_assert_int_eq(rp_queue_close(q), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* -EDEADLK from the queue's own callback and from a queue targeting it. */
struct dl {
	rp_queue *q;
	_Atomic int ret;
	_Atomic unsigned done;
};

static void deadlock_fn(void *arg)
{
	struct dl *d = arg;

	atomic_store(&d->ret, rp_queue_wait(d->q, false));
	atomic_fetch_add(&d->done, 1);
}

START_TEST(test_rp_queue_wait_edeadlk)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rp_queue_opts opts = { 0 };
	struct dl d1 = { 0 }, d2 = { 0 }, d3 = { 0 };
	rp_queue *parent, *child, *other;

	ck_assert_int_eq(rp_queue_create(&parent, pool, 4, RP_PRIORITY_NORMAL, NULL), 0);
	opts.target = parent;
	ck_assert_int_eq(rp_queue_create(&child, pool, 1, RP_PRIORITY_NORMAL, &opts), 0);
	ck_assert_int_eq(rp_queue_create(&other, pool, 1, RP_PRIORITY_NORMAL, NULL), 0);
	d1.q = parent;
	ck_assert_int_eq(rp_queue_post(parent, deadlock_fn, &d1), 0);
	d2.q = parent;
	ck_assert_int_eq(rp_queue_post(child, deadlock_fn, &d2), 0);
	d3.q = other; /* another queue's wait from a callback: a hinted block */
	ck_assert_int_eq(rp_queue_post(child, deadlock_fn, &d3), 0);
	wait_count(&d1.done, 1);
	wait_count(&d2.done, 1);
	wait_count(&d3.done, 1);
	t_assert_i(atomic_load(&d1.ret), ==, -EDEADLK);
	t_assert_i(atomic_load(&d2.ret), ==, -EDEADLK);
	t_assert_i(atomic_load(&d3.ret), ==, 0);
	ck_assert_int_eq(rp_queue_close(child), 0);
	ck_assert_int_eq(rp_queue_close(parent), 0);
	ck_assert_int_eq(rp_queue_close(other), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* Close never blocks, and posted callbacks still run; destroy runs them. */
START_TEST(test_rp_queue_close_runs_posted)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	_Atomic unsigned n = 0;
	struct t_blocker b;
	rp_queue *q;

	ck_assert_int_eq(rp_queue_create(&q, pool, 2, RP_PRIORITY_NORMAL, NULL), 0);
	t_blocker_start(pool, &b);
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(rp_queue_post(q, count_fn, &n), 0);
	ck_assert_int_eq(rp_queue_close(q), 0);
	t_assert_u(atomic_load(&n), ==, 0);
	t_event_set(&b.release);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	t_assert_u(atomic_load(&n), ==, 50);
}
END_TEST

/* ------------------------------------------------------------------ objects */

/* A work object and a timer whose env names a serial queue: their
 * callbacks and the queue's own posts never overlap; the queue cannot be
 * closed while they are open. */
struct ocount {
	struct t_conc *conc;
	_Atomic unsigned n;
};

static void work_cb(void *arg)
{
	struct ocount *c = arg;

	t_conc_enter(c->conc);
	t_sleep_ms(1);
	t_conc_leave(c->conc);
	atomic_fetch_add(&c->n, 1);
}

static void timer_cb(void *arg, int res)
{
	(void)res;
	work_cb(arg);
}

START_TEST(test_rp_queue_objects_through_queue)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct t_conc conc = { 0 };
	struct ocount cw = { &conc, 0 }, ct = { &conc, 0 }, cp = { &conc, 0 };
	struct rp_env env = { 0 };
	rp_timer *t;
	rp_work *w;
	rp_queue *q;

	ck_assert_int_eq(rp_queue_create(&q, pool, 1, RP_PRIORITY_NORMAL, NULL), 0);
	env.queue = q;
	ck_assert_int_eq(rp_work_create_env(&w, pool, work_cb, &cw, &env), 0);
	ck_assert_int_eq(rp_timer_create(&t, pool, timer_cb, &ct, &env), 0);
	t_assert_i(rp_queue_close(q), ==, -EBUSY);
	ck_assert_int_eq(rp_timer_set(t, 1 * MS, 2 * MS, 0, 0), 0);
	for (int i = 0; i < 30; i++) {
		ck_assert_int_eq(rp_work_submit(w), 0);
		ck_assert_int_eq(rp_queue_post(q, work_cb, &cp), 0);
		t_sleep_ms(1);
	}
	wait_count(&ct.n, 3);
	ck_assert_int_eq(rp_timer_close(t), 0);
	ck_assert_int_eq(rp_work_wait(w, false), 0);
	ck_assert_int_eq(rp_work_close(w), 0);
	ck_assert_int_eq(rp_queue_wait(q, false), 0);
	t_assert_u(atomic_load(&cw.n), ==, 30);
	t_assert_u(atomic_load(&cp.n), ==, 30);
	t_assert_i(atomic_load(&conc.peak), ==, 1);
	ck_assert_int_eq(rp_queue_close(q), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* RP_RUNS_LONG: each callback starts inside a hinted block. */
START_TEST(test_rp_queue_runs_long)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct rp_queue_opts opts = { .flags = RP_RUNS_LONG };
	struct rp_stats s0, s1;
	_Atomic unsigned n = 0;
	rp_queue *q;

	ck_assert_int_eq(rp_queue_create(&q, pool, 4, RP_PRIORITY_NORMAL, &opts), 0);
	ck_assert_int_eq(rp_pool_stats(pool, &s0), 0);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(rp_queue_post(q, count_fn, &n), 0);
	ck_assert_int_eq(rp_queue_wait(q, false), 0);
	ck_assert_int_eq(rp_pool_stats(pool, &s1), 0);
	t_assert_u(s1.blocks_hinted - s0.blocks_hinted, >=, 10);
	ck_assert_int_eq(rp_queue_close(q), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* Ten thousand queues, one per connection: each takes a callback. */
START_TEST(test_rp_queue_ten_thousand)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	static rp_queue *q[10000];
	_Atomic unsigned n = 0;

	for (int i = 0; i < 10000; i++)
		ck_assert_int_eq(rp_queue_create(&q[i], pool, 1, RP_PRIORITY_NORMAL, NULL), 0);
	for (int i = 0; i < 10000; i++)
		ck_assert_int_eq(rp_queue_post(q[i], count_fn, &n), 0);
	wait_count(&n, 10000);
	for (int i = 0; i < 10000; i++) {
		ck_assert_int_eq(rp_queue_wait(q[i], false), 0);
		ck_assert_int_eq(rp_queue_close(q[i]), 0);
	}
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* ------------------------------------------------------------------ errors */

START_TEST(test_rp_queue_errors)
{
	rp_pool *pool = t_pool(1, 0, 0, 0), *other = t_pool(1, 0, 0, 0);
	rp_queue *sentinel = (rp_queue *)(uintptr_t)0x55, *q = sentinel, *oq, *ok;
	struct rp_queue_opts opts = { 0 };
	struct rp_queue_stats st;

	ck_assert_int_eq(rp_queue_create(NULL, pool, 1, RP_PRIORITY_NORMAL, NULL), -EINVAL);
	ck_assert_int_eq(rp_queue_create(&q, pool, 0, RP_PRIORITY_NORMAL, NULL), -EINVAL);
	ck_assert_int_eq(rp_queue_create(&q, pool, 1, (enum rp_priority)3, NULL), -EINVAL);
	opts.resv[2] = 1;
	ck_assert_int_eq(rp_queue_create(&q, pool, 1, RP_PRIORITY_NORMAL, &opts), -EINVAL);
	memset(&opts, 0, sizeof(opts));
	opts.flags = 2;
	ck_assert_int_eq(rp_queue_create(&q, pool, 1, RP_PRIORITY_NORMAL, &opts), -EINVAL);
	ck_assert_int_eq(rp_queue_create(&oq, other, 1, RP_PRIORITY_NORMAL, NULL), 0);
	memset(&opts, 0, sizeof(opts));
	opts.target = oq;
	ck_assert_int_eq(rp_queue_create(&q, pool, 1, RP_PRIORITY_NORMAL, &opts), -EINVAL);
	ck_assert_ptr_eq(q, sentinel);
	opts.target = NULL;
	opts.name = "db";
	ck_assert_int_eq(rp_queue_create(&ok, pool, RP_WIDTH_MAX, RP_PRIORITY_LOW, &opts), 0);
	ck_assert_int_eq(rp_queue_post(NULL, count_fn, NULL), -EINVAL);
	ck_assert_int_eq(rp_queue_post(ok, NULL, NULL), -EINVAL);
	ck_assert_int_eq(rp_queue_wait(NULL, false), -EINVAL);
	ck_assert_int_eq(rp_queue_stats(NULL, &st), -EINVAL);
	ck_assert_int_eq(rp_queue_stats(ok, NULL), -EINVAL);
	ck_assert_int_eq(rp_queue_close(NULL), -EINVAL);
	ck_assert_int_eq(rp_queue_stats(ok, &st), 0);
	t_assert_u(st.width, ==, RP_WIDTH_MAX);
	/* An open queue keeps its pool. */
	ck_assert_int_eq(rp_pool_destroy(pool), -EBUSY);
	ck_assert_int_eq(rp_queue_close(ok), 0);
	ck_assert_int_eq(rp_queue_close(oq), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	ck_assert_int_eq(rp_pool_destroy(other), 0);
}
END_TEST

Suite *make_suite(void);
Suite *make_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_queue_width_bounds_blocked_callbacks);
	tcase_add_test(tc, test_rp_queue_serial_order);
	tcase_add_test(tc, test_rp_queue_target_chain_composes_widths);
	tcase_add_test(tc, test_rp_queue_flood_does_not_starve_another);
	tcase_add_test(tc, test_rp_queue_priorities);
	tcase_add_test(tc, test_rp_queue_wait_cancel_drops_pending);
	tcase_add_test(tc, test_rp_queue_wait_edeadlk);
	tcase_add_test(tc, test_rp_queue_close_runs_posted);
	tcase_add_test(tc, test_rp_queue_objects_through_queue);
	tcase_add_test(tc, test_rp_queue_runs_long);
	tcase_add_test(tc, test_rp_queue_ten_thousand);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_queue_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return t_main(make_suite, true);
}
