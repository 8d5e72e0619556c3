/* SPDX-License-Identifier: MIT */
/*
 * Private structures of ringpool.
 *
 * Access rules, tagged on every field (after the kernel's workqueue.c):
 *   I: set before the object is published, read-only afterwards.
 *   L: protected by pool->lock.
 *   A: atomic; any thread, ordering stated where it matters.
 *   W: owned by the worker thread itself (others may read with A: fields only).
 *   P: written by a waker under pool->lock while the worker is parked, then
 *      the worker's own (W) once it has read its wake word (acquire): the
 *      wake-word protocol of backend.h orders the two.
 *   S: written under pool->lock by whoever samples the worker (the
 *      regulator, a scanning worker), and by the worker itself as it exits.
 *   B: the backend's send_lock (backend_uring.c), a leaf.
 *
 * Lock order: pool->lock is the only pool-wide lock of the executor.  The
 * completion port's lock (port.h) guards the timer sets, the watches'
 * arming state and the retry list; inside it may be taken a timer's own
 * lock (timer.c: its delivery), an I/O object's own lock (io.c: its
 * operation), and innermost the event ring's request list lock
 * (port_uring.c), which is also taken under an I/O object's lock alone.
 * None of these is held while posting or with pool->lock (the port is
 * made under pool->lock, before anyone can take its lock).  A queue's lock
 * (queue.c) is taken with none of them held; under it may be taken its
 * target's (a drainer is pushed there) and pool->lock (a drainer posted to
 * the pool wakes a worker).  A group's and a cleanup group's locks are
 * leaves.  The backend's send_lock is a leaf, taken with nothing else
 * held, and never takes pool->lock.  The run queues, the deques and the
 * slot counters take no lock (fifo.c states their progress exactly).
 */
#ifndef RINGPOOL_INTERNAL_H
#define RINGPOOL_INTERNAL_H

#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include <ringpool.h>

#include "fault.h"
#include "object.h"

#define RP_EXPORT __attribute__((visibility("default")))
#define RP_CACHELINE 64
#define rp_likely(x) __builtin_expect(!!(x), 1)
#define rp_unlikely(x) __builtin_expect(!!(x), 0)
#define rp_aligned __attribute__((aligned(RP_CACHELINE)))

#ifdef NDEBUG
#define rp__assert_held(m) ((void)(m))
#else
#define rp__assert_held(m) rp__assert_held_fn(m)
void rp__assert_held_fn(pthread_mutex_t *m);
#endif

/* Defaults, stated in ringpool(7). */
#define RP_DEFAULT_MAX_THREADS 2048u
#define RP_DEFAULT_IDLE_TIMEOUT_MS 10000u
#define RP_RING_EXTRA 4u        /* rings beyond C: the hot workers */
#define RP_MONITOR_EXTRA 4u     /* perf monitors beyond C, at least */
#define RP_MONITOR_SLACK 64u    /* ... and beyond 2C more where resources are plentiful */
#define RP_MONITOR_IDLE_US 10000u /* a monitor is taken from a worker parked this long */
#define RP_AGING_SHARE 64u      /* one start in this many goes to a lower queue */
#define RP_SAMPLE_PERIOD_US 1000u  /* the regulator's period while nothing blocks */
#define RP_WARM_PERIOD_US 250u     /* ... and for a while after any block was seen */
#define RP_BLOCK_MIN_US 10u        /* a perf-watched sleep counts once this old */
#define RP_SCAN_PERIOD_US 20u      /* scans by workers between tasks, and by the
                                    * regulator while it keeps finding blocks */
#define RP_OVERCOMMIT 3u           /* slots beyond C, per C, while unhinted blocks
                                    * are seen (slot.c) ... */
#define RP_OVERCOMMIT_US 5000u     /* ... until this long after the last one */
#define RP_ADMIT_PATIENCE_US 1000u /* an admission waiter waits this long for a
                                    * slot freed by a block or a park before
                                    * running workers yield theirs (slot.c) */
#define RP_NPRIO 3

/* ------------------------------------------------------------------ fifo.c */

/*
 * An unbounded MPMC FIFO of (fn, arg) entries in linked blocks
 * (fifo.c).  Posting takes one CAS and allocates one block per
 * RP_FIFO_BLOCK_SLOTS entries; no lock anywhere.
 */
#define RP_FIFO_BLOCK_SLOTS 255u
#define RP_FIFO_SPARE 4u            /* freed blocks a queue keeps for reuse */

