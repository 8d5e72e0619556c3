/* SPDX-License-Identifier: MIT */
/*
 * I/O objects: any system call a server waits on (reads, writes, accept,
 * connect, send, receive, fsync, openat, statx, close, or a caller's own
 * io_uring SQE) completes as a regulated callback of the pool, one
 * operation at a time per object.
 *
 * On the event ring (port.h) an operation is an SQE, prepared here, copied
 * into the ring and submitted by the event thread, which runs no user code
 * and never exits early: the request belongs to it, so it completes
 * whatever becomes of the thread that started it.  Its CQE comes back to
 * the event thread, which posts the object's task through the normal,
 * regulated path.
 *
 * On the portable port the object's task makes the system call itself on
 * a worker: first without blocking (MSG_DONTWAIT; preadv2/pwritev2 with
 * RWF_NOWAIT, which a page-cache hit satisfies), then, if it would block,
 * a socket, pipe or terminal waits for readiness on the port's epoll
 * reactor and the task tries again, while a file (regular or block
 * device; fsync, openat, statx, close) makes the blocking call inside a
 * hinted block: a slow disk holds a thread, never a slot.
 *
 * An operation's life, in io->phase (the port's lock):
 *
 *   NONE --start--> KERNEL (the event ring has it) --CQE--> NONE + result
 *        \--------> READY (portable: the task will make the call)
 *                     --task--> CALL (a worker is in the call)
 *                                 --done--> NONE + result
 *                                 --would block--> POLL (readiness) --> READY
 *   KERNEL or CALL --cancel won--> CANCELLED (the canceller's to report)
 *
 * A result goes to the task (have, result), which delivers it to the
 * callback; one task of the object at a time, so callbacks never overlap,
 * and the next operation may be started from the callback.  Each start
 * has a generation: a completion of an operation since cancelled is
 * recognised and dropped.  The timeout is a timer of the port's own
 * coalesced set (window 0): on the event ring it cancels the request and
 * its -ECANCELED becomes -ETIMEDOUT, so the callback never runs while the
 * kernel still holds the buffer.
 *
 * Cancel is synchronous: it takes back a request that has not reached the
 * kernel, cancels one that has (IORING_REGISTER_SYNC_CANCEL from the
 * caller's thread, then a pass of the event thread, port_uring.c) and
 * waits for its completion, or waits for a worker's call to end.  Whether
 * the cancel or the operation won decides its result: 0 or -EALREADY.
 */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

/* Opcodes liburing 2.3 does not name (refused in caller-made SQEs). */
enum {
	OPC_READ_MULTISHOT = 49,
	OPC_FIXED_FD_INSTALL = 54,
	OPC_RECV_ZC = 58,
	OPC_READV_FIXED = 60,
	OPC_WRITEV_FIXED = 61,
};

enum io_op {
	OP_READV, OP_WRITEV, OP_FSYNC, OP_OPENAT, OP_STATX, OP_CLOSEFD, OP_ACCEPT, OP_CONNECT,
	OP_SEND, OP_RECV, OP_SENDMSG, OP_RECVMSG, OP_SQE,
};

enum io_phase { IO_NONE, IO_KERNEL, IO_READY, IO_CALL, IO_POLL, IO_CANCELLED };

/* An operation's arguments.  What the kernel reads after the call returns
 * is kept here (iov, path, sa); the rest points into the caller's memory,
 * which is the kernel's until the callback. */
struct io_args {
	enum io_op op;
	int fd, flags;
	int64_t off;
	struct iovec *iov;            /* the object's copy: &one, or allocated (iov_owned) */
	struct iovec one;
	bool iov_owned;
	int iovcnt;
	unsigned mode, mask;
	char *path;                   /* allocated copy */
	struct statx *stx;
	struct msghdr *msg;
	struct sockaddr *addr;        /* accept */
	socklen_t *addrlen;           /* accept */
	struct sockaddr_storage sa;   /* connect: a copy */
	socklen_t salen;
};

struct rp_io {
	struct rp_obj obj;            /* the common header */
	rp_event_fn *fn;              /* I */
	void *arg;                    /* I */
	struct rp_port *port;         /* I */
	pthread_mutex_t lock;         /* the O lock: everything below but te and A */
	uint32_t gen;                 /* the current operation */
	enum io_phase phase;
	unsigned cancelling;          /* cancels waiting for the kernel or a call */
	bool timed_out;               /* the timeout fired while the kernel had it */
	bool ready_seen;              /* portable: readiness came for this operation */
	short wait_events;            /* portable: what it waits for (POLLIN, POLLOUT) */
	uint64_t timeout_ns;          /* RP_INFINITE: none */
	struct rp_tentry te;          /* T: the timeout (the port's lock) */
	uint32_t te_gen;              /* the operation te is for (a later one ignores it) */
	int file_fd;                  /* the descriptor last seen... */
	bool file_reg;                /* ...and whether it was a regular file */
	unsigned inline_skip;         /* operations left to start without the try */
	bool have;                    /* a result to deliver */
	int result;
	bool task, running;           /* a task queued or running; its callback running */
	struct io_args a;
	struct rp_kop kop;
	struct io_uring_sqe sqe;      /* the operation, prepared (event ring) */
	_Atomic uint32_t seq;         /* A: futex word, bumped at each change of state */
	_Atomic unsigned waiters;     /* A */
};

#define io_of(o) ((rp_io *)(o))
#define NEED_POLL INT_MIN             /* do_call(): wait for readiness, then again */

