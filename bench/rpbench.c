/* SPDX-License-Identifier: MIT */
/*
 * rpbench.c - runs each workload on each peer (bench/adapter.h) and prints
 * a markdown table of medians, ranges and ratios to ringpool.
 *
 * Method: for each workload, repetitions run peers interleaved (A B A B ...),
 * each run on a freshly created pool, so slow drift of the machine (thermal,
 * noisy neighbours) hits every peer alike.  The ratio to ringpool pairs each
 * run with the ringpool run of the same repetition, taken moments apart,
 * and reports the median of those ratios.  See bench/README.md.
 *
 * Build without the library (pthread peer only) with -DBENCH_NO_RINGPOOL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "adapter.h"

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_USEC 1000ULL

#define W1_TASKS 1000000UL	/* W1ext: tasks posted */
#define W2_PERIOD_NS (50 * NSEC_PER_USEC)
#define WARM_TASKS 1000UL	/* W2 and idle: tasks run before measuring */
#define IDLE_NS NSEC_PER_SEC	/* idle: length of the idle window */

#define MAX_METRICS 5
#define MAX_WORKLOADS 8

/* ringpool first, so that it is "A" in the A B A B interleaving. */
static const struct bench_peer *const all_peers[] = {
#ifndef BENCH_NO_RINGPOOL
	&bench_peer_ringpool,
#endif
	&bench_peer_pthread,
};
#define NPEERS (sizeof(all_peers) / sizeof(all_peers[0]))

struct config;

/* What one run of one workload on one peer produced. */
struct result {
	int err;			/* 0, or the negative errno the run failed with */
	double v[MAX_METRICS];		/* indexed like workload.metrics */
	long nvcsw, nivcsw;		/* context switches during the measured window */
};

struct metric {
	const char *name;
	const char *unit;
};

struct workload {
	const char *name;
	unsigned nmetrics;
	struct metric metrics[MAX_METRICS];
	int (*run)(const struct bench_peer *peer, const struct config *cfg, struct result *res);
};

struct config {
	const char *mode;
	unsigned reps;
	unsigned threads;		/* passed to peer init; 0 = each peer's default */
	uint64_t w2_ns;			/* W2: length of the posting window */
	const char *csv_path;		/* NULL: no CSV */
	const struct bench_peer *peers[NPEERS];
	unsigned npeers;
	const struct workload *workloads[MAX_WORKLOADS];
	unsigned nworkloads;
};

/* ------------------------------------------------------------------ helpers */

/*
 * For calls that cannot fail on a working Linux system (clock reads, futex
 * on a valid word): a failure means the measurement is meaningless, so stop.
 */
static _Noreturn void fatal(const char *what, int err)
{
	fprintf(stderr, "rpbench: %s: %s\n", what, strerror(err));
	abort();
}

static uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts) != 0)
		fatal("clock_gettime", errno);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
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
		fatal("clock_nanosleep", ret);
}

/*
 * CPU time and context switches of the process (RUSAGE_SELF: all threads,
 * dead ones included) or of the calling thread (RUSAGE_THREAD).
 */
struct usage {
	uint64_t cpu_ns;
	long nvcsw, nivcsw;
};

static void usage_get_who(struct usage *u, int who)
{
	struct rusage ru;

	if (getrusage(who, &ru) != 0)
		fatal("getrusage", errno);
	u->cpu_ns = ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * NSEC_PER_SEC +
		    ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * NSEC_PER_USEC;
	u->nvcsw = ru.ru_nvcsw;
	u->nivcsw = ru.ru_nivcsw;
}

static void usage_get(struct usage *u)
{
	usage_get_who(u, RUSAGE_SELF);
}

static void usage_ctxsw(struct result *res, const struct usage *u0, const struct usage *u1)
{
	res->nvcsw = u1->nvcsw - u0->nvcsw;
	res->nivcsw = u1->nivcsw - u0->nivcsw;
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
	 * FUTEX_WAKE below only uses the address as a key and reads nothing,
	 * so a latch on the waiter's stack is safe.
	 */
	atomic_store_explicit(&l->done, 1, memory_order_release);
	if (syscall(SYS_futex, &l->done, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0) < 0)
		fatal("futex wake", errno);
}

