/* SPDX-License-Identifier: MIT */
/*
 * The pool's objects (work objects; timers, watches, I/O objects and
 * queues to come) share one header, and one way of queuing a callback.
 *
 * A run-queue entry is a pair (fn, arg).  A post queues the user's own; an
 * object queues (rp__obj_task, the object), its task descriptor.  The loop
 * (worker.c, run_task()) recognises the trampoline and calls the object's
 * run op itself: the op says whether a callback ran (a cancelled entry is
 * dropped unrun, and counts as no completed callback), and while it runs
 * the worker names the object in cur_obj, which is how an object's wait
 * knows it is called from the object's own callback (-EDEADLK).  An object
 * never writes a worker's fields.
 */
#ifndef RINGPOOL_OBJECT_H
#define RINGPOOL_OBJECT_H

struct rp_obj;

struct rp_obj_ops {
	/* Run one queued entry: its callback, unless it was cancelled.
	 * Return: true if the callback ran. */
	bool (*run)(struct rp_obj *obj);
	/* The callback ended its worker's thread (pthread_exit()): do what
	 * the rest of run() would have. */
	void (*abandon)(struct rp_obj *obj);
	/* The last reference is gone. */
	void (*free)(struct rp_obj *obj);
	/* A kernel request of the arming @gen completed with @res (the
	 * event thread, the port's lock held unless own_lock; kernel
	 * objects only).
	 * Return: the object to post, with a reference for the entry, or
	 * NULL (a stale completion, or one kept for later). */
	struct rp_obj *(*complete)(struct rp_obj *obj, uint32_t gen, int res);
	/* complete() takes the object's own lock, and the event ring calls
	 * it without the port's (the epoll reactor holds it anyway). */
	bool own_lock;
	/* Cleanup groups (cleanup.c): stop what is armed, so that it gives
	 * no callback; with @drop, also drop the callbacks queued and not
	 * started.  Return: true if a callback was thus lost (meaningful
	 * with @drop). */
	bool (*stop)(struct rp_obj *obj, bool drop);
	/* Wait until no callback is queued or running (its _wait()). */
	void (*quiesce)(struct rp_obj *obj);
	/* Its _close(). */
	void (*close)(struct rp_obj *obj);
};

enum rp_obj_kind {
	RP_OBJ_WORK,
	RP_OBJ_TIMER,
	RP_OBJ_WATCH,
	RP_OBJ_IO,
};

struct rp_queue;
struct rp_cleanup;

struct rp_obj {
	const struct rp_obj_ops *ops; /* I */
	rp_pool *pool;                /* I */
	enum rp_obj_kind kind;        /* I */
	unsigned flags;               /* I: rp_env.flags (RP_RUNS_LONG) */
	struct rp_queue *queue;       /* I: rp_env.queue (a reference), or NULL: the pool */
	struct rp_cleanup *cleanup;   /* I: rp_env.cleanup, or NULL */
	rp_cancel_fn *cancel_fn;      /* I: rp_env.cancel_fn */
	void *cb_arg;                 /* I: the callback's argument, for cancel_fn */
	struct rp_obj *cl_next, *cl_prev; /* C: the cleanup group's members */
	_Atomic unsigned refs;        /* A: 1 while open, + 1 per entry queued or running */
	_Atomic bool closed;          /* A */
	_Atomic bool closing;         /* A: its cleanup group is closing it: no arming */
};

struct rp_port;
int rp__obj_new(struct rp_obj **objp, size_t size, enum rp_fault_site site,
		const struct rp_obj_ops *ops, enum rp_obj_kind kind, rp_pool *pool,
		const struct rp_env *env, void *arg, struct rp_port **portp);
void rp__obj_publish(struct rp_obj *obj);
int rp__cleanup_join(struct rp_cleanup *c, struct rp_obj *obj);	/* cleanup.c */
rp_pool *rp__cleanup_pool(const struct rp_cleanup *c);
void rp__cleanup_leave(struct rp_obj *obj);
void rp__obj_callback_begin(const struct rp_obj *obj);
void rp__obj_callback_end(const struct rp_obj *obj);
void rp__obj_get(struct rp_obj *obj);
void rp__obj_put(struct rp_obj *obj);
bool rp__obj_close(struct rp_obj *obj);
bool rp__obj_closed(const struct rp_obj *obj);
bool rp__obj_armable(const struct rp_obj *obj);
void rp__obj_task(void *obj);
int rp__obj_post(struct rp_obj *obj);	/* post.c */
int rp__obj_enqueue(struct rp_obj *obj);
int rp__obj_yield(struct rp_obj *obj);

#endif /* RINGPOOL_OBJECT_H */
