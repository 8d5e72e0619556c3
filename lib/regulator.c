/* SPDX-License-Identifier: MIT */
/*
 * The regulator: a thread per pool that watches running workers for
 * unhinted blocking, only while it matters (work is queued and no slot is
 * free).  It sleeps on a futex otherwise, so an idle pool makes no wake-ups.
 * While it watches, it samples every RP_SAMPLE_PERIOD_US; every
 * RP_WARM_PERIOD_US for a while after anyone saw a worker blocked (blocks
 * come together, and when every running worker blocks at once only the
 * regulator can see it); and every RP_SCAN_PERIOD_US for a while after it
 * found a worker blocked itself and no worker scans (perf monitors only:
 * a /proc sample costs microseconds per worker).
 *
 * Workers themselves do most of the watching: between two tasks, while work
 * waits and every slot is held, one of them checks the others' switch
 * records (rp__regulator_scan_from_worker()).  The regulator covers the rest:
 * every running worker blocked at once, and workers sampled through /proc.
 *
 * A worker seen blocked (monitor.c) loses its slot (RUN -> DETECTED), which
 * releases a replacement at once; when it is seen on a CPU again, or when
 * its callback returns, it takes a slot back (DETECTED -> RUN/SEEK), past
 * the slots in force if need be; the next task boundary brings the count
 * back.  A block seen exactly also adds a slot for a while (over-commit,
 * slot.c), and the regulator takes the added slots back once blocks stop.
 *
 * The regulator is also the pool's agent of last resort: every pool has it
 * from its first post on (a post that cannot start it fails), and when
 * work waits but no worker could be started to run it (the system out of
 * threads or memory), it tries again, backing off from RP_RETRY_MIN_US to
 * RP_RETRY_MAX_US, until one starts.  So accepted work always runs.
 */
#include "internal.h"

#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>

/* Quiet rounds before the regulator sleeps after it sampled: bursts of
 * saturation a few periods apart then cost no futex traffic. */
#define RP_QUIET_ROUNDS 4
/* Rounds at RP_SCAN_PERIOD_US after the regulator's last detection. */
#define RP_FAST_ROUNDS 20
/* Rounds at RP_WARM_PERIOD_US after anyone's last detection. */
#define RP_WARM_ROUNDS 8
/* Spawn retries: the first after 1 ms, doubling up to 100 ms. */
#define RP_RETRY_MIN_US 1000u
#define RP_RETRY_MAX_US 100000u

static bool sampling_off(void)
{
	return atomic_load_explicit(&rp__regulator_off, memory_order_relaxed);
}

/* Work waits with nobody to run it (a worker could not be started): try
 * again.  rp__release_worker() asks for another retry if this one fails.
 * Return: true if no retry is due any more. */
static bool retry_spawn(rp_pool *pool)
{
	atomic_store(&pool->reg.spawn_retry, false);
	atomic_fetch_add_explicit(&pool->reg.spawn_retries, 1, memory_order_relaxed);
	rp__release_worker(pool);
	return !atomic_load(&pool->reg.spawn_retry);
}

static bool needed(rp_pool *pool)
{
	return atomic_load(&pool->running) >= rp__slots(pool) && !rp__queues_empty(pool);
}

/* Move @w (RUN) to DETECTED if it is seen off CPU, giving its monitor up if
 * the budget is spent (rp__monitor_steal(): the watch list may change).
 * Return: true if so; the caller releases its slot after unlocking.
 * Context: pool->lock held. */
static bool detect_locked(rp_pool *pool, struct rp_worker *w, uint64_t now, bool perf_only)
{
	rp__assert_held(&pool->lock);
	if (!rp__monitor_blocked(pool, w, now, perf_only) || !rp__w_detect(w))
		return false;
	rp__deque_stall_owner(pool, w);
	rp__monitor_widen(pool);
	rp__monitor_steal(pool, w);
	return true;
}

/* Move @w (DETECTED) back to RUN if it is seen on a CPU: it holds a slot
 * again, past C if need be.  Context: pool->lock held. */
static void undetect_locked(rp_pool *pool, struct rp_worker *w)
{
	rp__assert_held(&pool->lock);
	if (rp__monitor_oncpu(pool, w))
		rp__w_undetect(w);
}

/* The CPUs of the workers a round saw blocked: a replacement that last
 * ran on one of them is woken there (rp__slot_release_near()).  @wide: of
 * those, how many added a slot (over-commit, slot.c). */
#define RP_DETECTED_MAX 8
struct detected {
	unsigned n, wide;
	int cpu[RP_DETECTED_MAX];
};

