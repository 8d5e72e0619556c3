/* SPDX-License-Identifier: MIT */
/*
 * stress.c - ringpool under load, on both backends.
 *
 * Four scenarios, each run for a time budget and then checked by counts:
 *   posters        4 outside threads post mixed tasks at every priority:
 *                  plain, spinning, hinted sleepers, parents that post
 *                  children, and parents that wait (hinted) for children;
 *                  every accepted task runs exactly once (a token each).
 *   works          64 work objects submitted from outside and from their
 *                  own and each other's callbacks, nested hinted waits,
 *                  -EDEADLK self-waits, cancels, and create/close churn.
 *   destroy        pools destroyed while callbacks still post children
 *                  and closed work objects still have submissions queued.
 *   nested_waits   trees of work objects created, submitted, waited for
 *                  and closed inside callbacks, on a one- or two-slot pool.
 *
 * RP_STRESS=1 selects the long mode (about 20 s per scenario and backend,
 * 2-3 minutes in all); anything else the short mode (about 2.5 s per
 * scenario, well under 15 s per backend).  The budgets bound only how long
 * load is generated; every assertion is on counts.
 *
 * Callbacks never call ck_assert (they run on pool threads): they count
 * anomalies, and the test body asserts that the counts are zero.
 */
#include "config.h"

#include "helpers.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_LONG_MS 120000u

static bool long_mode;

static uint64_t budget_ns(void)
{
	return (long_mode ? 20000ull : 2500ull) * 1000000u;
}

/* A small per-thread generator (xorshift64*), seeded from the thread id. */
static __thread uint64_t rng;

static uint64_t rnd(void)
{
	if (!rng)
		rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)t_gettid() << 17) ^ t_now_ns();
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static enum rp_priority rnd_prio(void)
{
	return (enum rp_priority)(rnd() % 3);
}

static unsigned long long pool_queued(rp_pool *pool)
{
	struct rp_stats st;

	return rp_pool_stats(pool, &st) == 0 ? st.queued : 0;
}

/* Keep a poster from running ahead of the pool without bound. */
static void throttle(rp_pool *pool, unsigned long long limit)
{
	while (pool_queued(pool) > limit)
		t_sleep_ms(1);
}

/* A hinted block of about @us microseconds, off CPU. */
static void hinted_sleep_us(unsigned us)
{
	struct timespec ts = { 0, (long)us * 1000 };

	rp_blocking_begin();
	nanosleep(&ts, NULL);
	rp_blocking_end();
}

/* ================================================================== posters */

#define S1_POSTERS 4
#define S1_TOKENS (1u << 22)
#define S1_NEST_MAX 64
#define S1_NEST_KIDS 3

static struct s1 {
	rp_pool *pool;
	uint64_t deadline;
	_Atomic unsigned long accepted;
	_Atomic unsigned long ran;
	_Atomic unsigned long bad;      /* a post failed */
	_Atomic unsigned long dup;      /* a token ran twice */
	_Atomic unsigned long next_tok; /* tokens handed out (may pass S1_TOKENS) */
	_Atomic unsigned nesting;       /* parents blocked on their children now */
	_Atomic unsigned long nested;   /* nested waits done */
	_Atomic uint8_t *tokens;
} s1;

/* A task's argument is its token + 1, or 0 when the tokens ran out. */
static void *s1_token(void)
{
	unsigned long t = atomic_fetch_add(&s1.next_tok, 1);

	return t < S1_TOKENS ? (void *)(uintptr_t)(t + 1) : NULL;
}

static void s1_ran(void *arg)
{
	uintptr_t t = (uintptr_t)arg;

	if (t && atomic_fetch_add(&s1.tokens[t - 1], 1) != 0)
		atomic_fetch_add(&s1.dup, 1);
	atomic_fetch_add(&s1.ran, 1);
}

static void s1_post(rp_fn *fn, void *arg)
{
	if (rp_post_prio(s1.pool, rnd_prio(), fn, arg))
		atomic_fetch_add(&s1.bad, 1);
	else
		atomic_fetch_add(&s1.accepted, 1);
}

