/* SPDX-License-Identifier: MIT */
/*
 * w8server.c - W8: one pool in place of three, in a small HTTP/1.1 server.
 *
 * A loopback HTTP/1.1 server (keep-alive, 127.0.0.1 only) whose requests
 * go to three subsystems, as real servers are built:
 *
 *   /cpu    about 200 µs of computation (a calibrated chain of
 *           multiply-adds)
 *   /db     a query to an emulated database: a process of the bench that
 *           answers each query 2 ms after it arrived, reached through a
 *           plain blocking send() and recv() on a unix socket, unhinted,
 *           as a third-party client library does (a connection pool that
 *           grows on demand, no size to set)
 *   /file   a 64 KiB pread() at a random 64 KiB-aligned offset of a 1 GiB
 *           file, its range dropped from the page cache first
 *           (posix_fadvise(POSIX_FADV_DONTNEED)), so it waits for the disk;
 *           the first word read is checked against the file's content
 *
 * The same server code runs five ways, a flag apart:
 *
 *   a  three fixed pthread pools: cpu (C threads), db (32), file (16)
 *   b  one ringpool pool (default options) and three queues: cpu
 *      (RP_WIDTH_MAX), db (width 32), file (width 16)
 *   c  one ringpool pool, no queues: rp_post() straight to the pool
 *   d  one fixed pthread pool of 64
 *   e  (b)'s pool and queues, with the network through rp_io: accept,
 *      recv and send are rp_io operations, and each connection has a
 *      serial queue (width 1) its I/O object's callbacks run through
 *
 * In (a) to (d) one thread runs an epoll loop over non-blocking sockets
 * (EPOLLONESHOT): it accepts, reads, parses, and hands each request to the
 * configuration's executor.  The handler computes the response, writes it
 * itself, then hands the connection's next request on, or re-arms the
 * connection.  A connection belongs to one thread at a time, so it needs
 * no lock.
 *
 * In (e) a connection's serial queue is its strand: its I/O completions
 * and the responses handed back to it all run there, one at a time, in
 * order.  A recv callback parses the request and posts the handler to the
 * subsystem's queue; the handler posts the response back into the strand,
 * which sends it with rp_io_send.  The subsystem queues bound what each
 * subsystem ties up; the strand keeps each connection's state to one
 * callback at a time.
 *
 * Load comes from wrk, one wrk per class at once (per-class latency), and
 * from an open-loop client of the bench for the isolation run:
 *
 *   mixed      wrk on /db, /cpu and /file together, one thread and a fixed
 *              number of connections each (--conns), --secs seconds
 *   isolation  /cpu at a fixed rate (--rate per second) from the bench's
 *              own open-loop client, latency from each request's intended
 *              send time; --secs alone, then --secs more while wrk floods
 *              /db with --flood connections (4× the mixed run's)
 *
 * Every run is a server process of its own (this program again, with
 * --one), with its database emulator forked before it starts a thread.
 * Configurations are interleaved within a repetition; cells are median
 * (min–max) over repetitions.  The parent samples the server's thread
 * count every 10 ms; the server measures its own CPU (getrusage) over
 * each window.  Numbers are reported, never asserted.
 *
 *	w8server [--secs S] [--reps R] [--configs a,b,c,d,e]
 *		 [--runs mixed,isolation] [--conns DB,CPU,FILE] [--flood N]
 *		 [--rate N] [--dir DIR] [--wrk PATH] [--out FILE]
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ringpool.h>

#include "standalone.h"

#define US 1000ull
#define FBLOCK (64u << 10)              /* one /file read */
#define NBLOCKS (FILE_SIZE / FBLOCK)
#define CPU_WORK_US 200                 /* one /cpu request */
#define DB_DELAY_NS (2 * MS)            /* the emulator's answer time */
#define DB_MSG 16                       /* a query and its answer */
#define REQ_MAX 4096                    /* a connection's request buffer */
#define RESP_MAX 256
#define CTL_FD 3                        /* a server's socket to its parent */
#define MAX_REPS 99
#define WARMUP_S 1                      /* wrk mix before each run's window */
#define PROBE_CONNS 32                  /* the open-loop client's connections */
#define PROBE_TAIL_S 3                  /* it waits this long for late answers */
#define STOP_S 10                       /* a server's teardown, at most */
#define SAMPLE_MS 10                    /* thread-count sampling */
#define RUN_LIMIT_S 300                 /* clients still running after this are killed */

/* The pool sizes and queue widths of the issue. */
#define DB_THREADS 32
#define FILE_THREADS 16
#define ONE_POOL_THREADS 64

enum cls { CLS_CPU, CLS_DB, CLS_FILE, NCLS, CLS_NONE = NCLS };

static const char *const cls_path[NCLS] = { "/cpu", "/db", "/file" };

/* ------------------------------------------------------------- helpers */

static void sleep_until(uint64_t t)
{
	struct timespec ts = { (time_t)(t / NS), (long)(t % NS) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void sleep_ms(unsigned ms)
{
	sleep_until(now_ns() + ms * MS);
}

/* Write all of @buf to @fd.  Return: 0, or -errno. */
static int write_all(int fd, const void *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t k = write(fd, (const char *)buf + off, len - off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EPIPE;
		off += (size_t)k;
	}
	return 0;
}

/*
 * CPU work: a chain of dependent multiply-adds that the compiler cannot
 * fold, touching no memory (as bench/workloads.c).
 */
static _Atomic uint64_t burn_sink;

static uint64_t burn_iters(uint64_t n)
{
	uint64_t x = n | 1;

	for (uint64_t i = 0; i < n; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		__asm__ volatile("" : "+r"(x));
	}
	atomic_fetch_add_explicit(&burn_sink, x, memory_order_relaxed);
	return x;
}

/* Iterations per µs: the best of several rounds (the least disturbed). */
static double calibrate(void)
{
	const uint64_t n = 2000000;
	uint64_t best = UINT64_MAX;

	burn_iters(n);
	for (int i = 0; i < 7; i++) {
		struct timespec a, b;
		uint64_t dt;

		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
		burn_iters(n);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
		dt = (uint64_t)(b.tv_sec - a.tv_sec) * NS + (uint64_t)b.tv_nsec -
		     (uint64_t)a.tv_nsec;
		if (dt < best)
			best = dt;
	}
	return (double)n * 1000.0 / (double)best;
}

/* ------------------------------------------------------------- the server */

/* What a server tells its parent about one window ('R'), or about its
 * teardown ('D'). */
struct wres {
	int err;                        /* 0, or the first failure's negative errno */
	char what[256];                 /* what failed */
	uint64_t wall_ns, cpu_ns;       /* the window; the process's CPU over it */
	uint64_t served[NCLS];          /* responses written in the window */
	unsigned threads_end;           /* threads as the window closed */
	unsigned conc;                  /* the pool's concurrency, where one runs */
	unsigned db_conns;              /* database connections opened so far */
	bool have_stats;                /* a ringpool pool's counters over the window: */
	uint64_t created, detected, hinted; /* workers started, blocks detected, hinted */
};

enum cfg_kind { K_POOLS, K_QUEUES, K_POST, K_POOL64, K_IOCP };

struct cfg {
	const char *name;               /* its --configs and --one name */
	const char *label;              /* in the report */
	enum cfg_kind kind;
	bool ringpool;
	bool runs_long;                 /* the db and file queues flagged RP_RUNS_LONG */
};

/* (a) and (b) first: the targets compare them.  "bl" is not one of the
 * issue's: (b) with the blocking subsystems' queues hinted, to show what
 * (b) loses to detecting its blocks; it runs only when --configs names it. */
static const struct cfg cfgs[] = {
	{ "a", "(a) 3 pthread pools", K_POOLS, false, false },
	{ "b", "(b) ringpool + 3 queues", K_QUEUES, true, false },
	{ "c", "(c) ringpool, rp_post", K_POST, true, false },
	{ "d", "(d) 1 pthread pool of 64", K_POOL64, false, false },
	{ "e", "(e) (b) + rp_io, strand/conn", K_IOCP, true, false },
	{ "bl", "(b) with RP_RUNS_LONG db, file", K_QUEUES, true, true },
};
#define DEFAULT_CONFIGS "a,b,c,d,e"
#define NCFGS (sizeof(cfgs) / sizeof(cfgs[0]))

static const struct cfg *find_cfg(const char *name)
{
	for (size_t i = 0; i < NCFGS; i++)
		if (!strcmp(cfgs[i].name, name))
			return &cfgs[i];
	return NULL;
}

/* One connection.  It belongs to one thread at a time: in (a) to (d) the
 * IO thread from a readable event until it hands the request to the
 * executor, then the handler until it re-arms the connection; in (e) its
 * strand (the serial queue), and a subsystem handler between the strand's
 * post and the handler's post back. */
struct conn {
	int fd;
	enum cls cls;                   /* the request being served */
	unsigned len, used;             /* bytes in buf; bytes taken by requests */
	unsigned rlen, rsent;           /* the response: length, bytes sent */
	char buf[REQ_MAX];
	char resp[RESP_MAX];
	struct conn *next;              /* in a pthread pool's FIFO */
	rp_io *io;                      /* (e) */
	rp_queue *q;                    /* (e): the strand */
	bool sending;                   /* (e): a send in flight, not a recv */
};

/* A fixed pthread pool: N threads, one mutex, one condition variable, a
 * FIFO of connections; it signals only when a thread waits, after
 * unlocking (as bench/peer_pthread.c). */
struct tpool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct conn *head, **tail;
	unsigned nthreads, waiting;
	bool stop;
	pthread_t *threads;
};

/* The database client: a pool of connections to the emulator that grows
 * on demand (one per query in progress at the most), as client libraries
 * keep them. */
struct dbclient {
	pthread_mutex_t mu;
	int *free_fds;
	unsigned nfree, cap;
	_Atomic unsigned opened;
	struct sockaddr_un addr;
	socklen_t alen;
};

static struct srv {
	const struct cfg *cf;
	double iters_per_us;
	bool file_hint;                 /* the pread inside rp_blocking_begin/end */
	unsigned quantum;               /* the subsystem queues'; 0: the library's */
	int lfd, ep, efd;               /* listening socket; the IO thread's epoll, stop */
	int file_fd;
	pid_t db_pid;
	struct dbclient db;
	pthread_t io_thread;
	bool io_started;
	struct tpool tp[NCLS];          /* (a): one per class; (d): tp[0] */
	unsigned ntp;
	rp_pool *pool;
	rp_queue *q[NCLS];
	rp_io *acc;                     /* (e): the accept object */
	struct sockaddr_storage acc_addr;
	socklen_t acc_alen;
	_Atomic bool stopping;
	_Atomic unsigned open;          /* connections open */
	_Atomic uint64_t served[NCLS];
	_Atomic uint64_t seq;           /* request numbers: db ids, file offsets */
	_Atomic int err;
	char what[256];
	pthread_mutex_t lock;           /* what */
} srv = { .lock = PTHREAD_MUTEX_INITIALIZER, .db.mu = PTHREAD_MUTEX_INITIALIZER };

static void srv_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void srv_fail(int err, const char *fmt, ...)
{
	va_list ap;
	int none = 0;

	pthread_mutex_lock(&srv.lock);
	if (atomic_compare_exchange_strong(&srv.err, &none, err < 0 ? err : -EIO)) {
		va_start(ap, fmt);
		vsnprintf(srv.what, sizeof(srv.what), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&srv.lock);
}

/* -- the database emulator: a process of its own */

struct pending {
	int fd;                         /* -1: its connection closed */
	uint64_t due;
	char msg[DB_MSG];
};

/*
 * Answer every query 2 ms after it arrived.  One thread: since every
 * query waits the same time, the pending answers are a FIFO ordered by
 * due time, and one timerfd armed at the head's due time serves them all.
 * Never returns.
 */
static void db_emulator(int lfd)
{
	struct epoll_event ev = { .events = EPOLLIN }, evs[64];
	struct pending *ring = NULL;
	size_t cap = 0, head = 0, n = 0;
	int ep, tfd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "w8-db");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0)
		_exit(1);
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.fd = tfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	for (;;) {
		int k = epoll_wait(ep, evs, 64, -1);
		bool was_empty = !n;

		for (int j = 0; j < k; j++) {
			int fd = evs[j].data.fd;

			if (fd == lfd) {
				int cfd;

				while ((cfd = accept4(lfd, NULL, NULL,
						      SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
					ev.data.fd = cfd;
					epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
				}
				continue;
			}
			if (fd == tfd) {
				uint64_t x;

				if (read(tfd, &x, sizeof(x)) < 0 && errno != EAGAIN)
					_exit(1);
				continue;
			}
			for (;;) {
				char msg[DB_MSG];
				ssize_t got = recv(fd, msg, sizeof(msg), MSG_DONTWAIT);
				struct pending *p;

				if (got < 0 && (errno == EAGAIN || errno == EINTR))
					break;
				if (got <= 0) {
					/* Its answers must not go to a reused number. */
					for (size_t i = 0; i < n; i++)
						if (ring[(head + i) % cap].fd == fd)
							ring[(head + i) % cap].fd = -1;
					close(fd);
					break;
				}
				if (n == cap) {
					size_t ncap = cap ? 2 * cap : 256;
					struct pending *r = malloc(ncap * sizeof(*r));

					if (!r)
						_exit(1);
					for (size_t i = 0; i < n; i++)
						r[i] = ring[(head + i) % cap];
					free(ring);
					ring = r;
					cap = ncap;
					head = 0;
				}
				p = &ring[(head + n++) % cap];
				p->fd = fd;
				p->due = now_ns() + DB_DELAY_NS;
				memcpy(p->msg, msg, sizeof(msg));
			}
		}
		/* Answer what is due, then arm the timer at the next. */
		for (uint64_t now = now_ns(); n && ring[head].due <= now; n--) {
			if (ring[head].fd >= 0)
				send(ring[head].fd, ring[head].msg, DB_MSG,
				     MSG_DONTWAIT | MSG_NOSIGNAL);
			head = (head + 1) % cap;
		}
		if (n && (was_empty || k)) {
			struct itimerspec its = {
				.it_value = { (time_t)(ring[head].due / NS),
					      (long)(ring[head].due % NS) } };

			timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
		}
	}
}

/*
 * Fork the emulator, listening on an abstract unix address of this
 * process.  Context: before any thread starts.
 * Return: 0, or -errno.
 */
static int db_start(void)
{
	struct dbclient *d = &srv.db;
	int lfd;

	d->addr.sun_family = AF_UNIX;
	/* Abstract: sun_path[0] is 0, the name follows, nothing on disk. */
	snprintf(d->addr.sun_path + 1, sizeof(d->addr.sun_path) - 1, "ringpool-w8-db-%d",
		 (int)getpid());
	d->alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
			      strlen(d->addr.sun_path + 1));
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&d->addr, d->alen) || listen(lfd, 4096))
		return -errno;
	if ((srv.db_pid = fork()) < 0)
		return -errno;
	if (!srv.db_pid)
		db_emulator(lfd);
	close(lfd);
	return 0;
}