static void note_detected(rp_pool *pool, struct detected *d, struct rp_worker *w, uint64_t now)
{
	if (d->n < RP_DETECTED_MAX)
		d->cpu[d->n] = atomic_load_explicit(&w->cpu, memory_order_relaxed);
	d->n++;
	if (!w->mon.by_clock && rp__slots_widen(pool, now))
		d->wide++;
}

/* Release the slots of the workers just seen blocked, and offer the ones
 * over-commit added: to queued work, or to admission waiters. */
static void release_detected(rp_pool *pool, const struct detected *d)
{
	for (unsigned i = 0; i < d->n; i++)
		rp__slot_release_near(pool, i < RP_DETECTED_MAX ? d->cpu[i] : -1);
	for (unsigned i = 0; i < d->wide; i++)
		rp__slot_offer_near(pool, i < RP_DETECTED_MAX ? d->cpu[i] : -1);
}

/* The regulator's round: every worker, by perf or /proc.  Return: how many
 * were newly seen blocked. */
static unsigned sample_all(rp_pool *pool)
{
	struct detected d = { 0 };
	uint64_t now;

	pthread_mutex_lock(&pool->lock);
	now = rp__now_ns();
	for (size_t i = 0; i < pool->nworkers; i++) {
		struct rp_worker *w = pool->workers[i];
		int st = atomic_load(&w->state);

		if (st == RP_W_RUN && detect_locked(pool, w, now, false))
			note_detected(pool, &d, w, now);
		else if (st == RP_W_DETECTED)
			undetect_locked(pool, w);
	}
	pthread_mutex_unlock(&pool->lock);
	atomic_fetch_add_explicit(&pool->reg.rounds, 1, memory_order_relaxed);
	release_detected(pool, &d);
	return d.n;
}

/* Claim the next scan: true if it is due and this caller won it. */
static bool claim_scan(rp_pool *pool, uint64_t now)
{
	uint64_t next = atomic_load_explicit(&pool->reg.next_scan, memory_order_relaxed);

	return now >= next &&
	       atomic_compare_exchange_strong(&pool->reg.next_scan, &next,
					      now + RP_SCAN_PERIOD_US * 1000u);
}

/*
 * A worker between two tasks, while work waits and every slot is held:
 * check the workers on the watch list (perf switch records: a memory load
 * each) and release the slot of any that went to sleep in its callback.
 * A block is then seen within about one task length or RP_SCAN_PERIOD_US,
 * at no cost in wake-ups; the regulator remains for when every running
 * worker is blocked, and for workers without a perf monitor.  At most one
 * scan per RP_SCAN_PERIOD_US, pool-wide, and never waiting for the lock.
 * Context: a worker holding a slot, between two tasks; @now is the time.
 */
void rp__regulator_scan_from_worker(rp_pool *pool, uint64_t now)
{
	struct detected d = { 0 };

	/* The clock first: the queues' counters are lines that posters and
	 * other workers write, too costly to read at every task boundary. */
	if (!pool->reg.perf_ok || !claim_scan(pool, now) || rp__queues_empty(pool) ||
	    pthread_mutex_trylock(&pool->lock))
		return;
	for (unsigned i = 0; i < pool->reg.nwatch;) {
		struct rp_worker *w = pool->reg.watch[i];
		int st = atomic_load(&w->state);

		if (st == RP_W_RUN && detect_locked(pool, w, now, true)) {
			note_detected(pool, &d, w, now);
			/* Its monitor stolen: the list's last entry moved into
			 * slot i. */
			if (i < pool->reg.nwatch && pool->reg.watch[i] != w)
				continue;
		} else if (st == RP_W_DETECTED) {
			undetect_locked(pool, w);
		}
		i++;
	}
	pthread_mutex_unlock(&pool->lock);
	atomic_fetch_add_explicit(&pool->reg.worker_scans, 1, memory_order_relaxed);
	release_detected(pool, &d);
}

