/* SPDX-License-Identifier: MIT */
/* The run queue: FIFO order across blocks, and MPMC without loss. */
#include "config.h"

#include <stdlib.h>

#include "helpers.h"
#include "../lib/internal.h"

static void fn_a(void *arg)
{
	(void)arg;
}

START_TEST(test_queue_fifo)
{
	struct rp_fifo q;
	rp_fn *fn;
	void *arg;

	ck_assert_int_eq(rp__fifo_init(&q), 0);
	ck_assert(!rp__fifo_pop(&q, &fn, &arg));
	for (uintptr_t i = 1; i <= 6; i++)
		ck_assert_int_eq(rp__fifo_push(&q, fn_a, (void *)i), 0);
	ck_assert_uint_eq(rp__fifo_len(&q), 6);
	for (uintptr_t i = 1; i <= 6; i++) {
		ck_assert(rp__fifo_pop(&q, &fn, &arg));
		ck_assert_ptr_eq((void *)fn, (void *)fn_a);
		ck_assert_uint_eq((uintptr_t)arg, i);
	}
	ck_assert(!rp__fifo_pop(&q, &fn, &arg));
	ck_assert_uint_eq(rp__fifo_len(&q), 0);
	rp__fifo_fini(&q);
}
END_TEST

/* Entries far beyond one block: order holds across blocks, the queue
 * empties and fills again, and every block is freed (ASan and valgrind
 * builds see a leak otherwise). */
START_TEST(test_queue_blocks)
{
	const uintptr_t n = 10 * RP_FIFO_BLOCK_SLOTS + 7;
	struct rp_fifo q;
	rp_fn *fn;
	void *arg;
	uintptr_t next = 1;

	ck_assert_int_eq(rp__fifo_init(&q), 0);
	for (uintptr_t i = 1; i <= n; i++)
		ck_assert_int_eq(rp__fifo_push(&q, fn_a, (void *)i), 0);
	ck_assert_uint_eq(rp__fifo_len(&q), n);
	for (uintptr_t k = 0; k < n / 2; k++) {
		ck_assert(rp__fifo_pop(&q, &fn, &arg));
		ck_assert_uint_eq((uintptr_t)arg, next++);
	}
	ck_assert_uint_eq(rp__fifo_len(&q), n - n / 2);
	for (uintptr_t i = n + 1; i <= 2 * n; i++)
		ck_assert_int_eq(rp__fifo_push(&q, fn_a, (void *)i), 0);
	while (rp__fifo_pop(&q, &fn, &arg)) {
		ck_assert_ptr_eq(fn, fn_a);
		ck_assert_uint_eq((uintptr_t)arg, next++);
	}
	ck_assert_uint_eq(next, 2 * n + 1);
	ck_assert_uint_eq(rp__fifo_len(&q), 0);
	/* Exactly at a block's end, then past it. */
	for (uintptr_t i = 1; i <= RP_FIFO_BLOCK_SLOTS; i++)
		ck_assert_int_eq(rp__fifo_push(&q, fn_a, (void *)i), 0);
	ck_assert_uint_eq(rp__fifo_len(&q), RP_FIFO_BLOCK_SLOTS);
	for (uintptr_t i = 1; i <= RP_FIFO_BLOCK_SLOTS; i++) {
		ck_assert(rp__fifo_pop(&q, &fn, &arg));
		ck_assert_uint_eq((uintptr_t)arg, i);
	}
	ck_assert(!rp__fifo_pop(&q, &fn, &arg));
	ck_assert_int_eq(rp__fifo_push(&q, fn_a, (void *)1), 0);
	rp__fifo_fini(&q);
}
END_TEST

/* Batches: queue order, a fair share of a short queue, never a block's
 * last slot (a single pop takes it), and order across blocks. */