static void latch_count_down(struct latch *l)
{
	latch_count_down_n(l, 1);
}

static void latch_wait(struct latch *l)
{
	while (atomic_load_explicit(&l->done, memory_order_acquire) == 0) {
		/* EAGAIN: done changed before we slept; EINTR: a signal.  Both recheck. */
		if (syscall(SYS_futex, &l->done, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0) < 0 &&
		    errno != EAGAIN && errno != EINTR)
			fatal("futex wait", errno);
	}
}

static void count_task(void *arg)
{
	latch_count_down(arg);
}

/*
 * Run @n tasks on @pool and wait for them: brings a lazily started pool up
 * to its working set of threads before a latency or idle measurement.
 */
static int warm_up(const struct bench_peer *peer, void *pool, unsigned long n)
{
	struct latch l;

	latch_init(&l, n);
	for (unsigned long i = 0; i < n; i++) {
		int ret = peer->post(pool, count_task, &l);
		if (ret < 0)
			return ret;	/* The caller's fini waits for those already posted. */
	}
	latch_wait(&l);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted @v, @permille in 1..1000. */
static uint64_t percentile(const uint64_t *v, size_t n, unsigned permille)
{
	size_t rank = (permille * n + 999) / 1000;

	return v[rank > 0 ? rank - 1 : 0];
}

/* ---------------------------------------------------------------- workloads */

/*
 * W1ext: raw throughput of the post path and of the hand-over to workers,
 * fed by one thread outside the pool, as a server's accept loop would.
 * The tasks do nothing but count down, so the pool's overhead is all that
 * is timed.  Thread start-up of a lazily started pool is inside the window
 * on purpose: it is a cost that pool pays and the fixed pool does not.
 */
static int run_w1ext(const struct bench_peer *peer, const struct config *cfg, struct result *res)
{
	struct latch l;
	struct usage u0, u1;
	void *pool;
	int ret = peer->init(&pool, cfg->threads);

	if (ret < 0)
		return ret;
	latch_init(&l, W1_TASKS);

	usage_get(&u0);
	uint64_t t0 = now_ns();
	for (unsigned long i = 0; i < W1_TASKS && ret == 0; i++)
		ret = peer->post(pool, count_task, &l);
	if (ret == 0)
		latch_wait(&l);
	uint64_t t1 = now_ns();
	usage_get(&u1);

	peer->fini(pool);
	if (ret < 0)
		return ret;

	double secs = (double)(t1 - t0) / NSEC_PER_SEC;
	res->v[0] = secs * 1e3;
	res->v[1] = W1_TASKS / secs;
	usage_ctxsw(res, &u0, &u1);
	return 0;
}

struct w2_slot {
	uint64_t post_ns;		/* written by the poster before post() */
	uint64_t lat_ns;		/* written by the task */
	struct latch *latch;
};

static void w2_task(void *arg)
{
	struct w2_slot *s = arg;

	s->lat_ns = now_ns() - s->post_ns;
	latch_count_down(s->latch);
}

/*
 * W2: wake-up latency of a mostly idle pool, the common case of a server
 * under light load, and the CPU the pool burns to get it (spinning lowers
 * latency and costs CPU; this shows both sides).  A post every 50 µs with
 * ~1 µs tasks leaves the workers idle between posts.
 */
static int run_w2(const struct bench_peer *peer, const struct config *cfg, struct result *res)
{
	size_t n = cfg->w2_ns / W2_PERIOD_NS;
	struct w2_slot *slots = malloc(n * sizeof(*slots));
	uint64_t *lat = malloc(n * sizeof(*lat));
	struct latch l;
	struct usage u0, u1;
	void *pool;
	int ret;

	if (slots == NULL || lat == NULL) {
		free(slots);
		free(lat);
		return -ENOMEM;
	}
	/* Touch every page now: a page fault inside the window would be timed. */
	memset(slots, 0, n * sizeof(*slots));
	memset(lat, 0, n * sizeof(*lat));
	latch_init(&l, n);
	for (size_t i = 0; i < n; i++)
		slots[i].latch = &l;

	ret = peer->init(&pool, cfg->threads);
	if (ret < 0)
		goto out_free;
	ret = warm_up(peer, pool, WARM_TASKS);
	if (ret < 0)
		goto out_fini;

	/*
	 * The default 50 µs timer slack would let each sleep overshoot by up
	 * to a whole period, turning the steady stream into bursts.  Only the
	 * poster gets the tight slack; it is restored before the pool is torn
	 * down.  (A worker that a lazily started pool creates from inside
	 * post() inherits it; with the pool warmed up that should be rare.)
	 */
	int old_slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	if (old_slack < 0 || prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0) != 0) {
		ret = -errno;
		goto out_fini;
	}

	usage_get(&u0);
	uint64_t poster0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	uint64_t t0 = now_ns();
	size_t posted = 0, missed = 0;
	for (size_t j = 1; j <= n && ret == 0; j++) {
		uint64_t deadline = t0 + j * W2_PERIOD_NS;

		sleep_until(deadline);
		uint64_t t = now_ns();
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
		ret = peer->post(pool, w2_task, &slots[posted]);
		if (ret == 0)
			posted++;
	}
	if (ret == 0) {
		latch_count_down_n(&l, missed);	/* Slots that never got a task. */
		latch_wait(&l);
	}
	uint64_t t1 = now_ns();
	uint64_t poster1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	usage_get(&u1);

	if (prctl(PR_SET_TIMERSLACK, (unsigned long)old_slack, 0, 0, 0) != 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && posted == 0)
		ret = -ETIMEDOUT;	/* Every slot missed: nothing to report. */
	if (ret < 0)
		goto out_fini;

	for (size_t i = 0; i < posted; i++)
		lat[i] = slots[i].lat_ns;
	qsort(lat, posted, sizeof(*lat), cmp_u64);
	res->v[0] = (double)percentile(lat, posted, 500) / NSEC_PER_USEC;
	res->v[1] = (double)percentile(lat, posted, 990) / NSEC_PER_USEC;
	res->v[2] = (double)percentile(lat, posted, 999) / NSEC_PER_USEC;
	/* The poster's own sleeping and posting is the client's cost, not the pool's. */
	double pool_cpu = (double)(u1.cpu_ns - u0.cpu_ns) - (double)(poster1 - poster0);
	res->v[3] = 100.0 * pool_cpu / (double)(t1 - t0);
	res->v[4] = 100.0 * (double)missed / (double)n;
	usage_ctxsw(res, &u0, &u1);

out_fini:
	peer->fini(pool);
out_free:
	free(lat);
	free(slots);
	return ret;
}

