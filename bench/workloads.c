/* SPDX-License-Identifier: MIT */
/*
 * workloads.c - the task code of every workload, the same for every peer.
 *
 * Each run function is called in a child process of its own (see rpbench.c),
 * creates the pool, measures, tears the pool down and leaves its numbers in
 * the shared page.  It returns 0 or a negative errno value.  A run may be
 * killed at any point by the watchdog (W4's deadlocks), so nothing here
 * relies on finishing.
 *
 * The rules that keep the comparison fair:
 *  - the pool is created before the clock starts, so a fixed pool's thread
 *    start-up is not timed, but a pool that starts threads lazily pays for
 *    it inside the window, as it would in real use;
 *  - waiting for completion never burns the CPU being measured: a futex
 *    latch, woken once by the last task;
 *  - CPU work is a calibrated loop (bench_calibrate), not a sleep.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "standalone.h"

#define W1_TASKS 1000000UL		/* W1ext */
#define W1FAN_DEPTH 20			/* W1fan: 2^20 - 1 tasks */
#define W2_PERIOD_NS (50 * NSEC_PER_USEC)
#define WARM_TASKS 1000UL		/* W2 and idle: tasks run before measuring */
#define W3_TASKS 20000UL
#define W3_CPU_NS (50 * NSEC_PER_USEC)
#define W3_SLEEP_NS (2 * NSEC_PER_MSEC)
#define W3_SLEEP_EVERY 10
#define W4_DEPTH 10			/* levels: 2^10 - 1 = 1023 tasks */
#define W4_NODES ((1UL << W4_DEPTH) - 1)
#define W4_INNER ((1UL << (W4_DEPTH - 1)) - 1)	/* 511; nodes from here on are leaves */
#define W4_LEAF_NS (20 * NSEC_PER_USEC)
#define W5_TASKS 64U
#define W5_CPU_NS NSEC_PER_MSEC

/* ------------------------------------------------------------------ helpers */

_Noreturn void bench_fatal(const char *what, int err)
{
	fprintf(stderr, "rpbench: %s: %s\n", what, strerror(err));
	abort();
}

static uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts) != 0)
		bench_fatal("clock_gettime", errno);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t bench_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static void sleep_until(uint64_t t_ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(t_ns / NSEC_PER_SEC),
		.tv_nsec = (long)(t_ns % NSEC_PER_SEC),
	};
	int ret;

	/* Absolute deadlines: an interrupted or late sleep does not shift later ones. */
	while ((ret = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL)) == EINTR)
		;
	if (ret != 0)
		bench_fatal("clock_nanosleep", ret);
}

/* A plain relative sleep, the blocking call W3's tasks make. */
static void sleep_for(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / NSEC_PER_SEC),
			       .tv_nsec = (long)(ns % NSEC_PER_SEC) };

	while (nanosleep(&ts, &ts) != 0) {
		if (errno != EINTR)
			bench_fatal("nanosleep", errno);
	}
}

/*
 * CPU work: a chain of dependent multiply-adds that the compiler cannot
 * fold or vectorise, and that touches no memory, so it costs the same on
 * every peer.  The sink keeps the result alive.
 */
static atomic_ulong burn_sink;

static void burn_iters(unsigned long n)
{
	unsigned long x = n | 1;

	for (unsigned long i = 0; i < n; i++) {
		x = x * 6364136223846793005UL + 1442695040888963407UL;
		__asm__ volatile("" : "+r"(x));
	}
	atomic_fetch_add_explicit(&burn_sink, x, memory_order_relaxed);
}

static double iters_per_us;	/* set from the config in each child */

static void burn_ns(uint64_t ns)
{
	burn_iters((unsigned long)(iters_per_us * (double)ns / NSEC_PER_USEC));
}

/*
 * Iterations of burn_iters per µs: the best of several timed rounds, as the
 * best is the one least disturbed by preemption and frequency ramp-up.
 */
double bench_calibrate(void)
{
	const unsigned long n = 2000000;
	uint64_t best = UINT64_MAX;

	burn_iters(n);	/* Warm up: let the core reach its clock. */
	for (int i = 0; i < 7; i++) {
		uint64_t t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		burn_iters(n);
		uint64_t dt = clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
		if (dt < best)
			best = dt;
	}
	return (double)n * NSEC_PER_USEC / (double)best;
}

/*
 * CPU time and context switches of the whole process (all threads, dead
 * ones included), or of the calling thread alone.
 */
struct usage {
	uint64_t cpu_ns;
	long nvcsw, nivcsw;
};

static void usage_get_who(struct usage *u, int who)
{
	struct rusage ru;

	if (getrusage(who, &ru) != 0)
		bench_fatal("getrusage", errno);
	u->cpu_ns = ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * NSEC_PER_SEC +
		    ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * NSEC_PER_USEC;
	u->nvcsw = ru.ru_nvcsw;
	u->nivcsw = ru.ru_nivcsw;
}

static void usage_get(struct usage *u)
{
	usage_get_who(u, RUSAGE_SELF);
}

