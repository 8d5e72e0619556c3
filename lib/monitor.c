/* SPDX-License-Identifier: MIT */
/*
 * Is a worker that runs a callback actually on a CPU?  Three ways to tell:
 *
 *  - perf switch records (preferred): a PERF_COUNT_SW_DUMMY event with
 *    context_switch = 1 on the worker's thread makes the kernel append an
 *    8-byte record to a ring at every switch out and in.  The ring is mapped
 *    read-only, which puts it in overwrite mode (no consumer, never full),
 *    so the newest record sits just below data_head and reading it is a
 *    memory load.  A switch-out without PERF_RECORD_MISC_SWITCH_OUT_PREEMPT
 *    means the thread went to sleep.
 *  - /proc/self/task/TID/stat, re-read with pread() at offset 0 (the file is
 *    regenerated on every read): state S or D means asleep.
 *  - the thread's CPU-time clock, which needs no descriptor: no CPU time
 *    used between two samples means off CPU, asleep or preempted.  The last
 *    resort, for when /proc cannot be opened (RLIMIT_NOFILE reached), so
 *    that a process out of descriptors still sees its blocked workers.
 *
 * A worker with a perf monitor counts as blocked as soon as its newest
 * record is a switch out that was not a preemption: the record is exact.
 * (An event-driven regulator, woken by a one-record wake-up watermark on
 * each monitor, reacted faster but cost every switch of every worker an
 * irq_work, whether anyone watched or not: W2 on the 2-vCPU machine went
 * from p50 8 to 19 us and from 10 to 27 % of a core.  Enabling the
 * monitors only while the regulator watches needs care at destroy; not
 * done yet.)
 *
 * Without perf, a worker counts as blocked after two consecutive /proc (or
 * clock) samples, one period apart, see it off CPU in the same callback, so
 * a blip shorter than one sample period never releases a replacement.
 */
#include "internal.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Set once perf_event_open() is refused for good (paranoid level, seccomp):
 * every later worker goes straight to /proc sampling. */
static _Atomic bool perf_refused;

/* RINGPOOL_MONITOR: "proc" or "clock" force that sampling (ringpool(7)). */
static bool monitor_forced(const char *kind)
{
	const char *s = getenv("RINGPOOL_MONITOR");

	return s && !strcmp(s, kind);
}

static bool perf_wanted(void)
{
	return !monitor_forced("proc") && !monitor_forced("clock") &&
	       !atomic_load_explicit(&perf_refused, memory_order_relaxed);
}

/* Memory a perf monitor or a small ring locks: two pages each. */
#define RP_LOCKED_COST (2 * 4096u)

static bool can_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return false;
	return data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective & CAP_TO_MASK(CAP_IPC_LOCK);
}

/*
 * Monitors beyond C + RP_MONITOR_EXTRA, where descriptors and locked
 * memory are plentiful: up to 2C + RP_MONITOR_SLACK more, within 1/32 of
 * RLIMIT_NOFILE, the locked memory left (@room bytes), and the pool's
 * threads; granted at the pool's first unhinted block
 * (rp__monitor_widen()).  With the bare budget, a worker seen blocked
 * gives its monitor up and the replacement opens one: a close, an munmap
 * that shoots down the other CPUs' TLBs, a perf_event_open and an mmap per
 * block.  W3b on
 * 2 vCPUs (3 tasks in 10 sleep 2 ms, ~26 workers) did ~3,000 of those in
 * 1.5 s, and ran 9-27% faster with 30 monitors instead of 6 (two A/B
 * runs, issue 14).  W9 (64 clients whose reads block, ~50 workers) still
 * opened 4,246 monitors in one rpbench run with 34 (C = 2, a slack of 24),
 * 12% of its CPU; with 74, 129, and it served 34,400 reads/s instead of
 * 25,900 at 38 instead of 53 us of CPU a read (5 interleaved rounds).
 * The price: workers' scans walk up to that many entries, a load each.
 */
static unsigned monitor_slack(const rp_pool *pool, uint64_t room)
{
	uint64_t n = 2ull * pool->concurrency + RP_MONITOR_SLACK;
	unsigned base = pool->concurrency + RP_MONITOR_EXTRA;
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 32 < n)
		n = rl.rlim_cur / 32;
	if (room / RP_LOCKED_COST < n)
		n = room / RP_LOCKED_COST;
	if (pool->max_threads <= base)
		return 0;
	if (pool->max_threads - base < n)
		n = pool->max_threads - base;
	return (unsigned)n;
}