static int db_get(void)
{
	struct dbclient *d = &srv.db;
	int fd = -1;

	pthread_mutex_lock(&d->mu);
	if (d->nfree)
		fd = d->free_fds[--d->nfree];
	pthread_mutex_unlock(&d->mu);
	if (fd >= 0)
		return fd;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&d->addr, d->alen)) {
		int e = errno;

		close(fd);
		return -e;
	}
	atomic_fetch_add(&d->opened, 1);
	return fd;
}

static void db_put(int fd)
{
	struct dbclient *d = &srv.db;

	pthread_mutex_lock(&d->mu);
	if (d->nfree == d->cap) {
		unsigned ncap = d->cap ? 2 * d->cap : 64;
		int *p = realloc(d->free_fds, ncap * sizeof(*p));

		if (!p) {
			pthread_mutex_unlock(&d->mu);
			close(fd);
			return;
		}
		d->free_fds = p;
		d->cap = ncap;
	}
	d->free_fds[d->nfree++] = fd;
	pthread_mutex_unlock(&d->mu);
}

/*
 * One query: a blocking send() and a blocking recv() of the answer, no
 * hint (the pool does not know this thread waits).
 * Return: 0, or -errno.
 */
static int db_query(uint64_t id)
{
	char q[DB_MSG] = { 0 }, a[DB_MSG];
	ssize_t k;
	int fd = db_get();

	if (fd < 0)
		return fd;
	errno = 0;
	memcpy(q, &id, sizeof(id));
	if (send(fd, q, sizeof(q), MSG_NOSIGNAL) != sizeof(q) ||
	    (k = recv(fd, a, sizeof(a), 0)) != sizeof(a) || memcmp(a, q, sizeof(a))) {
		int e = errno ? errno : EPROTO;

		close(fd);
		return -e;
	}
	db_put(fd);
	return 0;
}

/* -- the handler: the same code in every configuration */

static int file_read(uint64_t n, uint64_t *off)
{
	char *buf = aligned_alloc(4096, FBLOCK);
	uint64_t w;
	ssize_t k;

	if (!buf)
		return -ENOMEM;
	*off = (pattern(n) % NBLOCKS) * FBLOCK;
	/* The hint is a no-op outside ringpool's workers: the same code
	 * runs in every configuration. */
	if (srv.file_hint)
		rp_blocking_begin();
	/* Out of the cache first, so the read waits for the disk. */
	posix_fadvise(srv.file_fd, (off_t)*off, FBLOCK, POSIX_FADV_DONTNEED);
	k = pread(srv.file_fd, buf, FBLOCK, (off_t)*off);
	if (k < 0)
		k = -errno;
	if (srv.file_hint)
		rp_blocking_end();
	memcpy(&w, buf, sizeof(w));
	free(buf);
	if (k != FBLOCK)
		return k < 0 ? (int)k : -EIO;
	return w == pattern(*off) ? 0 : -EBADMSG;
}

static void respond(struct conn *c, int status, const char *body)
{
	const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" :
			     "Internal Server Error";
	int k = snprintf(c->resp, sizeof(c->resp),
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
			 "Content-Length: %zu\r\n\r\n%s", status, reason, strlen(body), body);

	c->rlen = k < (int)sizeof(c->resp) ? (unsigned)k : sizeof(c->resp) - 1;
	c->rsent = 0;
}

/* Serve @c's request (c->cls): compute the response into c->resp. */
static void serve(struct conn *c)
{
	uint64_t n = atomic_fetch_add_explicit(&srv.seq, 1, memory_order_relaxed), off = 0;
	char body[96];
	int ret;

	switch (c->cls) {
	case CLS_CPU:
		snprintf(body, sizeof(body), "cpu %016" PRIx64 "\n",
			 burn_iters((uint64_t)(srv.iters_per_us * CPU_WORK_US)));
		respond(c, 200, body);
		break;
	case CLS_DB:
		if ((ret = db_query(n)) < 0) {
			srv_fail(ret, "database query: %s", strerror(-ret));
			respond(c, 500, "db failed\n");
			break;
		}
		snprintf(body, sizeof(body), "db %" PRIu64 " answered\n", n);
		respond(c, 200, body);
		break;
	case CLS_FILE:
		if ((ret = file_read(n, &off)) < 0) {
			srv_fail(ret, "pread at %" PRIu64 ": %s", off, strerror(-ret));
			respond(c, 500, "file failed\n");
			break;
		}
		snprintf(body, sizeof(body), "file %" PRIu64 " %u bytes checked\n", off, FBLOCK);
		respond(c, 200, body);
		break;
	default:
		respond(c, 404, "not found\n");
		return;
	}
	atomic_fetch_add_explicit(&srv.served[c->cls], 1, memory_order_relaxed);
}

/*
 * Take the next complete request from @c's buffer: c->cls set (CLS_NONE
 * for a path we do not serve) and c->used past it.
 * Return: 1; 0 if no request is complete yet (the buffer compacted);
 * -1 if the buffer is full without one, or it is not a GET.
 */
static int parse(struct conn *c)
{
	char *p = c->buf + c->used, *end;
	size_t n = c->len - c->used;

	end = memmem(p, n, "\r\n\r\n", 4);
	if (!end) {
		if (c->used) {
			memmove(c->buf, p, n);
			c->len = (unsigned)n;
			c->used = 0;
		}
		return c->len == sizeof(c->buf) ? -1 : 0;
	}
	c->used += (unsigned)(end + 4 - p);
	if (memcmp(p, "GET ", 4))
		return -1;
	p += 4;
	c->cls = CLS_NONE;
	for (unsigned i = 0; i < NCLS; i++) {
		size_t l = strlen(cls_path[i]);

		if (!strncmp(p, cls_path[i], l) && (p[l] == ' ' || p[l] == '?')) {
			c->cls = (enum cls)i;
			break;
		}
	}
	if (c->used == c->len)
		c->used = c->len = 0;
	return 1;
}

/* -- (a) to (d): the epoll IO thread and the executors */

static void conn_close(struct conn *c)
{
	close(c->fd);
	free(c);
	atomic_fetch_sub(&srv.open, 1);
}

static void rearm(struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.ptr = c };

	if (epoll_ctl(srv.ep, EPOLL_CTL_MOD, c->fd, &ev)) {
		srv_fail(-errno, "epoll_ctl(MOD): %s", strerror(errno));
		conn_close(c);
	}
}

/* Send c->resp on the non-blocking socket, waiting for room if need be.
 * Return: 0, or -errno (the peer went away). */
static int send_resp(struct conn *c)
{
	while (c->rsent < c->rlen) {
		ssize_t k = send(c->fd, c->resp + c->rsent, c->rlen - c->rsent, MSG_NOSIGNAL);

		if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd pf = { .fd = c->fd, .events = POLLOUT };

			poll(&pf, 1, 1000);
			continue;
		}
		if (k < 0)
			return -errno;
		c->rsent += (unsigned)k;
	}
	return 0;
}

static int dispatch(struct conn *c);

/*
 * Go on with @c as its owner (the IO thread after a read, or a handler
 * after its response went out): hand its next complete request to the
 * executor, or re-arm it for reading.
 */
