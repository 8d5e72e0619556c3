/* SPDX-License-Identifier: MIT */
/*
 * The monitors' parsers (lib/monitor.c), on crafted input: a perf switch
 * record's verdict (a sleep, a preemption, a switch in, a record too young
 * to count, a record of another kind), and a /proc stat line's, whose
 * command name may hold spaces and parentheses.
 */
#include "config.h"

#include <linux/perf_event.h>
#include <string.h>

#include "helpers.h"
#include "../lib/internal.h"

struct rec {
	struct perf_event_header h;
	uint64_t time;
};

static struct rec record(uint16_t misc, bool timed, uint64_t time)
{
	struct rec r;

	memset(&r, 0, sizeof(r));
	r.h.type = PERF_RECORD_SWITCH;
	r.h.misc = misc;
	r.h.size = timed ? 16 : 8;
	r.time = time;
	return r;
}

START_TEST(test_monitor_perf_record)
{
	const uint64_t now = 1000000000ull, old = now - 2 * RP_BLOCK_MIN_US * 1000u,
		       young = now - RP_BLOCK_MIN_US * 1000u / 2;
	struct rec r;

	/* A switch out that is not a preemption: asleep. */
	r = record(PERF_RECORD_MISC_SWITCH_OUT, false, 0);
	t_assert_i(rp__perf_record_oncpu(&r, false, now), ==, ONCPU_NO);
	/* Preempted: still wants the CPU. */
	r = record(PERF_RECORD_MISC_SWITCH_OUT | PERF_RECORD_MISC_SWITCH_OUT_PREEMPT, false, 0);
	t_assert_i(rp__perf_record_oncpu(&r, false, now), ==, ONCPU_YES);
	/* Switched in: on a CPU. */
	r = record(0, false, 0);
	t_assert_i(rp__perf_record_oncpu(&r, false, now), ==, ONCPU_YES);
	/* Timed: a sleep counts once it is RP_BLOCK_MIN_US old. */
	r = record(PERF_RECORD_MISC_SWITCH_OUT, true, old);
	t_assert_i(rp__perf_record_oncpu(&r, true, now), ==, ONCPU_NO);
	r = record(PERF_RECORD_MISC_SWITCH_OUT, true, young);
	t_assert_i(rp__perf_record_oncpu(&r, true, now), ==, ONCPU_YES);
	/* ...at any age when the caller gives no time. */
	t_assert_i(rp__perf_record_oncpu(&r, true, 0), ==, ONCPU_NO);
	/* Another kind of record, or a size that does not match: unknown. */
	r = record(PERF_RECORD_MISC_SWITCH_OUT, false, 0);
	r.h.type = PERF_RECORD_LOST;
	t_assert_i(rp__perf_record_oncpu(&r, false, now), ==, ONCPU_UNKNOWN);
	r = record(PERF_RECORD_MISC_SWITCH_OUT, true, old);
	t_assert_i(rp__perf_record_oncpu(&r, false, now), ==, ONCPU_UNKNOWN);
}
END_TEST

START_TEST(test_monitor_proc_stat)
{
	t_assert_i(rp__proc_stat_oncpu("4242 (t-3) S 1 4242 4242 0 -1 4194624 0 0"), ==,
		   ONCPU_NO);
	t_assert_i(rp__proc_stat_oncpu("4242 (t-3) D 1 4242"), ==, ONCPU_NO);
	t_assert_i(rp__proc_stat_oncpu("4242 (t-3) R 1 4242"), ==, ONCPU_YES);
	/* A command name with spaces and parentheses: the state follows the
	 * last ')'. */
	t_assert_i(rp__proc_stat_oncpu("4242 (a) R (b) S 1 4242"), ==, ONCPU_NO);
	t_assert_i(rp__proc_stat_oncpu("4242 (x y) R 1"), ==, ONCPU_YES);
	/* Other states, and lines that are not stat lines. */
	t_assert_i(rp__proc_stat_oncpu("4242 (t) Z 1"), ==, ONCPU_UNKNOWN);
	t_assert_i(rp__proc_stat_oncpu("4242 (t) T 1"), ==, ONCPU_UNKNOWN);
	t_assert_i(rp__proc_stat_oncpu("4242 (t)S 1"), ==, ONCPU_UNKNOWN);
	t_assert_i(rp__proc_stat_oncpu("garbage"), ==, ONCPU_UNKNOWN);
	t_assert_i(rp__proc_stat_oncpu(""), ==, ONCPU_UNKNOWN);
}
END_TEST

/* The CPU-clock verdict: unmoved since the last reading is off CPU, and a
 * thread that has used 0 ns (a coarse scheduler clock, a thread that ran
 * less than a tick) is no exception. */
START_TEST(test_monitor_cpu_clock)
{
	struct rp_monitor m;

	rp__monitor_init(&m);
	ck_assert_int_eq(rp__cpu_clock_oncpu(&m, 0), ONCPU_YES); /* the first: nothing to compare */
	ck_assert_int_eq(rp__cpu_clock_oncpu(&m, 0), ONCPU_NO);
	ck_assert_int_eq(rp__cpu_clock_oncpu(&m, 0), ONCPU_NO);
	ck_assert_int_eq(rp__cpu_clock_oncpu(&m, 1500), ONCPU_YES);
	ck_assert_int_eq(rp__cpu_clock_oncpu(&m, 1500), ONCPU_NO);
	ck_assert_int_eq(rp__cpu_clock_oncpu(&m, 2000), ONCPU_YES);
}
END_TEST

Suite *make_suite(void);
Suite *make_suite(void)
{
	Suite *s = suite_create("monitor");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_monitor_perf_record);
	tcase_add_test(tc, test_monitor_proc_stat);
	tcase_add_test(tc, test_monitor_cpu_clock);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return t_main(make_suite, false);
}
