/* SPDX-License-Identifier: MIT */
/*
 * iobench.c - W7: I/O through rp_io objects, against the ways servers do
 * I/O today.
 *
 * File reads: random 4 KiB reads from a 1 GiB file (made once under --dir
 * and kept; every 8-byte word holds a hash of its offset, and each read's
 * first word is checked), 64 in flight, --reads of them (100,000), the same
 * offsets for every configuration.  Twice: with the page cache warm (the
 * whole file read first) and cold (posix_fadvise(POSIX_FADV_DONTNEED)
 * before each run; mincore() counts what stayed resident).  Every run
 * opens the file with POSIX_FADV_RANDOM, so no configuration gets
 * read-ahead.  Configurations:
 *
 *   rp_io      64 rp_io objects on a pool with default options; each
 *              callback checks its read and starts its object's next one
 *   rp_post    the same pool, 64 tasks: each does one pread() between
 *              rp_blocking_begin/end, then posts the next read's task
 *   pthread    64 threads, each pread()ing in a loop: a fixed pool of 64
 *              in a closed loop
 *   libuv4,    uv_fs_read from a loop thread, libuv's pool at 4 and at 64
 *   libuv64    threads (UV_THREADPOOL_SIZE)
 *   liburing   one thread, one ring, 64 reads in flight
 *
 * A read's latency runs from the call that starts it (rp_io_read, rp_post,
 * pread, uv_fs_read, the SQE's preparation) until its result is in user
 * code (the callback starts; the task has its pread and its hint back;
 * the CQE is reaped).
 *
 * Socket echo: 64 loopback TCP connections (TCP_NODELAY), each a closed
 * loop of 64-byte requests echoed back, driven by a client process of two
 * threads for --echo-secs.  Servers: rp_io (rp_io_accept, then per
 * connection an object re-arming rp_io_recv and rp_io_send from its
 * callbacks), and one epoll thread handing readable connections
 * (EPOLLONESHOT) to C pthread workers through a mutex and condition
 * variable, C being the concurrency ringpool picks.
 *
 * Every run is a process of its own: this program again, with --one, so
 * that libuv sizes its pool from the environment and no configuration's
 * threads outlive its window.  Configurations are interleaved within each
 * repetition.  The parent starts no thread; it samples the child's thread
 * count every 10 ms.  Where a ringpool pool runs, the report also gives
 * its own counters over the window (workers started, blocks detected and
 * hinted).  Numbers are reported, never asserted.
 *
 *	iobench [--dir DIR] [--reads N] [--reps R] [--echo-secs S]
 *		[--configs LIST] [--parts warm,cold,echo] [--out FILE]
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>
#include <ringpool.h>
#ifdef BENCH_HAVE_UV
#include <uv.h>
#endif

#include "standalone.h"

#define BLOCK 4096u
#define PAGES (FILE_SIZE / BLOCK)
#define DEPTH 64u               /* reads in flight */
#define STALL_S 10              /* no completion for this long: the run is stuck */
#define RUN_LIMIT_S 300         /* the parent kills a run slower than this */
#define RESULT_FD 3             /* a run's pipe to its parent */
#define ECHO_CONNS 64
#define ECHO_MSG 64
#define ECHO_THREADS 2          /* client threads */
#define ECHO_WARMUP_MS 200
#define MAX_REPS 99

/* ------------------------------------------------------------- helpers */

static void futex_wake_all(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Wait while *@w holds @v, at most a second. */
static void futex_wait_1s(_Atomic uint32_t *w, uint32_t v)
{
	struct timespec ts = { 1, 0 };

	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, &ts, NULL, 0);
}

/*
 * Wait until the count *@left reaches 0.
 * Return: 0; -ETIMEDOUT when it did not move for STALL_S seconds.
 */
static int wait_zero(_Atomic uint32_t *left)
{
	uint32_t v, last = atomic_load(left);
	uint64_t since = now_ns();

	while ((v = atomic_load(left))) {
		futex_wait_1s(left, v);
		v = atomic_load(left);
		if (v != last) {
			last = v;
			since = now_ns();
		} else if (now_ns() - since > STALL_S * NS) {
			return -ETIMEDOUT;
		}
	}
	return 0;
}

/* A gate many threads wait at until it opens. */
static void gate_open(_Atomic uint32_t *g)
{
	atomic_store(g, 1);
	futex_wake_all(g);
}

static void gate_wait(_Atomic uint32_t *g)
{
	while (!atomic_load(g))
		futex_wait_1s(g, 0);
}

