/* SPDX-License-Identifier: MIT */
/*
 * Unhinted blocking (DESIGN 4): detected through perf switch records, or
 * through /proc sampling where perf is refused, and work behind it starts
 * within a few sample periods; preemption is not blocking; the regulator
 * sleeps while it is not needed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helpers.h"
#include "../lib/internal.h"
#include "slots.h"

/* Each test runs with perf monitors (where the kernel allows them), with
 * /proc sampling forced, and with CPU-clock sampling forced. */
static const char *monitor;

static void set_monitor(void)
{
	if (monitor)
		setenv("RINGPOOL_MONITOR", monitor, 1);
	else
		unsetenv("RINGPOOL_MONITOR");
}

struct blocker {
	_Atomic uint32_t released;
	_Atomic int timed_out;
	_Atomic int started;
	int fds[2];
	struct rp_worker *worker;	/* the worker that ran it */
};

/* Blocks in the kernel without a hint, for at most 20 s. */
static void futex_blocker(void *arg)
{
	struct blocker *b = arg;
	struct timespec ts = { 20, 0 };

	b->worker = rp__self;
	atomic_store(&b->started, 1);
	while (!atomic_load(&b->released)) {
		if (syscall(SYS_futex, &b->released, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0) == -1 &&
		    errno == ETIMEDOUT) {
			atomic_store(&b->timed_out, 1);
			break;
		}
	}
}

