/* SPDX-License-Identifier: MIT */
/*
 * Workers: slots, the LIFO idle stack, admission, wake-ups and the loop.
 *
 * A *slot* is the right to run user code on a CPU; there are pool->concurrency
 * of them and pool->running counts those held.  A worker holds a slot while it
 * runs a callback (RUN) or looks for work (SEEK); it gives it up when it
 * parks, enters a hinted block, or is seen blocked by the regulator.
 *
 * Three places pair "publish, then look" in Dekker fashion; each side does a
 * seq_cst RMW or fence between its store and its load, so at least one side
 * sees the other:
 *   (a) post: push to a queue, fence, read running/nspinning/nidle
 *       park: nidle++ (lock), running-- (seq_cst), read the queues
 *   (b) a spinner stops (found work, or parks: go_idle()): nspinning--
 *       (seq_cst), read the queues
 *       post: as (a)
 *   (c) admission: nadmit++ (seq_cst), read running
 *       slot release: running-- (seq_cst), read nadmit
 */
#include "internal.h"

#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

__thread struct rp_worker *rp__self;

/* How long a worker looks for work before it parks, at most: about the cost
 * of one wake-up on this class of machine (DESIGN.md: ~6 us in the waker,
 * ~10 us until the woken thread runs).  Each worker adapts below that: a
 * spin that found nothing halves its next one, a spin that found work
 * doubles it, so a trickle of posts costs no spinning and a stream costs no
 * wake-ups. */
#define RP_SPIN_MAX_NS 8000u
#define RP_SPIN_MIN_NS 250u

#ifndef NDEBUG
void rp__assert_held_fn(pthread_mutex_t *m)
{
	/* An error-checking trylock would need a different mutex type; a
	 * successful trylock is proof enough that the caller did not hold it. */
	if (pthread_mutex_trylock(m) == 0) {
		fprintf(stderr, "ringpool: lock not held\n");
		abort();
	}
}
#endif

/* ------------------------------------------------------------------ futex */

int rp__futex_wait(_Atomic uint32_t *word, uint32_t expect, const struct timespec *abs)
{
	/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a
	 * spurious return needs no recomputation of the timeout. */
	long r = syscall(SYS_futex, word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expect, abs,
			 NULL, FUTEX_BITSET_MATCH_ANY);

	if (r == -1 && errno == ETIMEDOUT)
		return -ETIMEDOUT;
	return 0;
}

void rp__futex_wake(_Atomic uint32_t *word, int n)
{
	syscall(SYS_futex, word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL, NULL, 0);
}

int rp__futex_park(struct rp_worker *w, uint64_t deadline_ns)
{
	struct timespec ts, *abs = NULL;

	if (deadline_ns) {
		ts.tv_sec = (time_t)(deadline_ns / 1000000000u);
		ts.tv_nsec = (long)(deadline_ns % 1000000000u);
		abs = &ts;
	}
	return rp__futex_wait(&w->wake, RP_WAKE_NONE, abs);
}

void rp__futex_kick(struct rp_worker *w)
{
	rp__futex_wake(&w->wake, 1);
}

/* ------------------------------------------------------------------ queues */

bool rp__queues_empty(rp_pool *pool)
{
	if (atomic_load(&pool->nlocal))
		return false;
	for (int p = 0; p < RP_NPRIO; p++)
		if (rp__queue_len(&pool->q[p]))
			return false;
	return true;
}

unsigned long long rp__queued(rp_pool *pool)
{
	unsigned long long n = atomic_load_explicit(&pool->nhand, memory_order_relaxed) +
			       atomic_load_explicit(&pool->nlocal, memory_order_relaxed);

	for (int p = 0; p < RP_NPRIO; p++)
		n += rp__queue_len(&pool->q[p]);
	return n;
}

static bool pop_shared(struct rp_worker *w, rp_fn **fn, void **arg);

/*
 * Take the next task: highest priority first, except that one start in
 * RP_AGING_SHARE that passed over a waiting lower-priority task goes to the
 * lowest non-empty queue instead, so LOW work is never starved for ever.
 * Normal work comes from the worker's own deque first (newest first), but
 * one start in RP_AGING_SHARE of its callbacks' posts looks at the shared
 * queue before it, so a callback that keeps posting to itself cannot
 * starve the shared queue (a batch taken from that queue, pop_batch(), is
 * its oldest work already); then from the shared queues; then stolen from
 * the other deques.
 */
static bool pop_task(struct rp_worker *w, rp_fn **fn, void **arg)
{
	rp_pool *pool = w->pool;

	if (w->dq && w->skips < RP_AGING_SHARE - 1 && !rp__queue_len(&pool->q[RP_PRIORITY_HIGH]) &&
	    (rp__deque_batch_next(w) || ++w->local_runs % RP_AGING_SHARE) &&
	    rp__deque_pop(w, fn, arg)) {
		if (rp__queue_len(&pool->q[RP_PRIORITY_LOW]))
			w->skips++;
		return true;
	}
	if (pop_shared(w, fn, arg) || rp__deque_pop(w, fn, arg))
		return true;
	return rp__deque_steal(w, fn, arg);
}