/*
 * Open a context-switch monitor on thread @tid (0: the caller), @disabled
 * or recording: a PERF_COUNT_SW_DUMMY event with context_switch = 1, its
 * records timed on CLOCK_MONOTONIC where the kernel can (*@timed).
 * Return: the descriptor, or -1 with errno set.
 */
static int perf_open(pid_t tid, bool disabled, bool *timed)
{
	struct perf_event_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_DUMMY;
	attr.context_switch = 1;
	attr.disabled = disabled;
	/* Required at perf_event_paranoid 2; switch records still come. */
	attr.exclude_kernel = 1;
	attr.exclude_hv = 1;
	/* Each record carries its time on our clock (16 bytes in all), so a
	 * sleep counts only once it has lasted RP_BLOCK_MIN_US. */
	attr.sample_id_all = 1;
	attr.sample_type = PERF_SAMPLE_TIME;
	attr.use_clockid = 1;
	attr.clockid = CLOCK_MONOTONIC;
	errno = rp__fault(RP_FAULT_PERF);
	fd = errno ? -1
		   : (int)syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0 && errno == EINVAL) {
		/* use_clockid is Linux 4.1: untimed records, 8 bytes each. */
		attr.sample_id_all = 0;
		attr.sample_type = 0;
		attr.use_clockid = 0;
		attr.clockid = 0;
		fd = (int)syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	}
	*timed = attr.use_clockid;
	return fd;
}

/* perf_event_open() failed with @err: refused for good (paranoid level,
 * seccomp, no perf in the kernel), not for want of a descriptor? */
static bool perf_refusal(int err)
{
	return err == EACCES || err == EPERM || err == ENOSYS || err == ENOENT || err == EINVAL ||
	       err == EOPNOTSUPP;
}

/*
 * The pool's probe: a disabled monitor on the creating thread, held until
 * the pool is freed.  The first context-switch event in the system turns
 * on the scheduler's perf hooks and waits for an RCU grace period before
 * it returns, and so does the next one once all are gone for a second:
 * 15.8 ms under strace, 3.7-8.6 ms here, paid by the first worker of a
 * pool before its first task (W4's tree, 25 ms, started 3.7 ms late).
 * Paid here instead, at creation, and never again while the pool lives,
 * however long it sits idle with its workers retired.  Disabled, it
 * records nothing.  It also finds a refusal before any worker tries.
 * Context: rp_pool_create().
 */
static void perf_probe(rp_pool *pool)
{
	bool timed;
	int fd = perf_open(0, true, &timed);

	if (fd >= 0) {
		pool->reg.probe_fd = fd;
	} else if (perf_refusal(errno)) {
		atomic_store(&perf_refused, true);
		pool->reg.perf_ok = false;
	}
	/* Out of descriptors: no probe; workers try for themselves. */
}

/*
 * Decide whether this pool's workers may use perf monitors.  A perf ring's
 * pages are charged to the user's locked_vm, the very counter io_uring
 * checks against RLIMIT_MEMLOCK (measured on Linux 6.18: as an unprivileged
 * user with 64 KiB, six monitors left room for two rings instead of eight).
 * Rings come first (they are how workers are woken), so where the limit
 * cannot hold both budgets the regulator samples /proc instead.  The room
 * for rings is kept whatever this pool's backend, unless io_uring is
 * refused to the process: a pool that fell back to futexes, or was told
 * to use them, must not spend the budget that the rings of the user's
 * other pools (or of this one, once a ring can be made again) need.
 * Context: rp_pool_create(), after the backend was chosen.
 */
