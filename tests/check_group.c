/* SPDX-License-Identifier: MIT */
/*
 * check_group.c - groups (lib/group.c) and cleanup groups (lib/cleanup.c),
 * DESIGN's behaviour 14: a group's wait returns only after every entered
 * task has left; a notification runs exactly once per zero-crossing;
 * close_members closes every member, calls the cancel_fn of each member
 * that lost a callback exactly once (and of no other), and waits for
 * running callbacks.  Under both backends.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "../lib/internal.h"

#define T_LONG_MS 20000u
#define MS 1000000ull

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

	ck_assert_msg(t_wait_until(reached, &t, T_LONG_MS), "%u of %u", atomic_load(n), want);
}

/* ------------------------------------------------------------------ groups */

struct gstate {
	_Atomic unsigned done;
	_Atomic unsigned notified;
	_Atomic unsigned done_at_notify;
};

static void slow_task(void *arg)
{
	struct gstate *s = arg;

	t_sleep_ms(2);
	atomic_fetch_add(&s->done, 1);
}

static void note_fn(void *arg)
{
	struct gstate *s = arg;

	atomic_store(&s->done_at_notify, atomic_load(&s->done));
	atomic_fetch_add(&s->notified, 1);
}

/* Behaviour 14: wait returns after every task left; the notification runs
 * once, after them all. */