static int usable(const rp_io *io)
{
	if (!io || !rp__obj_armable(&io->obj))
		return -EINVAL;
	return rp__pool_valid(io->obj.pool) ? 0 : -ECHILD;
}

/* The state changed: wake whoever waits for it (cancel, wait).
 * Context: the O lock held. */
static void changed_locked(rp_io *io)
{
	atomic_fetch_add(&io->seq, 1);
	if (atomic_load(&io->waiters))
		rp__futex_wake(&io->seq, INT_MAX);
}

/* Wait for a change of state.  Context: the O lock held, and held again
 * on return; inside a callback, a hinted block (*@blocked). */
static void wait_change_locked(rp_io *io, bool *blocked)
{
	struct rp_worker *self = rp__self;
	uint32_t s = atomic_load(&io->seq);

	atomic_fetch_add(&io->waiters, 1);
	pthread_mutex_unlock(&io->lock);
	if (self && !*blocked) {
		rp__block_begin(self);
		*blocked = true;
	}
	rp__futex_wait(&io->seq, s, NULL);
	atomic_fetch_sub(&io->waiters, 1);
	pthread_mutex_lock(&io->lock);
}

static struct rp_obj *task_locked(rp_io *io)
{
	if (io->task)
		return NULL;
	io->task = true;
	rp__obj_get(&io->obj);
	return &io->obj;
}

/* The operation ended with @res: keep it for the task.  Its timeout, if
 * it had one, stays in the timer set until it expires or the next
 * operation's replaces it, and is then ignored (te_gen).
 * Return: the object to post, or NULL.  Context: the O lock held. */
static struct rp_obj *deliver_locked(rp_io *io, int res)
{
	io->phase = IO_NONE;
	io->have = true;
	io->result = res;
	changed_locked(io);
	return task_locked(io);
}

static bool stale(const rp_io *io, uint32_t gen)
{
	return (io->gen & RP_GEN_MASK) != gen;
}

static struct rp_obj *complete_locked(rp_io *io, uint32_t gen, int res)
{
	if (stale(io, gen))
		return NULL;
	if (io->phase == IO_POLL) {
		io->phase = IO_READY;
		io->ready_seen = true;
		changed_locked(io);
		return task_locked(io);
	}
	if (io->phase != IO_KERNEL)
		return NULL;
	if (res == -ECANCELED || res == -EINTR) {
		if (io->cancelling) {
			io->phase = IO_CANCELLED;
			changed_locked(io);
			return NULL;
		}
		if (io->timed_out)
			res = -ETIMEDOUT;
	}
	return deliver_locked(io, res);
}

/* The kernel side: a request of operation @gen completed (the event
 * ring's CQE: the port's lock not held, ops.own_lock), or a descriptor
 * the portable task waits for is ready (the epoll reactor: held). */
static struct rp_obj *io_complete(struct rp_obj *o, uint32_t gen, int res)
{
	rp_io *io = io_of(o);
	struct rp_obj *post;

	pthread_mutex_lock(&io->lock);
	post = complete_locked(io, gen, res);
	pthread_mutex_unlock(&io->lock);
	return post;
}

static struct rp_obj *expire_locked(rp_io *io);

/* The timeout (the event thread, the port's lock held). */
static struct rp_obj *io_expire(struct rp_tentry *e, uint64_t now)
{
	rp_io *io = (rp_io *)((char *)e - offsetof(rp_io, te));
	struct rp_obj *post;

	(void)now;
	pthread_mutex_lock(&io->lock);
	post = io->te_gen == io->gen ? expire_locked(io) : NULL;
	pthread_mutex_unlock(&io->lock);
	return post;
}

/* Context: the port's lock and the O lock held. */
static struct rp_obj *expire_locked(rp_io *io)
{
	uint32_t g = io->gen & RP_GEN_MASK;

	switch (io->phase) {
	case IO_KERNEL:
		/* Its completion (-ECANCELED, or the result it got first)
		 * delivers; unless it never reached the kernel. */
		io->timed_out = true;
		if (io->port->ops->req_abort(io->port, &io->obj, g, &io->kop))
			return deliver_locked(io, -ETIMEDOUT);
		return NULL;
	case IO_POLL:
		io->port->ops->req_abort(io->port, &io->obj, g, &io->kop);
		return deliver_locked(io, -ETIMEDOUT);
	case IO_READY:
		return deliver_locked(io, -ETIMEDOUT);
	case IO_CALL:
		io->timed_out = true; /* the call's end decides */
		return NULL;
	default:
		return NULL;
	}
}

/* ------------------------------------------------------------------ the portable calls */

static bool nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_NONBLOCK);
}

/* A call that may block for long, made inside a hinted block. */
#define HINTED(expr) ({ rp_blocking_begin(); __typeof__(expr) r_ = (expr); \
			int e_ = errno; rp_blocking_end(); errno = e_; r_; })

static int neg(long r)
{
	return r < 0 ? -errno : (int)(r > INT_MAX ? INT_MAX : r);
}

/* Read or write: without blocking first; then a file blocks in a hinted
 * block, anything else waits for readiness (or, if it cannot say "would
 * block", blocks in a hinted block once it is ready). */
