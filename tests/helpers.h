/* SPDX-License-Identifier: MIT */
/* Shared test helpers (prefix t_).  See helpers.c. */
#ifndef RINGPOOL_TEST_HELPERS_H
#define RINGPOOL_TEST_HELPERS_H

#include <check.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <ringpool.h>

/* Exit status automake reads as "skipped". */
#define T_SKIP 77

/*
 * Assert @a OP @b on unsigned (t_assert_u) or signed (t_assert_i) values,
 * each evaluated once, saying what failed in the words of the source:
 * "atomic_load(&pool->nidle) == want: 3 vs 4".  (Check's own assertions
 * print the macro expansion of an atomic_load().)
 */
#define t_assert_u(a, op, b)                                                              \
	do {                                                                               \
		unsigned long long t_a_ = (a), t_b_ = (b);                                 \
		ck_assert_msg(t_a_ op t_b_, "%s %s %s: %llu vs %llu", #a, #op, #b, t_a_, t_b_); \
	} while (0)
#define t_assert_i(a, op, b)                                                              \
	do {                                                                               \
		long long t_a_ = (a), t_b_ = (b);                                          \
		ck_assert_msg(t_a_ op t_b_, "%s %s %s: %lld vs %lld", #a, #op, #b, t_a_, t_b_); \
	} while (0)

/*
 * Run @make's suite once per backend ("uring", then "futex"), with
 * RINGPOOL_BACKEND set for the forked tests.  A backend the machine lacks is
 * reported and skipped.  With @both false, run once with the environment as
 * it is.  Return: the exit status for main().
 *
 * Every forked test gets a watchdog thread: if, after T_WATCHDOG_S seconds
 * (default 20), no callback of any live pool completes for 5 s while work
 * is queued or blocked, it prints every pool's state (the library's
 * rp__pools_dump(), where the test links the white-box library) before
 * Check's timeout kills the test.
 */
int t_main(Suite *(*make)(void), bool both);

/* The backend the current pass forces, or NULL. */
const char *t_backend(void);

/* Create a pool with these options (ck_assert on failure). */
rp_pool *t_pool(unsigned concurrency, unsigned min_threads, unsigned max_threads,
		unsigned idle_timeout_ms);

/* Burn CPU for @us microseconds, measured on the thread's CPU clock. */
void t_spin_us(unsigned us);
/* Burn wall time for @us microseconds while on CPU. */
void t_busy_us(unsigned us);
uint64_t t_now_ns(void);
void t_sleep_ms(unsigned ms);

/* Poll @cond(@arg) every millisecond for up to @ms; return its last value. */
bool t_wait_until(bool (*cond)(void *arg), void *arg, unsigned ms);

/* Count callbacks inside a section at once, and the peak. */
struct t_conc {
	_Atomic int now;
	_Atomic int peak;
};
void t_conc_enter(struct t_conc *c);
void t_conc_leave(struct t_conc *c);

/* A one-shot event: set once, waited on by any number of threads. */
struct t_event {
	_Atomic uint32_t v;
};
void t_event_set(struct t_event *e);
void t_event_wait(struct t_event *e);
bool t_event_is_set(struct t_event *e);

/* Count down to zero; t_latch_wait() returns when it gets there. */
struct t_latch {
	_Atomic uint32_t n;
};
void t_latch_init(struct t_latch *l, unsigned n);
void t_latch_done(struct t_latch *l);
void t_latch_wait(struct t_latch *l);

/* A callback that holds its slot on CPU (never blocking) until released:
 * t_blocker_start() posts it and returns once it runs; t_event_set(&release)
 * lets it return. */
struct t_blocker {
	struct t_event started;
	struct t_event release;
};
void t_blocker_fn(void *arg);
void t_blocker_start(rp_pool *pool, struct t_blocker *b);

/*
 * Become an ordinary user as a container would run us: RLIMIT_MEMLOCK 64 KiB,
 * RLIMIT_NOFILE 1024, uid/gid nobody (65534) with no supplementary groups and
 * no capabilities.  Only when running as root; a non-root run already is
 * unprivileged (its limits are lowered all the same).  Call inside a forked
 * test.  Return: true if the limits are in force.
 */
bool t_drop_privileges(void);
/* The same, as user and group @uid: a user of its own, whose locked-memory
 * budget (per user) no other test shares. */
bool t_drop_privileges_to(unsigned uid);

/* Print @pool's counters to stderr with @why: what a test says before it
 * fails on a pool that stopped making progress. */
void t_dump(rp_pool *pool, const char *why);

/* Context switches so far of every thread of the process but the caller
 * (and the watchdog): unchanged over a while means nobody else woke up. */
unsigned long long t_others_switches(void);
/* CPU time (user + system) so far of every thread but the caller, in ms
 * (the kernel counts it in clock ticks). */
unsigned long long t_others_cpu_ms(void);

/*
 * Install a seccomp filter that makes the system calls @nrs[0..@n) fail
 * with @err, as a container profile would; with @tsync, for every thread
 * of the process (else for the caller and the threads it creates from now
 * on).  Call inside a forked test.  Return: true if installed.
 */
bool t_seccomp_refuse(const long *nrs, int n, int err, bool tsync);

/* The calling thread's kernel id. */
int t_gettid(void);

#endif
