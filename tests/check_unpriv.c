/* SPDX-License-Identifier: MIT */
/*
 * DESIGN rule 9: unprivileged and small.  As user nobody with
 * RLIMIT_MEMLOCK 64 KiB and RLIMIT_NOFILE 1024 (a container's defaults), the
 * io_uring backend still serves with rings for its hot workers, and a
 * depth-10 tree of hinted parents blocked on their children (1023 blocked
 * at once) completes.  Run as root, each test drops to nobody first.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "../lib/internal.h"

struct node {
	rp_pool *pool;
	int depth;
	bool hint;
	struct t_event done;
	_Atomic int *leaves;
};

static void tree(void *arg)
{
	struct node *n = arg;

	if (n->depth > 0) {
		struct node c[2];

		for (int i = 0; i < 2; i++) {
			c[i] = (struct node){ .pool = n->pool, .depth = n->depth - 1,
					      .hint = n->hint, .leaves = n->leaves };
			ck_assert_int_eq(rp_post(n->pool, tree, &c[i]), 0);
		}
		if (n->hint)
			rp_blocking_begin();
		t_event_wait(&c[0].done);
		t_event_wait(&c[1].done);
		if (n->hint)
			rp_blocking_end();
	} else {
		t_spin_us(20);
		atomic_fetch_add(n->leaves, 1);
	}
	t_event_set(&n->done);
}

static void run_tree(rp_pool *pool, bool hint)
{
	_Atomic int leaves = 0;
	struct node root = { .pool = pool, .depth = 10, .hint = hint, .leaves = &leaves };

	ck_assert_int_eq(rp_post(pool, tree, &root), 0);
	t_event_wait(&root.done);
	ck_assert_int_eq(atomic_load(&leaves), 1024);
}

START_TEST(test_unpriv_tree_hinted)
{
	rp_pool *pool;
	struct rp_stats st;

	ck_assert_msg(t_drop_privileges(), "could not drop privileges");
	ck_assert_int_eq(rp_pool_create(&pool, NULL), 0);
	run_tree(pool, true);
	ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.blocks_hinted, 1023);
	/* Parents whose children finish early free their thread for others,
	 * so fewer than 1023 may have been needed; never more than the cap. */
	ck_assert_uint_le(st.threads_created, RP_DEFAULT_MAX_THREADS);
	if (!strcmp(t_backend(), "uring")) {
		/* The backend served on rings within the memlock budget. */
		unsigned rings = atomic_load(&pool->bk.rings);
		unsigned want = pool->bk.ring_budget < 4 ? pool->bk.ring_budget : 4;

		ck_assert(pool->bk.uring);
		/* 64 KiB holds eight 8 KiB rings; perf monitors must not eat
		 * the room (they share the user's locked_vm, see monitor.c). */
		ck_assert_uint_ge(rings, want);
		ck_assert_uint_le(rings, pool->bk.ring_budget);
	}
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

START_TEST(test_unpriv_tree_unhinted)
{
	rp_pool *pool;
	struct rp_stats st;

	ck_assert_msg(t_drop_privileges(), "could not drop privileges");
	ck_assert_int_eq(rp_pool_create(&pool, NULL), 0);
	run_tree(pool, false);
	ck_assert_int_eq(rp_pool_stats(pool, &st), 0);
	ck_assert_uint_ge(st.blocks_detected, 1);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

/* Sequential wake-ups of an idle pool go through rings, not futexes. */
START_TEST(test_unpriv_wakeups_use_rings)
{
	rp_pool *pool;
	struct t_latch l;

	if (strcmp(t_backend(), "uring"))
		return;
	ck_assert_msg(t_drop_privileges(), "could not drop privileges");
	ck_assert_int_eq(rp_pool_create(&pool, NULL), 0);
	for (int i = 0; i < 50; i++) {
		t_latch_init(&l, 1);
		ck_assert_int_eq(rp_post(pool, (rp_fn *)t_latch_done, &l), 0);
		t_latch_wait(&l);
		t_sleep_ms(2);
	}
	ck_assert_uint_gt(atomic_load(&pool->bk.kicks_ring), 0);
	ck_assert_int_eq(rp_pool_destroy(pool), 0);
}
END_TEST

Suite *make_suite(void);
Suite *make_suite(void)
{
	Suite *s = suite_create("unpriv");
	TCase *tc = tcase_create("limits");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_unpriv_tree_hinted);
	tcase_add_test(tc, test_unpriv_tree_unhinted);
	tcase_add_test(tc, test_unpriv_wakeups_use_rings);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return t_main(make_suite, true);
}
