/* SPDX-License-Identifier: MIT */
/*
 * peer_tbb.cc - oneTBB behind the bench adapter.
 *
 * A pool is a tbb::task_arena of @threads slots, none of them reserved for
 * application threads, so that @threads TBB workers run the tasks; plus one
 * tbb::task_group that every task belongs to, so that fini can wait for the
 * last one.  A post from outside the arena is arena.enqueue() of a task made
 * by group.defer(): enqueue never makes the caller join the arena or wait.
 * A post from inside a task is group.run(), which pushes onto the running
 * worker's own deque (LIFO, stolen by idle workers), the way TBB code
 * spawns nested work.  Measured on 2 CPUs: from inside tasks, group.run()
 * was 10 times faster than enqueue() (2^20 tasks in 48 ms against 480);
 * from outside, enqueue() of a bare functor was no faster than through the
 * group (within the noise), and joining the arena for a group.run() in
 * arena.execute() was 5 times slower.
 *
 * TBB caps its workers process-wide at global_control::max_allowed_parallelism
 * minus one, and that defaults to the hardware concurrency: one thread is
 * assumed to be an application thread that joins in.  So an explicit size
 * keeps a global_control of @threads + 1 alive for the pool's lifetime, or
 * an arena of 64 on 2 CPUs would get 1 worker.  The scheduler's hard limit
 * on workers is computed when it starts, from the global_control active
 * then, which is why init sets the limit before the arena starts.
 *
 * @threads == 0 sizes the arena at tbb::info::default_concurrency() (the
 * CPUs the process may use).  A bare default task_arena() would reserve one
 * of those slots for an application thread that joins in; with posts from
 * outside nothing joins, and it would run on one CPU fewer (1 worker on a
 * 2-CPU machine), which no user feeding TBB this way would accept.
 *
 * TBB keeps process-wide state (its market of workers); rpbench calls init
 * once per process.  fini also waits for the workers to exit
 * (tbb::finalize), so that nothing of the pool outlives it.
 */
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <optional>
#include <system_error>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#include <oneapi/tbb/version.h>

#include "adapter.h"

namespace {

struct tbb_pool {
	/* Taken first: fini hands it to tbb::finalize once all else is gone. */
	tbb::task_scheduler_handle handle{tbb::attach{}};
	std::optional<tbb::global_control> limit;
	tbb::task_arena arena;
	tbb::task_group group;

	explicit tbb_pool(unsigned threads)
	{
		if (threads == 0)
			threads = static_cast<unsigned>(tbb::info::default_concurrency());
		limit.emplace(tbb::global_control::max_allowed_parallelism, threads + 1);
		arena.initialize(static_cast<int>(threads), 0);
	}
};

/*
 * The pool whose task this thread is running, or nullptr.  Set around each
 * call rather than once per thread: a worker may serve other arenas too.
 */
thread_local tbb_pool *tbb_self;

struct tbb_call {
	tbb_pool *pool;
	bench_fn *fn;
	void *arg;

	void operator()() const
	{
		tbb_pool *outer = tbb_self;

		tbb_self = pool;
		fn(arg);
		tbb_self = outer;
	}
};

} /* namespace */

/* The function types in struct bench_peer have C language linkage. */
extern "C" {

static int tbb_init(void **ctx, unsigned threads)
{
	if (threads > INT_MAX - 1)
		return -EINVAL;
	try {
		*ctx = new tbb_pool(threads);
		return 0;
	} catch (const std::bad_alloc &) {
		return -ENOMEM;
	} catch (const std::system_error &e) {
		return e.code().value() > 0 ? -e.code().value() : -EAGAIN;
	} catch (...) {
		return -EAGAIN;
	}
}

static int tbb_post(void *ctx, bench_fn *fn, void *arg)
{
	tbb_pool *pool = static_cast<tbb_pool *>(ctx);

	/*
	 * Both calls allocate the task first and throw before it is
	 * scheduled, so on failure fn is never called.
	 */
	try {
		if (tbb_self == pool)
			pool->group.run(tbb_call{pool, fn, arg});
		else
			pool->arena.enqueue(pool->group.defer(tbb_call{pool, fn, arg}));
		return 0;
	} catch (const std::bad_alloc &) {
		return -ENOMEM;
	} catch (...) {
		return -EAGAIN;
	}
}

static void tbb_fini(void *ctx)
{
	tbb_pool *pool = static_cast<tbb_pool *>(ctx);
	tbb::task_scheduler_handle handle;

	try {
		/* The last task may still be returning; wait() also helps. */
		pool->arena.execute([pool] { pool->group.wait(); });
		handle = std::move(pool->handle);
		delete pool;	/* the group, the arena, then the limit */
	} catch (const std::exception &e) {
		std::fprintf(stderr, "peer tbb: fini: %s\n", e.what());
		std::abort();
	} catch (...) {
		std::fprintf(stderr, "peer tbb: fini: unknown exception\n");
		std::abort();
	}
	if (!tbb::finalize(handle, std::nothrow)) {
		std::fprintf(stderr, "peer tbb: tbb::finalize failed: workers still running\n");
		std::abort();
	}
}

} /* extern "C" */

#define TBB_STR_(x) #x
#define TBB_STR(x) TBB_STR_(x)

/* Positional: designated initializers are C++20. */
extern "C" const struct bench_peer bench_peer_tbb = {
	"tbb",
	"oneTBB " TBB_STR(TBB_VERSION_MAJOR) "." TBB_STR(TBB_VERSION_MINOR)
	" task_arena of N workers; outside posts: arena.enqueue(task_group.defer()), "
	"posts from tasks: task_group.run(); default N: tbb::info::default_concurrency() "
	"(a bare task_arena() would leave a slot for a joining thread: N - 1 workers)",
	BENCH_PEER_FIXED,
	tbb_init,
	tbb_post,
	tbb_fini,
	nullptr,	/* block_begin: TBB has no blocking hint */
	nullptr,	/* block_end */
};
