/* SPDX-License-Identifier: MIT */
/*
 * check_watch.c - watch objects (lib/watch.c): descriptor readiness, futex
 * words and process exits as callbacks, with DESIGN's object rules (one
 * callback per arming unless a cancel wins, none after cancel or close
 * returns, close from the callback, no overlap, a synchronous cancel that
 * leaves the kernel no reference to the file, an arming thread that exits)
 * and behaviour 11 (a worker blocked uninterruptibly delays no other
 * object's callback), under both backends: io_uring (POLL_ADD,
 * FUTEX_WAIT on the event ring) and the portable port (epoll, futex_waitv
 * on a worker).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "../lib/internal.h"

#define T_LONG_MS 20000u
#define MS 1000000ull

struct rec {
	rp_watch *w;
	_Atomic unsigned calls;
	_Atomic int last, first;
	_Atomic int conc, peak;
	_Atomic uint64_t at;
	int drain_fd;              /* read a byte from it in the callback */
	unsigned sleep_ms;         /* hinted sleep in the callback */
	_Atomic bool close_self;   /* close the watch from its callback */
	_Atomic int self_ret;
};

static void rec_fn(void *arg, int res)
{
	struct rec *r = arg;
	int c = atomic_fetch_add(&r->conc, 1) + 1, p = atomic_load(&r->peak);
	char b;

	while (c > p && !atomic_compare_exchange_weak(&r->peak, &p, c))
		;
	if (atomic_load(&r->calls) == 0)
		atomic_store(&r->first, res);
	atomic_store(&r->last, res);
	atomic_store(&r->at, t_now_ns());
	if (r->drain_fd >= 0 && res > 0 && read(r->drain_fd, &b, 1) != 1) {
		/* spurious readiness is allowed */
	}
	if (r->sleep_ms) {
		rp_blocking_begin();
		t_sleep_ms(r->sleep_ms);
		rp_blocking_end();
	}
	atomic_fetch_sub(&r->conc, 1);
	atomic_fetch_add(&r->calls, 1);
	if (atomic_load(&r->close_self))
		atomic_store(&r->self_ret, rp_watch_close(r->w));
}

struct target {
	struct rec *r;
	unsigned n;
};

static bool reached(void *arg)
{
	struct target *t = arg;

	return atomic_load(&t->r->calls) >= t->n;
}

static void wait_calls(struct rec *r, unsigned n)
{
	struct target t = { r, n };

	ck_assert_msg(t_wait_until(reached, &t, T_LONG_MS), "%u of %u callbacks",
		      atomic_load(&r->calls), n);
}

static rp_watch *watch(rp_pool *pool, struct rec *r)
{
	rp_watch *w = NULL;

	r->drain_fd = r->drain_fd ? r->drain_fd : -1;
	ck_assert_int_eq(rp_watch_create(&w, pool, rec_fn, r, NULL), 0);
	r->w = w;
	return w;
}

static void rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	r->drain_fd = -1;
}

static void put_byte(int fd)
{
	ck_assert_int_eq(write(fd, "x", 1), 1);
}

/* ------------------------------------------------------------------ fd */