struct rp_fifo_block;

struct rp_fifo {
	rp_aligned _Atomic size_t head;            /* A: next slot to take << 1, | HAS_NEXT */
	_Atomic(struct rp_fifo_block *) head_block;    /* A: the block head is in */
	rp_aligned _Atomic size_t tail;            /* A: next slot to fill */
	_Atomic(struct rp_fifo_block *) tail_block;    /* A: the block tail is in */
	_Atomic(struct rp_fifo_block *) spare[RP_FIFO_SPARE]; /* A: freed blocks, for reuse */
};

int rp__fifo_init(struct rp_fifo *q);
void rp__fifo_fini(struct rp_fifo *q);
int rp__fifo_push(struct rp_fifo *q, rp_fn *fn, void *arg);
bool rp__fifo_pop(struct rp_fifo *q, rp_fn **fn, void **arg);
unsigned rp__fifo_pop_many(struct rp_fifo *q, rp_fn **fn, void **arg, unsigned max,
			    unsigned share);
size_t rp__fifo_len(struct rp_fifo *q);

/* ------------------------------------------------------------------ deque.c */

/* A worker's own run queue (Chase-Lev): the owner pushes and pops at the
 * bottom, thieves take from the top. */
#define RP_DEQUE_SIZE 256u      /* entries; a power of two */
#define RP_DEQUE_EXTRA 4u       /* deques beyond C */
#define RP_BATCH 16u            /* most entries a worker takes from the shared
                                 * queue at once (the rest go to its deque) */

struct rp_dslot {
	_Atomic(rp_fn *) fn;     /* A: a thief may read it while the owner reuses it */
	_Atomic(void *) arg;     /* A */
};

struct rp_deque {
	rp_aligned _Atomic int64_t top;       /* A: thieves CAS it */
	_Atomic(struct rp_worker *) owner;    /* A: NULL when free */
	_Atomic bool stalled;                 /* A: its owner does not run (deque.c) */
	_Atomic uint64_t stalled_ns;          /* A: since when (CLOCK_MONOTONIC) */
	_Atomic int64_t batch_end;            /* A, written by the owner: entries below
	                                       * this index are shared-queue work
	                                       * (a batch), or orphans once given back */
	rp_aligned _Atomic int64_t bottom;    /* A: written by the owner only */
	struct rp_dslot slot[RP_DEQUE_SIZE];  /* A: written by the owner only, read by
	                                       * thieves (a torn read loses its CAS) */
};

struct rp_worker;
int rp__deques_init(rp_pool *pool);
void rp__deques_fini(rp_pool *pool);
void rp__deque_take(rp_pool *pool, struct rp_worker *w);
void rp__deque_give(struct rp_worker *w);
void rp__deque_stall(rp_pool *pool, struct rp_deque *d);
void rp__deque_unstall(rp_pool *pool, struct rp_deque *d);
void rp__deque_stall_owner(rp_pool *pool, struct rp_worker *w);
bool rp__deque_steal_stalled(struct rp_worker *w, rp_fn **fn, void **arg);
bool rp__deque_push(struct rp_worker *w, rp_fn *fn, void *arg);
void rp__deque_push_many(struct rp_worker *w, rp_fn **fn, void **arg, unsigned n);
unsigned rp__deque_room(const struct rp_worker *w);
bool rp__deque_batch_next(const struct rp_worker *w);
bool rp__deque_pop(struct rp_worker *w, rp_fn **fn, void **arg);
bool rp__deque_steal(struct rp_worker *w, rp_fn **fn, void **arg);

/* ------------------------------------------------------------------ topology.c */

unsigned rp__topology_cores(const cpu_set_t *mask, size_t setsize, const char *sysfs_cpu);
unsigned rp__topology_cgroup_cap(const char *proc_cgroup, const char *cgroup_root);
unsigned rp__topology_parse_env(const char *s);
unsigned rp__topology_concurrency(void);

/* ------------------------------------------------------------------ worker */

/*
 * A worker's state, as the regulator and the slot accounting see it.  Only
 * the worker moves itself between states, except RUN -> DETECTED (regulator)
 * and DETECTED -> RUN (regulator or worker, whoever wins the CAS: the winner
 * takes the slot back).
 */