static void s1_plain(void *arg)
{
	s1_ran(arg);
}

static void s1_spin(void *arg)
{
	t_spin_us(20);
	s1_ran(arg);
}

static void s1_hinted(void *arg)
{
	hinted_sleep_us(50);
	s1_ran(arg);
}

static void s1_parent(void *arg)
{
	s1_post(s1_plain, s1_token());
	s1_post(s1_spin, s1_token());
	s1_ran(arg);
}

struct s1_kid {
	struct t_latch *latch;
	void *tok;
};

static void s1_kid(void *arg)
{
	struct s1_kid *k = arg;
	struct t_latch *l = k->latch;

	s1_ran(k->tok);
	t_latch_done(l); /* last: the parent's stack frame goes after this */
}

/* Post children, then wait for them inside a hinted block. */
static void s1_nest(void *arg)
{
	struct s1_kid kids[S1_NEST_KIDS];
	struct t_latch l;

	if (atomic_fetch_add(&s1.nesting, 1) >= S1_NEST_MAX) {
		/* Enough threads blocked already: bounded below max_threads. */
		atomic_fetch_sub(&s1.nesting, 1);
		s1_ran(arg);
		return;
	}
	t_latch_init(&l, S1_NEST_KIDS);
	for (int i = 0; i < S1_NEST_KIDS; i++) {
		kids[i].latch = &l;
		kids[i].tok = s1_token();
		if (rp_post_prio(s1.pool, rnd_prio(), s1_kid, &kids[i])) {
			atomic_fetch_add(&s1.bad, 1);
			t_latch_done(&l);
		} else {
			atomic_fetch_add(&s1.accepted, 1);
		}
	}
	rp_blocking_begin();
	t_latch_wait(&l);
	rp_blocking_end();
	atomic_fetch_sub(&s1.nesting, 1);
	atomic_fetch_add(&s1.nested, 1);
	s1_ran(arg);
}

static void *s1_poster(void *arg)
{
	(void)arg;
	while (t_now_ns() < s1.deadline) {
		for (int i = 0; i < 256; i++) {
			unsigned k = (unsigned)(rnd() % 64);
			rp_fn *fn = k < 48 ? s1_plain : k < 56 ? s1_spin : k < 60 ? s1_hinted
						      : k < 63 ? s1_parent : s1_nest;

			s1_post(fn, s1_token());
		}
		throttle(s1.pool, 50000);
	}
	return NULL;
}

static bool s1_done(void *arg)
{
	(void)arg;
	return atomic_load(&s1.ran) >= atomic_load(&s1.accepted);
}

START_TEST(test_stress_posters)
{
	pthread_t th[S1_POSTERS];
	unsigned long ntok, missing = 0, twice = 0;

	memset(&s1, 0, sizeof(s1));
	s1.tokens = calloc(S1_TOKENS, sizeof(*s1.tokens));
	ck_assert_ptr_nonnull(s1.tokens);
	s1.pool = t_pool(0, 0, 0, 0);
	s1.deadline = t_now_ns() + budget_ns();
	for (int i = 0; i < S1_POSTERS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, s1_poster, NULL), 0);
	for (int i = 0; i < S1_POSTERS; i++)
		pthread_join(th[i], NULL);
	ck_assert_msg(t_wait_until(s1_done, NULL, T_LONG_MS), "%lu of %lu ran",
		      s1.ran, s1.accepted);
	/* Destroy runs whatever a late parent posted. */
	ck_assert_int_eq(rp_pool_destroy(s1.pool), 0);

	ck_assert_uint_eq(s1.bad, 0);
	ck_assert_uint_eq(s1.dup, 0);
	ck_assert_uint_eq(s1.ran, s1.accepted);
	ntok = atomic_load(&s1.next_tok);
	if (ntok > S1_TOKENS)
		ntok = S1_TOKENS;
	for (unsigned long i = 0; i < ntok; i++) {
		uint8_t v = atomic_load(&s1.tokens[i]);

		missing += v == 0;
		twice += v > 1;
	}
	ck_assert_msg(!missing && !twice, "%lu tasks never ran, %lu ran twice", missing, twice);
	ck_assert_uint_gt(s1.nested, 0);
	printf("stress posters (%s): %lu tasks, %lu nested waits\n", t_backend(),
	       atomic_load(&s1.accepted), atomic_load(&s1.nested));
	free(s1.tokens);
}
END_TEST

