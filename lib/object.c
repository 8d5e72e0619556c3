/* SPDX-License-Identifier: MIT */
/* The common object header and its task descriptor (object.h). */
#include "internal.h"

/*
 * Is @env (NULL: none) one this version can honour?
 * Return: 0; -EINVAL for non-zero reserved fields or unknown flags;
 * -EOPNOTSUPP for a queue or a cleanup group (issue 13 brings them).
 */
int rp__env_check(const struct rp_env *env)
{
	if (!env)
		return 0;
	for (size_t i = 0; i < sizeof(env->resv) / sizeof(env->resv[0]); i++)
		if (env->resv[i])
			return -EINVAL;
	if (env->flags & ~RP_RUNS_LONG)
		return -EINVAL;
	if (env->queue || env->cleanup)
		return -EOPNOTSUPP;
	return 0;
}

/* Context: the creating thread, before @obj is published; @env checked. */
void rp__obj_init(struct rp_obj *obj, const struct rp_obj_ops *ops, rp_pool *pool,
		  enum rp_obj_kind kind, const struct rp_env *env)
{
	obj->ops = ops;
	obj->pool = pool;
	obj->kind = kind;
	obj->flags = env ? env->flags : 0;
	atomic_init(&obj->refs, 1);
	atomic_init(&obj->closed, false);
}

void rp__obj_get(struct rp_obj *obj)
{
	atomic_fetch_add_explicit(&obj->refs, 1, memory_order_relaxed);
}

/* Drop a reference; the last one frees the object.  The acq_rel RMW orders
 * every holder's use before the free. */
void rp__obj_put(struct rp_obj *obj)
{
	if (atomic_fetch_sub_explicit(&obj->refs, 1, memory_order_acq_rel) == 1)
		obj->ops->free(obj);
}

/* Mark @obj closed and drop the open reference.
 * Return: false if it was closed already (nothing changed). */
bool rp__obj_close(struct rp_obj *obj)
{
	bool was = false;

	if (!atomic_compare_exchange_strong(&obj->closed, &was, true))
		return false;
	rp__obj_put(obj);
	return true;
}

bool rp__obj_closed(const struct rp_obj *obj)
{
	return atomic_load_explicit(&obj->closed, memory_order_relaxed);
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
