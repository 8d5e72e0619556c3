/* SPDX-License-Identifier: MIT */
/*
 * Hinted blocking: the regulation rule (DESIGN 1), replacement on a hinted
 * block (DESIGN 2), admission on unblock (DESIGN 3), nesting and misuse.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helpers.h"
#include "../lib/internal.h"
#include "slots.h"

/* ------------------------------------------------------------------ core */

struct cpu_load {
	struct t_conc conc;
	struct t_latch done;
	unsigned us;
};

static void cpu_task(void *arg)
{
	struct cpu_load *l = arg;

	t_conc_enter(&l->conc);
	t_busy_us(l->us);
	t_conc_leave(&l->conc);
	t_latch_done(&l->done);
}

/*
 * Run @n CPU-bound callbacks of 300 us on @pool, and return the most that
 * ran at once, judged against C: in a round where no callback was seen
 * blocked (under ThreadSanitizer, its runtime's own locks can put one to
 * sleep), it may not exceed C; in one where some was, the pool
 * over-commits, up to slots_max (slot.c), and the round does not count.
 * Each round starts with the slots back at C.
 * Return: the peak, or -1 for a round that does not count.
 */
static int cpu_round_peak(rp_pool *pool, int n)
{
	struct cpu_load l = { .us = 300 };
	struct rp_stats st0, st1;

	t_wait_slots_back(pool);
	ck_assert_int_eq(rp_pool_stats(pool, &st0), 0);
	t_latch_init(&l.done, n);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(rp_post(pool, cpu_task, &l), 0);
	t_latch_wait(&l.done);
	ck_assert_int_eq(rp_pool_stats(pool, &st1), 0);
	if (st1.blocks_detected != st0.blocks_detected) {
		t_assert_i(atomic_load(&l.conc.peak), <=, (int)pool->slots_max);
		return -1;
	}
	t_assert_i(atomic_load(&l.conc.peak), <=, (int)pool->concurrency);
	return atomic_load(&l.conc.peak);
}

/* A round of cpu_round_peak() that counts, of up to ten. */
static int cpu_peak(rp_pool *pool, int n)
{
	for (int round = 0; round < 10; round++) {
		int peak = cpu_round_peak(pool, n);
		if (peak >= 0)
			return peak;
	}
	ck_abort_msg("every round saw a CPU-bound callback blocked");
	return -1;
}

/* DESIGN rule 1: CPU-bound callbacks never run more than C at once. */
static void check_peak(unsigned c)
{
	rp_pool *pool = t_pool(c, 0, 0, 0);

	t_assert_i(cpu_peak(pool, 300), ==, (int)c); /* and it does use C */
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}

START_TEST(test_rp_post_peak_is_concurrency)
{
	check_peak(1);
	check_peak(2);
}
END_TEST

struct nest {
	rp_pool *pool;
	int depth;
	struct t_event done;
	_Atomic int *deepest;
};

static void nest_task(void *arg)
{
	struct nest *n = arg;

	if (n->depth > 0) {
		struct nest child = { .pool = n->pool, .depth = n->depth - 1, .deepest = n->deepest };

		ck_assert_int_eq(rp_post(n->pool, nest_task, &child), 0);
		rp_blocking_begin();
		t_event_wait(&child.done);
		rp_blocking_end();
	} else {
		atomic_store(n->deepest, 1);
	}
	t_event_set(&n->done);
}

/* DESIGN rule 2: a callback that waits (hinted) for a task it posted
 * releases a replacement at once, for depths far beyond C. */
START_TEST(test_rp_blocking_begin_replacement)
{
	rp_pool *pool = t_pool(1, 0, 200, 0);
	_Atomic int deepest = 0;
	struct nest root = { .pool = pool, .depth = 100, .deepest = &deepest };
	struct rp_stats st;

	ck_assert_int_eq(rp_post(pool, nest_task, &root), 0);
	t_event_wait(&root.done);
	t_assert_i(atomic_load(&deepest), ==, 1);
	ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.blocks_hinted, 100);
	ck_assert_uint_ge(st.threads_created, 101);
	ck_assert_uint_le(st.threads_created, 200);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

struct burst {
	struct t_event open;
	_Atomic int inside;
	struct t_conc conc;
	struct t_latch done;
	rp_pool *pool;
	_Atomic unsigned max_running;
};