static void conn_next(struct conn *c)
{
	int k, ret;

	while ((k = parse(c)) > 0 && c->cls == CLS_NONE) {
		serve(c);
		if (send_resp(c) < 0) {
			conn_close(c);
			return;
		}
	}
	if (k < 0) {
		conn_close(c);
		return;
	}
	if (!k) {
		rearm(c);
		return;
	}
	if ((ret = dispatch(c)) < 0) {
		srv_fail(ret, "handing a request to the executor: %s", strerror(-ret));
		conn_close(c);
	}
}

/* The handler of (a) to (d): serve, write the response, go on. */
static void handle(void *arg)
{
	struct conn *c = arg;
	int ret;

	serve(c);
	if ((ret = send_resp(c)) < 0) {
		if (ret != -ECONNRESET && ret != -EPIPE)
			srv_fail(ret, "send: %s", strerror(-ret));
		conn_close(c);
		return;
	}
	conn_next(c);
}

static void *tp_main(void *arg)
{
	struct tpool *tp = arg;

	for (;;) {
		struct conn *c;

		pthread_mutex_lock(&tp->mu);
		while (!tp->head && !tp->stop) {
			tp->waiting++;
			pthread_cond_wait(&tp->cv, &tp->mu);
			tp->waiting--;
		}
		if (!(c = tp->head)) {
			pthread_mutex_unlock(&tp->mu);
			return NULL;
		}
		if (!(tp->head = c->next))
			tp->tail = &tp->head;
		pthread_mutex_unlock(&tp->mu);
		handle(c);
	}
}

static void tp_push(struct tpool *tp, struct conn *c)
{
	bool wake;

	c->next = NULL;
	pthread_mutex_lock(&tp->mu);
	*tp->tail = c;
	tp->tail = &c->next;
	wake = tp->waiting > 0;
	pthread_mutex_unlock(&tp->mu);
	if (wake)
		pthread_cond_signal(&tp->cv);
}

static int tp_start(struct tpool *tp, unsigned n)
{
	int ret;

	pthread_mutex_init(&tp->mu, NULL);
	pthread_cond_init(&tp->cv, NULL);
	tp->tail = &tp->head;
	if (!(tp->threads = calloc(n, sizeof(*tp->threads))))
		return -ENOMEM;
	for (; tp->nthreads < n; tp->nthreads++)
		if ((ret = pthread_create(&tp->threads[tp->nthreads], NULL, tp_main, tp)))
			return -ret;
	return 0;
}

static void tp_stop(struct tpool *tp)
{
	pthread_mutex_lock(&tp->mu);
	tp->stop = true;
	pthread_cond_broadcast(&tp->cv);
	pthread_mutex_unlock(&tp->mu);
	for (unsigned i = 0; i < tp->nthreads; i++)
		pthread_join(tp->threads[i], NULL);
	free(tp->threads);
}

static int dispatch(struct conn *c)
{
	switch (srv.cf->kind) {
	case K_POOLS:
		tp_push(&srv.tp[c->cls], c);
		return 0;
	case K_POOL64:
		tp_push(&srv.tp[0], c);
		return 0;
	case K_QUEUES:
		return rp_queue_post(srv.q[c->cls], handle, c);
	case K_POST:
		return rp_post(srv.pool, handle, c);
	default:
		return -EINVAL;
	}
}

static void *io_main(void *arg)
{
	struct epoll_event evs[256];
	int one = 1;

	(void)arg;
	prctl(PR_SET_NAME, "w8-io");
	for (;;) {
		int k = epoll_wait(srv.ep, evs, 256, -1);

		for (int j = 0; j < k; j++) {
			void *p = evs[j].data.ptr;
			struct conn *c;
			ssize_t got;
			int cfd;

			if (p == &srv.efd)
				return NULL;
			if (p != &srv.lfd) {
				c = p;
				got = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
				if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
					rearm(c);
				} else if (got <= 0) {
					conn_close(c);
				} else {
					c->len += (unsigned)got;
					conn_next(c);
				}
				continue;
			}
			while ((cfd = accept4(srv.lfd, NULL, NULL,
					      SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
				struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT };

				if (!(c = calloc(1, sizeof(*c)))) {
					srv_fail(-ENOMEM, "out of memory");
					close(cfd);
					continue;
				}
				c->fd = cfd;
				setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				atomic_fetch_add(&srv.open, 1);
				ev.data.ptr = c;
				if (epoll_ctl(srv.ep, EPOLL_CTL_ADD, cfd, &ev)) {
					srv_fail(-errno, "epoll_ctl(ADD): %s", strerror(errno));
					conn_close(c);
				}
			}
		}
	}
}

static int io_start(void)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ret;

	if ((srv.ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (srv.efd = eventfd(0, EFD_CLOEXEC)) < 0)
		return -errno;
	fcntl(srv.lfd, F_SETFL, O_NONBLOCK);
	ev.data.ptr = &srv.lfd;
	if (epoll_ctl(srv.ep, EPOLL_CTL_ADD, srv.lfd, &ev))
		return -errno;
	ev.data.ptr = &srv.efd;
	if (epoll_ctl(srv.ep, EPOLL_CTL_ADD, srv.efd, &ev))
		return -errno;
	if ((ret = pthread_create(&srv.io_thread, NULL, io_main, NULL)))
		return -ret;
	srv.io_started = true;
	return 0;
}

/* -- (e): the network through rp_io, a strand per connection */

static void e_next(struct conn *c);

/* Context: @c's strand.  Nothing of @c is in flight. */
static void e_close(struct conn *c)
{
	int ret;

	if (c->io && (ret = rp_io_close(c->io)) < 0)
		srv_fail(ret, "rp_io_close from its own callback: %s", strerror(-ret));
	if (c->q && (ret = rp_queue_close(c->q)) < 0)
		srv_fail(ret, "rp_queue_close of a connection's queue from its own callback "
			 "(after rp_io_close of the object bound to it): %s", strerror(-ret));
	close(c->fd);
	free(c);
	atomic_fetch_sub(&srv.open, 1);
}

/* Context: @c's strand; c->resp holds the response. */
static void e_send(struct conn *c)
{
	int ret;

	c->sending = true;
	if ((ret = rp_io_send(c->io, c->fd, c->resp + c->rsent, c->rlen - c->rsent,
			      MSG_NOSIGNAL)) < 0) {
		srv_fail(ret, "rp_io_send: %s", strerror(-ret));
		e_close(c);
	}
}

/* The response, handed back to the strand by the subsystem's handler. */
static void e_respond(void *arg)
{
	e_send(arg);
}

/* The handler of (e), in the subsystem's queue. */
static void e_serve(void *arg)
{
	struct conn *c = arg;
	int ret;

	serve(c);
	if ((ret = rp_queue_post(c->q, e_respond, c)) < 0) {
		/* The strand cannot have closed: nothing else runs there now. */
		srv_fail(ret, "rp_queue_post to a connection's queue: %s", strerror(-ret));
	}
}

/* Context: @c's strand, nothing in flight: serve what the buffer holds,
 * or read more. */
static void e_next(struct conn *c)
{
	int k, ret;

	if ((k = parse(c)) < 0) {
		e_close(c);
		return;
	}
	if (!k) {
		if ((ret = rp_io_recv(c->io, c->fd, c->buf + c->len, sizeof(c->buf) - c->len,
				      0)) < 0) {
			srv_fail(ret, "rp_io_recv: %s", strerror(-ret));
			e_close(c);
		}
		return;
	}
	if (c->cls == CLS_NONE) {
		serve(c);
		e_send(c);
		return;
	}
	if ((ret = rp_queue_post(srv.q[c->cls], e_serve, c)) < 0) {
		srv_fail(ret, "rp_queue_post to the %s queue: %s", cls_path[c->cls],
			 strerror(-ret));
		e_close(c);
	}
}

/* A connection's I/O completion, in its strand. */
static void e_io_done(void *arg, int res)
{
	struct conn *c = arg;

	if (res <= 0) {
		if (res < 0 && res != -ECONNRESET && res != -EPIPE)
			srv_fail(res, "a connection's %s callback: res %s",
				 c->sending ? "send" : "recv", strerror(-res));
		e_close(c);
		return;
	}
	if (!c->sending) {
		c->len += (unsigned)res;
		e_next(c);
		return;
	}
	c->rsent += (unsigned)res;
	if (c->rsent < c->rlen) {
		e_send(c);
		return;
	}
	c->sending = false;
	e_next(c);
}

static int e_accept(void)
{
	srv.acc_alen = sizeof(srv.acc_addr);
	return rp_io_accept(srv.acc, srv.lfd, (struct sockaddr *)&srv.acc_addr, &srv.acc_alen,
			    SOCK_CLOEXEC);
}

static void e_accept_done(void *arg, int res)
{
	struct rp_queue_opts qo = { .name = "conn" };
	struct rp_env env = { 0 };
	struct conn *c;
	int ret, one = 1;

	(void)arg;
	if (res < 0) {
		if (!atomic_load(&srv.stopping))
			srv_fail(res, "the accept callback: res %s", strerror(-res));
		return;
	}
	if (!atomic_load(&srv.stopping) && (ret = e_accept()) < 0)
		srv_fail(ret, "rp_io_accept from its callback: %s", strerror(-ret));
	atomic_fetch_add(&srv.open, 1);
	if (!(c = calloc(1, sizeof(*c)))) {
		srv_fail(-ENOMEM, "out of memory");
		close(res);
		atomic_fetch_sub(&srv.open, 1);
		return;
	}
	c->fd = res;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((ret = rp_queue_create(&c->q, srv.pool, 1, RP_PRIORITY_NORMAL, &qo)) < 0) {
		c->q = NULL;
		srv_fail(ret, "rp_queue_create (a connection's): %s", strerror(-ret));
		e_close(c);
		return;
	}
	env.queue = c->q;
	if ((ret = rp_io_create(&c->io, srv.pool, e_io_done, c, &env)) < 0) {
		c->io = NULL;
		srv_fail(ret, "rp_io_create with the connection's queue: %s", strerror(-ret));
		e_close(c);
		return;
	}
	/* Its first operation, started here: nothing else knows @c yet. */
	if ((ret = rp_io_recv(c->io, c->fd, c->buf, sizeof(c->buf), 0)) < 0) {
		srv_fail(ret, "rp_io_recv: %s", strerror(-ret));
		e_close(c);
	}
}

/* -- setup, windows, teardown */

static int ringpool_start(void)
{
	static const char *const qname[NCLS] = { "cpu", "db", "file" };
	/* cpu: no width.  Its callbacks never block, so the pool's own
	 * regulation (C running) bounds them; a width would be a pool size
	 * again, by hand. */
	const unsigned width[NCLS] = { RP_WIDTH_MAX, DB_THREADS, FILE_THREADS };
	int ret;

	if ((ret = rp_pool_create(&srv.pool, NULL)) < 0)
		return ret;
	if (srv.cf->kind == K_POST)
		return 0;
	for (unsigned i = 0; i < NCLS; i++) {
		struct rp_queue_opts qo = { .name = qname[i], .quantum = srv.quantum };

		if (srv.cf->runs_long && i != CLS_CPU)
			qo.flags = RP_RUNS_LONG;

		if ((ret = rp_queue_create(&srv.q[i], srv.pool, width[i], RP_PRIORITY_NORMAL,
					   &qo)) < 0)
			return ret;
	}
	return 0;
}