/* ================================================================== works */

#define S2_WORKS 64
#define S2_THREADS 4
#define S2_WAIT_MAX 16

struct s2_work {
	rp_work *w;
	unsigned idx;
	bool cancel_group;              /* external threads cancel these */
	_Atomic unsigned long submits;  /* accepted submissions */
	_Atomic unsigned long runs;
	unsigned long frozen;           /* runs once quiet */
};

static struct s2 {
	rp_pool *pool;
	uint64_t deadline;
	_Atomic bool stop;
	struct s2_work works[S2_WORKS];
	_Atomic unsigned waiting;
	_Atomic unsigned long nested;
	_Atomic unsigned long deadlk;   /* self-waits refused, as they must be */
	_Atomic unsigned long cancels;
	_Atomic unsigned long bad;
	_Atomic unsigned long temp_submits;
	_Atomic unsigned long temp_runs;
} s2;

static void s2_submit(struct s2_work *k)
{
	if (rp_work_submit(k->w))
		atomic_fetch_add(&s2.bad, 1);
	else
		atomic_fetch_add(&k->submits, 1);
}

static void s2_fn(void *arg)
{
	struct s2_work *k = arg;
	uint64_t r;

	atomic_fetch_add(&k->runs, 1);
	if (atomic_load(&s2.stop))
		return;
	r = rnd();
	if (r % 8 == 7)
		t_spin_us(10);
	/* On average 0.5 + 0.25 + 1/16 new callbacks per callback: chains die
	 * out unless fed from outside. */
	if (r % 2 == 0)
		s2_submit(k);
	if (r % 4 == 1)
		s2_submit(&s2.works[(r >> 8) % S2_WORKS]);
	if (r % 16 == 3 && k->idx + 1 < S2_WORKS) {
		/* Wait only for a higher index: no cycle of waits. */
		if (atomic_fetch_add(&s2.waiting, 1) < S2_WAIT_MAX) {
			struct s2_work *j = &s2.works[k->idx + 1 + (r >> 8) % (S2_WORKS - 1 - k->idx)];

			s2_submit(j);
			if (rp_work_wait(j->w, false))
				atomic_fetch_add(&s2.bad, 1);
			else
				atomic_fetch_add(&s2.nested, 1);
		}
		atomic_fetch_sub(&s2.waiting, 1);
	}
	if (r % 64 == 5) {
		if (rp_work_wait(k->w, (r >> 8) & 1) == -EDEADLK)
			atomic_fetch_add(&s2.deadlk, 1);
		else
			atomic_fetch_add(&s2.bad, 1);
	}
}

static void *s2_outside(void *arg)
{
	(void)arg;
	while (t_now_ns() < s2.deadline) {
		for (int i = 0; i < 128; i++) {
			uint64_t r = rnd();
			struct s2_work *k = &s2.works[r % S2_WORKS];

			s2_submit(k);
			if ((r >> 8) % 256 == 0 && rp_work_wait(k->w, false))
				atomic_fetch_add(&s2.bad, 1);
			if (k->cancel_group && (r >> 16) % 64 == 0) {
				if (rp_work_wait(k->w, true))
					atomic_fetch_add(&s2.bad, 1);
				else
					atomic_fetch_add(&s2.cancels, 1);
			}
		}
		throttle(s2.pool, 20000);
	}
	return NULL;
}

static void s2_temp_fn(void *arg)
{
	(void)arg;
	atomic_fetch_add(&s2.temp_runs, 1);
}

/* Work objects created, submitted and closed at once, with submissions
 * still queued: the close must not lose or repeat them. */