/* Threads the process has now (field 20 of /proc/self/stat). */
static unsigned threads_now(void)
{
	FILE *f = fopen("/proc/self/stat", "r");
	char buf[1024];
	unsigned n = 0;

	if (f == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) != NULL) {
		/* The command name may hold spaces; fields count from its ')'. */
		char *p = strrchr(buf, ')');
		if (p != NULL && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
					"%*u %*u %*d %*d %*d %*d %u", &n) != 1)
			n = 0;
	}
	fclose(f);
	return n;
}

/* Fill in the columns every row has, for the window between @u0 and @u1. */
static void usage_result(struct result *res, const struct usage *u0, const struct usage *u1)
{
	res->cpu_ms = (double)(u1->cpu_ns - u0->cpu_ns) / NSEC_PER_MSEC;
	res->nvcsw = u1->nvcsw - u0->nvcsw;
	res->nivcsw = u1->nivcsw - u0->nivcsw;
	unsigned t = threads_now();
	if (t > res->peak_threads)
		res->peak_threads = t;
}

static long futex(atomic_uint *word, int op, unsigned val)
{
	return syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

/*
 * A count-down latch.  The waiter sleeps on a futex (it must not burn the
 * CPU the pool is being measured on), and only the last task makes a
 * system call, so the per-task cost is one atomic decrement, the same for
 * every peer.
 */
struct latch {
	atomic_ulong left;
	atomic_uint done;		/* futex word: 0 until left reaches 0 */
};

static void latch_init(struct latch *l, unsigned long n)
{
	atomic_init(&l->left, n);
	atomic_init(&l->done, 0);
}

static void latch_count_down_n(struct latch *l, unsigned long k)
{
	if (k == 0 || atomic_fetch_sub_explicit(&l->left, k, memory_order_acq_rel) != k)
		return;
	/*
	 * Release pairs with the acquire load in latch_wait().  The waiter
	 * may return and reuse the latch's memory as soon as it sees done;
	 * FUTEX_WAKE only uses the address as a key and reads nothing, so a
	 * latch on the waiter's stack is safe.
	 */
	atomic_store_explicit(&l->done, 1, memory_order_release);
	if (futex(&l->done, FUTEX_WAKE_PRIVATE, INT_MAX) < 0)
		bench_fatal("futex wake", errno);
}

static void latch_count_down(struct latch *l)
{
	latch_count_down_n(l, 1);
}

static void latch_wait(struct latch *l)
{
	while (atomic_load_explicit(&l->done, memory_order_acquire) == 0) {
		/* EAGAIN: done changed before we slept; EINTR: a signal.  Both recheck. */
		if (futex(&l->done, FUTEX_WAIT_PRIVATE, 0) < 0 && errno != EAGAIN && errno != EINTR)
			bench_fatal("futex wait", errno);
	}
}

/*
 * The pool of this process, for tasks that post tasks or hint, and the
 * first error a task met (a task has nobody to return it to).
 */
static const struct variant *cur;
static void *cur_pool;
static atomic_int task_err;
static struct shared *cur_sh;

static int pool_init(const struct variant *v, const struct config *cfg, struct shared *sh)
{
	cur = v;
	cur_sh = sh;
	iters_per_us = cfg->iters_per_us;
	return v->peer->init(&cur_pool, v->threads);
}

static int post(bench_fn *fn, void *arg)
{
	return cur->peer->post(cur_pool, fn, arg);
}

static void task_failed(int err)
{
	int zero = 0;

	atomic_compare_exchange_strong(&task_err, &zero, err);
}

static void block_begin(void)
{
	if (cur->hints)
		cur->peer->block_begin();
}

static void block_end(void)
{
	if (cur->hints)
		cur->peer->block_end();
}

static void count_progress(void)
{
	atomic_fetch_add_explicit(&cur_sh->progress, 1, memory_order_relaxed);
}

static void count_task(void *arg)
{
	latch_count_down(arg);
}

/*
 * Run @n tasks and wait for them: brings a lazily started pool up to its
 * working set of threads before a latency or idle measurement.
 */
static int warm_up(unsigned long n)
{
	struct latch l;
	int ret = 0;
	unsigned long i;

	latch_init(&l, n);
	for (i = 0; i < n && ret == 0; i++)
		ret = post(count_task, &l);
	if (ret < 0)
		latch_count_down_n(&l, n - i + 1);	/* The failed post and those never made. */
	latch_wait(&l);
	return ret;
}

/* Nearest-rank percentile of sorted @v, @permille in 1..1000. */
static uint64_t percentile(const uint64_t *v, size_t n, unsigned permille)
{
	size_t rank = (permille * n + 999) / 1000;

	return v[rank > 0 ? rank - 1 : 0];
}

/* Post @n tasks fn(arg_of(i)) from this thread; on failure, count the rest down. */
static int post_all(unsigned long n, bench_fn *fn, void *(*arg_of)(unsigned long),
		    struct latch *l)
{
	for (unsigned long i = 0; i < n; i++) {
		int ret = post(fn, arg_of(i));
		if (ret < 0) {
			latch_count_down_n(l, n - i);
			return ret;
		}
	}
	return 0;
}

/* -------------------------------------------------------------------- W1ext */

/* Counts the tasks of the running workload down; its waiter is the timer. */
static struct latch done_latch;

/*
 * The shape W1ext and W3 share: start the pool, post @n tasks fn(arg_of(i))
 * from this thread, wait for all, stop the pool.  @ns: from the first post
 * to the last task's end; usage and done/total go into sh->res.
 */
static int run_posted(const struct variant *v, const struct config *cfg, struct shared *sh,
		      unsigned long n, bench_fn *fn, void *(*arg_of)(unsigned long),
		      uint64_t *ns)
{
	struct result *res = &sh->res;
	struct usage u0, u1;
	int ret = pool_init(v, cfg, sh);

	if (ret < 0)
		return ret;
	latch_init(&done_latch, n);
	usage_get(&u0);
	uint64_t t0 = bench_now_ns();
	ret = post_all(n, fn, arg_of, &done_latch);
	latch_wait(&done_latch);
	*ns = bench_now_ns() - t0;
	usage_get(&u1);
	usage_result(res, &u0, &u1);
	v->peer->fini(cur_pool);
	if (ret < 0)
		return ret;
	res->done = res->total = n;
	return 0;
}

static void w1_task(void *arg)
{
	latch_count_down(&done_latch);
}

static void *no_arg(unsigned long i)
{
	return NULL;
}

/*
 * W1ext: raw throughput of the post path and of the hand-over to workers,
 * fed by one thread outside the pool, as a server's accept loop would.
 */
static int run_w1ext(const struct variant *v, const struct config *cfg, struct shared *sh)
{
	struct result *res = &sh->res;
	uint64_t ns;
	int ret = run_posted(v, cfg, sh, W1_TASKS, w1_task, no_arg, &ns);

	if (ret < 0)
		return ret;
	double secs = (double)ns / NSEC_PER_SEC;
	res->v[0] = secs * 1e3;
	res->v[1] = W1_TASKS / secs;
	return 0;
}

/* -------------------------------------------------------------------- W1fan */

/* Tasks in a complete subtree whose root is at @depth. */
static unsigned long fan_subtree(unsigned long depth)
{
	return (1UL << (W1FAN_DEPTH - depth)) - 1;
}

static void fan_task(void *arg)
{
	unsigned long depth = (unsigned long)(uintptr_t)arg;

	if (depth + 1 < W1FAN_DEPTH) {
		for (int i = 0; i < 2; i++) {
			int ret = post(fan_task, (void *)(uintptr_t)(depth + 1));
			if (ret < 0) {
				/* The child's subtree never runs: count it here. */
				task_failed(ret);
				latch_count_down_n(&done_latch, fan_subtree(depth + 1));
			}
		}
	}
	latch_count_down(&done_latch);
}

/*
 * W1fan: the same empty tasks, but every task posts its two children from
 * inside the pool, the shape of divide-and-conquer and of a server whose
 * handlers fan out.  It measures the post path from a pool thread, which a
 * work-stealing pool makes local.
 */
static int run_w1fan(const struct variant *v, const struct config *cfg, struct shared *sh)
{
	struct result *res = &sh->res;
	struct usage u0, u1;
	const unsigned long n = fan_subtree(0);
	int ret = pool_init(v, cfg, sh);

	if (ret < 0)
		return ret;
	latch_init(&done_latch, n);
	usage_get(&u0);
	uint64_t t0 = bench_now_ns();
	ret = post(fan_task, (void *)(uintptr_t)0);
	if (ret < 0)
		latch_count_down_n(&done_latch, n);
	latch_wait(&done_latch);
	uint64_t t1 = bench_now_ns();
	usage_get(&u1);
	usage_result(res, &u0, &u1);
	v->peer->fini(cur_pool);
	if (ret == 0)
		ret = atomic_load(&task_err);
	if (ret < 0)
		return ret;

	double secs = (double)(t1 - t0) / NSEC_PER_SEC;
	res->v[0] = secs * 1e3;
	res->v[1] = (double)n / secs;
	res->done = res->total = n;
	return 0;
}

/* ----------------------------------------------------------------------- W2 */

struct w2_slot {
	uint64_t post_ns;		/* written by the poster before post() */
	uint64_t lat_ns;		/* written by the task */
};

static void w2_task(void *arg)
{
	struct w2_slot *s = arg;

	s->lat_ns = bench_now_ns() - s->post_ns;
	latch_count_down(&done_latch);
}

/*
 * W2: wake-up latency of a mostly idle pool, the common case of a server
 * under light load, and the CPU the pool burns to get it (spinning lowers
 * latency and costs CPU; this shows both sides).  A post every 50 µs with
 * ~1 µs tasks leaves the workers idle between posts.
 */
static int run_w2(const struct variant *v, const struct config *cfg, struct shared *sh)
{
	struct result *res = &sh->res;
	size_t n = cfg->w2_ns / W2_PERIOD_NS;
	struct usage u0, u1;
	int ret;

	if (n > MAX_SAMPLES)
		return -E2BIG;
	struct w2_slot *slots = calloc(n, sizeof(*slots));
	if (slots == NULL)
		return -ENOMEM;
	ret = pool_init(v, cfg, sh);
	if (ret < 0) {
		free(slots);
		return ret;
	}
	ret = warm_up(WARM_TASKS);
	latch_init(&done_latch, n);

	/*
	 * The default 50 µs timer slack would let each sleep overshoot by up
	 * to a whole period, turning the steady stream into bursts.  Only the
	 * poster gets the tight slack.  (A worker that a lazily started pool
	 * creates from inside post() inherits it; with the pool warmed up that
	 * should be rare.)
	 */
	if (ret == 0 && prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0) != 0)
		ret = -errno;

	usage_get(&u0);
	uint64_t poster0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	uint64_t t0 = bench_now_ns();
	size_t posted = 0, missed = 0;
	for (size_t j = 1; j <= n && ret == 0; j++) {
		uint64_t deadline = t0 + j * W2_PERIOD_NS;

		sleep_until(deadline);
		uint64_t t = bench_now_ns();
		/*
		 * Woken a whole period late (a slow timer, a preempted vCPU,
		 * or a pool that keeps the CPU busy): skip this slot rather
		 * than post a burst to catch up, so every post still meets
		 * an idle pool.  The count is reported: it says how far the
		 * load was from the one intended.
		 */
		if (t - deadline >= W2_PERIOD_NS) {
			missed++;
			continue;
		}
		slots[posted].post_ns = t;
		ret = post(w2_task, &slots[posted]);
		if (ret == 0)
			posted++;
	}
	latch_count_down_n(&done_latch, n - posted);	/* Slots that never got a task. */
	latch_wait(&done_latch);
	uint64_t t1 = bench_now_ns();
	uint64_t poster1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	usage_get(&u1);
	usage_result(res, &u0, &u1);
	v->peer->fini(cur_pool);

	if (ret == 0 && posted == 0)
		ret = -ETIMEDOUT;	/* Every slot missed: nothing to report. */
	if (ret == 0) {
		for (size_t i = 0; i < posted; i++)
			sh->samples[i] = slots[i].lat_ns;
		sh->nsamples = posted;
		qsort(sh->samples, posted, sizeof(sh->samples[0]), cmp_u64);
		res->v[0] = (double)percentile(sh->samples, posted, 500) / NSEC_PER_USEC;
		res->v[1] = (double)percentile(sh->samples, posted, 990) / NSEC_PER_USEC;
		res->v[2] = (double)percentile(sh->samples, posted, 999) / NSEC_PER_USEC;
		/* The poster's own sleeping and posting is the client's cost, not the pool's. */
		double pool_cpu = (double)(u1.cpu_ns - u0.cpu_ns) - (double)(poster1 - poster0);
		res->v[3] = 100.0 * pool_cpu / (double)(t1 - t0);
		res->done = posted;
		res->total = n;
	}
	free(slots);
	return ret;
}

