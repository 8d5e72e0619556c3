/* SPDX-License-Identifier: MIT */
/*
 * The timer set of one clock (port.h): two binary min-heaps over the same
 * entries, one keyed by due time and one by deadline.  Each entry knows
 * its position in both, so it leaves either in O(log n).  Not thread-safe:
 * the port's lock guards it.
 */
#include "internal.h"

#include <stdlib.h>

#define OUT UINT32_MAX

static uint64_t key(const struct rp_tentry *e, int h)
{
	return h ? e->deadline : e->due;
}

static void put(struct rp_heap *hp, int h, unsigned i, struct rp_tentry *e)
{
	hp->v[i] = e;
	e->idx[h] = i;
}

static void sift_up(struct rp_heap *hp, int h, unsigned i)
{
	struct rp_tentry *e = hp->v[i];

	while (i > 0) {
		unsigned parent = (i - 1) / 2;

		if (key(hp->v[parent], h) <= key(e, h))
			break;
		put(hp, h, i, hp->v[parent]);
		i = parent;
	}
	put(hp, h, i, e);
}

static void sift_down(struct rp_heap *hp, int h, unsigned i)
{
	struct rp_tentry *e = hp->v[i];

	for (;;) {
		unsigned c = 2 * i + 1;

		if (c >= hp->n)
			break;
		if (c + 1 < hp->n && key(hp->v[c + 1], h) < key(hp->v[c], h))
			c++;
		if (key(e, h) <= key(hp->v[c], h))
			break;
		put(hp, h, i, hp->v[c]);
		i = c;
	}
	put(hp, h, i, e);
}

static int grow(struct rp_heap *hp)
{
	unsigned cap = hp->cap ? 2 * hp->cap : 64;
	struct rp_tentry **v;

	if (hp->n < hp->cap)
		return 0;
	v = rp__realloc(RP_FAULT_ALLOC_TIMERS, hp->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	hp->v = v;
	hp->cap = cap;
	return 0;
}

static void heap_remove(struct rp_heap *hp, int h, struct rp_tentry *e)
{
	unsigned i = e->idx[h];
	struct rp_tentry *last = hp->v[--hp->n];

	e->idx[h] = OUT;
	if (last == e)
		return;
	put(hp, h, i, last);
	if (i > 0 && key(last, h) < key(hp->v[(i - 1) / 2], h))
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
	put(&ts->by_due, 0, ts->by_due.n++, e);
	sift_up(&ts->by_due, 0, e->idx[0]);
	put(&ts->by_deadline, 1, ts->by_deadline.n++, e);
	sift_up(&ts->by_deadline, 1, e->idx[1]);
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
	return ts->by_due.n ? ts->by_due.v[0] : NULL;
}

/* The earliest deadline, or 0 if the set is empty. */
uint64_t rp__timerset_next_deadline(const struct rp_timerset *ts)
{
	return ts->by_deadline.n ? ts->by_deadline.v[0]->deadline : 0;
}

void rp__timerset_fini(struct rp_timerset *ts)
{
	free(ts->by_due.v);
	free(ts->by_deadline.v);
	ts->by_due = ts->by_deadline = (struct rp_heap){ 0 };
}
