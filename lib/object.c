/* SPDX-License-Identifier: MIT */
/* The common object header and its task descriptor (object.h). */
#include "internal.h"

#include <stdlib.h>

/*
 * Is @env (NULL: none) well formed?  (Its queue and cleanup group are
 * checked against the pool by rp__obj_init().)
 * Return: 0, or -EINVAL for non-zero reserved fields or unknown flags.
 */
static int env_check(const struct rp_env *env)
{
	if (!env)
		return 0;
	for (size_t i = 0; i < sizeof(env->resv) / sizeof(env->resv[0]); i++)
		if (env->resv[i])
			return -EINVAL;
	if (env->flags & ~RP_RUNS_LONG)
		return -EINVAL;
	return 0;
}

/* Context: the creating thread, before @obj is published; @env checked.
 * Return: 0, or -EINVAL (the env's queue or cleanup group is another
 * pool's, or the queue is closed): nothing taken. */
static int obj_init(struct rp_obj *obj, const struct rp_obj_ops *ops, rp_pool *pool,
		    enum rp_obj_kind kind, const struct rp_env *env, void *arg)
{
	obj->pool = pool;
	obj->cb_arg = arg;
	if (env && env->cleanup && rp__cleanup_pool(env->cleanup) != pool)
		return -EINVAL;
	if (env && env->queue) {
		int ret = rp__queue_name(env->queue, pool);

		if (ret)
			return ret;
		obj->queue = env->queue;
	}
	if (env && env->cleanup) {
		obj->cleanup = env->cleanup;
		obj->cancel_fn = env->cancel_fn;
	}
	obj->ops = ops;
	obj->kind = kind;
	obj->flags = env ? env->flags : 0;
	atomic_init(&obj->refs, 1);
	atomic_init(&obj->closed, false);
	return 0;
}

/*
 * The first half of every object's create: check @env, resolve @pool
 * (NULL: the default pool), start the pool's completion port if @portp
 * (kernel objects), allocate @size bytes (the header first) and set up
 * the header.  The caller fills in its own fields, then publishes it.
 * Return: 0 and *@objp, or a negative errno (nothing made).
 */
int rp__obj_new(struct rp_obj **objp, size_t size, enum rp_fault_site site,
		const struct rp_obj_ops *ops, enum rp_obj_kind kind, rp_pool *pool,
		const struct rp_env *env, void *arg, struct rp_port **portp)
{
	struct rp_obj *obj;
	int ret = env_check(env);

	if (ret)
		return ret;
	ret = rp__pool_get(&pool);
	if (ret)
		return ret;
	if (portp) {
		ret = rp__port_get(pool, portp);
		if (ret)
			return ret;
	}
	obj = rp__calloc(site, 1, size);
	if (!obj)
		return -ENOMEM;
	ret = obj_init(obj, ops, pool, kind, env, arg);
	if (ret) {
		free(obj);
		return ret;
	}
	*objp = obj;
	return 0;
}

/* The object is whole: it counts as open in its pool, and joins its
 * cleanup group, where closing it all may find it from now on.
 * Context: its create, before it returns it. */
void rp__obj_publish(struct rp_obj *obj)
{
	atomic_fetch_add(&obj->pool->nobjects, 1);
	if (obj->cleanup)
		rp__cleanup_join(obj->cleanup, obj);
}

void rp__obj_get(struct rp_obj *obj)
{
	atomic_fetch_add_explicit(&obj->refs, 1, memory_order_relaxed);
}

/* Drop a reference; the last one frees the object.  The acq_rel RMW orders
 * every holder's use before the free. */
void rp__obj_put(struct rp_obj *obj)
{
	if (atomic_fetch_sub_explicit(&obj->refs, 1, memory_order_acq_rel) == 1) {
		struct rp_queue *q = obj->queue;

		obj->ops->free(obj);
		if (q)
			rp__queue_unref(q);
	}
}

/* Mark @obj closed and drop the open reference.
 * Return: false if it was closed already (nothing changed). */
bool rp__obj_close(struct rp_obj *obj)
{
	bool was = false;

	if (!atomic_compare_exchange_strong(&obj->closed, &was, true))
		return false;
	if (obj->queue)
		rp__queue_unname(obj->queue);
	if (obj->cleanup)
		rp__cleanup_leave(obj);
	rp__obj_put(obj);
	return true;
}

bool rp__obj_closed(const struct rp_obj *obj)
{
	return atomic_load_explicit(&obj->closed, memory_order_relaxed);
}

/* May it be armed (or submitted)?  Not once closed, nor while its cleanup
 * group closes it: a callback in progress then cannot arm it again. */
bool rp__obj_armable(const struct rp_obj *obj)
{
	return !atomic_load_explicit(&obj->closed, memory_order_relaxed) &&
	       !atomic_load(&obj->closing);
}

/* Around an object's callback: an RP_RUNS_LONG object's callbacks run
 * inside a hinted block.  Context: the worker running it. */
void rp__obj_callback_begin(const struct rp_obj *obj)
{
	if (obj->flags & RP_RUNS_LONG)
		rp_blocking_begin();
}

void rp__obj_callback_end(const struct rp_obj *obj)
{
	if (obj->flags & RP_RUNS_LONG)
		rp_blocking_end();
}

/* The trampoline queued for an object.  The loop calls the run op itself
 * (run_task(), worker.c); this body serves any other caller. */
void rp__obj_task(void *obj)
{
	struct rp_obj *o = obj;

	o->ops->run(o);
}
