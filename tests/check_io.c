/* SPDX-License-Identifier: MIT */
/*
 * check_io.c - I/O objects (lib/io.c): system calls that complete as
 * regulated callbacks, under both backends: the event ring (SQEs submitted
 * by the event thread) and the portable port (non-blocking calls and epoll
 * readiness; file calls in hinted blocks).  Files at offsets and at the
 * file position, vectors, fsync, openat/statx/closefd, a loopback TCP
 * exchange entirely through rp_io, timeouts, cancel (of a pending receive,
 * and racing its completion: exactly one of "no callback, data still in
 * the socket" and "one callback that took the data"), the arming thread
 * exiting, a worker in vfork() delaying no completion, close from the
 * callback, thousands of operations in flight, caller-made SQEs, and every
 * bad argument.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "../lib/internal.h"

#define T_LONG_MS 20000u
#define MS 1000000ull

struct rec {
	rp_io *io;
	_Atomic unsigned calls;
	_Atomic int last;
	_Atomic int conc, peak;
	_Atomic uint64_t at;
	_Atomic bool close_self;   /* close the object from its callback */
	_Atomic int self_ret;
	int (*next)(struct rec *r, int res); /* start the next operation, or not (-1) */
	void *ctx;
};

static void rec_fn(void *arg, int res)
{
	struct rec *r = arg;
	int c = atomic_fetch_add(&r->conc, 1) + 1, p = atomic_load(&r->peak);

	while (c > p && !atomic_compare_exchange_weak(&r->peak, &p, c))
		;
	atomic_store(&r->last, res);
	atomic_store(&r->at, t_now_ns());
	if (atomic_load(&r->close_self))
		atomic_store(&r->self_ret, rp_io_close(r->io));
	else if (r->next)
		r->next(r, res);
	atomic_fetch_sub(&r->conc, 1);
	atomic_fetch_add(&r->calls, 1);
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

	ck_assert_msg(t_wait_until(reached, &t, T_LONG_MS), "%u of %u callbacks (last res %d)",
		      atomic_load(&r->calls), n, atomic_load(&r->last));
}

static rp_io *mk(rp_pool *pool, struct rec *r)
{
	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(rp_io_create(&r->io, pool, rec_fn, r, NULL), 0);
	return r->io;
}

/* Wait for the callback of an operation started with @ret when @r had
 * @n callbacks.  Return: its res. */
static int done_wait(struct rec *r, unsigned n, int ret)
{
	ck_assert_msg(ret == 0, "the operation was refused: %d", ret);
	wait_calls(r, n + 1);
	return atomic_load(&r->last);
}

/* Start an operation with @call and wait for its callback: its res.  (The
 * count is taken before the call: the callback may come before it
 * returns.) */
#define done(r, call) ({ unsigned n_ = atomic_load(&(r)->calls); int ret_ = (call); \
			 done_wait((r), n_, ret_); })

static bool uring_port(rp_pool *pool)
{
	struct rp_port *port = atomic_load(&pool->port);

	return port && port->sqe_ok;
}

static int tmpfile_fd(void)
{
	char path[] = "/tmp/rp_io_XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	unlink(path);
	return fd;
}

/* ------------------------------------------------------------------ files */

START_TEST(test_rp_io_read_write_offsets_and_position)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r;
	rp_io *io = mk(pool, &r);
	int fd = tmpfile_fd();
	char buf[64];

	t_assert_i(done(&r, rp_io_write(io, fd, "hello", 5, 4096)), ==, 5);
	t_assert_i((int)lseek(fd, 0, SEEK_CUR), ==, 0); /* at an offset: no move */
	memset(buf, 0, sizeof(buf));
	t_assert_i(done(&r, rp_io_read(io, fd, buf, sizeof(buf), 4096)), ==, 5);
	ck_assert_str_eq(buf, "hello");
	/* At the file position, which each operation advances. */
	t_assert_i(done(&r, rp_io_write(io, fd, "abc", 3, -1)), ==, 3);
	t_assert_i(done(&r, rp_io_write(io, fd, "def", 3, -1)), ==, 3);
	t_assert_i((int)lseek(fd, 0, SEEK_CUR), ==, 6);
	lseek(fd, 2, SEEK_SET);
	memset(buf, 0, sizeof(buf));
	t_assert_i(done(&r, rp_io_read(io, fd, buf, 3, -1)), ==, 3);
	ck_assert_str_eq(buf, "cde");
	t_assert_i((int)lseek(fd, 0, SEEK_CUR), ==, 5);
	/* At the end: 0; on a descriptor closed already: -EBADF, in res. */
	t_assert_i(done(&r, rp_io_read(io, fd, buf, sizeof(buf), 1 << 20)), ==, 0);
	t_assert_i(done(&r, rp_io_read(io, 1000, buf, sizeof(buf), 0)), ==, -EBADF);
	t_assert_u(atomic_load(&r.peak), ==, 1);
	ck_assert_int_eq(rp_io_close(io), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(fd);
}
END_TEST