/*
 * idle: what a warmed-up pool with nothing to do costs.  A pool that polls,
 * or whose idle threads time out periodically, shows here as CPU time and
 * as context switches.  The second starts right after the warm-up, so it
 * includes the pool's wind-down (spinning, parking); the pool's context
 * switches in its second half show periodic wake-ups alone.  CPU is given
 * for the process and for the pool alone: on some virtual machines waking
 * from a 1 s sleep is charged ~150 µs to the sleeper.
 */
static int run_idle(const struct bench_peer *peer, const struct config *cfg, struct result *res)
{
	struct usage u0, u1, u2, self1, self2;
	void *pool;
	int ret = peer->init(&pool, cfg->threads);

	if (ret < 0)
		return ret;
	ret = warm_up(peer, pool, WARM_TASKS);
	if (ret == 0) {
		usage_get(&u0);
		uint64_t self0_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		uint64_t t0 = now_ns();
		sleep_until(t0 + IDLE_NS / 2);
		usage_get(&u1);
		usage_get_who(&self1, RUSAGE_THREAD);
		sleep_until(t0 + IDLE_NS);
		usage_get_who(&self2, RUSAGE_THREAD);
		uint64_t self2_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		usage_get(&u2);

		double proc = (double)(u2.cpu_ns - u0.cpu_ns);
		res->v[0] = proc / NSEC_PER_USEC;
		res->v[1] = (proc - (double)(self2_ns - self0_ns)) / NSEC_PER_USEC;
		/* Process minus the main thread's own sleep. */
		res->v[2] = (double)((u2.nvcsw - u1.nvcsw) - (self2.nvcsw - self1.nvcsw) +
				     (u2.nivcsw - u1.nivcsw) - (self2.nivcsw - self1.nivcsw));
		usage_ctxsw(res, &u0, &u2);
	}
	peer->fini(pool);
	return ret;
}