/* --------------------------------------------------------------------- idle */

/*
 * idle: what a warmed-up pool with nothing to do costs.  A pool that polls,
 * or whose idle threads time out periodically, shows here as CPU time and
 * as context switches.  The window starts right after the warm-up, so it
 * includes the pool's wind-down (spinning, parking); the pool's context
 * switches in its second half show periodic wake-ups alone.
 */
static int run_idle(const struct variant *v, const struct config *cfg, struct shared *sh)
{
	struct result *res = &sh->res;
	struct usage u0, u1, u2, self1, self2;
	int ret = pool_init(v, cfg, sh);

	if (ret < 0)
		return ret;
	ret = warm_up(WARM_TASKS);
	if (ret == 0) {
		usage_get(&u0);
		uint64_t self0_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		uint64_t t0 = bench_now_ns();
		sleep_until(t0 + cfg->idle_ns / 2);
		usage_get(&u1);
		usage_get_who(&self1, RUSAGE_THREAD);
		sleep_until(t0 + cfg->idle_ns);
		usage_get_who(&self2, RUSAGE_THREAD);
		uint64_t self2_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		usage_get(&u2);
		usage_result(res, &u0, &u2);

		/*
		 * The pool alone: the process minus the sleeping main
		 * thread, whose wake-up some virtual machines charge ~150 µs.
		 */
		double pool = (double)(u2.cpu_ns - u0.cpu_ns) - (double)(self2_ns - self0_ns);
		res->v[0] = 100.0 * pool / (double)cfg->idle_ns;
		res->v[1] = (double)((u2.nvcsw - u1.nvcsw) - (self2.nvcsw - self1.nvcsw) +
				     (u2.nivcsw - u1.nivcsw) - (self2.nivcsw - self1.nivcsw));
	}
	v->peer->fini(cur_pool);
	return ret;
}