static void *regulator_main(void *arg)
{
	rp_pool *pool = arg;
	unsigned quiet = RP_QUIET_ROUNDS, fast = 0, warm = 0;
	unsigned long long worker_scans = 0, detected = 0;
	uint64_t retry_ns = 0;
	char name[16];

	snprintf(name, sizeof(name), "%s-reg", pool->name);
	pthread_setname_np(pthread_self(), name);
	/* The default 50 us of timer slack would double the fast period. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	while (!atomic_load(&pool->reg.stop)) {
		bool sampling;
		uint64_t period_ns;

		rp__slots_narrow(pool, rp__now_ns());
		sampling = !sampling_off() && needed(pool);

		if (atomic_load(&pool->reg.spawn_retry)) {
			if (retry_spawn(pool))
				retry_ns = 0;
			else if (!retry_ns)
				retry_ns = RP_RETRY_MIN_US * 1000ull;
			else if ((retry_ns *= 2) > RP_RETRY_MAX_US * 1000ull)
				retry_ns = RP_RETRY_MAX_US * 1000ull;
		} else {
			retry_ns = 0;
		}
		if (sampling) {
			quiet = 0;
			/* Workers skip their next scan: this one covers it. */
			atomic_store_explicit(&pool->reg.next_scan,
					      rp__now_ns() + RP_SCAN_PERIOD_US * 1000u,
					      memory_order_relaxed);
			unsigned long long scans = atomic_load_explicit(&pool->reg.worker_scans,
									memory_order_relaxed);
			unsigned long long det = atomic_load_explicit(&pool->blocks_detected,
								      memory_order_relaxed);
			bool found = sample_all(pool);

			/* Fast only while no worker scans: when all of them
			 * are blocked, or the ones left run long callbacks. */
			if (scans != worker_scans || !pool->reg.perf_ok)
				fast = 0;
			else if (found)
				fast = RP_FAST_ROUNDS;
			else if (fast)
				fast--;
			/* Blocks seen lately, by anyone: more may come, and
			 * when every running worker is blocked at once only
			 * the regulator can see it.  (Perf only: a /proc
			 * round costs microseconds per running worker.) */
			if (det != detected && pool->reg.perf_ok)
				warm = RP_WARM_ROUNDS;
			else if (warm)
				warm--;
			detected = det;
			worker_scans = scans;
		} else if (!retry_ns && ++quiet >= RP_QUIET_ROUNDS) {
			/* After a wake-up that found nothing to watch (a slot was
			 * full only for a moment) this is the first round: sleep
			 * again at once.  After sampling, linger a few rounds. */
			quiet = RP_QUIET_ROUNDS - 1;
			fast = warm = 0;
			/* Nothing waits for a slot: over-commit ends here
			 * rather than at the next burst of work. */
			rp__slots_reset(pool);
			/* Sleep; pairs with the poster's push-then-look in
			 * rp__post() (and with rp__regulator_retry()'s store
			 * of spawn_retry): either it sees active == 0 and
			 * wakes us, or we see its work here. */
			atomic_store(&pool->reg.active, 0);
			/* And with rp__regulator_stop(), which sets stop, then
			 * active: if our store came after its, we see stop. */
			if (atomic_load(&pool->reg.stop))
				break;
			if (((!sampling_off() && needed(pool)) || atomic_load(&pool->reg.spawn_retry)) &&
			    !atomic_exchange(&pool->reg.active, 1))
				continue;
			rp__futex_wait(&pool->reg.active, 0, NULL);
			continue;
		}
		/* While the regulator keeps finding blocks (every running
		 * worker blocked in turn, as in a tree of tasks waiting for
		 * their children, so none is left to scan), look again soon;
		 * otherwise once a period.  A pending spawn retry waits its
		 * backoff when nothing needs sampling. */
		period_ns = fast   ? RP_SCAN_PERIOD_US * 1000ull
			    : warm ? RP_WARM_PERIOD_US * 1000ull
				   : RP_SAMPLE_PERIOD_US * 1000ull;
		if (retry_ns && (!sampling || retry_ns < period_ns))
			period_ns = retry_ns;
		/* On the futex word rather than in nanosleep(), so that
		 * destroy (which sets it to 2) need not wait out a period. */
		uint64_t until = rp__now_ns() + period_ns;
		struct timespec ts = { (time_t)(until / 1000000000u), (long)(until % 1000000000u) };
		rp__futex_wait(&pool->reg.active, 1, &ts);
	}
	return NULL;
}

/*
 * Start the regulator, once per pool, by the pool's first post: from then
 * on some thread always exists to start workers for accepted work.
 * Return: 0, or -EAGAIN / -ENOMEM if its thread cannot be created.
 */
int rp__regulator_start(rp_pool *pool)
{
	struct rp_regulator *reg = &pool->reg;
	int err = 0;

	pthread_mutex_lock(&pool->lock);
	if (!atomic_load(&reg->started)) {
		sigset_t all, old;

		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		err = rp__fault(RP_FAULT_THREAD_REG);
		if (!err)
			err = pthread_create(&reg->thread, NULL, regulator_main, pool);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (!err)
			atomic_store_explicit(&reg->started, true, memory_order_release);
	}
	pthread_mutex_unlock(&pool->lock);
	return err == ENOMEM ? -ENOMEM : err ? -EAGAIN : 0;
}

/* Context: destroy, after the workers have exited. */
void rp__regulator_stop(rp_pool *pool)
{
	struct rp_regulator *reg = &pool->reg;

	if (!atomic_load(&reg->started))
		return;
	atomic_store(&reg->stop, true);
	atomic_store(&reg->active, 2);	/* ends both of its waits */
	rp__futex_wake(&reg->active, 1);
	pthread_join(reg->thread, NULL);
}