static int call_rw(rp_io *io, bool write)
{
	struct io_args *a = &io->a;
	off_t off = a->off;
	struct stat st;
	bool known = !fstat(a->fd, &st);
	bool file = known && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
	long r;

	/* Pipes and sockets have no position: 0 means "here". */
	if (known && off == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		off = -1;
	r = write ? pwritev2(a->fd, a->iov, a->iovcnt, off, RWF_NOWAIT)
		  : preadv2(a->fd, a->iov, a->iovcnt, off, RWF_NOWAIT);
	if (r >= 0 || (errno != EAGAIN && errno != EOPNOTSUPP))
		return neg(r);
	if (!file && errno == EAGAIN) {
		io->wait_events = write ? POLLOUT : POLLIN;
		return NEED_POLL;
	}
	if (!file && !io->ready_seen) {
		io->wait_events = write ? POLLOUT : POLLIN;
		return NEED_POLL;
	}
	r = write ? HINTED(pwritev2(a->fd, a->iov, a->iovcnt, off, 0))
		  : HINTED(preadv2(a->fd, a->iov, a->iovcnt, off, 0));
	return neg(r);
}

/* A socket call without blocking; readiness if it would block, unless the
 * caller asked for MSG_DONTWAIT itself. */
static int call_sock(rp_io *io)
{
	struct io_args *a = &io->a;
	bool out = a->op == OP_SEND || a->op == OP_SENDMSG;
	int fl = a->flags | MSG_DONTWAIT | (out ? MSG_NOSIGNAL : 0);
	long r;

	switch (a->op) {
	case OP_SEND:
		r = send(a->fd, a->iov[0].iov_base, a->iov[0].iov_len, fl);
		break;
	case OP_RECV:
		r = recv(a->fd, a->iov[0].iov_base, a->iov[0].iov_len, fl);
		break;
	case OP_SENDMSG:
		r = sendmsg(a->fd, a->msg, fl);
		break;
	default:
		r = recvmsg(a->fd, a->msg, fl);
		break;
	}
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !(a->flags & MSG_DONTWAIT)) {
		io->wait_events = out ? POLLOUT : POLLIN;
		return NEED_POLL;
	}
	return neg(r);
}

static int call_accept(rp_io *io)
{
	struct io_args *a = &io->a;
	bool nb = nonblocking(a->fd);
	int r;

	if (!nb && !io->ready_seen) {
		io->wait_events = POLLIN;
		return NEED_POLL;
	}
	r = nb ? accept4(a->fd, a->addr, a->addrlen, a->flags)
	       : HINTED(accept4(a->fd, a->addr, a->addrlen, a->flags));
	if (r < 0 && nb && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		io->wait_events = POLLIN;
		return NEED_POLL;
	}
	return neg(r);
}

static int call_connect(rp_io *io)
{
	struct io_args *a = &io->a;
	int err = 0;
	socklen_t len = sizeof(err);

	if (!nonblocking(a->fd))
		return neg(HINTED(connect(a->fd, (struct sockaddr *)&a->sa, a->salen)));
	if (io->ready_seen) {
		/* The connection attempt ended: how. */
		if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &len))
			return -errno;
		return -err;
	}
	if (!connect(a->fd, (struct sockaddr *)&a->sa, a->salen))
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	io->wait_events = POLLOUT;
	return NEED_POLL;
}

/* Make the operation's system call.  Return: its result, or NEED_POLL
 * (wait_events set).  Context: the object's task, no lock held. */
static int do_call(rp_io *io)
{
	struct io_args *a = &io->a;

	switch (a->op) {
	case OP_READV:
		return call_rw(io, false);
	case OP_WRITEV:
		return call_rw(io, true);
	case OP_SEND:
	case OP_RECV:
	case OP_SENDMSG:
	case OP_RECVMSG:
		return call_sock(io);
	case OP_ACCEPT:
		return call_accept(io);
	case OP_CONNECT:
		return call_connect(io);
	case OP_FSYNC:
		return neg(HINTED(a->flags & RP_IO_DATASYNC ? fdatasync(a->fd) : fsync(a->fd)));
	case OP_OPENAT:
		return neg(HINTED(openat(a->fd, a->path, a->flags, a->mode)));
	case OP_STATX:
		return neg(HINTED(statx(a->fd, a->path, a->flags, a->mask, a->stx)));
	case OP_CLOSEFD:
		return neg(HINTED(close(a->fd)));
	default:
		return -EOPNOTSUPP; /* refused at the start */
	}
}

/* ------------------------------------------------------------------ the task */

/* Callbacks one task delivers before it makes way: a chain of operations
 * that complete at once (cached reads started from their own callbacks)
 * would otherwise hold the worker for good. */
#define IO_QUANTUM 16u

/* The portable call would block: wait for readiness on the epoll
 * reactor, whose registrations are under the port's lock, which comes
 * before the O lock.  Return: the object to post, or NULL.
 * Context: the O lock held (and dropped for a moment); phase CALL. */
static struct rp_obj *poll_locked(rp_io *io)
{
	struct rp_port *port = io->port;
	struct rp_obj *post = NULL;
	int ret;

	pthread_mutex_unlock(&io->lock);
	pthread_mutex_lock(&port->lock);
	pthread_mutex_lock(&io->lock);
	/* Still CALL: a cancel waits for its end, a timeout only marks it. */
	if (io->cancelling) {
		io->phase = IO_CANCELLED;
	} else if (io->timed_out) {
		post = deliver_locked(io, -ETIMEDOUT);
	} else {
		io->phase = IO_POLL;
		io->kop = (struct rp_kop){ .kind = RP_KOP_POLL, .fd = io->a.fd,
					   .events = (unsigned)io->wait_events };
		rp__obj_get(&io->obj); /* the request's */
		ret = port->ops->req_arm(port, &io->obj, io->gen & RP_GEN_MASK, &io->kop);
		if (ret) {
			rp__obj_put(&io->obj);
			post = deliver_locked(io, ret);
		}
	}
	changed_locked(io);
	pthread_mutex_unlock(&port->lock);
	return post;
}