/* C: the concurrency a ringpool pool picks here (for (a)'s cpu pool). */
static unsigned pool_concurrency(void)
{
	struct rp_stats st;
	rp_pool *pool;

	if (rp_pool_create(&pool, NULL) < 0)
		return 0;
	if (rp_pool_stats(pool, &st) < 0)
		st.concurrency = 0;
	rp_pool_destroy(pool);
	return st.concurrency;
}

static int srv_start(struct wres *res)
{
	int ret;

	switch (srv.cf->kind) {
	case K_POOLS:
		res->conc = pool_concurrency();
		if ((ret = tp_start(&srv.tp[CLS_CPU], res->conc ? res->conc : 1)) < 0 ||
		    (ret = tp_start(&srv.tp[CLS_DB], DB_THREADS)) < 0 ||
		    (ret = tp_start(&srv.tp[CLS_FILE], FILE_THREADS)) < 0)
			return ret;
		srv.ntp = NCLS;
		return io_start();
	case K_POOL64:
		if ((ret = tp_start(&srv.tp[0], ONE_POOL_THREADS)) < 0)
			return ret;
		srv.ntp = 1;
		return io_start();
	case K_QUEUES:
	case K_POST:
		if ((ret = ringpool_start()) < 0)
			return ret;
		return io_start();
	case K_IOCP:
		if ((ret = ringpool_start()) < 0 ||
		    (ret = rp_io_create(&srv.acc, srv.pool, e_accept_done, NULL, NULL)) < 0)
			return ret;
		return e_accept();
	}
	return -EINVAL;
}

static void pool_counters(struct wres *r, bool end)
{
	struct rp_stats st;

	if (!srv.pool || rp_pool_stats(srv.pool, &st) < 0)
		return;
	r->conc = st.concurrency;
	if (!end) {
		r->created = st.threads_created;
		r->detected = st.blocks_detected;
		r->hinted = st.blocks_hinted;
		return;
	}
	r->created = st.threads_created - r->created;
	r->detected = st.blocks_detected - r->detected;
	r->hinted = st.blocks_hinted - r->hinted;
	r->have_stats = true;
}

static unsigned own_threads(void)
{
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	unsigned n;

	if (fd < 0)
		return 0;
	n = stat_threads(fd);
	close(fd);
	return n;
}

/* Wait until no connection is open, at most @secs.  Return: whether none is. */
static bool wait_closed(unsigned secs)
{
	uint64_t end = now_ns() + secs * NS;

	while (atomic_load(&srv.open)) {
		if (now_ns() > end)
			return false;
		sleep_ms(5);
	}
	return true;
}

static void srv_stop(struct wres *res)
{
	uint64_t one = 1;
	int ret;

	if (!wait_closed(STOP_S)) {
		snprintf(res->what, sizeof(res->what), "%u connections still open %d s after "
			 "the clients exited", atomic_load(&srv.open), STOP_S);
		res->err = -ETIMEDOUT;
		return;         /* no teardown: something is stuck */
	}
	atomic_store(&srv.stopping, true);
	if (srv.io_started) {
		if (write(srv.efd, &one, sizeof(one)) != sizeof(one))
			return;
		pthread_join(srv.io_thread, NULL);
	}
	for (unsigned i = 0; i < srv.ntp; i++)
		tp_stop(&srv.tp[i]);
	if (srv.acc && (ret = rp_io_close(srv.acc)) < 0)
		srv_fail(ret, "rp_io_close (accept pending): %s", strerror(-ret));
	for (unsigned i = 0; i < NCLS; i++) {
		if (!srv.q[i])
			continue;
		if ((ret = rp_queue_wait(srv.q[i], false)) < 0)
			srv_fail(ret, "rp_queue_wait(%s): %s", cls_path[i], strerror(-ret));
		if ((ret = rp_queue_close(srv.q[i])) < 0)
			srv_fail(ret, "rp_queue_close(%s): %s", cls_path[i], strerror(-ret));
	}
	if (srv.pool && (ret = rp_pool_destroy(srv.pool)) < 0)
		srv_fail(ret, "rp_pool_destroy: %s", strerror(-ret));
}

static void ctl_send(char tag, const void *buf, size_t len)
{
	if (write_all(CTL_FD, &tag, 1) < 0 || (len && write_all(CTL_FD, buf, len) < 0))
		_exit(3);
}

/*
 * A server's own process: --one CFG --file PATH --iters X.  Tells its
 * parent its port ('P'), then answers: 'S' opens a window, 'E' closes it
 * and sends 'R' and the window's result, 'Q' tears down and sends 'D'.
 */
