/* SPDX-License-Identifier: MIT */
/*
 * The completion port: how kernel objects (timers now; watches and I/O to
 * come) reach the kernel, and how their events come back as tasks.
 *
 * Each pool that has an object has one *event thread*, made with its first
 * object (a pool that only posts pays nothing).  It is the only thread that
 * arms kernel events and sleeps on them, and it runs no user code: a
 * request belongs to the thread that submitted it (DESIGN's facts table),
 * so it must belong to a thread that never blocks uninterruptibly and
 * never exits early.  Other threads hand it work under the port's lock and
 * ring its doorbell (an eventfd) when it must look.  Events become tasks
 * through the normal post path, regulated like every other task.
 *
 * Timers are coalesced in user space (timerset below): one kernel timer
 * per clock, at the earliest deadline (due + window) of that clock's
 * timers; arming a timer makes a system call only when it moves that
 * deadline.
 *
 * Two implementations of the kernel side, chosen with the pool's backend:
 * an epoll reactor (epoll + eventfd + one timerfd per clock, which serves
 * everywhere) and, for the io_uring backend, the pool's event ring.
 */
#ifndef RINGPOOL_PORT_H
#define RINGPOOL_PORT_H

#include <stdint.h>

struct rp_pool;

/* The clocks a timer may use, in this order: rp_timer_set()'s flags. */
enum { RP_CLOCK_MONO, RP_CLOCK_BOOT, RP_CLOCK_REAL, RP_NCLOCKS };

/* ------------------------------------------------------------------ timerset */

/*
 * A timer entry: due (it never fires before, absolute on its clock) and
 * window (it fires no later than due + window, given a wake-up).
 *
 * A clock's set groups its entries by window: within a group, due order
 * is deadline order, so one heap by due time serves both questions, what
 * is due and when to wake (the first due plus the group's window).  Each
 * entry is in one heap, where libdispatch keeps two (by due and by
 * deadline) and pays for both on every expiry.  Programs use a handful of
 * windows; an entry whose window finds no group of its own, all
 * RP_WGROUPS being in use, joins the group of the largest window below
 * its own: it may fire earlier within its window, never later, never
 * before its due time.  Group 0 is window 0.
 */
struct rp_tentry {
	uint64_t due, window;
	unsigned clock;
	unsigned idx;		/* position in its group's heap; UINT32_MAX: out */
	unsigned group;		/* its group, while in */
	/* Called by the event thread, under the port's lock, when due: take
	 * the expiry (a periodic entry re-inserts itself).  Return: the
	 * object to post, with a reference taken, or NULL. */
	struct rp_obj *(*expire)(struct rp_tentry *e, uint64_t now);
};

struct rp_hslot {
	uint64_t due;
	struct rp_tentry *e;
};

struct rp_heap {
	struct rp_hslot *v;
	unsigned n, cap;
};

#define RP_WGROUPS 8u

struct rp_timerset {
	struct rp_heap group[RP_WGROUPS];
	uint64_t window[RP_WGROUPS];	/* group 0: 0; a group keeps its window until reused */
	unsigned ngroups;		/* groups in use, from 0 */
};

bool rp__tentry_armed(const struct rp_tentry *e);
int rp__timerset_reserve(struct rp_timerset *ts, uint64_t window);
uint64_t rp__timerset_insert(struct rp_timerset *ts, struct rp_tentry *e);
void rp__timerset_remove(struct rp_timerset *ts, struct rp_tentry *e);
struct rp_tentry *rp__timerset_first_due(const struct rp_timerset *ts);
uint64_t rp__timerset_next_deadline(const struct rp_timerset *ts);
void rp__timerset_fini(struct rp_timerset *ts);

/* ------------------------------------------------------------------ kernel requests */

/*
 * One kernel request of an object: a readiness poll on a descriptor, a
 * wait on a futex word (watches), or a prepared io_uring SQE (I/O
 * objects, on the event ring only).  It belongs to
 * the object's arming @gen: a completion of an older arming is stale.  The
 * object holds a reference for the request until the port is done with
 * it (its completion reaped, or its registration removed).
 */
enum rp_kop_kind { RP_KOP_POLL, RP_KOP_FUTEX, RP_KOP_SQE };

/* The part of a generation a kernel side carries with a request (an
 * io_uring user_data keeps the object's address in its low 48 bits). */
#define RP_GEN_MASK 0x7fffu

struct rp_kop {
	enum rp_kop_kind kind;
	int fd;                    /* POLL: the descriptor */
	unsigned events;           /* POLL: poll(2) events */
	const uint32_t *word;      /* FUTEX: the word */
	uint32_t val;              /* FUTEX: the value it must hold to wait */
	bool shared;               /* FUTEX: process-shared */
	const void *sqe;           /* SQE: 64 bytes, user_data left to the port */
	void *reg;                 /* the kernel side's own record, or NULL */
};