/*
 * The object's task (a worker): make the portable call, deliver results
 * to the callback one at a time, and go on while there is something left
 * for it, up to IO_QUANTUM callbacks; then it queues itself again behind
 * the pool's other work.
 */
static bool io_run(struct rp_obj *o)
{
	rp_io *io = io_of(o);
	unsigned ran = 0;

	pthread_mutex_lock(&io->lock);
	for (;;) {
		if (io->have && rp__obj_closed(o)) {
			io->have = false; /* closed: no callback starts */
			continue;
		}
		if (io->have && ran == IO_QUANTUM) {
			/* Make way; the entry keeps the task's reference. */
			pthread_mutex_unlock(&io->lock);
			if (!rp__obj_yield(o))
				return true;
			pthread_mutex_lock(&io->lock);
			ran = 0; /* no memory: go on here */
		}
		if (io->have) {
			int res = io->result;

			io->have = false;
			io->running = true;
			pthread_mutex_unlock(&io->lock);
			rp__obj_callback_begin(o);
			io->fn(io->arg, res);
			rp__obj_callback_end(o);
			ran++;
			pthread_mutex_lock(&io->lock);
			io->running = false;
			changed_locked(io);
			continue;
		}
		if (io->phase == IO_READY) {
			int res;

			io->phase = IO_CALL;
			pthread_mutex_unlock(&io->lock);
			res = do_call(io);
			pthread_mutex_lock(&io->lock);
			/* This task goes on: it is the one delivering, so a
			 * post comes back NULL. */
			if (res != NEED_POLL)
				deliver_locked(io, res);
			else
				poll_locked(io);
			continue;
		}
		break;
	}
	io->task = false;
	changed_locked(io);
	pthread_mutex_unlock(&io->lock);
	rp__obj_put(o);
	return ran > 0;
}

static void io_abandon(struct rp_obj *o)
{
	rp_io *io = io_of(o);

	pthread_mutex_lock(&io->lock);
	io->running = false;
	io->task = false;
	changed_locked(io);
	pthread_mutex_unlock(&io->lock);
	rp__obj_put(o);
}

static void args_free(struct io_args *a)
{
	if (a->iov_owned)
		free(a->iov);
	free(a->path);
}

static void io_free(struct rp_obj *o)
{
	rp_io *io = io_of(o);

	args_free(&io->a);
	pthread_mutex_destroy(&io->lock);
	free(io);
}

static bool io_stop(struct rp_obj *o, bool drop);
static void io_quiesce(struct rp_obj *o);
static void io_close(struct rp_obj *o);

static const struct rp_obj_ops io_ops = {
	.run = io_run,
	.abandon = io_abandon,
	.free = io_free,
	.complete = io_complete,
	.own_lock = true,
	.stop = io_stop,
	.quiesce = io_quiesce,
	.close = io_close,
};

RP_EXPORT int rp_io_create(rp_io **iop, rp_pool *pool, rp_event_fn *fn, void *arg,
			   const struct rp_env *env)
{
	struct rp_port *port;
	struct rp_obj *o;
	rp_io *io;
	int ret;

	if (!iop || !fn)
		return -EINVAL;
	ret = rp__obj_new(&o, sizeof(*io), RP_FAULT_ALLOC_IO, &io_ops, RP_OBJ_IO, pool, env, arg,
			  &port);
	if (ret)
		return ret;
	io = (rp_io *)o;
	io->fn = fn;
	io->arg = arg;
	io->port = port;
	pthread_mutex_init(&io->lock, NULL);
	io->timeout_ns = RP_INFINITE;
	io->file_fd = -1;
	io->te.expire = io_expire;
	io->te.idx = UINT32_MAX;
	rp__obj_publish(&io->obj);
	*iop = io;
	return 0;
}

/* ------------------------------------------------------------------ starting */

/* Prepare the event ring's SQE for @a. */
static void prep_sqe(struct io_uring_sqe *sqe, struct io_args *a)
{
	switch (a->op) {
	case OP_READV:
		if (a->iovcnt == 1)
			io_uring_prep_read(sqe, a->fd, a->iov[0].iov_base, (unsigned)a->iov[0].iov_len,
					   (uint64_t)a->off);
		else
			io_uring_prep_readv(sqe, a->fd, a->iov, (unsigned)a->iovcnt, (uint64_t)a->off);
		break;
	case OP_WRITEV:
		if (a->iovcnt == 1)
			io_uring_prep_write(sqe, a->fd, a->iov[0].iov_base,
					    (unsigned)a->iov[0].iov_len, (uint64_t)a->off);
		else
			io_uring_prep_writev(sqe, a->fd, a->iov, (unsigned)a->iovcnt, (uint64_t)a->off);
		break;
	case OP_FSYNC:
		io_uring_prep_fsync(sqe, a->fd, a->flags & RP_IO_DATASYNC ? IORING_FSYNC_DATASYNC : 0);
		break;
	case OP_OPENAT:
		io_uring_prep_openat(sqe, a->fd, a->path, a->flags, a->mode);
		break;
	case OP_STATX:
		io_uring_prep_statx(sqe, a->fd, a->path, a->flags, a->mask, a->stx);
		break;
	case OP_CLOSEFD:
		io_uring_prep_close(sqe, a->fd);
		break;
	case OP_ACCEPT:
		io_uring_prep_accept(sqe, a->fd, a->addr, a->addrlen, a->flags);
		break;
	case OP_CONNECT:
		io_uring_prep_connect(sqe, a->fd, (struct sockaddr *)&a->sa, a->salen);
		break;
	case OP_SEND:
		io_uring_prep_send(sqe, a->fd, a->iov[0].iov_base, a->iov[0].iov_len,
				   a->flags | MSG_NOSIGNAL);
		break;
	case OP_RECV:
		io_uring_prep_recv(sqe, a->fd, a->iov[0].iov_base, a->iov[0].iov_len, a->flags);
		break;
	case OP_SENDMSG:
		io_uring_prep_sendmsg(sqe, a->fd, a->msg, (unsigned)(a->flags | MSG_NOSIGNAL));
		break;
	case OP_RECVMSG:
		io_uring_prep_recvmsg(sqe, a->fd, a->msg, (unsigned)a->flags);
		break;
	case OP_SQE:
		break; /* copied by the caller */
	}
}