static const struct workload all_workloads[] = {
	{
		.name = "W1ext",
		.nmetrics = 2,
		.metrics = { { "wall", "ms" }, { "throughput", "tasks/s" } },
		.run = run_w1ext,
	},
	{
		.name = "W2",
		.nmetrics = 5,
		.metrics = { { "p50", "µs" }, { "p99", "µs" }, { "p99.9", "µs" },
			     { "pool CPU", "% of a core" }, { "slots missed", "% of slots" } },
		.run = run_w2,
	},
	{
		.name = "idle",
		.nmetrics = 3,
		.metrics = { { "process CPU in 1 s", "µs" },
			     { "pool CPU in 1 s", "µs" },
			     { "pool ctx switches in last 0.5 s", "count" } },
		.run = run_idle,
	},
};
#define NWORKLOADS (sizeof(all_workloads) / sizeof(all_workloads[0]))
_Static_assert(NWORKLOADS <= MAX_WORKLOADS, "raise MAX_WORKLOADS");

/* ------------------------------------------------------------------ report */

struct summary {
	unsigned ok;			/* repetitions that succeeded */
	double median, min, max;
	double ratio;			/* median paired ratio to ringpool; NAN if none */
	double nvcsw, nivcsw;		/* medians */
};

/* Median of @v[0..n), n > 0; sorts @v. */
static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Results are stored [workload][peer][repetition], in the order selected. */
static size_t result_index(const struct config *cfg, unsigned w, unsigned p, unsigned r)
{
	return ((size_t)w * cfg->npeers + p) * cfg->reps + r;
}

/* Index of ringpool among the selected peers, or -1. */
static int ringpool_index(const struct config *cfg)
{
	for (unsigned p = 0; p < cfg->npeers; p++)
		if (strcmp(cfg->peers[p]->name, "ringpool") == 0)
			return (int)p;
	return -1;
}

static void summarize(const struct result *all, const struct config *cfg, unsigned w,
		      unsigned m, unsigned p, double *scratch, struct summary *s)
{
	int rp = ringpool_index(cfg);
	unsigned n = 0;

	memset(s, 0, sizeof(*s));
	s->median = s->min = s->max = s->ratio = s->nvcsw = s->nivcsw = (double)NAN;

	for (unsigned r = 0; r < cfg->reps; r++) {
		const struct result *res = &all[result_index(cfg, w, p, r)];
		if (res->err == 0)
			scratch[n++] = res->v[m];
	}
	s->ok = n;
	if (n == 0)
		return;
	s->median = median(scratch, n);
	s->min = scratch[0];
	s->max = scratch[n - 1];

	n = 0;
	for (unsigned r = 0; r < cfg->reps; r++) {
		const struct result *res = &all[result_index(cfg, w, p, r)];
		if (res->err == 0)
			scratch[n++] = (double)res->nvcsw;
	}
	s->nvcsw = median(scratch, n);
	n = 0;
	for (unsigned r = 0; r < cfg->reps; r++) {
		const struct result *res = &all[result_index(cfg, w, p, r)];
		if (res->err == 0)
			scratch[n++] = (double)res->nivcsw;
	}
	s->nivcsw = median(scratch, n);

	if (rp < 0)
		return;
	n = 0;
	for (unsigned r = 0; r < cfg->reps; r++) {
		const struct result *res = &all[result_index(cfg, w, p, r)];
		const struct result *ref = &all[result_index(cfg, w, (unsigned)rp, r)];
		/* A zero reference (an idle pool that used no CPU) has no ratio. */
		if (res->err == 0 && ref->err == 0 && ref->v[m] != 0)
			scratch[n++] = res->v[m] / ref->v[m];
	}
	if (n > 0)
		s->ratio = median(scratch, n);
}

