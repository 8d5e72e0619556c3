/* SPDX-License-Identifier: MIT */
/*
 * Slots, admission, and the worker state machine.
 *
 * A *slot* is the right to run user code on a CPU; there are pool->slots
 * of them (C, or more while over-committed, below) and pool->running
 * counts those held.  A worker holds a slot while it runs a callback (RUN)
 * or looks for work (SEEK); it gives it up when it parks, enters a hinted
 * block, or is seen blocked.
 *
 * Every change of a worker's state that moves a slot, or the count of
 * blocked workers, is one of the rp__w_*() transitions below, which keep
 * running and nblocked in step; nothing else writes them (but the slot
 * acquire/return pair, and idle.c's park path, where no callback runs).
 *
 * Nothing here calls up into idle.c: a function that leaves a slot to be
 * passed on to waiting work (a worker gave it up, or admission reserved
 * it for a waiter another granter served first) returns true, and its
 * caller passes it on with rp__slot_release() (idle.c), which wakes or
 * starts a worker.
 *
 * Admission: a worker leaving a hinted block waits for a free slot before
 * it returns to user code (rp__admission_wait()), so however many leave
 * together, no more than C callbacks run afterwards.  Dekker pair (c):
 *   admission: nadmit++ (seq_cst), read running
 *   slot release: running-- (seq_cst), read nadmit
 * (Pairs (a) and (b) are in idle.c.)
 */
#include "internal.h"

#include <unistd.h>

__thread struct rp_worker *rp__self;

bool rp__slot_try_acquire(rp_pool *pool)
{
	/* seq_cst: the look half of the Dekker pairs (a) and (c). */
	unsigned r = atomic_load(&pool->running);

	while (r < rp__slots(pool)) {
		if (atomic_compare_exchange_weak(&pool->running, &r, r + 1))
			return true;
	}
	return false;
}

/*
 * Over-commit.  A block the pool is not told of is seen only some time
 * after it began (10 us to a regulator period), and until then its slot
 * stands idle; a read shorter than that is never seen at all.  A fixed pool
 * of many threads pays nothing for this: another thread is already
 * runnable on the CPU a sleeper leaves.  So while unhinted blocks keep
 * coming, each one seen exactly (perf switch records, /proc: not the CPU
 * clock, which takes a preempted thread for a sleeping one) adds a slot,
 * up to (1 + RP_OVERCOMMIT) x C (pool->slots_max), and RP_OVERCOMMIT_US
 * after the last one the slots are back at C: the regulator, which runs
 * whenever work waits for a slot, narrows them (rp__slots_narrow()), and
 * resets them when it goes to sleep.  Over C, workers yield their slots
 * at task boundaries, as after an unhinted block ends.  Hinted blocks
 * never widen: the pool knows of them at once.  (W3 and W9 on 2 vCPUs,
 * ringpool(7).)
 *
 * Return: true if a slot was added; the caller offers it to waiting work
 * (rp__slot_offer_near()).  Context: whoever saw the block, at @now.
 */
bool rp__slots_widen(rp_pool *pool, uint64_t now)
{
	unsigned s = rp__slots(pool), max = pool->slots_max;

	atomic_store_explicit(&pool->reg.wide_until, now + RP_OVERCOMMIT_US * 1000ull,
			      memory_order_relaxed);
	while (s < max) {
		if (atomic_compare_exchange_weak(&pool->slots, &s, s + 1))
			return true;
	}
	return false;
}

/* Back to C once RP_OVERCOMMIT_US passed without an unhinted block seen.
 * Context: the regulator, at @now. */
void rp__slots_narrow(rp_pool *pool, uint64_t now)
{
	if (rp__slots(pool) != pool->concurrency &&
	    now >= atomic_load_explicit(&pool->reg.wide_until, memory_order_relaxed))
		rp__slots_reset(pool);
}

/* Back to C now.  Context: the regulator, going to sleep. */
void rp__slots_reset(rp_pool *pool)
{
	atomic_store_explicit(&pool->slots, pool->concurrency, memory_order_relaxed);
}