static void releaser(void *arg)
{
	struct blocker *b = arg;

	atomic_store(&b->released, 1);
	syscall(SYS_futex, &b->released, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static bool started(void *arg)
{
	return atomic_load(&((struct blocker *)arg)->started);
}

static bool is_released(void *arg)
{
	return atomic_load(&((struct blocker *)arg)->released);
}

/* With C = 1, a callback blocked without a hint must not hold back the
 * task that would release it: the regulator sees the block and starts the
 * next task while the first still waits. */
START_TEST(test_regulator_detects_futex_block)
{
	rp_pool *pool;
	struct blocker b = { 0 };
	struct rp_stats st;

	set_monitor();
	pool = t_pool(1, 0, 0, 0);
	ck_assert_int_eq(rp_post(pool, futex_blocker, &b), 0);
	ck_assert(t_wait_until(started, &b, 5000));
	ck_assert_int_eq(rp_post(pool, releaser, &b), 0);
	ck_assert(t_wait_until(is_released, &b, 15000));
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	t_assert_i(atomic_load(&b.timed_out), ==, 0);
	(void)st;
}
END_TEST

static void pipe_reader(void *arg)
{
	struct blocker *b = arg;
	char c;

	atomic_store(&b->started, 1);
	if (read(b->fds[0], &c, 1) != 1)
		atomic_store(&b->timed_out, 1);
	atomic_store(&b->released, 1);
}

static void pipe_writer(void *arg)
{
	struct blocker *b = arg;

	if (write(b->fds[1], "x", 1) != 1)
		abort();
}

START_TEST(test_regulator_detects_read_block)
{
	rp_pool *pool;
	struct blocker b = { 0 };
	struct rp_stats st;

	set_monitor();
	ck_assert_int_eq(pipe(b.fds), 0);
	pool = t_pool(1, 0, 0, 0);
	ck_assert_int_eq(rp_post(pool, pipe_reader, &b), 0);
	ck_assert(t_wait_until(started, &b, 5000));
	ck_assert_int_eq(rp_post(pool, pipe_writer, &b), 0);
	ck_assert(t_wait_until(is_released, &b, 15000));
	ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
	ck_assert_uint_ge(st.blocks_detected, 1);
	ck_assert_uint_eq(st.blocks_hinted, 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(b.fds[0]);
	close(b.fds[1]);
}
END_TEST

/*
 * Out of descriptors: with RLIMIT_NOFILE at the number already open, the
 * regulator can open neither a perf monitor nor /proc, and still sees the
 * block (through the worker's CPU clock) and starts the task behind it.
 */
START_TEST(test_regulator_detects_at_fd_limit)
{
	rp_pool *pool;
	struct blocker b = { 0 };
	struct rlimit old, full;
	int lowest;

	set_monitor();
	pool = t_pool(1, 0, 0, 0);
	ck_assert_int_eq(rp_post(pool, futex_blocker, &b), 0);
	ck_assert(t_wait_until(started, &b, 5000));
	/* The lowest free descriptor, and every one above it, is now out of
	 * reach. */
	lowest = dup(0);
	ck_assert_int_ge(lowest, 0);
	close(lowest);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	full = old;
	full.rlim_cur = (rlim_t)lowest;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &full), 0);
	ck_assert_int_eq(dup(0), -1);
	ck_assert_int_eq(rp_post(pool, releaser, &b), 0);
	ck_assert(t_wait_until(is_released, &b, 15000));
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	t_assert_i(atomic_load(&b.timed_out), ==, 0);
}
END_TEST

/* The block is counted while it lasts and the worker counts running again
 * once it wakes. */
START_TEST(test_regulator_stats_during_block)
{
	rp_pool *pool;
	struct blocker b = { 0 };
	struct blocker other = { .released = 1 };
	struct rp_stats st;

	set_monitor();
	pool = t_pool(1, 0, 0, 0);
	ck_assert_int_eq(rp_post(pool, futex_blocker, &b), 0);
	ck_assert(t_wait_until(started, &b, 5000));
	/* Work behind it makes the regulator look. */
	ck_assert_int_eq(rp_post(pool, futex_blocker, &other), 0);
	for (int i = 0; i < 10000; i++) {
		ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
		if (st.blocks_detected)
			break;
		t_sleep_ms(1);
	}
	ck_assert_uint_eq(st.blocks_detected, 1);
	ck_assert_uint_le(st.running, 1);
	releaser(&b);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

struct hog {
	_Atomic int stop;
};

static void *hog_main(void *arg)
{
	struct hog *h = arg;

	while (!atomic_load(&h->stop))
		;
	return NULL;
}

static void cpu_20ms(void *arg)
{
	t_busy_us(20000);
	t_latch_done(arg);
}

/* Preempted is not blocked: CPU-bound callbacks sharing one CPU with a
 * hog, with work queued behind them, are never counted blocked. */
START_TEST(test_regulator_ignores_preemption)
{
	rp_pool *pool;
	struct hog h = { 0 };
	struct t_latch done;
	struct rp_stats st;
	cpu_set_t one;
	pthread_t hog;

	set_monitor();
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(one), &one), 0);
	ck_assert_int_eq(pthread_create(&hog, NULL, hog_main, &h), 0);
	pool = t_pool(1, 0, 0, 0);
	t_latch_init(&done, 30);
	for (int i = 0; i < 30; i++)
		ck_assert_int_eq(rp_post(pool, cpu_20ms, &done), 0);
	t_latch_wait(&done);
	atomic_store(&h.stop, 1);
	pthread_join(hog, NULL);
	ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.blocks_detected, 0);
	/* The regulator did look all along. */
	t_assert_u(atomic_load(&pool->reg.rounds), >, 10);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

static void nop(void *arg)
{
	t_latch_done(arg);
}

/* No work waiting: the regulator does not sample (an idle pool makes no
 * wake-ups). */