void rp__monitor_pool_init(rp_pool *pool)
{
	uint64_t want, room = UINT64_MAX;
	struct rlimit rl;

	pool->reg.perf_ok = perf_wanted();
	pool->reg.clock_only = monitor_forced("clock");
	if (pool->reg.perf_ok && !can_ipc_lock() && !getrlimit(RLIMIT_MEMLOCK, &rl) &&
	    rl.rlim_cur != RLIM_INFINITY) {
		/* The worker rings, and the event ring of the port. */
		unsigned rings = rp__uring_refused() ? 0 : pool->concurrency + RP_RING_EXTRA + 1;

		want = (uint64_t)(rings + pool->concurrency + RP_MONITOR_EXTRA) * RP_LOCKED_COST;
		pool->reg.perf_ok = rl.rlim_cur >= want;
		room = pool->reg.perf_ok ? rl.rlim_cur - want : 0;
	}
	if (pool->reg.perf_ok)
		perf_probe(pool);
	if (pool->reg.perf_ok) {
		/* The watch list: the workers that any running worker can
		 * check between two tasks (regulator.c). */
		pool->reg.watch_cap = pool->concurrency + RP_MONITOR_EXTRA + monitor_slack(pool, room);
		pool->reg.watch = rp__calloc(RP_FAULT_ALLOC_WATCHLIST, pool->reg.watch_cap,
					   sizeof(*pool->reg.watch));
		pool->reg.perf_ok = pool->reg.watch != NULL;
	}
	/* The slack waits for the first unhinted block (rp__monitor_widen()). */
	atomic_store(&pool->reg.monitor_cap,
		     pool->reg.perf_ok ? pool->concurrency + RP_MONITOR_EXTRA : 0);
	atomic_store(&pool->reg.monitor_slack,
		     pool->reg.perf_ok ? pool->reg.watch_cap - pool->concurrency - RP_MONITOR_EXTRA
				       : 0);
}

void rp__monitor_pool_fini(rp_pool *pool)
{
	if (pool->reg.probe_fd >= 0)
		close(pool->reg.probe_fd);
	free(pool->reg.watch);
}

/* The perf mapping: one metadata page and one data page. */
static size_t perf_map_len(void)
{
	return 2 * (size_t)sysconf(_SC_PAGESIZE);
}

void rp__monitor_init(struct rp_monitor *m)
{
	memset(m, 0, sizeof(*m));
	m->perf_fd = -1;
	m->proc_fd = -1;
	m->cpu_clock = -1;
}

/* Context: the worker thread, before its first task (the regulator reads
 * cpu_clock only of a worker it saw in state RUN). */
void rp__monitor_thread_start(struct rp_worker *w)
{
	clockid_t c;

	if (pthread_getcpuclockid(pthread_self(), &c) == 0)
		w->mon.cpu_clock = c;
}

/*
 * Open the worker's perf monitor, within the pool's budget (C + a few: the
 * workers most likely to run).  A worker tries at start, and again before
 * each task while it has none and the budget has room, so the budget goes
 * to the workers that run, not to the first ones started (in a tree of
 * tasks waiting for their children, those block for good; see
 * rp__monitor_steal()).  Context: the worker thread.
 */
void rp__monitor_attach(rp_pool *pool, struct rp_worker *w)
{
	bool timed;
	void *map;
	int fd;

	if (!pool->reg.perf_ok || atomic_load_explicit(&perf_refused, memory_order_relaxed))
		return;
	if (atomic_fetch_add(&pool->reg.monitors, 1) >= atomic_load(&pool->reg.monitor_cap))
		goto out_budget;
	fd = perf_open((pid_t)atomic_load(&w->tid), false, &timed);
	if (fd < 0) {
		if (perf_refusal(errno)) {
			atomic_store(&perf_refused, true);
			atomic_store(&pool->reg.monitor_slack, 0);
			atomic_store(&pool->reg.monitor_cap, 0);
		}
		goto out_budget;
	}
	/* One metadata page and one data page: 512 records of 8 bytes. The
	 * mapping fails with EPERM once perf_event_mlock_kb and RLIMIT_MEMLOCK
	 * are spent; this worker is then sampled through /proc. */
	map = mmap(NULL, perf_map_len(), PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		close(fd);
		/* The budget is what fitted: the monitors held now.  A
		 * worker starting a task then stops trying (and paying for
		 * a system call) until one is given back; the slack
		 * would not fit either. */
		atomic_store(&pool->reg.monitor_slack, 0);
		atomic_store(&pool->reg.monitor_cap, atomic_load(&pool->reg.monitors) - 1);
		goto out_budget;
	}
	pthread_mutex_lock(&pool->lock);
	if (pool->reg.nwatch == pool->reg.watch_cap) {
		/* Cannot happen while monitors <= monitor_cap <= watch_cap;
		 * stay correct if it ever does. */
		pthread_mutex_unlock(&pool->lock);
		munmap(map, perf_map_len());
		close(fd);
		goto out_budget;
	}
	w->mon.perf_fd = fd;
	w->mon.perf_map = map;
	w->mon.timed = timed;
	w->mon.watch_idx = pool->reg.nwatch;
	pool->reg.watch[pool->reg.nwatch++] = w;
	atomic_store_explicit(&w->mon.attached, true, memory_order_relaxed);
	pthread_mutex_unlock(&pool->lock);
	return;
out_budget:
	atomic_fetch_sub(&pool->reg.monitors, 1);
}