static void *s2_churn(void *arg)
{
	(void)arg;
	while (t_now_ns() < s2.deadline) {
		rp_work *w;
		unsigned n = 1 + (unsigned)(rnd() % 8);

		if (rp_work_create(&w, s2.pool, s2_temp_fn, NULL)) {
			atomic_fetch_add(&s2.bad, 1);
			continue;
		}
		for (unsigned i = 0; i < n; i++) {
			if (rp_work_submit(w))
				atomic_fetch_add(&s2.bad, 1);
			else
				atomic_fetch_add(&s2.temp_submits, 1);
		}
		if (rnd() % 4 == 0 && rp_work_wait(w, false))
			atomic_fetch_add(&s2.bad, 1);
		if (rp_work_close(w))
			atomic_fetch_add(&s2.bad, 1);
		throttle(s2.pool, 20000);
	}
	return NULL;
}

static unsigned long s2_sum(bool runs)
{
	unsigned long n = 0;

	for (int i = 0; i < S2_WORKS; i++)
		n += atomic_load(runs ? &s2.works[i].runs : &s2.works[i].submits);
	return n;
}

static bool s2_temp_done(void *arg)
{
	(void)arg;
	return atomic_load(&s2.temp_runs) >= atomic_load(&s2.temp_submits);
}

static bool s2_completed_is(void *arg)
{
	struct rp_stats st;

	return rp_pool_stats(s2.pool, &st) == 0 && st.completed == *(unsigned long *)arg;
}

START_TEST(test_stress_works)
{
	pthread_t th[S2_THREADS + 1];
	unsigned long before, after, expect_completed;
	int rounds = 0;
	struct rp_stats st;

	memset(&s2, 0, sizeof(s2));
	s2.pool = t_pool(0, 0, 0, 0);
	for (int i = 0; i < S2_WORKS; i++) {
		s2.works[i].idx = (unsigned)i;
		s2.works[i].cancel_group = i % 4 == 3;
		ck_assert_int_eq(rp_work_create(&s2.works[i].w, s2.pool, s2_fn, &s2.works[i]), 0);
	}
	s2.deadline = t_now_ns() + budget_ns();
	for (int i = 0; i < S2_THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, s2_outside, NULL), 0);
	ck_assert_int_eq(pthread_create(&th[S2_THREADS], NULL, s2_churn, NULL), 0);
	for (int i = 0; i <= S2_THREADS; i++)
		pthread_join(th[i], NULL);

	/* Stop the chains, then wait until a full pass of waits sees no new
	 * submission: every callback has returned and none will come. */
	atomic_store(&s2.stop, true);
	do {
		ck_assert_int_lt(rounds++, 1000);
		before = s2_sum(false);
		for (int i = 0; i < S2_WORKS; i++)
			ck_assert_int_eq(rp_work_wait(s2.works[i].w, false), 0);
		after = s2_sum(false);
	} while (before != after);

	ck_assert_uint_eq(s2.bad, 0);
	for (int i = 0; i < S2_WORKS; i++) {
		struct s2_work *k = &s2.works[i];
		unsigned long runs = atomic_load(&k->runs), subs = atomic_load(&k->submits);

		if (k->cancel_group)
			ck_assert_msg(runs <= subs, "work %d ran %lu times for %lu submits", i, runs,
				      subs);
		else
			ck_assert_msg(runs == subs, "work %d ran %lu times for %lu submits", i, runs,
				      subs);
		k->frozen = runs;
	}
	/* Every callback that ran, and no dropped entry, counts as completed. */
	ck_assert(t_wait_until(s2_temp_done, NULL, T_LONG_MS));
	expect_completed = s2_sum(true) + atomic_load(&s2.temp_runs);
	ck_assert_msg(t_wait_until(s2_completed_is, &expect_completed, T_LONG_MS),
		      "completed never matched %lu callbacks", expect_completed);
	ck_assert_int_eq(rp_pool_stats(s2.pool, &st), 0);
	ck_assert_uint_eq(st.queued, 0);

	for (int i = 0; i < S2_WORKS; i++)
		ck_assert_int_eq(rp_work_close(s2.works[i].w), 0);
	ck_assert_int_eq(rp_pool_destroy(s2.pool), 0);
	/* Nothing ran late, and the churned objects lost nothing. */
	for (int i = 0; i < S2_WORKS; i++)
		ck_assert_uint_eq(s2.works[i].runs, s2.works[i].frozen);
	ck_assert_uint_eq(s2.temp_runs, s2.temp_submits);
	ck_assert_uint_eq(s2.bad, 0);
	ck_assert_uint_gt(s2.nested, 0);
	ck_assert_uint_gt(s2.deadlk, 0);
	ck_assert_uint_gt(s2.cancels, 0);
	printf("stress works (%s): %lu callbacks (%lu submits), %lu nested waits, %lu self-waits, "
	       "%lu cancels, %lu churned\n",
	       t_backend(), s2_sum(true), s2_sum(false), atomic_load(&s2.nested),
	       atomic_load(&s2.deadlk), atomic_load(&s2.cancels), atomic_load(&s2.temp_runs));
}
END_TEST