/* ----------------------------------------------------------------------- W3 */

/* The shape of the W3 family's blocking, set by each run: of every 10
 * tasks, the last w3_blocking also sleep w3_sleep_ns. */
static unsigned w3_blocking = 1;
static uint64_t w3_sleep_ns = W3_SLEEP_NS;

static void w3_task(void *arg)
{
	unsigned long i = (unsigned long)(uintptr_t)arg;

	burn_ns(W3_CPU_NS);
	if (i % W3_SLEEP_EVERY >= W3_SLEEP_EVERY - w3_blocking) {
		block_begin();
		sleep_for(w3_sleep_ns);
		block_end();
	}
	latch_count_down(&done_latch);
}

static void *index_arg(unsigned long i)
{
	return (void *)(uintptr_t)i;
}

static double w3_ideal(const struct config *cfg)
{
	return (double)W3_TASKS * W3_CPU_NS / NSEC_PER_MSEC / cfg->cores;
}

/*
 * W3: CPU-bound work with occasional blocking calls the pool is not told
 * about, the mix a server's handlers have.  A pool whose size matches the
 * cores idles a core for every sleeping task; a larger one oversubscribes
 * the CPUs; a regulated pool should be near the ideal without hints.
 */
static int run_w3_shaped(const struct variant *v, const struct config *cfg, struct shared *sh,
			 unsigned blocking, uint64_t sleep_ns)
{
	struct result *res = &sh->res;
	uint64_t ns;
	int ret;

	w3_blocking = blocking;
	w3_sleep_ns = sleep_ns;
	ret = run_posted(v, cfg, sh, W3_TASKS, w3_task, index_arg, &ns);
	if (ret < 0)
		return ret;
	res->v[0] = (double)ns / NSEC_PER_MSEC;
	res->v[1] = res->v[0] / w3_ideal(cfg);
	return 0;
}

