/* SPDX-License-Identifier: MIT */
/* Fault injection for the tests (fault.h); empty in the installed library. */
#include "internal.h"

#ifdef RP_FAULT_INJECTION
#include <string.h>

struct rp_fault rp__faults[RP_FAULT_NSITES];
_Atomic unsigned rp__faults_armed;

int rp__fault_slow(enum rp_fault_site site)
{
	struct rp_fault *f = &rp__faults[site];
	long n;

	if (!atomic_load(&f->fail))
		return 0;
	atomic_fetch_add(&f->calls, 1);
	for (n = atomic_load(&f->skip); n > 0;)
		if (atomic_compare_exchange_weak(&f->skip, &n, n - 1))
			return 0;
	for (n = atomic_load(&f->fail); n > 0;)
		if (atomic_compare_exchange_weak(&f->fail, &n, n - 1))
			break;
	if (!n)
		return 0;
	atomic_fetch_add(&f->hits, 1);
	if (f->hook)
		f->hook(f->hook_arg);
	return f->err;
}

void rp__fault_set(enum rp_fault_site site, long skip, long count, int err,
		   void (*hook)(void *), void *arg)
{
	struct rp_fault *f = &rp__faults[site];

	atomic_store(&f->fail, 0);
	f->err = err;
	f->hook = hook;
	f->hook_arg = arg;
	atomic_store(&f->skip, skip);
	atomic_store(&f->calls, 0);
	atomic_store(&f->hits, 0);
	/* Armed last: a caller that sees fail != 0 sees the rest. */
	atomic_store(&f->fail, count);
	atomic_store(&rp__faults_armed, 1);
}

void rp__fault_reset(void)
{
	atomic_store(&rp__faults_armed, 0);
	for (int i = 0; i < RP_FAULT_NSITES; i++) {
		atomic_store(&rp__faults[i].fail, 0);
		atomic_store(&rp__faults[i].skip, 0);
		atomic_store(&rp__faults[i].calls, 0);
		atomic_store(&rp__faults[i].hits, 0);
		rp__faults[i].hook = NULL;
	}
}
#endif