/* ================================================================== destroy */

#define S3_DEPTH 7
#define S3_ROOTS 8
#define S3_NEST_MAX 32

static struct s3 {
	rp_pool *pool;
	_Atomic unsigned long accepted;
	_Atomic unsigned long ran;
	_Atomic unsigned long bad;
	_Atomic unsigned nesting;
	_Atomic unsigned long work_runs;
} s3;

static void s3_post(rp_fn *fn, void *arg)
{
	if (rp_post_prio(s3.pool, rnd_prio(), fn, arg))
		atomic_fetch_add(&s3.bad, 1);
	else
		atomic_fetch_add(&s3.accepted, 1);
}

static void s3_leaf_latch(void *arg)
{
	atomic_fetch_add(&s3.ran, 1);
	t_latch_done(arg);
}

static void s3_node(void *arg)
{
	uintptr_t depth = (uintptr_t)arg;
	uint64_t r = rnd();

	if (r % 8 == 0)
		t_spin_us(5);
	else if (r % 8 == 1)
		hinted_sleep_us(100);
	if (depth < S3_DEPTH) {
		s3_post(s3_node, (void *)(depth + 1));
		s3_post(s3_node, (void *)(depth + 1));
	}
	if (r % 16 == 2 && atomic_fetch_add(&s3.nesting, 1) < S3_NEST_MAX) {
		/* A parent that waits (hinted) for children it posts, while
		 * the pool is being destroyed. */
		struct t_latch l;

		t_latch_init(&l, 2);
		for (int i = 0; i < 2; i++) {
			if (rp_post(s3.pool, s3_leaf_latch, &l)) {
				atomic_fetch_add(&s3.bad, 1);
				t_latch_done(&l);
			} else {
				atomic_fetch_add(&s3.accepted, 1);
			}
		}
		rp_blocking_begin();
		t_latch_wait(&l);
		rp_blocking_end();
		atomic_fetch_sub(&s3.nesting, 1);
	} else if (r % 16 == 2) {
		atomic_fetch_sub(&s3.nesting, 1);
	}
	atomic_fetch_add(&s3.ran, 1);
}

static void s3_work_fn(void *arg)
{
	(void)arg;
	atomic_fetch_add(&s3.work_runs, 1);
}

START_TEST(test_stress_destroy_under_load)
{
	uint64_t deadline = t_now_ns() + budget_ns();
	unsigned long rounds = 0, tasks = 0;

	do {
		rp_work *w;
		unsigned subs = 100 + (unsigned)(rnd() % 100);

		memset(&s3, 0, sizeof(s3));
		s3.pool = t_pool(1 + rounds % 3, 0, 0, 0);
		for (int i = 0; i < S3_ROOTS; i++)
			s3_post(s3_node, (void *)(uintptr_t)0);
		ck_assert_int_eq(rp_work_create(&w, s3.pool, s3_work_fn, NULL), 0);
		for (unsigned i = 0; i < subs; i++)
			ck_assert_int_eq(rp_work_submit(w), 0);
		ck_assert_int_eq(rp_work_close(w), 0);
		/* At once: the trees are still growing. */
		ck_assert_int_eq(rp_pool_destroy(s3.pool), 0);

		ck_assert_uint_eq(s3.bad, 0);
		ck_assert_msg(s3.ran == s3.accepted,
			      "round %lu: %lu of %lu tasks ran", rounds, s3.ran,
			      s3.accepted);
		/* Every node of every tree, plus the latch children. */
		ck_assert_uint_ge(s3.ran, (unsigned long)S3_ROOTS * ((2ul << S3_DEPTH) - 1));
		ck_assert_uint_eq(s3.work_runs, subs);
		tasks += atomic_load(&s3.ran) + subs;
		rounds++;
	} while (t_now_ns() < deadline);
	printf("stress destroy (%s): %lu pools destroyed under load, %lu tasks\n", t_backend(),
	       rounds, tasks);
}
END_TEST