static int run_w3(const struct variant *v, const struct config *cfg, struct shared *sh)
{
	return run_w3_shaped(v, cfg, sh, 1, W3_SLEEP_NS);
}

/* W3 with 30% of the tasks blocking (issue 14: so that tuning does not fit
 * one workload). */
static int run_w3b(const struct variant *v, const struct config *cfg, struct shared *sh)
{
	return run_w3_shaped(v, cfg, sh, 3, W3_SLEEP_NS);
}

/* W3 with 500 us blocks: shorter than a sampling period. */
static int run_w3c(const struct variant *v, const struct config *cfg, struct shared *sh)
{
	return run_w3_shaped(v, cfg, sh, 1, 500 * NSEC_PER_USEC);
}

/* ----------------------------------------------------------------------- W4 */

/*
 * Node i's children are 2i+1 and 2i+2.  Each inner node waits on its own
 * semaphore, which each child posts once when its subtree is done.
 */
static sem_t *w4_sems;

static void w4_task(void *arg)
{
	unsigned long i = (unsigned long)(uintptr_t)arg;

	if (i >= W4_INNER) {
		burn_ns(W4_LEAF_NS);
	} else {
		for (unsigned long c = 2 * i + 1; c <= 2 * i + 2; c++) {
			int ret = post(w4_task, (void *)(uintptr_t)c);
			if (ret < 0) {
				/* The tree cannot finish: report and let the parent stop us. */
				task_failed(ret);
				fprintf(stderr, "rpbench: W4: post failed: %s\n", strerror(-ret));
				_exit(1);
			}
		}
		block_begin();
		for (int k = 0; k < 2; k++) {
			while (sem_wait(&w4_sems[i]) != 0) {
				if (errno != EINTR)
					bench_fatal("sem_wait", errno);
			}
		}
		block_end();
	}
	count_progress();
	if (i == 0)
		latch_count_down(&done_latch);
	else if (sem_post(&w4_sems[(i - 1) / 2]) != 0)
		bench_fatal("sem_post", errno);
}

static double w4_ideal(const struct config *cfg)
{
	return (double)(W4_NODES - W4_INNER) * W4_LEAF_NS / NSEC_PER_MSEC / cfg->cores;
}

/*
 * W4: tasks that wait for tasks they posted, without telling the pool: the
 * pattern that deadlocks a fixed pool (every thread waits on work queued
 * behind it).  The watchdog in rpbench.c reports a run that stops making
 * progress as a deadlock.
 */
static int run_w4(const struct variant *v, const struct config *cfg, struct shared *sh)
{
	struct result *res = &sh->res;
	struct usage u0, u1;
	int ret;

	w4_sems = calloc(W4_INNER, sizeof(*w4_sems));
	if (w4_sems == NULL)
		return -ENOMEM;
	for (unsigned long i = 0; i < W4_INNER; i++)
		if (sem_init(&w4_sems[i], 0, 0) != 0)
			bench_fatal("sem_init", errno);
	ret = pool_init(v, cfg, sh);
	if (ret < 0)
		return ret;
	res->total = W4_NODES;
	latch_init(&done_latch, 1);
	usage_get(&u0);
	uint64_t t0 = bench_now_ns();
	ret = post(w4_task, (void *)(uintptr_t)0);
	if (ret < 0)
		latch_count_down(&done_latch);
	latch_wait(&done_latch);
	uint64_t t1 = bench_now_ns();
	usage_get(&u1);
	usage_result(res, &u0, &u1);
	v->peer->fini(cur_pool);
	if (ret < 0)
		return ret;
	res->v[0] = (double)(t1 - t0) / NSEC_PER_MSEC;
	res->v[1] = res->v[0] / w4_ideal(cfg);
	res->done = W4_NODES;
	return 0;
}

/* ----------------------------------------------------------------------- W5 */

static atomic_uint w5_arrived, w5_gate, w5_computing, w5_peak;
static uint64_t w5_open_ns;

