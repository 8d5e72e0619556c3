/* SPDX-License-Identifier: MIT */
/*
 * The worker deques (lib/deque.c), on their own: the owner's order and
 * the thieves', a full deque, batches from the shared queue, stalled
 * deques, the take/give budget, and an owner racing thieves without losing
 * or doubling an entry.  A bare pool structure holds the deques: no
 * thread, no backend.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "../lib/internal.h"

static void fn_a(void *arg)
{
	(void)arg;
}

static rp_pool *bare_pool(unsigned concurrency)
{
	rp_pool *pool = aligned_alloc(RP_CACHELINE, (sizeof(*pool) + RP_CACHELINE - 1) &
							~(size_t)(RP_CACHELINE - 1));

	ck_assert_ptr_nonnull(pool);
	memset(pool, 0, sizeof(*pool));
	pool->concurrency = concurrency;
	ck_assert_int_eq(rp__deques_init(pool), 0);
	return pool;
}

static void bare_pool_free(rp_pool *pool)
{
	rp__deques_fini(pool);
	free(pool);
}

static void worker_init(struct rp_worker *w, rp_pool *pool, unsigned id)
{
	memset(w, 0, sizeof(*w));
	w->pool = pool;
	w->id = id;
}

/* A post from a callback: counted in nlocal first, as rp__post() does. */
static bool push(struct rp_worker *w, uintptr_t v)
{
	atomic_fetch_add(&w->pool->nlocal, 1);
	if (rp__deque_push(w, fn_a, (void *)v))
		return true;
	atomic_fetch_sub(&w->pool->nlocal, 1);
	return false;
}

static uintptr_t pop(struct rp_worker *w)
{
	rp_fn *fn;
	void *arg;

	return rp__deque_pop(w, &fn, &arg) ? (uintptr_t)arg : 0;
}

static uintptr_t steal(struct rp_worker *w)
{
	rp_fn *fn;
	void *arg;

	return rp__deque_steal(w, &fn, &arg) ? (uintptr_t)arg : 0;
}

/* The owner runs newest first; a thief takes oldest first; nlocal counts. */
START_TEST(test_deque_owner_lifo_thief_fifo)
{
	rp_pool *pool = bare_pool(2);
	struct rp_worker a, b;

	worker_init(&a, pool, 0);
	worker_init(&b, pool, 1);
	rp__deque_take(pool, &a);
	ck_assert_ptr_nonnull(a.dq);
	for (uintptr_t i = 1; i <= 6; i++)
		ck_assert(push(&a, i));
	t_assert_u(atomic_load(&pool->nlocal), ==, 6);
	t_assert_u(pop(&a), ==, 6);
	t_assert_u(pop(&a), ==, 5);
	t_assert_u(steal(&b), ==, 1);
	t_assert_u(steal(&b), ==, 2);
	t_assert_u(pop(&a), ==, 4);
	t_assert_u(pop(&a), ==, 3);
	t_assert_u(pop(&a), ==, 0);
	t_assert_u(steal(&b), ==, 0);
	t_assert_u(atomic_load(&pool->nlocal), ==, 0);
	rp__deque_give(&a);
	ck_assert_ptr_null(a.dq);
	bare_pool_free(pool);
}
END_TEST

/* A full deque refuses a push (the post goes to the shared queue). */
START_TEST(test_deque_full)
{
	rp_pool *pool = bare_pool(1);
	struct rp_worker a;

	worker_init(&a, pool, 0);
	rp__deque_take(pool, &a);
	t_assert_u(rp__deque_room(&a), ==, RP_DEQUE_SIZE);
	for (uintptr_t i = 1; i <= RP_DEQUE_SIZE; i++)
		ck_assert(push(&a, i));
	t_assert_u(rp__deque_room(&a), ==, 0);
	ck_assert(!push(&a, 9999));
	t_assert_u(atomic_load(&pool->nlocal), ==, RP_DEQUE_SIZE);
	for (uintptr_t i = RP_DEQUE_SIZE; i >= 1; i--)
		t_assert_u(pop(&a), ==, i);
	rp__deque_give(&a);
	bare_pool_free(pool);
}
END_TEST

/* A batch from the shared queue runs in queue order on its owner, and is
 * known as one (the 1-in-64 rule does not apply to it). */