/* Vectors (the array is the object's copy: the caller's is scribbled on
 * at once), fsync and fdatasync. */
START_TEST(test_rp_io_vectors_and_fsync)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r;
	rp_io *io = mk(pool, &r);
	int fd = tmpfile_fd();
	char a[4], b[4], c[4], out[16] = { 0 };
	struct iovec v[3];

	v[0] = (struct iovec){ (char *)"one,", 4 };
	v[1] = (struct iovec){ (char *)"two,", 4 };
	v[2] = (struct iovec){ (char *)"six!", 4 };
	ck_assert_int_eq(rp_io_writev(io, fd, v, 3, 100), 0);
	memset(v, 0, sizeof(v));
	wait_calls(&r, 1);
	t_assert_i(atomic_load(&r.last), ==, 12);
	ck_assert_int_eq(pread(fd, out, 12, 100), 12);
	ck_assert_str_eq(out, "one,two,six!");
	v[0] = (struct iovec){ c, 4 };
	v[1] = (struct iovec){ b, 4 };
	v[2] = (struct iovec){ a, 4 };
	ck_assert_int_eq(rp_io_readv(io, fd, v, 3, 100), 0);
	memset(v, 0xff, sizeof(v));
	wait_calls(&r, 2);
	t_assert_i(atomic_load(&r.last), ==, 12);
	ck_assert(!memcmp(c, "one,", 4) && !memcmp(b, "two,", 4) && !memcmp(a, "six!", 4));
	t_assert_i(done(&r, rp_io_fsync(io, fd, 0)), ==, 0);
	t_assert_i(done(&r, rp_io_fsync(io, fd, RP_IO_DATASYNC)), ==, 0);
	t_assert_i(done(&r, rp_io_fsync(io, 1000, 0)), ==, -EBADF);
	ck_assert_int_eq(rp_io_close(io), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(fd);
}
END_TEST

/* openat (the path is the object's copy), statx, closefd. */
START_TEST(test_rp_io_openat_statx_closefd)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r;
	rp_io *io = mk(pool, &r);
	char dir[] = "/tmp/rp_io_dir_XXXXXX", path[PATH_MAX];
	struct statx stx;
	int dfd, fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	dfd = open(dir, O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dfd, 0);
	strcpy(path, "f");
	ck_assert_int_eq(rp_io_openat(io, dfd, path, O_CREAT | O_RDWR | O_CLOEXEC, 0600), 0);
	strcpy(path, "g"); /* the call copied it */
	wait_calls(&r, 1);
	fd = atomic_load(&r.last);
	ck_assert_int_ge(fd, 0);
	t_assert_i(fcntl(fd, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
	ck_assert_int_eq(write(fd, "12345", 5), 5);
	memset(&stx, 0, sizeof(stx));
	t_assert_i(done(&r, rp_io_statx(io, dfd, "f", 0, STATX_SIZE, &stx)), ==, 0);
	t_assert_u(stx.stx_size, ==, 5);
	t_assert_i(done(&r, rp_io_statx(io, dfd, "g", 0, STATX_SIZE, &stx)), ==, -ENOENT);
	t_assert_i(done(&r, rp_io_closefd(io, fd)), ==, 0);
	t_assert_i(fcntl(fd, F_GETFD), ==, -1);
	t_assert_i(done(&r, rp_io_openat(io, AT_FDCWD, "/nonexistent/x", O_RDONLY, 0)), ==,
		   -ENOENT);
	ck_assert_int_eq(rp_io_close(io), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	unlinkat(dfd, "f", 0);
	close(dfd);
	rmdir(dir);
}
END_TEST

/* ------------------------------------------------------------------ sockets */

static int listener(struct sockaddr_in *sa, bool nonblock)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);

	ck_assert_int_ge(fd, 0);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)sa, sizeof(*sa)), 0);
	ck_assert_int_eq(listen(fd, 64), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)sa, &len), 0);
	return fd;
}

/* A TCP exchange entirely through rp_io: accept, connect, send, recv,
 * sendmsg, recvmsg; with the descriptors in blocking and non-blocking
 * mode. */