static void w5_task(void *arg)
{
	unsigned long i = (unsigned long)(uintptr_t)arg;

	count_progress();
	block_begin();
	if (atomic_fetch_add(&w5_arrived, 1) + 1 == W5_TASKS) {
		/* The last to arrive opens the gate for the 63 waiting. */
		w5_open_ns = bench_now_ns();
		atomic_store_explicit(&w5_gate, 1, memory_order_release);
		if (futex(&w5_gate, FUTEX_WAKE_PRIVATE, INT_MAX) < 0)
			bench_fatal("futex wake", errno);
	} else {
		while (atomic_load_explicit(&w5_gate, memory_order_acquire) == 0) {
			if (futex(&w5_gate, FUTEX_WAIT_PRIVATE, 0) < 0 && errno != EAGAIN &&
			    errno != EINTR)
				bench_fatal("futex wait", errno);
		}
	}
	block_end();

	uint64_t start = bench_now_ns();
	unsigned now = atomic_fetch_add(&w5_computing, 1) + 1;
	unsigned peak = atomic_load(&w5_peak);
	while (now > peak && !atomic_compare_exchange_weak(&w5_peak, &peak, now))
		;
	burn_ns(W5_CPU_NS);
	atomic_fetch_sub(&w5_computing, 1);
	cur_sh->samples[2 * i] = start;
	cur_sh->samples[2 * i + 1] = bench_now_ns();
	count_progress();
	latch_count_down(&done_latch);
}

static double w5_ideal(const struct config *cfg)
{
	return (double)W5_TASKS * W5_CPU_NS / NSEC_PER_MSEC / cfg->cores;
}

/*
 * W5: a thundering herd.  64 tasks wait on one gate; when it opens, all
 * want the CPU at once.  An unregulated pool runs 64 threads on the cores
 * and pays in preemptions; admission on unblock should keep the number
 * computing at the core count without losing time.
 */
static int run_w5(const struct variant *v, const struct config *cfg, struct shared *sh)
{
	struct result *res = &sh->res;
	struct usage u0, u1;
	int ret = pool_init(v, cfg, sh);

	if (ret < 0)
		return ret;
	latch_init(&done_latch, W5_TASKS);
	res->total = W5_TASKS;
	ret = post_all(W5_TASKS, w5_task, index_arg, &done_latch);
	/* Switches and CPU from the posts on: the herd's wake-up is the point. */
	usage_get(&u0);
	latch_wait(&done_latch);
	usage_get(&u1);
	usage_result(res, &u0, &u1);
	v->peer->fini(cur_pool);
	if (ret < 0)
		return ret;

	uint64_t last = 0;
	for (unsigned i = 0; i < W5_TASKS; i++) {
		if (cur_sh->samples[2 * i + 1] > last)
			last = cur_sh->samples[2 * i + 1];
		/* Times relative to the gate opening, for the plot. */
		cur_sh->samples[2 * i] -= w5_open_ns;
		cur_sh->samples[2 * i + 1] -= w5_open_ns;
	}
	cur_sh->nsamples = 2 * W5_TASKS;
	res->v[0] = (double)(last - w5_open_ns) / NSEC_PER_MSEC;
	res->v[1] = res->v[0] / w5_ideal(cfg);
	res->v[2] = atomic_load(&w5_peak);
	res->v[3] = (double)res->nivcsw;
	res->done = res->total = W5_TASKS;
	return 0;
}

/* ----------------------------------------------------------------------- W9 */

/*
 * W9: short uninterruptible blocks, the case a sampling detector is slowest
 * for.  64 clients in a closed loop each read 4-32 KiB with O_DIRECT from a
 * file on the local disk (a read that sleeps in D state: on the 2-vCPU VM
 * ~300 µs with 3 in flight, over 1 ms with 40), then spend W9_CPU_NS building the reply; the pool is not told.  As
 * in nginx with `directio`, an event loop outside the pool (this process's
 * main thread) posts each request and takes each reply back: a task pushes
 * its client onto a lock-free stack and wakes the loop only when it sleeps.
 */
#define W9_CLIENTS 64U
#define W9_SPAN (256UL << 20)		/* of the file (FILE_SIZE), where reads fall */
#define W9_BLOCK 4096UL
#define W9_CPU_NS (10 * NSEC_PER_USEC)
#define W9_WARM_NS (200 * NSEC_PER_MSEC)
#define W9_MAX_SAMPLES (1UL << 20)

struct w9_client {
	struct w9_client *next;		/* on w9_done */
	uint64_t post_ns, end_ns;
	uint64_t rng;
	void *buf;			/* W9_BLOCK-aligned, 32 KiB */
	int err;
};

static int w9_fd = -1;
static _Atomic(struct w9_client *) w9_done;
static atomic_uint w9_seq;		/* futex word: bumped to wake the loop */
static atomic_bool w9_sleeping;

