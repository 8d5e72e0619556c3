/* SPDX-License-Identifier: MIT */
/*
 * peer_uv.c - libuv's work queue (uv_queue_work) behind the bench adapter.
 *
 * uv_queue_work may only be called on the thread that runs the loop, and the
 * work request's completion is delivered there too, so the adapter owns a
 * loop thread: post() appends the task to a mutex-protected list and wakes
 * the loop with uv_async_send, and the async callback takes the whole list
 * and submits each entry with uv_queue_work.  That is what a program has to
 * do when its work does not originate on the loop thread, and it means that
 * every task crosses the loop thread twice: once to be submitted (here) and
 * once to complete (libuv's own after-work round trip, which every
 * uv_queue_work pays, with or without an after-work callback).
 *
 * libuv's pool is process-wide, started by the first uv_queue_work in the
 * process (so its start-up falls on the first post, not on init) and sized
 * then, once, from UV_THREADPOOL_SIZE: 4 when unset, at most 1024.  rpbench
 * calls init once per process, so setting the variable in init is enough.
 * With @threads == 0 it is left as the user has it.
 *
 * One node per task holds the uv_work_t, which must stay alive until its
 * after-work callback, and doubles as the list node on the way in.  Nodes
 * are recycled rather than freed: the after-work callback, on the loop
 * thread, keeps them on a list of its own, which the next async callback
 * hands back to posters under the lock that both already take.  A malloc on
 * the poster and a free on the loop thread for every task would instead
 * make the two fight over one malloc arena, which tripled the time of a
 * million posts from one thread (W1ext) on 2 cores; that cost belongs to
 * the adapter, not to libuv.  The lists hold at most as many nodes as were
 * ever in flight at once, and fini frees them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "adapter.h"

/* libuv clamps larger sizes silently; refuse them rather than run fewer. */
#define UVP_MAX_THREADS 1024

#define UVP_STR_(x) #x
#define UVP_STR(x) UVP_STR_(x)

#define uvp_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct uvp_task {
	uv_work_t req;
	struct uvp_task *next;	/* in head, spare or reuse while not in libuv */
	bench_fn *fn;
	void *arg;
};

/*
 * loop, wake and spare belong to the loop thread once it runs, except that
 * any thread may call uv_async_send(&wake).  The fields below lock are
 * protected by it.
 */
struct uvp {
	uv_loop_t loop;
	uv_async_t wake;
	pthread_t thread;
	struct uvp_task *spare;		/* completed, not yet handed back */
	struct uvp_task *spare_last;	/* last node of spare, if any */
	pthread_mutex_t lock;
	struct uvp_task *head;		/* oldest task not yet submitted */
	struct uvp_task **tailp;	/* &last->next, or &head when empty */
	struct uvp_task *reuse;		/* nodes ready for post to reuse */
	bool stopping;			/* fini called: close wake once drained */
};

/* As in peer_pthread.c: these cannot fail on a sound mutex. */
static void check(int ret, const char *what)
{
	if (ret != 0) {
		fprintf(stderr, "peer libuv: %s: %s\n", what, strerror(ret < 0 ? -ret : ret));
		abort();
	}
}

static void uvp_work(uv_work_t *req)
{
	struct uvp_task *t = uvp_container_of(req, struct uvp_task, req);

	t->fn(t->arg);
}

/* On the loop thread, once libuv is done with the request. */
static void uvp_done(uv_work_t *req, int status)
{
	/* status is UV_ECANCELED only for uv_cancel, which we never call. */
	struct uvp_task *t = uvp_container_of(req, struct uvp_task, req);
	struct uvp *p = uvp_container_of(req->loop, struct uvp, loop);

	if (p->spare == NULL)
		p->spare_last = t;
	t->next = p->spare;
	p->spare = t;
}

static void uvp_free_list(struct uvp_task *t)
{
	while (t != NULL) {
		struct uvp_task *next = t->next;

		free(t);
		t = next;
	}
}

/* The async callback, on the loop thread: submit everything posted so far. */
static void uvp_submit(uv_async_t *wake)
{
	struct uvp *p = uvp_container_of(wake, struct uvp, wake);

	check(pthread_mutex_lock(&p->lock), "pthread_mutex_lock");
	struct uvp_task *t = p->head;
	p->head = NULL;
	p->tailp = &p->head;
	bool stopping = p->stopping;
	if (p->spare != NULL) {
		p->spare_last->next = p->reuse;
		p->reuse = p->spare;
		p->spare = NULL;
	}
	check(pthread_mutex_unlock(&p->lock), "pthread_mutex_unlock");

	while (t != NULL) {
		struct uvp_task *next = t->next;

		/* Fails only for a NULL work callback. */
		check(uv_queue_work(&p->loop, &t->req, uvp_work, uvp_done), "uv_queue_work");
		t = next;
	}

	/*
	 * No post can follow fini, so this is the last callback.  uv_run
	 * returns once the handle is closed and the last request completed.
	 */
	if (stopping)
		uv_close((uv_handle_t *)&p->wake, NULL);
}

