/* SPDX-License-Identifier: MIT */
/*
 * The timer set of one clock (lib/timerset.c), on its own: entries grouped
 * by window, the wake-up the set asks for, and the rule every expiry must
 * keep however many windows there are: never before its due time, never
 * after its due time plus its window when the event thread wakes when
 * asked.  No pool, no thread.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "../lib/internal.h"

#define MS 1000000ull

struct ent {
	struct rp_tentry e;
	bool in;
	unsigned fired;
};

static void ent_init(struct ent *x, uint64_t due, uint64_t window)
{
	memset(x, 0, sizeof(*x));
	x->e.idx = UINT32_MAX;
	x->e.due = due;
	x->e.window = window;
}

static void insert(struct rp_timerset *ts, struct ent *x)
{
	ck_assert_int_eq(rp__timerset_reserve(ts, x->e.window), 0);
	rp__timerset_insert(ts, &x->e);
	x->in = true;
}

static struct ent *ent_of(struct rp_tentry *e)
{
	return (struct ent *)((char *)e - offsetof(struct ent, e));
}

/*
 * Run the set as the event thread does: wake at the deadline it asks for,
 * take every entry due by then.  Each taken entry must be due, and within
 * its window.  Return: the number of wake-ups.
 */
static unsigned drain(struct rp_timerset *ts)
{
	unsigned wakes = 0;
	uint64_t now;

	while ((now = rp__timerset_next_deadline(ts))) {
		struct rp_tentry *e;
		unsigned taken = 0;

		wakes++;
		while ((e = rp__timerset_first_due(ts)) && e->due <= now) {
			struct ent *x = ent_of(e);

			rp__timerset_remove(ts, e);
			t_assert_u(e->due, <=, now);
			if (now > e->due + e->window)
				ck_abort_msg("woke at %llu for an entry due %llu with window %llu",
					     (unsigned long long)now, (unsigned long long)e->due,
					     (unsigned long long)e->window);
			ck_assert(!rp__tentry_armed(e));
			x->in = false;
			x->fired++;
			taken++;
		}
		/* Every wake-up the set asks for has something to take. */
		t_assert_u(taken, >, 0);
	}
	ck_assert_ptr_null(rp__timerset_first_due(ts));
	return wakes;
}

/* Twelve windows, more than the set has groups for, with cancels and
 * re-arms along the way: every entry fires once, due and within its
 * window. */
START_TEST(test_timerset_windows_kept)
{
	enum { N = 20000, NW = 12 };
	static const uint64_t windows[NW] = { 0, 1, 7, MS / 2, MS, 2 * MS, 3 * MS, 5 * MS,
					      10 * MS, 16 * MS, 50 * MS, 1000 * MS };
	struct rp_timerset ts = { 0 };
	struct ent *x = calloc(N, sizeof(*x));
	unsigned seed = 7;

	ck_assert_ptr_nonnull(x);
	for (unsigned i = 0; i < N; i++) {
		ent_init(&x[i], 1 + (uint64_t)rand_r(&seed) % (1000 * MS),
			 windows[rand_r(&seed) % NW]);
		insert(&ts, &x[i]);
	}
	t_assert_u(ts.ngroups, ==, RP_WGROUPS);
	/* Cancel a third, and re-arm half of those at a new time. */
	for (unsigned i = 0; i < N; i += 3) {
		rp__timerset_remove(&ts, &x[i].e);
		x[i].in = false;
		if (i % 2) {
			x[i].e.due = 1 + (uint64_t)rand_r(&seed) % (1000 * MS);
			insert(&ts, &x[i]);
		}
	}
	drain(&ts);
	for (unsigned i = 0; i < N; i++) {
		unsigned want = i % 3 == 0 && i % 2 == 0 ? 0 : 1;

		if (x[i].fired != want)
			ck_abort_msg("entry %u (due %llu, window %llu) fired %u times, not %u", i,
				     (unsigned long long)x[i].e.due,
				     (unsigned long long)x[i].e.window, x[i].fired, want);
	}
	rp__timerset_fini(&ts);
	free(x);
}
END_TEST

/* Entries of one window share wake-ups: 1,000 timers over 1 s with a
 * 10 ms window need at most 100 wake-ups; with window 0, one each. */
