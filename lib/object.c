/* SPDX-License-Identifier: MIT */
/* The common object header and its task descriptor (object.h). */
#include "internal.h"

/* Context: the creating thread, before @obj is published. */
void rp__obj_init(struct rp_obj *obj, const struct rp_obj_ops *ops, rp_pool *pool,
		  enum rp_obj_kind kind)
{
	obj->ops = ops;
	obj->pool = pool;
	obj->kind = kind;
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

/* The trampoline queued for an object.  The loop calls the run op itself
 * (run_task(), worker.c); this body serves any other caller. */
void rp__obj_task(void *obj)
{
	struct rp_obj *o = obj;

	o->ops->run(o);
}