static void burst_task(void *arg)
{
	struct burst *b = arg;
	struct rp_stats st;

	rp_blocking_begin();
	atomic_fetch_add(&b->inside, 1);
	t_event_wait(&b->open);
	rp_blocking_end();
	t_conc_enter(&b->conc);
	rp_pool_stats(b->pool, &st);
	if (st.running > atomic_load(&b->max_running))
		atomic_store(&b->max_running, st.running);
	t_busy_us(2000);
	t_conc_leave(&b->conc);
	t_latch_done(&b->done);
}

static bool all_inside(void *arg)
{
	struct burst *b = arg;

	return atomic_load(&b->inside) == 16;
}

/* DESIGN rule 3: many callbacks leaving hinted blocks together never run
 * more than C at a time afterwards; by admission tokens, or, in a pool
 * that could not make its admission pipe, through the futex FIFO.
 * Return: false if a callback was seen blocked after admission (under
 * ThreadSanitizer its runtime's locks can put one to sleep), when the pool
 * over-commits (slot.c) and the round does not count. */
static bool admission_round(bool pipe)
{
	struct burst b = { 0 };
	struct rp_stats st;
	bool counts;

	if (!pipe)
		rp__fault_set(RP_FAULT_PIPE, 0, -1, EMFILE, NULL, NULL);
	b.pool = t_pool(2, 0, 0, 0);
	rp__fault_reset();
	ck_assert_int_eq(b.pool->adm_fd[0] >= 0, pipe);
	t_latch_init(&b.done, 16);
	for (int i = 0; i < 16; i++)
		ck_assert_int_eq(rp_post(b.pool, burst_task, &b), 0);
	ck_assert(t_wait_until(all_inside, &b, 10000));
	ck_assert_int_eq(rp_pool_stats(b.pool, &st), 0);
	ck_assert_uint_eq(st.blocked, 16);
	ck_assert_uint_eq(st.running, 0);
	t_event_set(&b.open);
	t_latch_wait(&b.done);
	ck_assert_int_eq(rp_pool_stats(b.pool, &st), 0);
	ck_assert_uint_eq(st.blocks_hinted, 16);
	counts = st.blocks_detected == 0;
	if (counts) {
		t_assert_i(atomic_load(&b.conc.peak), <=, 2);
		t_assert_u(atomic_load(&b.max_running), <=, 2);
	} else {
		t_assert_i(atomic_load(&b.conc.peak), <=, (int)b.pool->slots_max);
	}
	ck_assert_int_eq(rp_pool_destroy(b.pool), 0);
	return counts;
}

/* A round of admission_round() that counts, of up to ten. */
static void check_admission(bool pipe)
{
	for (int round = 0; round < 10; round++)
		if (admission_round(pipe))
			return;
	ck_abort_msg("every round saw a callback blocked after admission");
}

START_TEST(test_rp_blocking_end_admission)
{
	check_admission(true);
}
END_TEST

/* The hint calls leave errno alone, so the errno of the call they bracket
 * survives rp_blocking_end(), however admission went: eight callbacks on
 * C = 1 leave and enter blocks over and over, so admission waits, and its
 * futex waits find their words changed (EAGAIN) now and then. */
struct errno_run {
	struct t_latch done;
	_Atomic int clobbered, rounds;
	_Atomic int last_seen;
};

static void errno_task(void *arg)
{
	struct errno_run *r = arg;

	for (int i = 0; i < 1000; i++) {
		errno = EXDEV;
		rp_blocking_begin();
		int e = errno;
		if (e != EXDEV) {
			atomic_fetch_add(&r->clobbered, 1);
			atomic_store(&r->last_seen, e);
		}
		t_busy_us(5);
		errno = ENOTTY;
		rp_blocking_end();
		e = errno;
		if (e != ENOTTY) {
			atomic_fetch_add(&r->clobbered, 1);
			atomic_store(&r->last_seen, e);
		}
		atomic_fetch_add(&r->rounds, 1);
	}
	t_latch_done(&r->done);
}

static void check_errno_kept(bool pipe)
{
	struct errno_run r = { 0 };
	rp_pool *pool;

	if (!pipe)
		rp__fault_set(RP_FAULT_PIPE, 0, -1, EMFILE, NULL, NULL);
	pool = t_pool(1, 0, 0, 0);
	rp__fault_reset();
	t_latch_init(&r.done, 8);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(rp_post(pool, errno_task, &r), 0);
	t_latch_wait(&r.done);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	if (atomic_load(&r.clobbered))
		ck_abort_msg("errno changed by the hint calls %d times in %d rounds (last: %s)",
			     atomic_load(&r.clobbered), atomic_load(&r.rounds),
			     strerror(atomic_load(&r.last_seen)));
}