enum rp_wstate {
	RP_W_IDLE,     /* parked, or about to park: holds no slot */
	RP_W_SEEK,     /* holds a slot, looking for work (spinning or just woken) */
	RP_W_RUN,      /* holds a slot, in a callback */
	RP_W_HINTED,   /* in a callback, inside rp_blocking_begin/end: no slot */
	RP_W_DETECTED, /* in a callback, seen blocked by the regulator: no slot */
};

/* What a wake-up tells a parked worker. */
enum rp_wake {
	RP_WAKE_NONE = 0,
	RP_WAKE_WORK,    /* a slot was reserved for you: run hand_fn, or pull */
	RP_WAKE_ADMIT,   /* rp_blocking_end: a slot was reserved for you */
	RP_WAKE_EXIT,    /* the pool is being destroyed */
};

struct rp_monitor {
	_Atomic bool attached;       /* A: has a perf monitor; written under pool->lock */
	int perf_fd;                 /* L: -1 if none (attached by the worker, taken
	                              *    back by a sampler or a claimer, under the lock) */
	void *perf_map;              /* L: perf ring (meta page + 1 data page) */
	bool timed;                  /* L: its records carry CLOCK_MONOTONIC time */
	bool by_clock;               /* L: its last "blocked" came from the CPU-time
	                              *    clock, which cannot tell a preempted thread
	                              *    from a sleeping one */
	int proc_fd;                 /* S: cached /proc stat fd, -1 if none */
	clockid_t cpu_clock;         /* W, set before the worker's first task: its
	                              *    thread CPU-time clock (clock_sample()) */
	uint64_t last_cpu_ns;        /* S: that clock at the last sample... */
	bool cpu_sampled;            /* S: ...if there was one (0 ns is a value) */
	uint64_t last_head;          /* S: perf data_head seen at the last sample */
	unsigned last_seq;           /* S: task_seq seen at the last sample */
	unsigned strikes;            /* S: consecutive samples seen off CPU */
	unsigned watch_idx;          /* L: index in pool->reg.watch while attached */
};

struct rp_ring;

struct rp_worker {
	struct rp_pool *pool;          /* I */
	_Atomic pid_t tid;             /* A: set by the worker once it runs */
	unsigned id;                   /* I: for the thread name */

	_Atomic int state;             /* A: enum rp_wstate */
	_Atomic unsigned task_seq;     /* A: bumped by the worker at each callback start */
	_Atomic int cpu;               /* A: the CPU its latest callback started on */
	_Atomic unsigned long long completed; /* A: written by the worker only */

	_Atomic uint32_t wake;         /* A: enum rp_wake; futex word; set by the waker (release) */
	_Atomic unsigned kicks;        /* A: wake-ups in flight to this worker; it may not
	                                *    close its ring or exit while non-zero */
	rp_fn *hand_fn;                /* P: task handed over in the wake-up, or NULL */
	void *hand_arg;                /* P */

	struct rp_worker *idle_next;   /* L: LIFO idle stack links */
	struct rp_worker *idle_prev;   /* L */
	bool on_idle;                  /* L */
	uint64_t parked_ns;            /* L: when it joined the idle stack */
	int park_cpu;                  /* L: the CPU it parked on (-1 if unknown) */
	struct rp_worker *adm_next;    /* L: admission FIFO link */
	size_t index;                  /* L: slot in pool->workers */
	bool retiring;                 /* L */
	bool born_idle;                /* I, then W: started without a slot */

	bool spinning;                 /* P: counted in pool->nspinning */
	unsigned spin_ns;              /* W: adaptive spin before parking */
	int block_depth;               /* W: rp_blocking_begin nesting */
	unsigned skips;                /* W: starts taken over a waiting lower queue */
	struct rp_obj *cur_obj;        /* W: object whose callback runs now (object.h) */
	struct rp_deque *dq;           /* W: own run queue (deque.c), or NULL */
	unsigned scan_every;           /* W: task boundaries between scan looks (worker.c) */
	unsigned scan_countdown;       /* W */
	uint64_t scan_last;            /* W: time of the last look */
	unsigned local_runs;           /* W: starts from dq (every RP_AGING_SHARE-th
	                                *    looks at the shared queue first) */

	/* W (A for readers): io_uring inbox, or NULL: park on the futex.  Stable
	 * while the worker is on the idle stack (backend.h). */
	_Atomic(struct rp_ring *) ring;
	_Atomic bool ring_off;         /* A: io_uring_enter() was refused to this worker:
	                                *    it parks on its futex word (backend_uring.c) */
	struct rp_monitor mon;         /* see tags inside */
};

