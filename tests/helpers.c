/* SPDX-License-Identifier: MIT */
#include "config.h"

#include "helpers.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <limits.h>
#include <pthread.h>
#include <linux/futex.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *backend;

/* ------------------------------------------------------------------ watchdog */

/* From the white-box library (lib/debug.c); absent (NULL) in the public
 * one, whose internals are hidden. */
extern void rp__pools_dump(FILE *f) __attribute__((weak));
extern void rp__pools_progress(unsigned long long *completed, unsigned long long *waiting)
	__attribute__((weak));

static _Atomic int watchdog_tid;
static unsigned watchdog_first_s = 20; /* T_WATCHDOG_S, read before any fork */
static struct t_event watchdog_ready;

static void *watchdog_main(void *arg)
{
	unsigned first = watchdog_first_s;
	unsigned long long done = 0, waiting, last = ~0ULL;

	(void)arg;
	atomic_store(&watchdog_tid, t_gettid());
	t_event_set(&watchdog_ready);
	if (!first || !rp__pools_progress)
		return NULL;
	t_sleep_ms(first * 1000);
	for (;;) {
		rp__pools_progress(&done, &waiting);
		if (done == last && waiting) {
			fprintf(stderr, "watchdog: no callback completed for 5 s, %llu waiting:\n",
				waiting);
			rp__pools_dump(stderr);
			return NULL;
		}
		last = done;
		t_sleep_ms(5000);
	}
}

static pid_t runner;
static bool atfork_done;

/* In each forked test (Check forks one child per test), but not in the
 * children a test forks itself: a fork of a threaded process may not start
 * threads (TSan refuses, and the child rarely lives long).  The test goes
 * on once the thread is up and asleep: a test that forks must not catch
 * it half started (GCC 12's AddressSanitizer allocates for a new thread,
 * and a child forked meanwhile hung on the allocator's lock, copied held:
 * test_rp_pool_fork_child timed out once in CI). */
static void watchdog_start(void)
{
	pthread_t t;
	pthread_attr_t attr;

	if (getppid() != runner)
		return;
	atomic_store(&watchdog_tid, 0);
	memset(&watchdog_ready, 0, sizeof(watchdog_ready));
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (!pthread_create(&t, &attr, watchdog_main, NULL))
		t_event_wait(&watchdog_ready);
	pthread_attr_destroy(&attr);
}

const char *t_backend(void)
{
	return backend;
}