/* Is @fd a regular file?  Asked once per descriptor an object sees: a
 * stale answer (the number reused for another kind of file) costs only
 * a try that says "would block", never a wrong result.
 * Context: the O lock held. */
static bool regular_locked(rp_io *io, int fd)
{
	struct stat st;

	if (io->file_fd != fd) {
		io->file_fd = fd;
		io->file_reg = !fstat(fd, &st) && S_ISREG(st.st_mode);
	}
	return io->file_reg;
}

/* Can the event ring's operation be tried at once on the calling thread?
 * A read at an offset of a regular file (RWF_NOWAIT: done from the page
 * cache, or not at all), and a send (MSG_DONTWAIT).  Done here, the copy
 * runs on the caller's core instead of the event thread's, and needs no
 * hand-over; io_uring would try the same inline at submission.
 * Context: the O lock held. */
static bool inline_ok(rp_io *io)
{
	const struct io_args *a = &io->a;

	switch (a->op) {
	case OP_READV:
		return a->off >= 0 && regular_locked(io, a->fd);
	case OP_SEND:
	case OP_SENDMSG:
		return true;
	default:
		return false;
	}
}

#define TRY_RING INT_MIN	/* inline_try(): not done, the ring does it */
#define IO_INLINE_BACKOFF 8u	/* after a try that missed, starts without one */

/* The try.  Return: the result, or TRY_RING.  A short read (part of the
 * range not cached) is not a result: the ring reads the whole.
 * Context: no lock; phase CALL. */
static int inline_try(rp_io *io)
{
	const struct io_args *a = &io->a;
	size_t want = 0;
	long r;

	if (a->op == OP_READV) {
		for (int i = 0; i < a->iovcnt; i++)
			want += a->iov[i].iov_len;
		r = preadv2(a->fd, a->iov, a->iovcnt, a->off, RWF_NOWAIT);
		if (r >= 0)
			return (size_t)r == want || r == 0 ? neg(r) : TRY_RING;
	} else {
		int fl = a->flags | MSG_DONTWAIT | MSG_NOSIGNAL;

		r = a->op == OP_SEND ? send(a->fd, a->iov[0].iov_base, a->iov[0].iov_len, fl)
				     : sendmsg(a->fd, a->msg, fl);
		if (r >= 0 || (a->flags & MSG_DONTWAIT))
			return neg(r);
	}
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EOPNOTSUPP || errno == EINVAL
		       ? TRY_RING : -errno;
}

/*
 * Start the operation @a on @io (@sqe: a caller's SQE for OP_SQE).  What
 * @a owns (an allocated iov, the path) goes to the object, or is freed
 * here on failure; a single vector is @a->one.  Without a timeout only the
 * object's lock is taken (and the event ring's list's); with one, the
 * port's too, first, for the timer set.
 * Return: 0, -EBUSY, -EOPNOTSUPP (an SQE on the portable port), -ENOMEM,
 * -EINVAL, -ECHILD.
 */
