/* SPDX-License-Identifier: MIT */
/*
 * The timer set of one clock (port.h): its entries grouped by window, each
 * group a 4-ary min-heap by due time.  Each entry knows its position, so
 * it leaves in O(log n).  Not thread-safe: the port's lock guards it.
 *
 * Each heap slot holds its entry's due time beside the pointer, so a sift
 * compares within the array (a node's four children fill one 64-byte
 * line) and touches an entry only to record its new position.  Measured
 * on 100,000 random timers with a 10 ms window (bench/timerbench and a
 * driver popping a set): two binary heaps with the keys read through the
 * pointers took 518 ns a pop; two 4-ary heaps with the keys in the slots,
 * 336 ns; one, as here, 130 ns.
 */
#include "internal.h"

#include <stdlib.h>

#define OUT UINT32_MAX
#define ARITY 4u

static void put(struct rp_heap *hp, unsigned i, struct rp_hslot s)
{
	hp->v[i] = s;
	s.e->idx = i;
}

static void sift_up(struct rp_heap *hp, unsigned i)
{
	struct rp_hslot s = hp->v[i];

	while (i > 0) {
		unsigned parent = (i - 1) / ARITY;

		if (hp->v[parent].due <= s.due)
			break;
		put(hp, i, hp->v[parent]);
		i = parent;
	}
	put(hp, i, s);
}

static void sift_down(struct rp_heap *hp, unsigned i)
{
	struct rp_hslot s = hp->v[i];

	for (;;) {
		unsigned first = ARITY * i + 1, end = first + ARITY, c = first;

		if (first >= hp->n)
			break;
		if (end > hp->n)
			end = hp->n;
		for (unsigned k = first + 1; k < end; k++)
			if (hp->v[k].due < hp->v[c].due)
				c = k;
		if (s.due <= hp->v[c].due)
			break;
		put(hp, i, hp->v[c]);
		i = c;
	}
	put(hp, i, s);
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

/*
 * The group for entries of @window: its own if there is one; else a new
 * one (a group left empty is reused); else, all in use, the one of the
 * largest window below @window.
 */
static unsigned group_for(struct rp_timerset *ts, uint64_t window)
{
	unsigned best = 0, fresh = RP_WGROUPS;

	if (!ts->ngroups)
		ts->ngroups = 1; /* group 0, window 0 */
	for (unsigned g = 0; g < ts->ngroups; g++) {
		if (ts->window[g] == window)
			return g;
		if (g && !ts->group[g].n && fresh == RP_WGROUPS)
			fresh = g;
		if (ts->window[g] < window && ts->window[g] > ts->window[best])
			best = g;
	}
	if (fresh == RP_WGROUPS && ts->ngroups < RP_WGROUPS)
		fresh = ts->ngroups++;
	if (fresh == RP_WGROUPS)
		return best;
	ts->window[fresh] = window;
	return fresh;
}

bool rp__tentry_armed(const struct rp_tentry *e)
{
	return e->idx != OUT;
}

/* Make room for one more entry of @window, so that the next insert of one
 * cannot fail.  Return: 0, or -ENOMEM. */
int rp__timerset_reserve(struct rp_timerset *ts, uint64_t window)
{
	return grow(&ts->group[group_for(ts, window)]) ? -ENOMEM : 0;
}

/* @due + @window, saturated; never 0, which means none. */
static uint64_t deadline(uint64_t due, uint64_t window)
{
	if (due > UINT64_MAX - window)
		return UINT64_MAX;
	return due + window ? due + window : 1;
}

/*
 * Insert @e (not in the set; due and window set), after a reserve for its
 * window (or in place of an entry of the same window just taken out: a
 * group keeps its room).  Return: the deadline it will fire by, given a
 * wake-up.
 */
uint64_t rp__timerset_insert(struct rp_timerset *ts, struct rp_tentry *e)
{
	unsigned g = group_for(ts, e->window);
	struct rp_heap *hp = &ts->group[g];
	unsigned i = hp->n++;

	e->group = g;
	put(hp, i, (struct rp_hslot){ e->due, e });
	sift_up(hp, i);
	return deadline(e->due, ts->window[g]);
}

/* Take @e out, if it is in. */
void rp__timerset_remove(struct rp_timerset *ts, struct rp_tentry *e)
{
	struct rp_heap *hp = &ts->group[e->group];
	struct rp_hslot last;
	unsigned i = e->idx;

	if (i == OUT)
		return;
	e->idx = OUT;
	last = hp->v[--hp->n];
	if (last.e == e)
		return;
	put(hp, i, last);
	if (i > 0 && last.due < hp->v[(i - 1) / ARITY].due)
		sift_up(hp, i);
	else
		sift_down(hp, i);
}

/* The entry due first, or NULL. */
struct rp_tentry *rp__timerset_first_due(const struct rp_timerset *ts)
{
	const struct rp_hslot *first = NULL;

	for (unsigned g = 0; g < ts->ngroups; g++)
		if (ts->group[g].n && (!first || ts->group[g].v[0].due < first->due))
			first = &ts->group[g].v[0];
	return first ? first->e : NULL;
}

/* The earliest deadline, or 0 if the set is empty: the first due time of a
 * group plus its window. */
uint64_t rp__timerset_next_deadline(const struct rp_timerset *ts)
{
	uint64_t next = 0;

	for (unsigned g = 0; g < ts->ngroups; g++) {
		uint64_t d;

		if (!ts->group[g].n)
			continue;
		d = deadline(ts->group[g].v[0].due, ts->window[g]);
		if (!next || d < next)
			next = d;
	}
	return next;
}

void rp__timerset_fini(struct rp_timerset *ts)
{
	for (unsigned g = 0; g < RP_WGROUPS; g++)
		free(ts->group[g].v);
	*ts = (struct rp_timerset){ 0 };
}