/* Enough digits to compare, no more: 1234567, 123.4, 12.34, 1.23, 7. */
static void fmt_num(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else if (v == floor(v))
		snprintf(buf, len, "%.0f", v);	/* counts, and whole µs from getrusage */
	else if (fabs(v) >= 1000)
		snprintf(buf, len, "%.0f", v);
	else if (fabs(v) >= 100)
		snprintf(buf, len, "%.1f", v);
	else
		snprintf(buf, len, "%.2f", v);
}

/* One CSV field with its leading comma; empty where there is no value. */
static void csv_num(FILE *f, double v)
{
	if (isnan(v))
		fputc(',', f);
	else
		fprintf(f, ",%.6g", v);
}

static void print_header(const struct config *cfg)
{
	struct utsname u;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (uname(&u) != 0)
		fatal("uname", errno);
	printf("rpbench --%s: %u repetitions, peers interleaved; %ld online CPUs; %s %s %s; "
	       "threads: %s\n\n",
	       cfg->mode, cfg->reps, cpus, u.sysname, u.release, u.machine,
	       cfg->threads ? "set by --threads" : "each peer's default");
}

/* Print the table on stdout and, if @csv is not NULL, the same rows to @csv. */
static int print_report(const struct result *all, const struct config *cfg, FILE *csv)
{
	double *scratch = malloc(cfg->reps * sizeof(*scratch));

	if (scratch == NULL)
		return -ENOMEM;
	if (csv != NULL)
		fprintf(csv, "workload,metric,unit,peer,reps_ok,median,min,max,"
			     "ratio_vs_ringpool,ctxsw_voluntary,ctxsw_involuntary\n");

	print_header(cfg);
	printf("| workload | metric | peer | median | min–max | vs ringpool | ctx switches (vol+invol) |\n");
	printf("|---|---|---|--:|--:|--:|--:|\n");
	for (unsigned w = 0; w < cfg->nworkloads; w++) {
		const struct workload *wl = cfg->workloads[w];
		for (unsigned m = 0; m < wl->nmetrics; m++) {
			for (unsigned p = 0; p < cfg->npeers; p++) {
				struct summary s;
				char med[32], lo[32], hi[32], ratio[32], vol[32], invol[32];

				summarize(all, cfg, w, m, p, scratch, &s);
				fmt_num(med, sizeof(med), s.median);
				fmt_num(lo, sizeof(lo), s.min);
				fmt_num(hi, sizeof(hi), s.max);
				/* Ratios always with two decimals: 1.00, 0.54, 12.30. */
				if (isnan(s.ratio))
					snprintf(ratio, sizeof(ratio), "-");
				else
					snprintf(ratio, sizeof(ratio), "%.2f", s.ratio);
				/* Counts: a median of an even number of runs may end in .5. */
				snprintf(vol, sizeof(vol), "%.0f", s.nvcsw);
				snprintf(invol, sizeof(invol), "%.0f", s.nivcsw);
				if (s.ok == 0) {
					printf("| %s | %s (%s) | %s | failed | - | - | - |\n",
					       wl->name, wl->metrics[m].name, wl->metrics[m].unit,
					       cfg->peers[p]->name);
				} else {
					printf("| %s | %s (%s) | %s | %s | %s–%s | %s | %s+%s |\n",
					       wl->name, wl->metrics[m].name, wl->metrics[m].unit,
					       cfg->peers[p]->name, med, lo, hi, ratio, vol, invol);
				}
				if (csv == NULL)
					continue;
				fprintf(csv, "%s,%s,%s,%s,%u", wl->name, wl->metrics[m].name,
					wl->metrics[m].unit, cfg->peers[p]->name, s.ok);
				csv_num(csv, s.median);
				csv_num(csv, s.min);
				csv_num(csv, s.max);
				csv_num(csv, s.ratio);
				csv_num(csv, s.nvcsw);
				csv_num(csv, s.nivcsw);
				fputc('\n', csv);
			}
		}
	}
	printf("\nvs ringpool: median over repetitions of (peer / ringpool of the same "
	       "repetition); throughput: higher is better, every other metric: lower is better.\n");
	free(scratch);
	return 0;
}