static void perf_detach_locked(rp_pool *pool, struct rp_monitor *m);

/*
 * A worker about to run a task has no perf monitor: give it one if the
 * budget has room, else take one from a worker parked for at least
 * RP_MONITOR_IDLE_US, the one deepest in the idle stack (the least likely
 * to run again).  Monitors thus follow the running workers: with LIFO
 * wake-ups the workers at the bottom of the stack stay parked, holding
 * their monitors until they retire, while the ones that run would
 * otherwise fall back to /proc sampling, which sees no block shorter than
 * two sample periods.  Not from a worker parked a moment ago: where many
 * workers park and wake in turn (a tree of tasks waiting for their
 * children), monitors would change hands at every wake-up, each time for
 * a perf_event_open() and an mmap() under the pool's lock.
 * Context: the worker thread.
 */
void rp__monitor_claim(rp_pool *pool, struct rp_worker *w)
{
	const uint64_t idle_ns = RP_MONITOR_IDLE_US * 1000ull;
	bool freed = false;
	uint64_t now;

	if (!pool->reg.perf_ok)
		return;
	if (atomic_load_explicit(&pool->reg.monitors, memory_order_relaxed) <
	    atomic_load_explicit(&pool->reg.monitor_cap, memory_order_relaxed)) {
		rp__monitor_attach(pool, w);
		return;
	}
	if (!atomic_load_explicit(&pool->reg.idle_monitors, memory_order_relaxed))
		return;
	now = rp__now_ns();
	if (now < atomic_load_explicit(&pool->reg.claim_after, memory_order_relaxed))
		return;
	pthread_mutex_lock(&pool->lock);
	/* The stack is in parking order: the first worker from the bottom
	 * that parked too recently is followed only by later ones. */
	for (struct rp_worker *v = pool->idle_bottom; v; v = v->idle_prev) {
		if (now - v->parked_ns < idle_ns) {
			atomic_store_explicit(&pool->reg.claim_after, v->parked_ns + idle_ns,
					      memory_order_relaxed);
			break;
		}
		if (v->mon.perf_map) {
			perf_detach_locked(pool, &v->mon);
			atomic_fetch_sub(&pool->reg.idle_monitors, 1);
			freed = true;
			break;
		}
	}
	pthread_mutex_unlock(&pool->lock);
	if (freed)
		rp__monitor_attach(pool, w);
}

static void perf_detach_locked(rp_pool *pool, struct rp_monitor *m)
{
	struct rp_worker *last;

	if (!m->perf_map)
		return;
	/* Off the watch list: the last entry takes this one's place. */
	last = pool->reg.watch[--pool->reg.nwatch];
	pool->reg.watch[m->watch_idx] = last;
	last->mon.watch_idx = m->watch_idx;
	munmap(m->perf_map, perf_map_len());
	close(m->perf_fd);
	m->perf_map = NULL;
	m->perf_fd = -1;
	atomic_store_explicit(&m->attached, false, memory_order_relaxed);
	atomic_fetch_sub(&pool->reg.monitors, 1);
}

/*
 * A callback was just seen blocked without a hint: from now on the budget
 * includes the slack.  Until then a pool holds C + RP_MONITOR_EXTRA
 * monitors: where callbacks block only with hints, or not at all, the
 * others would watch nothing, yet cost each worker started a
 * perf_event_open() and an mmap(), and each scan their entries (W4 with
 * hints, 1,023 tasks on ~137 workers: 28.9 ms with 34 monitors, 31.8 with
 * 74, 10 interleaved rounds).  The cap then stays wide: giving monitors
 * back would be the churn the slack exists to avoid.
 * Context: the regulator or a scanning worker, pool->lock held.
 */
void rp__monitor_widen(rp_pool *pool)
{
	unsigned slack;

	/* After the first time, a load: W9 sees thousands of blocks a second. */
	if (!atomic_load_explicit(&pool->reg.monitor_slack, memory_order_relaxed))
		return;
	slack = atomic_exchange(&pool->reg.monitor_slack, 0);
	if (slack)
		atomic_fetch_add(&pool->reg.monitor_cap, slack);
}