/* The file's pages in the page cache, or -1 where mincore() cannot tell. */
static int64_t resident(int fd)
{
	unsigned char *vec = malloc(PAGES);
	void *map = mmap(NULL, FILE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	int64_t n = -1;

	if (vec && map != MAP_FAILED && !mincore(map, FILE_SIZE, vec)) {
		n = 0;
		for (uint64_t i = 0; i < PAGES; i++)
			n += vec[i] & 1;
	}
	if (map != MAP_FAILED)
		munmap(map, FILE_SIZE);
	free(vec);
	return n;
}

/* This process's threads, and how many of them are io_uring's io-wq
 * workers (iou-wrk-*, which the kernel starts for requests it cannot
 * complete without blocking) or SQ-poll threads. */
static void count_threads(pid_t pid, unsigned *all, unsigned *iowq)
{
	char path[64];
	struct dirent *e;
	DIR *d;

	*all = *iowq = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (!(d = opendir(path)))
		return;
	while ((e = readdir(d))) {
		char p[300], comm[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		++*all;
		snprintf(p, sizeof(p), "/proc/%d/task/%s/comm", (int)pid, e->d_name);
		if ((f = fopen(p, "re"))) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = 0;
			fclose(f);
		}
		if (!strncmp(comm, "iou-", 4))
			++*iowq;
	}
	closedir(d);
}

/* ------------------------------------------------------------- one run */

/* What a run sends its parent ('R' and this), after 'S' when its window
 * opens and 'E' when it closes. */
struct result {
	int err;                    /* 0, or the negative errno of what failed */
	char what[512];             /* what failed, or how the run stalled */
	uint64_t n;                 /* reads, or echo requests, in the window */
	uint64_t wall_ns, cpu_ns;   /* the window; the process's CPU over it */
	uint64_t p50_ns, p99_ns;    /* per read; per round trip */
	uint64_t bad_res;           /* reads whose res was not 4096 */
	uint64_t bad_data;          /* reads whose data was not the file's */
	int first_bad_res;
	int64_t resident_before;    /* file pages cached as the window opened */
	int64_t resident_after;     /* ... and after it closed */
	unsigned threads_end;       /* threads as the window closed */
	unsigned iowq_end;          /* of which io_uring's */
	unsigned concurrency;       /* the ringpool pool's target, where one ran */
	unsigned stuck;             /* echo: connections never answered in the window */
	bool have_stats;            /* a ringpool pool's counters over the window: */
	uint64_t created, detected, hinted; /* workers started, blocks detected, hinted */
	/* Filled in by the parent. */
	unsigned peak_threads, peak_iowq;
};

static void send_parent(char tag, const struct result *res)
{
	char buf[1 + sizeof(*res)];
	size_t len = 1, off = 0;

	buf[0] = tag;
	if (res) {
		memcpy(buf + 1, res, sizeof(*res));
		len += sizeof(*res);
	}
	while (off < len) {
		ssize_t k = write(RESULT_FD, buf + off, len - off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			_exit(3);
		off += (size_t)k;
	}
}

static void fail(struct result *res, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct result *res, int err, const char *fmt, ...)
{
	va_list ap;

	if (res->err)
		return;
	res->err = err < 0 ? err : -EIO;
	va_start(ap, fmt);
	vsnprintf(res->what, sizeof(res->what), fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------- file reads */

struct frun {
	int fd;
	unsigned n;
	const uint64_t *off;            /* per read */
	uint64_t *lat;                  /* per read: its start, then its latency (ns) */
	_Atomic unsigned next;          /* the next read to start */
	_Atomic uint32_t left;          /* futex word: reads not yet complete */
	_Atomic uint64_t bad_res, bad_data;
	_Atomic int first_bad;          /* INT_MIN: none yet */
	_Atomic int call_err;           /* the first error of a call that starts a read */
	_Atomic uint32_t go, leave;     /* gates: the pthread configuration's start, and
	                                 * its threads' exit after the window closed */
};

/* One of the 64 reads in flight. */
struct fslot {
	struct frun *r;
	_Atomic unsigned t;             /* its read */
	_Atomic bool busy;              /* started, result not yet in user code */
	char *buf;                      /* BLOCK bytes */
	rp_io *io;
	rp_pool *pool;
	pthread_t thread;
#ifdef BENCH_HAVE_UV
	uv_loop_t *loop;
	uv_fs_t req;
#endif
};

#define LAT_FAILED UINT64_MAX   /* a read that never started */

static unsigned take(struct frun *r)
{
	return atomic_fetch_add(&r->next, 1);
}

static void done(struct frun *r)
{
	if (atomic_fetch_sub(&r->left, 1) == 1)
		futex_wake_all(&r->left);
}

/* Read @t came back with @res in @buf: keep its latency, check it. */
static void complete(struct frun *r, unsigned t, const char *buf, long res)
{
	uint64_t w;

	r->lat[t] = now_ns() - r->lat[t];
	if (res != BLOCK) {
		int none = INT_MIN;

		atomic_fetch_add(&r->bad_res, 1);
		atomic_compare_exchange_strong(&r->first_bad, &none, (int)res);
		return;
	}
	memcpy(&w, buf, sizeof(w));
	if (w != pattern(r->off[t]))
		atomic_fetch_add(&r->bad_data, 1);
}

/* Read @t could not be started: the call returned @err. */
static void start_failed(struct frun *r, unsigned t, int err)
{
	int none = 0;

	atomic_compare_exchange_strong(&r->call_err, &none, err);
	r->lat[t] = LAT_FAILED;
	done(r);
}

/* The counters of @pool: at the window's start (@end false), then what
 * the window added. */
static void pool_delta(rp_pool *pool, struct result *res, bool end)
{
	struct rp_stats st;

	if (rp_pool_stats(pool, &st))
		return;
	if (!end) {
		res->created = st.threads_created;
		res->detected = st.blocks_detected;
		res->hinted = st.blocks_hinted;
		return;
	}
	res->created = st.threads_created - res->created;
	res->detected = st.blocks_detected - res->detected;
	res->hinted = st.blocks_hinted - res->hinted;
	res->have_stats = true;
}

struct fctx {
	struct frun r;
	struct fslot s[DEPTH];
	bool cold;
	struct result *res;
	uint64_t t0, cpu0;
	const char *call;               /* the call that starts a read */
	rp_pool *pool;                  /* where one runs */
};

/* Untimed: drop the file from the page cache (cold runs), count what is
 * resident, tell the parent; then the clock starts. */
static void window_open(struct fctx *c)
{
	if (c->cold)
		posix_fadvise(c->r.fd, 0, 0, POSIX_FADV_DONTNEED);
	c->res->resident_before = resident(c->r.fd);
	if (c->pool)
		pool_delta(c->pool, c->res, false);
	send_parent('S', NULL);
	c->cpu0 = cpu_ns(RUSAGE_SELF);
	c->t0 = now_ns();
}

static void window_close(struct fctx *c)
{
	c->res->wall_ns = now_ns() - c->t0;
	c->res->cpu_ns = cpu_ns(RUSAGE_SELF) - c->cpu0;
	count_threads(getpid(), &c->res->threads_end, &c->res->iowq_end);
	if (c->pool)
		pool_delta(c->pool, c->res, true);
	send_parent('E', NULL);
	c->res->resident_after = resident(c->r.fd);
}

/* The reads of @c in flight, for a report of a stalled run. */
static void describe_stall(struct fctx *c)
{
	struct result *res = c->res;
	size_t len;
	unsigned shown = 0;

	snprintf(res->what, sizeof(res->what),
		 "no read completed for %d s: %u of %u not complete; in flight:",
		 STALL_S, atomic_load(&c->r.left), c->r.n);
	for (unsigned i = 0; i < DEPTH && shown < 6; i++) {
		struct fslot *s = &c->s[i];
		unsigned t = atomic_load(&s->t);

		if (!atomic_load(&s->busy))
			continue;
		len = strlen(res->what);
		snprintf(res->what + len, sizeof(res->what) - len,
			 " object %u (read %u at offset %" PRIu64 ", started %.1f s before)",
			 i, t, c->r.off[t], (double)(now_ns() - c->r.lat[t]) / NS);
		shown++;
	}
	res->err = -ETIMEDOUT;
}

/* -- rp_io: each object's callback starts its next read */

static void rpio_start(struct fslot *s)
{
	struct frun *r = s->r;
	unsigned t;
	int ret;

	while ((t = take(r)) < r->n) {
		atomic_store(&s->t, t);
		atomic_store(&s->busy, true);
		r->lat[t] = now_ns();
		ret = rp_io_read(s->io, r->fd, s->buf, BLOCK, (int64_t)r->off[t]);
		if (!ret)
			return;
		atomic_store(&s->busy, false);
		start_failed(r, t, ret);
	}
}

static void rpio_done(void *arg, int res)
{
	struct fslot *s = arg;

	atomic_store(&s->busy, false);
	complete(s->r, atomic_load(&s->t), s->buf, res);
	rpio_start(s);
	done(s->r);
}

static int run_rpio(struct fctx *c)
{
	struct rp_stats st;
	rp_pool *pool;
	int ret;

	c->call = "rp_io_read";
	if ((ret = rp_pool_create(&pool, NULL)) < 0) {
		fail(c->res, ret, "rp_pool_create: %s", strerror(-ret));
		return ret;
	}
	if (!rp_pool_stats(pool, &st))
		c->res->concurrency = st.concurrency;
	c->pool = pool;
	for (unsigned i = 0; i < DEPTH; i++) {
		if ((ret = rp_io_create(&c->s[i].io, pool, rpio_done, &c->s[i], NULL)) < 0) {
			fail(c->res, ret, "rp_io_create: %s", strerror(-ret));
			return ret;
		}
	}
	window_open(c);
	for (unsigned i = 0; i < DEPTH; i++)
		rpio_start(&c->s[i]);
	if ((ret = wait_zero(&c->r.left)) < 0) {
		describe_stall(c);
		return ret;     /* no teardown: it may hang as the run did */
	}
	window_close(c);
	for (unsigned i = 0; i < DEPTH; i++) {
		if ((ret = rp_io_close(c->s[i].io)) < 0)
			fail(c->res, ret, "rp_io_close: %s", strerror(-ret));
	}
	if ((ret = rp_pool_destroy(pool)) < 0)
		fail(c->res, ret, "rp_pool_destroy: %s", strerror(-ret));
	return c->res->err;
}

/* -- rp_post: a task per read, a hinted pread, the next read posted */

static void post_start(struct fslot *s);

static void post_read(void *arg)
{
	struct fslot *s = arg;
	struct frun *r = s->r;
	unsigned t = atomic_load(&s->t);
	ssize_t k;
	int e;

	rp_blocking_begin();
	k = pread(r->fd, s->buf, BLOCK, (off_t)r->off[t]);
	e = errno;
	rp_blocking_end();
	atomic_store(&s->busy, false);
	complete(r, t, s->buf, k < 0 ? -e : (long)k);
	post_start(s);
	done(r);
}

static void post_start(struct fslot *s)
{
	struct frun *r = s->r;
	unsigned t;
	int ret;

	while ((t = take(r)) < r->n) {
		atomic_store(&s->t, t);
		atomic_store(&s->busy, true);
		r->lat[t] = now_ns();
		if (!(ret = rp_post(s->pool, post_read, s)))
			return;
		atomic_store(&s->busy, false);
		start_failed(r, t, ret);
	}
}

static int run_post(struct fctx *c)
{
	struct rp_stats st;
	rp_pool *pool;
	int ret;

	c->call = "rp_post";
	if ((ret = rp_pool_create(&pool, NULL)) < 0) {
		fail(c->res, ret, "rp_pool_create: %s", strerror(-ret));
		return ret;
	}
	if (!rp_pool_stats(pool, &st))
		c->res->concurrency = st.concurrency;
	c->pool = pool;
	for (unsigned i = 0; i < DEPTH; i++)
		c->s[i].pool = pool;
	window_open(c);
	for (unsigned i = 0; i < DEPTH; i++)
		post_start(&c->s[i]);
	if ((ret = wait_zero(&c->r.left)) < 0) {
		describe_stall(c);
		return ret;
	}
	window_close(c);
	if ((ret = rp_pool_destroy(pool)) < 0)
		fail(c->res, ret, "rp_pool_destroy: %s", strerror(-ret));
	return c->res->err;
}

/* -- pthread: 64 threads, each reading in a loop */

static void *pth_main(void *arg)
{
	struct fslot *s = arg;
	struct frun *r = s->r;
	unsigned t;

	gate_wait(&r->go);
	while ((t = take(r)) < r->n) {
		ssize_t k;

		atomic_store(&s->t, t);
		atomic_store(&s->busy, true);
		r->lat[t] = now_ns();
		k = pread(r->fd, s->buf, BLOCK, (off_t)r->off[t]);
		atomic_store(&s->busy, false);
		complete(r, t, s->buf, k < 0 ? -errno : (long)k);
		done(r);
	}
	/* Alive until counted, as a pool's threads are. */
	gate_wait(&r->leave);
	return NULL;
}

static int run_pthread(struct fctx *c)
{
	int ret;

	c->call = "pread";
	for (unsigned i = 0; i < DEPTH; i++) {
		if ((ret = pthread_create(&c->s[i].thread, NULL, pth_main, &c->s[i]))) {
			fail(c->res, -ret, "pthread_create: %s", strerror(ret));
			return -ret;
		}
	}
	window_open(c);
	gate_open(&c->r.go);
	if ((ret = wait_zero(&c->r.left)) < 0) {
		describe_stall(c);
		return ret;
	}
	window_close(c);
	gate_open(&c->r.leave);
	for (unsigned i = 0; i < DEPTH; i++)
		pthread_join(c->s[i].thread, NULL);
	return 0;
}

/* -- libuv: uv_fs_read on this thread's loop, its pool doing the preads */

#ifdef BENCH_HAVE_UV
static void uvr_start(struct fslot *s);

static void uvr_done(uv_fs_t *req)
{
	struct fslot *s = req->data;
	ssize_t res = req->result;

	uv_fs_req_cleanup(req);
	atomic_store(&s->busy, false);
	complete(s->r, atomic_load(&s->t), s->buf, (long)res);
	uvr_start(s);
	done(s->r);
}

static void uvr_start(struct fslot *s)
{
	struct frun *r = s->r;
	unsigned t;
	int ret;

	while ((t = take(r)) < r->n) {
		uv_buf_t b = uv_buf_init(s->buf, BLOCK);

		atomic_store(&s->t, t);
		atomic_store(&s->busy, true);
		r->lat[t] = now_ns();
		s->req.data = s;
		ret = uv_fs_read(s->loop, &s->req, r->fd, &b, 1, (int64_t)r->off[t], uvr_done);
		if (!ret)
			return;
		atomic_store(&s->busy, false);
		start_failed(r, t, ret);
	}
}

static int run_uv(struct fctx *c)
{
	uv_loop_t loop;
	int ret;

	c->call = "uv_fs_read";
	if ((ret = uv_loop_init(&loop)) < 0) {
		fail(c->res, ret, "uv_loop_init: %s", uv_strerror(ret));
		return ret;
	}
	for (unsigned i = 0; i < DEPTH; i++)
		c->s[i].loop = &loop;
	window_open(c);
	for (unsigned i = 0; i < DEPTH; i++)
		uvr_start(&c->s[i]);
	uv_run(&loop, UV_RUN_DEFAULT);
	window_close(c);
	uv_loop_close(&loop);
	if (atomic_load(&c->r.left))
		fail(c->res, -EIO, "uv_run returned with %u reads not complete",
		     atomic_load(&c->r.left));
	return c->res->err;
}
#endif

/* -- liburing: one thread, one ring */

static void uring_start(struct io_uring *ring, struct fslot *s)
{
	struct frun *r = s->r;
	struct io_uring_sqe *sqe;
	unsigned t = take(r);

	if (t >= r->n)
		return;
	/* Never NULL: no more SQEs are prepared than CQEs were reaped. */
	sqe = io_uring_get_sqe(ring);
	atomic_store(&s->t, t);
	atomic_store(&s->busy, true);
	r->lat[t] = now_ns();
	io_uring_prep_read(sqe, r->fd, s->buf, BLOCK, r->off[t]);
	io_uring_sqe_set_data(sqe, s);
}

static int run_uring(struct fctx *c)
{
	struct io_uring ring;
	int ret;

	c->call = "io_uring_submit_and_wait";
	if ((ret = io_uring_queue_init(DEPTH, &ring, 0)) < 0) {
		fail(c->res, ret, "io_uring_queue_init: %s", strerror(-ret));
		return ret;
	}
	window_open(c);
	for (unsigned i = 0; i < DEPTH; i++)
		uring_start(&ring, &c->s[i]);
	while (atomic_load(&c->r.left)) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR) {
			fail(c->res, ret, "io_uring_submit_and_wait: %s", strerror(-ret));
			return ret;
		}
		io_uring_for_each_cqe(&ring, head, cqe) {
			struct fslot *s = io_uring_cqe_get_data(cqe);

			atomic_store(&s->busy, false);
			complete(&c->r, atomic_load(&s->t), s->buf, cqe->res);
			uring_start(&ring, s);
			done(&c->r);
			seen++;
		}
		io_uring_cq_advance(&ring, seen);
	}
	window_close(c);
	io_uring_queue_exit(&ring);
	return 0;
}

/* ------------------------------------------------------------- configurations */

struct fcfg {
	const char *name;               /* its --one and --configs name */
	const char *label;              /* in the report */
	const char *about;
	int (*run)(struct fctx *c);
	unsigned uv_threads;            /* UV_THREADPOOL_SIZE for its process */
	bool thread_pool;               /* a thread pool, for the targets */
};

static const struct fcfg fcfgs[] = {
	{ "rp_io", "rp_io", "64 rp_io objects on a pool with default options; each callback "
	  "checks its read and starts its object's next (rp_io_read)", run_rpio, 0, false },
	{ "rp_post", "rp_post + hints", "the same pool; a task per read: pread() between "
	  "rp_blocking_begin/end, then rp_post of the next read's task (64 in flight)",
	  run_post, 0, true },
	{ "pthread", "pthread/64", "64 threads, each pread()ing in a loop (a fixed pool of 64, "
	  "closed loop); started before the window", run_pthread, 0, true },
#ifdef BENCH_HAVE_UV
	{ "libuv4", "libuv/4", NULL, run_uv, 4, true },
	{ "libuv64", "libuv/64", NULL, run_uv, 64, true },
#endif
	{ "liburing", "liburing loop", "one thread, one ring (io_uring_queue_init 64), "
	  "io_uring_prep_read, io_uring_submit_and_wait(1), io_uring_for_each_cqe: "
	  "64 reads in flight", run_uring, 0, false },
};
#define NFCFGS (sizeof(fcfgs) / sizeof(fcfgs[0]))

static const struct fcfg *find_fcfg(const char *name)
{
	for (size_t i = 0; i < NFCFGS; i++)
		if (!strcmp(fcfgs[i].name, name))
			return &fcfgs[i];
	return NULL;
}

#define RND_SEED 0x9e3779b97f4a7c15ull

/* xorshift64*: from RND_SEED, the same offsets for every run. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* The page of the next read. */
static uint64_t read_page(uint64_t *s)
{
	return rnd(s) % PAGES;
}

static int file_child(const struct fcfg *cf, const char *path, unsigned n, bool cold,
		      struct result *res)
{
	struct fctx *c = calloc(1, sizeof(*c));
	uint64_t *off = calloc(n, sizeof(*off)), *lat = calloc(n, sizeof(*lat));
	int ret, first_bad;
	size_t m = 0;

	if (!c || !off || !lat) {
		fail(res, -ENOMEM, "out of memory");
		return -ENOMEM;
	}
	uint64_t seed = RND_SEED;

	for (unsigned i = 0; i < n; i++)
		off[i] = read_page(&seed) * BLOCK;
	c->res = res;
	c->cold = cold;
	c->r.n = n;
	c->r.off = off;
	c->r.lat = lat;
	atomic_store(&c->r.left, n);
	atomic_store(&c->r.first_bad, INT_MIN);
	if ((c->r.fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		fail(res, -errno, "%s: %s", path, strerror(errno));
		return res->err;
	}
	posix_fadvise(c->r.fd, 0, 0, POSIX_FADV_RANDOM);
	for (unsigned i = 0; i < DEPTH; i++) {
		c->s[i].r = &c->r;
		if (!(c->s[i].buf = aligned_alloc(BLOCK, BLOCK))) {
			fail(res, -ENOMEM, "out of memory");
			return -ENOMEM;
		}
	}
	ret = cf->run(c);
	if (ret == -ETIMEDOUT)
		return ret;
	res->bad_res = atomic_load(&c->r.bad_res);
	res->bad_data = atomic_load(&c->r.bad_data);
	first_bad = atomic_load(&c->r.first_bad);
	res->first_bad_res = first_bad == INT_MIN ? 0 : first_bad;
	if ((ret = atomic_load(&c->r.call_err)))
		fail(res, ret, "%s returned %s", c->call, strerror(-ret));
	for (unsigned i = 0; i < n; i++)
		if (lat[i] != LAT_FAILED)
			lat[m++] = lat[i];
	res->n = m;
	if (m) {
		qsort(lat, m, sizeof(*lat), cmp_u64);
		res->p50_ns = lat[m / 2];
		res->p99_ns = lat[m * 99 / 100];
	}
	if (res->bad_res || res->bad_data)
		fail(res, -EIO, "%" PRIu64 " reads returned other than %u (the first: %d), "
		     "%" PRIu64 " read other data than the file's", res->bad_res, BLOCK,
		     res->first_bad_res, res->bad_data);
	return res->err;
}

/* ------------------------------------------------------------- socket echo */

/* The client: ECHO_CONNS connections over ECHO_THREADS threads. */
struct cconn {
	int fd;
	unsigned got;
	bool answered;                  /* a round trip completed in the window */
	uint64_t t0;
	char buf[ECHO_MSG];
};

struct cthread {
	pthread_t thread;
	struct cconn *c;
	unsigned nc;
	uint64_t *rtt;
	size_t n, cap;
	char what[128];
};

static _Atomic int echo_phase;          /* 0 warm-up, 1 measured, 2 stop */
static const char echo_msg[ECHO_MSG] = "ringpool iobench: a 64-byte request, echoed back.";

static void *client_thread(void *arg)
{
	struct cthread *ct = arg;
	struct epoll_event ev[ECHO_CONNS];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0) {
		snprintf(ct->what, sizeof(ct->what), "epoll_create1: %s", strerror(errno));
		return NULL;
	}
	for (unsigned i = 0; i < ct->nc; i++) {
		struct cconn *c = &ct->c[i];
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };

		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
		c->t0 = now_ns();
		if (send(c->fd, echo_msg, ECHO_MSG, MSG_NOSIGNAL) != ECHO_MSG) {
			snprintf(ct->what, sizeof(ct->what), "send: %s", strerror(errno));
			return NULL;
		}
	}
	while (atomic_load(&echo_phase) < 2) {
		int k = epoll_wait(ep, ev, ECHO_CONNS, 50);

		for (int j = 0; j < k; j++) {
			struct cconn *c = ev[j].data.ptr;
			ssize_t got = recv(c->fd, c->buf + c->got, ECHO_MSG - c->got, 0);
			uint64_t now;

			if (got < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (got <= 0) {
				snprintf(ct->what, sizeof(ct->what), "recv: %s",
					 got ? strerror(errno) : "the server closed the connection");
				close(ep);
				return NULL;
			}
			if ((c->got += (unsigned)got) < ECHO_MSG)
				continue;
			now = now_ns();
			c->got = 0;
			if (memcmp(c->buf, echo_msg, ECHO_MSG)) {
				snprintf(ct->what, sizeof(ct->what), "the echo differs from the request");
				close(ep);
				return NULL;
			}
			if (atomic_load(&echo_phase) == 1) {
				if (ct->n == ct->cap) {
					size_t cap = ct->cap ? 2 * ct->cap : 65536;
					uint64_t *p = realloc(ct->rtt, cap * sizeof(*p));

					if (!p) {
						snprintf(ct->what, sizeof(ct->what), "out of memory");
						close(ep);
						return NULL;
					}
					ct->rtt = p;
					ct->cap = cap;
				}
				ct->rtt[ct->n++] = now - c->t0;
				c->answered = true;
			}
			c->t0 = now_ns();
			if (send(c->fd, echo_msg, ECHO_MSG, MSG_NOSIGNAL) != ECHO_MSG) {
				snprintf(ct->what, sizeof(ct->what), "send: %s", strerror(errno));
				close(ep);
				return NULL;
			}
		}
	}
	close(ep);
	return NULL;
}

/* The client process: connect, warm up, tell the server (@wfd) the window
 * opens, run @secs, send it the result.  Never returns. */
static void client_main(uint16_t port, unsigned secs, int wfd)
{
	static struct cconn conns[ECHO_CONNS];
	struct cthread ct[ECHO_THREADS] = { 0 };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timespec ts = { (time_t)secs, 0 };
	struct result res = { 0 };
	uint64_t t0, *all;
	size_t n = 0;
	char tag = 'S';
	int one = 1;

	for (unsigned i = 0; i < ECHO_CONNS; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			fail(&res, -errno, "client: connect: %s", strerror(errno));
			goto out;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fcntl(fd, F_SETFL, O_NONBLOCK);
		conns[i].fd = fd;
	}
	for (unsigned i = 0; i < ECHO_THREADS; i++) {
		ct[i].nc = ECHO_CONNS / ECHO_THREADS;
		ct[i].c = &conns[i * ct[i].nc];
		if (pthread_create(&ct[i].thread, NULL, client_thread, &ct[i])) {
			fail(&res, -EAGAIN, "client: pthread_create failed");
			goto out;
		}
	}
	nanosleep(&(struct timespec){ 0, ECHO_WARMUP_MS * (long)MS }, NULL);
	atomic_store(&echo_phase, 1);
	t0 = now_ns();
	if (write(wfd, &tag, 1) != 1)
		_exit(3);
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	atomic_store(&echo_phase, 2);
	res.wall_ns = now_ns() - t0;
	for (unsigned i = 0; i < ECHO_THREADS; i++) {
		pthread_join(ct[i].thread, NULL);
		if (ct[i].what[0])
			fail(&res, -EIO, "client: %s", ct[i].what);
		n += ct[i].n;
	}
	for (unsigned i = 0; i < ECHO_CONNS; i++)
		res.stuck += !conns[i].answered;
	if ((all = malloc((n ? n : 1) * sizeof(*all)))) {
		size_t m = 0;

		for (unsigned i = 0; i < ECHO_THREADS; i++) {
			memcpy(all + m, ct[i].rtt, ct[i].n * sizeof(*all));
			m += ct[i].n;
		}
		qsort(all, n, sizeof(*all), cmp_u64);
		res.n = n;
		if (n) {
			res.p50_ns = all[n / 2];
			res.p99_ns = all[n * 99 / 100];
		}
	}
out:
	tag = 'R';
	if (write(wfd, &tag, 1) != 1 || write(wfd, &res, sizeof(res)) != sizeof(res))
		_exit(3);
	_exit(0);
}

/* -- the rp_io server */

struct esrv {
	int lfd;
	rp_pool *pool;
	rp_io *acc;
	struct sockaddr_storage addr;
	socklen_t alen;
	_Atomic uint32_t open;          /* futex word: connections open */
	_Atomic bool stopping;
	_Atomic int err;
	char what[256];
	pthread_mutex_t lock;           /* what */
};

struct econn {
	struct esrv *sv;
	rp_io *io;
	int fd;
	bool sending;
	unsigned len, sent;
	char buf[ECHO_MSG];
};

static void srv_fail(struct esrv *sv, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void srv_fail(struct esrv *sv, int err, const char *fmt, ...)
{
	va_list ap;
	int none = 0;

	pthread_mutex_lock(&sv->lock);
	if (atomic_compare_exchange_strong(&sv->err, &none, err < 0 ? err : -EIO)) {
		va_start(ap, fmt);
		vsnprintf(sv->what, sizeof(sv->what), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&sv->lock);
}

static void conn_gone(struct esrv *sv)
{
	if (atomic_fetch_sub(&sv->open, 1) == 1)
		futex_wake_all(&sv->open);
}

/* Context: the connection's own callback, or the accept callback before
 * the connection's first operation started. */
static void econn_close(struct econn *c)
{
	struct esrv *sv = c->sv;
	int ret;

	if (c->io && (ret = rp_io_close(c->io)) < 0)
		srv_fail(sv, ret, "rp_io_close from its own callback: %s", strerror(-ret));
	close(c->fd);
	free(c);
	conn_gone(sv);
}

static void econn_done(void *arg, int res)
{
	struct econn *c = arg;
	int ret;

	if (res < 0 && res != -ECONNRESET) {
		srv_fail(c->sv, res, "a connection's %s callback: res %s",
			 c->sending ? "send" : "recv", strerror(-res));
	}
	if (res <= 0) {
		econn_close(c);
		return;
	}
	if (!c->sending) {
		c->len = (unsigned)res;
		c->sent = 0;
		c->sending = true;
	} else if ((c->sent += (unsigned)res) == c->len) {
		c->sending = false;
	}
	if (c->sending)
		ret = rp_io_send(c->io, c->fd, c->buf + c->sent, c->len - c->sent, MSG_NOSIGNAL);
	else
		ret = rp_io_recv(c->io, c->fd, c->buf, sizeof(c->buf), 0);
	if (ret < 0) {
		srv_fail(c->sv, ret, "%s from the object's callback returned %s",
			 c->sending ? "rp_io_send" : "rp_io_recv", strerror(-ret));
		econn_close(c);
	}
}

static int srv_accept(struct esrv *sv)
{
	sv->alen = sizeof(sv->addr);
	return rp_io_accept(sv->acc, sv->lfd, (struct sockaddr *)&sv->addr, &sv->alen,
			    SOCK_CLOEXEC);
}

static void accept_done(void *arg, int res)
{
	struct esrv *sv = arg;
	struct econn *c;
	int ret, one = 1;

	if (res < 0) {
		if (!atomic_load(&sv->stopping))
			srv_fail(sv, res, "the accept callback: res %s", strerror(-res));
		return;
	}
	if ((ret = srv_accept(sv)) < 0)
		srv_fail(sv, ret, "rp_io_accept from its callback returned %s", strerror(-ret));
	atomic_fetch_add(&sv->open, 1);
	if (!(c = calloc(1, sizeof(*c)))) {
		close(res);
		conn_gone(sv);
		srv_fail(sv, -ENOMEM, "out of memory");
		return;
	}
	c->sv = sv;
	c->fd = res;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((ret = rp_io_create(&c->io, sv->pool, econn_done, c, NULL)) < 0) {
		c->io = NULL;
		srv_fail(sv, ret, "rp_io_create: %s", strerror(-ret));
		econn_close(c);
		return;
	}
	if ((ret = rp_io_recv(c->io, c->fd, c->buf, sizeof(c->buf), 0)) < 0) {
		srv_fail(sv, ret, "rp_io_recv: %s", strerror(-ret));
		econn_close(c);
	}
}

static int srv_rpio_start(struct esrv *sv, struct result *res)
{
	struct rp_stats st;
	int ret;

	if ((ret = rp_pool_create(&sv->pool, NULL)) < 0 ||
	    (ret = rp_io_create(&sv->acc, sv->pool, accept_done, sv, NULL)) < 0 ||
	    (ret = srv_accept(sv)) < 0) {
		fail(res, ret, "rp_pool_create, rp_io_create or rp_io_accept: %s", strerror(-ret));
		return ret;
	}
	if (!rp_pool_stats(sv->pool, &st))
		res->concurrency = st.concurrency;
	return 0;
}

/* After the client has gone: every connection closes (EOF), then the
 * accept object and the pool go. */
static void srv_rpio_stop(struct esrv *sv, struct result *res)
{
	int ret;

	if (wait_zero(&sv->open) < 0)
		fail(res, -ETIMEDOUT, "%u connections still open %d s after the client exited",
		     atomic_load(&sv->open), STALL_S);
	atomic_store(&sv->stopping, true);
	if ((ret = rp_io_close(sv->acc)) < 0)
		fail(res, ret, "rp_io_close (accept pending): %s", strerror(-ret));
	if (!res->err && (ret = rp_pool_destroy(sv->pool)) < 0)
		fail(res, ret, "rp_pool_destroy: %s", strerror(-ret));
}

/* -- the epoll server: one epoll thread, C workers, a locked queue */

struct eqsrv {
	int lfd, ep, efd;
	unsigned nworkers;
	pthread_t loop, *workers;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int q[4 * ECHO_CONNS];          /* readable connections (EPOLLONESHOT: each once) */
	unsigned head, tail, waiting;
	bool stop;
	struct esrv *sv;                /* for open and the first error */
};

static void eq_push(struct eqsrv *e, int fd)
{
	bool wake;

	pthread_mutex_lock(&e->mu);
	e->q[e->tail++ % (sizeof(e->q) / sizeof(e->q[0]))] = fd;
	wake = e->waiting > 0;
	pthread_mutex_unlock(&e->mu);
	if (wake)
		pthread_cond_signal(&e->cv);
}

static void rearm(struct eqsrv *e, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.fd = fd };

	if (epoll_ctl(e->ep, EPOLL_CTL_MOD, fd, &ev))
		srv_fail(e->sv, -errno, "epoll_ctl(MOD): %s", strerror(errno));
}

static void *eq_loop(void *arg)
{
	struct eqsrv *e = arg;
	struct epoll_event ev[ECHO_CONNS + 2];
	int one = 1;

	for (;;) {
		int k = epoll_wait(e->ep, ev, ECHO_CONNS + 2, -1);

		for (int j = 0; j < k; j++) {
			int fd = ev[j].data.fd, cfd;

			if (fd == e->efd)
				return NULL;
			if (fd != e->lfd) {
				eq_push(e, fd);
				continue;
			}
			while ((cfd = accept4(e->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
				struct epoll_event ce = { .events = EPOLLIN | EPOLLONESHOT,
							  .data.fd = cfd };

				setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				atomic_fetch_add(&e->sv->open, 1);
				if (epoll_ctl(e->ep, EPOLL_CTL_ADD, cfd, &ce)) {
					srv_fail(e->sv, -errno, "epoll_ctl(ADD): %s", strerror(errno));
					close(cfd);
					conn_gone(e->sv);
				}
			}
		}
	}
}

static void *eq_worker(void *arg)
{
	struct eqsrv *e = arg;
	char buf[ECHO_MSG];

	for (;;) {
		ssize_t n, sent = 0;
		int fd;

		pthread_mutex_lock(&e->mu);
		while (e->head == e->tail && !e->stop) {
			e->waiting++;
			pthread_cond_wait(&e->cv, &e->mu);
			e->waiting--;
		}
		if (e->head == e->tail) {
			pthread_mutex_unlock(&e->mu);
			return NULL;
		}
		fd = e->q[e->head++ % (sizeof(e->q) / sizeof(e->q[0]))];
		pthread_mutex_unlock(&e->mu);

		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			rearm(e, fd);
			continue;
		}
		while (n > 0 && sent < n) {
			ssize_t k = send(fd, buf + sent, (size_t)(n - sent), MSG_NOSIGNAL);

			if (k < 0) {
				if (errno != ECONNRESET && errno != EPIPE)
					srv_fail(e->sv, -errno, "send: %s", strerror(errno));
				n = -1;
				break;
			}
			sent += k;
		}
		if (n > 0) {
			rearm(e, fd);
			continue;
		}
		if (n < 0 && errno != ECONNRESET && errno != EPIPE)
			srv_fail(e->sv, -errno, "recv: %s", strerror(errno));
		close(fd);
		conn_gone(e->sv);
	}
}

static int srv_epoll_start(struct eqsrv *e, struct result *res)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct rp_stats st;
	rp_pool *pool;
	int ret;

	/* C: the concurrency ringpool picks on this machine. */
	if ((ret = rp_pool_create(&pool, NULL)) < 0 || (ret = rp_pool_stats(pool, &st)) < 0) {
		fail(res, ret, "rp_pool_create: %s", strerror(-ret));
		return ret;
	}
	rp_pool_destroy(pool);
	e->nworkers = st.concurrency;
	res->concurrency = st.concurrency;
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	fcntl(e->lfd, F_SETFL, O_NONBLOCK);
	if ((e->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (e->efd = eventfd(0, EFD_CLOEXEC)) < 0) {
		fail(res, -errno, "epoll_create1 or eventfd: %s", strerror(errno));
		return res->err;
	}
	ev.data.fd = e->lfd;
	epoll_ctl(e->ep, EPOLL_CTL_ADD, e->lfd, &ev);
	ev.data.fd = e->efd;
	epoll_ctl(e->ep, EPOLL_CTL_ADD, e->efd, &ev);
	if (!(e->workers = calloc(e->nworkers, sizeof(*e->workers)))) {
		fail(res, -ENOMEM, "out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < e->nworkers; i++)
		if ((ret = pthread_create(&e->workers[i], NULL, eq_worker, e))) {
			fail(res, -ret, "pthread_create: %s", strerror(ret));
			return -ret;
		}
	if ((ret = pthread_create(&e->loop, NULL, eq_loop, e))) {
		fail(res, -ret, "pthread_create: %s", strerror(ret));
		return -ret;
	}
	return 0;
}

static void srv_epoll_stop(struct eqsrv *e, struct result *res)
{
	uint64_t one = 1;

	if (wait_zero(&e->sv->open) < 0) {
		fail(res, -ETIMEDOUT, "%u connections still open %d s after the client exited",
		     atomic_load(&e->sv->open), STALL_S);
		return;
	}
	if (write(e->efd, &one, sizeof(one)) != sizeof(one))
		return;
	pthread_join(e->loop, NULL);
	pthread_mutex_lock(&e->mu);
	e->stop = true;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	for (unsigned i = 0; i < e->nworkers; i++)
		pthread_join(e->workers[i], NULL);
}

static int echo_child(bool rpio, unsigned secs, struct result *res)
{
	static struct esrv sv = { .lock = PTHREAD_MUTEX_INITIALIZER };
	static struct eqsrv eq;
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t salen = sizeof(sa);
	struct result cres;
	uint64_t cpu0, t0;
	int cp[2], one = 1, ret, st;
	char tag;
	pid_t pid;

	sv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sv.lfd < 0 || setsockopt(sv.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(sv.lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(sv.lfd, 1024) ||
	    getsockname(sv.lfd, (struct sockaddr *)&sa, &salen) || pipe2(cp, O_CLOEXEC)) {
		fail(res, -errno, "listening socket: %s", strerror(errno));
		return res->err;
	}
	/* The client is forked while this process still has one thread. */
	if ((pid = fork()) < 0) {
		fail(res, -errno, "fork: %s", strerror(errno));
		return res->err;
	}
	if (!pid) {
		close(cp[0]);
		close(sv.lfd);
		client_main(ntohs(sa.sin_port), secs, cp[1]);
	}
	close(cp[1]);
	eq.sv = &sv;
	eq.lfd = sv.lfd;
	ret = rpio ? srv_rpio_start(&sv, res) : srv_epoll_start(&eq, res);
	if (ret < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return ret;
	}
	if ((ret = read_within(cp[0], &tag, 1, 30)) < 0 || tag != 'S') {
		/* The client failed to connect: its report says why. */
		if (!ret && tag == 'R' && !read_within(cp[0], &cres, sizeof(cres), 5))
			fail(res, cres.err, "%s", cres.what);
		else
			fail(res, -EPIPE, "the client did not start");
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return res->err;
	}
	if (rpio)
		pool_delta(sv.pool, res, false);
	send_parent('S', NULL);
	cpu0 = cpu_ns(RUSAGE_SELF);
	t0 = now_ns();
	ret = read_within(cp[0], &tag, 1, secs + 30);
	if (!ret)
		ret = read_within(cp[0], &cres, sizeof(cres), 5);
	res->cpu_ns = cpu_ns(RUSAGE_SELF) - cpu0;
	res->wall_ns = now_ns() - t0;
	count_threads(getpid(), &res->threads_end, &res->iowq_end);
	if (rpio)
		pool_delta(sv.pool, res, true);
	send_parent('E', NULL);
	if (ret < 0) {
		fail(res, ret, "no report from the client");
		kill(pid, SIGKILL);
	} else {
		res->n = cres.n;
		res->wall_ns = cres.wall_ns;
		res->p50_ns = cres.p50_ns;
		res->p99_ns = cres.p99_ns;
		res->stuck = cres.stuck;
		if (cres.err)
			fail(res, cres.err, "%s", cres.what);
	}
	waitpid(pid, &st, 0);
	if (rpio)
		srv_rpio_stop(&sv, res);
	else
		srv_epoll_stop(&eq, res);
	if (atomic_load(&sv.err))
		fail(res, atomic_load(&sv.err), "server: %s", sv.what);
	return res->err;
}

/* ------------------------------------------------------------- the parent */

struct opts {
	const char *dir, *configs, *parts;
	unsigned reads, reps, echo_secs;
	char path[PATH_MAX];
};

/*
 * Run @what (a file configuration or "echo-rp_io", "echo-epoll") in a
 * process of its own, sampling its threads while its window is open.
 * Return: 0; the run's own error; -ETIMEDOUT (killed after RUN_LIMIT_S);
 * -ECHILD (it died: res->what says how).
 */
static int run_one(const struct opts *o, const char *what, bool cold, unsigned uv_threads,
		   struct result *res)
{
	char reads[16], secs[16], statp[64];
	int p[2], st, state = 0, ret = -ECHILD, sfd;
	unsigned last = 0;
	uint64_t end;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	snprintf(reads, sizeof(reads), "%u", o->reads);
	snprintf(secs, sizeof(secs), "%u", o->echo_secs);
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	fflush(NULL);
	if ((pid = fork()) < 0)
		return -errno;
	if (!pid) {
		const char *argv[] = { "iobench", "--one", what, "--mode", cold ? "cold" : "warm",
				       "--reads", reads, "--echo-secs", secs, "--file", o->path,
				       NULL };
		char n[16];

		if (p[1] == RESULT_FD)
			fcntl(RESULT_FD, F_SETFD, 0);
		else if (dup2(p[1], RESULT_FD) < 0)
			_exit(127);
		if (uv_threads) {
			snprintf(n, sizeof(n), "%u", uv_threads);
			setenv("UV_THREADPOOL_SIZE", n, 1);
		}
		execv("/proc/self/exe", (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	snprintf(statp, sizeof(statp), "/proc/%d/stat", (int)pid);
	sfd = open(statp, O_RDONLY | O_CLOEXEC);
	end = now_ns() + RUN_LIMIT_S * NS;
	for (;;) {
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		int k = poll(&pf, 1, state == 1 ? 10 : 1000);
		char tag;

		if (state == 1 && sfd >= 0) {
			unsigned t = stat_threads(sfd);

			if (t && t != last) {
				unsigned all, iowq;

				last = t;
				count_threads(pid, &all, &iowq);
				res->peak_threads = t > res->peak_threads ? t : res->peak_threads;
				res->peak_iowq = iowq > res->peak_iowq ? iowq : res->peak_iowq;
			}
		}
		if (now_ns() > end) {
			kill(pid, SIGKILL);
			snprintf(res->what, sizeof(res->what), "stopped after %d s", RUN_LIMIT_S);
			ret = -ETIMEDOUT;
			break;
		}
		if (k <= 0)
			continue;
		if (read(p[0], &tag, 1) != 1)
			break;
		if (tag == 'S' || tag == 'E') {
			state = tag == 'S' ? 1 : 2;
			continue;
		}
		if (tag == 'R') {
			unsigned pt = res->peak_threads, pi = res->peak_iowq;

			if (read_within(p[0], res, sizeof(*res), 10) < 0)
				break;
			res->peak_threads = pt > res->threads_end ? pt : res->threads_end;
			res->peak_iowq = pi > res->iowq_end ? pi : res->iowq_end;
			ret = res->err;
			break;
		}
	}
	if (sfd >= 0)
		close(sfd);
	close(p[0]);
	waitpid(pid, &st, 0);
	if (ret == -ECHILD && !res->what[0]) {
		if (WIFSIGNALED(st))
			snprintf(res->what, sizeof(res->what), "killed by signal %d (%s)",
				 WTERMSIG(st), strsignal(WTERMSIG(st)));
		else
			snprintf(res->what, sizeof(res->what), "exited with status %d, no report",
				 WEXITSTATUS(st));
	}
	return ret;
}

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

/* Read the whole file once.  Return: the pages resident after, or -errno. */
static int64_t warm_file(const struct opts *o)
{
	char *buf = malloc(CHUNK);
	int64_t n;
	int fd;

	if (!buf)
		return -ENOMEM;
	if ((fd = open(o->path, O_RDONLY | O_CLOEXEC)) < 0) {
		free(buf);
		return -errno;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (uint64_t off = 0; off < FILE_SIZE; off += CHUNK)
		if (pread(fd, buf, CHUNK, (off_t)off) != CHUNK)
			break;
	n = resident(fd);
	close(fd);
	free(buf);
	return n;
}

/* The runs of one configuration, over the repetitions. */
struct row {
	const char *label;
	bool thread_pool, skip;
	unsigned runs, ok;              /* runs made; runs that went through */
	struct result r[MAX_REPS];
	int ret[MAX_REPS];
	double rate, p50, p99, cpu, threads; /* medians over the good runs */
	double rate_lo, rate_hi, p50_lo, p50_hi, p99_lo, p99_hi, cpu_lo, cpu_hi;
	unsigned threads_hi, iowq_hi, conc;
	int64_t res_before_med, res_before_hi, res_after_med;
};

/* Median, minimum and maximum of @n values. */
static double med3(double *v, unsigned n, double *lo, double *hi)
{
	qsort(v, n, sizeof(*v), cmp_double);
	*lo = v[0];
	*hi = v[n - 1];
	return v[n / 2];
}

static void summarise(struct row *w, unsigned reps)
{
	double rate[MAX_REPS], p50[MAX_REPS], p99[MAX_REPS], cpu[MAX_REPS], thr[MAX_REPS];
	double rb[MAX_REPS], ra[MAX_REPS], lo, hi;
	unsigned n = 0;

	for (unsigned k = 0; k < reps; k++) {
		const struct result *r = &w->r[k];

		if (w->ret[k])
			continue;
		rate[n] = r->wall_ns ? (double)r->n * NS / (double)r->wall_ns : 0;
		p50[n] = (double)r->p50_ns / 1e3;
		p99[n] = (double)r->p99_ns / 1e3;
		cpu[n] = (double)r->cpu_ns / 1e6;
		thr[n] = r->peak_threads;
		rb[n] = (double)r->resident_before;
		ra[n] = (double)r->resident_after;
		if (r->peak_threads > w->threads_hi)
			w->threads_hi = r->peak_threads;
		if (r->peak_iowq > w->iowq_hi)
			w->iowq_hi = r->peak_iowq;
		w->conc = r->concurrency;
		n++;
	}
	w->runs = reps;
	w->ok = n;
	if (!n)
		return;
	w->rate = med3(rate, n, &w->rate_lo, &w->rate_hi);
	w->p50 = med3(p50, n, &w->p50_lo, &w->p50_hi);
	w->p99 = med3(p99, n, &w->p99_lo, &w->p99_hi);
	w->cpu = med3(cpu, n, &w->cpu_lo, &w->cpu_hi);
	w->threads = med3(thr, n, &lo, &hi);
	w->res_before_med = (int64_t)med3(rb, n, &lo, &hi);
	w->res_before_hi = (int64_t)hi;
	w->res_after_med = (int64_t)med3(ra, n, &lo, &hi);
}

/* The failures of @w's runs, one line each, after its table.
 * Return: whether there were any. */
static bool say_failures(const struct row *w, unsigned reps)
{
	bool any = false;

	for (unsigned k = 0; k < reps; k++) {
		if (!w->ret[k])
			continue;
		say("- %s, repetition %u: %s: %s\n", w->label, k + 1,
		    w->ret[k] == -ETIMEDOUT ? "stalled" : strerror(-w->ret[k]),
		    w->r[k].what[0] ? w->r[k].what : "no detail");
		any = true;
	}
	return any;
}

static uint64_t median_u64(uint64_t *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

/* For the rows that ran a ringpool pool: what its counters say the window
 * did (rp_pool_stats), medians over the runs. */
static void say_pool_counters(const struct row *rows, size_t nrows, unsigned reps)
{
	bool first = true;

	for (size_t i = 0; i < nrows; i++) {
		uint64_t c[MAX_REPS], d[MAX_REPS], h[MAX_REPS];
		unsigned n = 0;

		for (unsigned k = 0; !rows[i].skip && k < reps; k++) {
			const struct result *r = &rows[i].r[k];

			if (rows[i].ret[k] || !r->have_stats)
				continue;
			c[n] = r->created;
			d[n] = r->detected;
			h[n++] = r->hinted;
		}
		if (!n)
			continue;
		if (first)
			say("ringpool's own counters over the window (rp_pool_stats; medians): ");
		say("%s%s: %" PRIu64 " workers started, %" PRIu64 " blocks detected, %" PRIu64
		    " hinted", first ? "" : "; ", rows[i].label, median_u64(c, n),
		    median_u64(d, n), median_u64(h, n));
		first = false;
	}
	if (!first)
		say(".\n\n");
}

/* "median (max N; io-wq M)", and how many runs failed. */
static const char *threads_cell(const struct row *w, char *buf, size_t len)
{
	int k = snprintf(buf, len, "%.0f (max %u", w->threads, w->threads_hi);

	if (w->iowq_hi)
		k += snprintf(buf + k, len - (size_t)k, "; io-wq %u", w->iowq_hi);
	snprintf(buf + k, len - (size_t)k, ")%s", w->ok < w->runs ? " *(runs failed)*" : "");
	return buf;
}

static void say_file_table(struct row *rows, size_t nrows, unsigned reps, unsigned reads)
{
	char cell[96];
	bool any = false;

	say("| configuration | reads/s | p50 µs | p99 µs | CPU ms | CPU µs/read | "
	    "peak threads |\n|---|--:|--:|--:|--:|--:|--:|\n");
	for (size_t i = 0; i < nrows; i++) {
		struct row *w = &rows[i];

		if (w->skip)
			continue;
		if (!w->ok) {
			say("| %s | failed | | | | | |\n", w->label);
			continue;
		}
		say("| %s | %.0f (%.0f–%.0f) | %.1f (%.1f–%.1f) | %.1f (%.1f–%.1f) | "
		    "%.0f (%.0f–%.0f) | %.2f | %s |\n",
		    w->label, w->rate, w->rate_lo, w->rate_hi, w->p50, w->p50_lo, w->p50_hi,
		    w->p99, w->p99_lo, w->p99_hi, w->cpu, w->cpu_lo, w->cpu_hi,
		    w->cpu * 1e3 / reads, threads_cell(w, cell, sizeof(cell)));
	}
	say("\n");
	say_pool_counters(rows, nrows, reps);
	for (size_t i = 0; i < nrows; i++)
		if (!rows[i].skip)
			any |= say_failures(&rows[i], reps);
	if (any)
		say("\n");
}

/* The best thread pool's row (highest median reads/s), or NULL. */
static const struct row *best_pool(const struct row *rows, size_t nrows)
{
	const struct row *b = NULL;

	for (size_t i = 0; i < nrows; i++)
		if (rows[i].thread_pool && !rows[i].skip && rows[i].ok &&
		    (!b || rows[i].rate > b->rate))
			b = &rows[i];
	return b;
}

static void say_target(const char *what, bool judged, bool met, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void say_target(const char *what, bool judged, bool met, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	say("| %s | %s | %s |\n", what, buf, !judged ? "not judged" : met ? "met" : "**missed**");
}

static bool file_part(const struct opts *o, bool cold, struct row *rows)
{
	bool ok = true;

	for (size_t i = 0; i < NFCFGS; i++) {
		rows[i].label = fcfgs[i].label;
		rows[i].thread_pool = fcfgs[i].thread_pool;
		rows[i].skip = !in_list(o->configs, fcfgs[i].name);
	}
	for (unsigned k = 0; k < o->reps; k++) {
		for (size_t i = 0; i < NFCFGS; i++) {
			if (rows[i].skip)
				continue;
			progress("W7%s: %s, repetition %u of %u", cold ? "b" : "a", fcfgs[i].name,
				 k + 1, o->reps);
			rows[i].ret[k] = run_one(o, fcfgs[i].name, cold, fcfgs[i].uv_threads,
						 &rows[i].r[k]);
			ok &= !rows[i].ret[k];
		}
	}
	for (size_t i = 0; i < NFCFGS; i++)
		if (!rows[i].skip)
			summarise(&rows[i], o->reps);
	return ok;
}

static const struct row *row_named(const struct row *rows, const char *name)
{
	for (size_t i = 0; i < NFCFGS; i++)
		if (!strcmp(fcfgs[i].name, name) && !rows[i].skip && rows[i].ok)
			return &rows[i];
	return NULL;
}

/* The pages distinct among the reads (what a cold run must bring in). */
static uint64_t distinct_pages(unsigned n)
{
	uint64_t *seen = calloc(PAGES / 64, sizeof(*seen)), seed = RND_SEED, d = 0;

	if (!seen)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t pg = read_page(&seed);

		d += !(seen[pg / 64] & (1ull << (pg % 64)));
		seen[pg / 64] |= 1ull << (pg % 64);
	}
	free(seen);
	return d;
}

/* The least and the most pages resident before (@after: after) any good
 * run of @rows. */
static void resident_range(const struct row *rows, unsigned reps, bool after, int64_t *lo,
			   int64_t *hi)
{
	*lo = INT64_MAX;
	*hi = -1;
	for (size_t i = 0; i < NFCFGS; i++) {
		for (unsigned k = 0; !rows[i].skip && k < reps; k++) {
			int64_t v = after ? rows[i].r[k].resident_after : rows[i].r[k].resident_before;

			if (rows[i].ret[k])
				continue;
			*lo = v < *lo ? v : *lo;
			*hi = v > *hi ? v : *hi;
		}
	}
}

static bool warm_part(const struct opts *o)
{
	struct row *rows = calloc(NFCFGS, sizeof(*rows));
	const struct row *rp, *ur, *bp;
	int64_t res, lo, hi;
	bool ok;

	if (!rows)
		return false;
	progress("W7a: reading the whole file");
	res = warm_file(o);
	ok = file_part(o, false, rows);
	say("\n## W7a: random 4 KiB reads, page cache warm\n\n");
	if (res < 0)
		say("Reading the whole file first failed: %s.  ", strerror((int)-res));
	else
		say("The whole file was read once first: %" PRId64 " of %llu pages resident.  ",
		    res, PAGES);
	resident_range(rows, o->reps, false, &lo, &hi);
	if (hi >= 0)
		say("As each run's window opened, mincore() found %" PRId64 "–%" PRId64
		    " pages resident.", lo, hi);
	say("\n\n");
	say_file_table(rows, NFCFGS, o->reps, o->reads);

	rp = row_named(rows, "rp_io");
	ur = row_named(rows, "liburing");
	bp = best_pool(rows, NFCFGS);
	say("| target (warm) | this run | |\n|---|---|---|\n");
	if (rp && ur)
		say_target("rp_io ≥ 0.7× the liburing loop", true, rp->rate >= 0.7 * ur->rate,
			   "%.0f vs %.0f reads/s: %.2f×", rp->rate, ur->rate, rp->rate / ur->rate);
	else
		say_target("rp_io ≥ 0.7× the liburing loop", false, false, "not run");
	if (rp && bp)
		say_target("rp_io ≥ 1.5× the best thread pool", true, rp->rate >= 1.5 * bp->rate,
			   "%.0f vs %.0f reads/s (%s): %.2f×", rp->rate, bp->rate, bp->label,
			   rp->rate / bp->rate);
	else
		say_target("rp_io ≥ 1.5× the best thread pool", false, false, "not run");
	free(rows);
	return ok;
}

static bool cold_part(const struct opts *o)
{
	struct row *rows = calloc(NFCFGS, sizeof(*rows));
	const struct row *rp, *bp;
	int64_t blo, bhi, alo, ahi;
	bool ok;

	if (!rows)
		return false;
	ok = file_part(o, true, rows);
	say("\n## W7b: random 4 KiB reads, page cache cold\n\n");
	resident_range(rows, o->reps, false, &blo, &bhi);
	resident_range(rows, o->reps, true, &alo, &ahi);
	if (bhi >= 0)
		say("Each run dropped the file from the page cache first "
		    "(posix_fadvise(POSIX_FADV_DONTNEED)); as the window opened, mincore() "
		    "found %" PRId64 "–%" PRId64 " of %llu pages resident: the drop %s.  "
		    "After a run, %" PRId64 "–%" PRId64 " pages were resident, against %" PRIu64
		    " distinct pages among the %u reads%s.\n\n",
		    blo, bhi, PAGES, bhi <= (int64_t)(PAGES / 100) ? "worked" : "**did not work**",
		    alo, ahi, distinct_pages(o->reads), o->reads,
		    ahi > (int64_t)(distinct_pages(o->reads) * 11 / 10) ?
		    " (more: read-ahead, or something else read the file)" : "");
	say_file_table(rows, NFCFGS, o->reps, o->reads);

	rp = row_named(rows, "rp_io");
	bp = best_pool(rows, NFCFGS);
	say("| target (cold) | this run | |\n|---|---|---|\n");
	if (rp && bp)
		say_target("rp_io ≥ 1.0× the best thread pool", true, rp->rate >= bp->rate,
			   "%.0f vs %.0f reads/s (%s): %.2f×", rp->rate, bp->rate, bp->label,
			   rp->rate / bp->rate);
	else
		say_target("rp_io ≥ 1.0× the best thread pool", false, false, "not run");
	if (rp) {
		unsigned c = rp->conc, t = rp->threads_hi ? rp->threads_hi - 1 : 0;

		say_target("rp_io: threads besides main ≤ C + 4", c != 0, t <= c + 4,
			   "%u at most (C = %u: the bound is %u; io_uring io-wq workers among "
			   "them: %u)", t, c, c + 4, rp->iowq_hi);
	} else {
		say_target("rp_io: threads besides main ≤ C + 4", false, false, "not run");
	}
	free(rows);
	return ok;
}

static bool echo_part(const struct opts *o)
{
	static const char *const names[] = { "echo-rp_io", "echo-epoll" };
	const char *labels[] = { "rp_io", "epoll + pthread/C" };
	struct row *rows = calloc(2, sizeof(*rows));
	char cell[96];
	bool ok = true, failed = false;

	if (!rows)
		return false;
	for (unsigned i = 0; i < 2; i++) {
		rows[i].label = labels[i];
		rows[i].skip = !in_list(o->configs, names[i]);
	}
	for (unsigned k = 0; k < o->reps; k++) {
		for (unsigned i = 0; i < 2; i++) {
			if (rows[i].skip)
				continue;
			progress("echo: %s, repetition %u of %u", names[i], k + 1, o->reps);
			rows[i].ret[k] = run_one(o, names[i], false, 0, &rows[i].r[k]);
			ok &= !rows[i].ret[k];
		}
	}
	say("\n## rp_io sockets: loopback TCP echo, %u connections\n\n", ECHO_CONNS);
	say("A client process of %u threads keeps %u connections busy, each a closed loop: "
	    "%u bytes out, the same %u bytes back (compared), the next out; TCP_NODELAY on both "
	    "sides; %u s measured after %u ms of warm-up.  Round trip: from the request's "
	    "send() to its last byte received.  CPU and threads: the server's process alone.\n\n",
	    ECHO_THREADS, ECHO_CONNS, ECHO_MSG, ECHO_MSG, o->echo_secs, ECHO_WARMUP_MS);
	say("| server | requests/s | RTT p50 µs | RTT p99 µs | server CPU ms | CPU µs/request | "
	    "peak threads |\n|---|--:|--:|--:|--:|--:|--:|\n");
	for (unsigned i = 0; i < 2; i++) {
		struct row *w = &rows[i];
		uint64_t n = 0, stuck = 0;

		if (w->skip)
			continue;
		summarise(w, o->reps);
		if (!w->ok) {
			say("| %s | failed | | | | | |\n", w->label);
			continue;
		}
		for (unsigned k = 0; k < o->reps; k++) {
			if (!w->ret[k]) {
				n += w->r[k].n;
				stuck += w->r[k].stuck;
			}
		}
		/* the median run's CPU over the mean run's requests */
		say("| %s | %.0f (%.0f–%.0f) | %.1f (%.1f–%.1f) | %.1f (%.1f–%.1f) | %.0f (%.0f–%.0f) "
		    "| %.2f | %s |\n",
		    w->label, w->rate, w->rate_lo, w->rate_hi, w->p50, w->p50_lo, w->p50_hi,
		    w->p99, w->p99_lo, w->p99_hi, w->cpu, w->cpu_lo, w->cpu_hi,
		    n ? w->cpu * 1e3 * w->ok / (double)n : 0.0, threads_cell(w, cell, sizeof(cell)));
		if (stuck)
			say("| | %" PRIu64 " connection-runs had no answer in the window | | | | | |\n",
			    stuck);
	}
	say("\n");
	say_pool_counters(rows, 2, o->reps);
	for (unsigned i = 0; i < 2; i++)
		if (!rows[i].skip)
			failed |= say_failures(&rows[i], o->reps);
	if (failed)
		say("\n");
	if (rows[1].ok)
		say("C = %u: the concurrency ringpool picks here, given to the epoll server as its "
		    "worker count.\n", rows[1].conc);
	free(rows);
	return ok;
}

static void header(const struct opts *o, int argc, char **argv, const char *how)
{
	struct utsname u;
	struct sysinfo si;
	struct statfs sf;
	char cpu[128] = "unknown CPU", line[256], date[32];
	time_t now = time(NULL);
	cpu_set_t set;
	FILE *f;

	if (uname(&u))
		memset(&u, 0, sizeof(u));
	if ((f = fopen("/proc/cpuinfo", "re"))) {
		while (fgets(line, sizeof(line), f)) {
			char *p = strchr(line, ':');

			if (!strncmp(line, "model name", 10) && p) {
				snprintf(cpu, sizeof(cpu), "%s", p + 2);
				cpu[strcspn(cpu, "\n")] = 0;
				break;
			}
		}
		fclose(f);
	}
	CPU_ZERO(&set);
	sched_getaffinity(0, sizeof(set), &set);
	sysinfo(&si);
	strftime(date, sizeof(date), "%Y-%m-%d", gmtime(&now));
	say("# W7: I/O through rp_io objects, %s\n\n", date);
	say("%d CPUs usable (%s); %s %s %s; %.1f GiB memory.  ", CPU_COUNT(&set), cpu,
	    u.sysname, u.release, u.machine,
	    (double)si.totalram * si.mem_unit / (1024.0 * 1024 * 1024));
	say("File: `%s`, 1 GiB, %s", o->path, how);
	if (!statfs(o->dir, &sf))
		say(" (file system magic 0x%lx%s)", (unsigned long)sf.f_type,
		    sf.f_type == 0xef53 ? ": ext2/3/4" : sf.f_type == 0x58465342 ? ": xfs" :
		    sf.f_type == 0x9123683e ? ": btrfs" : sf.f_type == 0x01021994 ? ": tmpfs" : "");
	say(".\n\nCommand:");
	for (int i = 0; i < argc; i++)
		say(" %s", argv[i]);
	say("\n\n%u repetitions, configurations interleaved (A B C … A B C …), each run a fresh "
	    "process.  Cells: median (min–max) over repetitions.  Reads: %u random 4 KiB "
	    "reads per run for every configuration (the same offsets, drawn once), %u in "
	    "flight, each checked against the file's content; the file opened with "
	    "POSIX_FADV_RANDOM (no read-ahead).  Latency: from the call that starts a read to "
	    "its result in user code.  CPU: getrusage of the run's process (user + system, "
	    "io_uring's kernel workers included) over the window.  Peak threads: the "
	    "process's, main included, sampled every 10 ms over the window and at its end.\n",
	    o->reps, o->reads, DEPTH);
	say("\n| configuration | what it is |\n|---|---|\n");
	for (size_t i = 0; i < NFCFGS; i++) {
		const char *about = fcfgs[i].about;
#ifdef BENCH_HAVE_UV
		char uvabout[200];

		if (!about) {
			snprintf(uvabout, sizeof(uvabout), "libuv %s: uv_fs_read from the loop "
				 "(main) thread, 64 requests each started again from its callback; "
				 "UV_THREADPOOL_SIZE=%u", uv_version_string(), fcfgs[i].uv_threads);
			about = uvabout;
		}
#endif
		if (in_list(o->configs, fcfgs[i].name))
			say("| %s | %s |\n", fcfgs[i].label, about);
	}
#ifndef BENCH_HAVE_UV
	say("\nNot run: libuv (not found at configure time).\n");
#endif
}

static void usage(void)
{
	fprintf(stderr,
		"usage: iobench [--dir DIR] [--reads N] [--reps R] [--echo-secs S]\n"
		"               [--configs LIST] [--parts warm,cold,echo] [--out FILE]\n"
		"  configurations: rp_io,rp_post,pthread,libuv4,libuv64,liburing,"
		"echo-rp_io,echo-epoll\n");
	exit(2);
}

/* A run's own process: --one WHAT --mode warm|cold --reads N --echo-secs S
 * --file PATH; the parent's pipe on RESULT_FD. */
static int one(const char *what, const char *mode, unsigned reads, unsigned secs,
	       const char *path)
{
	static struct result res;
	const struct fcfg *cf;

	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(what, "echo-rp_io") || !strcmp(what, "echo-epoll"))
		echo_child(!strcmp(what, "echo-rp_io"), secs, &res);
	else if ((cf = find_fcfg(what)))
		file_child(cf, path, reads, !strcmp(mode, "cold"), &res);
	else
		fail(&res, -EINVAL, "no configuration %s", what);
	send_parent('R', &res);
	/* A stalled run is not torn down: its threads may never finish. */
	_exit(res.err == -ETIMEDOUT ? 1 : 0);
}

int main(int argc, char **argv)
{
	struct opts o = { .dir = "/var/tmp/ringpool-w7", .reads = 100000, .reps = 3,
			  .echo_secs = 3 };
	const char *one_what = NULL, *mode = "warm", *file = NULL;
	char how[128];
	int ret;
	bool ok = true;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--dir"))
			o.dir = v;
		else if (!strcmp(a, "--reads")) {
			if (!parse_uint(v, &o.reads) || !o.reads)
				usage();
		} else if (!strcmp(a, "--reps")) {
			if (!parse_uint(v, &o.reps) || !o.reps || o.reps > MAX_REPS)
				usage();
		} else if (!strcmp(a, "--echo-secs")) {
			if (!parse_uint(v, &o.echo_secs) || !o.echo_secs)
				usage();
		} else if (!strcmp(a, "--configs"))
			o.configs = v;
		else if (!strcmp(a, "--parts"))
			o.parts = v;
		else if (!strcmp(a, "--out")) {
			if (!(out = fopen(v, "we"))) {
				perror(v);
				return 2;
			}
		} else if (!strcmp(a, "--one"))
			one_what = v;
		else if (!strcmp(a, "--mode"))
			mode = v;
		else if (!strcmp(a, "--file"))
			file = v;
		else
			usage();
	}
	if (one_what)
		return one(one_what, mode, o.reads, o.echo_secs, file ? file : "");

	snprintf(o.path, sizeof(o.path), "%s/w7-1GiB.dat", o.dir);
	if (in_list(o.parts, "warm") || in_list(o.parts, "cold")) {
		progress("preparing %s", o.path);
		if ((ret = prepare_file(o.dir, o.path, how, sizeof(how))) < 0) {
			fprintf(stderr, "iobench: %s: %s\n", o.path, strerror(-ret));
			return 1;
		}
	} else {
		snprintf(how, sizeof(how), "not used");
	}
	header(&o, argc, argv, how);
	if (in_list(o.parts, "warm"))
		ok &= warm_part(&o);
	if (in_list(o.parts, "cold"))
		ok &= cold_part(&o);
	if (in_list(o.parts, "echo"))
		ok &= echo_part(&o);
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r\033[K");
	if (out && (ferror(out) | fclose(out)))
		ok = false;
	return !ok;
}