static int one(const char *name, const char *path, double iters, bool file_hint,
	       unsigned quantum)
{
	static struct wres win, res;
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t salen = sizeof(sa);
	uint64_t cpu0 = 0, t0 = 0, served0[NCLS] = { 0 };
	uint16_t port;
	int one_ = 1, ret;

	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	srv.iters_per_us = iters;
	srv.file_hint = file_hint;
	srv.quantum = quantum;
	if (!(srv.cf = find_cfg(name))) {
		snprintf(res.what, sizeof(res.what), "no configuration %s", name);
		res.err = -EINVAL;
		goto fail;
	}
	if ((srv.file_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		res.err = -errno;
		snprintf(res.what, sizeof(res.what), "%s: %s", path, strerror(errno));
		goto fail;
	}
	/* No read-ahead: a /file request reads its 64 KiB and no more. */
	posix_fadvise(srv.file_fd, 0, 0, POSIX_FADV_RANDOM);
	posix_fadvise(srv.file_fd, 0, 0, POSIX_FADV_DONTNEED);
	/* The emulator is forked while this process has one thread. */
	if ((ret = db_start()) < 0) {
		res.err = ret;
		snprintf(res.what, sizeof(res.what), "the database emulator: %s", strerror(-ret));
		goto fail;
	}
	srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv.lfd < 0 || setsockopt(srv.lfd, SOL_SOCKET, SO_REUSEADDR, &one_, sizeof(one_)) ||
	    bind(srv.lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(srv.lfd, 4096) ||
	    getsockname(srv.lfd, (struct sockaddr *)&sa, &salen)) {
		res.err = -errno;
		snprintf(res.what, sizeof(res.what), "listening socket: %s", strerror(errno));
		goto fail;
	}
	if ((ret = srv_start(&res)) < 0) {
		res.err = ret;
		snprintf(res.what, sizeof(res.what), "starting the server: %s", strerror(-ret));
		goto fail;
	}
	port = ntohs(sa.sin_port);
	ctl_send('P', &port, sizeof(port));
	for (;;) {
		char cmd;

		if (read_within(CTL_FD, &cmd, 1, 3600) < 0)
			_exit(3);
		if (cmd == 'S') {
			memset(&win, 0, sizeof(win));
			pool_counters(&win, false);
			for (unsigned i = 0; i < NCLS; i++)
				served0[i] = atomic_load(&srv.served[i]);
			cpu0 = cpu_ns(RUSAGE_SELF);
			t0 = now_ns();
		} else if (cmd == 'E') {
			win.cpu_ns = cpu_ns(RUSAGE_SELF) - cpu0;
			win.wall_ns = now_ns() - t0;
			win.threads_end = own_threads();
			for (unsigned i = 0; i < NCLS; i++)
				win.served[i] = atomic_load(&srv.served[i]) - served0[i];
			pool_counters(&win, true);
			win.db_conns = atomic_load(&srv.db.opened);
			if ((win.err = atomic_load(&srv.err))) {
				pthread_mutex_lock(&srv.lock);
				snprintf(win.what, sizeof(win.what), "%s", srv.what);
				pthread_mutex_unlock(&srv.lock);
			}
			ctl_send('R', &win, sizeof(win));
		} else if (cmd == 'Q') {
			break;
		}
	}
	srv_stop(&res);
	if (!res.err && (res.err = atomic_load(&srv.err)))
		snprintf(res.what, sizeof(res.what), "%s", srv.what);
	kill(srv.db_pid, SIGKILL);
	waitpid(srv.db_pid, NULL, 0);
	ctl_send('D', &res, sizeof(res));
	_exit(0);
fail:
	ctl_send('D', &res, sizeof(res));
	_exit(1);
}

/* ------------------------------------------------------------- the open-loop client */

/* One /cpu request of the open-loop client. */
struct sample {
	uint64_t t_ns;                  /* intended send time, from the window's start */
	uint64_t lat_ns;                /* to its response's last byte; 0: no answer */
};

struct probe_shm {
	_Atomic unsigned n;             /* samples written */
	int err;
	char what[128];
	struct sample s[];
};

struct pconn {
	int fd;
	bool busy;
	unsigned got;
	size_t idx;                     /* its request's sample */
	uint64_t t_int;                 /* its request's intended time (absolute) */
	char buf[512];
};

static void probe_fail(struct probe_shm *sh, const char *what)
{
	snprintf(sh->what, sizeof(sh->what), "%s: %s", what, strerror(errno));
	sh->err = errno ? -errno : -EIO;
	_exit(1);
}

/* Whether @c's buffer holds one whole response.  Never more than one:
 * a connection has one request out at a time. */
static bool response_done(struct pconn *c)
{
	char *end = memmem(c->buf, c->got, "\r\n\r\n", 4), *cl;
	unsigned long len;

	if (!end)
		return false;
	*end = 0;
	cl = strstr(c->buf, "Content-Length:");
	*end = '\r';
	len = cl ? strtoul(cl + 15, NULL, 10) : 0;
	return (size_t)(end + 4 - c->buf) + len <= c->got;
}

/*
 * Send GET /cpu at @rate per second from @t0 for @secs, each on a free
 * connection of PROBE_CONNS (a request finding none waits for one; its
 * latency still counts from its intended time, so a slow server cannot
 * hide its delay behind a slower client).  Samples go to @sh.  Never
 * returns.
 */
static void probe_main(uint16_t port, uint64_t t0, unsigned secs, unsigned rate,
		       struct probe_shm *sh, size_t cap)
{
	static struct pconn pc[PROBE_CONNS];
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct epoll_event ev = { .events = EPOLLIN }, evs[PROBE_CONNS + 1];
	const uint64_t period = NS / rate, end = t0 + secs * NS;
	size_t next = 0, sent = 0, done = 0;
	char req[128];
	int ep, tfd, one = 1, rlen;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "w8-probe");
	rlen = snprintf(req, sizeof(req), "GET /cpu HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n", port);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0)
		probe_fail(sh, "epoll_create1 or timerfd_create");
	for (unsigned i = 0; i < PROBE_CONNS; i++) {
		pc[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (pc[i].fd < 0 || connect(pc[i].fd, (struct sockaddr *)&sa, sizeof(sa)))
			probe_fail(sh, "connect");
		setsockopt(pc[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fcntl(pc[i].fd, F_SETFL, O_NONBLOCK);
		ev.data.u32 = i;
		epoll_ctl(ep, EPOLL_CTL_ADD, pc[i].fd, &ev);
	}
	ev.data.u32 = PROBE_CONNS;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	{
		struct itimerspec its = { .it_value = { (time_t)(t0 / NS), (long)(t0 % NS) },
					  .it_interval = { 0, (long)period } };

		timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
	}
	while (done < next || now_ns() < end) {
		int k = epoll_wait(ep, evs, PROBE_CONNS + 1, 100);
		uint64_t now = now_ns();

		if (now > end + PROBE_TAIL_S * NS)
			break;
		for (int j = 0; j < k; j++) {
			unsigned i = evs[j].data.u32;
			struct pconn *c = &pc[i];
			ssize_t got;

			if (i == PROBE_CONNS) {
				uint64_t x;

				if (read(tfd, &x, sizeof(x)) < 0 && errno != EAGAIN)
					probe_fail(sh, "timerfd read");
				/* Every intended time passed, late ticks included. */
				while (next < cap && t0 + next * period <= now &&
				       t0 + next * period < end) {
					sh->s[next].t_ns = next * period;
					sh->s[next].lat_ns = 0;
					next++;
				}
				continue;
			}
			got = recv(c->fd, c->buf + c->got, sizeof(c->buf) - 1 - c->got, 0);
			if (got < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (!got)
				errno = ECONNRESET;     /* the server closed it */
			if (got <= 0)
				probe_fail(sh, "recv");
			c->got += (unsigned)got;
			if (!c->busy || !response_done(c))
				continue;
			sh->s[c->idx].lat_ns = now - c->t_int;
			c->busy = false;
			c->got = 0;
			done++;
		}
		/* Requests due, oldest first, on the free connections. */
		for (unsigned i = 0; i < PROBE_CONNS && sent < next; i++) {
			struct pconn *c = &pc[i];

			if (c->busy)
				continue;
			c->busy = true;
			c->idx = sent;
			c->t_int = t0 + sh->s[sent].t_ns;
			c->got = 0;
			if (send(c->fd, req, (size_t)rlen, MSG_NOSIGNAL) != rlen)
				probe_fail(sh, "send");
			sent++;
		}
		atomic_store(&sh->n, (unsigned)next);
	}
	atomic_store(&sh->n, (unsigned)next);
	_exit(0);
}

/* ------------------------------------------------------------- the parent */

struct opts {
	const char *dir, *configs, *runs, *wrk;
	bool file_hint;
	unsigned secs, reps, rate, flood, quantum;
	unsigned conns[NCLS];           /* the mixed run's wrk connections */
	char path[PATH_MAX];
	char script[PATH_MAX];          /* wrk's Lua script */
	char tmpdir[64];
	double iters_per_us;
};

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

/* What wrk said (the line our script's done() prints). */
struct wrkres {
	bool ok;
	uint64_t n, dur_us, p50_us, p99_us, max_us;
	uint64_t e_connect, e_read, e_write, e_status, e_timeout;
};

struct wrkproc {
	pid_t pid;
	FILE *out;                      /* its stdout */
};

/* A server process and its control socket. */
struct sproc {
	pid_t pid;
	int ctl, statfd;
	uint16_t port;
};

/* One run: a configuration, once, of one kind. */
struct run {
	int ret;                        /* 0, or why it failed (what says more) */
	char what[300];
	struct wrkres w[NCLS];          /* mixed: per class; isolation: the flood's in w[CLS_DB] */
	struct wres s[2];               /* the server's windows: mixed [0]; isolation A, B */
	unsigned peak[2];               /* peak threads per window */
	uint64_t client_ns, client_cpu_ns; /* mixed: wrk's wall time and CPU */
	struct wres down;               /* the teardown */
	/* isolation: the open-loop client */
	struct sample *samples;
	size_t nsamples;
	uint64_t p50[2], p99[2], lost[2], nprobe[2];
};

static void run_fail(struct run *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void run_fail(struct run *r, int err, const char *fmt, ...)
{
	va_list ap;

	if (r->ret)
		return;
	r->ret = err < 0 ? err : -EIO;
	va_start(ap, fmt);
	vsnprintf(r->what, sizeof(r->what), fmt, ap);
	va_end(ap);
}

static int server_start(const struct opts *o, const struct cfg *cf, struct sproc *sp,
			struct run *r)
{
	char iters[32], quantum[16], statp[64], tag;
	int sv[2], ret;

	snprintf(iters, sizeof(iters), "%.6f", o->iters_per_us);
	snprintf(quantum, sizeof(quantum), "%u", o->quantum);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	fflush(NULL);
	if ((sp->pid = fork()) < 0)
		return -errno;
	if (!sp->pid) {
		const char *argv[] = { "w8server", "--one", cf->name, "--file", o->path,
				       "--iters", iters, "--file-hint", o->file_hint ? "on" : "off",
				       "--quantum", quantum, NULL };

		if (sv[1] == CTL_FD)
			fcntl(CTL_FD, F_SETFD, 0);
		else if (dup2(sv[1], CTL_FD) < 0)
			_exit(127);
		execv("/proc/self/exe", (char *const *)argv);
		_exit(127);
	}
	close(sv[1]);
	sp->ctl = sv[0];
	snprintf(statp, sizeof(statp), "/proc/%d/stat", (int)sp->pid);
	sp->statfd = open(statp, O_RDONLY | O_CLOEXEC);
	if ((ret = read_within(sp->ctl, &tag, 1, 30)) < 0) {
		run_fail(r, ret, "the server did not start");
		return ret;
	}
	if (tag == 'D') {
		if (!read_within(sp->ctl, &r->down, sizeof(r->down), 5))
			run_fail(r, r->down.err, "server: %s", r->down.what);
		else
			run_fail(r, -EPIPE, "the server failed to start");
		return r->ret;
	}
	if (tag != 'P' || (ret = read_within(sp->ctl, &sp->port, sizeof(sp->port), 5)) < 0) {
		run_fail(r, -EPROTO, "no port from the server");
		return r->ret;
	}
	return 0;
}

static int server_window(struct sproc *sp, char cmd, struct wres *w, struct run *r)
{
	char tag;
	int ret;

	if ((ret = write_all(sp->ctl, &cmd, 1)) < 0) {
		run_fail(r, ret, "the server's control socket: %s", strerror(-ret));
		return ret;
	}
	if (cmd != 'E')
		return 0;
	if ((ret = read_within(sp->ctl, &tag, 1, 30)) < 0 || tag != 'R' ||
	    (ret = read_within(sp->ctl, w, sizeof(*w), 5)) < 0) {
		run_fail(r, ret ? ret : -EPROTO, "no window result from the server");
		return r->ret;
	}
	if (w->err)
		run_fail(r, w->err, "server: %s", w->what);
	return 0;
}

/* Tear the server down ('Q'), collect its last word, reap it. */
static void server_stop(struct sproc *sp, struct run *r)
{
	char cmd = 'Q', tag = 0;
	int st;

	if (sp->pid <= 0)
		return;
	if (write_all(sp->ctl, &cmd, 1) < 0 || read_within(sp->ctl, &tag, 1, STOP_S + 10) < 0 ||
	    tag != 'D' || read_within(sp->ctl, &r->down, sizeof(r->down), 5) < 0) {
		kill(sp->pid, SIGKILL);
		run_fail(r, -ETIMEDOUT, "the server did not tear down");
	} else if (r->down.err) {
		run_fail(r, r->down.err, "server teardown: %s", r->down.what);
	}
	waitpid(sp->pid, &st, 0);
	if (!r->ret && WIFSIGNALED(st))
		run_fail(r, -ECHILD, "the server was killed by signal %d", WTERMSIG(st));
	close(sp->ctl);
	if (sp->statfd >= 0)
		close(sp->statfd);
	sp->pid = 0;
}

static int wrk_start(const struct opts *o, uint16_t port, enum cls cls, unsigned conns,
		     unsigned secs, struct wrkproc *wp)
{
	char c[16], d[16], url[64];

	snprintf(c, sizeof(c), "%u", conns);
	snprintf(d, sizeof(d), "%us", secs);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, cls_path[cls]);
	if (!(wp->out = tmpfile()))
		return -errno;
	fflush(NULL);
	if ((wp->pid = fork()) < 0)
		return -errno;
	if (!wp->pid) {
		const char *argv[] = { o->wrk, "-t1", "-c", c, "-d", d, "--timeout", "10s",
				       "-s", o->script, url, NULL };
		int null = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fileno(wp->out), STDOUT_FILENO);
		if (null >= 0)
			dup2(null, STDERR_FILENO);
		execvp(o->wrk, (char *const *)argv);
		_exit(127);
	}
	return 0;
}

/* After wrk @wp exited with status @st: its numbers. */
static void wrk_collect(struct wrkproc *wp, int st, struct wrkres *w, struct run *r,
			enum cls cls)
{
	char line[512];

	memset(w, 0, sizeof(*w));
	rewind(wp->out);
	while (fgets(line, sizeof(line), wp->out)) {
		if (sscanf(line, "W8RESULT %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
			   " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
			   &w->n, &w->dur_us, &w->p50_us, &w->p99_us, &w->max_us, &w->e_connect,
			   &w->e_read, &w->e_write, &w->e_status, &w->e_timeout) == 10)
			w->ok = true;
	}
	fclose(wp->out);
	wp->out = NULL;
	if (!w->ok && WIFEXITED(st) && WEXITSTATUS(st) == 127)
		run_fail(r, -ENOENT, "wrk on %s could not be started", cls_path[cls]);
	else if (!w->ok)
		run_fail(r, -EPROTO, "wrk on %s: no result line (status 0x%x)", cls_path[cls], st);
	else if (w->e_connect + w->e_read + w->e_write + w->e_status + w->e_timeout)
		run_fail(r, -EIO, "wrk on %s: errors: connect %" PRIu64 ", read %" PRIu64
			 ", write %" PRIu64 ", status %" PRIu64 ", timeout %" PRIu64,
			 cls_path[cls], w->e_connect, w->e_read, w->e_write, w->e_status,
			 w->e_timeout);
}

/*
 * Sample the server's threads every SAMPLE_MS until the @n processes of
 * @pids have exited (their statuses in @st) and, if @until is not 0,
 * that time has passed.  @peak: the most threads seen.
 */
static void watch(struct sproc *sp, pid_t *pids, int *st, unsigned n, uint64_t until,
		  unsigned *peak)
{
	uint64_t limit = now_ns() + RUN_LIMIT_S * NS;
	unsigned alive = 0;

	for (unsigned i = 0; i < n; i++)
		alive += pids[i] > 0;

	for (;;) {
		unsigned t = sp->statfd >= 0 ? stat_threads(sp->statfd) : 0;

		*peak = t > *peak ? t : *peak;
		for (unsigned i = 0; i < n; i++) {
			if (pids[i] > 0 && waitpid(pids[i], &st[i], WNOHANG) == pids[i]) {
				pids[i] = -pids[i];
				alive--;
			}
		}
		if (!alive && (!until || now_ns() >= until))
			return;
		if (now_ns() > limit) {
			for (unsigned i = 0; i < n; i++) {
				if (pids[i] > 0) {
					kill(pids[i], SIGKILL);
					waitpid(pids[i], &st[i], 0);
					pids[i] = -pids[i];
				}
			}
			return;
		}
		sleep_ms(SAMPLE_MS);
	}
}

/* Load every class at once with wrk for @secs (the mixed run, and warm-up). */
static int mix(const struct opts *o, struct sproc *sp, unsigned secs, struct wrkres *w,
	       unsigned *peak, struct run *r)
{
	struct wrkproc wp[NCLS] = { 0 };
	uint64_t cpu0 = cpu_ns(RUSAGE_CHILDREN), t0 = now_ns();
	pid_t pids[NCLS];
	int st[NCLS] = { 0 }, ret;

	for (unsigned i = 0; i < NCLS; i++) {
		if ((ret = wrk_start(o, sp->port, (enum cls)i, o->conns[i], secs, &wp[i])) < 0) {
			run_fail(r, ret, "starting wrk: %s", strerror(-ret));
			for (unsigned j = 0; j < i; j++) {
				kill(wp[j].pid, SIGKILL);
				waitpid(wp[j].pid, NULL, 0);
				fclose(wp[j].out);
			}
			return ret;
		}
		pids[i] = wp[i].pid;
	}
	watch(sp, pids, st, NCLS, 0, peak);
	/* The clients were reaped: their CPU is in RUSAGE_CHILDREN now. */
	r->client_cpu_ns = cpu_ns(RUSAGE_CHILDREN) - cpu0;
	r->client_ns = now_ns() - t0;
	for (unsigned i = 0; i < NCLS; i++)
		wrk_collect(&wp[i], st[i], &w[i], r, (enum cls)i);
	return r->ret;
}

static void probe_stats(struct run *r, unsigned secs)
{
	for (unsigned ph = 0; ph < 2; ph++) {
		uint64_t *v = malloc((r->nsamples + 1) * sizeof(*v)), n = 0, lost = 0;

		if (!v)
			return;
		for (size_t i = 0; i < r->nsamples; i++) {
			const struct sample *s = &r->samples[i];

			if ((s->t_ns >= secs * NS) != (ph == 1))
				continue;
			if (!s->lat_ns)
				lost++;
			else
				v[n++] = s->lat_ns;
		}
		qsort(v, n, sizeof(*v), cmp_u64);
		r->nprobe[ph] = n;
		r->lost[ph] = lost;
		r->p50[ph] = n ? v[n / 2] : 0;
		r->p99[ph] = n ? v[n * 99 / 100] : 0;
		free(v);
	}
}

/*
 * One run of configuration @cf: a fresh server, a second of wrk mix to
 * warm it, then the measured part (@isolation: the open-loop /cpu client
 * for 2 × secs, wrk flooding /db in the second half; else: the wrk mix).
 */
static void run_one(const struct opts *o, const struct cfg *cf, bool isolation, struct run *r)
{
	struct sproc sp = { 0 };
	struct wrkres warm[NCLS];
	unsigned junk = 0;

	memset(r, 0, sizeof(*r));
	if (server_start(o, cf, &sp, r) < 0)
		goto out;
	{
		struct run wr = { 0 };

		mix(o, &sp, WARMUP_S, warm, &junk, &wr);
		if (wr.ret) {
			run_fail(r, wr.ret, "warm-up: %s", wr.what);
			goto out;
		}
	}
	if (!isolation) {
		if (server_window(&sp, 'S', NULL, r) < 0)
			goto out;
		mix(o, &sp, o->secs, r->w, &r->peak[0], r);
		server_window(&sp, 'E', &r->s[0], r);
	} else {
		size_t cap = (size_t)o->rate * 2 * o->secs + 16;
		size_t len = sizeof(struct probe_shm) + cap * sizeof(struct sample);
		struct probe_shm *sh = mmap(NULL, len, PROT_READ | PROT_WRITE,
					    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		uint64_t t0 = now_ns() + 200 * MS;
		struct wrkproc wp = { 0 };
		pid_t ppid, pids[2];
		int st[2] = { 0 }, ret;

		if (sh == MAP_FAILED) {
			run_fail(r, -errno, "mmap: %s", strerror(errno));
			goto out;
		}
		fflush(NULL);
		if ((ppid = fork()) < 0) {
			run_fail(r, -errno, "fork: %s", strerror(errno));
			munmap(sh, len);
			goto out;
		}
		if (!ppid)
			probe_main(sp.port, t0, 2 * o->secs, o->rate, sh, cap);
		sleep_until(t0);
		server_window(&sp, 'S', NULL, r);
		/* Phase A: the probe alone. */
		pids[0] = ppid;
		watch(&sp, pids, st, 0, t0 + o->secs * NS, &r->peak[0]);
		server_window(&sp, 'E', &r->s[0], r);
		/* Phase B: the flood. */
		server_window(&sp, 'S', NULL, r);
		if ((ret = wrk_start(o, sp.port, CLS_DB, o->flood, o->secs, &wp)) < 0) {
			run_fail(r, ret, "starting wrk: %s", strerror(-ret));
			pids[1] = -1;
		} else {
			pids[1] = wp.pid;
		}
		watch(&sp, pids, st, 2, 0, &r->peak[1]);
		server_window(&sp, 'E', &r->s[1], r);
		if (wp.out)
			wrk_collect(&wp, st[1], &r->w[CLS_DB], r, CLS_DB);
		if (sh->err)
			run_fail(r, sh->err, "the open-loop client: %s", sh->what);
		else if (!WIFEXITED(st[0]) || WEXITSTATUS(st[0]))
			run_fail(r, -ECHILD, "the open-loop client died");
		r->nsamples = atomic_load(&sh->n);
		if ((r->samples = malloc((r->nsamples + 1) * sizeof(*r->samples))))
			memcpy(r->samples, sh->s, r->nsamples * sizeof(*r->samples));
		else
			r->nsamples = 0;
		munmap(sh, len);
		probe_stats(r, o->secs);
	}
out:
	server_stop(&sp, r);
}

/* ------------------------------------------------------------- the report */

/* Median, minimum and maximum of @n values (sorted in place). */
static double med(double *v, unsigned n, double *lo, double *hi)
{
	if (!n) {
		*lo = *hi = 0;
		return 0;
	}
	qsort(v, n, sizeof(*v), cmp_double);
	*lo = v[0];
	*hi = v[n - 1];
	return v[n / 2];
}

struct stat3 {
	double m, lo, hi;
};

/* Over the good runs of @runs (@reps of them), the median of what @get says. */
static struct stat3 over(const struct run *runs, unsigned reps,
			 double (*get)(const struct run *r, unsigned arg), unsigned arg)
{
	double v[MAX_REPS];
	struct stat3 s;
	unsigned n = 0;

	for (unsigned k = 0; k < reps; k++)
		if (!runs[k].ret)
			v[n++] = get(&runs[k], arg);
	s.m = med(v, n, &s.lo, &s.hi);
	return s;
}

static unsigned good(const struct run *runs, unsigned reps)
{
	unsigned n = 0;

	for (unsigned k = 0; k < reps; k++)
		n += !runs[k].ret;
	return n;
}

static double g_rate(const struct run *r, unsigned c)
{
	return r->w[c].dur_us ? (double)r->w[c].n * 1e6 / (double)r->w[c].dur_us : 0;
}

static double g_p50(const struct run *r, unsigned c)
{
	return (double)r->w[c].p50_us / 1e3;
}

static double g_p99(const struct run *r, unsigned c)
{
	return (double)r->w[c].p99_us / 1e3;
}

static double g_peak(const struct run *r, unsigned ph)
{
	return r->peak[ph];
}

static double g_cores(const struct run *r, unsigned ph)
{
	return r->s[ph].wall_ns ? (double)r->s[ph].cpu_ns / (double)r->s[ph].wall_ns : 0;
}

static double g_client(const struct run *r, unsigned ph)
{
	(void)ph;
	return r->client_ns ? (double)r->client_cpu_ns / (double)r->client_ns : 0;
}

static double g_created(const struct run *r, unsigned ph)
{
	return (double)r->s[ph].created;
}

static double g_detected(const struct run *r, unsigned ph)
{
	return (double)r->s[ph].detected;
}

static double g_dbconns(const struct run *r, unsigned ph)
{
	return r->s[ph].db_conns;
}

static double g_pp50(const struct run *r, unsigned ph)
{
	return (double)r->p50[ph] / MS;
}

static double g_pp99(const struct run *r, unsigned ph)
{
	return (double)r->p99[ph] / MS;
}

static double g_plost(const struct run *r, unsigned ph)
{
	return (double)r->lost[ph];
}

static double g_ratio(const struct run *r, unsigned ph)
{
	(void)ph;
	return r->p99[0] ? (double)r->p99[1] / (double)r->p99[0] : 0;
}

/* "median (min–max)" with @prec decimals; the median alone where all agree. */
static const char *cell(char *buf, size_t len, struct stat3 s, int prec)
{
	char a[24], b[24], c[24];

	snprintf(a, sizeof(a), "%.*f", prec, s.m);
	snprintf(b, sizeof(b), "%.*f", prec, s.lo);
	snprintf(c, sizeof(c), "%.*f", prec, s.hi);
	if (!strcmp(b, c))
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s (%s–%s)", a, b, c);
	return buf;
}

static void say_failures(const struct run *runs, unsigned reps, const char *label)
{
	for (unsigned k = 0; k < reps; k++)
		if (runs[k].ret)
			say("- %s, repetition %u: %s: %s\n", label, k + 1,
			    strerror(-runs[k].ret), runs[k].what[0] ? runs[k].what : "no detail");
}

struct rows {
	struct run r[NCFGS][MAX_REPS];
	bool on[NCFGS];
};

static void say_mixed(const struct opts *o, struct rows *m)
{
	char c1[96], c2[96], c3[96], c4[96], c5[96], c6[96];
	bool any = false;

	say("\n## Mixed load: wrk on /db, /cpu and /file at once\n\n");
	say("Three wrk processes at once, one per class, one thread each: /db %u connections, "
	    "/cpu %u, /file %u, each a closed loop (keep-alive), %u s measured after %d s of "
	    "the same load to warm the server.  Throughput and latency per class as wrk "
	    "reports them; *mix* is the class's share of all responses.\n\n",
	    o->conns[CLS_DB], o->conns[CLS_CPU], o->conns[CLS_FILE], o->secs, WARMUP_S);
	for (unsigned c = 0; c < NCLS; c++) {
		unsigned cls = c == 0 ? CLS_DB : c == 1 ? CLS_CPU : CLS_FILE;

		say("| %s | req/s | mix | p50 ms | p99 ms |\n|---|--:|--:|--:|--:|\n",
		    cls_path[cls]);
		for (size_t i = 0; i < NCFGS; i++) {
			double tot = 0, mine = 0;

			if (!m->on[i])
				continue;
			if (!good(m->r[i], o->reps)) {
				say("| %s | failed | | | |\n", cfgs[i].label);
				continue;
			}
			for (unsigned j = 0; j < NCLS; j++) {
				double v = over(m->r[i], o->reps, g_rate, j).m;

				tot += v;
				mine += j == cls ? v : 0;
			}
			say("| %s | %s | %.0f%% | %s | %s |\n", cfgs[i].label,
			    cell(c1, sizeof(c1), over(m->r[i], o->reps, g_rate, cls), 0),
			    tot ? 100 * mine / tot : 0,
			    cell(c2, sizeof(c2), over(m->r[i], o->reps, g_p50, cls), 2),
			    cell(c3, sizeof(c3), over(m->r[i], o->reps, g_p99, cls), 2));
		}
		say("\n");
	}
	say("*Server CPU*: the server process's (getrusage), in cores; *wrk CPU*: the three "
	    "wrk processes'; the database emulator's is in neither.  *db connections*: to the "
	    "emulator, opened by the run's end (one per query in progress at the most).  "
	    "*workers started*, *blocks detected*: ringpool's counters over the window.\n\n");
	say("| configuration | all req/s | peak threads | server CPU (cores) | wrk CPU (cores) | "
	    "db connections | workers started | blocks detected |\n"
	    "|---|--:|--:|--:|--:|--:|--:|--:|\n");
	for (size_t i = 0; i < NCFGS; i++) {
		double v[MAX_REPS], lo, hi, tot;
		unsigned n = 0;

		if (!m->on[i] || !good(m->r[i], o->reps))
			continue;
		for (unsigned k = 0; k < o->reps; k++)
			if (!m->r[i][k].ret)
				v[n++] = g_rate(&m->r[i][k], 0) + g_rate(&m->r[i][k], 1) +
					 g_rate(&m->r[i][k], 2);
		tot = med(v, n, &lo, &hi);
		say("| %s | %s | %s | %s | %.2f | %s | %s | %s |\n", cfgs[i].label,
		    cell(c1, sizeof(c1), (struct stat3){ tot, lo, hi }, 0),
		    cell(c2, sizeof(c2), over(m->r[i], o->reps, g_peak, 0), 0),
		    cell(c3, sizeof(c3), over(m->r[i], o->reps, g_cores, 0), 2),
		    over(m->r[i], o->reps, g_client, 0).m,
		    cell(c4, sizeof(c4), over(m->r[i], o->reps, g_dbconns, 0), 0),
		    cfgs[i].ringpool ?
		    cell(c5, sizeof(c5), over(m->r[i], o->reps, g_created, 0), 0) : "–",
		    cfgs[i].ringpool ?
		    cell(c6, sizeof(c6), over(m->r[i], o->reps, g_detected, 0), 0) : "–");
	}
	say("\n");
	for (size_t i = 0; i < NCFGS; i++) {
		if (!m->on[i])
			continue;
		for (unsigned k = 0; k < o->reps; k++)
			any |= m->r[i][k].ret != 0;
		say_failures(m->r[i], o->reps, cfgs[i].label);
	}
	if (any)
		say("\n");
}

static void say_isolation(const struct opts *o, struct rows *s)
{
	char c1[96], c2[96], c3[96], c4[96], c5[96], c6[96];
	bool any = false;

	say("\n## Isolation: /cpu at %u requests/s, then /db flooded\n\n", o->rate);
	say("The bench's own open-loop client sends GET /cpu %u times a second on up to %u "
	    "keep-alive connections, for %u s alone and %u s more while wrk floods /db with %u "
	    "connections (one thread, closed loop).  A request's latency runs from its "
	    "*intended* send time to its response's last byte, so a late send counts against "
	    "the server.  *Lost*: requests without an answer %d s after the end.  Threads and "
	    "CPU: the server's, over each phase.\n\n",
	    o->rate, PROBE_CONNS, o->secs, o->secs, o->flood, PROBE_TAIL_S);
	say("| configuration | /cpu p50 ms | /cpu p99 ms | flood: /cpu p50 ms | flood: /cpu p99 ms "
	    "| p99 flood ÷ alone | flood: /db req/s | threads alone / flood | CPU cores alone / "
	    "flood |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
	for (size_t i = 0; i < NCFGS; i++) {
		if (!s->on[i])
			continue;
		if (!good(s->r[i], o->reps)) {
			say("| %s | failed | | | | | | | |\n", cfgs[i].label);
			continue;
		}
		say("| %s | %s | %s | %s | %s | %s | %s | %.0f / %.0f | %.2f / %.2f |\n",
		    cfgs[i].label,
		    cell(c1, sizeof(c1), over(s->r[i], o->reps, g_pp50, 0), 2),
		    cell(c2, sizeof(c2), over(s->r[i], o->reps, g_pp99, 0), 2),
		    cell(c3, sizeof(c3), over(s->r[i], o->reps, g_pp50, 1), 2),
		    cell(c4, sizeof(c4), over(s->r[i], o->reps, g_pp99, 1), 2),
		    cell(c5, sizeof(c5), over(s->r[i], o->reps, g_ratio, 0), 2),
		    cell(c6, sizeof(c6), over(s->r[i], o->reps, g_rate, CLS_DB), 0),
		    over(s->r[i], o->reps, g_peak, 0).m, over(s->r[i], o->reps, g_peak, 1).m,
		    over(s->r[i], o->reps, g_cores, 0).m, over(s->r[i], o->reps, g_cores, 1).m);
	}
	say("\n");
	for (size_t i = 0; i < NCFGS; i++) {
		double lost = 0;

		if (!s->on[i])
			continue;
		for (unsigned k = 0; k < o->reps; k++) {
			any |= s->r[i][k].ret != 0;
			lost += g_plost(&s->r[i][k], 0) + g_plost(&s->r[i][k], 1);
		}
		if (lost)
			say("- %s: %.0f /cpu requests lost over the repetitions\n", cfgs[i].label,
			    lost);
		say_failures(s->r[i], o->reps, cfgs[i].label);
	}
	if (any)
		say("\n");
}

/* The repetition whose flood p99 is the median, for the timeline. */
static const struct run *median_run(const struct run *runs, unsigned reps)
{
	const struct run *g[MAX_REPS];
	unsigned n = 0;

	for (unsigned k = 0; k < reps; k++)
		if (!runs[k].ret && runs[k].nsamples)
			g[n++] = &runs[k];
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && g[j - 1]->p99[1] > g[j]->p99[1]; j--) {
			const struct run *t = g[j];

			g[j] = g[j - 1];
			g[j - 1] = t;
		}
	return n ? g[n / 2] : NULL;
}

/* The /cpu latency over time, one block per configuration, next to the
 * report (w8_timeline.dat in @dir). */
static void write_timeline(const struct opts *o, struct rows *s, const char *dir)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/w8_timeline.dat", dir);
	if (!(f = fopen(path, "we"))) {
		say("Could not write %s: %s.\n", path, strerror(errno));
		return;
	}
	fprintf(f, "# W8 isolation: /cpu latency over time (the repetition with the median "
		"flood p99).\n# The /db flood starts at %u s.  Columns: intended send time (s), "
		"latency (ms; lost requests omitted).\n", o->secs);
	for (size_t i = 0; i < NCFGS; i++) {
		const struct run *r;

		if (!s->on[i] || !(r = median_run(s->r[i], o->reps)))
			continue;
		fprintf(f, "\"%s\"\n", cfgs[i].label);
		for (size_t j = 0; j < r->nsamples; j++)
			if (r->samples[j].lat_ns)
				fprintf(f, "%.4f %.4f\n", (double)r->samples[j].t_ns / NS,
					(double)r->samples[j].lat_ns / MS);
		fprintf(f, "\n\n");
	}
	fclose(f);
	say("The /cpu latency over time (every request of the repetition with the median "
	    "flood p99, per configuration) is in `w8_timeline.dat`; `bench/w8plot.sh DIR` "
	    "draws it as `w8_timeline.png`:\n\n![W8: /cpu latency over time, /db flooded from "
	    "%u s](w8_timeline.png)\n", o->secs);
}

static void say_target(const char *what, bool judged, bool met, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void say_target(const char *what, bool judged, bool met, const char *fmt, ...)
{
	char buf[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	say("| %s | %s | %s |\n", what, buf, !judged ? "not judged" : met ? "met" : "**missed**");
}

static void say_targets(const struct opts *o, struct rows *m, struct rows *s, bool mixed,
			bool iso)
{
	const size_t A = 0, B = 1;
	bool mab = mixed && m->on[A] && m->on[B] && good(m->r[A], o->reps) &&
		   good(m->r[B], o->reps);

	say("\n## Targets (issue W8)\n\n| target | this run | |\n|---|---|---|\n");
	for (unsigned c = 0; c < NCLS; c++) {
		char what[64];

		snprintf(what, sizeof(what), "(b) ≥ (a) in throughput, %s", cls_path[c]);
		if (mab) {
			double a = over(m->r[A], o->reps, g_rate, c).m;
			double b = over(m->r[B], o->reps, g_rate, c).m;

			say_target(what, true, b >= a, "%.0f vs %.0f req/s: %.2f×", b, a,
				   a ? b / a : 0);
		} else {
			say_target(what, false, false, "not run");
		}
	}
	if (mab) {
		double a = over(m->r[A], o->reps, g_peak, 0).m;
		double b = over(m->r[B], o->reps, g_peak, 0).m;

		say_target("(b) at most half (a)'s threads", true, b <= a / 2,
			   "%.0f vs %.0f peak threads (the server process's, main and IO thread "
			   "included; up to %u /db queries in flight, a thread each)", b, a,
			   o->conns[CLS_DB]);
	} else {
		say_target("(b) at most half (a)'s threads", false, false, "not run");
	}
	say_target("(b) no per-pool sizing", true, true,
		   "rp_pool_create(NULL options); the queue widths (db 32, file 16) are caps "
		   "on what a subsystem ties up, not threads: no thread is started for them");
	if (iso && s->on[B] && good(s->r[B], o->reps)) {
		double a = over(s->r[B], o->reps, g_pp99, 0).m;
		double f = over(s->r[B], o->reps, g_pp99, 1).m;

		say_target("(b) /cpu p99 under the flood ≤ 1.5× without", true, f <= 1.5 * a,
			   "%.2f vs %.2f ms: %.2f× (median of the runs' ratios: %.2f×)", f, a,
			   a ? f / a : 0, over(s->r[B], o->reps, g_ratio, 0).m);
	} else {
		say_target("(b) /cpu p99 under the flood ≤ 1.5× without", false, false, "not run");
	}
	if (mixed)
		say("\nA blocking database client holds a thread for each query in flight.  The "
		    "mixed run keeps up to %u /db requests in flight (its wrk connections).  So "
		    "an executor that serves them all at once has at least %u threads, plus "
		    "those of the other classes, main and the IO thread.\n", o->conns[CLS_DB],
		    o->conns[CLS_DB]);
	if (iso) {
		const char *sep = "\nThe same ratio for the others (/cpu p99 under the flood "
				  "and without it; medians): ";

		for (size_t i = 0; i < NCFGS; i++) {
			if (i == B || !s->on[i] || !good(s->r[i], o->reps))
				continue;
			say("%s%s %.2f vs %.2f ms, %.2f×", sep, cfgs[i].label,
			    over(s->r[i], o->reps, g_pp99, 1).m, over(s->r[i], o->reps, g_pp99, 0).m,
			    over(s->r[i], o->reps, g_ratio, 0).m);
			sep = "; ";
		}
		say(".\n");
	}
}

static void header(const struct opts *o, int argc, char **argv, const char *how,
		   unsigned conc)
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
	say("# W8: one pool in place of three, in an HTTP/1.1 server, %s\n\n", date);
	say("%d CPUs usable (%s); C = %u (the concurrency ringpool picks); %s %s %s; "
	    "%.1f GiB memory.  ", CPU_COUNT(&set), cpu, conc, u.sysname, u.release, u.machine,
	    (double)si.totalram * si.mem_unit / (1024.0 * 1024 * 1024));
	say("File: `%s`, 1 GiB, %s", o->path, how);
	if (!statfs(o->dir, &sf))
		say(" (file system magic 0x%lx%s)", (unsigned long)sf.f_type,
		    sf.f_type == 0xef53 ? ": ext2/3/4" : sf.f_type == 0x58465342 ? ": xfs" :
		    sf.f_type == 0x9123683e ? ": btrfs" : sf.f_type == 0x01021994 ? ": tmpfs" : "");
	say(".  wrk: `%s`.  CPU work: %.1f iterations/µs (calibrated here).\n\nCommand:",
	    o->wrk, o->iters_per_us);
	for (int i = 0; i < argc; i++)
		say(" %s", argv[i]);
	say("\n\n%u repetitions, configurations interleaved (a b c … a b c …), each run a "
	    "fresh server process whose database emulator is a process of its own.  Cells: "
	    "median (min–max) over repetitions.  Threads: the server process's peak "
	    "(/proc/PID/stat, sampled every %d ms; main and the IO thread included, the "
	    "emulator and the clients not).  CPU: getrusage of the server process over the "
	    "window, in cores (CPU time ÷ wall time).  ringpool's counters (rp_pool_stats) "
	    "over the window where a pool runs.\n\n", o->reps, SAMPLE_MS);
	say("Requests: **/cpu** computes %d µs (a calibrated chain of multiply-adds); "
	    "**/db** sends a query to the emulator over a unix socket and waits for its "
	    "answer, which comes 2 ms after the query arrived: blocking send() and recv(), "
	    "unhinted, through a connection pool that grows on demand; **/file** drops a "
	    "random 64 KiB-aligned 64 KiB range of the file from the page cache "
	    "(posix_fadvise DONTNEED), then pread()s it (the file opened with "
	    "POSIX_FADV_RANDOM: no read-ahead) and checks its first word.  Responses are "
	    "a line of text each.\n\n", CPU_WORK_US);
	say("The /file read is %s.\n\n", o->file_hint ?
	    "inside rp_blocking_begin/end (`--file-hint on`: the server's own code, hinted "
	    "as ringpool asks; a no-op outside ringpool's workers, so the same code runs "
	    "in every configuration); /db stays unhinted" :
	    "unhinted (`--file-hint off`), as /db");
	say("| configuration | threads and queues | network |\n|---|---|---|\n");
	for (size_t i = 0; i < NCFGS; i++) {
		if (!in_list(o->configs, cfgs[i].name))
			continue;
		say("| %s | ", cfgs[i].label);
		switch (cfgs[i].kind) {
		case K_POOLS:
			say("cpu pool of C = %u, db pool of %d, file pool of %d pthreads (mutex, "
			    "condition variable, FIFO each)", conc, DB_THREADS, FILE_THREADS);
			break;
		case K_QUEUES:
			say("one pool (NULL options); queues cpu (width RP_WIDTH_MAX: the pool's "
			    "C bounds it), db (width %d), file (width %d), normal priority, %s",
			    DB_THREADS, FILE_THREADS, cfgs[i].runs_long ?
			    "db and file flagged RP_RUNS_LONG (their callbacks start inside a "
			    "hint)" : "no flags");
			break;
		case K_POST:
			say("one pool (NULL options), rp_post");
			break;
		case K_POOL64:
			say("one pthread pool of %d", ONE_POOL_THREADS);
			break;
		case K_IOCP:
			say("(b)'s pool and queues");
			break;
		}
		say(" | %s |\n", cfgs[i].kind != K_IOCP ?
		    "one epoll thread (EPOLLONESHOT); the handler writes the response" :
		    "rp_io_accept; per connection a serial queue (width 1) and an rp_io "
		    "bound to it (rp_env.queue): recv, then the handler posted to the "
		    "class's queue, the response posted back to the connection's queue, "
		    "rp_io_send");
	}
}

/* ------------------------------------------------------------- setup */

/* wrk's script: one line of numbers when it is done. */
static int write_script(struct opts *o)
{
	static const char lua[] =
		"-- w8server: the numbers, one line, after wrk's own summary.\n"
		"done = function(summary, latency, requests)\n"
		"  local e = summary.errors\n"
		"  io.write(string.format(\"W8RESULT %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f "
		"%.0f %.0f\\n\",\n"
		"    summary.requests, summary.duration, latency:percentile(50),\n"
		"    latency:percentile(99), latency.max, e.connect, e.read, e.write,\n"
		"    e.status, e.timeout))\n"
		"end\n";
	FILE *f;

	snprintf(o->tmpdir, sizeof(o->tmpdir), "/tmp/w8server.XXXXXX");
	if (!mkdtemp(o->tmpdir))
		return -errno;
	snprintf(o->script, sizeof(o->script), "%s/w8.lua", o->tmpdir);
	if (!(f = fopen(o->script, "we")))
		return -errno;
	fputs(lua, f);
	return fclose(f) ? -errno : 0;
}

/* Whether @prog is an executable, by its path or on $PATH. */
static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (strchr(prog, '/'))
		return !access(prog, X_OK);
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t l = strcspn(p, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)l, l ? p : ".", prog);
		if (!access(buf, X_OK))
			return true;
		p += l + (p[l] == ':');
	}
	return false;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: w8server [--secs S] [--reps R] [--configs a,b,c,d,e,bl]\n"
		"                [--runs mixed,isolation] [--conns DB,CPU,FILE] [--flood N]\n"
		"                [--rate N] [--file-hint on|off] [--quantum N] [--dir DIR]\n"
		"                [--wrk PATH] [--out FILE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { .dir = "/var/tmp/ringpool-w8", .reps = 3, .secs = 5, .rate = 200,
			  .wrk = "wrk", .configs = DEFAULT_CONFIGS, .file_hint = true,
			  .conns = { [CLS_DB] = 32, [CLS_CPU] = 3, [CLS_FILE] = 1 } };
	const char *one_cfg = NULL, *file = NULL, *outpath = NULL;
	static struct rows mixed, iso;
	char how[128], outdir[PATH_MAX] = ".";
	double iters = 0;
	bool do_mixed, do_iso, ok = true;
	unsigned conc;
	int ret;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--secs")) {
			if (!parse_uint(v, &o.secs) || !o.secs || o.secs > 600)
				usage();
		} else if (!strcmp(a, "--reps")) {
			if (!parse_uint(v, &o.reps) || !o.reps || o.reps > MAX_REPS)
				usage();
		} else if (!strcmp(a, "--rate")) {
			if (!parse_uint(v, &o.rate) || !o.rate || o.rate > 100000)
				usage();
		} else if (!strcmp(a, "--flood")) {
			if (!parse_uint(v, &o.flood) || !o.flood)
				usage();
		} else if (!strcmp(a, "--conns")) {
			if (sscanf(v, "%u,%u,%u", &o.conns[CLS_DB], &o.conns[CLS_CPU],
				   &o.conns[CLS_FILE]) != 3 || !o.conns[0] || !o.conns[1] ||
			    !o.conns[2])
				usage();
		} else if (!strcmp(a, "--configs")) {
			o.configs = v;
		} else if (!strcmp(a, "--runs")) {
			o.runs = v;
		} else if (!strcmp(a, "--dir")) {
			o.dir = v;
		} else if (!strcmp(a, "--wrk")) {
			o.wrk = v;
		} else if (!strcmp(a, "--out")) {
			outpath = v;
		} else if (!strcmp(a, "--one")) {
			one_cfg = v;
		} else if (!strcmp(a, "--file")) {
			file = v;
		} else if (!strcmp(a, "--iters")) {
			iters = strtod(v, NULL);
		} else if (!strcmp(a, "--quantum")) {
			if (!parse_uint(v, &o.quantum))
				usage();
		} else if (!strcmp(a, "--file-hint")) {
			if (strcmp(v, "on") && strcmp(v, "off"))
				usage();
			o.file_hint = !strcmp(v, "on");
		} else {
			usage();
		}
	}
	if (one_cfg)
		return one(one_cfg, file ? file : "", iters, o.file_hint, o.quantum);

	if (!o.flood)
		o.flood = 4 * o.conns[CLS_DB];
	if (!in_path(o.wrk)) {
		fprintf(stderr, "w8server: %s not found (Debian: apt-get install wrk)\n", o.wrk);
		return 1;
	}
	if (outpath) {
		const char *slash = strrchr(outpath, '/');

		if (!(out = fopen(outpath, "we"))) {
			perror(outpath);
			return 2;
		}
		if (slash)
			snprintf(outdir, sizeof(outdir), "%.*s", (int)(slash - outpath), outpath);
	}
	do_mixed = in_list(o.runs, "mixed");
	do_iso = in_list(o.runs, "isolation");
	for (size_t i = 0; i < NCFGS; i++)
		mixed.on[i] = iso.on[i] = in_list(o.configs, cfgs[i].name);
	snprintf(o.path, sizeof(o.path), "%s/w8-1GiB.dat", o.dir);
	progress("preparing %s", o.path);
	if ((ret = prepare_file(o.dir, o.path, how, sizeof(how))) < 0) {
		fprintf(stderr, "w8server: %s: %s\n", o.path, strerror(-ret));
		return 1;
	}
	if ((ret = write_script(&o)) < 0) {
		fprintf(stderr, "w8server: wrk's script: %s\n", strerror(-ret));
		return 1;
	}
	progress("calibrating");
	o.iters_per_us = calibrate();
	conc = pool_concurrency();
	header(&o, argc, argv, how, conc);
	for (unsigned k = 0; k < o.reps; k++) {
		for (unsigned kind = 0; kind < 2; kind++) {
			struct rows *rw = kind ? &iso : &mixed;

			if (!(kind ? do_iso : do_mixed))
				continue;
			for (size_t i = 0; i < NCFGS; i++) {
				if (!rw->on[i])
					continue;
				progress("%s: %s, repetition %u of %u", kind ? "isolation" : "mixed",
					 cfgs[i].label, k + 1, o.reps);
				run_one(&o, &cfgs[i], kind, &rw->r[i][k]);
				ok &= !rw->r[i][k].ret;
			}
		}
	}
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r\033[K");
	if (do_mixed)
		say_mixed(&o, &mixed);
	if (do_iso) {
		say_isolation(&o, &iso);
		if (out)
			write_timeline(&o, &iso, outdir);
	}
	say_targets(&o, &mixed, &iso, do_mixed, do_iso);
	unlink(o.script);
	rmdir(o.tmpdir);
	if (out && (ferror(out) | fclose(out)))
		ok = false;
	return !ok;
}