START_TEST(test_rp_blocking_keeps_errno)
{
	check_errno_kept(true);
	check_errno_kept(false);
}
END_TEST

START_TEST(test_rp_blocking_end_admission_futex)
{
	check_admission(false);
}
END_TEST

/*
 * Patience (slot.c): a callback leaving a hinted block into a full pool
 * waits for a slot that comes free by itself (a block, a park) for
 * RP_ADMIT_PATIENCE_US before running workers yield theirs at a task
 * boundary, and then it is admitted even though nothing blocks or parks.
 * On C = 1, a stream of 100 us tasks (each posts the next) holds the slot
 * while the waiter leaves its block: it sees several stream tasks end
 * while it waits (it is admitted at the first boundary without patience),
 * and it is admitted within 2 s (only when the stream ends after 5 s, if
 * running workers never yielded).  A round in which a stream task was
 * seen blocked (ThreadSanitizer's locks) freed the slot early and does not
 * count.
 */
struct patience {
	rp_pool *pool;
	struct t_event inside, done;
	_Atomic unsigned long streamed;
	_Atomic bool stop;
	_Atomic int running;
	unsigned long waited_tasks;
	uint64_t waited_ns;
};

static void stream_task(void *arg)
{
	struct patience *p = arg;

	t_busy_us(100);
	/* Five seconds at most: a waiter never admitted while it runs is
	 * admitted when it ends, and fails the round's bound. */
	if (atomic_fetch_add(&p->streamed, 1) < 50000 && !atomic_load(&p->stop))
		ck_assert_int_eq(rp_post(p->pool, stream_task, p), 0);
	else
		atomic_fetch_sub(&p->running, 1);
}

static bool streamed_some(void *arg)
{
	struct patience *p = arg;

	return atomic_load(&p->streamed) >= 5;
}

static void waiter_task(void *arg)
{
	struct patience *p = arg;
	unsigned long before;
	uint64_t t0;

	rp_blocking_begin();
	t_event_set(&p->inside);
	ck_assert(t_wait_until(streamed_some, p, 10000));
	before = atomic_load(&p->streamed);
	t0 = t_now_ns();
	rp_blocking_end();
	p->waited_ns = t_now_ns() - t0;
	p->waited_tasks = atomic_load(&p->streamed) - before;
	atomic_store(&p->stop, true);
	t_event_set(&p->done);
}

static bool stream_stopped(void *arg)
{
	return atomic_load(&((struct patience *)arg)->running) == 0;
}

/* Return: stream tasks that ended while the waiter waited, or -1 for a
 * round that does not count. */
static long patience_round(void)
{
	struct patience p = { .running = 1 };
	struct rp_stats st0, st1;

	p.pool = t_pool(1, 0, 0, 0);
	ck_assert_int_eq(rp_post(p.pool, waiter_task, &p), 0);
	t_event_wait(&p.inside);
	ck_assert_int_eq(rp_pool_stats(p.pool, &st0), 0);
	ck_assert_int_eq(rp_post(p.pool, stream_task, &p), 0);
	t_event_wait(&p.done);
	ck_assert(t_wait_until(stream_stopped, &p, 10000));
	ck_assert_int_eq(rp_pool_stats(p.pool, &st1), 0);
	ck_assert_int_eq(rp_pool_destroy(p.pool), 0);
	fprintf(stderr, "patience: waited %.2f ms, %lu stream tasks ended meanwhile\n",
		p.waited_ns / 1e6, p.waited_tasks);
	t_assert_u(p.waited_ns, <, 2000000000ull);
	return st1.blocks_detected != st0.blocks_detected ? -1 : (long)p.waited_tasks;
}

START_TEST(test_rp_blocking_end_patience)
{
	long most = -1;

	/* Of up to ten rounds, one in which the waiter let at least three
	 * tasks end: about ten do in RP_ADMIT_PATIENCE_US. */
	for (int round = 0; round < 10 && most < 3; round++) {
		long n = patience_round();
		if (n > most)
			most = n;
	}
	t_assert_i(most, >=, 3);
}
END_TEST

/*
 * The replacement for a block runs on the blocker's CPU: of the idle
 * workers, the one that parked on that CPU is woken, not the most recent
 * one if that one last ran on another, busy, CPU (where the scheduler
 * would queue it while the blocker's CPU went idle).  Workers are pinned
 * by their callbacks so that each parks on a known CPU.  The block is
 * hinted, or seen by the regulator.
 */
#define NEAR_WAIT_MS 20000u

struct near;

/* A callback that moves its worker to @cpu, and with @blocks stays in a
 * hinted block until @go, so that its worker parks there afterwards. */