START_TEST(test_deque_batch_order)
{
	rp_pool *pool = bare_pool(1);
	struct rp_worker a, b;
	rp_fn *fns[4] = { fn_a, fn_a, fn_a, fn_a };
	void *args[4] = { (void *)1, (void *)2, (void *)3, (void *)4 };

	worker_init(&a, pool, 0);
	worker_init(&b, pool, 1);
	rp__deque_take(pool, &a);
	rp__deque_push_many(&a, fns, args, 4);
	t_assert_u(atomic_load(&pool->nlocal), ==, 4);
	ck_assert(rp__deque_batch_next(&a));
	t_assert_u(pop(&a), ==, 1);
	t_assert_u(pop(&a), ==, 2);
	/* A thief takes the batch's far end. */
	t_assert_u(steal(&b), ==, 4);
	/* A post of the owner's callbacks is not batch. */
	ck_assert(push(&a, 10));
	ck_assert(!rp__deque_batch_next(&a));
	t_assert_u(pop(&a), ==, 10);
	ck_assert(rp__deque_batch_next(&a));
	t_assert_u(pop(&a), ==, 3);
	t_assert_u(atomic_load(&pool->nlocal), ==, 0);
	rp__deque_give(&a);
	bare_pool_free(pool);
}
END_TEST

/*
 * Stalled deques (owner blocked or gone): their batch entries go first to
 * steal_stalled(), the owner's own posts do not; a deque given back with
 * entries is stalled whole and not taken by the next worker.
 */
START_TEST(test_deque_stalled)
{
	rp_pool *pool = bare_pool(1);
	struct rp_worker a, b, c;
	rp_fn *fns[2] = { fn_a, fn_a };
	void *args[2] = { (void *)1, (void *)2 };
	rp_fn *fn;
	void *arg;

	worker_init(&a, pool, 0);
	worker_init(&b, pool, 1);
	worker_init(&c, pool, 2);
	rp__deque_take(pool, &a);

	/* Only the owner's own posts: a block does not stall it. */
	ck_assert(push(&a, 100));
	rp__deque_stall(pool, a.dq);
	t_assert_u(atomic_load(&pool->nstalled), ==, 0);
	ck_assert(!rp__deque_steal_stalled(&b, &fn, &arg));
	t_assert_u(pop(&a), ==, 100);

	/* A batch, then a post of the owner's callback, then the owner blocks. */
	rp__deque_push_many(&a, fns, args, 2);
	ck_assert(push(&a, 200));
	rp__deque_stall(pool, a.dq);
	t_assert_u(atomic_load(&pool->nstalled), ==, 1);
	ck_assert(rp__deque_steal_stalled(&b, &fn, &arg));
	t_assert_u((uintptr_t)arg, ==, 2);
	ck_assert(rp__deque_steal_stalled(&b, &fn, &arg));
	t_assert_u((uintptr_t)arg, ==, 1);
	/* The batch is gone: the post stays, and the stall ends. */
	ck_assert(!rp__deque_steal_stalled(&b, &fn, &arg));
	t_assert_u(atomic_load(&pool->nstalled), ==, 0);
	t_assert_u(pop(&a), ==, 200);

	/* Given back with an entry: stalled whole, left to thieves. */
	ck_assert(push(&a, 300));
	rp__deque_give(&a);
	t_assert_u(atomic_load(&pool->nstalled), ==, 1);
	for (int i = 0; i < 3; i++) {
		struct rp_worker *t = i == 0 ? &c : i == 1 ? &b : &a;

		rp__deque_take(pool, t);
		ck_assert(t->dq != &pool->deques[0]); /* a's old deque */
		rp__deque_give(t);
	}
	ck_assert(rp__deque_steal_stalled(&b, &fn, &arg));
	t_assert_u((uintptr_t)arg, ==, 300);
	ck_assert(!rp__deque_steal_stalled(&b, &fn, &arg));
	t_assert_u(atomic_load(&pool->nstalled), ==, 0);
	t_assert_u(atomic_load(&pool->nlocal), ==, 0);
	bare_pool_free(pool);
}
END_TEST