/*
 * Admission tokens.  A worker waiting in rp_blocking_end() sleeps in read(2)
 * on the pool's admission pipe; each byte written is a slot reserved for
 * whichever waiter reads it.  The pipe is used for its wake-up: a write to
 * a pipe is a "sync" wake-up, which tells the scheduler that the writer is
 * about to sleep, so the waiter is placed on the writer's CPU: that of the
 * worker that yields its slot (and parks) or leaves its callback.  A futex
 * wake-up lets the scheduler put the waiter behind a busy CPU's current
 * thread while the yielder's CPU goes idle, for up to a time slice.  Pipe
 * readers wait in FIFO order.
 *
 * Grant tokens while waiters and free slots remain.  Pairs (c).
 * Return: true if a slot was reserved for a waiter that another granter
 * served first: the caller passes it on to queued work.
 */
static bool admit_tokens(rp_pool *pool)
{
	for (;;) {
		unsigned n = atomic_load(&pool->nadmit);

		if (!n || !rp__slot_try_acquire(pool))
			return false;
		while (n && !atomic_compare_exchange_weak(&pool->nadmit, &n, n - 1))
			;
		if (!n)
			return true;
		while (write(pool->adm_fd[1], "", 1) != 1)
			; /* EINTR; the pipe holds 64 KiB of tokens */
	}
}

/* Hand free slots to workers waiting in rp_blocking_end(): by token, or
 * through the futex FIFO, oldest first.
 * Return: true if the caller must pass a slot on (admit_tokens()). */
bool rp__admit_waiters(rp_pool *pool)
{
	struct rp_worker *kick[8];
	unsigned n;

	if (pool->adm_fd[1] >= 0)
		return admit_tokens(pool);
	do {
		n = 0;
		pthread_mutex_lock(&pool->lock);
		while (pool->adm_head && n < 8 && rp__slot_try_acquire(pool)) {
			struct rp_worker *w = pool->adm_head;

			pool->adm_head = w->adm_next;
			if (!pool->adm_head)
				pool->adm_tail = NULL;
			atomic_fetch_sub(&pool->nadmit, 1);
			/* The wake-word protocol of backend.h, on the futex. */
			atomic_fetch_add_explicit(&w->kicks, 1, memory_order_relaxed);
			atomic_store_explicit(&w->wake, RP_WAKE_ADMIT, memory_order_release);
			kick[n++] = w;
		}
		pthread_mutex_unlock(&pool->lock);
		/* Admission waiters sleep on their futex, never on a ring (see
		 * rp__admission_wait()), whatever the backend. */
		for (unsigned i = 0; i < n; i++) {
			rp__futex_kick(kick[i]);
			atomic_fetch_sub_explicit(&kick[i]->kicks, 1, memory_order_release);
		}
	} while (n == 8);
	return false;
}

/* Give a slot back without looking for queued work to use it: only for a
 * slot that was reserved and never used, by a caller that looks itself.
 * A worker waiting for admission still gets it.
 * Return: true if the caller must pass a slot on (rp__admit_waiters()). */
bool rp__slot_return(rp_pool *pool)
{
	atomic_fetch_sub(&pool->running, 1);
	return atomic_load(&pool->nadmit) && rp__admit_waiters(pool);
}