static uint64_t w9_next(uint64_t *s)
{
	/* xorshift64: cheap, and each client has its own sequence. */
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void w9_task(void *arg)
{
	struct w9_client *c = arg;
	uint64_t r = w9_next(&c->rng);
	size_t len = W9_BLOCK << (r % 4);			/* 4, 8, 16 or 32 KiB */
	off_t off = (off_t)((r >> 8) % (W9_SPAN / W9_BLOCK - 8) * W9_BLOCK);

	block_begin();
	ssize_t n = pread(w9_fd, c->buf, len, off);
	int err = n < 0 ? -errno : n != (ssize_t)len ? -EIO : 0;	/* before block_end() */
	block_end();
	c->err = err;
	burn_ns(W9_CPU_NS);
	c->end_ns = bench_now_ns();
	count_progress();

	struct w9_client *head = atomic_load_explicit(&w9_done, memory_order_relaxed);
	do
		c->next = head;
	while (!atomic_compare_exchange_weak(&w9_done, &head, c));
	/* Pairs with the loop's store of w9_sleeping and its recheck of the stack. */
	if (atomic_load(&w9_sleeping)) {
		atomic_fetch_add(&w9_seq, 1);
		if (futex(&w9_seq, FUTEX_WAKE_PRIVATE, 1) < 0)
			bench_fatal("futex wake", errno);
	}
}

/* The clients whose replies came back; sleeps until there is one. */
static struct w9_client *w9_take(void)
{
	for (;;) {
		struct w9_client *got = atomic_exchange(&w9_done, NULL);
		if (got != NULL)
			return got;
		unsigned seq = atomic_load(&w9_seq);
		atomic_store(&w9_sleeping, true);
		if (atomic_load(&w9_done) == NULL &&
		    futex(&w9_seq, FUTEX_WAIT_PRIVATE, seq) < 0 && errno != EAGAIN && errno != EINTR)
			bench_fatal("futex wait", errno);
		atomic_store(&w9_sleeping, false);
	}
}

/*
 * The file W9 reads, made or checked by prepare_file() (standalone.c, as
 * for W7 and W8): in $RPBENCH_DIRECT_DIR, else /var/tmp/ringpool-w9 (not
 * /tmp, which may be a tmpfs without O_DIRECT).  Reused by later runs.
 */
static int w9_open(void)
{
	const char *dir = getenv("RPBENCH_DIRECT_DIR");
	char path[PATH_MAX], how[32];
	int ret;

	if (dir == NULL || dir[0] == '\0')
		dir = "/var/tmp/ringpool-w9";
	snprintf(path, sizeof(path), "%s/w9-1GiB.dat", dir);
	ret = prepare_file(dir, path, how, sizeof(how));
	if (ret < 0) {
		fprintf(stderr, "rpbench: W9: %s: %s\n", path, strerror(-ret));
		return ret;
	}
	int fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		fprintf(stderr, "rpbench: W9: %s: %s%s\n", path, strerror(err),
			err == EINVAL ? " (no O_DIRECT here: set RPBENCH_DIRECT_DIR)" : "");
		return -err;
	}
	return fd;
}

static double w9_pct(uint64_t *lat, size_t n, unsigned permille)
{
	return n == 0 ? 0 : (double)percentile(lat, n, permille) / NSEC_PER_USEC;
}

static int run_w9(const struct variant *v, const struct config *cfg, struct shared *sh)
{
	struct result *res = &sh->res;
	struct w9_client *cl = NULL;
	uint64_t *lat = malloc(W9_MAX_SAMPLES * sizeof(*lat));
	size_t nlat = 0;
	unsigned long done = 0;
	struct usage u0, u1;
	int ret;

	w9_fd = w9_open();
	if (w9_fd < 0 || lat == NULL) {
		free(lat);
		return w9_fd < 0 ? w9_fd : -ENOMEM;
	}
	ret = posix_memalign((void **)&cl, 64, W9_CLIENTS * sizeof(*cl)) == 0 ? 0 : -ENOMEM;
	for (unsigned i = 0; ret == 0 && i < W9_CLIENTS; i++) {
		cl[i] = (struct w9_client){ .rng = 0x9e3779b97f4a7c15ULL * (i + 1) };
		if (posix_memalign(&cl[i].buf, W9_BLOCK, 8 * W9_BLOCK) != 0)
			ret = -ENOMEM;
	}
	if (ret == 0)
		ret = pool_init(v, cfg, sh);
	if (ret < 0)
		goto out;

	/* Every client's first request; then each reply brings the next. */
	uint64_t t0 = bench_now_ns(), start = t0 + W9_WARM_NS, stop = start + cfg->direct_ns;
	unsigned out = 0;
	for (unsigned i = 0; i < W9_CLIENTS && ret == 0; i++) {
		cl[i].post_ns = bench_now_ns();
		ret = post(w9_task, &cl[i]);
		out += ret == 0;
	}
	/* CPU and switches from the first reply in the window to the first after it. */
	enum { WARM, MEASURING, DRAINING } phase = WARM;
	usage_get(&u0);
	u1 = u0;
	while (out > 0) {
		struct w9_client *c = w9_take();
		uint64_t now = bench_now_ns();

		if (phase == WARM && now >= start) {
			phase = MEASURING;
			usage_get(&u0);
		}
		if (phase == MEASURING && now >= stop) {
			phase = DRAINING;
			usage_get(&u1);
		}
		for (struct w9_client *next; c != NULL; c = next) {
			next = c->next;
			out--;
			if (c->err < 0 && ret == 0)
				ret = c->err;
			/* Throughput: the replies that came back inside the
			 * window; latency: every request posted inside it,
			 * however late its reply (the drain waits for it). */
			if (c->end_ns >= start && c->end_ns < stop)
				done++;
			if (c->post_ns >= start && c->post_ns < stop && nlat < W9_MAX_SAMPLES)
				lat[nlat++] = c->end_ns - c->post_ns;
			if (now < stop && ret == 0) {
				c->post_ns = bench_now_ns();
				ret = post(w9_task, c);
				out += ret == 0;
			}
		}
	}
	v->peer->fini(cur_pool);
	if (ret < 0)
		goto out;
	usage_result(res, &u0, &u1);
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	res->v[0] = (double)done * NSEC_PER_SEC / (double)cfg->direct_ns;
	res->v[1] = w9_pct(lat, nlat, 500);
	res->v[2] = w9_pct(lat, nlat, 990);
	res->v[3] = done == 0 ? 0 : res->cpu_ms * 1000.0 / (double)done;
	res->done = res->total = done;
out:
	if (cl != NULL)
		for (unsigned i = 0; i < W9_CLIENTS; i++)
			free(cl[i].buf);
	free(cl);
	free(lat);
	close(w9_fd);
	return ret;
}