/* ------------------------------------------------------------------ driver */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rpbench [--quick | --full] [--csv FILE] [--peers a,b] [--workloads a,b]\n"
		"               [--threads N] [--reps N]\n"
		"  --quick          3 repetitions, W2 for 1.0 s (the default)\n"
		"  --full           7 repetitions, W2 for 1.5 s\n"
		"  --csv FILE       also write the table as CSV to FILE\n"
		"  --peers LIST     peers to run, in this order (default: all)\n"
		"  --workloads LIST workloads to run, in this order (default: all)\n"
		"  --threads N      thread count / concurrency given to every peer\n"
		"                   (default 0: each peer's own default)\n"
		"  --reps N         override the number of repetitions\n");
	fprintf(f, "peers:");
	for (size_t i = 0; i < NPEERS; i++)
		fprintf(f, " %s", all_peers[i]->name);
	fprintf(f, "\nworkloads:");
	for (size_t i = 0; i < NWORKLOADS; i++)
		fprintf(f, " %s", all_workloads[i].name);
	fprintf(f, "\n");
}

/*
 * Parse a comma-separated list of names (case-insensitive) into indexes of
 * @names[0..n).  Return the count, or 0 after printing why the list is bad.
 */
static unsigned parse_list(const char *list, const char *const *names, size_t n,
			   unsigned *idx, const char *kind)
{
	char *copy = strdup(list), *save = NULL;
	unsigned count = 0;

	if (copy == NULL) {
		fprintf(stderr, "rpbench: out of memory\n");
		return 0;
	}
	for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		size_t i = 0;

		while (i < n && strcasecmp(tok, names[i]) != 0)
			i++;
		if (i == n) {
			fprintf(stderr, "rpbench: unknown %s '%s'\n", kind, tok);
			goto bad;
		}
		/* Also bounds count by n: a list without repeats has at most n names. */
		for (unsigned j = 0; j < count; j++) {
			if (idx[j] == i) {
				fprintf(stderr, "rpbench: %s '%s' listed twice\n", kind, tok);
				goto bad;
			}
		}
		idx[count++] = (unsigned)i;
	}
	free(copy);
	if (count == 0)
		fprintf(stderr, "rpbench: empty list of %ss\n", kind);
	return count;
bad:
	free(copy);
	return 0;
}