START_TEST(test_regulator_sleeps_when_idle)
{
	rp_pool *pool;
	struct blocker b = { 0 };
	struct t_latch l;
	unsigned long long r1, r2;

	set_monitor();
	pool = t_pool(1, 0, 0, 0);
	/* Wake it once. */
	ck_assert_int_eq(rp_post(pool, futex_blocker, &b), 0);
	ck_assert(t_wait_until(started, &b, 5000));
	t_latch_init(&l, 1);
	ck_assert_int_eq(rp_post(pool, nop, &l), 0);
	t_latch_wait(&l);
	releaser(&b);
	t_sleep_ms(100);
	r1 = atomic_load(&pool->reg.rounds);
	ck_assert_uint_gt(r1, 0);
	t_sleep_ms(300);
	r2 = atomic_load(&pool->reg.rounds);
	ck_assert_uint_eq(r1, r2);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* A chain of 200 us busy tasks, each posting the next until told to stop:
 * a worker that reaches a task boundary often, with work always queued. */
struct churn {
	rp_pool *pool;
	_Atomic int stop;
	_Atomic unsigned long runs;
};

static void churn_task(void *arg)
{
	struct churn *c = arg;

	t_busy_us(200);
	atomic_fetch_add(&c->runs, 1);
	if (!atomic_load(&c->stop))
		ck_assert_int_eq(rp_post(c->pool, churn_task, c), 0);
}

static bool churned(void *arg)
{
	return atomic_load(&((struct churn *)arg)->runs) >= 20;
}

static bool detected_one(void *arg)
{
	struct rp_stats st;

	ck_assert_int_eq(rp_pool_stats(arg, &st), 0);
	return st.blocks_detected >= 1;
}

/*
 * Workers watch each other: with the regulator never started, a callback
 * blocked without a hint is still seen blocked, by the worker next to it
 * at a task boundary (perf monitors only; /proc sampling is the
 * regulator's alone).
 */
START_TEST(test_regulator_workers_watch_each_other)
{
	struct churn a = { 0 }, b = { 0 };
	struct blocker blk = { 0 };
	rp_pool *pool;

	set_monitor();
	atomic_store(&rp__regulator_off, true);
	pool = t_pool(2, 0, 0, 0);
	if (monitor || !pool->reg.perf_ok) {
		ck_assert_int_eq(rp_pool_destroy(pool), 0);
		return;
	}
	a.pool = b.pool = pool;
	/* Both slots busy, each chain's next task always queued. */
	ck_assert_int_eq(rp_post(pool, churn_task, &a), 0);
	ck_assert_int_eq(rp_post(pool, churn_task, &b), 0);
	ck_assert(t_wait_until(churned, &a, 10000));
	ck_assert(t_wait_until(churned, &b, 10000));
	/* One chain gives its slot to a callback that blocks unhinted. */
	ck_assert_int_eq(rp_post(pool, futex_blocker, &blk), 0);
	atomic_store(&b.stop, 1);
	ck_assert(t_wait_until(started, &blk, 10000));
	ck_assert(t_wait_until(detected_one, pool, 10000));
	/* Not by the regulator: it never sampled. */
	t_assert_u(atomic_load(&pool->reg.rounds), ==, 0);
	t_assert_u(atomic_load(&pool->reg.worker_scans), >, 0);
	releaser(&blk);
	atomic_store(&a.stop, 1);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	t_assert_i(atomic_load(&blk.timed_out), ==, 0);
	atomic_store(&rp__regulator_off, false);
}
END_TEST

/* Which monitor the workers got: perf where the kernel allows it. */
START_TEST(test_regulator_monitor_kind)
{
	rp_pool *pool;
	struct t_latch l;
	bool perf = false;

	set_monitor();
	pool = t_pool(2, 2, 0, 0);
	t_latch_init(&l, 1);
	ck_assert_int_eq(rp_post(pool, nop, &l), 0);
	t_latch_wait(&l);
	t_sleep_ms(20);
	pthread_mutex_lock(&pool->lock);
	for (size_t i = 0; i < pool->nworkers; i++)
		perf |= !strcmp(rp__monitor_kind(pool->workers[i]), "perf");
	pthread_mutex_unlock(&pool->lock);
	if (monitor)
		ck_assert(!perf);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* The bare perf monitor budget, C + 4, as where descriptors or locked
 * memory are scarce (monitor.c): the tests of how monitors move between
 * workers need more workers than monitors. */
static void bare_budget(rp_pool *pool)
{
	atomic_store(&pool->reg.monitor_slack, 0);
	if (atomic_load(&pool->reg.monitor_cap) > pool->concurrency + RP_MONITOR_EXTRA)
		atomic_store(&pool->reg.monitor_cap, pool->concurrency + RP_MONITOR_EXTRA);
}

/*
 * The perf monitor budget (C + 4) goes to the workers that run, not to the
 * first ones started: with C = 1 and twelve callbacks blocked at once, the
 * newest worker is watched by perf too, because the blocked ones gave
 * theirs up when they were seen blocked.  (Strict slots: over-commit would
 * start the next callback before the last one's block is seen, while that
 * one still holds its monitor; the newcomer takes one at its next task.)
 */
START_TEST(test_regulator_monitors_follow_running)
{
	enum { N = 12 };
	static struct blocker b[N];
	rp_pool *pool;
	bool first_perf, last_perf;

	set_monitor();
	memset(b, 0, sizeof(b));
	pool = t_pool(1, 0, 0, 0);
	bare_budget(pool);
	t_strict_slots(pool);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(rp_post(pool, futex_blocker, &b[i]), 0);
		if (!t_wait_until(started, &b[i], 15000)) {
			fprintf(stderr, "blocker %d of %d never started:\n", i, N);
			rp__pool_dump(pool, stderr);
			ck_abort();
		}
	}
	pthread_mutex_lock(&pool->lock);
	first_perf = !strcmp(rp__monitor_kind(b[0].worker), "perf");
	last_perf = !strcmp(rp__monitor_kind(b[N - 1].worker), "perf");
	t_assert_u(atomic_load(&pool->reg.monitors), <=, atomic_load(&pool->reg.monitor_cap));
	pthread_mutex_unlock(&pool->lock);
	/* Where perf is refused (or forced off), nobody has it. */
	if (monitor)
		ck_assert(!first_perf && !last_perf);
	else if (atomic_load(&pool->reg.monitor_cap) > 0)
		ck_assert(last_perf);
	for (int i = 0; i < N; i++)
		releaser(&b[i]);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	for (int i = 0; i < N; i++)
		t_assert_i(atomic_load(&b[i].timed_out), ==, 0);
}
END_TEST

/*
 * Where descriptors and locked memory are plentiful (as root here), the
 * budget has room beyond C + 4, so workers seen blocked keep their
 * monitors: no close, munmap and perf_event_open per block.  Forty
 * callbacks blocked at once, C = 1, as a closed loop of clients whose
 * reads block keeps tens blocked (W9: about fifty): all forty still
 * watched by perf.  (A budget of 2C + 24 beyond C + 4, 31 here, cost W9
 * a quarter of its throughput.)
 */
START_TEST(test_regulator_blocked_keep_monitors)
{
	enum { N = 40 };
	static struct blocker b[N];
	unsigned kept = 0, cap;
	struct rlimit rl;
	rp_pool *pool;

	set_monitor();
	memset(b, 0, sizeof(b));
	pool = t_pool(1, 0, 0, 0);
	cap = atomic_load(&pool->reg.monitor_cap);
	/* Plentiful: root (CAP_IPC_LOCK: no locked-memory limit) with room
	 * for 32 descriptors per monitor. */
	if (monitor || !pool->reg.perf_ok || geteuid() != 0 || getrlimit(RLIMIT_NOFILE, &rl) ||
	    rl.rlim_cur < 32 * (N + 1 + RP_MONITOR_EXTRA)) {
		printf("blocked_keep_monitors: not root, or scarce descriptors, or no perf: "
		       "not tested (budget %u)\n", cap);
		ck_assert_int_eq(rp_pool_destroy(pool), 0);
		return;
	}
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(rp_post(pool, futex_blocker, &b[i]), 0);
		if (!t_wait_until(started, &b[i], 15000)) {
			t_dump(pool, "a blocker never started");
			ck_abort();
		}
	}
	pthread_mutex_lock(&pool->lock);
	for (int i = 0; i < N; i++)
		kept += !strcmp(rp__monitor_kind(b[i].worker), "perf");
	pthread_mutex_unlock(&pool->lock);
	ck_assert_msg(kept == N, "%u of %u blocked workers kept a monitor (budget %u, %u at first)",
		      kept, N, atomic_load(&pool->reg.monitor_cap), cap);
	for (int i = 0; i < N; i++)
		releaser(&b[i]);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* A callback in a hinted wait until its gate opens. */
struct gate {
	struct t_event open;
	_Atomic int in;
	struct rp_worker *worker;
};

static void gate_fn(void *arg)
{
	struct gate *g = arg;

	g->worker = rp__self;
	atomic_store(&g->in, 1);
	rp_blocking_begin();
	t_event_wait(&g->open);
	rp_blocking_end();
}

static bool gate_in(void *arg)
{
	return atomic_load(&((struct gate *)arg)->in);
}

struct parked {
	rp_pool *pool;
	struct rp_worker *w;
};

static bool is_parked(void *arg)
{
	struct parked *p = arg;
	bool on;

	pthread_mutex_lock(&p->pool->lock);
	on = p->w->on_idle;
	pthread_mutex_unlock(&p->pool->lock);
	return on;
}

static void tick_once(void *arg)
{
	atomic_fetch_add((_Atomic unsigned *)arg, 1);
}

static bool ticked(void *arg)
{
	return atomic_load((_Atomic unsigned *)arg) > 0;
}

/*
 * The pool holds a disabled perf monitor of its own from creation to
 * destroy (monitor.c, perf_probe()), so the RCU grace period that the
 * first context-switch event of the system costs is paid by
 * rp_pool_create(), not by the first worker before its first task, and
 * not again after the workers retired: the probe is a perf event, open
 * while the pool runs tasks and after its only worker has retired, and
 * closed with the pool.
 */
START_TEST(test_regulator_probe_held_for_pool_life)
{
	_Atomic unsigned n = 0;
	char link[64], path[64];
	struct rp_stats st;
	rp_pool *pool;
	ssize_t len;
	int fd;

	set_monitor();
	pool = t_pool(1, 0, 0, 1);
	fd = pool->reg.probe_fd;
	if (monitor || !pool->reg.perf_ok) {
		printf("probe_held_for_pool_life: no perf here: not tested\n");
		ck_assert_int_eq(rp_pool_destroy(pool), 0);
		return;
	}
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(rp_post(pool, tick_once, &n), 0);
	ck_assert(t_wait_until(ticked, &n, 10000));
	/* The worker retires after 1 ms idle; the probe stays. */
	for (int i = 0; i < 1000; i++) {
		ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
		if (st.threads == 0)
			break;
		t_sleep_ms(2);
	}
	t_assert_u(st.threads, ==, 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	len = readlink(path, link, sizeof(link) - 1);
	ck_assert_int_gt(len, 0);
	link[len] = '\0';
	ck_assert_str_eq(link, "anon_inode:[perf_event]");
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

/*
 * The slack waits for an unhinted block: a pool whose callbacks block only
 * with hints holds C + 4 monitors however many workers it has, since the
 * others would watch nothing (monitor.c, rp__monitor_widen()).  Twelve
 * callbacks in hinted waits at once, C = 1: at most five monitors, the
 * budget still five; then one unhinted block opens the rest of it.
 */
START_TEST(test_regulator_hinted_blocks_keep_bare_budget)
{
	enum { N = 12 };
	static struct gate g[N];
	struct blocker blk = { 0 }, behind = { 0 };
	unsigned cap0, cap;
	rp_pool *pool;

	set_monitor();
	memset(g, 0, sizeof(g));
	pool = t_pool(1, 0, 0, 0);
	cap0 = atomic_load(&pool->reg.monitor_cap);
	if (monitor || !pool->reg.perf_ok) {
		ck_assert_int_eq(rp_pool_destroy(pool), 0);
		return;
	}
	t_assert_u(cap0, ==, pool->concurrency + RP_MONITOR_EXTRA);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(rp_post(pool, gate_fn, &g[i]), 0);
		if (!t_wait_until(gate_in, &g[i], 10000)) {
			t_dump(pool, "a hinted callback never started");
			ck_abort();
		}
	}
	cap = atomic_load(&pool->reg.monitor_cap);
	ck_assert_msg(cap == cap0 && atomic_load(&pool->reg.monitors) <= cap0,
		      "%u monitors, budget %u, after hinted blocks only (bare budget %u)",
		      atomic_load(&pool->reg.monitors), cap, cap0);
	ck_assert_int_eq(rp_post(pool, futex_blocker, &blk), 0);
	ck_assert(t_wait_until(started, &blk, 10000));
	/* Work waiting behind it, so that the block matters. */
	ck_assert_int_eq(rp_post(pool, releaser, &behind), 0);
	if (!t_wait_until(detected_one, pool, 10000)) {
		t_dump(pool, "the unhinted block was never seen");
		ck_abort();
	}
	cap = atomic_load(&pool->reg.monitor_cap);
	/* Wider where resources allow (not in the confined pass), never
	 * narrower. */
	ck_assert_msg(cap >= cap0 && atomic_load(&pool->reg.monitor_slack) == 0,
		      "budget %u after an unhinted block (was %u), slack left %u", cap, cap0,
		      atomic_load(&pool->reg.monitor_slack));
	releaser(&blk);
	for (int i = 0; i < N; i++)
		t_event_set(&g[i].open);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	t_assert_i(atomic_load(&blk.timed_out), ==, 0);
}
END_TEST

/*
 * Defect F: the monitor budget (C + 4) must follow the running workers.
 * Ten workers start one after another, so the first six take the perf
 * monitors; they park first, at the bottom of the idle stack, and the
 * unmonitored ones on top are the next to run (LIFO).  Those must take
 * monitors from the parked ones, or a block of theirs is never seen by the
 * workers' scans (perf only; the regulator is switched off here, as a
 * block shorter than its two /proc samples would be).
 */
START_TEST(test_regulator_monitors_leave_parked_workers)
{
	enum { N = 10 };
	static struct gate g[N];
	struct churn a = { 0 }, b = { 0 };
	struct blocker blk = { 0 };
	unsigned idle_mon, cap;
	rp_pool *pool;

	set_monitor();
	atomic_store(&rp__regulator_off, true);
	pool = t_pool(2, 0, 0, 0);
	if (monitor || !pool->reg.perf_ok) {
		ck_assert_int_eq(rp_pool_destroy(pool), 0);
		atomic_store(&rp__regulator_off, false);
		return;
	}
	bare_budget(pool);
	memset(g, 0, sizeof(g));
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(rp_post(pool, gate_fn, &g[i]), 0);
		ck_assert(t_wait_until(gate_in, &g[i], 10000));
	}
	t_assert_u(atomic_load(&pool->reg.monitors), ==, atomic_load(&pool->reg.monitor_cap));
	/* Oldest first: the monitored workers end at the bottom. */
	for (int i = 0; i < N; i++) {
		struct parked p = { pool, g[i].worker };

		t_event_set(&g[i].open);
		ck_assert(t_wait_until(is_parked, &p, 10000));
	}
	idle_mon = atomic_load(&pool->reg.idle_monitors);
	cap = atomic_load(&pool->reg.monitor_cap);
	ck_assert_msg(idle_mon == cap, "parked workers hold %u of %u monitors", idle_mon, cap);
	/* Parked for a while (monitors are not taken from workers that have
	 * just parked, see monitor.c). */
	t_sleep_ms(2 * RP_MONITOR_IDLE_US / 1000);
	a.pool = b.pool = pool;
	ck_assert_int_eq(rp_post(pool, churn_task, &a), 0);
	ck_assert_int_eq(rp_post(pool, churn_task, &b), 0);
	ck_assert(t_wait_until(churned, &a, 10000));
	ck_assert(t_wait_until(churned, &b, 10000));
	/* Both running workers took a parked one's monitor. */
	idle_mon = atomic_load(&pool->reg.idle_monitors);
	cap = atomic_load(&pool->reg.monitor_cap);
	ck_assert_msg(idle_mon + 2 <= cap, "parked workers still hold %u of %u monitors", idle_mon,
		      cap);
	ck_assert_int_eq(rp_post(pool, futex_blocker, &blk), 0);
	atomic_store(&b.stop, 1);
	ck_assert(t_wait_until(started, &blk, 10000));
	if (!t_wait_until(detected_one, pool, 10000)) {
		t_dump(pool, "the unhinted block was never seen");
		ck_abort();
	}
	releaser(&blk);
	atomic_store(&a.stop, 1);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	t_assert_i(atomic_load(&blk.timed_out), ==, 0);
	atomic_store(&rp__regulator_off, false);
}
END_TEST

/*
 * Workers that run a moment and go to sleep, many times over: each must
 * be seen blocked.  Where the scheduler's clock is coarse, such a thread
 * has used 0 ns of CPU, which the clock monitor once took for "no sample
 * yet" and so never saw it off CPU.  (A driver doing this outside Check
 * hung within ~100 rounds here; inside the suite it rarely did, so the
 * cause has a unit test of its own: check_monitor's test_monitor_cpu_clock.)
 */
START_TEST(test_regulator_sees_short_lived_sleepers)
{
	enum { ROUNDS = 25, N = 12 };
	static struct blocker b[N];

	set_monitor();
	for (int r = 0; r < ROUNDS; r++) {
		rp_pool *pool = t_pool(1, 0, 0, 0);

		memset(b, 0, sizeof(b));
		for (int i = 0; i < N; i++) {
			ck_assert_int_eq(rp_post(pool, futex_blocker, &b[i]), 0);
			if (!t_wait_until(started, &b[i], 10000)) {
				fprintf(stderr, "round %d: blocker %d of %d never started:\n", r, i, N);
				rp__pool_dump(pool, stderr);
				ck_abort();
			}
		}
		for (int i = 0; i < N; i++)
			releaser(&b[i]);
		ck_assert_int_eq(rp_pool_destroy(pool), 0);
	}
}
END_TEST

/*
 * Over-commit (slot.c): while unhinted blocks are seen exactly (perf switch
 * records or /proc), each adds a slot, up to (1 + RP_OVERCOMMIT) x C, so
 * more than C callbacks run; once no block has been seen for a while the
 * pool is back at C.  The CPU clock, which takes a preempted thread for a
 * sleeping one, never widens.
 */
struct overcommit {
	struct t_conc conc;		/* CPU tasks in their callbacks */
	_Atomic unsigned max_slots;	/* the most slots a CPU task saw */
	rp_pool *pool;
	struct t_latch done;
};

static void oc_sleeper(void *arg)
{
	struct overcommit *o = arg;
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	while (nanosleep(&ts, &ts))
		;
	t_latch_done(&o->done);
}

static void oc_cpu(void *arg)
{
	struct overcommit *o = arg;
	unsigned s = rp__slots(o->pool), m = atomic_load(&o->max_slots);

	while (s > m && !atomic_compare_exchange_weak(&o->max_slots, &m, s))
		;
	t_conc_enter(&o->conc);
	t_busy_us(3000);
	t_conc_leave(&o->conc);
	t_latch_done(&o->done);
}

/* Sixteen 3 ms CPU tasks on C = 1, with an unhinted 50 ms sleep before
 * every second one if @sleepers: blocks keep being seen while the CPU
 * tasks run, however slowly a loaded machine starts them. */
static void overcommit_round(struct overcommit *o, bool sleepers)
{
	memset(&o->conc, 0, sizeof(o->conc));
	atomic_store(&o->max_slots, 0);
	t_latch_init(&o->done, sleepers ? 24 : 16);
	for (int i = 0; i < 16; i++) {
		if (sleepers && i % 2 == 0)
			ck_assert_int_eq(rp_post(o->pool, oc_sleeper, o), 0);
		ck_assert_int_eq(rp_post(o->pool, oc_cpu, o), 0);
	}
	t_latch_wait(&o->done);
}

START_TEST(test_regulator_overcommit_while_blocks_come)
{
	struct overcommit o = { 0 };
	unsigned max = 1 + RP_OVERCOMMIT;

	set_monitor();
	o.pool = t_pool(1, 0, 0, 0);
	overcommit_round(&o, true);
	if (monitor && !strcmp(monitor, "clock")) {
		t_assert_u(atomic_load(&o.max_slots), ==, 1);
	} else {
		/* Widened for the CPU tasks queued behind the sleepers... */
		t_assert_u(atomic_load(&o.max_slots), >, 1);
		t_assert_u(atomic_load(&o.max_slots), <=, max);
		t_assert_i(atomic_load(&o.conc.peak), >=, 2);
		t_assert_i(atomic_load(&o.conc.peak), <=, (int)max);
		/* ...and narrowed once blocks stopped coming: C holds again. */
		t_wait_slots_back(o.pool);
		overcommit_round(&o, false);
		t_assert_i(atomic_load(&o.conc.peak), ==, 1);
		t_assert_u(atomic_load(&o.max_slots), ==, 1);
	}
	ck_assert_int_eq(rp_pool_destroy(o.pool), 0);
}
END_TEST

static Suite *make(const char *name)
{
	Suite *s = suite_create(name);
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_regulator_detects_futex_block);
	tcase_add_test(tc, test_regulator_detects_read_block);
	tcase_add_test(tc, test_regulator_stats_during_block);
	tcase_add_test(tc, test_regulator_detects_at_fd_limit);
	/* The CPU clock cannot tell preempted from asleep (ringpool(7)). */
	if (!monitor || strcmp(monitor, "clock"))
		tcase_add_test(tc, test_regulator_ignores_preemption);
	tcase_add_test(tc, test_regulator_sleeps_when_idle);
	tcase_add_test(tc, test_regulator_monitor_kind);
	tcase_add_test(tc, test_regulator_monitors_follow_running);
	tcase_add_test(tc, test_regulator_blocked_keep_monitors);
	tcase_add_test(tc, test_regulator_hinted_blocks_keep_bare_budget);
	tcase_add_test(tc, test_regulator_probe_held_for_pool_life);
	tcase_add_test(tc, test_regulator_sees_short_lived_sleepers);
	tcase_add_test(tc, test_regulator_workers_watch_each_other);
	tcase_add_test(tc, test_regulator_monitors_leave_parked_workers);
	tcase_add_test(tc, test_regulator_overcommit_while_blocks_come);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *make_perf(void)
{
	monitor = NULL;
	return make("regulator-perf");
}

static Suite *make_proc(void)
{
	monitor = "proc";
	return make("regulator-proc");
}

static Suite *make_clock(void)
{
	monitor = "clock";
	return make("regulator-clock");
}

int main(void)
{
	int a = t_main(make_perf, true);
	int b = t_main(make_proc, true);
	int c = t_main(make_clock, true);

	return a == EXIT_FAILURE || b == EXIT_FAILURE || c == EXIT_FAILURE ? EXIT_FAILURE : a;
}