START_TEST(test_rp_group_wait_and_notify)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct gstate s = { 0 };
	rp_queue *q;
	rp_group *g;

	ck_assert_int_eq(rp_group_create(&g, pool), 0);
	ck_assert_int_eq(rp_queue_create(&q, pool, 2, RP_PRIORITY_NORMAL, NULL), 0);
	for (int i = 0; i < 40; i++)
		ck_assert_int_eq(rp_group_post(g, i % 2 ? q : NULL, slow_task, &s), 0);
	ck_assert_int_eq(rp_group_notify(g, NULL, note_fn, &s), 0);
	ck_assert_int_eq(rp_group_wait(g, RP_INFINITE), 0);
	t_assert_u(atomic_load(&s.done), ==, 40);
	wait_count(&s.notified, 1);
	t_assert_u(atomic_load(&s.done_at_notify), ==, 40);
	/* At zero: wait returns at once, a notification posts at once. */
	ck_assert_int_eq(rp_group_wait(g, 0), 0);
	ck_assert_int_eq(rp_group_notify(g, q, note_fn, &s), 0);
	wait_count(&s.notified, 2);
	t_sleep_ms(20);
	t_assert_u(atomic_load(&s.notified), ==, 2);
	ck_assert_int_eq(rp_queue_wait(q, false), 0);
	ck_assert_int_eq(rp_group_close(g), 0);
	ck_assert_int_eq(rp_queue_close(q), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* Wait, close, destroy at once: the leave that brought the count to zero
 * may still be posting notifications on a worker; destroy must not see
 * the closed group as open (it waits for that task instead). */
static void nop_task(void *arg)
{
	(void)arg;
}

START_TEST(test_rp_group_close_then_destroy_at_once)
{
	for (int r = 0; r < 300; r++) {
		rp_pool *pool = t_pool(2, 0, 0, 0);
		struct gstate s = { 0 };
		rp_group *g;
		int ret;

		ck_assert_int_eq(rp_group_create(&g, pool), 0);
		ck_assert_int_eq(rp_group_post(g, NULL, nop_task, NULL), 0);
		ck_assert_int_eq(rp_group_notify(g, NULL, note_fn, &s), 0);
		ck_assert_int_eq(rp_group_wait(g, RP_INFINITE), 0);
		ck_assert_int_eq(rp_group_close(g), 0);
		ret = rp_pool_destroy(pool);
		ck_assert_msg(ret == 0, "round %d: rp_pool_destroy = %d", r, ret);
		t_assert_u(atomic_load(&s.notified), ==, 1);
	}
}
END_TEST

/* enter/leave by hand: timeouts, each zero-crossing fires the
 * notifications registered before it, once. */
START_TEST(test_rp_group_enter_leave_crossings)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct gstate s = { 0 };
	uint64_t t0;
	rp_group *g;

	ck_assert_int_eq(rp_group_create(&g, pool), 0);
	t_assert_i(rp_group_leave(g), ==, -EINVAL); /* below zero: nothing changes */
	ck_assert_int_eq(rp_group_enter(g), 0);
	ck_assert_int_eq(rp_group_enter(g), 0);
	t_assert_i(rp_group_wait(g, 0), ==, -ETIMEDOUT);
	t0 = t_now_ns();
	t_assert_i(rp_group_wait(g, 30 * MS), ==, -ETIMEDOUT);
	t_assert_u(t_now_ns() - t0, >=, 30 * MS);
	ck_assert_int_eq(rp_group_notify(g, NULL, note_fn, &s), 0);
	ck_assert_int_eq(rp_group_notify(g, NULL, note_fn, &s), 0);
	ck_assert_int_eq(rp_group_leave(g), 0);
	t_sleep_ms(20);
	t_assert_u(atomic_load(&s.notified), ==, 0);
	ck_assert_int_eq(rp_group_leave(g), 0); /* first crossing: both */
	wait_count(&s.notified, 2);
	ck_assert_int_eq(rp_group_enter(g), 0);
	ck_assert_int_eq(rp_group_notify(g, NULL, note_fn, &s), 0);
	ck_assert_int_eq(rp_group_leave(g), 0); /* second crossing: one */
	wait_count(&s.notified, 3);
	ck_assert_int_eq(rp_group_enter(g), 0);
	ck_assert_int_eq(rp_group_leave(g), 0); /* third: none registered */
	t_sleep_ms(20);
	t_assert_u(atomic_load(&s.notified), ==, 3);
	ck_assert_int_eq(rp_group_close(g), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* A wait inside a callback is a hinted block: on a pool of one slot, the
 * awaited tasks still run. */
struct inner {
	rp_group *g;
	struct gstate s;
	_Atomic int ret;
	_Atomic unsigned finished;
};

static void waiting_fn(void *arg)
{
	struct inner *in = arg;

	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(rp_group_post(in->g, NULL, slow_task, &in->s), 0);
	atomic_store(&in->ret, rp_group_wait(in->g, RP_INFINITE));
	atomic_fetch_add(&in->finished, 1);
}

START_TEST(test_rp_group_wait_in_callback)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct inner in = { 0 };

	ck_assert_int_eq(rp_group_create(&in.g, pool), 0);
	ck_assert_int_eq(rp_post(pool, waiting_fn, &in), 0);
	wait_count(&in.finished, 1);
	t_assert_i(atomic_load(&in.ret), ==, 0);
	t_assert_u(atomic_load(&in.s.done), ==, 5);
	ck_assert_int_eq(rp_group_close(in.g), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* Closed with tasks in it: freed at zero, notifications still posted. */
START_TEST(test_rp_group_close_before_zero)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct gstate s = { 0 };
	rp_group *g;

	ck_assert_int_eq(rp_group_create(&g, pool), 0);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(rp_group_post(g, NULL, slow_task, &s), 0);
	ck_assert_int_eq(rp_group_notify(g, NULL, note_fn, &s), 0);
	ck_assert_int_eq(rp_group_close(g), 0);
	wait_count(&s.notified, 1);
	t_assert_u(atomic_load(&s.done_at_notify), ==, 10);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* A queue's cancel drops its own posts, never a group's tasks on it: the
 * group still comes back to zero. */
struct qgate {
	struct t_event in, open;
};

static void qgate_fn(void *arg)
{
	struct qgate *g = arg;

	t_event_set(&g->in);
	t_event_wait(&g->open);
}

static void *open_qgate(void *arg)
{
	t_sleep_ms(30);
	t_event_set(&((struct qgate *)arg)->open);
	return NULL;
}

static void nop_fn(void *arg)
{
	(void)arg;
}

START_TEST(test_rp_group_tasks_survive_queue_cancel)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct gstate s = { 0 };
	struct qgate qg = { 0 };
	struct rp_queue_stats st;
	pthread_t th;
	rp_queue *q;
	rp_group *g;

	ck_assert_int_eq(rp_group_create(&g, pool), 0);
	ck_assert_int_eq(rp_queue_create(&q, pool, 1, RP_PRIORITY_NORMAL, NULL), 0);
	ck_assert_int_eq(rp_queue_post(q, qgate_fn, &qg), 0);
	t_event_wait(&qg.in);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(rp_group_post(g, q, slow_task, &s), 0);
		ck_assert_int_eq(rp_queue_post(q, nop_fn, NULL), 0);
	}
	ck_assert_int_eq(pthread_create(&th, NULL, open_qgate, &qg), 0);
	ck_assert_int_eq(rp_queue_wait(q, true), 0);
	pthread_join(th, NULL);
	ck_assert_int_eq(rp_group_wait(g, RP_INFINITE), 0);
	t_assert_u(atomic_load(&s.done), ==, 5);
	ck_assert_int_eq(rp_queue_stats(q, &st), 0);
	t_assert_u(st.cancelled, ==, 5);
	t_assert_u(st.completed, ==, 1);
	ck_assert_int_eq(rp_group_close(g), 0);
	ck_assert_int_eq(rp_queue_close(q), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

START_TEST(test_rp_group_errors)
{
	rp_pool *pool = t_pool(1, 0, 0, 0), *other = t_pool(1, 0, 0, 0);
	rp_group *sentinel = (rp_group *)(uintptr_t)0x66, *g = sentinel;
	rp_queue *oq;

	ck_assert_int_eq(rp_group_create(NULL, pool), -EINVAL);
	ck_assert_ptr_eq(g, sentinel);
	ck_assert_int_eq(rp_group_create(&g, pool), 0);
	ck_assert_int_eq(rp_queue_create(&oq, other, 1, RP_PRIORITY_NORMAL, NULL), 0);
	t_assert_i(rp_group_post(NULL, NULL, slow_task, NULL), ==, -EINVAL);
	t_assert_i(rp_group_post(g, NULL, NULL, NULL), ==, -EINVAL);
	t_assert_i(rp_group_post(g, oq, slow_task, NULL), ==, -EINVAL);
	t_assert_i(rp_group_notify(g, oq, note_fn, NULL), ==, -EINVAL);
	t_assert_i(rp_group_notify(g, NULL, NULL, NULL), ==, -EINVAL);
	t_assert_i(rp_group_enter(NULL), ==, -EINVAL);
	t_assert_i(rp_group_leave(NULL), ==, -EINVAL);
	t_assert_i(rp_group_wait(NULL, 0), ==, -EINVAL);
	t_assert_i(rp_group_close(NULL), ==, -EINVAL);
	ck_assert_int_eq(rp_group_wait(g, 0), 0); /* nothing entered */
	ck_assert_int_eq(rp_pool_destroy(pool), -EBUSY);
	ck_assert_int_eq(rp_group_close(g), 0);
	ck_assert_int_eq(rp_queue_close(oq), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	ck_assert_int_eq(rp_pool_destroy(other), 0);
}
END_TEST

/* ------------------------------------------------------------------ cleanup groups */

struct member {
	_Atomic unsigned calls;
	_Atomic unsigned cancels;
	_Atomic unsigned in_cb;
	struct t_event *gate;    /* the callback spins until it is set, if any */
	void *ctx_seen;
};

static void member_work(void *arg)
{
	struct member *m = arg;

	atomic_fetch_add(&m->in_cb, 1);
	/* On CPU, holding the slot: a blocked one would be replaced. */
	while (m->gate && !t_event_is_set(m->gate))
		t_spin_us(5);
	atomic_fetch_add(&m->calls, 1);
}

static void member_event(void *arg, int res)
{
	(void)res;
	member_work(arg);
}

static void member_cancel(void *arg, void *ctx)
{
	struct member *m = arg;

	m->ctx_seen = ctx;
	atomic_fetch_add(&m->cancels, 1);
}

static void *open_gate(void *arg)
{
	t_sleep_ms(50);
	t_event_set(arg);
	return NULL;
}

/*
 * Behaviour 14, with cancel_pending: members of every kind, some with a
 * callback coming (queued behind a busy slot, or armed), some never armed,
 * one whose callback is running.  Exactly the ones that lost a callback
 * get cancel_fn, once; the call waits for the running one; every member
 * is closed.
 */
START_TEST(test_rp_cleanup_close_members_cancel)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct member mw = { 0 }, mt = { 0 }, mwatch = { 0 }, mio = { 0 }, midle = { 0 },
		      mrun = { 0 };
	struct t_event gate = { 0 };
	struct t_blocker b;
	struct rp_env env = { .cancel_fn = member_cancel };
	rp_work *w, *widle, *wrun;
	rp_timer *t;
	rp_watch *wa;
	rp_io *io;
	rp_cleanup *c;
	pthread_t th;
	char buf[4];
	int sv[2], p[2];
	int ctx;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(rp_cleanup_create(&c, pool), 0);
	env.cleanup = c;
	ck_assert_int_eq(rp_work_create_env(&w, pool, member_work, &mw, &env), 0);
	ck_assert_int_eq(rp_work_create_env(&widle, pool, member_work, &midle, &env), 0);
	ck_assert_int_eq(rp_timer_create(&t, pool, member_event, &mt, &env), 0);
	ck_assert_int_eq(rp_watch_create(&wa, pool, member_event, &mwatch, &env), 0);
	ck_assert_int_eq(rp_io_create(&io, pool, member_event, &mio, &env), 0);
	/* A member whose callback is running when the group is closed. */
	mrun.gate = &gate;
	ck_assert_int_eq(rp_work_create_env(&wrun, pool, member_work, &mrun, &env), 0);
	ck_assert_int_eq(rp_cleanup_destroy(c), -EBUSY);
	ck_assert_int_eq(rp_work_submit(wrun), 0);
	wait_count(&mrun.in_cb, 1);
	/* It holds the only slot: the others' callbacks wait, or are armed. */
	ck_assert_int_eq(rp_work_submit(w), 0);
	ck_assert_int_eq(rp_timer_set(t, 3600ull * 1000 * MS, 0, 0, 0), 0);
	ck_assert_int_eq(rp_watch_fd(wa, p[0], POLLIN, RP_INFINITE, 0), 0);
	ck_assert_int_eq(rp_io_recv(io, sv[0], buf, sizeof(buf), 0), 0);
	t_sleep_ms(10);
	ck_assert_int_eq(pthread_create(&th, NULL, open_gate, &gate), 0);
	ck_assert_int_eq(rp_cleanup_close_members(c, true, &ctx), 0);
	/* It waited for the running callback. */
	t_assert_u(atomic_load(&mrun.calls), ==, 1);
	pthread_join(th, NULL);
	t_sleep_ms(20);
	t_assert_u(atomic_load(&mw.calls), ==, 0);
	t_assert_u(atomic_load(&mt.calls), ==, 0);
	t_assert_u(atomic_load(&mwatch.calls), ==, 0);
	t_assert_u(atomic_load(&mio.calls), ==, 0);
	t_assert_u(atomic_load(&mw.cancels), ==, 1);
	t_assert_u(atomic_load(&mt.cancels), ==, 1);
	t_assert_u(atomic_load(&mwatch.cancels), ==, 1);
	t_assert_u(atomic_load(&mio.cancels), ==, 1);
	t_assert_u(atomic_load(&midle.cancels), ==, 0);
	t_assert_u(atomic_load(&mrun.cancels), ==, 0);
	ck_assert_ptr_eq(mw.ctx_seen, &ctx);
	/* Every member closed: the group is empty, the pool free. */
	ck_assert_int_eq(rp_cleanup_destroy(c), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	/* The receive was taken back: its data is still in the socket. */
	ck_assert_int_eq(write(sv[1], "z", 1), 1);
	t_assert_i(recv(sv[0], buf, 1, MSG_DONTWAIT), ==, 1);
	(void)b;
	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* Without cancel_pending: armed operations are stopped (no callback, no
 * cancel_fn), queued callbacks run, and the call waits for them. */
START_TEST(test_rp_cleanup_close_members_drain)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct member mw = { 0 }, mt = { 0 };
	struct rp_env env = { .cancel_fn = member_cancel };
	struct t_blocker b;
	rp_cleanup *c;
	rp_work *w;
	rp_timer *t;
	pthread_t th;

	ck_assert_int_eq(rp_cleanup_create(&c, pool), 0);
	env.cleanup = c;
	ck_assert_int_eq(rp_work_create_env(&w, pool, member_work, &mw, &env), 0);
	ck_assert_int_eq(rp_timer_create(&t, pool, member_event, &mt, &env), 0);
	t_blocker_start(pool, &b);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(rp_work_submit(w), 0);
	ck_assert_int_eq(rp_timer_set(t, 3600ull * 1000 * MS, 0, 0, 0), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, open_gate, &b.release), 0);
	ck_assert_int_eq(rp_cleanup_close_members(c, false, NULL), 0);
	/* The queued ones ran before it returned; the armed timer never. */
	t_assert_u(atomic_load(&mw.calls), ==, 5);
	t_assert_u(atomic_load(&mt.calls), ==, 0);
	t_assert_u(atomic_load(&mw.cancels) + atomic_load(&mt.cancels), ==, 0);
	pthread_join(th, NULL);
	ck_assert_int_eq(rp_cleanup_destroy(c), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* A member whose callback re-arms it while the group closes it: once
 * close_members returns, no callback comes, and the re-arm was refused. */
struct rearm {
	rp_timer *t;
	_Atomic unsigned calls;
	_Atomic int last_set;
};

static void rearm_fn(void *arg, int res)
{
	struct rearm *r = arg;

	(void)res;
	atomic_fetch_add(&r->calls, 1);
	t_sleep_ms(2);
	atomic_store(&r->last_set, rp_timer_set(r->t, 1 * MS, 0, 0, 0));
}

/* An I/O member whose callback starts the next receive, as a connection
 * does: without the refusal, close_members would wait for a receive that
 * never completes. */
struct rerecv {
	rp_io *io;
	int fd;
	char buf[4];
	_Atomic unsigned calls;
	_Atomic int last_ret;
	struct t_event in;
};

static void rerecv_fn(void *arg, int res)
{
	struct rerecv *r = arg;

	(void)res;
	atomic_fetch_add(&r->calls, 1);
	t_event_set(&r->in);
	t_sleep_ms(20); /* close_members comes meanwhile */
	atomic_store(&r->last_ret, rp_io_recv(r->io, r->fd, r->buf, sizeof(r->buf), 0));
}

START_TEST(test_rp_cleanup_member_rearming)
{
	struct rerecv rr = { 0 };
	int sv[2];
	rp_pool *iopool = t_pool(2, 0, 0, 0);
	struct rp_env ienv = { 0 };
	rp_cleanup *ic;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(rp_cleanup_create(&ic, iopool), 0);
	ienv.cleanup = ic;
	ck_assert_int_eq(rp_io_create(&rr.io, iopool, rerecv_fn, &rr, &ienv), 0);
	rr.fd = sv[0];
	ck_assert_int_eq(write(sv[1], "a", 1), 1);
	ck_assert_int_eq(rp_io_recv(rr.io, sv[0], rr.buf, sizeof(rr.buf), 0), 0);
	t_event_wait(&rr.in);
	ck_assert_int_eq(rp_cleanup_close_members(ic, true, NULL), 0);
	t_assert_i(atomic_load(&rr.last_ret), ==, -EINVAL);
	t_assert_u(atomic_load(&rr.calls), ==, 1);
	ck_assert_int_eq(rp_cleanup_destroy(ic), 0);
	ck_assert_int_eq(rp_pool_destroy(iopool), 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_rp_cleanup_member_rearming_timer)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rp_env env = { 0 };
	struct rearm r = { 0 };
	unsigned calls;
	rp_cleanup *c;

	ck_assert_int_eq(rp_cleanup_create(&c, pool), 0);
	env.cleanup = c;
	ck_assert_int_eq(rp_timer_create(&r.t, pool, rearm_fn, &r, &env), 0);
	ck_assert_int_eq(rp_timer_set(r.t, 1 * MS, 0, 0, 0), 0);
	wait_count(&r.calls, 3); /* it runs, re-arming itself */
	ck_assert_int_eq(rp_cleanup_close_members(c, true, NULL), 0);
	calls = atomic_load(&r.calls);
	t_sleep_ms(30);
	t_assert_u(atomic_load(&r.calls), ==, calls);
	ck_assert_int_eq(rp_cleanup_destroy(c), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* A member closed on its own leaves the group; another pool's group in an
 * env is refused. */
START_TEST(test_rp_cleanup_membership_and_errors)
{
	rp_pool *pool = t_pool(1, 0, 0, 0), *other = t_pool(1, 0, 0, 0);
	rp_cleanup *sentinel = (rp_cleanup *)(uintptr_t)0x44, *c = sentinel, *oc;
	struct rp_env env = { 0 };
	struct member m = { 0 };
	rp_work *w;
	rp_timer *t;

	ck_assert_int_eq(rp_cleanup_create(NULL, pool), -EINVAL);
	ck_assert_ptr_eq(c, sentinel);
	ck_assert_int_eq(rp_cleanup_create(&c, pool), 0);
	ck_assert_int_eq(rp_cleanup_create(&oc, other), 0);
	env.cleanup = oc;
	t_assert_i(rp_work_create_env(&w, pool, member_work, &m, &env), ==, -EINVAL);
	t_assert_i(rp_timer_create(&t, pool, member_event, &m, &env), ==, -EINVAL);
	env.cleanup = c;
	ck_assert_int_eq(rp_work_create_env(&w, pool, member_work, &m, &env), 0);
	ck_assert_int_eq(rp_cleanup_destroy(c), -EBUSY);
	ck_assert_int_eq(rp_work_close(w), 0);
	ck_assert_int_eq(rp_cleanup_close_members(c, true, NULL), 0); /* empty: fine */
	t_assert_i(rp_cleanup_close_members(NULL, true, NULL), ==, -EINVAL);
	t_assert_i(rp_cleanup_destroy(NULL), ==, -EINVAL);
	ck_assert_int_eq(rp_pool_destroy(pool), -EBUSY); /* the group is open */
	ck_assert_int_eq(rp_cleanup_destroy(c), 0);
	ck_assert_int_eq(rp_cleanup_destroy(oc), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	ck_assert_int_eq(rp_pool_destroy(other), 0);
}
END_TEST

Suite *make_suite(void);
Suite *make_suite(void)
{
	Suite *s = suite_create("group");
	TCase *tc = tcase_create("groups");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_group_wait_and_notify);
	tcase_add_test(tc, test_rp_group_enter_leave_crossings);
	tcase_add_test(tc, test_rp_group_wait_in_callback);
	tcase_add_test(tc, test_rp_group_close_before_zero);
	tcase_add_test(tc, test_rp_group_close_then_destroy_at_once);
	tcase_add_test(tc, test_rp_group_tasks_survive_queue_cancel);
	tcase_add_test(tc, test_rp_group_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("cleanup");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_cleanup_close_members_cancel);
	tcase_add_test(tc, test_rp_cleanup_close_members_drain);
	tcase_add_test(tc, test_rp_cleanup_member_rearming);
	tcase_add_test(tc, test_rp_cleanup_member_rearming_timer);
	tcase_add_test(tc, test_rp_cleanup_membership_and_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return t_main(make_suite, true);
}
