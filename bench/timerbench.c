/* SPDX-License-Identifier: MIT */
/*
 * timerbench.c - W6: many one-shot timers, ringpool's against the timers
 * servers use today.
 *
 * N timers (100,000) are due at times drawn uniformly over one second.
 * Each peer arms them all (untimed: the first is due a second after the
 * arming starts), then the window opens; it closes when the last callback
 * has run.  Each callback records how late it ran (its start on
 * CLOCK_MONOTONIC minus its due time; never early is a property checked,
 * not assumed).  Over the window the report gives:
 *
 *   wake-ups   context switches of every thread of the process but the
 *              main one, which only waits (getrusage(RUSAGE_SELF) minus
 *              RUSAGE_THREAD: exited threads count too)
 *   CPU        CPU time of the same threads, ms
 *   lateness   p50, p99, max over the N callbacks; early callbacks counted
 *
 * Peers:
 *   ringpool   rp_timer_create/rp_timer_set (RP_TIMER_ABS) on a default
 *              pool, with a coalescing window of 10 ms and of 0; callbacks
 *              run on the pool's workers
 *   libuv      uv_timer_start on one loop thread (millisecond timeouts, as
 *              libuv's API has them: the due time rounded up)
 *   glib       g_timeout_source_new on a GMainContext run by one thread
 *              (milliseconds, rounded up likewise)
 *   timerfd    one timerfd per timer (TFD_TIMER_ABSTIME, nanoseconds), all
 *              in one epoll set waited on by one thread; needs N + 64
 *              descriptors (skipped where RLIMIT_NOFILE cannot be raised)
 *
 * Then, ringpool only: the event thread's CPU per completion (from its
 * /proc schedstat) at 10^4 and 10^5 completions/s, and the latency of one
 * timer to its callback against a thread woken by a bare timerfd.
 *
 * Every run is a child process of its own, so no peer's threads outlive it
 * into another's window.  Numbers are reported, never asserted.
 *
 *	timerbench [--n N] [--reps R] [--peers ringpool,libuv,glib,timerfd]
 *		   [--out FILE]
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ringpool.h>
#ifdef BENCH_HAVE_UV
#include <uv.h>
#endif
#ifdef BENCH_HAVE_GLIB
#include <glib.h>
#endif

#define NS 1000000000ull
#define MS 1000000ull
#define LEAD_NS (1 * NS)        /* arming time before the first due */
#define RUN_LIMIT_S 60          /* a run slower than this is stopped */

/* ------------------------------------------------------------- the run */