/*
 * @w was just seen blocked.  If the budget is spent, give its monitor up so
 * that the worker replacing it can watch itself; @w takes its slot back
 * when its callback ends, as a worker sampled through /proc does.
 * Context: the regulator, pool->lock held.
 */
void rp__monitor_steal(rp_pool *pool, struct rp_worker *w)
{
	rp__assert_held(&pool->lock);
	if (atomic_load(&pool->reg.monitors) >= atomic_load(&pool->reg.monitor_cap))
		perf_detach_locked(pool, &w->mon);
}

/* Context: pool->lock held (the regulator reads these under it). */
void rp__monitor_detach(rp_pool *pool, struct rp_worker *w)
{
	struct rp_monitor *m = &w->mon;

	rp__assert_held(&pool->lock);
	perf_detach_locked(pool, m);
	if (m->proc_fd >= 0) {
		close(m->proc_fd);
		atomic_fetch_sub(&pool->reg.proc_fds, 1);
		m->proc_fd = -1;
	}
}

const char *rp__monitor_kind(const struct rp_worker *w)
{
	return w->mon.perf_map ? "perf" : w->pool->reg.clock_only ? "clock" : "proc";
}


/*
 * The newest switch record.  A switch out that was not a preemption is a
 * sleep; with timed records, one that began less than RP_BLOCK_MIN_US
 * before @now (CLOCK_MONOTONIC ns; 0: any age) counts as on CPU for now, so
 * a short wait (a contended lock, a page of memory) releases no worker.
 * Return: the verdict, and the ring head in *@head.
 */
static enum rp_oncpu perf_sample(struct rp_monitor *m, uint64_t now, uint64_t *head)
{
	struct perf_event_mmap_page *pg = m->perf_map;
	uint64_t size, off, rec = m->timed ? 16 : 8;
	unsigned char *data;

	/* Pairs with the kernel's store-release of data_head after it wrote
	 * the record. */
	*head = __atomic_load_n(&pg->data_head, __ATOMIC_ACQUIRE);
	if (*head == 0)
		return ONCPU_YES; /* never switched out since the monitor began */
	size = pg->data_size ? pg->data_size : (uint64_t)sysconf(_SC_PAGESIZE);
	off = pg->data_offset ? pg->data_offset : (uint64_t)sysconf(_SC_PAGESIZE);
	data = (unsigned char *)m->perf_map + off;
	/* Records are 8 or 16 bytes and the data area a power of two: a
	 * record never wraps. */
	return rp__perf_record_oncpu(data + ((*head - rec) & (size - 1)), m->timed, now);
}

/*
 * The verdict of one switch record at @rec: 8 bytes, or 16 with @timed (the
 * record's CLOCK_MONOTONIC time after the header, from sample_id_all).  A
 * switch out that was not a preemption is a sleep, unless it began less
 * than RP_BLOCK_MIN_US before @now (0: any age).  Context: any thread.
 */
enum rp_oncpu rp__perf_record_oncpu(const void *rec, bool timed, uint64_t now)
{
	const struct perf_event_header *h = rec;
	uint64_t t;

	if (h->type != PERF_RECORD_SWITCH || h->size != (timed ? 16 : 8))
		return ONCPU_UNKNOWN;
	if (!(h->misc & PERF_RECORD_MISC_SWITCH_OUT) || (h->misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT))
		return ONCPU_YES;
	if (timed && now) {
		memcpy(&t, h + 1, sizeof(t));
		if (now < t + RP_BLOCK_MIN_US * 1000u)
			return ONCPU_YES;
	}
	return ONCPU_NO;
}

static enum rp_oncpu proc_sample(rp_pool *pool, struct rp_worker *w)
{
	struct rp_monitor *m = &w->mon;
	char buf[256], path[64];
	int fd = m->proc_fd;
	ssize_t n;

	if (fd < 0) {
		snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)atomic_load(&w->tid));
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return ONCPU_UNKNOWN; /* EMFILE: try again next round */
		/* Cached for as many workers as have perf monitors at most:
		 * the ones that run (ringpool(7), RESOURCE BUDGET). */
		if (atomic_fetch_add(&pool->reg.proc_fds, 1) < pool->concurrency + RP_MONITOR_EXTRA)
			m->proc_fd = fd;
		else
			atomic_fetch_sub(&pool->reg.proc_fds, 1);
	}
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (fd != m->proc_fd)
		close(fd);
	if (n <= 0)
		return ONCPU_UNKNOWN;
	buf[n] = '\0';
	return rp__proc_stat_oncpu(buf);
}

