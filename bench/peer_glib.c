/* SPDX-License-Identifier: MIT */
/*
 * peer_glib.c - GLib's GThreadPool behind the bench adapter.
 *
 * The pool is exclusive: GLib starts all of its threads in g_thread_pool_new
 * and keeps them, which makes it a fixed pool of exactly @threads threads.
 * (A shared pool would instead borrow threads from a process-wide cache and
 * start them on demand.)  GLib has no default size for an exclusive pool, so
 * 0 means g_get_num_processors(), as for the pthread baseline.
 *
 * GThreadPool hands its function a single pointer, so each post wraps
 * (fn, arg) in a malloc'ed node; GLib's queue adds a list cell of its own
 * per task on top of that.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include <glib.h>

#include "adapter.h"

struct glp_task {
	bench_fn *fn;
	void *arg;
};

static void glp_run(gpointer data, gpointer user_data)
{
	struct glp_task *t = data;
	bench_fn *fn = t->fn;
	void *arg = t->arg;

	/* Free before the call, so the node is reused while still hot. */
	free(t);
	fn(arg);
}

/* GThreadError has one code, AGAIN: a thread could not be created. */
static int glp_errno(GError *err)
{
	int ret = err->domain == G_THREAD_ERROR ? -EAGAIN : -EIO;

	g_error_free(err);
	return ret;
}

static int glp_init(void **ctx, unsigned threads)
{
	GError *err = NULL;

	if (threads == 0)
		threads = g_get_num_processors();
	if (threads > G_MAXINT)
		return -EINVAL;

	GThreadPool *pool = g_thread_pool_new(glp_run, NULL, (gint)threads, TRUE, &err);
	if (pool == NULL)
		return -EINVAL;	/* a precondition failed; GLib has logged it */
	if (err != NULL) {
		/*
		 * GLib returns the pool even when it could not start every
		 * thread; stop the ones it did start.  They leave for GLib's
		 * process-wide cache of unused threads, which is the closest
		 * to "nothing running" that GLib offers.
		 */
		g_thread_pool_free(pool, TRUE, TRUE);
		return glp_errno(err);
	}
	*ctx = pool;
	return 0;
}

static int glp_post(void *ctx, bench_fn *fn, void *arg)
{
	struct glp_task *t = malloc(sizeof(*t));
	GError *err = NULL;

	if (t == NULL)
		return -ENOMEM;
	t->fn = fn;
	t->arg = arg;

	/*
	 * An exclusive pool already has all its threads, so push does not
	 * try to start one and cannot fail but for a broken precondition
	 * (which GLib logs); on failure the task was not queued.
	 */
	if (!g_thread_pool_push(ctx, t, &err)) {
		free(t);
		return err != NULL ? glp_errno(err) : -EINVAL;
	}
	return 0;
}

static void glp_fini(void *ctx)
{
	/*
	 * Wait for the queue to drain (it has) and for every thread to be
	 * idle, then stop them.  GLib offers no way to join its threads:
	 * they move to its process-wide cache of unused threads, which keeps
	 * up to two of them for 15 s and ends the rest, and the last one to
	 * leave frees the pool.
	 */
	g_thread_pool_free(ctx, FALSE, TRUE);
}

const struct bench_peer bench_peer_glib = {
	.name = "glib",
	.about = "GLib " G_STRINGIFY(GLIB_MAJOR_VERSION) "." G_STRINGIFY(GLIB_MINOR_VERSION) "."
		 G_STRINGIFY(GLIB_MICRO_VERSION) " GThreadPool, exclusive (all threads started by init); "
		 "default size: online CPUs (GLib has none)",
	.flags = BENCH_PEER_FIXED,
	.init = glp_init,
	.post = glp_post,
	.fini = glp_fini,
};