/* ------------------------------------------------------------------ the port */

struct rp_port;

/* The kernel side: an epoll reactor or an event ring.  Every op but init
 * and fini runs on the event thread. */
struct rp_port_ops {
	const char *name;
	int (*init)(struct rp_port *port);
	void (*fini)(struct rp_port *port);
	/* First thing on the event thread (may be NULL). */
	void (*thread_init)(struct rp_port *port);
	/* Arm @clock's kernel timer for @deadline (absolute ns on it), or
	 * disarm it (0). */
	int (*program)(struct rp_port *port, unsigned clock, uint64_t deadline);
	/* Sleep until the doorbell rings or a kernel timer fires, and hand
	 * the kernel requests that completed to their objects. */
	void (*wait)(struct rp_port *port);
	/* Start @op for @obj's arming @gen (a reference taken for it).
	 * Context: any thread, the port's lock held (the event ring needs
	 * none: its list has a lock of its own, innermost).  Return: 0, or a
	 * negative errno (nothing started, the reference is the caller's);
	 * -EOPNOTSUPP: this kernel side cannot (a futex wait without
	 * IORING_OP_FUTEX_WAIT, an SQE without the event ring). */
	int (*req_arm)(struct rp_port *port, struct rp_obj *obj, uint32_t gen, struct rp_kop *op);
	/* Stop @op, started for @gen, so that the kernel holds nothing of
	 * it when this returns.  Context: any thread but the event thread,
	 * the port's lock NOT held.  Return: true if no completion of it
	 * will come (it never reached the kernel, or its registration is
	 * gone); false if its completion (-ECANCELED, or the result it got
	 * first) comes to the object, in the event thread's pass that
	 * follows at the latest. */
	bool (*req_cancel)(struct rp_port *port, struct rp_obj *obj, uint32_t gen,
			   struct rp_kop *op);
	/* Stop it without waiting (a timeout won).  Context: the event
	 * thread, the port's lock held.  Return: as req_cancel(); false:
	 * its completion comes later. */
	bool (*req_abort)(struct rp_port *port, struct rp_obj *obj, uint32_t gen,
			  struct rp_kop *op);
};

extern const struct rp_port_ops rp__port_epoll;
extern const struct rp_port_ops rp__port_uring;

#define RP_PORT_HOLD 32u     /* expiries taken per hold of the port's lock */
#define RP_PORT_BATCH 1024u  /* expiries posted at once */

struct rp_port {
	struct rp_pool *pool;              /* I */
	const struct rp_port_ops *ops;     /* I */
	pthread_t thread;                  /* I */
	int doorbell;                      /* I: eventfd */
	_Atomic bool stop;                 /* A */

	pthread_mutex_t lock;              /* the T lock: the timer sets, the objects'
	                                    * arming state, the retry list */
	struct rp_timerset timers[RP_NCLOCKS]; /* T */
	uint64_t next_deadline[RP_NCLOCKS]; /* T: what the event thread programs (or is
	                                    * about to): an arm that comes before rings
	                                    * the doorbell */
	struct rp_obj **retry;             /* T: expiries whose post failed (no memory) */
	unsigned nretry, retry_cap;        /* T */

	bool futex_ok;                     /* I: req_arm() takes futex waits */
	bool sqe_ok;                       /* I: req_arm() takes SQEs (the event ring) */

	uint64_t programmed[RP_NCLOCKS];   /* E (event thread): armed in the kernel */
	struct rp_obj *batch[RP_PORT_BATCH]; /* E: expiries taken, to post at once */
	_Atomic unsigned long long wakeups; /* A: event-thread wake-ups (tests, bench) */
	_Atomic bool asleep;               /* A: the event thread is in its kernel wait,
	                                    * or past its last look for requests */
	_Atomic bool kicked;               /* A: the doorbell rang for this sleep */
	_Atomic uint32_t passes;           /* A: futex word, bumped after each wait */
	_Atomic unsigned barrier_waiters;  /* A */
	void *impl;                        /* the kernel side's own state */
};

uint64_t rp__clock_now(unsigned clock);
clockid_t rp__clock_id(unsigned clock);
int rp__port_get(struct rp_pool *pool, struct rp_port **portp);
void rp__port_stop(struct rp_pool *pool);
void rp__port_kick(struct rp_port *port);
void rp__port_barrier(struct rp_port *port);
bool rp__port_arm_locked(struct rp_port *port, struct rp_tentry *e);
void rp__port_post(struct rp_port *port, struct rp_obj *obj);
void rp__port_post_batch(struct rp_port *port, struct rp_obj **batch, unsigned n);
void rp__port_kick_sleeper(struct rp_port *port);
void rp__port_complete_locked(struct rp_port *port, struct rp_obj *obj, uint32_t gen, int res,
			      struct rp_obj **post);

#endif /* RINGPOOL_PORT_H */
