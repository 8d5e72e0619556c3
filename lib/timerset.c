/* SPDX-License-Identifier: MIT */
/*
 * The timer set of one clock (port.h): two 4-ary min-heaps over the same
 * entries, one keyed by due time and one by deadline.  Each entry knows
 * its position in both, so it leaves either in O(log n).  Not thread-safe:
 * the port's lock guards it.
 */
#include "internal.h"

#include <stdlib.h>

#define OUT UINT32_MAX
#define ARITY 4u

/*
 * Each heap slot holds its entry's key beside the pointer, so a sift
 * compares within the array (a node's four children fill one 64-byte
 * line) and touches an entry only to record its new position.  With keys
 * read through the pointers, and two children a level, taking 100,000
 * expiries a second off a set of 100,000 timers spent half the event
 * thread's time in cache misses (bench/timerbench, perf).
 */
static uint64_t key_of(const struct rp_tentry *e, int h)
{
	return h ? e->deadline : e->due;
}

static void put(struct rp_heap *hp, int h, unsigned i, struct rp_hslot s)
{
	hp->v[i] = s;
	s.e->idx[h] = i;
}

static void sift_up(struct rp_heap *hp, int h, unsigned i)
{
	struct rp_hslot s = hp->v[i];

	while (i > 0) {
		unsigned parent = (i - 1) / ARITY;

		if (hp->v[parent].key <= s.key)
			break;
		put(hp, h, i, hp->v[parent]);
		i = parent;
	}
	put(hp, h, i, s);
}

static void sift_down(struct rp_heap *hp, int h, unsigned i)
{
	struct rp_hslot s = hp->v[i];

	for (;;) {
		unsigned first = ARITY * i + 1, end = first + ARITY, c = first;

		if (first >= hp->n)
			break;
		if (end > hp->n)
			end = hp->n;
		for (unsigned k = first + 1; k < end; k++)
			if (hp->v[k].key < hp->v[c].key)
				c = k;
		if (s.key <= hp->v[c].key)
			break;
		put(hp, h, i, hp->v[c]);
		i = c;
	}
	put(hp, h, i, s);
}

static int grow(struct rp_heap *hp)
{
	unsigned cap = hp->cap ? 2 * hp->cap : 64;
	struct rp_hslot *v;

	if (hp->n < hp->cap)
		return 0;
	v = rp__realloc(RP_FAULT_ALLOC_TIMERS, hp->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	hp->v = v;
	hp->cap = cap;
	return 0;
}

static void heap_insert(struct rp_heap *hp, int h, struct rp_tentry *e)
{
	unsigned i = hp->n++;

	put(hp, h, i, (struct rp_hslot){ key_of(e, h), e });
	sift_up(hp, h, i);
}

static void heap_remove(struct rp_heap *hp, int h, struct rp_tentry *e)
{
	unsigned i = e->idx[h];
	struct rp_hslot last = hp->v[--hp->n];

	e->idx[h] = OUT;
	if (last.e == e)
		return;
	put(hp, h, i, last);
	if (i > 0 && last.key < hp->v[(i - 1) / ARITY].key)
		sift_up(hp, h, i);
	else
		sift_down(hp, h, i);
}

bool rp__tentry_armed(const struct rp_tentry *e)
{
	return e->idx[0] != OUT;
}

/* Make room for one more entry, so that the next insert cannot fail.
 * Return: 0, or -ENOMEM. */
int rp__timerset_reserve(struct rp_timerset *ts)
{
	return grow(&ts->by_due) || grow(&ts->by_deadline) ? -ENOMEM : 0;
}

/* Insert @e (not in the set; due and deadline set), after a reserve. */
void rp__timerset_insert(struct rp_timerset *ts, struct rp_tentry *e)
{
	heap_insert(&ts->by_due, 0, e);
	heap_insert(&ts->by_deadline, 1, e);
}

/* Take @e out, if it is in. */
void rp__timerset_remove(struct rp_timerset *ts, struct rp_tentry *e)
{
	if (!rp__tentry_armed(e))
		return;
	heap_remove(&ts->by_due, 0, e);
	heap_remove(&ts->by_deadline, 1, e);
}

/* The entry due first, or NULL. */
struct rp_tentry *rp__timerset_first_due(const struct rp_timerset *ts)
{
	return ts->by_due.n ? ts->by_due.v[0].e : NULL;
}

/* The earliest deadline, or 0 if the set is empty. */
uint64_t rp__timerset_next_deadline(const struct rp_timerset *ts)
{
	return ts->by_deadline.n ? ts->by_deadline.v[0].key : 0;
}

void rp__timerset_fini(struct rp_timerset *ts)
{
	free(ts->by_due.v);
	free(ts->by_deadline.v);
	ts->by_due = ts->by_deadline = (struct rp_heap){ 0 };
}