static void tcp_exchange(bool nonblock)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec ra, rc;
	rp_io *acc = mk(pool, &ra), *con = mk(pool, &rc);
	struct sockaddr_in sa, peer;
	socklen_t plen = sizeof(peer);
	int lfd = listener(&sa, nonblock), cfd, sfd;
	char buf[32] = { 0 }, b1[3] = { 0 }, b2[5] = { 0 };
	struct iovec v[2] = { { b1, 3 }, { b2, 5 } };
	struct msghdr m = { .msg_iov = v, .msg_iovlen = 2 };
	struct iovec sv = { (char *)"vectored", 8 };
	struct msghdr sm = { .msg_iov = &sv, .msg_iovlen = 1 };

	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	ck_assert_int_ge(cfd, 0);
	ck_assert_int_eq(rp_io_accept(acc, lfd, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC), 0);
	t_sleep_ms(10); /* the accept waits */
	t_assert_u(atomic_load(&ra.calls), ==, 0);
	t_assert_i(done(&rc, rp_io_connect(con, cfd, (struct sockaddr *)&sa, sizeof(sa))), ==, 0);
	wait_calls(&ra, 1);
	sfd = atomic_load(&ra.last);
	ck_assert_msg(sfd >= 0, "accept: %d", sfd);
	t_assert_i(peer.sin_family, ==, AF_INET);
	t_assert_u(plen, ==, sizeof(peer));
	/* A receive that waits, then the send that satisfies it. */
	ck_assert_int_eq(rp_io_recv(acc, sfd, buf, sizeof(buf), 0), 0);
	t_sleep_ms(10);
	t_assert_u(atomic_load(&ra.calls), ==, 1);
	t_assert_i(done(&rc, rp_io_send(con, cfd, "ping", 4, MSG_NOSIGNAL)), ==, 4);
	wait_calls(&ra, 2);
	t_assert_i(atomic_load(&ra.last), ==, 4);
	ck_assert_str_eq(buf, "ping");
	t_assert_i(done(&rc, rp_io_sendmsg(con, cfd, &sm, MSG_NOSIGNAL)), ==, 8);
	t_assert_i(done(&ra, rp_io_recvmsg(acc, sfd, &m, MSG_WAITALL)), ==, 8);
	ck_assert(!memcmp(b1, "vec", 3) && !memcmp(b2, "tored", 5));
	/* MSG_DONTWAIT: the caller's own, so -EAGAIN comes back. */
	t_assert_i(done(&ra, rp_io_recv(acc, sfd, buf, sizeof(buf), MSG_DONTWAIT)), ==, -EAGAIN);
	/* The peer closes: 0.  Sends to it fail in res, and never raise
	 * SIGPIPE (left at its default, it would end this process). */
	close(cfd);
	t_assert_i(done(&ra, rp_io_recv(acc, sfd, buf, sizeof(buf), 0)), ==, 0);
	signal(SIGPIPE, SIG_DFL);
	{
		int res = 0;

		for (int i = 0; i < 10 && res >= 0; i++)
			res = done(&ra, rp_io_send(acc, sfd, "late", 4, 0));
		ck_assert_msg(res == -EPIPE || res == -ECONNRESET, "send to a closed peer: %d", res);
	}
	ck_assert_int_eq(rp_io_close(acc), 0);
	ck_assert_int_eq(rp_io_close(con), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(sfd);
	close(lfd);
}

START_TEST(test_rp_io_tcp_exchange)
{
	tcp_exchange(false);
}
END_TEST

START_TEST(test_rp_io_tcp_exchange_nonblocking)
{
	tcp_exchange(true);
}
END_TEST

/* A connection refused comes back in res. */
START_TEST(test_rp_io_connect_refused)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r;
	rp_io *io = mk(pool, &r);
	struct sockaddr_in sa;
	int lfd = listener(&sa, false), fd;

	close(lfd); /* nobody listens on that port now */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	t_assert_i(done(&r, rp_io_connect(io, fd, (struct sockaddr *)&sa, sizeof(sa))), ==,
		   -ECONNREFUSED);
	ck_assert_int_eq(rp_io_close(io), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(fd);
}
END_TEST

/* ------------------------------------------------------------------ timeouts, cancel */