/* ================================================================== nested waits */

#define S4_DEPTH 5
#define S4_FANOUT 3

static struct s4 {
	rp_pool *pool;
	_Atomic unsigned long nodes;
	_Atomic unsigned long bad;
} s4;

static void s4_node(void *arg)
{
	uintptr_t depth = (uintptr_t)arg;

	if (depth < S4_DEPTH) {
		uint64_t r = rnd();
		bool outer = r % 4 == 0;
		rp_work *w;

		if (rp_work_create(&w, s4.pool, s4_node, (void *)(depth + 1))) {
			atomic_fetch_add(&s4.bad, 1);
			return;
		}
		for (int i = 0; i < S4_FANOUT; i++)
			if (rp_work_submit(w))
				atomic_fetch_add(&s4.bad, 1);
		/* Sometimes inside an outer hint: nesting is allowed. */
		if (outer)
			rp_blocking_begin();
		if (rp_work_wait(w, false))
			atomic_fetch_add(&s4.bad, 1);
		if (outer)
			rp_blocking_end();
		if (rp_work_close(w))
			atomic_fetch_add(&s4.bad, 1);
	} else if (rnd() % 4 == 0) {
		t_spin_us(20);
	}
	atomic_fetch_add(&s4.nodes, 1);
}

START_TEST(test_stress_nested_waits)
{
	uint64_t deadline = t_now_ns() + budget_ns();
	unsigned long expect = 0, level = 1, rounds = 0;
	rp_pool *pools[2];

	/* 1 + F + F^2 + ... + F^D nodes per tree. */
	for (int d = 0; d <= S4_DEPTH; d++, level *= S4_FANOUT)
		expect += level;
	memset(&s4, 0, sizeof(s4));
	pools[0] = t_pool(1, 0, 0, 0);
	pools[1] = t_pool(2, 0, 0, 0);
	do {
		rp_work *root;

		s4.pool = pools[rounds % 2];
		atomic_store(&s4.nodes, 0);
		ck_assert_int_eq(rp_work_create(&root, s4.pool, s4_node, (void *)(uintptr_t)0), 0);
		ck_assert_int_eq(rp_work_submit(root), 0);
		ck_assert_int_eq(rp_work_wait(root, false), 0);
		ck_assert_int_eq(rp_work_close(root), 0);
		ck_assert_uint_eq(s4.bad, 0);
		ck_assert_uint_eq(s4.nodes, expect);
		rounds++;
	} while (t_now_ns() < deadline);
	ck_assert_int_eq(rp_pool_destroy(pools[0]), 0);
	ck_assert_int_eq(rp_pool_destroy(pools[1]), 0);
	printf("stress nested_waits (%s): %lu trees of %lu nodes\n", t_backend(), rounds, expect);
}
END_TEST

/* ================================================================== suite */

static Suite *make_suite(void)
{
	Suite *s = suite_create("stress");
	TCase *tc = tcase_create("concurrency");

	/* Load for budget_ns(), then a drain; generous for noisy machines. */
	tcase_set_timeout(tc, long_mode ? 600 : 120);
	tcase_add_test(tc, test_stress_posters);
	tcase_add_test(tc, test_stress_works);
	tcase_add_test(tc, test_stress_destroy_under_load);
	tcase_add_test(tc, test_stress_nested_waits);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *e = getenv("RP_STRESS");

	long_mode = e && !strcmp(e, "1");
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("stress: %s mode (RP_STRESS=%s)\n", long_mode ? "long" : "short", e ? e : "");
	return t_main(make_suite, true);
}