/* The budget: C + RP_DEQUE_EXTRA deques, no more. */
START_TEST(test_deque_budget)
{
	rp_pool *pool = bare_pool(2);
	unsigned n = pool->ndeques;
	struct rp_worker *w = calloc(n + 1, sizeof(*w));

	t_assert_u(n, ==, 2 + RP_DEQUE_EXTRA);
	for (unsigned i = 0; i <= n; i++) {
		worker_init(&w[i], pool, i);
		rp__deque_take(pool, &w[i]);
	}
	for (unsigned i = 0; i < n; i++)
		ck_assert_ptr_nonnull(w[i].dq);
	ck_assert_ptr_null(w[n].dq);
	t_assert_u(atomic_load(&pool->ndq_taken), ==, n);
	rp__deque_give(&w[0]);
	rp__deque_take(pool, &w[n]);
	ck_assert_ptr_nonnull(w[n].dq);
	for (unsigned i = 1; i <= n; i++)
		rp__deque_give(&w[i]);
	t_assert_u(atomic_load(&pool->ndq_taken), ==, 0);
	free(w);
	bare_pool_free(pool);
}
END_TEST

/* ------------------------------------------------------------------ concurrency */

#define RACE_N 400000u
#define THIEVES 2

struct race {
	rp_pool *pool;
	struct rp_worker owner;
	_Atomic unsigned char *seen;	/* times each value was taken */
	_Atomic bool done;
	_Atomic unsigned long taken;
};

static void take_value(struct race *r, uintptr_t v)
{
	atomic_fetch_add(&r->seen[v], 1);
	atomic_fetch_add(&r->taken, 1);
}

static void *thief_main(void *arg)
{
	struct race *r = arg;
	struct rp_worker me;
	uintptr_t v;

	worker_init(&me, r->pool, 7);
	/* Until the owner is done and every value was taken, or, if some
	 * went missing, a while after. */
	for (unsigned long idle = 0; !atomic_load(&r->done) ||
				     (atomic_load(&r->taken) < RACE_N && idle < 1000000); idle++)
		if ((v = steal(&me)))
			take_value(r, v);
	return NULL;
}

/* The owner pushes and pops while two thieves steal: every value is taken
 * exactly once (Chase-Lev's last-entry race, and wrap-around). */
START_TEST(test_deque_owner_races_thieves)
{
	static struct race r;
	pthread_t th[THIEVES];
	uintptr_t next = 1, v;

	memset(&r, 0, sizeof(r));
	r.pool = bare_pool(1);
	r.seen = calloc(RACE_N + 1, 1);
	worker_init(&r.owner, r.pool, 0);
	rp__deque_take(r.pool, &r.owner);
	for (int i = 0; i < THIEVES; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, thief_main, &r), 0);
	for (unsigned round = 0; next <= RACE_N; round++) {
		/* Mostly one entry at a time, so the owner's pop and the
		 * thieves fight over the last one; every eighth round a burst,
		 * so the deque also fills and wraps around. */
		for (int k = round % 8 ? 1 : 5; k > 0 && next <= RACE_N; k--) {
			if (!push(&r.owner, next))
				break;
			next++;
		}
		if ((v = pop(&r.owner)))
			take_value(&r, v);
	}
	while ((v = pop(&r.owner)))
		take_value(&r, v);
	atomic_store(&r.done, true);
	for (int i = 0; i < THIEVES; i++)
		pthread_join(th[i], NULL);
	t_assert_u(atomic_load(&r.taken), ==, RACE_N);
	for (uintptr_t i = 1; i <= RACE_N; i++)
		if (atomic_load(&r.seen[i]) != 1)
			ck_abort_msg("value %lu taken %u times", (unsigned long)i,
				     (unsigned)atomic_load(&r.seen[i]));
	t_assert_u(atomic_load(&r.pool->nlocal), ==, 0);
	rp__deque_give(&r.owner);
	free((void *)r.seen);
	bare_pool_free(r.pool);
}
END_TEST

Suite *make_suite(void);
Suite *make_suite(void)
{
	Suite *s = suite_create("deque");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_deque_owner_lifo_thief_fifo);
	tcase_add_test(tc, test_deque_full);
	tcase_add_test(tc, test_deque_batch_order);
	tcase_add_test(tc, test_deque_stalled);
	tcase_add_test(tc, test_deque_budget);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrency");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_deque_owner_races_thieves);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return t_main(make_suite, false);
}