START_TEST(test_timerset_window_coalesces)
{
	enum { N = 1000 };
	struct rp_timerset ts = { 0 };
	struct ent *x = calloc(N, sizeof(*x));
	unsigned wakes;

	ck_assert_ptr_nonnull(x);
	for (unsigned i = 0; i < N; i++) {
		ent_init(&x[i], 1 + (uint64_t)i * MS, 10 * MS);
		insert(&ts, &x[i]);
	}
	t_assert_u(ts.ngroups, ==, 2); /* window 0's, always there, and 10 ms */
	t_assert_u(rp__timerset_next_deadline(&ts), ==, 1 + 10 * MS);
	wakes = drain(&ts);
	t_assert_u(wakes, <=, 1000 / 10 + 1);
	for (unsigned i = 0; i < N; i++) {
		x[i].e.window = 0;
		insert(&ts, &x[i]);
	}
	wakes = drain(&ts);
	t_assert_u(wakes, ==, N);
	rp__timerset_fini(&ts);
	free(x);
}
END_TEST

/* A group left empty is given to the next new window: past eight windows
 * in use at once the set falls back, but not for ever. */
START_TEST(test_timerset_groups_reused)
{
	struct rp_timerset ts = { 0 };
	struct ent x[RP_WGROUPS + 1], late;
	unsigned g;

	for (unsigned i = 0; i < RP_WGROUPS; i++) {
		ent_init(&x[i], 100, i * MS);
		insert(&ts, &x[i]);
		t_assert_u(x[i].e.group, ==, i);
	}
	/* A ninth window, 4.5 ms: the group of 4 ms, the largest below. */
	ent_init(&x[RP_WGROUPS], 100, 4 * MS + MS / 2);
	insert(&ts, &x[RP_WGROUPS]);
	t_assert_u(ts.window[x[RP_WGROUPS].e.group], ==, 4 * MS);
	/* The 3 ms group empties: a new window takes it, exactly. */
	g = x[3].e.group;
	rp__timerset_remove(&ts, &x[3].e);
	ent_init(&late, 100, 9 * MS);
	insert(&ts, &late);
	t_assert_u(late.e.group, ==, g);
	t_assert_u(ts.window[g], ==, 9 * MS);
	/* The first deadline is the earliest due time plus its group's
	 * window: group 0's entry, window 0. */
	t_assert_u(rp__timerset_next_deadline(&ts), ==, 100);
	rp__timerset_remove(&ts, &x[0].e);
	t_assert_u(rp__timerset_next_deadline(&ts), ==, 100 + 1 * MS);
	rp__timerset_fini(&ts);
}
END_TEST

/* A deadline past the end of time saturates; a deadline of 0 (due 0,
 * window 0: at once) is not taken for "none". */
START_TEST(test_timerset_deadline_edges)
{
	struct rp_timerset ts = { 0 };
	struct ent a, b;

	ent_init(&a, UINT64_MAX - 5, 10 * MS);
	ck_assert_int_eq(rp__timerset_reserve(&ts, a.e.window), 0);
	t_assert_u(rp__timerset_insert(&ts, &a.e), ==, UINT64_MAX);
	ent_init(&b, 0, 0);
	insert(&ts, &b);
	t_assert_u(rp__timerset_next_deadline(&ts), ==, 1);
	rp__timerset_remove(&ts, &b.e);
	t_assert_u(rp__timerset_next_deadline(&ts), ==, UINT64_MAX);
	rp__timerset_remove(&ts, &a.e);
	t_assert_u(rp__timerset_next_deadline(&ts), ==, 0);
	/* Removing what is out changes nothing. */
	rp__timerset_remove(&ts, &a.e);
	ck_assert_ptr_null(rp__timerset_first_due(&ts));
	rp__timerset_fini(&ts);
}
END_TEST

static Suite *make(void)
{
	Suite *s = suite_create("timerset");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_timerset_windows_kept);
	tcase_add_test(tc, test_timerset_window_coalesces);
	tcase_add_test(tc, test_timerset_groups_reused);
	tcase_add_test(tc, test_timerset_deadline_edges);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return t_main(make, false);
}
