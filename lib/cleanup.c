/* SPDX-License-Identifier: MIT */
/*
 * Cleanup groups, as Windows' thread pool has them: objects (works,
 * timers, watches, I/O objects) created with rp_env.cleanup are members,
 * and rp_cleanup_close_members() closes them all at once, optionally
 * dropping the callbacks they had coming and telling each member that
 * lost one through its env's cancel_fn.
 *
 * The members are a list under the group's lock; a member joins at its
 * create (rp__obj_publish()) and leaves at its close, whoever closes it.
 * Closing them all takes a reference to each, then, for each, stops what
 * is armed (and with cancel_pending drops what is queued: the object's
 * stop op says whether a callback was lost), calls the cancel_fn of those
 * that lost one, waits for the callbacks still to run or running (but a
 * member's own, when called from it), and closes them.
 */
#include "internal.h"

#include <stdlib.h>

struct rp_cleanup {
	rp_pool *pool;                 /* I */
	pthread_mutex_t lock;          /* the C lock: the member list */
	struct rp_obj *members;        /* through obj->cl_next / cl_prev */
	unsigned nmembers;
};

rp_pool *rp__cleanup_pool(const struct rp_cleanup *c)
{
	return c->pool;
}

int rp__cleanup_join(struct rp_cleanup *c, struct rp_obj *obj)
{
	if (c->pool != obj->pool)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	obj->cl_prev = NULL;
	obj->cl_next = c->members;
	if (c->members)
		c->members->cl_prev = obj;
	c->members = obj;
	c->nmembers++;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void rp__cleanup_leave(struct rp_obj *obj)
{
	struct rp_cleanup *c = obj->cleanup;

	pthread_mutex_lock(&c->lock);
	if (obj->cl_prev)
		obj->cl_prev->cl_next = obj->cl_next;
	else
		c->members = obj->cl_next;
	if (obj->cl_next)
		obj->cl_next->cl_prev = obj->cl_prev;
	obj->cl_next = obj->cl_prev = NULL;
	c->nmembers--;
	pthread_mutex_unlock(&c->lock);
}

RP_EXPORT int rp_cleanup_create(rp_cleanup **cp, rp_pool *pool)
{
	struct rp_cleanup *c;
	int ret;

	if (!cp)
		return -EINVAL;
	ret = rp__pool_get(&pool);
	if (ret)
		return ret;
	c = rp__calloc(RP_FAULT_ALLOC_CLEANUP, 1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->pool = pool;
	pthread_mutex_init(&c->lock, NULL);
	atomic_fetch_add(&pool->nobjects, 1);
	*cp = c;
	return 0;
}

RP_EXPORT int rp_cleanup_close_members(rp_cleanup *c, bool cancel_pending, void *cleanup_ctx)
{
	struct rp_worker *self = rp__self;
	struct rp_obj **v;
	unsigned n = 0;

	if (!c)
		return -EINVAL;
	if (!rp__pool_valid(c->pool))
		return -ECHILD;
	pthread_mutex_lock(&c->lock);
	v = rp__calloc(RP_FAULT_ALLOC_CLEANUP, c->nmembers ? c->nmembers : 1, sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&c->lock);
		return -ENOMEM;
	}
	for (struct rp_obj *o = c->members; o; o = o->cl_next) {
		rp__obj_get(o);
		atomic_store(&o->closing, true);
		v[n++] = o;
	}
	pthread_mutex_unlock(&c->lock);
	/* Stop them all first, so that none fires while another is waited
	 * for; then wait; then close. */
	for (unsigned i = 0; i < n; i++) {
		struct rp_obj *o = v[i];

		if (rp__obj_closed(o))
			continue;
		if (o->ops->stop(o, cancel_pending) && cancel_pending && o->cancel_fn)
			o->cancel_fn(o->cb_arg, cleanup_ctx);
	}
	for (unsigned i = 0; i < n; i++)
		if (!rp__obj_closed(v[i]) && !(self && self->cur_obj == v[i]))
			v[i]->ops->quiesce(v[i]);
	for (unsigned i = 0; i < n; i++) {
		if (!rp__obj_closed(v[i]))
			v[i]->ops->close(v[i]);
		rp__obj_put(v[i]);
	}
	free(v);
	return 0;
}

RP_EXPORT int rp_cleanup_destroy(rp_cleanup *c)
{
	rp_pool *pool;

	if (!c)
		return -EINVAL;
	pool = c->pool;
	pthread_mutex_lock(&c->lock);
	if (c->nmembers) {
		pthread_mutex_unlock(&c->lock);
		return -EBUSY;
	}
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_destroy(&c->lock);
	free(c);
	atomic_fetch_sub(&pool->nobjects, 1);
	return 0;
}
