/* SPDX-License-Identifier: MIT */
/*
 * queuecost: what a subsystem queue costs, for the "one serial queue per
 * connection" pattern: the time to create one, to post to it (idle, and
 * with callbacks waiting), its memory (the allocator's bytes in use before
 * and after, per queue), and the round trip of a post to its callback.
 *
 *	queuecost [--queues N] [--reps R]
 *
 * Medians over the repetitions; each repetition a fresh pool.  Numbers
 * are reported, never asserted.
 */
#include "config.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ringpool.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static _Atomic unsigned long done;

static void count(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&done, 1, memory_order_relaxed);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return v[n / 2];
}

#define MAXREPS 32

int main(int argc, char **argv)
{
	unsigned n = 10000, reps = 5;
	double create[MAXREPS], post_idle[MAXREPS], post_busy[MAXREPS], mem[MAXREPS],
		wait_ns[MAXREPS];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--queues") && i + 1 < argc)
			n = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = (unsigned)atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: queuecost [--queues N] [--reps R]\n");
			return 2;
		}
	}
	if (!n || !reps || reps > MAXREPS)
		return 2;
	for (unsigned r = 0; r < reps; r++) {
		rp_queue **q = calloc(n, sizeof(*q));
		struct mallinfo2 m0, m1;
		rp_pool *pool;
		uint64_t t0, t1;

		if (!q || rp_pool_create(&pool, NULL))
			return 1;
		m0 = mallinfo2();
		t0 = now_ns();
		for (unsigned i = 0; i < n; i++)
			if (rp_queue_create(&q[i], pool, 1, RP_PRIORITY_NORMAL, NULL))
				return 1;
		t1 = now_ns();
		m1 = mallinfo2();
		create[r] = (double)(t1 - t0) / n;
		mem[r] = (double)(m1.uordblks - m0.uordblks) / n;
		/* One post to each idle queue: each starts a drainer. */
		atomic_store(&done, 0);
		t0 = now_ns();
		for (unsigned i = 0; i < n; i++)
			rp_queue_post(q[i], count, NULL);
		t1 = now_ns();
		post_idle[r] = (double)(t1 - t0) / n;
		for (unsigned i = 0; i < n; i++)
			rp_queue_wait(q[i], false);
		/* Sixteen posts to one queue at a time: the later ones find a
		 * drainer and only queue. */
		t0 = now_ns();
		for (unsigned i = 0; i < n; i++)
			rp_queue_post(q[i % 64], count, NULL);
		t1 = now_ns();
		post_busy[r] = (double)(t1 - t0) / n;
		for (unsigned i = 0; i < 64 && i < n; i++)
			rp_queue_wait(q[i], false);
		/* Post-and-wait round trips on one serial queue. */
		t0 = now_ns();
		for (unsigned i = 0; i < 1000; i++) {
			rp_queue_post(q[0], count, NULL);
			rp_queue_wait(q[0], false);
		}
		t1 = now_ns();
		wait_ns[r] = (double)(t1 - t0) / 1000;
		for (unsigned i = 0; i < n; i++)
			rp_queue_close(q[i]);
		rp_pool_destroy(pool);
		free(q);
	}
	printf("queuecost: %u serial queues on the default-sized pool, %u repetitions (medians)\n",
	       n, reps);
	printf("| create ns/queue | memory B/queue | post ns (idle queue) | post ns (queue busy) | post+wait round trip ns |\n");
	printf("|--:|--:|--:|--:|--:|\n");
	printf("| %.0f | %.0f | %.0f | %.0f | %.0f |\n", median(create, (int)reps),
	       median(mem, (int)reps), median(post_idle, (int)reps), median(post_busy, (int)reps),
	       median(wait_ns, (int)reps));
	return 0;
}