/* Can this process set up an io_uring at all?  (seccomp, sysctl, kernel) */
static bool uring_available(void)
{
	struct io_uring_params p;
	int fd;

	memset(&p, 0, sizeof(p));
	fd = (int)syscall(__NR_io_uring_setup, 2, &p);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int t_main(Suite *(*make)(void), bool both)
{
	static const char *const backends[] = { "uring", "futex" };
	int failed = 0, ran = 0;

	runner = getpid();
	/* Here, before any thread or fork: getenv() in the watchdog raced a
	 * test's setenv() (a SEGV in getenv under ASan, in CI). */
	if (getenv("T_WATCHDOG_S"))
		watchdog_first_s = (unsigned)atoi(getenv("T_WATCHDOG_S"));
	/* Once, though a program may run several suites. */
	if (!atfork_done) {
		pthread_atfork(NULL, NULL, watchdog_start);
		atfork_done = true;
	}
	if (!both) {
		SRunner *sr = srunner_create(make());

		srunner_run_all(sr, CK_NORMAL);
		failed = srunner_ntests_failed(sr);
		srunner_free(sr);
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;
	}
	for (size_t i = 0; i < 2; i++) {
		SRunner *sr;

		if (!strcmp(backends[i], "uring") && !uring_available()) {
			printf("io_uring is not available here: the uring pass is skipped\n");
			continue;
		}
		backend = backends[i];
		setenv("RINGPOOL_BACKEND", backend, 1);
		printf("== backend %s\n", backend);
		sr = srunner_create(make());
		srunner_run_all(sr, CK_NORMAL);
		failed += srunner_ntests_failed(sr);
		srunner_free(sr);
		ran++;
	}
	if (!ran)
		return T_SKIP;
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

rp_pool *t_pool(unsigned concurrency, unsigned min_threads, unsigned max_threads,
		unsigned idle_timeout_ms)
{
	struct rp_pool_opts o = {
		.concurrency = concurrency,
		.min_threads = min_threads,
		.max_threads = max_threads,
		.idle_timeout_ms = idle_timeout_ms,
		.name = "t",
	};
	rp_pool *pool = NULL;
	int ret = rp_pool_create(&pool, &o);

	ck_assert_msg(ret == 0, "rp_pool_create: %s", strerror(-ret));
	return pool;
}

uint64_t t_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void t_spin_us(unsigned us)
{
	uint64_t end = thread_cpu_ns() + (uint64_t)us * 1000u;

	while (thread_cpu_ns() < end)
		;
}

void t_busy_us(unsigned us)
{
	uint64_t end = t_now_ns() + (uint64_t)us * 1000u;

	while (t_now_ns() < end)
		;
}

void t_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

bool t_wait_until(bool (*cond)(void *arg), void *arg, unsigned ms)
{
	for (unsigned i = 0; i < ms; i++) {
		if (cond(arg))
			return true;
		t_sleep_ms(1);
	}
	return cond(arg);
}

void t_conc_enter(struct t_conc *c)
{
	int n = atomic_fetch_add(&c->now, 1) + 1;
	int p = atomic_load(&c->peak);

	while (n > p && !atomic_compare_exchange_weak(&c->peak, &p, n))
		;
}

void t_conc_leave(struct t_conc *c)
{
	atomic_fetch_sub(&c->now, 1);
}

static void futex_wait(_Atomic uint32_t *w, uint32_t v)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

void t_event_set(struct t_event *e)
{
	atomic_store(&e->v, 1);
	futex_wake_all(&e->v);
}

void t_event_wait(struct t_event *e)
{
	while (!atomic_load(&e->v))
		futex_wait(&e->v, 0);
}

bool t_event_is_set(struct t_event *e)
{
	return atomic_load(&e->v);
}

void t_latch_init(struct t_latch *l, unsigned n)
{
	atomic_init(&l->n, n);
}

void t_latch_done(struct t_latch *l)
{
	if (atomic_fetch_sub(&l->n, 1) == 1)
		futex_wake_all(&l->n);
}

void t_latch_wait(struct t_latch *l)
{
	uint32_t v;

	while ((v = atomic_load(&l->n)))
		futex_wait(&l->n, v);
}

void t_blocker_fn(void *arg)
{
	struct t_blocker *b = arg;

	t_event_set(&b->started);
	while (!t_event_is_set(&b->release))
		t_busy_us(50);
}

void t_blocker_start(rp_pool *pool, struct t_blocker *b)
{
	memset(b, 0, sizeof(*b));
	ck_assert_int_eq(rp_post(pool, t_blocker_fn, b), 0);
	t_event_wait(&b->started);
}

bool t_drop_privileges_to(unsigned uid)
{
	struct rlimit ml = { 64 * 1024, 64 * 1024 }, nf = { 1024, 1024 };

	if (setrlimit(RLIMIT_MEMLOCK, &ml) || setrlimit(RLIMIT_NOFILE, &nf))
		return false;
	if (geteuid() != 0)
		return true;
	/* The same as `setpriv --reuid=UID --regid=UID --clear-groups`:
	 * done in-process so the forked test keeps its Check channel. */
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
		return false;
	return geteuid() == uid;
}

bool t_drop_privileges(void)
{
	return t_drop_privileges_to(65534);
}

void t_dump(rp_pool *pool, const char *why)
{
	struct rp_stats st;

	if (rp_pool_stats(pool, &st)) {
		fprintf(stderr, "%s (no stats)\n", why);
		return;
	}
	fprintf(stderr,
		"%s: concurrency %u threads %u idle %u running %u blocked %u queued %llu "
		"completed %llu created %llu retired %llu hinted %llu detected %llu\n",
		why, st.concurrency, st.threads, st.idle, st.running, st.blocked, st.queued,
		st.completed, st.threads_created, st.threads_retired, st.blocks_hinted,
		st.blocks_detected);
}

unsigned long long t_others_switches(void)
{
	unsigned long long sum = 0;
	int me = t_gettid();
	struct dirent *d;
	DIR *dir = opendir("/proc/self/task");

	ck_assert_ptr_nonnull(dir);
	while ((d = readdir(dir))) {
		char path[300], line[128];
		FILE *f;

		if (d->d_name[0] == '.' || atoi(d->d_name) == me ||
		    atoi(d->d_name) == atomic_load(&watchdog_tid))
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			unsigned long long v;

			if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1 ||
			    sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
				sum += v;
		}
		fclose(f);
	}
	closedir(dir);
	return sum;
}

unsigned long long t_others_cpu_ms(void)
{
	unsigned long long sum = 0;
	long hz = sysconf(_SC_CLK_TCK);
	int me = t_gettid();
	struct dirent *d;
	DIR *dir = opendir("/proc/self/task");

	ck_assert_ptr_nonnull(dir);
	while ((d = readdir(dir))) {
		char path[300], buf[1024], *p;
		unsigned long long ut, st;
		FILE *f;

		if (d->d_name[0] == '.' || atoi(d->d_name) == me ||
		    atoi(d->d_name) == atomic_load(&watchdog_tid))
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		/* "tid (comm) state ..." utime and stime are fields 14 and
		 * 15; comm may hold spaces. */
		if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			   &st) == 2)
			sum += ut + st;
		fclose(f);
	}
	closedir(dir);
	return hz > 0 ? sum * 1000 / (unsigned long long)hz : sum * 10;
}

#if defined(__x86_64__)
#define T_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define T_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

bool t_seccomp_refuse(const long *nrs, int n, int err, bool tsync)
{
#ifdef T_AUDIT_ARCH
	struct sock_filter f[4 + 2 * 8 + 1];
	struct sock_fprog prog;
	int k = 0;

	if (n > 8)
		return false;
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, T_AUDIT_ARCH, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	for (int i = 0; i < n; i++) {
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nrs[i],
						      0, 1);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
						      SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA));
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog.len = (unsigned short)k;
	prog.filter = f;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return false;
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, tsync ? SECCOMP_FILTER_FLAG_TSYNC : 0,
		       &prog) == 0;
#else
	(void)nrs, (void)n, (void)err, (void)tsync;
	return false;
#endif
}

int t_gettid(void)
{
	return (int)syscall(SYS_gettid);
}