/* One callback per arming, with the ready events; none before. */
START_TEST(test_rp_watch_fd_ready)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r;
	rp_watch *w;
	int p[2];

	rec_init(&r);
	w = watch(pool, &r);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(rp_watch_fd(w, p[0], POLLIN, RP_INFINITE, 0), 0);
	t_sleep_ms(30);
	t_assert_u(atomic_load(&r.calls), ==, 0);
	put_byte(p[1]);
	wait_calls(&r, 1);
	t_sleep_ms(30);
	t_assert_u(atomic_load(&r.calls), ==, 1);
	ck_assert(atomic_load(&r.last) & POLLIN);
	ck_assert_int_eq(rp_watch_close(w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* REPEAT: a callback per readiness until cancelled; callbacks of one watch
 * never overlap, however slow. */
START_TEST(test_rp_watch_fd_repeat)
{
	rp_pool *pool = t_pool(4, 0, 0, 0);
	struct rec r;
	rp_watch *w;
	int p[2];

	rec_init(&r);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	r.drain_fd = p[0];
	r.sleep_ms = 3;
	w = watch(pool, &r);
	ck_assert_int_eq(rp_watch_fd(w, p[0], POLLIN, RP_INFINITE, RP_WATCH_REPEAT), 0);
	for (int i = 0; i < 20; i++)
		put_byte(p[1]);
	wait_calls(&r, 20);
	ck_assert_int_eq(rp_watch_wait(w, true), 0);
	t_assert_i(atomic_load(&r.peak), ==, 1);
	ck_assert_int_eq(rp_watch_close(w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* A timeout: -ETIMEDOUT, never early; a closed descriptor: -EBADF in the
 * callback, as the kernel would say. */
START_TEST(test_rp_watch_fd_timeout_and_badf)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r;
	rp_watch *w;
	uint64_t t0;
	int p[2], dead;

	rec_init(&r);
	w = watch(pool, &r);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	t0 = t_now_ns();
	ck_assert_int_eq(rp_watch_fd(w, p[0], POLLIN, 20 * MS, 0), 0);
	wait_calls(&r, 1);
	t_assert_i(atomic_load(&r.last), ==, -ETIMEDOUT);
	t_assert_u(atomic_load(&r.at), >=, t0 + 20 * MS);
	dead = dup(p[0]);
	close(dead);
	ck_assert_int_eq(rp_watch_fd(w, dead, POLLIN, RP_INFINITE, 0), 0);
	wait_calls(&r, 2);
	t_assert_i(atomic_load(&r.last), ==, -EBADF);
	ck_assert_int_eq(rp_watch_close(w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

/*
 * Object rule 5: once cancel returns, the kernel holds no reference to the
 * file.  The watch is the pipe's last reader: closing our read end after
 * the cancel must leave the pipe without readers (a write fails with
 * EPIPE), and no callback comes.
 */
START_TEST(test_rp_watch_cancel_releases_file)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r;
	rp_watch *w;
	int p[2];

	signal(SIGPIPE, SIG_IGN);
	rec_init(&r);
	w = watch(pool, &r);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(rp_watch_cancel(w), 0);
	ck_assert_int_eq(rp_watch_fd(w, p[0], POLLIN, RP_INFINITE, 0), 0);
	t_sleep_ms(10); /* in the kernel by now */
	ck_assert_int_eq(rp_watch_cancel(w), 1);
	close(p[0]);
	ck_assert_int_eq(write(p[1], "x", 1), -1);
	t_assert_i(errno, ==, EPIPE);
	t_sleep_ms(30);
	t_assert_u(atomic_load(&r.calls), ==, 0);
	ck_assert_int_eq(rp_watch_close(w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(p[1]);
}
END_TEST

/* A result queued behind a busy slot is dropped by cancel (1) and by
 * close; a repeating watch closes itself from its callback. */
START_TEST(test_rp_watch_cancel_queued_and_close)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct rec r1, r2, r3;
	rp_watch *w1, *w2, *w3;
	struct t_blocker b;
	int p[2];

	rec_init(&r1);
	rec_init(&r2);
	rec_init(&r3);
	w1 = watch(pool, &r1);
	w2 = watch(pool, &r2);
	w3 = watch(pool, &r3);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	put_byte(p[1]); /* always readable */
	t_blocker_start(pool, &b);
	ck_assert_int_eq(rp_watch_fd(w1, p[0], POLLIN, RP_INFINITE, 0), 0);
	ck_assert_int_eq(rp_watch_fd(w2, p[0], POLLIN, RP_INFINITE, 0), 0);
	t_sleep_ms(30); /* ready: their callbacks wait for the slot */
	ck_assert_int_eq(rp_watch_cancel(w1), 1);
	ck_assert_int_eq(rp_watch_close(w2), 0);
	atomic_store(&r3.close_self, true);
	atomic_store(&r3.self_ret, -1);
	ck_assert_int_eq(rp_watch_fd(w3, p[0], POLLIN, RP_INFINITE, RP_WATCH_REPEAT), 0);
	t_event_set(&b.release);
	wait_calls(&r3, 1);
	t_sleep_ms(30);
	t_assert_u(atomic_load(&r1.calls), ==, 0);
	t_assert_u(atomic_load(&r2.calls), ==, 0);
	t_assert_u(atomic_load(&r3.calls), ==, 1);
	t_assert_i(atomic_load(&r3.self_ret), ==, 0);
	ck_assert_int_eq(rp_watch_close(w1), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

static void *arm_and_exit(void *arg)
{
	struct rec *r = arg;

	ck_assert_int_eq(rp_watch_fd(r->w, r->drain_fd, POLLIN, RP_INFINITE, 0), 0);
	return NULL;
}

/* Object rule 6: armed by a thread that then exits, it still fires. */
START_TEST(test_rp_watch_fd_arming_thread_exits)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r;
	pthread_t th;
	int p[2];

	rec_init(&r);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	watch(pool, &r);
	r.drain_fd = p[0];
	ck_assert_int_eq(pthread_create(&th, NULL, arm_and_exit, &r), 0);
	pthread_join(th, NULL);
	t_sleep_ms(10);
	put_byte(p[1]);
	wait_calls(&r, 1);
	ck_assert(atomic_load(&r.last) & POLLIN);
	ck_assert_int_eq(rp_watch_close(r.w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* Behaviour 11: a worker blocked uninterruptibly (in vfork(), the child
 * sleeping 300 ms) delays no other object's callback. */
struct vf {
	rp_pool *pool;
	struct rec *r;
	int fd;
	_Atomic uint64_t returned;
};

static void vfork_fn(void *arg)
{
	struct vf *v = arg;
	pid_t pid;

	ck_assert_int_eq(rp_watch_fd(v->r->w, v->fd, POLLIN, RP_INFINITE, 0), 0);
	pid = vfork();
	if (pid == 0) {
		struct timespec ts = { 0, 300000000 };

		nanosleep(&ts, NULL);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	atomic_store(&v->returned, t_now_ns());
}

static bool vf_returned(void *arg)
{
	return atomic_load(&((struct vf *)arg)->returned) != 0;
}

START_TEST(test_rp_watch_fd_vfork_worker)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r;
	struct vf v = { .pool = pool, .r = &r };
	int p[2];

	rec_init(&r);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	watch(pool, &r);
	v.fd = p[0];
	ck_assert_int_eq(rp_post(pool, vfork_fn, &v), 0);
	t_sleep_ms(50); /* the worker is in vfork() */
	put_byte(p[1]);
	wait_calls(&r, 1);
	ck_assert(t_wait_until(vf_returned, &v, T_LONG_MS));
	/* The callback ran while the arming worker was still in vfork(). */
	t_assert_u(atomic_load(&r.at), <, atomic_load(&v.returned));
	ck_assert_int_eq(rp_watch_close(r.w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* ------------------------------------------------------------------ futex */

START_TEST(test_rp_watch_futex)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	static _Atomic uint32_t word;
	struct rec r;
	rp_watch *w;

	rec_init(&r);
	w = watch(pool, &r);
	atomic_store(&word, 0);
	/* Woken. */
	ck_assert_int_eq(rp_watch_futex(w, (const uint32_t *)&word, 0, RP_INFINITE, 0), 0);
	t_sleep_ms(30);
	t_assert_u(atomic_load(&r.calls), ==, 0);
	atomic_store(&word, 1);
	syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	wait_calls(&r, 1);
	t_assert_i(atomic_load(&r.last), ==, 0);
	/* The value differs already: at once, res 0. */
	ck_assert_int_eq(rp_watch_futex(w, (const uint32_t *)&word, 0, RP_INFINITE, 0), 0);
	wait_calls(&r, 2);
	t_assert_i(atomic_load(&r.last), ==, 0);
	/* A timeout. */
	ck_assert_int_eq(rp_watch_futex(w, (const uint32_t *)&word, 1, 20 * MS, 0), 0);
	wait_calls(&r, 3);
	t_assert_i(atomic_load(&r.last), ==, -ETIMEDOUT);
	/* Cancelled: 1, and no callback. */
	ck_assert_int_eq(rp_watch_futex(w, (const uint32_t *)&word, 1, RP_INFINITE, 0), 0);
	t_sleep_ms(10);
	ck_assert_int_eq(rp_watch_cancel(w), 1);
	syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	t_sleep_ms(30);
	t_assert_u(atomic_load(&r.calls), ==, 3);
	ck_assert_int_eq(rp_watch_close(w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* A process-shared word (RP_WATCH_SHARED), woken from another process;
 * RP_WATCH_REPEAT. */
START_TEST(test_rp_watch_futex_shared_repeat)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	_Atomic uint32_t *word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				      -1, 0);
	struct rec r;
	rp_watch *w;
	pid_t pid;

	ck_assert(word != MAP_FAILED);
	rec_init(&r);
	w = watch(pool, &r);
	atomic_store(word, 0);
	ck_assert_int_eq(rp_watch_futex(w, (const uint32_t *)word, 0, RP_INFINITE,
					RP_WATCH_SHARED | RP_WATCH_REPEAT),
			 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Three wake-ups, the value unchanged: the watch re-arms. */
		for (int i = 0; i < 3; i++) {
			struct timespec ts = { 0, 60000000 };

			nanosleep(&ts, NULL);
			syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
		}
		_exit(0);
	}
	wait_calls(&r, 3);
	waitpid(pid, NULL, 0);
	ck_assert_int_eq(rp_watch_wait(w, true), 0);
	t_assert_i(atomic_load(&r.peak), ==, 1);
	ck_assert_int_eq(rp_watch_close(w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	munmap((void *)word, 4096);
}
END_TEST

/* ------------------------------------------------------------------ pid */

static pid_t child(int status, unsigned ms)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		t_sleep_ms(ms);
		_exit(status);
	}
	return pid;
}

START_TEST(test_rp_watch_pid)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r;
	rp_watch *w;
	pid_t pid;
	int pidfd, st;

	rec_init(&r);
	w = watch(pool, &r);
	/* Reaped, with its status. */
	pid = child(7, 20);
	ck_assert_int_eq(rp_watch_pid(w, pid, RP_INFINITE, 0), 0);
	wait_calls(&r, 1);
	ck_assert(WIFEXITED(atomic_load(&r.last)));
	t_assert_i(WEXITSTATUS(atomic_load(&r.last)), ==, 7);
	ck_assert_int_eq(waitpid(pid, &st, WNOHANG), -1);
	t_assert_i(errno, ==, ECHILD);
	/* NOREAP, through a pidfd: still waitable afterwards. */
	pid = child(3, 20);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	ck_assert_int_ge(pidfd, 0);
	ck_assert_int_eq(rp_watch_pid(w, pidfd, RP_INFINITE, RP_WATCH_PIDFD | RP_WATCH_NOREAP), 0);
	wait_calls(&r, 2);
	t_assert_i(WEXITSTATUS(atomic_load(&r.last)), ==, 3);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	t_assert_i(WEXITSTATUS(st), ==, 3);
	close(pidfd);
	/* A timeout, then cancelled before the child exits. */
	pid = child(0, 300);
	ck_assert_int_eq(rp_watch_pid(w, pid, 20 * MS, 0), 0);
	wait_calls(&r, 3);
	t_assert_i(atomic_load(&r.last), ==, -ETIMEDOUT);
	ck_assert_int_eq(rp_watch_pid(w, pid, RP_INFINITE, 0), 0);
	ck_assert_int_eq(rp_watch_cancel(w), 1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	t_sleep_ms(20);
	t_assert_u(atomic_load(&r.calls), ==, 3);
	ck_assert_int_eq(rp_watch_close(w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* ------------------------------------------------------------------ wait, errors */

static void wait_own(void *arg, int res)
{
	struct rec *r = arg;

	(void)res;
	atomic_store(&r->self_ret, rp_watch_wait(r->w, false));
	atomic_fetch_add(&r->calls, 1);
}

START_TEST(test_rp_watch_wait_and_errors)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	rp_watch *sentinel = (rp_watch *)(uintptr_t)0x99, *w = sentinel, *own;
	static _Atomic uint32_t word;
	struct rec r, o;
	int p[2], st;
	pid_t pid;

	rec_init(&r);
	rec_init(&o);
	ck_assert_int_eq(rp_watch_create(NULL, pool, rec_fn, &r, NULL), -EINVAL);
	ck_assert_int_eq(rp_watch_create(&w, pool, NULL, &r, NULL), -EINVAL);
	ck_assert_ptr_eq(w, sentinel);
	w = watch(pool, &r);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(rp_watch_fd(NULL, p[0], POLLIN, RP_INFINITE, 0), -EINVAL);
	ck_assert_int_eq(rp_watch_fd(w, -1, POLLIN, RP_INFINITE, 0), -EINVAL);
	ck_assert_int_eq(rp_watch_fd(w, p[0], 1u << 30, RP_INFINITE, 0), -EINVAL);
	ck_assert_int_eq(rp_watch_fd(w, p[0], POLLIN, RP_INFINITE, RP_WATCH_SHARED), -EINVAL);
	ck_assert_int_eq(rp_watch_futex(w, NULL, 0, RP_INFINITE, 0), -EINVAL);
	ck_assert_int_eq(rp_watch_futex(w, (const uint32_t *)((char *)&word + 1), 0, RP_INFINITE, 0),
			 -EINVAL);
	ck_assert_int_eq(rp_watch_pid(w, getpid(), RP_INFINITE, RP_WATCH_REPEAT), -EINVAL);
	ck_assert_int_eq(rp_watch_pid(w, 0, RP_INFINITE, 0), -EINVAL);
	ck_assert_int_eq(rp_watch_cancel(NULL), -EINVAL);
	ck_assert_int_eq(rp_watch_wait(NULL, false), -EINVAL);
	ck_assert_int_eq(rp_watch_close(NULL), -EINVAL);
	t_assert_u(atomic_load(&r.calls), ==, 0);
	/* -EDEADLK from its own callback. */
	ck_assert_int_eq(rp_watch_create(&own, pool, wait_own, &o, NULL), 0);
	o.w = own;
	put_byte(p[1]);
	ck_assert_int_eq(rp_watch_fd(own, p[0], POLLIN, RP_INFINITE, 0), 0);
	wait_calls(&o, 1);
	t_assert_i(atomic_load(&o.self_ret), ==, -EDEADLK);
	ck_assert_int_eq(rp_watch_close(own), 0);
	/* An open watch keeps its pool; inherited across fork: -ECHILD. */
	ck_assert_int_eq(rp_pool_destroy(pool), -EBUSY);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(rp_watch_fd(w, p[0], POLLIN, RP_INFINITE, 0) == -ECHILD &&
		      rp_watch_cancel(w) == -ECHILD ? 0 : 1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	t_assert_i(WEXITSTATUS(st), ==, 0);
	ck_assert_int_eq(rp_watch_close(w), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

Suite *make_suite(void);
Suite *make_suite(void)
{
	Suite *s = suite_create("watch");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_watch_fd_ready);
	tcase_add_test(tc, test_rp_watch_fd_repeat);
	tcase_add_test(tc, test_rp_watch_fd_timeout_and_badf);
	tcase_add_test(tc, test_rp_watch_cancel_releases_file);
	tcase_add_test(tc, test_rp_watch_cancel_queued_and_close);
	tcase_add_test(tc, test_rp_watch_fd_arming_thread_exits);
	tcase_add_test(tc, test_rp_watch_fd_vfork_worker);
	tcase_add_test(tc, test_rp_watch_futex);
	tcase_add_test(tc, test_rp_watch_futex_shared_repeat);
	tcase_add_test(tc, test_rp_watch_pid);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_watch_wait_and_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return t_main(make_suite, true);
}