/*
 * Patience.  A worker waiting for admission gets the next slot that comes
 * free by itself: that of a worker entering a block (hinted or seen) or
 * parking.  A running worker gives up its slot at a task boundary only once
 * the waiter has waited RP_ADMIT_PATIENCE_US: in a pool whose callbacks
 * block often, a block frees a slot soon, and a worker that yields its
 * slot parks, to be woken again for the next block: two context switches
 * and a wake-up more for every block.  (rpbench with hints on 2 vCPUs,
 * 3 rounds: W9 24,800 -> 31,300 reads/s, W3c 711 -> 655 ms.)
 * Where nothing blocks or parks, a waiter waits at most this long plus the
 * rest of a task, about what a thread of a fixed pool waits for its time
 * slice.
 *
 * The time is that of the first of the waiters now counted: when one is
 * admitted and others remain, the stamp is older than the oldest of them,
 * so running workers yield a little early.  A waiter preempted between its
 * count and its stamp can leave a stamp off by that delay, either way:
 * patience is a matter of speed, and admission does not depend on it.
 * The check is rp__admission_due() (internal.h: inline, since every task
 * boundary makes it).
 *
 * A worker enters the admission wait: counted (pairs (c)), and stamped if
 * it is the first.
 */
static void admission_enter(rp_pool *pool)
{
	if (atomic_fetch_add(&pool->nadmit, 1) == 0)
		atomic_store_explicit(&pool->adm_since, rp__now_ns(), memory_order_relaxed);
}

/*
 * rp_blocking_end(): wait for a free slot before returning to user code, so
 * that many workers leaving blocks at once never run more than C callbacks.
 * Context: worker @w, state HINTED, holding no slot.  Pairs (c).
 * Return: with the slot, true if the caller must pass on another one
 * (admit_tokens()).
 */
static bool admission_wait(struct rp_worker *w)
{
	rp_pool *pool = w->pool;

	if (pool->adm_fd[0] >= 0) {
		char token;
		bool spare;

		if (rp__slot_try_acquire(pool))
			return false;
		/* Counted first, then a look for a slot freed meanwhile:
		 * the granter may be us, and the token anyone's.  A spare
		 * slot means another granter served a waiter meanwhile, so
		 * a token is on its way: read it first. */
		admission_enter(pool);
		spare = admit_tokens(pool);
		while (read(pool->adm_fd[0], &token, 1) != 1)
			; /* EINTR */
		return spare;
	}
	admission_enter(pool);
	if (rp__slot_try_acquire(pool)) {
		atomic_fetch_sub(&pool->nadmit, 1);
		return false;
	}
	pthread_mutex_lock(&pool->lock);
	if (rp__slot_try_acquire(pool)) {
		pthread_mutex_unlock(&pool->lock);
		atomic_fetch_sub(&pool->nadmit, 1);
		return false;
	}
	atomic_store_explicit(&w->wake, RP_WAKE_NONE, memory_order_relaxed);
	w->adm_next = NULL;
	if (pool->adm_tail)
		pool->adm_tail->adm_next = w;
	else
		pool->adm_head = w;
	pool->adm_tail = w;
	pthread_mutex_unlock(&pool->lock);

	/* The futex is enough here: an admission wait is short, and a ring
	 * wait would also swallow completions meant for the idle loop. */
	while (atomic_load_explicit(&w->wake, memory_order_acquire) == RP_WAKE_NONE)
		rp__futex_park(w, 0);
	atomic_store_explicit(&w->wake, RP_WAKE_NONE, memory_order_relaxed);
	return false;
}

/* ------------------------------------------------------------------ transitions */

/*
 * Into a hinted block (rp_blocking_begin()): RUN -> HINTED, counted
 * blocked; or DETECTED -> HINTED (already counted, its slot already gone).
 * Context: worker @w, in a callback.
 * Return: true if @w gave up its slot: the caller passes it on.
 */
bool rp__w_hint(struct rp_worker *w)
{
	rp_pool *pool = w->pool;
	int st = RP_W_RUN;

	for (;;) {
		if (atomic_compare_exchange_strong(&w->state, &st, RP_W_HINTED)) {
			if (st == RP_W_DETECTED)
				return false;
			atomic_fetch_add(&pool->nblocked, 1);
			return true;
		}
		/* The regulator's CAS to DETECTED won: try from there. */
		if (st != RP_W_DETECTED && st != RP_W_RUN)
			return false; /* not in a callback: cannot happen */
	}
}