static int parse_uint(const char *s, unsigned *out)
{
	char *end;

	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > UINT_MAX || s[0] == '-')
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct config *cfg)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "full", no_argument, NULL, 'f' },
		{ "csv", required_argument, NULL, 'c' },
		{ "peers", required_argument, NULL, 'p' },
		{ "workloads", required_argument, NULL, 'w' },
		{ "threads", required_argument, NULL, 't' },
		{ "reps", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *peer_names[NPEERS], *workload_names[NWORKLOADS];
	unsigned picked[NPEERS > NWORKLOADS ? NPEERS : NWORKLOADS];
	unsigned reps = 0;
	int c;

	*cfg = (struct config){ .mode = "quick", .reps = 3, .w2_ns = NSEC_PER_SEC };
	for (size_t i = 0; i < NPEERS; i++) {
		peer_names[i] = all_peers[i]->name;
		cfg->peers[i] = all_peers[i];
	}
	cfg->npeers = NPEERS;
	for (size_t i = 0; i < NWORKLOADS; i++) {
		workload_names[i] = all_workloads[i].name;
		cfg->workloads[i] = &all_workloads[i];
	}
	cfg->nworkloads = NWORKLOADS;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			cfg->mode = "quick";
			cfg->reps = 3;
			cfg->w2_ns = NSEC_PER_SEC;
			break;
		case 'f':
			cfg->mode = "full";
			cfg->reps = 7;
			cfg->w2_ns = 3 * NSEC_PER_SEC / 2;
			break;
		case 'c':
			cfg->csv_path = optarg;
			break;
		case 'p':
			cfg->npeers = parse_list(optarg, peer_names, NPEERS, picked, "peer");
			if (cfg->npeers == 0)
				return -EINVAL;
			for (unsigned i = 0; i < cfg->npeers; i++)
				cfg->peers[i] = all_peers[picked[i]];
			break;
		case 'w':
			cfg->nworkloads = parse_list(optarg, workload_names, NWORKLOADS, picked,
						     "workload");
			if (cfg->nworkloads == 0)
				return -EINVAL;
			for (unsigned i = 0; i < cfg->nworkloads; i++)
				cfg->workloads[i] = &all_workloads[picked[i]];
			break;
		case 't':
			if (parse_uint(optarg, &cfg->threads) < 0) {
				fprintf(stderr, "rpbench: bad --threads '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case 'r':
			if (parse_uint(optarg, &reps) < 0 || reps == 0) {
				fprintf(stderr, "rpbench: bad --reps '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "rpbench: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (reps != 0)
		cfg->reps = reps;	/* --reps wins over --quick/--full, whatever the order */
	return 0;
}

int main(int argc, char **argv)
{
	struct config cfg;
	bool failed = false;
	bool progress = isatty(STDERR_FILENO);

	if (parse_args(argc, argv, &cfg) < 0) {
		usage(stderr);
		return 2;
	}

	/* Open the CSV first: a typo should not cost the whole run. */
	FILE *csv = NULL;
	if (cfg.csv_path != NULL && (csv = fopen(cfg.csv_path, "w")) == NULL) {
		fprintf(stderr, "rpbench: %s: %s\n", cfg.csv_path, strerror(errno));
		return 2;
	}

	struct result *all = calloc((size_t)cfg.nworkloads * cfg.npeers * cfg.reps, sizeof(*all));
	if (all == NULL) {
		fprintf(stderr, "rpbench: out of memory\n");
		if (csv != NULL)
			fclose(csv);
		return 1;
	}

	for (unsigned w = 0; w < cfg.nworkloads; w++) {
		const struct workload *wl = cfg.workloads[w];
		for (unsigned r = 0; r < cfg.reps; r++) {
			for (unsigned p = 0; p < cfg.npeers; p++) {
				struct result *res = &all[result_index(&cfg, w, p, r)];
				/* Progress on stderr keeps stdout a clean table. */
				if (progress)
					fprintf(stderr, "\r%-8s rep %u/%u %-10s", wl->name, r + 1,
						cfg.reps, cfg.peers[p]->name);
				res->err = wl->run(cfg.peers[p], &cfg, res);
				if (res->err < 0) {
					fprintf(stderr, "%srpbench: %s on %s: %s\n",
						progress ? "\n" : "", wl->name,
						cfg.peers[p]->name, strerror(-res->err));
					failed = true;
				}
			}
		}
	}
	if (progress)
		fprintf(stderr, "\r%40s\r", "");

	int ret = print_report(all, &cfg, csv);
	if (ret < 0) {
		fprintf(stderr, "rpbench: %s\n", strerror(-ret));
		failed = true;
	}
	free(all);
	if (csv != NULL && (ferror(csv) | fclose(csv)) != 0) {
		fprintf(stderr, "rpbench: %s: write error\n", cfg.csv_path);
		failed = true;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "rpbench: stdout: write error\n");
		failed = true;
	}
	return failed ? 1 : 0;
}
