/* SPDX-License-Identifier: MIT */
/*
 * Fault injection, for the tests only.
 *
 * Every place where the library can fail for want of a resource (a thread,
 * memory, a descriptor, a ring, an io_uring call) asks rp__fault(site)
 * first.  In the installed library RP_FAULT_INJECTION is not defined and the
 * call is the constant 0, so the checks cost nothing; the white-box test
 * library (tests/libringpool-internal.la) is built with it, and the tests
 * arm sites to fail deterministically: after a number of successes, for a
 * number of calls (or for ever), with a chosen errno, optionally calling a
 * hook first (to force an interleaving at the exact point of failure).
 */
#ifndef RINGPOOL_FAULT_H
#define RINGPOOL_FAULT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

enum rp_fault_site {
	RP_FAULT_THREAD,          /* pthread_create() of a worker */
	RP_FAULT_THREAD_REG,      /* pthread_create() of the regulator */
	RP_FAULT_ALLOC,           /* any allocation below (the sweep counts these) */
	RP_FAULT_ALLOC_POOL,      /* struct rp_pool */
	RP_FAULT_ALLOC_WORKER,    /* struct rp_worker */
	RP_FAULT_ALLOC_WORKERS,   /* the pool's worker array */
	RP_FAULT_ALLOC_QBLOCK,    /* a run-queue block */
	RP_FAULT_ALLOC_DEQUES,    /* the pool's deques */
	RP_FAULT_ALLOC_WATCHLIST, /* the regulator's watch list */
	RP_FAULT_ALLOC_RING,      /* a struct rp_ring (worker, probe or sender) */
	RP_FAULT_ALLOC_WORK,      /* an rp_work */
	RP_FAULT_ALLOC_TIMER,     /* an rp_timer */
	RP_FAULT_ALLOC_TIMERS,    /* a timer heap */
	RP_FAULT_ALLOC_PORT,      /* a pool's completion port */
	RP_FAULT_ALLOC_REG,       /* a kernel request's record (port) */
	RP_FAULT_ALLOC_WATCH,     /* an rp_watch */
	RP_FAULT_ALLOC_IO,        /* an rp_io, or its copy of an iovec array or path */
	RP_FAULT_ALLOC_QUEUE,     /* an rp_queue, its name or its FIFO */
	RP_FAULT_ALLOC_GROUP,     /* an rp_group, a group task or notification */
	RP_FAULT_ALLOC_CLEANUP,   /* an rp_cleanup, or its close list */
	RP_FAULT_THREAD_PORT,     /* pthread_create() of the event thread */
	RP_FAULT_PIPE,            /* the admission pipe */
	RP_FAULT_RING_SETUP,      /* io_uring_setup() */
	RP_FAULT_URING_ENTER,     /* io_uring_enter(): park, submit */
	RP_FAULT_URING_REGISTER,  /* io_uring_register(): probe, ringless send */
	RP_FAULT_PERF,            /* perf_event_open() */
	RP_FAULT_NSITES
};

struct rp_fault {
	_Atomic long skip;        /* calls that still succeed before failures start */
	_Atomic long fail;        /* failures left; negative: for ever */
	int err;                  /* positive errno to inject */
	void (*hook)(void *arg);  /* called at each injected failure, or NULL */
	void *hook_arg;
	_Atomic unsigned long calls;  /* calls seen while armed */
	_Atomic unsigned long hits;   /* failures injected */
};

#ifdef RP_FAULT_INJECTION
extern struct rp_fault rp__faults[RP_FAULT_NSITES];
extern _Atomic unsigned rp__faults_armed;

int rp__fault_slow(enum rp_fault_site site);

/* Return: 0 to go on, or the positive errno this call must fail with. */
static inline int rp__fault(enum rp_fault_site site)
{
	if (__builtin_expect(!atomic_load_explicit(&rp__faults_armed, memory_order_relaxed), 1))
		return 0;
	return rp__fault_slow(site);
}

/* Tests: fail @site's calls after @skip more successes, @count times (-1:
 * for ever), with @err; @hook(@arg) runs at each injected failure. */
void rp__fault_set(enum rp_fault_site site, long skip, long count, int err,
		   void (*hook)(void *), void *arg);
/* Tests: disarm every site and zero the counters. */
void rp__fault_reset(void);
#else
static inline int rp__fault(enum rp_fault_site site)
{
	(void)site;
	return 0;
}
#endif

/* Should an allocation at @site fail?  Its own site first, then the
 * catch-all RP_FAULT_ALLOC (which the allocation-failure sweep arms). */
static inline bool rp__fault_alloc(enum rp_fault_site site)
{
	return rp__fault(site) || rp__fault(RP_FAULT_ALLOC);
}

/* The library's allocations, each named by its fault site. */
static inline void *rp__calloc(enum rp_fault_site site, size_t n, size_t size)
{
	return rp__fault_alloc(site) ? NULL : calloc(n, size);
}

static inline void *rp__realloc(enum rp_fault_site site, void *p, size_t size)
{
	return rp__fault_alloc(site) ? NULL : realloc(p, size);
}

static inline void *rp__aligned_alloc(enum rp_fault_site site, size_t align, size_t size)
{
	return rp__fault_alloc(site) ? NULL : aligned_alloc(align, size);
}

#endif /* RINGPOOL_FAULT_H */