/* The worker running on this thread, if any (any pool). */
extern __thread struct rp_worker *rp__self;

/* ------------------------------------------------------------------ backend.h, port.h */
#include "backend.h"
#include "port.h"

/* ------------------------------------------------------------------ regulator */

struct rp_regulator {
	_Atomic uint32_t active;       /* A: futex word: 1 while it samples or is asked to,
	                                *    2 once it must stop */
	_Atomic bool stop;             /* A */
	_Atomic bool started;          /* A; set under pool->lock */
	pthread_t thread;              /* L: set once, before started (release) */
	_Atomic unsigned monitors;     /* A: perf monitors held */
	_Atomic unsigned idle_monitors; /* A, changed under pool->lock: held by workers
	                                *    on the idle stack */
	_Atomic uint64_t claim_after;  /* A: no parked worker's monitor may be taken
	                                *    before this time (monitor.c) */
	_Atomic unsigned monitor_cap;  /* A: most monitors at once: C + extra, or what fit */
	_Atomic unsigned monitor_slack; /* A: monitors the cap gains at the pool's first
	                                *    unhinted block (rp__monitor_widen()), then 0 */
	_Atomic unsigned proc_fds;     /* A: cached /proc stat descriptors */
	_Atomic unsigned long long rounds; /* A: sampling rounds (tests count them) */
	_Atomic unsigned long long worker_scans; /* A: scans made by workers (tests) */
	_Atomic bool spawn_retry;      /* A: work waits and no worker could be started:
	                                *    the regulator tries again (rp__regulator_retry()) */
	_Atomic unsigned long long spawn_retries; /* A: its attempts (tests) */
	bool perf_ok;                  /* I: workers may open perf monitors (monitor.c) */
	int probe_fd;                  /* I: the pool's disabled monitor, or -1 (monitor.c) */
	bool clock_only;               /* I: RINGPOOL_MONITOR=clock: no /proc either */
	struct rp_worker **watch;      /* L: the workers with a perf monitor; I: the array,
	                                *    watch_cap entries */
	unsigned watch_cap;            /* I: monitor_cap + monitor_slack at most */
	unsigned nwatch;               /* L */
	rp_aligned _Atomic uint64_t next_scan; /* A: CLOCK_MONOTONIC ns before which
	                                *    nobody scans again (one claims it by CAS) */
	_Atomic uint64_t wide_until;   /* A: CLOCK_MONOTONIC ns: pool->slots goes back
	                                *    to C after this (slot.c) */
};

/* ------------------------------------------------------------------ pool */

struct rp_pool {
	/* I: configuration */
	unsigned concurrency;
	unsigned slots_max;        /* the most slots over-commit reaches (slot.c);
	                            * tests lower it before the first post */
	unsigned min_threads;
	unsigned max_threads;
	unsigned idle_timeout_ms;
	char name[12];
	unsigned fork_gen;
	bool is_default;
	const struct rp_backend_ops *ops;

	struct rp_fifo q[RP_NPRIO];

	/* A: hot counters, each on its own line. */
	rp_aligned _Atomic unsigned running;  /* slots held (SEEK + RUN workers) */
	_Atomic unsigned slots;               /* slots in force: C, or more while unhinted
	                                       * blocks are seen (slot.c: over-commit) */
	rp_aligned _Atomic unsigned nspinning; /* SEEK workers that have no task yet: they
	                                       * will look at the queues, so posts wake nobody */
	_Atomic unsigned nidle;               /* on the idle stack */
	_Atomic unsigned nadmit;              /* waiting for admission */
	_Atomic uint64_t adm_since;           /* when nadmit last left 0 (slot.c) */
	_Atomic unsigned nhand;               /* tasks handed over, not yet started */
	rp_aligned _Atomic unsigned nthreads; /* workers alive */
	_Atomic unsigned nblocked;            /* HINTED + DETECTED */
	_Atomic unsigned nstalled;            /* stalled deques (deque.c) */
	_Atomic unsigned nobjects;            /* open objects (works, timers): destroy
	                                       * refuses while there are any */
	_Atomic unsigned long long ndropped;  /* cancelled entries still in the queues */
	rp_aligned _Atomic unsigned long nlocal; /* entries in the deques (never fewer:
	                                       * counted before the push, after the take) */
	_Atomic unsigned ndq_taken;           /* deques owned by a worker */
	_Atomic unsigned long long threads_created, threads_retired;
	_Atomic unsigned long long blocks_hinted, blocks_detected;
	_Atomic unsigned long long completed_retired; /* completed by retired workers */
	_Atomic bool closing;                 /* destroy has begun */

