/* SPDX-License-Identifier: MIT */
/*
 * Worker threads: their start and end, and the loop that runs tasks.
 *
 * A worker is started with a slot (to run the work that needed it) or
 * without (a min_threads worker, parked at once).  Its loop runs tasks
 * while there are any and the IOCP rule allows (run_until_empty()), then
 * parks (idle.c) until a waker hands it a slot, or retires.  A worker's
 * state changes only through the transitions of slot.c.
 */
#include "internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* How long a worker looks for work before it parks, at most: about the cost
 * of one wake-up on this class of machine (DESIGN.md: ~6 us in the waker,
 * ~10 us until the woken thread runs).  Each worker adapts below that: a
 * spin that found nothing halves its next one, a spin that found work
 * doubles it, so a trickle of posts costs no spinning and a stream costs no
 * wake-ups. */
#define RP_SPIN_MAX_NS 8000u
#define RP_SPIN_MIN_NS 250u

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
int rp__spawn_unlock(rp_pool *pool, bool slot)
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
	ret = rp__spawn_unlock(pool, false);
	return ret == -EUSERS ? -EAGAIN : ret;
}

/* ------------------------------------------------------------------ the loop */

/* Run one task.  Context: @w holds a slot (SEEK); returns holding one. */
static void run_task(struct rp_worker *w, rp_fn *fn, void *arg)
{
	rp_pool *pool = w->pool;
	bool ran = true;

	atomic_fetch_add_explicit(&w->task_seq, 1, memory_order_relaxed);
	atomic_store_explicit(&w->cpu, sched_getcpu(), memory_order_relaxed);
	if (rp_unlikely(!w->dq) &&
	    atomic_load_explicit(&pool->ndq_taken, memory_order_relaxed) < pool->ndeques)
		rp__deque_take(pool, w);
	if (rp_unlikely(!atomic_load_explicit(&w->mon.attached, memory_order_relaxed)))
		rp__monitor_claim(pool, w);
	rp__w_start(w);
	if (fn == rp__obj_task) {
		/* An object's entry (object.h): its run op says whether a
		 * callback ran, or a cancelled entry was dropped. */
		struct rp_obj *obj = arg;

		w->cur_obj = obj;
		ran = obj->ops->run(obj);
		w->cur_obj = NULL;
	} else {
		fn(arg);
	}
	/* Seen blocked meanwhile, its slot given away: it takes one back,
	 * even past C; the task boundary in run_until_empty() restores C. */
	if (rp_unlikely(rp__w_finish(w)))
		rp__slot_release(pool);
	if (rp_likely(ran))
		atomic_store_explicit(&w->completed,
				      atomic_load_explicit(&w->completed, memory_order_relaxed) + 1,
				      memory_order_relaxed);
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
			if (!rp__queues_empty(pool) && rp__find_work(w, fn, arg)) {
				w->spin_ns = w->spin_ns * 2 < RP_SPIN_MAX_NS ? w->spin_ns * 2
									     : RP_SPIN_MAX_NS;
				stop_spinning(w);
				return true;
			}
			rp__cpu_relax();
		}
	} while (rp__now_ns() < deadline && !atomic_load_explicit(&pool->nadmit, memory_order_relaxed));
	w->spin_ns = w->spin_ns / 2 > RP_SPIN_MIN_NS ? w->spin_ns / 2 : RP_SPIN_MIN_NS;
	/* Still counted spinning: rp__idle_park() stops counting only after it gave
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
		} else if (!rp__find_work(w, &fn, &arg) && !spin_for_work(w, &fn, &arg)) {
			return;
		}
		if (w->spinning)
			stop_spinning(w);
		run_task(w, fn, arg);
		/* Over the slots in force (after an unhinted block ended, or
		 * once over-commit lapsed), or a worker leaving a hinted block
		 * has waited long enough for a slot (slot.c): yield it. */
		unsigned running = atomic_load_explicit(&pool->running, memory_order_relaxed);
		unsigned slots = rp__slots(pool);
		if (running > slots || rp__admission_due(pool))
			return;
		/* Every slot held: is one of them held by a sleeper? */
		if (running == slots && --w->scan_countdown == 0)
			scan_tick(w);
	}
}

/* ------------------------------------------------------------------ exit */

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
	bool holding;

	if (w->cur_obj)
		w->cur_obj->ops->abandon(w->cur_obj);
	w->cur_obj = NULL;
	rp__queue_abandon();
	holding = rp__w_leave(w);
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
	while (rp__idle_park(w, !w->born_idle)) {
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