/*
 * Take a batch of normal work from the shared queue: run the first entry,
 * and put the others on the worker's own deque, where it runs them in
 * order and thieves can take them if it blocks.  A deep queue then costs
 * its consumers one CAS per batch.  The batch is a fair share: at most the
 * queue's length over the number of slots, when it is short.
 */
static bool pop_batch(struct rp_worker *w, rp_fn **fn, void **arg)
{
	rp_pool *pool = w->pool;
	rp_fn *fns[RP_BATCH];
	void *args[RP_BATCH];
	unsigned max = rp__deque_room(w), n;

	if (max < 2)
		return false;
	max = max < RP_BATCH ? max : RP_BATCH;
	n = rp__queue_pop_many(&pool->q[RP_PRIORITY_NORMAL], fns, args, max, pool->concurrency);
	if (!n)
		return false;
	*fn = fns[0];
	*arg = args[0];
	if (n > 1)
		rp__deque_push_many(w, fns + 1, args + 1, n - 1);
	return true;
}

/*
 * Normal work not of this worker's own: first the shared-queue work left in
 * stalled deques (their owners blocked or parked: deque.c), which came
 * before anything still in the shared queue, then a batch from the shared
 * queue.
 */
static bool pop_normal(struct rp_worker *w, rp_fn **fn, void **arg)
{
	rp_pool *pool = w->pool;

	if (rp_unlikely(atomic_load_explicit(&pool->nstalled, memory_order_relaxed)) &&
	    rp__deque_steal_stalled(w, fn, arg))
		return true;
	return pop_batch(w, fn, arg) || rp__queue_pop(&pool->q[RP_PRIORITY_NORMAL], fn, arg);
}

/* pop_task() from the shared queues (and stalled deques) alone. */
static bool pop_shared(struct rp_worker *w, rp_fn **fn, void **arg)
{
	rp_pool *pool = w->pool;

	if (rp_unlikely(w->skips >= RP_AGING_SHARE - 1)) {
		for (int p = RP_NPRIO - 1; p > 0; p--) {
			if (rp__queue_pop(&pool->q[p], fn, arg)) {
				w->skips = 0;
				return true;
			}
		}
	}
	for (int p = 0; p < RP_NPRIO; p++) {
		if (!(p == RP_PRIORITY_NORMAL ? pop_normal(w, fn, arg)
					      : rp__queue_pop(&pool->q[p], fn, arg)))
			continue;
		for (int l = p + 1; l < RP_NPRIO; l++) {
			if (rp__queue_len(&pool->q[l])) {
				w->skips++;
				break;
			}
		}
		return true;
	}
	return false;
}

/* ------------------------------------------------------------------ slots */

bool rp__slot_try_acquire(rp_pool *pool)
{
	/* seq_cst: the look half of the Dekker pairs (a) and (c). */
	unsigned r = atomic_load(&pool->running);

	while (r < pool->concurrency) {
		if (atomic_compare_exchange_weak(&pool->running, &r, r + 1))
			return true;
	}
	return false;
}

static void wake_locked(rp_pool *pool, struct rp_worker *w, enum rp_wake why);

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
 */
static void admit_tokens(rp_pool *pool)
{
	for (;;) {
		unsigned n = atomic_load(&pool->nadmit);

		if (!n || !rp__slot_try_acquire(pool))
			return;
		while (n && !atomic_compare_exchange_weak(&pool->nadmit, &n, n - 1))
			;
		if (!n) {
			/* Another granter took the last waiter: pass the
			 * slot on to queued work instead. */
			rp__slot_release(pool);
			return;
		}
		while (write(pool->adm_fd[1], "", 1) != 1)
			; /* EINTR; the pipe holds 64 KiB of tokens */
	}
}

/* Hand free slots to workers waiting in rp_blocking_end(): by token, or
 * through the futex FIFO, oldest first. */