	/* L: */
	rp_aligned pthread_mutex_t lock;
	pthread_cond_t quiesce;               /* destroy waits here */
	struct rp_worker *idle_top, *idle_bottom; /* LIFO idle stack: woken from the
	                                       * top, retired (and robbed of
	                                       * monitors) from the bottom */
	struct rp_worker *adm_head, *adm_tail; /* admission FIFO, without adm_fd */
	struct rp_worker **workers;           /* all alive workers */
	size_t nworkers, workers_cap;
	unsigned next_id;
	bool stopping;                        /* workers must exit */
	unsigned nactive;                     /* workers not parked idle: destroy waits for 0 */
	unsigned nretiring;                   /* decided to retire, not yet gone */

	/* I: admission tokens (worker.c): a pipe, or -1 where it could not
	 * be made (the futex FIFO above serves instead). */
	int adm_fd[2];

	/* I: worker deques, ndeques of them (deque.c). */
	struct rp_deque *deques;
	unsigned ndeques;

	/* Backend state (rings, sender), see backend_uring.c. */
	struct rp_backend_pool bk;

	/* Regulator, see regulator.c. */
	struct rp_regulator reg;

	/* The completion port, made with the first kernel object (port.c). */
	_Atomic(struct rp_port *) port;

	/* The process's live pools (debug.c's lock). */
	struct rp_pool *next_pool, *prev_pool;
};

/* debug.c: the live pools, and what a stalled test prints */
void rp__pools_add(rp_pool *pool);
void rp__pools_remove(rp_pool *pool);
void rp__pools_forget(void);
void rp__pool_dump(rp_pool *pool, FILE *f);
void rp__pools_dump(FILE *f);
void rp__pools_progress(unsigned long long *completed, unsigned long long *waiting);

/* pool.c */
extern _Atomic unsigned rp__fork_gen;
bool rp__pool_valid(const rp_pool *pool);
int rp__pool_get(rp_pool **poolp);

/* sched.c: where a worker finds work; is work waiting? */
bool rp__queues_empty(rp_pool *pool);
unsigned long long rp__queued(rp_pool *pool);
bool rp__find_work(struct rp_worker *w, rp_fn **fn, void **arg);

/* slot.c: slots, admission, worker state transitions */
/* Slots in force (slot.c): pool->concurrency, or more while over-committed. */
static inline unsigned rp__slots(rp_pool *pool)
{
	return atomic_load_explicit(&pool->slots, memory_order_relaxed);
}

bool rp__slot_try_acquire(rp_pool *pool);
bool rp__slots_widen(rp_pool *pool, uint64_t now);
void rp__slots_narrow(rp_pool *pool, uint64_t now);
void rp__slots_reset(rp_pool *pool);
bool rp__slot_return(rp_pool *pool);
bool rp__admit_waiters(rp_pool *pool);
bool rp__w_hint(struct rp_worker *w);
bool rp__w_unhint(struct rp_worker *w);
bool rp__w_detect(struct rp_worker *w);
void rp__w_undetect(struct rp_worker *w);
bool rp__w_finish_slow(struct rp_worker *w);
bool rp__w_leave(struct rp_worker *w);

/* A callback is about to run: SEEK -> RUN.  Context: worker @w, SEEK. */
static inline void rp__w_start(struct rp_worker *w)
{
	atomic_store_explicit(&w->state, RP_W_RUN, memory_order_release);
}

/*
 * A callback returned: RUN -> SEEK, or, if it was seen blocked meanwhile
 * and its slot given away, DETECTED -> SEEK with a slot taken back.  A
 * callback that returned inside rp_blocking_begin() has its block closed
 * first (HINTED: admission).  Its deque is no longer stalled.  Inline for
 * the loop; the rest is slot.c's.  Context: worker @w, after its callback.
 * Return: true if the caller must pass a slot on (admission).
 */
static inline bool rp__w_finish(struct rp_worker *w)
{
	int st = RP_W_RUN;

	if (rp_likely(!w->block_depth &&
		      !(w->dq && atomic_load_explicit(&w->dq->stalled, memory_order_relaxed))) &&
	    atomic_compare_exchange_strong(&w->state, &st, RP_W_SEEK))
		return false;
	return rp__w_finish_slow(w);
}