/*
 * The verdict of a /proc/.../stat line: "tid (comm) S ...", where comm may
 * hold spaces and parentheses (the state follows the last ')').  Asleep (S)
 * or in uninterruptible sleep (D) is off CPU; running or runnable (R) on.
 * Context: any thread.
 */
enum rp_oncpu rp__proc_stat_oncpu(const char *stat)
{
	const char *p = strrchr(stat, ')');

	if (!p || p[1] != ' ')
		return ONCPU_UNKNOWN;
	switch (p[2]) {
	case 'S':
	case 'D':
		return ONCPU_NO;
	case 'R':
		return ONCPU_YES;
	default:
		return ONCPU_UNKNOWN;
	}
}

/*
 * The last resort, which needs no descriptor (at RLIMIT_NOFILE /proc cannot
 * be opened): the worker's thread CPU-time clock.  No CPU time used since
 * the last sample means off CPU, asleep or waiting for a CPU; this cannot
 * tell the two apart, so a callback preempted for two whole periods counts
 * blocked.
 */
static enum rp_oncpu clock_sample(struct rp_monitor *m)
{
	struct timespec ts;

	if (m->cpu_clock == -1 || clock_gettime(m->cpu_clock, &ts))
		return ONCPU_UNKNOWN;
	return rp__cpu_clock_oncpu(m, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

/*
 * The verdict of a thread CPU-time reading @t: off CPU if it has not
 * moved since the last one.  0 ns is a reading like any other: where the
 * scheduler's clock is coarse (this 2-vCPU VM), a thread that ran for less
 * than its tick and went to sleep has used 0 ns, and stays there while it
 * sleeps.  (Taking 0 for "no sample yet" left such a worker unseen for
 * good: a test of twelve short-lived sleepers hung within ~100 rounds.)
 * Context: the sampler.
 */
enum rp_oncpu rp__cpu_clock_oncpu(struct rp_monitor *m, uint64_t t)
{
	bool idle = m->cpu_sampled && t == m->last_cpu_ns;

	m->last_cpu_ns = t;
	m->cpu_sampled = true;
	return idle ? ONCPU_NO : ONCPU_YES;
}

/*
 * Has @w, in state RUN, been off CPU since the last sample, in the same
 * callback?  With @perf_only, answer from the switch records alone (a memory
 * load; false where there are none): what a worker can afford between two
 * tasks.  @now: the caller's CLOCK_MONOTONIC time, in ns.
 * Context: the regulator, or a worker scanning; pool->lock held.
 */
bool rp__monitor_blocked(rp_pool *pool, struct rp_worker *w, uint64_t now, bool perf_only)
{
	struct rp_monitor *m = &w->mon;
	unsigned seq = atomic_load_explicit(&w->task_seq, memory_order_relaxed);
	uint64_t head = 0;
	enum rp_oncpu v = ONCPU_UNKNOWN;
	bool same;

	rp__assert_held(&pool->lock);
	if (m->perf_map)
		v = perf_sample(m, now, &head);
	/* A switch record is exact: asleep now, and not preempted. */
	if (v == ONCPU_NO) {
		m->by_clock = false;
		return true;
	}
	if (perf_only)
		return false;
	if (v == ONCPU_UNKNOWN && !pool->reg.clock_only)
		v = proc_sample(pool, w);
	m->by_clock = v == ONCPU_UNKNOWN;
	if (m->by_clock)
		v = clock_sample(m);
	if (v != ONCPU_NO) {
		m->strikes = 0;
		return false;
	}
	same = seq == m->last_seq && (!m->perf_map || head == m->last_head);
	m->strikes = same ? m->strikes + 1 : 1;
	m->last_seq = seq;
	m->last_head = head;
	if (m->strikes < 2)
		return false;
	m->strikes = 0;
	return true;
}

/*
 * Is @w, in state DETECTED, back on a CPU?  Only perf answers this for free;
 * without it the worker takes its slot back itself when the callback ends.
 * Context: the regulator, or a worker scanning; pool->lock held.
 */
bool rp__monitor_oncpu(rp_pool *pool, struct rp_worker *w)
{
	uint64_t head;

	rp__assert_held(&pool->lock);
	return w->mon.perf_map && perf_sample(&w->mon, 0, &head) == ONCPU_YES;
}