/* ------------------------------------------------------------------- table */

const struct workload bench_workloads[] = {
	{
		.name = "W1ext",
		.title = "1,000,000 empty tasks posted from one thread outside the pool",
		.nmetrics = 2,
		.metrics = { { "wall", "ms", false }, { "throughput", "tasks/s", true } },
		.limit_ns = 120 * NSEC_PER_SEC,
		.run = run_w1ext,
	},
	{
		.name = "W1fan",
		.title = "binary tree of 2^20-1 empty tasks, each posting its two children",
		.nmetrics = 2,
		.metrics = { { "wall", "ms", false }, { "throughput", "tasks/s", true } },
		.limit_ns = 120 * NSEC_PER_SEC,
		.run = run_w1fan,
	},
	{
		.name = "W2",
		.title = "one post every 50 µs into an idle pool: post-to-start latency",
		.nmetrics = 4,
		.metrics = { { "p50", "µs", false }, { "p99", "µs", false },
			     { "p99.9", "µs", false }, { "pool CPU", "% of a core", false } },
		.limit_ns = 60 * NSEC_PER_SEC,
		.run = run_w2,
	},
	{
		.name = "idle",
		.title = "a warmed-up pool with nothing to do",
		.nmetrics = 2,
		.metrics = { { "pool CPU", "% of a core", false },
			     { "pool ctx switches in last half", "count", false } },
		.limit_ns = 60 * NSEC_PER_SEC,
		.run = run_idle,
	},
	{
		.name = "W3",
		.title = "20,000 tasks of 50 µs CPU; every 10th also sleeps 2 ms (no hint)",
		.nmetrics = 2,
		.metrics = { { "makespan", "ms", false }, { "× ideal", "ratio", false } },
		.sizes = { 2, 8, 32 },
		.hint_variant = true,
		.limit_ns = 120 * NSEC_PER_SEC,
		.run = run_w3,
		.ideal = w3_ideal,
	},
	{
		.name = "W3b",
		.title = "W3 with 3 tasks of every 10 sleeping 2 ms (no hint)",
		.nmetrics = 2,
		.metrics = { { "makespan", "ms", false }, { "× ideal", "ratio", false } },
		.sizes = { 2, 8, 32 },
		.hint_variant = true,
		.limit_ns = 120 * NSEC_PER_SEC,
		.run = run_w3b,
		.ideal = w3_ideal,
	},
	{
		.name = "W3c",
		.title = "W3 with 500 µs sleeps (no hint)",
		.nmetrics = 2,
		.metrics = { { "makespan", "ms", false }, { "× ideal", "ratio", false } },
		.sizes = { 2, 8, 32 },
		.hint_variant = true,
		.limit_ns = 120 * NSEC_PER_SEC,
		.run = run_w3c,
		.ideal = w3_ideal,
	},
	{
		.name = "W4",
		.title = "depth-10 tree; inner tasks wait on a semaphore for their children (no hint); "
			 "leaves 20 µs CPU",
		.nmetrics = 2,
		.metrics = { { "makespan", "ms", false }, { "× ideal", "ratio", false } },
		.sizes = { 2, 4, 8, 32, 1024 },
		.hint_variant = true,
		.deadlock_possible = true,
		.limit_ns = 30 * NSEC_PER_SEC,
		.run = run_w4,
		.ideal = w4_ideal,
	},
	{
		.name = "W5",
		.title = "64 tasks wait on one futex gate, then each computes 1 ms",
		.nmetrics = 4,
		.metrics = { { "makespan from gate", "ms", false }, { "× ideal", "ratio", false },
			     { "peak computing", "tasks", false },
			     { "involuntary ctx switches", "count", false } },
		/* Fewer than 64 threads cannot get all 64 to the gate: they deadlock. */
		.sizes = { 64 },
		.hint_variant = true,
		.deadlock_possible = true,
		.limit_ns = 30 * NSEC_PER_SEC,
		.run = run_w5,
		.ideal = w5_ideal,
	},
	{
		.name = "W9",
		.title = "64 clients in a closed loop: O_DIRECT reads of 4-32 KiB from the local disk "
			 "(no hint), then 10 µs CPU",
		.nmetrics = 4,
		.metrics = { { "throughput", "reads/s", true }, { "p50", "µs", false },
			     { "p99", "µs", false }, { "CPU per read", "µs", false } },
		.sizes = { 8, 32, 64 },
		.hint_variant = true,
		.limit_ns = 60 * NSEC_PER_SEC,
		.run = run_w9,
	},
};
const unsigned bench_nworkloads = sizeof(bench_workloads) / sizeof(bench_workloads[0]);