static int start(rp_io *io, struct io_args *a, const struct io_uring_sqe *sqe)
{
	struct rp_port *port;
	struct rp_obj *post = NULL;
	struct io_args old;
	uint64_t timeout;
	bool kick = false;
	int ret = usable(io);

	if (ret)
		goto fail;
	port = io->port;
	if (a->op == OP_SQE && !port->sqe_ok) {
		ret = -EOPNOTSUPP;
		goto fail;
	}
	pthread_mutex_lock(&io->lock);
	timeout = io->timeout_ns;
	if (timeout != RP_INFINITE) {
		/* The port's lock comes first. */
		pthread_mutex_unlock(&io->lock);
		pthread_mutex_lock(&port->lock);
		if (rp__timerset_reserve(&port->timers[RP_CLOCK_MONO], 0)) {
			pthread_mutex_unlock(&port->lock);
			ret = -ENOMEM;
			goto fail;
		}
		pthread_mutex_lock(&io->lock);
	}
	ret = -EINVAL;
	if (!rp__obj_armable(&io->obj)) /* a close under way: it cancels after this look */
		goto fail_locked;
	ret = -EBUSY;
	if (io->phase != IO_NONE || io->have || io->cancelling)
		goto fail_locked;
	old = io->a;
	io->a = *a;
	if (!io->a.iov_owned)
		io->a.iov = &io->a.one;
	io->gen++;
	io->timed_out = io->ready_seen = false;
	if (port->sqe_ok && timeout == RP_INFINITE && inline_ok(io) &&
	    (io->inline_skip == 0 || --io->inline_skip == 0)) {
		int res;

		io->phase = IO_CALL; /* a cancel waits for the try */
		pthread_mutex_unlock(&io->lock);
		res = inline_try(io);
		pthread_mutex_lock(&io->lock);
		if (res != TRY_RING) {
			post = deliver_locked(io, res);
			goto started;
		}
		/* Missed (not cached, or the socket full): the next few
		 * go straight to the ring. */
		io->inline_skip = IO_INLINE_BACKOFF;
		if (io->cancelling) {
			io->phase = IO_CANCELLED;
			changed_locked(io);
			goto started;
		}
	}
	if (port->sqe_ok) {
		if (a->op == OP_SQE) {
			io->sqe = *sqe;
		} else {
			memset(&io->sqe, 0, sizeof(io->sqe));
			prep_sqe(&io->sqe, &io->a);
		}
		io->kop = (struct rp_kop){ .kind = RP_KOP_SQE, .sqe = &io->sqe };
		rp__obj_get(&io->obj); /* the request's */
		ret = port->ops->req_arm(port, &io->obj, io->gen & RP_GEN_MASK, &io->kop);
		if (ret) {
			rp__obj_put(&io->obj);
			io->phase = IO_NONE;
			io->a = old;
			if (!io->a.iov_owned)
				io->a.iov = &io->a.one;
			changed_locked(io);
			goto fail_locked;
		}
		io->phase = IO_KERNEL;
	} else {
		io->phase = IO_READY;
		post = task_locked(io);
	}
	if (timeout != RP_INFINITE) {
		uint64_t now = rp__clock_now(RP_CLOCK_MONO);

		if (rp__tentry_armed(&io->te))
			rp__timerset_remove(&port->timers[RP_CLOCK_MONO], &io->te);
		io->te.due = timeout > UINT64_MAX - now ? UINT64_MAX : now + timeout;
		io->te.window = 0;
		io->te.clock = RP_CLOCK_MONO;
		io->te_gen = io->gen;
		kick = rp__port_arm_locked(port, &io->te);
	}
started:
	changed_locked(io);
	pthread_mutex_unlock(&io->lock);
	if (timeout != RP_INFINITE)
		pthread_mutex_unlock(&port->lock);
	args_free(&old);
	if (kick)
		rp__port_kick(port);
	if (post)
		rp__port_post(port, post);
	return 0;
fail_locked:
	pthread_mutex_unlock(&io->lock);
	if (timeout != RP_INFINITE)
		pthread_mutex_unlock(&port->lock);
fail:
	args_free(a);
	return ret;
}

/* ------------------------------------------------------------------ the operations */

static int one(rp_io *io, enum io_op op, int fd, const void *buf, size_t len, int64_t off,
	       int flags)
{
	struct io_args a = { .op = op, .fd = fd, .off = off, .flags = flags, .iovcnt = 1,
			     .one = { (void *)buf, len } };

	if (fd < 0 || (!buf && len) || off < -1)
		return -EINVAL;
	return start(io, &a, NULL);
}

RP_EXPORT int rp_io_read(rp_io *io, int fd, void *buf, size_t len, int64_t off)
{
	return one(io, OP_READV, fd, buf, len, off, 0);
}

RP_EXPORT int rp_io_write(rp_io *io, int fd, const void *buf, size_t len, int64_t off)
{
	return one(io, OP_WRITEV, fd, buf, len, off, 0);
}

RP_EXPORT int rp_io_send(rp_io *io, int fd, const void *buf, size_t len, int flags)
{
	return one(io, OP_SEND, fd, buf, len, 0, flags);
}

RP_EXPORT int rp_io_recv(rp_io *io, int fd, void *buf, size_t len, int flags)
{
	return one(io, OP_RECV, fd, buf, len, 0, flags);
}

static int vec(rp_io *io, enum io_op op, int fd, const struct iovec *iov, int iovcnt, int64_t off)
{
	struct io_args a = { .op = op, .fd = fd, .off = off, .iovcnt = iovcnt };

	if (fd < 0 || !iov || iovcnt < 1 || iovcnt > IOV_MAX || off < -1)
		return -EINVAL;
	if (iovcnt == 1) {
		a.one = iov[0];
	} else {
		a.iov = rp__calloc(RP_FAULT_ALLOC_IO, (size_t)iovcnt, sizeof(*iov));
		if (!a.iov)
			return -ENOMEM;
		memcpy(a.iov, iov, (size_t)iovcnt * sizeof(*iov));
		a.iov_owned = true;
	}
	return start(io, &a, NULL);
}

RP_EXPORT int rp_io_readv(rp_io *io, int fd, const struct iovec *iov, int iovcnt, int64_t off)
{
	return vec(io, OP_READV, fd, iov, iovcnt, off);
}

RP_EXPORT int rp_io_writev(rp_io *io, int fd, const struct iovec *iov, int iovcnt, int64_t off)
{
	return vec(io, OP_WRITEV, fd, iov, iovcnt, off);
}

RP_EXPORT int rp_io_fsync(rp_io *io, int fd, unsigned flags)
{
	struct io_args a = { .op = OP_FSYNC, .fd = fd, .flags = (int)flags };

	if (fd < 0 || (flags & ~RP_IO_DATASYNC))
		return -EINVAL;
	return start(io, &a, NULL);
}