static void *uvp_loop_main(void *arg)
{
	struct uvp *p = arg;

	uv_run(&p->loop, UV_RUN_DEFAULT);
	return NULL;
}

static int uvp_init(void **ctx, unsigned threads)
{
	if (threads > UVP_MAX_THREADS)
		return -EINVAL;
	if (threads > 0) {
		char size[16];

		snprintf(size, sizeof(size), "%u", threads);
		if (setenv("UV_THREADPOOL_SIZE", size, 1) != 0)
			return -errno;
	}

	struct uvp *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->tailp = &p->head;

	/* On Unix, libuv's error codes are negative errno values. */
	int ret = uv_loop_init(&p->loop);
	if (ret < 0) {
		free(p);
		return ret;
	}
	ret = uv_async_init(&p->loop, &p->wake, uvp_submit);
	if (ret < 0)
		goto close_loop;
	ret = -pthread_mutex_init(&p->lock, NULL);
	if (ret < 0)
		goto close_wake;
	ret = -pthread_create(&p->thread, NULL, uvp_loop_main, p);
	if (ret < 0)
		goto destroy_lock;
	*ctx = p;
	return 0;

destroy_lock:
	check(pthread_mutex_destroy(&p->lock), "pthread_mutex_destroy");
close_wake:
	/* No thread runs the loop yet: run it here, just to close the handle. */
	uv_close((uv_handle_t *)&p->wake, NULL);
	uv_run(&p->loop, UV_RUN_DEFAULT);
close_loop:
	check(uv_loop_close(&p->loop), "uv_loop_close");
	free(p);
	return ret;
}

static int uvp_post(void *ctx, bench_fn *fn, void *arg)
{
	struct uvp *p = ctx;

	check(pthread_mutex_lock(&p->lock), "pthread_mutex_lock");
	struct uvp_task *t = p->reuse;
	if (t != NULL) {
		p->reuse = t->next;
	} else {
		/* Allocate outside the lock; this is rare once warmed up. */
		check(pthread_mutex_unlock(&p->lock), "pthread_mutex_unlock");
		t = malloc(sizeof(*t));
		if (t == NULL)
			return -ENOMEM;
		check(pthread_mutex_lock(&p->lock), "pthread_mutex_lock");
	}
	t->next = NULL;
	t->fn = fn;
	t->arg = arg;
	bool was_empty = p->head == NULL;
	*p->tailp = t;
	p->tailp = &t->next;
	/*
	 * Only the post that makes the list non-empty wakes the loop: the
	 * callback takes the whole list, and libuv clears the handle's
	 * pending state before calling it, so a send made after it took the
	 * list is never lost.  The send is made under the lock although that
	 * holds the lock across a write to an eventfd: after the unlock, the
	 * task may run, the workload finish and fini free the handle, while a
	 * poster that is not a pool thread is still about to touch it.  fini
	 * takes the lock first, which waits such a poster out.
	 */
	if (was_empty)
		check(uv_async_send(&p->wake), "uv_async_send");
	check(pthread_mutex_unlock(&p->lock), "pthread_mutex_unlock");
	return 0;
}

static void uvp_fini(void *ctx)
{
	struct uvp *p = ctx;

	check(pthread_mutex_lock(&p->lock), "pthread_mutex_lock");
	p->stopping = true;
	check(uv_async_send(&p->wake), "uv_async_send");
	check(pthread_mutex_unlock(&p->lock), "pthread_mutex_unlock");

	check(pthread_join(p->thread, NULL), "pthread_join");
	int ret = uv_loop_close(&p->loop);
	if (ret < 0) {
		fprintf(stderr, "peer libuv: uv_loop_close: %s\n", uv_strerror(ret));
		abort();
	}
	check(pthread_mutex_destroy(&p->lock), "pthread_mutex_destroy");
	uvp_free_list(p->reuse);
	uvp_free_list(p->spare);
	free(p);
	/* libuv's pool threads are its own: they are joined at exit. */
}

const struct bench_peer bench_peer_uv = {
	.name = "libuv",
	.about = "libuv " UVP_STR(UV_VERSION_MAJOR) "." UVP_STR(UV_VERSION_MINOR) "."
		 UVP_STR(UV_VERSION_PATCH) " uv_queue_work; default size: 4 (UV_THREADPOOL_SIZE, max 1024); "
		 "posts go through a loop thread; pool starts on the first post",
	.flags = BENCH_PEER_FIXED,
	.init = uvp_init,
	.post = uvp_post,
	.fini = uvp_fini,
};
