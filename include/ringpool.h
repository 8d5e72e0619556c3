/* SPDX-License-Identifier: MIT */
/*
 * ringpool - a kernel-assisted, concurrency-regulating thread pool.
 *
 * One pool holds the number of *running* workers at the number of physical
 * cores the process may use.  A worker that blocks (announced by
 * rp_blocking_begin(), or detected by the pool) is replaced at once; a
 * worker leaving a hinted block waits for a free slot before it returns to
 * user code; idle workers are woken last-in-first-out.  See ringpool(7).
 *
 * Conventions, stated once:
 *  - Every function is MT-Safe unless its comment says otherwise.
 *  - Every int function returns 0 or a negative errno value; errno itself is
 *    unspecified after any rp_ call.  On failure nothing was changed.
 *  - If a function that takes a callback returns an error, the callback will
 *    never be called.
 *  - A NULL pool argument means the default pool (rp_pool_default()).
 */
#ifndef RINGPOOL_H
#define RINGPOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>		/* socklen_t */

#ifdef __cplusplus
extern "C" {
#endif

#define RINGPOOL_VERSION_MAJOR 0
#define RINGPOOL_VERSION_MINOR 1

/* The largest concurrency a pool accepts (rp_pool_create(), and the
 * RINGPOOL_CONCURRENCY environment variable). */
#define RP_CONCURRENCY_MAX 4096u

typedef struct rp_pool rp_pool;
typedef struct rp_work rp_work;
typedef void rp_fn(void *arg);

/* Kernel objects and queues (the extended API). */
typedef struct rp_queue rp_queue;
typedef struct rp_group rp_group;
typedef struct rp_cleanup rp_cleanup;
typedef struct rp_timer rp_timer;
typedef struct rp_watch rp_watch;
typedef struct rp_io rp_io;
typedef void rp_event_fn(void *arg, int res);            /* an object's callback */
typedef void rp_cancel_fn(void *arg, void *cleanup_ctx); /* a cleanup member's, if its
                                                          * armed callback never ran */

#define RP_INFINITE UINT64_MAX  /* a timeout that never expires */
#define RP_WIDTH_MAX 0xffffffffu /* a queue without width limit */
#define RP_RUNS_LONG (1u << 0)  /* rp_env.flags, rp_queue_opts.flags: callbacks start inside a hinted
                                 * block (SetThreadpoolCallbackRunsLong) */

/*
 * Where an object's callbacks run and who owns it.  NULL, or all zero: the
 * pool itself, normal priority, no cleanup group.  Read at create; the
 * structure need not outlive the call.
 */
struct rp_env {
	rp_queue *queue;          /* callbacks run through this queue (its width,
	                           * priority, RP_RUNS_LONG); NULL: the pool */
	rp_cleanup *cleanup;      /* member of this cleanup group; NULL: none */
	rp_cancel_fn *cancel_fn;  /* for a member whose armed callback never ran */
	unsigned flags;           /* 0 or RP_RUNS_LONG */
	unsigned resv[5];         /* must be zero */
};

enum rp_priority { RP_PRIORITY_HIGH, RP_PRIORITY_NORMAL, RP_PRIORITY_LOW };

struct rp_pool_opts {
	unsigned concurrency;     /* running-worker target; 0: physical cores usable */
	unsigned min_threads;     /* idle workers never retired below this; default 0 */
	unsigned max_threads;     /* hard cap on workers; 0: library default */
	unsigned idle_timeout_ms; /* an idle worker retires after this; 0: default */
	const char *name;         /* thread name prefix; NULL: "ringpool" */
	unsigned flags;           /* 0 */
	unsigned resv[6];         /* must be zero */
};

struct rp_stats {
	unsigned concurrency;              /* target in force */
	unsigned threads;                  /* workers alive */
	unsigned idle;                     /* parked */
	unsigned running;                  /* in a callback, counted against the target */
	unsigned blocked;                  /* in a callback, blocked (hinted or detected) */
	unsigned long long queued;         /* accepted, not yet started */
	unsigned long long completed;      /* callbacks finished */
	unsigned long long threads_created;
	unsigned long long threads_retired;
	unsigned long long blocks_hinted;
	unsigned long long blocks_detected;
	unsigned long long resv[8];
};

/*
 * rp_pool_create - create a pool.
 * Context: any thread.  @opts may be NULL (all defaults); @opts->name is
 *   copied.  Workers are started on demand, never more than max_threads.
 * Return: 0 and *@poolp set; -EINVAL for a NULL @poolp, non-zero flags or
 *   resv, concurrency > RP_CONCURRENCY_MAX, min_threads > max_threads or
 *   concurrency > max_threads (max_threads 0 stands for its default, 2048
 *   or the concurrency if larger); -ENOMEM; -EAGAIN if min_threads workers
 *   cannot be started; -ENOSYS if RINGPOOL_BACKEND=uring forces a backend
 *   the system cannot provide.  *@poolp is untouched on failure.
 */
int rp_pool_create(rp_pool **poolp, const struct rp_pool_opts *opts);

/*
 * rp_pool_default - the process-wide default pool.
 * Context: any thread; created on first use with default options (and the
 *   environment variables of ringpool(7)), exactly once however many threads
 *   race.  Never destroyed: it lives until the process exits.
 * Return: the pool, or NULL if it could not be created (a later call tries
 *   again).  In a child process after fork(), a new default pool.
 */
rp_pool *rp_pool_default(void);

/*
 * rp_pool_destroy - run all accepted work, then stop and free the pool.
 * Context: any thread that is not a worker of @pool; MT-Unsafe with respect
 *   to @pool: no other call may use @pool once destroy has been called,
 *   except from callbacks that are still running on it (they may post).
 *   Blocks until the work has run; where no worker can be started to run
 *   it (the system out of threads or memory), runs it on the calling thread.
 * Lifetime: all work objects of @pool must have been closed.
 * Return: 0; -EINVAL if @pool is NULL or the default pool; -EDEADLK from a
 *   callback of @pool; -EBUSY if work objects of @pool are still open;
 *   -ECHILD for a pool inherited across fork().  On error the pool is
 *   unchanged.
 */
int rp_pool_destroy(rp_pool *pool);

/*
 * rp_pool_stats - a snapshot of the pool's counters.
 * Context: any thread; takes the pool's lock briefly, never waits for
 *   callbacks.  Each field is read atomically; the snapshot as a whole is
 *   consistent to within the callbacks that change state while it is taken.
 * Return: 0; -EINVAL if @st is NULL; -ENOMEM if @pool is NULL and the
 *   default pool cannot be created; -ECHILD for a pool inherited across
 *   fork().
 */
int rp_pool_stats(rp_pool *pool, struct rp_stats *st);

/*
 * rp_post, rp_post_prio - run @fn(@arg) once on @pool.
 * Context: any thread, including callbacks; never waits for a callback.
 *   While the pool is saturated a post takes no lock and makes no system
 *   call (it may wait for another poster at one post in 255, while that
 *   one links a new queue block).  Allocates nothing in steady state.  A
 *   post that wakes a worker takes the pool's lock briefly and makes one
 *   system call; one that finds no worker to wake starts one
 *   (pthread_create()), and the pool's first post starts its regulator
 *   thread.  Accepted work always runs: if no worker can be
 *   started for it now, the regulator starts one as soon as the system
 *   allows.
 * Return: 0; -EINVAL for a NULL @fn or an unknown @prio; -ENOMEM (out of
 *   memory, or @pool is NULL and the default pool cannot be created);
 *   -EAGAIN if the pool's first post cannot start its regulator thread;
 *   -ECHILD for a pool inherited across fork().
 */
int rp_post(rp_pool *pool, rp_fn *fn, void *arg);
int rp_post_prio(rp_pool *pool, enum rp_priority prio, rp_fn *fn, void *arg);

/*
 * rp_work_create - a reusable work object that runs @fn(@arg) at normal
 *   priority once per submission.
 * Context: any thread.
 * Return: 0 and *@workp set; -EINVAL for NULL @workp or @fn; -ENOMEM (out
 *   of memory, or @pool is NULL and the default pool cannot be created);
 *   -ECHILD for a pool inherited across fork().
 */
int rp_work_create(rp_work **workp, rp_pool *pool, rp_fn *fn, void *arg);

/*
 * rp_work_create_env - rp_work_create() in an environment: callbacks run
 *   through @env->queue (its width, priority, RP_RUNS_LONG) if set; the
 *   object is a member of @env->cleanup if set (rp_cleanup_create()); with
 *   RP_RUNS_LONG in @env->flags, each callback starts inside a hinted
 *   block (rp_blocking_begin()), as for a callback that will block.
 * Context: any thread.  @env may be NULL (as rp_work_create()).
 * Return: as rp_work_create(); also -EINVAL for non-zero @env->resv,
 *   unknown flags, a queue or cleanup group of another pool, or a closed
 *   queue.
 */
int rp_work_create_env(rp_work **workp, rp_pool *pool, rp_fn *fn, void *arg,
		       const struct rp_env *env);

/* ---- timers: a callback at a due time, once or periodically ---- */
#define RP_TIMER_ABS      (1u << 0)  /* due_ns absolute on the clock */
#define RP_TIMER_BOOTTIME (1u << 1)  /* CLOCK_BOOTTIME; neither flag: CLOCK_MONOTONIC */
#define RP_TIMER_REALTIME (1u << 2)  /* CLOCK_REALTIME */

/*
 * rp_timer_create - a timer object whose expiries call @fn(@arg, res),
 *   res = the expirations the callback delivers (>= 1).
 * Context: any thread.  The pool's first kernel object starts its event
 *   thread.  @env as for rp_work_create_env().
 * Return: 0 and *@tp set; -EINVAL (NULL @tp or @fn, bad @env); -ENOMEM;
 *   -EAGAIN (no thread for the event thread); -EMFILE; -ECHILD.  *@tp
 *   untouched on failure.
 */
int rp_timer_create(rp_timer **tp, rp_pool *pool, rp_event_fn *fn, void *arg,
		    const struct rp_env *env);

/*
 * rp_timer_set - arm @t: due in @due_ns (absolute with RP_TIMER_ABS; in
 *   the past: at once), then every @period_ns if not 0, each expiry no
 *   later than @window_ns after its due time (a periodic timer's window is
 *   at most half its period), on the clock @flags name.  Replaces an
 *   arming in progress, and expiries not yet delivered.  @due_ns
 *   RP_INFINITE leaves the timer unset.
 * Context: any thread, including @t's own callback; never waits for a
 *   callback; a system call (the event thread's doorbell) only when the
 *   timer becomes the first of its clock to expire.
 * Return: 1 if a pending expiry was replaced, 0 if none; -EINVAL (NULL or
 *   closed @t, unknown flags, both clock flags); -ENOMEM; -ECHILD.
 */
int rp_timer_set(rp_timer *t, uint64_t due_ns, uint64_t period_ns, uint64_t window_ns,
		 unsigned flags);

/*
 * rp_timer_cancel - disarm @t and drop expiries not yet delivered: after it
 *   returns, no callback of @t starts (one running finishes).
 * Return: 1 if a pending expiry was cancelled, 0 if none; -EINVAL; -ECHILD.
 */
int rp_timer_cancel(rp_timer *t);

/* rp_timer_is_set - is an expiry pending (armed, or not yet delivered)? */
bool rp_timer_is_set(const rp_timer *t);

/*
 * rp_timer_wait - wait until no callback of @t is queued or running; with
 *   @cancel_pending, cancel first (rp_timer_cancel()).
 * Context: any thread but @t's own callback; inside another callback of
 *   the pool, a hinted block.
 * Return: 0; -EINVAL; -EDEADLK from @t's own callback; -ECHILD.
 */
int rp_timer_wait(rp_timer *t, bool cancel_pending);

/*
 * rp_timer_close - cancel @t and release it.
 * Context: any thread, including @t's own callback; never blocks.
 * Lifetime: freed once a callback in progress returns; do not use @t after.
 * Return: 0; -EINVAL if @t is NULL.
 */
int rp_timer_close(rp_timer *t);

/* ---- watches: fd readiness, futex words, process exit ---- */
#define RP_WATCH_REPEAT (1u << 0)  /* fd, futex: re-arm after each callback */
#define RP_WATCH_SHARED (1u << 1)  /* futex: process-shared word */
#define RP_WATCH_PIDFD  (1u << 2)  /* pid: id is a pidfd */
#define RP_WATCH_NOREAP (1u << 3)  /* pid: leave the child waitable */

/*
 * rp_watch_create - a watch object whose events call @fn(@arg, res).
 * Context, return: as rp_timer_create().
 */
int rp_watch_create(rp_watch **wp, rp_pool *pool, rp_event_fn *fn, void *arg,
		    const struct rp_env *env);

/*
 * rp_watch_fd - one callback when @fd is ready for @events (poll(2)
 *   events), or after @timeout_ns (RP_INFINITE: none); with
 *   RP_WATCH_REPEAT, again after each callback until cancelled.
 *   res: the ready events (> 0; readiness may be spurious), -ETIMEDOUT, or
 *   -errno (a descriptor closed already: -EBADF).
 * rp_watch_futex - one callback when the 32-bit @word is woken
 *   (FUTEX_WAKE), or does not hold @val when the wait starts (res 0), or
 *   after @timeout_ns (-ETIMEDOUT).  RP_WATCH_SHARED for a word shared
 *   between processes; RP_WATCH_REPEAT as above.
 * rp_watch_pid - one callback when the child @id exits (a pid, or a pidfd
 *   with RP_WATCH_PIDFD), or after @timeout_ns.  res: its wait status
 *   (WIFEXITED()...), the child reaped unless RP_WATCH_NOREAP; -ETIMEDOUT;
 *   -errno (-ECHILD: not a child of this process).
 * Each replaces an arming in progress (cancelled as rp_watch_cancel()).
 * Context: any thread, including @w's own callback.
 * Return: 0; -EINVAL (NULL or closed @w, unknown flags, a negative @fd,
 *   unknown events, a NULL or misaligned @word, RP_WATCH_REPEAT on a
 *   process watch); -ENOMEM; -EMFILE; -ESRCH (no such process); -ECHILD.
 */
int rp_watch_fd(rp_watch *w, int fd, unsigned events, uint64_t timeout_ns, unsigned flags);
int rp_watch_futex(rp_watch *w, const uint32_t *word, uint32_t val, uint64_t timeout_ns,
		   unsigned flags);
int rp_watch_pid(rp_watch *w, int id, uint64_t timeout_ns, unsigned flags);

/*
 * rp_watch_cancel - take back the arming and any result not yet delivered:
 *   when it returns, no callback of @w starts (one running finishes), and
 *   the kernel holds no reference to the descriptor watched.
 * Return: 1 if an arming or a result was taken back, 0 if none; -EINVAL;
 *   -ECHILD.
 */
int rp_watch_cancel(rp_watch *w);

/* rp_watch_wait, rp_watch_close - as rp_timer_wait(), rp_timer_close(). */
int rp_watch_wait(rp_watch *w, bool cancel_pending);
int rp_watch_close(rp_watch *w);

/* ---- I/O: one operation in flight per object; res = what the system call returns ---- */
struct iovec;
struct msghdr;
struct sockaddr;
struct statx;

#define RP_IO_DATASYNC (1u << 0)  /* rp_io_fsync: fdatasync */

/*
 * rp_io_create - an I/O object whose operations' completions call
 *   @fn(@arg, res).
 * Context, return: as rp_timer_create().
 */
int rp_io_create(rp_io **iop, rp_pool *pool, rp_event_fn *fn, void *arg,
		 const struct rp_env *env);

/*
 * The operations: each starts one, whose callback gets in res what the
 * system call of the same name would return (a count, a descriptor, 0, or
 * -errno).  @off -1: at the file position (which the operation advances).
 * Buffers, the accept address and length, a recvmsg/sendmsg header with
 * everything it points to, and a statx buffer belong to the kernel from
 * the call until the callback starts, or until rp_io_cancel() returns 0.
 * What the kernel reads after the call returns (iovec arrays, paths,
 * connect's address, the timeout) is copied into the object.
 * Context: any thread, including @io's own callback (the callback of the
 *   new operation starts after the running one returns).
 * Return: 0 (one callback will run); -EBUSY while an operation of @io is in
 *   flight or its callback has not started; -EINVAL (NULL or closed @io, a
 *   negative descriptor, NULL buffers or paths, bad flags, @off < -1,
 *   @iovcnt outside 1..IOV_MAX); -ENOMEM; -ECHILD.
 */
int rp_io_read(rp_io *io, int fd, void *buf, size_t len, int64_t off);
int rp_io_write(rp_io *io, int fd, const void *buf, size_t len, int64_t off);
int rp_io_readv(rp_io *io, int fd, const struct iovec *iov, int iovcnt, int64_t off);
int rp_io_writev(rp_io *io, int fd, const struct iovec *iov, int iovcnt, int64_t off);
int rp_io_fsync(rp_io *io, int fd, unsigned flags);
int rp_io_openat(rp_io *io, int dirfd, const char *path, int oflags, unsigned mode);
int rp_io_statx(rp_io *io, int dirfd, const char *path, int flags, unsigned mask,
		struct statx *stx);
int rp_io_closefd(rp_io *io, int fd);
int rp_io_accept(rp_io *io, int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);
int rp_io_connect(rp_io *io, int fd, const struct sockaddr *addr, socklen_t addrlen);
int rp_io_send(rp_io *io, int fd, const void *buf, size_t len, int flags);
int rp_io_recv(rp_io *io, int fd, void *buf, size_t len, int flags);
int rp_io_sendmsg(rp_io *io, int fd, const struct msghdr *msg, int flags);
int rp_io_recvmsg(rp_io *io, int fd, struct msghdr *msg, int flags);

/*
 * rp_io_set_timeout - operations of @io started after this call end with
 *   -ETIMEDOUT if they have not completed @timeout_ns after they started
 *   (RP_INFINITE: never, the default).  An operation the kernel cannot
 *   interrupt (a disk transfer under way) completes with its own result.
 * Return: 0; -EINVAL; -ECHILD.
 */
int rp_io_set_timeout(rp_io *io, uint64_t timeout_ns);

/*
 * rp_io_submit_sqe - start a caller-prepared struct io_uring_sqe (@size
 *   64), copied; its user_data is ignored.  res: its CQE's res.
 * Return: as the operations; -EINVAL for @size other than 64, a
 *   personality, or flags that bind it to the ring (fixed file, links,
 *   buffer select, drain, CQE skip); -EOPNOTSUPP for opcodes that touch
 *   the ring or give more than one completion (fixed buffers, timeouts,
 *   cancels, MSG_RING, FILES_UPDATE, PROVIDE/REMOVE_BUFFERS, URING_CMD,
 *   zero-copy sends, multishot), and on the portable port.  An opcode the
 *   kernel lacks gives a callback with the kernel's -EINVAL.
 */
int rp_io_submit_sqe(rp_io *io, const void *sqe, size_t size);

/*
 * rp_io_cancel - stop the operation in flight.  When it returns 0 no
 *   callback runs for it, and the kernel is done with its buffers.  It
 *   waits for the kernel to let go of the operation: for one the kernel is
 *   executing and cannot interrupt (a disk transfer), until it ends.
 * Return: 0 (cancelled); -EALREADY (it completed: its callback runs);
 *   -ENOENT (nothing in flight: none started, or its callback has started
 *   already); -EINVAL; -ECHILD.
 */
int rp_io_cancel(rp_io *io);

/* rp_io_wait - as rp_timer_wait(); with @cancel_pending, cancels as
 *   rp_io_cancel() first and drops a callback not yet started. */
int rp_io_wait(rp_io *io, bool cancel_pending);

/* rp_io_close - cancel as rp_io_cancel() (a result not yet delivered is
 *   dropped: no callback starts after it returns), then release as
 *   rp_timer_close().  It waits only for the kernel, as rp_io_cancel(). */
int rp_io_close(rp_io *io);

/* ---- queues: width 1 = serial (post order, one at a time); RP_WIDTH_MAX = none ---- */
struct rp_queue_opts {
	rp_queue *target;         /* NULL: the pool; else a queue of the same pool (no cycles) */
	const char *name;         /* copied; NULL: none */
	unsigned quantum;         /* callbacks per drain before it yields; 0: default (16) */
	unsigned flags;           /* 0 or RP_RUNS_LONG */
	unsigned resv[6];         /* must be zero */
};
struct rp_queue_stats {
	unsigned width, inflight;                    /* in progress: running or blocked */
	unsigned long long queued, completed, cancelled;
	unsigned long long resv[4];
};

/*
 * rp_queue_create - a queue on @pool (NULL: the default pool) whose
 *   callbacks run at most @width at a time (1: serial, in post order;
 *   RP_WIDTH_MAX: no limit), counting those blocked in a callback, at
 *   priority @prio.  With a target queue, its callbacks also count against
 *   the target's width (widths compose along the chain).  A queue costs
 *   memory only: no thread, no descriptor.
 * Return: 0; -EINVAL (NULL @qp, width 0, bad prio, opts with non-zero
 *   reserved fields or unknown flags, a target of another pool or a closed
 *   one); -ENOMEM; -ECHILD.  *@qp untouched on failure.
 */
int rp_queue_create(rp_queue **qp, rp_pool *pool, unsigned width, enum rp_priority prio,
		    const struct rp_queue_opts *opts);
/* rp_queue_post - queue fn(arg) on @q.  Return: 0; -EINVAL (NULL @q or
 *   @fn, a closed queue); -ENOMEM; -ECHILD. */
int rp_queue_post(rp_queue *q, rp_fn *fn, void *arg);
/* rp_queue_wait - wait until @q has nothing queued and no callback in
 *   progress; with @cancel_pending, callbacks posted and not started are
 *   dropped first.  A hinted block inside callbacks.
 * Return: 0; -EINVAL; -EDEADLK from a callback of @q or of a queue that
 *   targets it; -ECHILD. */
int rp_queue_wait(rp_queue *q, bool cancel_pending);
int rp_queue_stats(rp_queue *q, struct rp_queue_stats *st);
/* rp_queue_close - release @q: callbacks posted still run; freed when
 *   they are done.  Never blocks.  Return: 0; -EINVAL; -EBUSY while
 *   objects or queues name it (nothing changed). */
int rp_queue_close(rp_queue *q);

/* ---- groups (a counter of tasks, as dispatch_group) ---- */
int rp_group_create(rp_group **gp, rp_pool *pool);
int rp_group_post(rp_group *g, rp_queue *q, rp_fn *fn, void *arg);   /* q NULL: the group's pool */
int rp_group_enter(rp_group *g);
int rp_group_leave(rp_group *g);                       /* -EINVAL below zero */
int rp_group_wait(rp_group *g, uint64_t timeout_ns);   /* 0 or -ETIMEDOUT; hinted in callbacks */
int rp_group_notify(rp_group *g, rp_queue *q, rp_fn *fn, void *arg); /* once, at the next zero */
int rp_group_close(rp_group *g);                       /* freed at zero, notifications posted */

/* ---- cleanup groups ---- */
int rp_cleanup_create(rp_cleanup **cp, rp_pool *pool);
int rp_cleanup_close_members(rp_cleanup *c, bool cancel_pending, void *cleanup_ctx);
int rp_cleanup_destroy(rp_cleanup *c);                 /* -EBUSY while it has members */


/*
 * rp_work_submit - queue one more callback of @work.  Submissions may
 *   overlap: two submits give two callbacks, possibly at once.
 * Context: any thread, including @work's own callback; never waits for a
 *   callback; takes the pool's lock and makes system calls as rp_post() does;
 *   allocates only when hundreds of tasks wait and the queue needs a block.
 * Return: 0; -EINVAL if @work is NULL or closed; -ENOMEM (only when many
 *   submissions wait and no memory is left); -EAGAIN if the pool's first
 *   post cannot start its regulator thread, or 2^24 - 1 submissions of
 *   @work wait already; -ECHILD for a work object inherited across fork().
 */
int rp_work_submit(rp_work *work);

/*
 * rp_work_wait - wait until every callback of @work submitted so far has
 *   returned.  With @cancel_pending, submissions not yet started are
 *   dropped instead (they never run).
 * Context: any thread except a callback of @work.  Inside a callback of
 *   another work object of the same pool, the wait is a hinted block, so it
 *   never deadlocks the pool.
 * Return: 0; -EINVAL if @work is NULL; -EDEADLK from @work's own callback;
 *   -ECHILD for a work object inherited across fork().
 */
int rp_work_wait(rp_work *work, bool cancel_pending);

/*
 * rp_work_close - release @work.
 * Context: any thread, including @work's own callback; does not block.
 * Lifetime: submissions already made still run; the object is freed once
 *   they are done.  Do not use @work after this call: a second close, like
 *   any other use, is undefined (as free() twice is).
 * Return: 0; -EINVAL if @work is NULL.
 */
int rp_work_close(rp_work *work);

/*
 * rp_blocking_begin, rp_blocking_end - bracket a call that may block.
 * Context: any thread; no-ops outside pool workers.  Nestable: only the
 *   outermost pair counts.  rp_blocking_begin() releases the caller's slot
 *   (and a replacement, if work is waiting); rp_blocking_end() waits for a
 *   free slot before it returns.  An unmatched rp_blocking_end() is ignored;
 *   a callback that returns inside a block has it closed for it.
 */
void rp_blocking_begin(void);
void rp_blocking_end(void);

#ifdef __cplusplus
}
#endif

#endif /* RINGPOOL_H */