static void admit_waiters(rp_pool *pool)
{
	struct rp_worker *kick[8];
	unsigned n;

	if (pool->adm_fd[1] >= 0) {
		admit_tokens(pool);
		return;
	}
	do {
		n = 0;
		pthread_mutex_lock(&pool->lock);
		while (pool->adm_head && n < 8 && rp__slot_try_acquire(pool)) {
			struct rp_worker *w = pool->adm_head;

			pool->adm_head = w->adm_next;
			if (!pool->adm_head)
				pool->adm_tail = NULL;
			atomic_fetch_sub(&pool->nadmit, 1);
			wake_locked(pool, w, RP_WAKE_ADMIT);
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
}

/* Give a slot back without looking for someone to use it: only for a slot
 * that was reserved and never used, by a caller that looks itself. */
static void slot_return(rp_pool *pool)
{
	atomic_fetch_sub(&pool->running, 1);
	if (atomic_load(&pool->nadmit))
		admit_waiters(pool);
}

/*
 * Give up a slot and pass it on: to a worker waiting for admission first
 * (it holds a callback half done), else to queued work.  Pairs (c) and (a).
 */
void rp__slot_release(rp_pool *pool)
{
	atomic_fetch_sub(&pool->running, 1);
	if (atomic_load(&pool->nadmit))
		admit_waiters(pool);
	else if (!rp__queues_empty(pool))
		rp__release_worker(pool);
}

/* ------------------------------------------------------------------ idle stack */

static void idle_push_locked(rp_pool *pool, struct rp_worker *w, uint64_t now)
{
	rp__assert_held(&pool->lock);
	w->parked_ns = now;
	w->idle_next = pool->idle_top;
	w->idle_prev = NULL;
	if (pool->idle_top)
		pool->idle_top->idle_prev = w;
	else
		pool->idle_bottom = w;
	pool->idle_top = w;
	w->on_idle = true;
	atomic_fetch_add(&pool->nidle, 1);
	if (atomic_load_explicit(&w->mon.attached, memory_order_relaxed))
		atomic_fetch_add(&pool->reg.idle_monitors, 1);
}

static void idle_remove_locked(rp_pool *pool, struct rp_worker *w)
{
	rp__assert_held(&pool->lock);
	if (w->idle_prev)
		w->idle_prev->idle_next = w->idle_next;
	else
		pool->idle_top = w->idle_next;
	if (w->idle_next)
		w->idle_next->idle_prev = w->idle_prev;
	else
		pool->idle_bottom = w->idle_prev;
	w->idle_next = w->idle_prev = NULL;
	w->on_idle = false;
	atomic_fetch_sub(&pool->nidle, 1);
	if (atomic_load_explicit(&w->mon.attached, memory_order_relaxed))
		atomic_fetch_sub(&pool->reg.idle_monitors, 1);
}

/* The most recently idle worker: LIFO keeps caches and stacks warm and lets
 * the ones at the bottom time out and retire. */
static struct rp_worker *idle_pop_locked(rp_pool *pool)
{
	struct rp_worker *w = pool->idle_top;

	if (w)
		idle_remove_locked(pool, w);
	return w;
}

/* Tell @w why it wakes.  The caller calls kick_finish(@w) after unlocking. */
static void wake_locked(rp_pool *pool, struct rp_worker *w, enum rp_wake why)
{
	rp__assert_held(&pool->lock);
	atomic_fetch_add_explicit(&w->kicks, 1, memory_order_relaxed);
	/* Pairs with the acquire load in park(): the handed-over task and the
	 * slot reservation are visible before the wake word is. */
	atomic_store_explicit(&w->wake, why, memory_order_release);
}

static void kick_finish(rp_pool *pool, struct rp_worker *w)
{
	pool->ops->kick(pool, w);
	/* Pairs with the acquire load in worker_exit(): the kick is done with
	 * @w's ring before the worker may close it. */
	atomic_fetch_sub_explicit(&w->kicks, 1, memory_order_release);
}

/* ------------------------------------------------------------------ spawn */

static void *worker_main(void *arg);

static int create_thread(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	int err = rp__fault(RP_FAULT_THREAD);

	return err ? err : pthread_create(t, attr, fn, arg);
}

/* Take @w off pool->workers and out of nthreads (destroy waits for zero).
 * Context: pool->lock held. */
static void unlist_locked(rp_pool *pool, struct rp_worker *w)
{
	size_t i = w->index;

	rp__assert_held(&pool->lock);
	pool->workers[i] = pool->workers[--pool->nworkers];
	pool->workers[i]->index = i;
	if (atomic_fetch_sub(&pool->nthreads, 1) == 1)
		pthread_cond_broadcast(&pool->quiesce);
}

/*
 * Start a worker.  With @slot, the caller reserved a slot for it and it pulls
 * from the queues; without, it parks at once.  The worker is counted and
 * listed under pool->lock, so nthreads stays exact against max_threads and
 * destroy waits for it; its thread is created after the unlock, because
 * pthread_create() (clone, a stack mapping) is the slowest step of a
 * replacement, and under the lock it held up every worker that parks,
 * releases another or scans.  The worker may not exist by the time
 * pthread_create() returns.
 * Context: pool->lock held on entry, released on return.
 * Return: 0, -EAGAIN (out of threads: the system's, or max_threads while a
 * worker retires, so that a new one can be started in a moment), -EUSERS
 * (max_threads workers, none leaving: one of them will take the work) or
 * -ENOMEM; nothing changed on error.
 */
static int spawn_unlock(rp_pool *pool, bool slot)
{
	struct rp_worker *w;
	pthread_attr_t attr;
	pthread_t thread;
	sigset_t all, old;
	int ret;

	rp__assert_held(&pool->lock);
	if (atomic_load(&pool->nthreads) >= pool->max_threads) {
		ret = pool->nretiring ? -EAGAIN : -EUSERS;
		pthread_mutex_unlock(&pool->lock);
		return ret;
	}
	if (pool->nworkers == pool->workers_cap) {
		size_t cap = pool->workers_cap ? 2 * pool->workers_cap : 16;
		struct rp_worker **v = rp__realloc(RP_FAULT_ALLOC_WORKERS, pool->workers,
						  cap * sizeof(*v));

		if (!v) {
			pthread_mutex_unlock(&pool->lock);
			return -ENOMEM;
		}
		pool->workers = v;
		pool->workers_cap = cap;
	}
	w = rp__calloc(RP_FAULT_ALLOC_WORKER, 1, sizeof(*w));
	if (!w) {
		pthread_mutex_unlock(&pool->lock);
		return -ENOMEM;
	}
	w->pool = pool;
	w->id = pool->next_id++;
	w->born_idle = !slot;
	w->spin_ns = RP_SPIN_MAX_NS;
	w->scan_every = w->scan_countdown = 1;
	/* Born with a slot: it will look at the queues, so posts meanwhile
	 * need not wake anyone (see struct rp_pool.nspinning). */
	w->spinning = slot;
	if (w->spinning)
		atomic_fetch_add(&pool->nspinning, 1);
	atomic_init(&w->state, slot ? RP_W_SEEK : RP_W_IDLE);
	rp__monitor_init(&w->mon);
	w->index = pool->nworkers;
	pool->workers[pool->nworkers++] = w;
	atomic_fetch_add(&pool->nthreads, 1);
	pool->nactive++;
	pthread_mutex_unlock(&pool->lock);

	/* Workers never take the process's signals: block them all in the
	 * new thread, which inherits the creator's mask. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	ret = create_thread(&thread, &attr, worker_main, w);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!ret) {
		atomic_fetch_add_explicit(&pool->threads_created, 1, memory_order_relaxed);
		return 0;
	}

	/* Undo the reservation. */
	pthread_mutex_lock(&pool->lock);
	if (w->spinning)
		atomic_fetch_sub(&pool->nspinning, 1);
	pool->nactive--;
	if (atomic_load_explicit(&pool->closing, memory_order_relaxed) && !pool->nactive)
		pthread_cond_broadcast(&pool->quiesce);
	unlist_locked(pool, w);
	pthread_mutex_unlock(&pool->lock);
	free(w);
	return ret == ENOMEM ? -ENOMEM : -EAGAIN;
}

int rp__spawn_idle(rp_pool *pool)
{
	int ret;

	pthread_mutex_lock(&pool->lock);
	ret = spawn_unlock(pool, false);
	return ret == -EUSERS ? -EAGAIN : ret;
}

/*
 * Work is waiting: make sure a worker will run it.  A spinning worker will;
 * else reserve a free slot and wake the most recently idle worker, or start
 * one.  With no free slot, the regulator watches for blocked workers.  If
 * no worker can be started (the system is out of threads or memory), the
 * regulator tries again until one can (rp__regulator_retry()): accepted
 * work is never left without a worker to run it.
 * Return: false if the work was left so, with no worker to run it for now.
 */
bool rp__release_worker(rp_pool *pool)
{
	struct rp_worker *w;
	int ret;

	if (atomic_load(&pool->nspinning))
		return true;
	if (!rp__slot_try_acquire(pool)) {
		rp__regulator_kick(pool);
		return true;
	}
	pthread_mutex_lock(&pool->lock);
	/* Look again: another releaser may have woken a worker since (wakers
	 * count their wakee spinning under this lock, and the last spinner to
	 * find work wakes the next one, see stop_spinning()), or the work may
	 * be gone.  Without this, two blocks at once start two workers for
	 * one task. */
	if (atomic_load(&pool->nspinning)) {
		pthread_mutex_unlock(&pool->lock);
		slot_return(pool); /* the spinner looks after its decrement: (b) */
		return true;
	}
	if (rp__queues_empty(pool)) {
		pthread_mutex_unlock(&pool->lock);
		/* A post since our look saw this slot taken and woke nobody:
		 * give the slot back the way that looks at the queue after. */
		rp__slot_release(pool);
		return true;
	}
	w = pool->stopping ? NULL : idle_pop_locked(pool);
	if (w) {
		pool->nactive++;
		w->spinning = true;
		atomic_fetch_add(&pool->nspinning, 1);
		wake_locked(pool, w, RP_WAKE_WORK);
		pthread_mutex_unlock(&pool->lock);
		kick_finish(pool, w);
		return true;
	}
	if (pool->stopping) {
		pthread_mutex_unlock(&pool->lock);
		slot_return(pool);
		return true;
	}
	ret = spawn_unlock(pool, true);
	if (ret == 0)
		return true;
	slot_return(pool);
	/* max_threads workers, none leaving: the work waits for the next one
	 * to finish a callback. */
	if (ret == -EUSERS)
		return true;
	/* Out of threads or memory for now: the regulator tries again. */
	rp__regulator_retry(pool);
	return false;
}

/*
 * The fast path of rp_post(): on a pool with an idle worker, a free slot, no
 * spinner and nothing queued, hand the task over in the wake-up itself.
 * Return: true if handed over.
 */
bool rp__handoff(rp_pool *pool, rp_fn *fn, void *arg)
{
	struct rp_worker *w;

	if (!atomic_load_explicit(&pool->nidle, memory_order_relaxed) ||
	    atomic_load_explicit(&pool->nspinning, memory_order_relaxed) ||
	    atomic_load_explicit(&pool->nadmit, memory_order_relaxed) || !rp__queues_empty(pool))
		return false;
	if (!rp__slot_try_acquire(pool))
		return false;
	pthread_mutex_lock(&pool->lock);
	w = pool->stopping ? NULL : idle_pop_locked(pool);
	if (!w) {
		pthread_mutex_unlock(&pool->lock);
		slot_return(pool);
		return false;
	}
	pool->nactive++;
	w->hand_fn = fn;
	w->hand_arg = arg;
	atomic_fetch_add_explicit(&pool->nhand, 1, memory_order_relaxed);
	wake_locked(pool, w, RP_WAKE_WORK);
	pthread_mutex_unlock(&pool->lock);
	kick_finish(pool, w);
	return true;
}

/* ------------------------------------------------------------------ admission */

/*
 * rp_blocking_end(): wait for a free slot before returning to user code, so
 * that many workers leaving blocks at once never run more than C callbacks.
 * Context: worker @w, state HINTED, holding no slot.  Pairs (c).
 */
void rp__admission_wait(struct rp_worker *w)
{
	rp_pool *pool = w->pool;
	uint32_t why;

	if (pool->adm_fd[0] >= 0) {
		char token;

		if (rp__slot_try_acquire(pool))
			return;
		/* Counted first, then a look for a slot freed meanwhile:
		 * the granter may be us, and the token anyone's. */
		atomic_fetch_add(&pool->nadmit, 1);
		admit_tokens(pool);
		while (read(pool->adm_fd[0], &token, 1) != 1)
			; /* EINTR */
		return;
	}
	atomic_fetch_add(&pool->nadmit, 1);
	if (rp__slot_try_acquire(pool)) {
		atomic_fetch_sub(&pool->nadmit, 1);
		return;
	}
	pthread_mutex_lock(&pool->lock);
	if (rp__slot_try_acquire(pool)) {
		pthread_mutex_unlock(&pool->lock);
		atomic_fetch_sub(&pool->nadmit, 1);
		return;
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
	while ((why = atomic_load_explicit(&w->wake, memory_order_acquire)) == RP_WAKE_NONE)
		rp__futex_park(w, 0);
	atomic_store_explicit(&w->wake, RP_WAKE_NONE, memory_order_relaxed);
}

/* ------------------------------------------------------------------ the loop */

/* Run one task.  Context: @w holds a slot (SEEK); returns holding one. */
static void run_task(struct rp_worker *w, rp_fn *fn, void *arg)
{
	rp_pool *pool = w->pool;
	int st;

	atomic_fetch_add_explicit(&w->task_seq, 1, memory_order_relaxed);
	if (rp_unlikely(!w->dq) &&
	    atomic_load_explicit(&pool->ndq_taken, memory_order_relaxed) < pool->ndeques)
		rp__deque_take(pool, w);
	if (rp_unlikely(!atomic_load_explicit(&w->mon.attached, memory_order_relaxed)))
		rp__monitor_claim(pool, w);
	atomic_store_explicit(&w->state, RP_W_RUN, memory_order_release);
	fn(arg);
	if (rp_unlikely(w->block_depth)) {
		/* A callback returned inside rp_blocking_begin(): close the
		 * block so the worker holds a slot again. */
		w->block_depth = 1;
		rp__block_end(w);
	}
	w->cur_work = NULL;
	/* Seen blocked meanwhile (regulator.c): runs again. */
	if (w->dq && rp_unlikely(atomic_load_explicit(&w->dq->stalled, memory_order_relaxed)))
		rp__deque_unstall(pool, w->dq);
	for (;;) {
		st = RP_W_RUN;
		if (atomic_compare_exchange_strong(&w->state, &st, RP_W_SEEK))
			break;
		/* The regulator saw this callback blocked and gave its slot
		 * away; it is back on a CPU now, so take a slot again even past
		 * C (DESIGN rule 1): the task boundary below restores C. */
		if (st == RP_W_DETECTED &&
		    atomic_compare_exchange_strong(&w->state, &st, RP_W_SEEK)) {
			atomic_fetch_add(&pool->running, 1);
			atomic_fetch_sub(&pool->nblocked, 1);
			break;
		}
	}
	if (rp_likely(!w->dropped))
		atomic_store_explicit(&w->completed,
				      atomic_load_explicit(&w->completed, memory_order_relaxed) + 1,
				      memory_order_relaxed);
	w->dropped = false;
}

/*
 * A spinning worker found work.  If it was the last spinner and more work is
 * queued, wake one more worker: work posted while we spun woke nobody (Go's
 * scheduler does the same).  Pairs (b).
 */
static void stop_spinning(struct rp_worker *w)
{
	rp_pool *pool = w->pool;

	w->spinning = false;
	if (atomic_fetch_sub(&pool->nspinning, 1) == 1 && !rp__queues_empty(pool))
		rp__release_worker(pool);
}

/*
 * Look for work for a little while before parking: a task posted within
 * about the cost of a wake-up is taken without one.  Pairs (b).
 */
static bool spin_for_work(struct rp_worker *w, rp_fn **fn, void **arg)
{
	rp_pool *pool = w->pool;
	uint64_t deadline;

	if (!w->spinning) {
		w->spinning = true;
		atomic_fetch_add(&pool->nspinning, 1);
	}
	deadline = rp__now_ns() + w->spin_ns;
	do {
		for (int i = 0; i < 32; i++) {
			if (!rp__queues_empty(pool) && pop_task(w, fn, arg)) {
				w->spin_ns = w->spin_ns * 2 < RP_SPIN_MAX_NS ? w->spin_ns * 2
									     : RP_SPIN_MAX_NS;
				stop_spinning(w);
				return true;
			}
			rp__cpu_relax();
		}
	} while (rp__now_ns() < deadline && !atomic_load_explicit(&pool->nadmit, memory_order_relaxed));
	w->spin_ns = w->spin_ns / 2 > RP_SPIN_MIN_NS ? w->spin_ns / 2 : RP_SPIN_MIN_NS;
	/* Still counted spinning: go_idle() stops counting only after it gave
	 * its slot back, then looks at the queues, so a post in between needs
	 * no wake-up and no regulator. */
	return false;
}

/*
 * Time for rp__regulator_scan_from_worker()?  Reading the clock at every
 * boundary would cost tiny tasks a third of their throughput, so a worker
 * looks every scan_every boundaries, adapted to keep its looks about one
 * scan period apart: every boundary for tasks of 50 us, every 64th for
 * empty ones.
 */
static void scan_tick(struct rp_worker *w)
{
	const uint64_t period = RP_SCAN_PERIOD_US * 1000u;
	uint64_t now = rp__now_ns(), gap = now - w->scan_last;

	if (gap < period / 2 && w->scan_every < 64)
		w->scan_every *= 2;
	else if (gap > period && w->scan_every > 1)
		w->scan_every /= 2;
	w->scan_last = now;
	w->scan_countdown = w->scan_every;
	rp__regulator_scan_from_worker(w->pool, now);
}

/*
 * Run tasks while there are any and this worker may: the IOCP rule at every
 * task boundary.  Context: @w holds a slot; returns holding it.
 */
static void run_until_empty(struct rp_worker *w)
{
	rp_pool *pool = w->pool;
	rp_fn *fn;
	void *arg;

	for (;;) {
		if (w->hand_fn) {
			fn = w->hand_fn;
			arg = w->hand_arg;
			w->hand_fn = NULL;
			atomic_fetch_sub_explicit(&pool->nhand, 1, memory_order_relaxed);
		} else if (!pop_task(w, &fn, &arg) && !spin_for_work(w, &fn, &arg)) {
			return;
		}
		if (w->spinning)
			stop_spinning(w);
		run_task(w, fn, arg);
		/* Over C after an unhinted block ended, or a worker leaving a
		 * hinted block wants the slot: yield it. */
		unsigned running = atomic_load_explicit(&pool->running, memory_order_relaxed);
		if (running > pool->concurrency ||
		    atomic_load_explicit(&pool->nadmit, memory_order_relaxed))
			return;
		/* Every slot held: is one of them held by a sleeper? */
		if (running == pool->concurrency && --w->scan_countdown == 0)
			scan_tick(w);
	}
}

/*
 * Park on the idle stack until woken.  With @holding, give the worker's slot
 * up first.  Return: true to run (woken with a slot), false to exit.
 */
static bool go_idle(struct rp_worker *w, bool holding)
{
	rp_pool *pool = w->pool;
	uint64_t deadline;
	uint32_t why;

	/* An idle worker needs no deque: the hot ones get them. */
	rp__deque_give(w);
	/* Take a ring (if the budget allows) before joining the stack, so
	 * w->ring does not change while a waker may look at it. */
	pool->ops->worker_prepare(pool, w);

	pthread_mutex_lock(&pool->lock);
	if (pool->stopping) {
		pool->nactive--;
		pthread_mutex_unlock(&pool->lock);
		if (holding)
			slot_return(pool);
		if (w->spinning) {
			w->spinning = false;
			atomic_fetch_sub(&pool->nspinning, 1);
		}
		return false;
	}
	atomic_store_explicit(&w->wake, RP_WAKE_NONE, memory_order_relaxed);
	atomic_store_explicit(&w->state, RP_W_IDLE, memory_order_relaxed);
	/* Once on the stack, a waker may pop us and set spinning for the
	 * count it adds: take our own count's flag now, under the lock, and
	 * drop the count itself below.  (Reading the flag after the unlock
	 * raced with that waker: TSan saw it, and a lost decrement would
	 * leave nspinning stuck above zero, so no post would wake anyone.) */
	bool spun = w->spinning;
	w->spinning = false;
	/* Read under the lock (nretiring is L): may this worker retire? */
	bool may_retire = atomic_load(&pool->nthreads) - pool->nretiring > pool->min_threads;
	idle_push_locked(pool, w, rp__now_ns());
	pool->nactive--;
	if (atomic_load_explicit(&pool->closing, memory_order_relaxed) && !pool->nactive)
		pthread_cond_broadcast(&pool->quiesce);
	pthread_mutex_unlock(&pool->lock);

	/* Pairs (a): our nidle++ and running-- against a poster's push and
	 * its look at running; then (b): no longer spinning, look at the
	 * queues. */
	if (holding)
		atomic_fetch_sub(&pool->running, 1);
	if (spun)
		atomic_fetch_sub(&pool->nspinning, 1);
	if (holding) {
		if (atomic_load(&pool->nadmit))
			admit_waiters(pool);
		if (!rp__queues_empty(pool)) {
			/* Work came while no slot looked free to its poster. */
			pthread_mutex_lock(&pool->lock);
			if (w->on_idle && !pool->stopping && rp__slot_try_acquire(pool)) {
				idle_remove_locked(pool, w);
				pool->nactive++;
				w->spinning = true;
				atomic_fetch_add(&pool->nspinning, 1);
				atomic_store_explicit(&w->state, RP_W_SEEK, memory_order_relaxed);
				pthread_mutex_unlock(&pool->lock);
				return true;
			}
			pthread_mutex_unlock(&pool->lock);
		}
	}

	deadline = may_retire ? rp__now_ns() + (uint64_t)pool->idle_timeout_ms * 1000000u : 0;
	for (;;) {
		/* Pairs with the release store in wake_locked(). */
		why = atomic_load_explicit(&w->wake, memory_order_acquire);
		if (why != RP_WAKE_NONE)
			break;
		if (pool->ops->park(pool, w, deadline) != -ETIMEDOUT)
			continue;
		pthread_mutex_lock(&pool->lock);
		if (w->on_idle && !pool->stopping &&
		    atomic_load(&pool->nthreads) - pool->nretiring > pool->min_threads) {
			idle_remove_locked(pool, w);
			w->retiring = true;
			pool->nretiring++;
			pthread_mutex_unlock(&pool->lock);
			return false;
		}
		pthread_mutex_unlock(&pool->lock);
		/* Popped by a waker (its word is on the way), or kept for
		 * min_threads: wait without a deadline. */
		deadline = 0;
	}
	atomic_store_explicit(&w->wake, RP_WAKE_NONE, memory_order_relaxed);
	if (why == RP_WAKE_EXIT)
		return false;
	atomic_store_explicit(&w->state, RP_W_SEEK, memory_order_relaxed);
	return true;
}

/*
 * A worker's thread is its own: a callback that calls pthread_exit() (or
 * enables and acts on cancellation) ends it in the middle of run_task().
 * The destructor of this key, which each worker sets to itself, then does
 * what the rest of run_task() and worker_exit() would have: the callback
 * counts as finished (for a work object, rp_work_wait() returns), the
 * worker's slot goes to waiting work (a replacement starts), and the
 * worker leaves the pool.  So the pool loses a thread, never a slot.
 */
static pthread_key_t exit_key;
static bool exit_key_ok;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void worker_exit(struct rp_worker *w);

static void worker_gone(void *p)
{
	struct rp_worker *w = p;
	rp_pool *pool = w->pool;
	bool holding = false;
	int st;

	if (w->cur_work)
		rp__work_abandon(w->cur_work);
	w->cur_work = NULL;
	for (;;) {
		st = atomic_load(&w->state);
		if (st == RP_W_HINTED) {
			/* Only the worker leaves HINTED. */
			atomic_store(&w->state, RP_W_IDLE);
			atomic_fetch_sub(&pool->nblocked, 1);
			break;
		}
		/* RUN holds a slot; DETECTED gave it away (regulator.c). */
		if (atomic_compare_exchange_strong(&w->state, &st, RP_W_IDLE)) {
			if (st == RP_W_DETECTED)
				atomic_fetch_sub(&pool->nblocked, 1);
			holding = st == RP_W_RUN || st == RP_W_SEEK;
			break;
		}
	}
	w->block_depth = 0;
	rp__deque_give(w);
	pthread_mutex_lock(&pool->lock);
	pool->nactive--;
	if (atomic_load_explicit(&pool->closing, memory_order_relaxed) && !pool->nactive)
		pthread_cond_broadcast(&pool->quiesce);
	pthread_mutex_unlock(&pool->lock);
	if (holding)
		rp__slot_release(pool);
	worker_exit(w);
}

static void exit_key_init(void)
{
	exit_key_ok = pthread_key_create(&exit_key, worker_gone) == 0;
}

/* Leave the pool.  After the unlock below nothing may touch @pool: destroy
 * frees it once nthreads reaches zero. */
static void worker_exit(struct rp_worker *w)
{
	rp_pool *pool = w->pool;

	if (exit_key_ok)
		pthread_setspecific(exit_key, NULL);

	/* Pairs with the release in kick_finish(). */
	while (atomic_load_explicit(&w->kicks, memory_order_acquire))
		rp__cpu_relax();
	pool->ops->worker_fini(pool, w);

	pthread_mutex_lock(&pool->lock);
	rp__monitor_detach(pool, w);
	if (w->retiring)
		pool->nretiring--;
	atomic_fetch_add_explicit(&pool->completed_retired,
				  atomic_load_explicit(&w->completed, memory_order_relaxed),
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&pool->threads_retired, 1, memory_order_relaxed);
	unlist_locked(pool, w);
	pthread_mutex_unlock(&pool->lock);
	rp__self = NULL;
	free(w);
}

static void *worker_main(void *arg)
{
	struct rp_worker *w = arg;
	rp_pool *pool = w->pool;
	char name[16];

	rp__self = w;
	pthread_once(&exit_once, exit_key_init);
	if (exit_key_ok)
		pthread_setspecific(exit_key, w);
	atomic_store(&w->tid, (pid_t)syscall(SYS_gettid));
	snprintf(name, sizeof(name), "%s-%u", pool->name, w->id);
	pthread_setname_np(pthread_self(), name);
	rp__monitor_thread_start(w);
	rp__monitor_attach(pool, w);

	if (!w->born_idle)
		run_until_empty(w);
	while (go_idle(w, !w->born_idle)) {
		w->born_idle = false;
		run_until_empty(w);
	}
	worker_exit(w);
	return NULL;
}

/*
 * Run the pool's queued work on the calling thread until none is left: for
 * rp_pool_destroy(), when no worker can be started to run it (the system
 * is out of threads or memory), so that destroy keeps its promise to run
 * every accepted task instead of waiting for ever.  Meanwhile the caller
 * is a worker of @pool: it holds a slot, its callbacks may block (hinted
 * or not) and post, and rp__self names it.  It is not listed among the
 * pool's workers (it has a thread already, and needs no allocation).
 * Context: rp_pool_destroy(), pool->lock not held.
 */
void rp__help(rp_pool *pool)
{
	struct rp_worker helper, *w = &helper, *saved = rp__self;

	if (!rp__slot_try_acquire(pool))
		return;
	memset(w, 0, sizeof(*w));
	w->pool = pool;
	w->spin_ns = RP_SPIN_MIN_NS;
	w->scan_every = w->scan_countdown = 1;
	atomic_init(&w->state, RP_W_SEEK);
	atomic_init(&w->tid, (pid_t)syscall(SYS_gettid));
	rp__monitor_init(&w->mon);
	rp__monitor_thread_start(w);
	pthread_mutex_lock(&pool->lock);
	w->id = pool->next_id++;
	pool->nactive++;
	pthread_mutex_unlock(&pool->lock);

	rp__self = w;
	run_until_empty(w);
	rp__self = saved;

	if (w->spinning) {
		w->spinning = false;
		atomic_fetch_sub(&pool->nspinning, 1);
	}
	rp__deque_give(w);
	atomic_store(&w->state, RP_W_IDLE);
	pthread_mutex_lock(&pool->lock);
	rp__monitor_detach(pool, w);
	atomic_fetch_add(&pool->completed_retired, atomic_load(&w->completed));
	pool->nactive--;
	pthread_mutex_unlock(&pool->lock);
	rp__slot_release(pool);
}

/*
 * Destroy: wake every idle worker with EXIT; the rest see pool->stopping when
 * they next try to park.  Context: pool->lock held, pool quiescent.
 */
void rp__workers_stop(rp_pool *pool)
{
	struct rp_worker *w, *list = NULL;

	rp__assert_held(&pool->lock);
	pool->stopping = true;
	while ((w = idle_pop_locked(pool))) {
		wake_locked(pool, w, RP_WAKE_EXIT);
		w->idle_next = list;
		list = w;
	}
	/* The kicks may run under the lock here: destroy is not a hot path, and
	 * the woken workers need the lock only to leave. */
	while ((w = list)) {
		list = w->idle_next;
		kick_finish(pool, w);
	}
}