/*
 * Out of a hinted block (rp_blocking_end()): wait for a free slot, then
 * HINTED -> RUN.  What the callback took from the shared queue is its own
 * again (deque.c).  Context: worker @w, HINTED.
 * Return: true if the caller must pass a slot on (admission_wait()).
 */
bool rp__w_unhint(struct rp_worker *w)
{
	bool spare = admission_wait(w);

	atomic_fetch_sub(&w->pool->nblocked, 1);
	/* Nobody else moves a HINTED worker. */
	atomic_store_explicit(&w->state, RP_W_RUN, memory_order_release);
	if (w->dq)
		rp__deque_unstall(w->pool, w->dq);
	return spare;
}

/*
 * @w, in a callback, was seen off CPU: RUN -> DETECTED, counted blocked.
 * The CAS loses to @w leaving RUN itself (its callback returned, or it
 * entered a hinted block).  Context: the detecting thread, pool->lock held.
 * Return: true if @w gave up its slot: the caller passes it on.
 */
bool rp__w_detect(struct rp_worker *w)
{
	rp_pool *pool = w->pool;
	int st = RP_W_RUN;

	rp__assert_held(&pool->lock);
	if (!atomic_compare_exchange_strong(&w->state, &st, RP_W_DETECTED))
		return false;
	atomic_fetch_add(&pool->nblocked, 1);
	atomic_fetch_add_explicit(&pool->blocks_detected, 1, memory_order_relaxed);
	return true;
}

/*
 * @w, seen blocked, runs again: DETECTED -> @to (RUN if seen on a CPU in
 * its callback, SEEK if the callback returned), taking a slot back even
 * past C (DESIGN rule 1: the next task boundary restores C).  The CAS
 * settles who does it, the detector or @w.  Return: true if this call did.
 */
static bool undetect(struct rp_worker *w, int to)
{
	rp_pool *pool = w->pool;
	int st = RP_W_DETECTED;

	if (!atomic_compare_exchange_strong(&w->state, &st, to))
		return false;
	atomic_fetch_add(&pool->running, 1);
	atomic_fetch_sub(&pool->nblocked, 1);
	return true;
}

/* Context: the detecting thread, pool->lock held, @w seen on a CPU. */
void rp__w_undetect(struct rp_worker *w)
{
	rp__assert_held(&w->pool->lock);
	undetect(w, RP_W_RUN);
}

/* rp__w_finish() (internal.h) when its callback did more than run: it
 * returned inside a hinted block, or was seen blocked. */
bool rp__w_finish_slow(struct rp_worker *w)
{
	bool spare = false;

	if (rp_unlikely(w->block_depth)) {
		w->block_depth = 0;
		spare = rp__w_unhint(w);
	}
	if (w->dq && rp_unlikely(atomic_load_explicit(&w->dq->stalled, memory_order_relaxed)))
		rp__deque_unstall(w->pool, w->dq);
	for (;;) {
		int st = RP_W_RUN;

		if (atomic_compare_exchange_strong(&w->state, &st, RP_W_SEEK))
			return spare;
		if (st == RP_W_DETECTED && undetect(w, RP_W_SEEK))
			return spare;
	}
}

/*
 * A callback ended its worker's thread (pthread_exit(), cancellation):
 * any state -> IDLE, out of the blocked count.  Context: the exiting worker.
 * Return: true if @w held a slot: the caller passes it on.
 */
bool rp__w_leave(struct rp_worker *w)
{
	rp_pool *pool = w->pool;

	for (;;) {
		int st = atomic_load(&w->state);

		if (st == RP_W_HINTED) {
			/* Only the worker leaves HINTED. */
			atomic_store(&w->state, RP_W_IDLE);
			atomic_fetch_sub(&pool->nblocked, 1);
			return false;
		}
		if (atomic_compare_exchange_strong(&w->state, &st, RP_W_IDLE)) {
			if (st == RP_W_DETECTED)
				atomic_fetch_sub(&pool->nblocked, 1);
			return st == RP_W_RUN || st == RP_W_SEEK;
		}
	}
}