struct run {
	unsigned n;
	uint64_t window_ns;     /* ringpool only */
	uint64_t *due;          /* CLOCK_MONOTONIC ns */
	int64_t *late;          /* callback start minus due, ns */
	_Atomic uint32_t left;  /* futex word: callbacks still to run */
	void *peer;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* A callback of timer @i ran.  Context: the peer's callback thread. */
static void fired(struct run *r, unsigned i)
{
	r->late[i] = (int64_t)(now_ns() - r->due[i]);
	if (atomic_fetch_sub(&r->left, 1) == 1)
		syscall(SYS_futex, &r->left, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void wait_all(struct run *r)
{
	uint32_t v;

	while ((v = atomic_load(&r->left)))
		syscall(SYS_futex, &r->left, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

/* A one-shot event between two threads. */
struct event {
	_Atomic uint32_t set;
};

static void event_set(struct event *e)
{
	atomic_store(&e->set, 1);
	syscall(SYS_futex, &e->set, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void event_wait(struct event *e)
{
	while (!atomic_load(&e->set))
		syscall(SYS_futex, &e->set, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
}

struct peer {
	const char *name;
	const char *about;
	bool windowed;                          /* takes a coalescing window */
	const char *(*usable)(unsigned n);      /* NULL, or why it cannot run */
	int (*prepare)(struct run *r);          /* untimed: create the timers */
	int (*arm)(struct run *r);              /* arm all; return when armed */
	void (*finish)(struct run *r);          /* after the window */
};

/* ------------------------------------------------------------- ringpool */

struct rpp {
	rp_pool *pool;
	rp_timer **t;
	struct slot { struct run *r; unsigned i; } *slots;
};

static void rpp_fn(void *arg, int res)
{
	struct slot *s = arg;

	(void)res;
	fired(s->r, s->i);
}

static void rpp_warm(void *arg)
{
	struct event *e = arg;

	event_set(e);
}

static int rpp_prepare(struct run *r)
{
	struct rpp *p = calloc(1, sizeof(*p));
	struct event warm[16] = { 0 };
	int ret;

	if (!p)
		return -ENOMEM;
	p->t = calloc(r->n, sizeof(*p->t));
	p->slots = calloc(r->n, sizeof(*p->slots));
	if (!p->t || !p->slots)
		return -ENOMEM;
	ret = rp_pool_create(&p->pool, NULL);
	if (ret < 0)
		return ret;
	/* Start its workers (lazily started) before the window, as the
	 * other peers' threads are. */
	for (unsigned i = 0; i < 16; i++)
		if ((ret = rp_post(p->pool, rpp_warm, &warm[i])) < 0)
			return ret;
	for (unsigned i = 0; i < 16; i++)
		event_wait(&warm[i]);
	for (unsigned i = 0; i < r->n; i++) {
		p->slots[i] = (struct slot){ r, i };
		ret = rp_timer_create(&p->t[i], p->pool, rpp_fn, &p->slots[i], NULL);
		if (ret < 0)
			return ret;
	}
	r->peer = p;
	return 0;
}

static int rpp_arm(struct run *r)
{
	struct rpp *p = r->peer;

	for (unsigned i = 0; i < r->n; i++) {
		int ret = rp_timer_set(p->t[i], r->due[i], 0, r->window_ns, RP_TIMER_ABS);

		if (ret < 0)
			return ret;
	}
	return 0;
}

static void rpp_finish(struct run *r)
{
	struct rpp *p = r->peer;

	for (unsigned i = 0; i < r->n; i++)
		rp_timer_close(p->t[i]);
	rp_pool_destroy(p->pool);
}

static const struct peer peer_ringpool = {
	"ringpool", "rp_timer_set(RP_TIMER_ABS) on a default pool; callbacks on its workers",
	true, NULL, rpp_prepare, rpp_arm, rpp_finish,
};

/* ------------------------------------------------------------- libuv */

#ifdef BENCH_HAVE_UV
struct uvp {
	uv_loop_t loop;
	uv_async_t async;
	uv_timer_t *t;
	struct run *r;
	pthread_t thread;
	struct event ready, armed;
	_Atomic bool stop;
};

static void uvp_fire(uv_timer_t *t)
{
	struct uvp *p = t->data;

	fired(p->r, (unsigned)(t - p->t));
}

/* On the loop thread: arm them all (libuv's loop is not thread-safe), or
 * stop.  uv_now() is the loop's cached time, in whole milliseconds rounded
 * down: a timeout of ceil(due) - now ms never runs early. */
static void uvp_async(uv_async_t *a)
{
	struct uvp *p = a->data;
	struct run *r = p->r;

	if (atomic_load(&p->stop)) {
		uv_stop(&p->loop);
		return;
	}
	uv_update_time(&p->loop);
	for (unsigned i = 0; i < r->n; i++) {
		uint64_t due_ms = (r->due[i] + MS - 1) / MS, now = uv_now(&p->loop);

		uv_timer_start(&p->t[i], uvp_fire, due_ms > now ? due_ms - now : 0, 0);
	}
	event_set(&p->armed);
}

static void *uvp_main(void *arg)
{
	struct uvp *p = arg;

	uv_loop_init(&p->loop);
	uv_async_init(&p->loop, &p->async, uvp_async);
	p->async.data = p;
	for (unsigned i = 0; i < p->r->n; i++) {
		uv_timer_init(&p->loop, &p->t[i]);
		p->t[i].data = p;
	}
	event_set(&p->ready);
	uv_run(&p->loop, UV_RUN_DEFAULT);
	return NULL;
}

static int uvp_prepare(struct run *r)
{
	struct uvp *p = calloc(1, sizeof(*p));

	if (!p || !(p->t = calloc(r->n, sizeof(*p->t))))
		return -ENOMEM;
	p->r = r;
	r->peer = p;
	if (pthread_create(&p->thread, NULL, uvp_main, p))
		return -EAGAIN;
	event_wait(&p->ready);
	return 0;
}

static int uvp_arm(struct run *r)
{
	struct uvp *p = r->peer;

	uv_async_send(&p->async);
	event_wait(&p->armed);
	return 0;
}

static void uvp_finish(struct run *r)
{
	struct uvp *p = r->peer;

	atomic_store(&p->stop, true);
	uv_async_send(&p->async);
	pthread_join(p->thread, NULL);
}

static char uvp_about[96];

static const struct peer peer_uv = {
	"libuv", uvp_about, false, NULL, uvp_prepare, uvp_arm, uvp_finish,
};
#endif

/* ------------------------------------------------------------- GLib */

#ifdef BENCH_HAVE_GLIB
struct glp {
	GMainContext *ctx;
	GMainLoop *loop;
	struct run *r;
	unsigned *idx;
	GThread *thread;
	struct event armed;
};

static struct glp *glp_self; /* one run per process */

static gboolean glp_fire_one(gpointer data)
{
	fired(glp_self->r, *(unsigned *)data);
	return G_SOURCE_REMOVE;
}

/* On the loop's thread.  g_timeout_source_new() counts from
 * g_get_monotonic_time() (CLOCK_MONOTONIC) in whole milliseconds: rounded
 * up from the due time, it never runs early. */
static gboolean glp_arm_cb(gpointer data)
{
	struct glp *p = data;
	struct run *r = p->r;

	for (unsigned i = 0; i < r->n; i++) {
		uint64_t now = now_ns();
		guint ms = r->due[i] > now ? (guint)((r->due[i] - now + MS - 1) / MS) : 0;
		GSource *s = g_timeout_source_new(ms);

		g_source_set_callback(s, glp_fire_one, &p->idx[i], NULL);
		g_source_attach(s, p->ctx);
		g_source_unref(s);
	}
	event_set(&p->armed);
	return G_SOURCE_REMOVE;
}

static gpointer glp_main(gpointer data)
{
	struct glp *p = data;

	g_main_context_push_thread_default(p->ctx);
	g_main_loop_run(p->loop);
	g_main_context_pop_thread_default(p->ctx);
	return NULL;
}

static int glp_prepare(struct run *r)
{
	struct glp *p = calloc(1, sizeof(*p));

	if (!p || !(p->idx = calloc(r->n, sizeof(*p->idx))))
		return -ENOMEM;
	for (unsigned i = 0; i < r->n; i++)
		p->idx[i] = i;
	p->r = r;
	p->ctx = g_main_context_new();
	p->loop = g_main_loop_new(p->ctx, FALSE);
	glp_self = p;
	r->peer = p;
	p->thread = g_thread_new("glib-loop", glp_main, p);
	return 0;
}

static int glp_arm(struct run *r)
{
	struct glp *p = r->peer;

	g_main_context_invoke(p->ctx, glp_arm_cb, p);
	event_wait(&p->armed);
	return 0;
}

static void glp_finish(struct run *r)
{
	struct glp *p = r->peer;

	g_main_loop_quit(p->loop);
	g_main_context_wakeup(p->ctx);
	g_thread_join(p->thread);
}

static char glp_about[96];

static const struct peer peer_glib = {
	"glib", glp_about, false, NULL, glp_prepare, glp_arm, glp_finish,
};
#endif

/* ------------------------------------------------------------- timerfd */

struct tfp {
	int ep;
	int *fd;
	struct run *r;
	pthread_t thread;
};

static const char *tfp_usable(unsigned n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return "getrlimit failed";
	if (rl.rlim_cur >= n + 64)
		return NULL;
	rl.rlim_cur = rl.rlim_max = rl.rlim_max > n + 64 ? rl.rlim_max : n + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		return "needs one descriptor per timer: RLIMIT_NOFILE cannot be raised";
	return NULL;
}

static void *tfp_main(void *arg)
{
	struct tfp *p = arg;
	struct epoll_event ev[256];

	while (atomic_load(&p->r->left)) {
		int k = epoll_wait(p->ep, ev, 256, -1);

		for (int j = 0; j < k; j++) {
			unsigned i = ev[j].data.u32;
			uint64_t x;

			if (i == UINT32_MAX)
				return NULL;
			if (read(p->fd[i], &x, sizeof(x)) == sizeof(x))
				fired(p->r, i);
		}
	}
	return NULL;
}

static int tfp_prepare(struct run *r)
{
	struct tfp *p = calloc(1, sizeof(*p));

	if (!p || !(p->fd = calloc(r->n, sizeof(*p->fd))))
		return -ENOMEM;
	p->r = r;
	p->ep = epoll_create1(EPOLL_CLOEXEC);
	if (p->ep < 0)
		return -errno;
	for (unsigned i = 0; i < r->n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

		p->fd[i] = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (p->fd[i] < 0 || epoll_ctl(p->ep, EPOLL_CTL_ADD, p->fd[i], &ev))
			return -errno;
	}
	r->peer = p;
	if (pthread_create(&p->thread, NULL, tfp_main, p))
		return -EAGAIN;
	return 0;
}

static int tfp_arm(struct run *r)
{
	struct tfp *p = r->peer;

	for (unsigned i = 0; i < r->n; i++) {
		struct itimerspec its = { .it_value = { (time_t)(r->due[i] / NS),
							(long)(r->due[i] % NS) } };

		if (timerfd_settime(p->fd[i], TFD_TIMER_ABSTIME, &its, NULL))
			return -errno;
	}
	return 0;
}

static void tfp_finish(struct run *r)
{
	struct tfp *p = r->peer;

	pthread_join(p->thread, NULL);
}

static const struct peer peer_timerfd = {
	"timerfd", "one timerfd per timer (TFD_TIMER_ABSTIME) in one epoll set, one thread",
	false, tfp_usable, tfp_prepare, tfp_arm, tfp_finish,
};

/* ------------------------------------------------------------- measuring */

struct usage {
	uint64_t cpu_ns, csw;
};

static struct usage usage_of(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (struct usage){
		((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * NS +
			((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000,
		(uint64_t)(ru.ru_nvcsw + ru.ru_nivcsw),
	};
}

/* The CPU time (ns) and context switches of this process's thread whose
 * name ends in @suffix (ringpool's event thread: "<pool>-ev"). */
static bool thread_usage(const char *suffix, struct usage *u)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	bool found = false;

	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		char path[300], buf[256];
		size_t ls = strlen(suffix), lb;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		buf[0] = 0;
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
		buf[strcspn(buf, "\n")] = 0;
		lb = strlen(buf);
		if (lb < ls || strcmp(buf + lb - ls, suffix))
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/schedstat", e->d_name);
		if ((f = fopen(path, "r"))) {
			unsigned long long run;

			found = fscanf(f, "%llu", &run) == 1;
			u->cpu_ns = run;
			fclose(f);
		}
		snprintf(path, sizeof(path), "/proc/self/task/%s/status", e->d_name);
		if (found && (f = fopen(path, "r"))) {
			unsigned long long v;

			u->csw = 0;
			while (fgets(buf, sizeof(buf), f))
				if (sscanf(buf, "voluntary_ctxt_switches: %llu", &v) == 1 ||
				    sscanf(buf, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
					u->csw += v;
			fclose(f);
		}
	}
	closedir(d);
	return found;
}

/* What one run sends its parent. */
struct result {
	int err;                 /* 0, or the negative errno of a failed call */
	uint64_t wakeups, cpu_ns, ev_wakeups, ev_cpu_ns;
	bool have_ev;
	int64_t p50, p99, max, min;
	unsigned early, armed_late;
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64*: the same due times for every peer */
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 0x2545f4914f6cdd1dull;
}

/* @random: the due times are uniform random, else evenly spaced. */
static void run_child(const struct peer *pe, unsigned n, uint64_t window, bool random,
		      struct result *res)
{
	struct run r = { .n = n, .window_ns = window };
	struct usage s0, m0, s1, m1, e0 = { 0 }, e1 = { 0 };
	uint64_t base;
	int ret;

	memset(res, 0, sizeof(*res));
	r.due = calloc(n, sizeof(*r.due));
	r.late = calloc(n, sizeof(*r.late));
	if (!r.due || !r.late) {
		res->err = -ENOMEM;
		return;
	}
	atomic_store(&r.left, n);
	if ((ret = pe->prepare(&r)) < 0) {
		res->err = ret;
		return;
	}
	base = now_ns() + LEAD_NS;
	for (unsigned i = 0; i < n; i++)
		r.due[i] = base + (random ? rnd() % NS : (uint64_t)i * NS / n);
	if ((ret = pe->arm(&r)) < 0) {
		res->err = ret;
		return;
	}
	res->armed_late = now_ns() > base;
	s0 = usage_of(RUSAGE_SELF);
	m0 = usage_of(RUSAGE_THREAD);
	res->have_ev = thread_usage("-ev", &e0);
	wait_all(&r);
	s1 = usage_of(RUSAGE_SELF);
	m1 = usage_of(RUSAGE_THREAD);
	if (res->have_ev && thread_usage("-ev", &e1)) {
		res->ev_cpu_ns = e1.cpu_ns - e0.cpu_ns;
		res->ev_wakeups = e1.csw - e0.csw;
	}
	res->cpu_ns = (s1.cpu_ns - s0.cpu_ns) - (m1.cpu_ns - m0.cpu_ns);
	res->wakeups = (s1.csw - s0.csw) - (m1.csw - m0.csw);
	pe->finish(&r);
	for (unsigned i = 0; i < n; i++)
		res->early += r.late[i] < 0;
	qsort(r.late, n, sizeof(*r.late), cmp_i64);
	res->min = r.late[0];
	res->p50 = r.late[n / 2];
	res->p99 = r.late[(size_t)n * 99 / 100];
	res->max = r.late[n - 1];
}

/* Run one configuration in a child process.  Return: 0, or -ETIMEDOUT /
 * -ECHILD (killed, crashed), or the run's own error. */
static int run_one(const struct peer *pe, unsigned n, uint64_t window, bool random,
		   struct result *res)
{
	int fd[2], st;
	pid_t pid;
	ssize_t got;

	if (pipe(fd))
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		close(fd[0]);
		alarm(RUN_LIMIT_S);
		run_child(pe, n, window, random, res);
		if (write(fd[1], res, sizeof(*res)) != sizeof(*res))
			_exit(2);
		_exit(0);
	}
	close(fd[1]);
	got = read(fd[0], res, sizeof(*res));
	close(fd[0]);
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st))
		return WTERMSIG(st) == SIGALRM ? -ETIMEDOUT : -ECHILD;
	if (got != sizeof(*res))
		return -ECHILD;
	return res->err;
}

/* ------------------------------------------------------------- latency */

/* One timer at a time: due 1 ms after it is set, set again from its own
 * callback; or a thread reading a timerfd set the same way. */
struct lat {
	rp_timer *t;
	int64_t *late;
	unsigned i, n;
	uint64_t due;
	struct event done;
};

static void lat_fn(void *arg, int res)
{
	struct lat *l = arg;

	(void)res;
	l->late[l->i++] = (int64_t)(now_ns() - l->due);
	if (l->i == l->n) {
		event_set(&l->done);
		return;
	}
	l->due = now_ns() + MS;
	rp_timer_set(l->t, l->due, 0, 0, RP_TIMER_ABS);
}

static int latency_child(bool bare, unsigned n, int64_t *out)
{
	struct lat l = { .n = n, .late = out };

	if (bare) {
		int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);

		if (fd < 0)
			return -errno;
		for (unsigned i = 0; i < n; i++) {
			uint64_t x, due = now_ns() + MS;
			struct itimerspec its = { .it_value = { (time_t)(due / NS),
								(long)(due % NS) } };

			timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
			if (read(fd, &x, sizeof(x)) != sizeof(x))
				return -errno;
			out[i] = (int64_t)(now_ns() - due);
		}
		close(fd);
		return 0;
	}

	rp_pool *pool;
	int ret = rp_pool_create(&pool, NULL);

	if (ret < 0 || (ret = rp_timer_create(&l.t, pool, lat_fn, &l, NULL)) < 0)
		return ret;
	l.due = now_ns() + MS;
	rp_timer_set(l.t, l.due, 0, 0, RP_TIMER_ABS);
	event_wait(&l.done);
	rp_timer_close(l.t);
	return rp_pool_destroy(pool);
}


/* Sorted latencies of @n wake-ups, from a child process. */
static int latency(bool bare, unsigned n, int64_t *out)
{
	size_t len = (size_t)n * sizeof(*out), got = 0;
	int fd[2], st, ret = 0;
	pid_t pid;

	if (pipe(fd))
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		close(fd[0]);
		alarm(RUN_LIMIT_S);
		ret = latency_child(bare, n, out);
		if (write(fd[1], &ret, sizeof(ret)) != sizeof(ret))
			_exit(2);
		for (size_t off = 0; !ret && off < len;) {
			ssize_t k = write(fd[1], (char *)out + off, len - off);

			if (k <= 0)
				_exit(2);
			off += (size_t)k;
		}
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], &ret, sizeof(ret)) != sizeof(ret))
		ret = -ECHILD;
	while (!ret && got < len) {
		ssize_t k = read(fd[0], (char *)out + got, len - got);

		if (k <= 0) {
			ret = -ECHILD;
			break;
		}
		got += (size_t)k;
	}
	close(fd[0]);
	waitpid(pid, &st, 0);
	if (!ret)
		qsort(out, n, sizeof(*out), cmp_i64);
	return ret;
}

/* ------------------------------------------------------------- report */

static const struct peer *const all_peers[] = {
	&peer_ringpool,
#ifdef BENCH_HAVE_UV
	&peer_uv,
#endif
#ifdef BENCH_HAVE_GLIB
	&peer_glib,
#endif
	&peer_timerfd,
};
#define NPEERS (sizeof(all_peers) / sizeof(all_peers[0]))

static FILE *out;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (out) {
		va_start(ap, fmt);
		vfprintf(out, fmt, ap);
		va_end(ap);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The median of some results, field by field (early callbacks and late
 * armings summed), and the range of the wake-ups and CPU. */
struct summary {
	struct result med;
	uint64_t wake_lo, wake_hi, cpu_lo, cpu_hi;
};

static uint64_t median_u(uint64_t *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

static int64_t median_i(int64_t *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	return v[n / 2];
}

static void summarise(const struct result *rs, unsigned reps, struct summary *s)
{
	uint64_t u[4][99];
	int64_t i[3][99];

	memset(s, 0, sizeof(*s));
	s->wake_lo = s->cpu_lo = UINT64_MAX;
	for (unsigned k = 0; k < reps; k++) {
		const struct result *r = &rs[k];

		u[0][k] = r->wakeups, u[1][k] = r->cpu_ns;
		u[2][k] = r->ev_wakeups, u[3][k] = r->ev_cpu_ns;
		i[0][k] = r->p50, i[1][k] = r->p99, i[2][k] = r->max;
		s->med.early += r->early;
		s->med.armed_late += r->armed_late;
		s->med.have_ev |= r->have_ev;
		s->wake_lo = r->wakeups < s->wake_lo ? r->wakeups : s->wake_lo;
		s->wake_hi = r->wakeups > s->wake_hi ? r->wakeups : s->wake_hi;
		s->cpu_lo = r->cpu_ns < s->cpu_lo ? r->cpu_ns : s->cpu_lo;
		s->cpu_hi = r->cpu_ns > s->cpu_hi ? r->cpu_ns : s->cpu_hi;
	}
	s->med.wakeups = median_u(u[0], reps);
	s->med.cpu_ns = median_u(u[1], reps);
	s->med.ev_wakeups = median_u(u[2], reps);
	s->med.ev_cpu_ns = median_u(u[3], reps);
	s->med.p50 = median_i(i[0], reps);
	s->med.p99 = median_i(i[1], reps);
	s->med.max = median_i(i[2], reps);
}

static const char *us(int64_t ns, char *buf)
{
	snprintf(buf, 24, "%.1f", (double)ns / 1e3);
	return buf;
}

static bool want_peer(const char *list, const char *name)
{
	size_t l = strlen(name);

	if (!list)
		return true;
	for (const char *p = list; (p = strstr(p, name)); p += l)
		if ((p == list || p[-1] == ',') && (p[l] == ',' || !p[l]))
			return true;
	return false;
}

static void usage(void)
{
	fprintf(stderr, "usage: timerbench [--n N] [--reps R] [--peers LIST] [--out FILE]\n");
	exit(2);
}

/*
 * The W6 table for @n timers: every peer (ringpool with a window of 10 ms
 * and of 0), then the targets judged against the best peer.
 * Return: true if every run went through.
 */
static bool w6_table(unsigned n, unsigned reps, const char *peers)
{
	struct summary rp10 = { 0 }, rp0 = { 0 };
	bool have_rp10 = false, have_rp0 = false, have_peer = false, ok = true;
	uint64_t best_cpu = UINT64_MAX;
	int64_t best_p99 = INT64_MAX;
	const char *best_cpu_name = "-", *best_p99_name = "-";

	say("\n## %u timers due at uniformly random times over 1 s\n\n", n);
	say("| peer | window | wake-ups | of which event thread | CPU ms | lateness p50 | p99 | "
	    "max | early |\n|---|---|---|---|---|---|---|---|---|\n");
	for (size_t p = 0; p < NPEERS; p++) {
		const struct peer *pe = all_peers[p];
		const char *why;

		if (!want_peer(peers, pe->name))
			continue;
		if (pe->usable && (why = pe->usable(n))) {
			say("| %s | - | skipped: %s | | | | | | |\n", pe->name, why);
			continue;
		}
		for (int w = 0; w < (pe->windowed ? 2 : 1); w++) {
			uint64_t window = pe->windowed && !w ? 10 * MS : 0;
			struct result rs[99];
			struct summary s;
			char b1[24], b2[24], b3[24], ev[48] = "-";
			int ret = 0;

			for (unsigned k = 0; k < reps && !ret; k++)
				ret = run_one(pe, n, window, true, &rs[k]);
			if (ret) {
				say("| %s | %s | failed: %s | | | | | | |\n", pe->name,
				    pe->windowed ? (window ? "10 ms" : "0") : "-", strerror(-ret));
				ok = false;
				continue;
			}
			summarise(rs, reps, &s);
			if (s.med.have_ev)
				snprintf(ev, sizeof(ev), "%" PRIu64, s.med.ev_wakeups);
			say("| %s | %s | %" PRIu64 " (%" PRIu64 "-%" PRIu64 ") | %s | %.1f "
			    "(%.1f-%.1f) | %s | %s | %s | %u |\n",
			    pe->name, pe->windowed ? (window ? "10 ms" : "0") : "-", s.med.wakeups,
			    s.wake_lo, s.wake_hi, ev, (double)s.med.cpu_ns / 1e6,
			    (double)s.cpu_lo / 1e6, (double)s.cpu_hi / 1e6, us(s.med.p50, b1),
			    us(s.med.p99, b2), us(s.med.max, b3), s.med.early);
			if (s.med.armed_late)
				say("| | | (arming ran past the first due time in %u runs) | | | | | | |\n",
				    s.med.armed_late);
			if (pe == &peer_ringpool) {
				if (window) {
					rp10 = s;
					have_rp10 = true;
				} else {
					rp0 = s;
					have_rp0 = true;
				}
			} else {
				have_peer = true;
				if (s.med.cpu_ns < best_cpu) {
					best_cpu = s.med.cpu_ns;
					best_cpu_name = pe->name;
				}
				if (s.med.p99 < best_p99) {
					best_p99 = s.med.p99;
					best_p99_name = pe->name;
				}
			}
		}
	}
	say("\n");
	if (have_rp10) {
		uint64_t cap = 120; /* 1.2 x (1 s / 10 ms) */

		say("Target, window 10 ms: wake-ups <= 1.2 x (1 s / 10 ms) = %" PRIu64 ": %" PRIu64
		    " (%s); the event thread's alone %" PRIu64 ".\n",
		    cap, rp10.med.wakeups, rp10.med.wakeups <= cap ? "met" : "missed",
		    rp10.med.ev_wakeups);
		if (have_peer)
			say("Target, window 10 ms: CPU <= 0.5 x the best peer's (%s, %.1f ms): "
			    "%.1f ms, %.2f x (%s).\n",
			    best_cpu_name, (double)best_cpu / 1e6, (double)rp10.med.cpu_ns / 1e6,
			    (double)rp10.med.cpu_ns / (double)best_cpu,
			    rp10.med.cpu_ns * 2 <= best_cpu ? "met" : "missed");
	}
	if (have_rp0 && have_peer)
		say("Target, window 0: lateness p99 <= the best peer's (%s, %.1f us): %.1f us "
		    "(%s).\n",
		    best_p99_name, (double)best_p99 / 1e3, (double)rp0.med.p99 / 1e3,
		    rp0.med.p99 <= best_p99 ? "met" : "missed");
	return ok;
}

int main(int argc, char **argv)
{
	static const unsigned sizes[] = { 10000, 100000 };
	const char *peers = NULL;
	unsigned n = 0, reps = 3, nlat = 2000;
	int failed = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--n") && i + 1 < argc)
			n = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--peers") && i + 1 < argc)
			peers = argv[++i];
		else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
			if (!(out = fopen(argv[++i], "w"))) {
				perror(argv[i]);
				return 2;
			}
		} else
			usage();
	}
	if (!reps || reps > 99)
		usage();
#ifdef BENCH_HAVE_UV
	snprintf(uvp_about, sizeof(uvp_about),
		 "libuv %s: uv_timer_start (ms) on one loop thread", uv_version_string());
#endif
#ifdef BENCH_HAVE_GLIB
	snprintf(glp_about, sizeof(glp_about),
		 "GLib %u.%u.%u: g_timeout_source_new (ms) on a GMainContext, one thread",
		 glib_major_version, glib_minor_version, glib_micro_version);
#endif

	say("# W6: timers\n\n");
	say("One-shot timers due at uniformly random times over 1 s, armed before the "
	    "window opens; %u repetitions, each in a process of its own; medians (range).  "
	    "Wake-ups: context switches of every thread but the waiting main one; CPU: "
	    "theirs, over the window.  Lateness: callback start minus due time, us; early: "
	    "callbacks that ran before their due time, summed over the repetitions.\n",
	    reps);
	for (size_t k = 0; k < 2; k++)
		if ((!n || n == sizes[k]) && !w6_table(sizes[k], reps, peers))
			failed = 1;
	if (n && n != sizes[0] && n != sizes[1] && !w6_table(n, reps, peers))
		failed = 1;

	if (want_peer(peers, "ringpool")) {
		static const unsigned rates[] = { 10000, 100000 };

		say("\n## The event thread's CPU per completion\n\n");
		say("ringpool: N timers due evenly over 1 s (N completions/s); the event "
		    "thread's CPU from its schedstat, the pool's from getrusage, per "
		    "completion; medians of %u.\n\n", reps);
		say("| completions/s | window | event thread ns/completion | pool ns/completion | "
		    "event-thread wake-ups | pool wake-ups | lateness p99 us |\n"
		    "|---|---|---|---|---|---|---|\n");
		for (size_t k = 0; k < 2; k++) {
			for (int w = 0; w < 2; w++) {
				uint64_t window = w ? 0 : 10 * MS;
				struct result rs[99];
				struct summary s;
				char b[24];
				int ret = 0;

				for (unsigned j = 0; j < reps && !ret; j++)
					ret = run_one(&peer_ringpool, rates[k], window, false, &rs[j]);
				if (ret) {
					say("| %u | %s | failed: %s | | | | |\n", rates[k],
					    window ? "10 ms" : "0", strerror(-ret));
					failed = 1;
					continue;
				}
				summarise(rs, reps, &s);
				say("| %u | %s | %.0f | %.0f | %" PRIu64 " | %" PRIu64 " | %s |\n",
				    rates[k], window ? "10 ms" : "0",
				    (double)s.med.ev_cpu_ns / rates[k],
				    (double)s.med.cpu_ns / rates[k], s.med.ev_wakeups,
				    s.med.wakeups, us(s.med.p99, b));
			}
		}

		int64_t *v = calloc(nlat, sizeof(*v));

		say("\n## One timer to its callback, against a bare timerfd\n\n");
		say("%u wake-ups one after another, each due 1 ms after it was set: a ringpool "
		    "timer (window 0) set again from its callback, against a thread blocked "
		    "in read() on a timerfd (TFD_TIMER_ABSTIME).  Lateness, us.\n\n", nlat);
		say("| path | p50 | p99 | max |\n|---|---|---|---|\n");
		for (int bare = 0; v && bare < 2; bare++) {
			char b1[24], b2[24], b3[24];
			int ret = latency(bare, nlat, v);

			if (ret) {
				say("| %s | failed: %s | | |\n", bare ? "timerfd" : "ringpool",
				    strerror(-ret));
				failed = 1;
				continue;
			}
			say("| %s | %s | %s | %s |\n",
			    bare ? "bare timerfd, read() in one thread" : "ringpool timer -> callback",
			    us(v[nlat / 2], b1), us(v[(size_t)nlat * 99 / 100], b2),
			    us(v[nlat - 1], b3));
		}
		free(v);
	}
	say("\nPeers:\n\n");
	for (size_t p = 0; p < NPEERS; p++)
		if (want_peer(peers, all_peers[p]->name))
			say("- %s: %s\n", all_peers[p]->name, all_peers[p]->about);
	if (out)
		fclose(out);
	return failed;
}