struct near_role {
	struct near *n;
	int cpu;
	bool blocks;
	struct t_event go;
	_Atomic pid_t tid;
};

struct near {
	rp_pool *pool;
	int cpu[2];
	bool hinted;
	struct near_role a, b, c;
	struct t_event f_done;
	_Atomic pid_t tid_t, tid_f;
	_Atomic int cpu_f;
	_Atomic int pin_err;
};

static pid_t my_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void pin_to(struct near *n, int cpu)
{
	cpu_set_t set;
	int err;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (err)
		atomic_store(&n->pin_err, err);
}

static void near_role_fn(void *arg)
{
	struct near_role *r = arg;

	atomic_store(&r->tid, my_tid());
	pin_to(r->n, r->cpu);
	if (!r->blocks)
		return;
	rp_blocking_begin();
	t_event_wait(&r->go);
	rp_blocking_end();
}

static void near_f(void *arg)
{
	struct near *n = arg;

	atomic_store(&n->tid_f, my_tid());
	atomic_store(&n->cpu_f, sched_getcpu());
	t_event_set(&n->f_done);
}

static void near_t(void *arg)
{
	struct near *n = arg;

	atomic_store(&n->tid_t, my_tid());
	/* The only slot is ours: F waits until our block gives it up. */
	if (rp_post(n->pool, near_f, n) != 0)
		return;
	if (n->hinted)
		rp_blocking_begin();
	t_event_wait(&n->f_done);
	if (n->hinted)
		rp_blocking_end();
}

struct idle_count {
	rp_pool *pool;
	unsigned want;
};

static bool idle_reached(void *arg)
{
	struct idle_count *ic = arg;
	struct rp_stats st;

	return rp_pool_stats(ic->pool, &st) == 0 && st.idle == ic->want;
}

static bool f_done_set(void *arg)
{
	return t_event_is_set(arg);
}

static void check_wakes_on_its_cpu(bool hinted)
{
	struct near n = { .hinted = hinted };
	struct idle_count ic;
	cpu_set_t set;
	int k = 0;

	CPU_ZERO(&set);
	ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	for (int c = 0; c < CPU_SETSIZE && k < 2; c++)
		if (CPU_ISSET(c, &set))
			n.cpu[k++] = c;
	if (k < 2) {
		printf("wakes_on_its_cpu: needs two CPUs, has %d\n", k);
		return;
	}
	n.a = (struct near_role){ .n = &n, .cpu = n.cpu[1], .blocks = true };
	n.b = (struct near_role){ .n = &n, .cpu = n.cpu[0], .blocks = true };
	n.c = (struct near_role){ .n = &n, .cpu = n.cpu[0] };
	n.pool = t_pool(1, 0, 0, 0);
	/* Strict C: the test follows each slot from worker to worker, and
	 * an over-committed slot (slot.c: a block seen, as an unhinted one
	 * here, or a TSan runtime lock) would start work elsewhere. */
	t_strict_slots(n.pool);
	ic.pool = n.pool;
	/* A blocks (hinted), so B runs on a replacement, blocks too, and C
	 * runs on a third worker, which parks first, on CPU 0; then A's
	 * worker parks on CPU 1, and B's on CPU 0.  The idle stack, top
	 * first: B's (CPU 0), A's (CPU 1), C's (CPU 0). */
	ck_assert_int_eq(rp_post(n.pool, near_role_fn, &n.a), 0);
	ck_assert_int_eq(rp_post(n.pool, near_role_fn, &n.b), 0);
	ck_assert_int_eq(rp_post(n.pool, near_role_fn, &n.c), 0);
	ic.want = 1;
	ck_assert_msg(t_wait_until(idle_reached, &ic, NEAR_WAIT_MS), "C's worker never parked");
	t_event_set(&n.a.go);
	ic.want = 2;
	ck_assert_msg(t_wait_until(idle_reached, &ic, NEAR_WAIT_MS), "A's worker never parked");
	t_event_set(&n.b.go);
	ic.want = 3;
	ck_assert_msg(t_wait_until(idle_reached, &ic, NEAR_WAIT_MS), "B's worker never parked");
	ck_assert_int_eq(atomic_load(&n.pin_err), 0);
	/* T runs on the top worker (B's, on CPU 0), posts F and blocks: F's
	 * worker must be C's, idle on CPU 0, not A's, the most recently idle
	 * but on CPU 1. */
	ck_assert_int_eq(rp_post(n.pool, near_t, &n), 0);
	ck_assert_msg(t_wait_until(f_done_set, &n.f_done, NEAR_WAIT_MS), "F never ran");
	ck_assert_msg(atomic_load(&n.tid_f) == atomic_load(&n.c.tid),
		      "%s block: F ran on thread %d (CPU %d), not on %d, the worker idle on "
		      "CPU %d (A's %d on CPU %d, B's %d; T on %d)",
		      hinted ? "hinted" : "unhinted", (int)atomic_load(&n.tid_f),
		      atomic_load(&n.cpu_f), (int)atomic_load(&n.c.tid), n.cpu[0],
		      (int)atomic_load(&n.a.tid), n.cpu[1], (int)atomic_load(&n.b.tid),
		      (int)atomic_load(&n.tid_t));
	ck_assert_int_eq(atomic_load(&n.cpu_f), n.cpu[0]);
	ck_assert_int_eq(rp_pool_destroy(n.pool), 0);
}