START_TEST(test_rp_io_timeout)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r;
	rp_io *io = mk(pool, &r);
	int sv[2];
	char buf[8];
	uint64_t t0;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(rp_io_set_timeout(io, 50 * MS), 0);
	t0 = t_now_ns();
	t_assert_i(done(&r, rp_io_recv(io, sv[0], buf, sizeof(buf), 0)), ==, -ETIMEDOUT);
	ck_assert_msg(atomic_load(&r.at) - t0 >= 50 * MS, "timed out after %llu ns",
		      (unsigned long long)(atomic_load(&r.at) - t0));
	/* The timed-out receive took nothing; the next one gets the data. */
	ck_assert_int_eq(write(sv[1], "ab", 2), 2);
	t_assert_i(done(&r, rp_io_recv(io, sv[0], buf, sizeof(buf), 0)), ==, 2);
	/* Back to none: a receive waits past the old timeout. */
	ck_assert_int_eq(rp_io_set_timeout(io, RP_INFINITE), 0);
	ck_assert_int_eq(rp_io_recv(io, sv[0], buf, sizeof(buf), 0), 0);
	t_sleep_ms(120);
	t_assert_u(atomic_load(&r.calls), ==, 2);
	ck_assert_int_eq(write(sv[1], "c", 1), 1);
	wait_calls(&r, 3);
	t_assert_i(atomic_load(&r.last), ==, 1);
	ck_assert_int_eq(rp_io_close(io), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Cancel of a pending receive: 0, no callback ever, and the buffer and
 * the data are the caller's (the data is still in the socket). */
START_TEST(test_rp_io_cancel_pending_recv)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct rec r;
	rp_io *io = mk(pool, &r);
	struct t_blocker b;
	char buf[8] = { 0 };
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	t_assert_i(rp_io_cancel(io), ==, -ENOENT);
	ck_assert_int_eq(rp_io_recv(io, sv[0], buf, sizeof(buf), 0), 0);
	t_assert_i(rp_io_recv(io, sv[0], buf, sizeof(buf), 0), ==, -EBUSY);
	t_sleep_ms(10);
	t_assert_i(rp_io_cancel(io), ==, 0);
	t_assert_i(rp_io_cancel(io), ==, -ENOENT);
	ck_assert_int_eq(write(sv[1], "xy", 2), 2);
	t_sleep_ms(30);
	t_assert_u(atomic_load(&r.calls), ==, 0);
	t_assert_i(recv(sv[0], buf, sizeof(buf), MSG_DONTWAIT), ==, 2);
	/* Data there, the slot busy.  The event ring completes the receive
	 * at once and its callback waits for the slot: -EALREADY, and it
	 * runs.  The portable port's call waits for the slot too: the
	 * cancel stops it before it starts (0), and the byte stays. */
	t_blocker_start(pool, &b);
	ck_assert_int_eq(write(sv[1], "z", 1), 1);
	ck_assert_int_eq(rp_io_recv(io, sv[0], buf, sizeof(buf), 0), 0);
	t_sleep_ms(30);
	if (uring_port(pool)) {
		t_assert_i(rp_io_cancel(io), ==, -EALREADY);
		t_event_set(&b.release);
		wait_calls(&r, 1);
		t_assert_i(atomic_load(&r.last), ==, 1);
	} else {
		t_assert_i(rp_io_cancel(io), ==, 0);
		t_event_set(&b.release);
		t_sleep_ms(30);
		t_assert_u(atomic_load(&r.calls), ==, 0);
		t_assert_i(recv(sv[0], buf, sizeof(buf), MSG_DONTWAIT), ==, 1);
	}
	ck_assert_int_eq(rp_io_close(io), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

struct racer {
	int fd;
	struct t_event go;
};

static void *write_one(void *arg)
{
	struct racer *rc = arg;

	t_event_wait(&rc->go);
	if (write(rc->fd, "q", 1) != 1)
		abort();
	return NULL;
}

/* Cancel racing the completion: either the cancel won (0: no callback,
 * the byte still in the socket) or the receive did (-EALREADY, or
 * -ENOENT if its callback had started already: one callback, which got
 * the byte) -- never both, never neither. */
START_TEST(test_rp_io_cancel_races_completion)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r;
	rp_io *io = mk(pool, &r);
	unsigned won = 0, lost = 0;
	char buf[4];
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	for (int i = 0; i < 300; i++) {
		struct racer rc = { .fd = sv[1] };
		unsigned before = atomic_load(&r.calls);
		pthread_t th;
		int ret;

		memset(&rc.go, 0, sizeof(rc.go));
		ck_assert_int_eq(rp_io_recv(io, sv[0], buf, 1, 0), 0);
		ck_assert_int_eq(pthread_create(&th, NULL, write_one, &rc), 0);
		if (i & 1)
			t_spin_us(20);
		t_event_set(&rc.go);
		t_spin_us((unsigned)(i % 7) * 10);
		ret = rp_io_cancel(io);
		pthread_join(th, NULL);
		ck_assert_int_eq(rp_io_wait(io, false), 0);
		if (ret == 0) {
			won++;
			t_assert_u(atomic_load(&r.calls), ==, before);
			t_assert_i(recv(sv[0], buf, 1, MSG_DONTWAIT), ==, 1);
		} else {
			lost++;
			ck_assert_msg(ret == -EALREADY || ret == -ENOENT, "cancel: %d", ret);
			t_assert_u(atomic_load(&r.calls), ==, before + 1);
			t_assert_i(atomic_load(&r.last), ==, 1);
			t_assert_i(recv(sv[0], buf, 1, MSG_DONTWAIT), ==, -1);
		}
	}
	fprintf(stderr, "  cancel won %u, completion won %u (%s)\n", won, lost, t_backend());
	ck_assert_int_eq(rp_io_close(io), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* ------------------------------------------------------------------ object rules */

static void *arm_and_exit(void *arg)
{
	struct rec *r = arg;
	static char buf[8];

	ck_assert_int_eq(rp_io_recv(r->io, (int)(intptr_t)r->ctx, buf, sizeof(buf), 0), 0);
	return NULL;
}

/* Object rule 6: an operation started by a thread that then exits still
 * completes. */
START_TEST(test_rp_io_arming_thread_exits)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r;
	pthread_t th;
	int sv[2];

	mk(pool, &r);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	r.ctx = (void *)(intptr_t)sv[0];
	ck_assert_int_eq(pthread_create(&th, NULL, arm_and_exit, &r), 0);
	pthread_join(th, NULL);
	t_sleep_ms(10);
	ck_assert_int_eq(write(sv[1], "abc", 3), 3);
	wait_calls(&r, 1);
	t_assert_i(atomic_load(&r.last), ==, 3);
	ck_assert_int_eq(rp_io_close(r.io), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A worker blocked uninterruptibly (in vfork(), the child sleeping until
 * we let it go) delays no completion. */
struct vf {
	struct rec *r;
	int fd, gate;
	char buf[8];
	_Atomic bool in_vfork;
};

static void vfork_fn(void *arg)
{
	struct vf *v = arg;
	pid_t pid;

	ck_assert_int_eq(rp_io_recv(v->r->io, v->fd, v->buf, sizeof(v->buf), 0), 0);
	atomic_store(&v->in_vfork, true);
	pid = vfork();
	if (pid == 0) {
		char c;

		/* The parent waits in vfork() until this child exits. */
		if (read(v->gate, &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
}

static bool in_vfork(void *arg)
{
	return atomic_load(&((struct vf *)arg)->in_vfork);
}

START_TEST(test_rp_io_vfork_worker)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r;
	struct vf v = { .r = &r };
	int sv[2], gate[2];

	mk(pool, &r);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(pipe2(gate, O_CLOEXEC), 0);
	v.fd = sv[0];
	v.gate = gate[0];
	ck_assert_int_eq(rp_post(pool, vfork_fn, &v), 0);
	ck_assert(t_wait_until(in_vfork, &v, T_LONG_MS));
	t_sleep_ms(20);
	ck_assert_int_eq(write(sv[1], "hi", 2), 2);
	wait_calls(&r, 1); /* while the worker that started it is in vfork() */
	t_assert_i(atomic_load(&r.last), ==, 2);
	ck_assert_int_eq(write(gate[1], "g", 1), 1);
	ck_assert_int_eq(rp_io_wait(r.io, false), 0);
	ck_assert_int_eq(rp_io_close(r.io), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(sv[0]);
	close(sv[1]);
	close(gate[0]);
	close(gate[1]);
}
END_TEST

/* Close from the object's own callback; close with an operation pending
 * (no callback, 0) and with a completed callback waiting for a slot
 * (dropped). */
START_TEST(test_rp_io_close_from_callback_and_pending)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct rec r1, r2, r3;
	struct t_blocker b;
	char b1[4], b2[4], b3[4];
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	mk(pool, &r1);
	mk(pool, &r2);
	mk(pool, &r3);
	atomic_store(&r1.close_self, true);
	atomic_store(&r1.self_ret, -1);
	ck_assert_int_eq(write(sv[1], "a", 1), 1);
	ck_assert_int_eq(rp_io_recv(r1.io, sv[0], b1, 1, 0), 0);
	wait_calls(&r1, 1);
	t_assert_i(atomic_load(&r1.self_ret), ==, 0);
	/* Pending: closed, nothing comes. */
	ck_assert_int_eq(rp_io_recv(r2.io, sv[0], b2, 1, 0), 0);
	t_sleep_ms(10);
	ck_assert_int_eq(rp_io_close(r2.io), 0);
	/* Completed behind a busy slot: closed, dropped. */
	t_blocker_start(pool, &b);
	ck_assert_int_eq(write(sv[1], "b", 1), 1);
	ck_assert_int_eq(rp_io_recv(r3.io, sv[0], b3, 1, 0), 0);
	t_sleep_ms(30);
	ck_assert_int_eq(rp_io_close(r3.io), 0);
	t_event_set(&b.release);
	t_sleep_ms(30);
	t_assert_u(atomic_load(&r2.calls), ==, 0);
	t_assert_u(atomic_load(&r3.calls), ==, 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A chain started from callbacks, as a connection runs: each callback
 * starts the next operation; no two callbacks of the object overlap. */
struct chain {
	int fd;
	char buf[4];
	_Atomic unsigned left;
};

static int chain_next(struct rec *r, int res)
{
	struct chain *c = r->ctx;

	if (res != 1 || atomic_fetch_sub(&c->left, 1) <= 1)
		return -1;
	return rp_io_read(r->io, c->fd, c->buf, 1, -1);
}

START_TEST(test_rp_io_chain_from_callbacks)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r;
	struct chain c = { .left = 200 };
	int p[2];
	char data[200];

	mk(pool, &r);
	r.next = chain_next;
	r.ctx = &c;
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	c.fd = p[0];
	memset(data, 'k', sizeof(data));
	ck_assert_int_eq(rp_io_read(r.io, p[0], c.buf, 1, -1), 0);
	ck_assert_int_eq(write(p[1], data, sizeof(data)), (int)sizeof(data));
	wait_calls(&r, 200);
	t_assert_u(atomic_load(&r.peak), ==, 1);
	ck_assert_int_eq(rp_io_wait(r.io, false), 0);
	ck_assert_int_eq(rp_io_close(r.io), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* A chain of reads served at once (a cached file, from the callbacks)
 * makes way for other work: a task posted while it runs starts long
 * before the chain ends, on a pool of one slot.  The chain posts the
 * task itself, from its first callback: posted from the test thread,
 * the task could come after a chain that had already run to its end
 * while the thread was preempted (seen in CI, as nobody). */
struct fchain {
	rp_pool *pool;
	int fd;
	_Atomic int post_ret;       /* rp_post's answer, 1 until asked */
	char buf[64];
	_Atomic unsigned done;
	_Atomic unsigned seen_at;   /* chain length when the other task ran */
};

static void note_chain(void *arg);

static int fchain_next(struct rec *r, int res)
{
	struct fchain *c = r->ctx;
	unsigned n = atomic_fetch_add(&c->done, 1) + 1;

	if (res != 64 || n >= 2000)
		return -1;
	if (n == 1)
		c->post_ret = rp_post(c->pool, note_chain, c);
	return rp_io_read(r->io, c->fd, c->buf, sizeof(c->buf), (int64_t)(n % 64) * 64);
}

static void note_chain(void *arg)
{
	struct fchain *c = arg;

	atomic_store(&c->seen_at, atomic_load(&c->done) + 1);
}

static bool seen(void *arg)
{
	return atomic_load(&((struct fchain *)arg)->seen_at) != 0;
}

START_TEST(test_rp_io_chain_makes_way)
{
	rp_pool *pool = t_pool(1, 0, 0, 0);
	struct fchain c = { .pool = pool, .post_ret = 1 };
	struct rec r;
	char page[4096];

	c.fd = tmpfile_fd();
	memset(page, 'c', sizeof(page));
	ck_assert_int_eq(pwrite(c.fd, page, sizeof(page), 0), (int)sizeof(page));
	mk(pool, &r);
	r.next = fchain_next;
	r.ctx = &c;
	ck_assert_int_eq(rp_io_read(r.io, c.fd, c.buf, sizeof(c.buf), 0), 0);
	ck_assert_msg(t_wait_until(seen, &c, T_LONG_MS),
		      "the posted task never ran: rp_post said %d, %u reads done",
		      atomic_load(&c.post_ret), atomic_load(&c.done));
	wait_calls(&r, 2000);
	/* The chain yields every 16 callbacks (IO_QUANTUM); 500 is generous. */
	ck_assert_msg(atomic_load(&c.seen_at) - 1 < 500,
		      "the posted task waited on the chain: ran after %u of 2000 reads",
		      atomic_load(&c.seen_at) - 1);
	ck_assert_int_eq(rp_io_wait(r.io, false), 0);
	ck_assert_int_eq(rp_io_close(r.io), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(c.fd);
}
END_TEST

/* Thousands in flight: 3,000 file reads and 500 receives waiting on 50
 * socket pairs, all complete with the right results. */
#define N_FILE 3000
#define N_SOCK 500
#define N_PAIRS 50

static struct rec many[N_FILE + N_SOCK];
static unsigned char many_buf[N_FILE + N_SOCK][8];

START_TEST(test_rp_io_thousands_in_flight)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	int fd = tmpfile_fd(), sv[N_PAIRS][2];
	unsigned char page[4096];

	for (unsigned i = 0; i < sizeof(page); i++)
		page[i] = (unsigned char)i;
	for (int k = 0; k < 16; k++)
		ck_assert_int_eq(pwrite(fd, page, sizeof(page), k * 4096), 4096);
	for (int i = 0; i < N_PAIRS; i++)
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[i]), 0);
	for (int i = 0; i < N_FILE + N_SOCK; i++)
		mk(pool, &many[i]);
	for (int i = 0; i < N_FILE; i++)
		ck_assert_int_eq(rp_io_read(many[i].io, fd, many_buf[i], 8, (i * 8) % 65536), 0);
	for (int i = N_FILE; i < N_FILE + N_SOCK; i++)
		ck_assert_int_eq(rp_io_recv(many[i].io, sv[i % N_PAIRS][0], many_buf[i], 1, 0), 0);
	t_sleep_ms(20);
	for (int i = 0; i < N_PAIRS; i++) {
		unsigned char d[N_SOCK / N_PAIRS];

		memset(d, 'm', sizeof(d));
		ck_assert_int_eq(write(sv[i][1], d, sizeof(d)), (int)sizeof(d));
	}
	for (int i = 0; i < N_FILE + N_SOCK; i++) {
		int want = i < N_FILE ? 8 : 1;

		wait_calls(&many[i], 1);
		ck_assert_msg(atomic_load(&many[i].last) == want, "op %d: res %d", i,
			      atomic_load(&many[i].last));
		if (i < N_FILE)
			t_assert_u(many_buf[i][0], ==, (unsigned char)((i * 8) % 4096));
		else
			t_assert_u(many_buf[i][0], ==, 'm');
		ck_assert_int_eq(rp_io_close(many[i].io), 0);
	}
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	for (int i = 0; i < N_PAIRS; i++) {
		close(sv[i][0]);
		close(sv[i][1]);
	}
	close(fd);
}
END_TEST

/* ------------------------------------------------------------------ caller-made SQEs */

START_TEST(test_rp_io_submit_sqe)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	struct rec r;
	rp_io *io = mk(pool, &r);
	struct io_uring_sqe sqe;
	char buf[8] = { 0 };
	int p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	memset(&sqe, 0, sizeof(sqe));
	io_uring_prep_nop(&sqe);
	if (!uring_port(pool)) {
		t_assert_i(rp_io_submit_sqe(io, &sqe, sizeof(sqe)), ==, -EOPNOTSUPP);
		goto out;
	}
	sqe.user_data = 0xdeadbeef; /* ignored */
	t_assert_i(done(&r, rp_io_submit_sqe(io, &sqe, sizeof(sqe))), ==, 0);
	/* A read prepared by the caller. */
	memset(&sqe, 0, sizeof(sqe));
	io_uring_prep_read(&sqe, p[0], buf, sizeof(buf), 0);
	ck_assert_int_eq(rp_io_submit_sqe(io, &sqe, sizeof(sqe)), 0);
	ck_assert_int_eq(write(p[1], "sqe", 3), 3);
	wait_calls(&r, 2);
	t_assert_i(atomic_load(&r.last), ==, 3);
	ck_assert_str_eq(buf, "sqe");
	/* An opcode no kernel has: the kernel's -EINVAL, in res. */
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = 250;
	t_assert_i(done(&r, rp_io_submit_sqe(io, &sqe, sizeof(sqe))), ==, -EINVAL);
	/* Refused at the call. */
	memset(&sqe, 0, sizeof(sqe));
	io_uring_prep_nop(&sqe);
	t_assert_i(rp_io_submit_sqe(io, &sqe, 63), ==, -EINVAL);
	t_assert_i(rp_io_submit_sqe(io, NULL, 64), ==, -EINVAL);
	sqe.flags = IOSQE_IO_LINK;
	t_assert_i(rp_io_submit_sqe(io, &sqe, sizeof(sqe)), ==, -EINVAL);
	sqe.flags = IOSQE_FIXED_FILE;
	t_assert_i(rp_io_submit_sqe(io, &sqe, sizeof(sqe)), ==, -EINVAL);
	sqe.flags = IOSQE_CQE_SKIP_SUCCESS;
	t_assert_i(rp_io_submit_sqe(io, &sqe, sizeof(sqe)), ==, -EINVAL);
	sqe.flags = 0;
	sqe.personality = 1;
	t_assert_i(rp_io_submit_sqe(io, &sqe, sizeof(sqe)), ==, -EINVAL);
	memset(&sqe, 0, sizeof(sqe));
	io_uring_prep_cancel64(&sqe, 1, 0);
	t_assert_i(rp_io_submit_sqe(io, &sqe, sizeof(sqe)), ==, -EOPNOTSUPP);
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = IORING_OP_MSG_RING;
	t_assert_i(rp_io_submit_sqe(io, &sqe, sizeof(sqe)), ==, -EOPNOTSUPP);
	memset(&sqe, 0, sizeof(sqe));
	io_uring_prep_poll_multishot(&sqe, p[0], POLLIN);
	t_assert_i(rp_io_submit_sqe(io, &sqe, sizeof(sqe)), ==, -EOPNOTSUPP);
	t_assert_u(atomic_load(&r.calls), ==, 3);
out:
	ck_assert_int_eq(rp_io_close(io), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* ------------------------------------------------------------------ errors */

static int wait_own(struct rec *r, int res)
{
	(void)res;
	atomic_store(&r->self_ret, rp_io_wait(r->io, false));
	return 0;
}

START_TEST(test_rp_io_errors)
{
	rp_pool *pool = t_pool(2, 0, 0, 0);
	rp_io *sentinel = (rp_io *)(uintptr_t)0x99, *io = sentinel;
	struct rp_env env = { .resv = { 1 } };
	struct rec r, o;
	struct iovec v = { NULL, 0 };
	struct statx stx;
	struct sockaddr_in sa = { 0 };
	char buf[4];
	int sv[2], st;
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(rp_io_create(NULL, pool, rec_fn, &r, NULL), -EINVAL);
	ck_assert_int_eq(rp_io_create(&io, pool, NULL, &r, NULL), -EINVAL);
	ck_assert_int_eq(rp_io_create(&io, pool, rec_fn, &r, &env), -EINVAL);
	ck_assert_ptr_eq(io, sentinel);
	io = mk(pool, &r);
	t_assert_i(rp_io_read(NULL, sv[0], buf, 1, 0), ==, -EINVAL);
	t_assert_i(rp_io_read(io, -1, buf, 1, 0), ==, -EINVAL);
	t_assert_i(rp_io_read(io, sv[0], NULL, 1, 0), ==, -EINVAL);
	t_assert_i(rp_io_read(io, sv[0], buf, 1, -2), ==, -EINVAL);
	t_assert_i(rp_io_write(io, sv[0], NULL, 1, 0), ==, -EINVAL);
	t_assert_i(rp_io_readv(io, sv[0], NULL, 1, 0), ==, -EINVAL);
	t_assert_i(rp_io_readv(io, sv[0], &v, 0, 0), ==, -EINVAL);
	t_assert_i(rp_io_writev(io, sv[0], &v, IOV_MAX + 1, 0), ==, -EINVAL);
	t_assert_i(rp_io_fsync(io, sv[0], 2), ==, -EINVAL);
	t_assert_i(rp_io_openat(io, AT_FDCWD, NULL, O_RDONLY, 0), ==, -EINVAL);
	t_assert_i(rp_io_openat(io, -5, "x", O_RDONLY, 0), ==, -EINVAL);
	t_assert_i(rp_io_statx(io, AT_FDCWD, "/", 0, STATX_SIZE, NULL), ==, -EINVAL);
	t_assert_i(rp_io_closefd(io, -1), ==, -EINVAL);
	t_assert_i(rp_io_accept(io, sv[0], (struct sockaddr *)&sa, NULL, 0), ==, -EINVAL);
	t_assert_i(rp_io_accept(io, sv[0], NULL, NULL, 1 << 30), ==, -EINVAL);
	t_assert_i(rp_io_connect(io, sv[0], NULL, 16), ==, -EINVAL);
	t_assert_i(rp_io_connect(io, sv[0], (struct sockaddr *)&sa, 0), ==, -EINVAL);
	t_assert_i(rp_io_sendmsg(io, sv[0], NULL, 0), ==, -EINVAL);
	t_assert_i(rp_io_recvmsg(io, sv[0], NULL, 0), ==, -EINVAL);
	t_assert_i(rp_io_set_timeout(NULL, 1), ==, -EINVAL);
	t_assert_i(rp_io_cancel(NULL), ==, -EINVAL);
	t_assert_i(rp_io_wait(NULL, false), ==, -EINVAL);
	t_assert_i(rp_io_close(NULL), ==, -EINVAL);
	t_assert_u(atomic_load(&r.calls), ==, 0);
	/* None of that started anything: the object is free for an
	 * operation, which then holds it (-EBUSY) until its callback. */
	ck_assert_int_eq(rp_io_recv(io, sv[0], buf, 1, 0), 0);
	t_assert_i(rp_io_read(io, sv[0], buf, 1, 0), ==, -EBUSY);
	t_assert_i(rp_io_fsync(io, sv[0], 0), ==, -EBUSY);
	ck_assert_int_eq(write(sv[1], "x", 1), 1);
	wait_calls(&r, 1);
	(void)stx;
	/* -EDEADLK from its own callback. */
	mk(pool, &o);
	o.next = wait_own;
	ck_assert_int_eq(write(sv[1], "y", 1), 1);
	t_assert_i(done(&o, rp_io_recv(o.io, sv[0], buf, 1, 0)), ==, 1);
	t_assert_i(atomic_load(&o.self_ret), ==, -EDEADLK);
	ck_assert_int_eq(rp_io_close(o.io), 0);
	/* An open object keeps its pool; inherited across fork: -ECHILD. */
	ck_assert_int_eq(rp_pool_destroy(pool), -EBUSY);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(rp_io_read(io, sv[0], buf, 1, 0) == -ECHILD &&
		      rp_io_cancel(io) == -ECHILD && rp_io_wait(io, false) == -ECHILD ? 0 : 1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	t_assert_i(WEXITSTATUS(st), ==, 0);
	ck_assert_int_eq(rp_io_close(io), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

Suite *make_suite(void);
Suite *make_suite(void)
{
	Suite *s = suite_create("io");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_io_read_write_offsets_and_position);
	tcase_add_test(tc, test_rp_io_vectors_and_fsync);
	tcase_add_test(tc, test_rp_io_openat_statx_closefd);
	tcase_add_test(tc, test_rp_io_tcp_exchange);
	tcase_add_test(tc, test_rp_io_tcp_exchange_nonblocking);
	tcase_add_test(tc, test_rp_io_connect_refused);
	tcase_add_test(tc, test_rp_io_timeout);
	tcase_add_test(tc, test_rp_io_cancel_pending_recv);
	tcase_add_test(tc, test_rp_io_cancel_races_completion);
	tcase_add_test(tc, test_rp_io_arming_thread_exits);
	tcase_add_test(tc, test_rp_io_vfork_worker);
	tcase_add_test(tc, test_rp_io_close_from_callback_and_pending);
	tcase_add_test(tc, test_rp_io_chain_from_callbacks);
	tcase_add_test(tc, test_rp_io_chain_makes_way);
	tcase_add_test(tc, test_rp_io_thousands_in_flight);
	tcase_add_test(tc, test_rp_io_submit_sqe);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rp_io_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return t_main(make_suite, true);
}