/* idle.c: the idle stack, wake-ups, releasing workers, parking */
void rp__slot_release(rp_pool *pool);
void rp__slot_release_near(rp_pool *pool, int cpu);
void rp__slot_offer_near(rp_pool *pool, int cpu);
bool rp__release_worker(rp_pool *pool);
bool rp__handoff(rp_pool *pool, rp_fn *fn, void *arg);
bool rp__idle_park(struct rp_worker *w, bool holding);
void rp__regulator_kick(rp_pool *pool);
void rp__regulator_retry(rp_pool *pool);
void rp__workers_stop(rp_pool *pool);

/* worker.c: worker threads and the loop */
int rp__spawn_unlock(rp_pool *pool, bool slot);
int rp__spawn_idle(rp_pool *pool);
void rp__help(rp_pool *pool);


/* post.c */
int rp__post(rp_pool *pool, enum rp_priority prio, rp_fn *fn, void *arg);
/* queue.c */
struct rp_queue;
int rp__queue_push(struct rp_queue *q, rp_fn *fn, void *arg);
void rp__queue_ref(struct rp_queue *q);
void rp__queue_unref(struct rp_queue *q);
int rp__queue_name(struct rp_queue *q, rp_pool *pool);
void rp__queue_unname(struct rp_queue *q);
void rp__queue_abandon(void);
rp_pool *rp__queue_pool(const struct rp_queue *q);

unsigned rp__post_many(rp_pool *pool, enum rp_priority prio, rp_fn *fn, void *const *args,
		       unsigned n);

/* blocking.c */
void rp__block_begin(struct rp_worker *w);
void rp__block_end(struct rp_worker *w);

/* monitor.c: is a running worker off CPU? */
enum rp_oncpu { ONCPU_YES, ONCPU_NO, ONCPU_UNKNOWN };
enum rp_oncpu rp__perf_record_oncpu(const void *rec, bool timed, uint64_t now);
enum rp_oncpu rp__proc_stat_oncpu(const char *stat);
enum rp_oncpu rp__cpu_clock_oncpu(struct rp_monitor *m, uint64_t t);
void rp__monitor_pool_init(rp_pool *pool);
void rp__monitor_pool_fini(rp_pool *pool);
void rp__monitor_init(struct rp_monitor *m);
void rp__monitor_thread_start(struct rp_worker *w);                /* in the worker */
void rp__monitor_attach(rp_pool *pool, struct rp_worker *w);
void rp__monitor_claim(rp_pool *pool, struct rp_worker *w);  /* in the worker */
void rp__monitor_widen(rp_pool *pool);
void rp__monitor_steal(rp_pool *pool, struct rp_worker *w); /* in the worker */
void rp__monitor_detach(rp_pool *pool, struct rp_worker *w);
bool rp__monitor_blocked(rp_pool *pool, struct rp_worker *w, uint64_t now,
			 bool perf_only);                                 /* pool->lock */
bool rp__monitor_oncpu(rp_pool *pool, struct rp_worker *w);    /* pool->lock */
const char *rp__monitor_kind(const struct rp_worker *w);

/* regulator.c */
int rp__regulator_start(rp_pool *pool);
void rp__regulator_stop(rp_pool *pool);
void rp__regulator_scan_from_worker(rp_pool *pool, uint64_t now);
extern _Atomic bool rp__regulator_off; /* tests: see idle.c */

/* Small helpers. */
static inline uint64_t rp__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A worker at a task boundary yields its slot to a worker waiting for
 * admission only once the first waiter has waited RP_ADMIT_PATIENCE_US
 * (slot.c, "Patience").  One relaxed load while nobody waits.
 * Return: true if the caller must yield. */
static inline bool rp__admission_due(rp_pool *pool)
{
	if (rp_likely(!atomic_load_explicit(&pool->nadmit, memory_order_relaxed)))
		return false;
	return rp__now_ns() - atomic_load_explicit(&pool->adm_since, memory_order_relaxed) >=
	       RP_ADMIT_PATIENCE_US * 1000ull;
}

static inline void rp__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* A CLOCK_MONOTONIC time in ns as a timespec. */
static inline struct timespec rp__timespec(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };

	return ts;
}

/* sync.c */
int rp__futex_wait(_Atomic uint32_t *word, uint32_t expect, const struct timespec *abs);
void rp__futex_wake(_Atomic uint32_t *word, int n);

#endif /* RINGPOOL_INTERNAL_H */