RP_EXPORT int rp_io_closefd(rp_io *io, int fd)
{
	struct io_args a = { .op = OP_CLOSEFD, .fd = fd };

	if (fd < 0)
		return -EINVAL;
	return start(io, &a, NULL);
}

/* A copy of @path for the object (the kernel reads it at submission). */
static int path_args(struct io_args *a, int dirfd, const char *path)
{
	if ((dirfd < 0 && dirfd != AT_FDCWD) || !path)
		return -EINVAL;
	a->fd = dirfd;
	a->path = rp__calloc(RP_FAULT_ALLOC_IO, 1, strlen(path) + 1);
	if (!a->path)
		return -ENOMEM;
	strcpy(a->path, path);
	return 0;
}

RP_EXPORT int rp_io_openat(rp_io *io, int dirfd, const char *path, int oflags, unsigned mode)
{
	struct io_args a = { .op = OP_OPENAT, .flags = oflags, .mode = mode };
	int ret = path_args(&a, dirfd, path);

	return ret ? ret : start(io, &a, NULL);
}

RP_EXPORT int rp_io_statx(rp_io *io, int dirfd, const char *path, int flags, unsigned mask,
			  struct statx *stx)
{
	struct io_args a = { .op = OP_STATX, .flags = flags, .mask = mask, .stx = stx };
	int ret;

	if (!stx)
		return -EINVAL;
	ret = path_args(&a, dirfd, path);
	return ret ? ret : start(io, &a, NULL);
}

RP_EXPORT int rp_io_accept(rp_io *io, int fd, struct sockaddr *addr, socklen_t *addrlen,
			   int flags)
{
	struct io_args a = { .op = OP_ACCEPT, .fd = fd, .addr = addr, .addrlen = addrlen,
			     .flags = flags };

	if (fd < 0 || (addr && !addrlen) || (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)))
		return -EINVAL;
	return start(io, &a, NULL);
}

RP_EXPORT int rp_io_connect(rp_io *io, int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	struct io_args a = { .op = OP_CONNECT, .fd = fd, .salen = addrlen };

	if (fd < 0 || !addr || !addrlen || addrlen > sizeof(a.sa))
		return -EINVAL;
	memcpy(&a.sa, addr, addrlen);
	return start(io, &a, NULL);
}

RP_EXPORT int rp_io_sendmsg(rp_io *io, int fd, const struct msghdr *msg, int flags)
{
	struct io_args a = { .op = OP_SENDMSG, .fd = fd, .msg = (struct msghdr *)msg,
			     .flags = flags };

	if (fd < 0 || !msg)
		return -EINVAL;
	return start(io, &a, NULL);
}

RP_EXPORT int rp_io_recvmsg(rp_io *io, int fd, struct msghdr *msg, int flags)
{
	struct io_args a = { .op = OP_RECVMSG, .fd = fd, .msg = msg, .flags = flags };

	if (fd < 0 || !msg)
		return -EINVAL;
	return start(io, &a, NULL);
}

/*
 * A caller's SQE: refuse what would bind it to the ring (fixed files and
 * buffers, links, buffer selection, drain, a skipped CQE, personalities),
 * act on other requests of the ring (timeouts, cancels, MSG_RING), or
 * complete more than once (multishot, zero-copy notifications).  Opcodes
 * unknown here go to the kernel, which answers -EINVAL in res if it lacks
 * them.
 */
static int sqe_check(const struct io_uring_sqe *s)
{
	const unsigned bad_flags = IOSQE_FIXED_FILE | IOSQE_IO_DRAIN | IOSQE_IO_LINK |
				   IOSQE_IO_HARDLINK | IOSQE_BUFFER_SELECT | IOSQE_CQE_SKIP_SUCCESS;

	if ((s->flags & bad_flags) || s->personality)
		return -EINVAL;
	switch (s->opcode) {
	case IORING_OP_READ_FIXED:
	case IORING_OP_WRITE_FIXED:
	case IORING_OP_POLL_REMOVE:
	case IORING_OP_TIMEOUT:
	case IORING_OP_TIMEOUT_REMOVE:
	case IORING_OP_ASYNC_CANCEL:
	case IORING_OP_LINK_TIMEOUT:
	case IORING_OP_FILES_UPDATE:
	case IORING_OP_PROVIDE_BUFFERS:
	case IORING_OP_REMOVE_BUFFERS:
	case IORING_OP_MSG_RING:
	case IORING_OP_URING_CMD:
	case IORING_OP_SEND_ZC:
	case IORING_OP_SENDMSG_ZC:
	case OPC_READ_MULTISHOT:
	case OPC_FIXED_FD_INSTALL:
	case OPC_RECV_ZC:
	case OPC_READV_FIXED:
	case OPC_WRITEV_FIXED:
		return -EOPNOTSUPP;
	case IORING_OP_POLL_ADD:
		return s->len & IORING_POLL_ADD_MULTI ? -EOPNOTSUPP : 0;
	case IORING_OP_ACCEPT:
		return s->ioprio & IORING_ACCEPT_MULTISHOT || s->file_index ? -EOPNOTSUPP : 0;
	case IORING_OP_RECV:
	case IORING_OP_RECVMSG:
		return s->ioprio & IORING_RECV_MULTISHOT ? -EOPNOTSUPP : 0;
	case IORING_OP_OPENAT:
	case IORING_OP_OPENAT2:
	case IORING_OP_CLOSE:
	case IORING_OP_SOCKET:
		return s->file_index ? -EOPNOTSUPP : 0;
	default:
		return 0;
	}
}