START_TEST(test_rp_blocking_begin_wakes_on_its_cpu)
{
	check_wakes_on_its_cpu(true);
}
END_TEST

START_TEST(test_regulator_wakes_on_the_blocked_cpu)
{
	check_wakes_on_its_cpu(false);
}
END_TEST

struct nested_hint {
	_Atomic unsigned long long hinted_inside;
	rp_pool *pool;
	struct t_event done;
};

static void nested_hint_task(void *arg)
{
	struct nested_hint *n = arg;
	struct rp_stats st;

	rp_blocking_begin();
	rp_blocking_begin();
	rp_blocking_end();
	/* Still inside the outer block: the worker still counts blocked. */
	rp_pool_stats(n->pool, &st);
	atomic_store(&n->hinted_inside, st.blocked);
	rp_blocking_end();
	t_event_set(&n->done);
}

/* Only the outermost pair counts. */
START_TEST(test_rp_blocking_begin_nested)
{
	struct nested_hint n = { 0 };
	struct rp_stats st;

	n.pool = t_pool(1, 0, 0, 0);
	ck_assert_int_eq(rp_post(n.pool, nested_hint_task, &n), 0);
	t_event_wait(&n.done);
	t_assert_u(atomic_load(&n.hinted_inside), ==, 1);
	ck_assert_int_eq(rp_pool_stats(n.pool, &st), 0);
	ck_assert_uint_eq(st.blocks_hinted, 1);
	ck_assert_int_eq(rp_pool_destroy(n.pool), 0);
}
END_TEST

/* ------------------------------------------------------------------ errors */

START_TEST(test_rp_blocking_begin_outside_pool)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct rp_stats st;

	/* Not a worker: no-ops, nothing counted. */
	rp_blocking_begin();
	rp_blocking_begin();
	rp_blocking_end();
	rp_blocking_end();
	rp_blocking_end();
	ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.blocks_hinted, 0);
	ck_assert_uint_eq(st.blocked, 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

static void unbalanced_end(void *arg)
{
	rp_blocking_end();
	t_latch_done(arg);
}

static void unbalanced_begin(void *arg)
{
	rp_blocking_begin(); /* returns inside the block: the pool closes it */
	t_latch_done(arg);
}

/* Unbalanced calls do not corrupt the accounting: C still holds after. */
START_TEST(test_rp_blocking_end_unbalanced)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct t_latch l;
	struct rp_stats st;

	t_latch_init(&l, 20);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(rp_post(pool, unbalanced_end, &l), 0);
		ck_assert_int_eq(rp_post(pool, unbalanced_begin, &l), 0);
	}
	t_latch_wait(&l);
	t_assert_i(cpu_peak(pool, 100), ==, 1);
	ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.blocked, 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

Suite *make_suite(void);
Suite *make_suite(void)
{
	Suite *s = suite_create("blocking");
	TCase *tc;

	tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_post_peak_is_concurrency);
	tcase_add_test(tc, test_rp_blocking_begin_replacement);
	tcase_add_test(tc, test_rp_blocking_end_admission);
	tcase_add_test(tc, test_rp_blocking_end_admission_futex);
	tcase_add_test(tc, test_rp_blocking_keeps_errno);
	tcase_add_test(tc, test_rp_blocking_end_patience);
	tcase_add_test(tc, test_rp_blocking_begin_wakes_on_its_cpu);
	tcase_add_test(tc, test_regulator_wakes_on_the_blocked_cpu);
	tcase_add_test(tc, test_rp_blocking_begin_nested);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_blocking_begin_outside_pool);
	tcase_add_test(tc, test_rp_blocking_end_unbalanced);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return t_main(make_suite, true);
}