START_TEST(test_queue_pop_many)
{
	const uintptr_t n = 3 * RP_FIFO_BLOCK_SLOTS + 40;
	struct rp_fifo q;
	rp_fn *fns[16];
	void *args[16];
	rp_fn *fn;
	void *arg;
	uintptr_t next = 1;
	unsigned k;

	ck_assert_int_eq(rp__fifo_init(&q), 0);
	ck_assert_uint_eq(rp__fifo_pop_many(&q, fns, args, 16, 1), 0);
	for (uintptr_t i = 1; i <= 10; i++)
		ck_assert_int_eq(rp__fifo_push(&q, fn_a, (void *)i), 0);
	/* 10 queued, 2 consumers: 5, then 3 of the 5 left, then 1 of 2. */
	ck_assert_uint_eq(rp__fifo_pop_many(&q, fns, args, 16, 2), 5);
	for (k = 0; k < 5; k++) {
		ck_assert_ptr_eq(fns[k], fn_a);
		ck_assert_uint_eq((uintptr_t)args[k], next++);
	}
	ck_assert_uint_eq(rp__fifo_pop_many(&q, fns, args, 16, 2), 3);
	ck_assert_uint_eq(rp__fifo_pop_many(&q, fns, args, 16, 2), 1);
	ck_assert_uint_eq(rp__fifo_pop_many(&q, fns, args, 1, 1), 1);
	ck_assert_uint_eq((uintptr_t)args[0], 10);
	ck_assert_uint_eq(rp__fifo_len(&q), 0);
	rp__fifo_fini(&q);

	/* Across blocks: batches stop short of each block's last slot. */
	ck_assert_int_eq(rp__fifo_init(&q), 0);
	for (uintptr_t i = 1; i <= n; i++)
		ck_assert_int_eq(rp__fifo_push(&q, fn_a, (void *)i), 0);
	next = 1;
	while (next <= n) {
		k = rp__fifo_pop_many(&q, fns, args, 16, 1);
		if (k == 0) {
			/* Only a block's last slot: the single pop takes it. */
			ck_assert_uint_eq(next % RP_FIFO_BLOCK_SLOTS, 0);
			ck_assert(rp__fifo_pop(&q, &fn, &arg));
			ck_assert_uint_eq((uintptr_t)arg, next++);
			continue;
		}
		ck_assert_uint_le(k, 16);
		for (unsigned i = 0; i < k; i++) {
			ck_assert_uint_ne(next % RP_FIFO_BLOCK_SLOTS, 0);
			ck_assert_uint_eq((uintptr_t)args[i], next++);
		}
	}
	ck_assert_uint_eq(rp__fifo_pop_many(&q, fns, args, 16, 1), 0);
	ck_assert(!rp__fifo_pop(&q, &fn, &arg));
	rp__fifo_fini(&q);
}
END_TEST

#define PRODUCERS 3
#define CONSUMERS 3
#define PER_PRODUCER 200000

struct mpmc {
	struct rp_fifo q;
	_Atomic int producers_left;
	_Atomic unsigned long long sum, count;
};

static void *producer(void *p)
{
	struct mpmc *m = p;

	for (uintptr_t i = 1; i <= PER_PRODUCER; i++)
		ck_assert_int_eq(rp__fifo_push(&m->q, fn_a, (void *)i), 0);
	atomic_fetch_sub(&m->producers_left, 1);
	return NULL;
}

static _Atomic unsigned consumer_no;

static void *consumer(void *p)
{
	struct mpmc *m = p;
	unsigned long long sum = 0, count = 0;
	/* Every other consumer takes batches, one in three of its pops. */
	bool batches = atomic_fetch_add(&consumer_no, 1) % 2;
	rp_fn *fns[8];
	void *args[8];
	unsigned k = 0, got;

	for (;;) {
		if (batches && ++k % 3 == 0)
			got = rp__fifo_pop_many(&m->q, fns, args, 8, CONSUMERS);
		else
			got = rp__fifo_pop(&m->q, &fns[0], &args[0]);
		for (unsigned i = 0; i < got; i++) {
			ck_assert_ptr_eq(fns[i], fn_a);
			sum += (uintptr_t)args[i];
			count++;
		}
		if (!got && !atomic_load(&m->producers_left) && !rp__fifo_len(&m->q))
			break;
	}
	atomic_fetch_add(&m->sum, sum);
	atomic_fetch_add(&m->count, count);
	return NULL;
}

/* Many producers and consumers, some taking batches, through thousands of
 * blocks: every entry comes out exactly once. */
START_TEST(test_queue_mpmc)
{
	struct mpmc m;
	pthread_t p[PRODUCERS], c[CONSUMERS];
	unsigned long long want = (unsigned long long)PER_PRODUCER * (PER_PRODUCER + 1) / 2 * PRODUCERS;

	ck_assert_int_eq(rp__fifo_init(&m.q), 0);
	atomic_init(&m.producers_left, PRODUCERS);
	atomic_init(&m.sum, 0);
	atomic_init(&m.count, 0);
	for (int i = 0; i < CONSUMERS; i++)
		ck_assert_int_eq(pthread_create(&c[i], NULL, consumer, &m), 0);
	for (int i = 0; i < PRODUCERS; i++)
		ck_assert_int_eq(pthread_create(&p[i], NULL, producer, &m), 0);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(p[i], NULL);
	for (int i = 0; i < CONSUMERS; i++)
		pthread_join(c[i], NULL);
	t_assert_u(atomic_load(&m.count), ==, (unsigned long long)PER_PRODUCER * PRODUCERS);
	t_assert_u(atomic_load(&m.sum), ==, want);
	rp__fifo_fini(&m.q);
}
END_TEST

Suite *make_suite(void);
Suite *make_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_queue_fifo);
	tcase_add_test(tc, test_queue_blocks);
	tcase_add_test(tc, test_queue_pop_many);
	suite_add_tcase(s, tc);
	tc = tcase_create("concurrency");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_queue_mpmc);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return t_main(make_suite, false);
}