RP_EXPORT int rp_io_submit_sqe(rp_io *io, const void *sqe, size_t size)
{
	struct io_args a = { .op = OP_SQE, .fd = -1 };
	struct io_uring_sqe copy;
	int ret = usable(io);

	if (ret)
		return ret;
	if (!sqe || size != sizeof(copy))
		return -EINVAL;
	memcpy(&copy, sqe, sizeof(copy));
	ret = sqe_check(&copy);
	if (ret)
		return ret;
	copy.user_data = 0;
	return start(io, &a, &copy);
}

RP_EXPORT int rp_io_set_timeout(rp_io *io, uint64_t timeout_ns)
{
	int ret = usable(io);

	if (ret)
		return ret;
	pthread_mutex_lock(&io->lock);
	io->timeout_ns = timeout_ns ? timeout_ns : 1;
	pthread_mutex_unlock(&io->lock);
	return 0;
}

/* ------------------------------------------------------------------ cancel, wait, close */

/*
 * Stop the operation in flight; with @drop, also a result not yet
 * delivered.  Return: 0 (stopped, or its result dropped), -EALREADY (it
 * completed: its callback runs), -ENOENT (nothing in flight).
 */
static int cancel(rp_io *io, bool drop)
{
	struct rp_port *port = io->port;
	bool blocked = false;
	int ret;

	pthread_mutex_lock(&io->lock);
	io->cancelling++;
	for (;;) {
		uint32_t g = io->gen & RP_GEN_MASK;

		if (io->phase == IO_READY) {
			/* Its call has not started: the task will find nothing. */
			io->phase = IO_CANCELLED;
		} else if (io->phase == IO_POLL) {
			/* Waiting for readiness: take the registration back. */
			pthread_mutex_unlock(&io->lock);
			port->ops->req_cancel(port, &io->obj, g, &io->kop);
			pthread_mutex_lock(&io->lock);
			if (io->phase == IO_POLL && !stale(io, g))
				io->phase = IO_CANCELLED;
			continue;
		} else if (io->phase == IO_KERNEL) {
			bool gone;

			pthread_mutex_unlock(&io->lock);
			gone = port->ops->req_cancel(port, &io->obj, g, &io->kop);
			pthread_mutex_lock(&io->lock);
			if (gone && io->phase == IO_KERNEL && !stale(io, g))
				io->phase = IO_CANCELLED;
			/* Else its completion decides: wait for it below. */
		}
		if (io->phase == IO_KERNEL || io->phase == IO_CALL) {
			wait_change_locked(io, &blocked);
			continue;
		}
		break;
	}
	if (io->phase == IO_CANCELLED) {
		io->phase = IO_NONE;
		io->gen++;
		ret = 0;
	} else if (io->have) {
		ret = -EALREADY;
		if (drop) {
			io->have = false;
			ret = 0;
		}
	} else {
		ret = -ENOENT;
	}
	io->cancelling--;
	changed_locked(io);
	pthread_mutex_unlock(&io->lock);
	if (blocked)
		rp__block_end(rp__self);
	return ret;
}

RP_EXPORT int rp_io_cancel(rp_io *io)
{
	int ret = usable(io);

	return ret ? ret : cancel(io, false);
}

RP_EXPORT int rp_io_wait(rp_io *io, bool cancel_pending)
{
	struct rp_worker *self = rp__self;
	bool blocked = false;

	if (!io)
		return -EINVAL;
	if (self && self->cur_obj == &io->obj)
		return -EDEADLK;
	if (!rp__pool_valid(io->obj.pool))
		return -ECHILD;
	if (cancel_pending && !rp__obj_closed(&io->obj))
		cancel(io, true);
	pthread_mutex_lock(&io->lock);
	while (io->phase != IO_NONE || io->have || io->running || io->cancelling)
		wait_change_locked(io, &blocked);
	pthread_mutex_unlock(&io->lock);
	if (blocked)
		rp__block_end(self);
	return 0;
}

RP_EXPORT int rp_io_close(rp_io *io)
{
	rp_pool *pool;

	if (!io)
		return -EINVAL;
	pool = io->obj.pool;
	/* Closed first, so that no operation starts behind the cancel (a
	 * start looks again under the lock); our reference keeps @io. */
	rp__obj_get(&io->obj);
	if (!rp__obj_close(&io->obj)) {
		rp__obj_put(&io->obj);
		return -EINVAL;
	}
	cancel(io, true);
	/* A timeout left in the timer set (it is taken out lazily): out
	 * before the object can go.  No operation starts now to put one in. */
	pthread_mutex_lock(&io->port->lock);
	if (rp__tentry_armed(&io->te))
		rp__timerset_remove(&io->port->timers[RP_CLOCK_MONO], &io->te);
	pthread_mutex_unlock(&io->port->lock);
	rp__obj_put(&io->obj);
	/* @io may be gone: its pool is not. */
	atomic_fetch_sub(&pool->nobjects, 1);
	return 0;
}

/* Cleanup groups: stop the operation in flight (no callback for it); with
 * @drop, also a completed one's callback not yet started. */
static bool io_stop(struct rp_obj *o, bool drop)
{
	return cancel(io_of(o), drop) == 0;
}

static void io_quiesce(struct rp_obj *o)
{
	rp_io_wait(io_of(o), false);
}

static void io_close(struct rp_obj *o)
{
	rp_io_close(io_of(o));
}
