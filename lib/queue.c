/* SPDX-License-Identifier: MIT */
/*
 * Per-priority run queues: a bounded lock-free MPMC ring of (fn, arg) cells
 * (Dmitry Vyukov's design: each cell carries a sequence number that says
 * whose turn it is), and an unbounded overflow list behind a mutex for the
 * rare moments the ring is full.  While the overflow list holds entries,
 * producers append there too, so order stays first-in-first-out across both.
 */
#include "internal.h"

#include <stdlib.h>

/* A cell's sequence is stored minus its index, so calloc'ed memory is a
 * fresh ring and untouched pages of a large ring are never faulted in. */
static inline size_t cell_seq(struct rp_queue *q, size_t pos, memory_order mo)
{
	return atomic_load_explicit(&q->cells[pos & q->mask].seq, mo) + (pos & q->mask);
}

static inline void cell_set_seq(struct rp_queue *q, size_t pos, size_t seq)
{
	/* Release: pairs with the acquire in cell_seq() of the other side, so
	 * the cell's payload is visible before its new sequence number. */
	atomic_store_explicit(&q->cells[pos & q->mask].seq, seq - (pos & q->mask),
			      memory_order_release);
}

int rp__queue_init(struct rp_queue *q, size_t capacity)
{
	size_t n = 1;

	while (n < capacity)
		n <<= 1;
	q->cells = calloc(n, sizeof(*q->cells));
	if (!q->cells)
		return -ENOMEM;
	q->mask = n - 1;
	atomic_init(&q->head, 0);
	atomic_init(&q->tail, 0);
	atomic_init(&q->ovf_len, 0);
	q->ovf_head = q->ovf_tail = NULL;
	pthread_mutex_init(&q->ovf_lock, NULL);
	return 0;
}

void rp__queue_fini(struct rp_queue *q)
{
	struct rp_ovf *o;

	while ((o = q->ovf_head)) {
		q->ovf_head = o->next;
		free(o);
	}
	pthread_mutex_destroy(&q->ovf_lock);
	free(q->cells);
	q->cells = NULL;
}

static bool ring_push(struct rp_queue *q, rp_fn *fn, void *arg)
{
	size_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);

	for (;;) {
		intptr_t dif = (intptr_t)cell_seq(q, pos, memory_order_acquire) - (intptr_t)pos;

		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed)) {
				struct rp_cell *c = &q->cells[pos & q->mask];

				c->fn = fn;
				c->arg = arg;
				cell_set_seq(q, pos, pos + 1);
				return true;
			}
		} else if (dif < 0) {
			return false; /* full */
		} else {
			pos = atomic_load_explicit(&q->head, memory_order_relaxed);
		}
	}
}

static bool ring_pop(struct rp_queue *q, rp_fn **fn, void **arg)
{
	size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);

	for (;;) {
		intptr_t dif = (intptr_t)cell_seq(q, pos, memory_order_acquire) - (intptr_t)(pos + 1);

		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed)) {
				struct rp_cell *c = &q->cells[pos & q->mask];

				*fn = c->fn;
				*arg = c->arg;
				cell_set_seq(q, pos, pos + q->mask + 1);
				return true;
			}
		} else if (dif < 0) {
			return false; /* empty, or a producer is mid-write */
		} else {
			pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
		}
	}
}

/*
 * Queue one entry.  Context: any thread; lock-free unless the ring is full.
 * Return: 0, or -ENOMEM (the ring is full and no overflow node could be
 * allocated); nothing is queued on error.
 */
int rp__queue_push(struct rp_queue *q, rp_fn *fn, void *arg)
{
	struct rp_ovf *o;

	if (rp_likely(!atomic_load_explicit(&q->ovf_len, memory_order_relaxed)) &&
	    ring_push(q, fn, arg))
		return 0;
	o = malloc(sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->next = NULL;
	o->fn = fn;
	o->arg = arg;
	pthread_mutex_lock(&q->ovf_lock);
	if (q->ovf_tail)
		q->ovf_tail->next = o;
	else
		q->ovf_head = o;
	q->ovf_tail = o;
	atomic_fetch_add(&q->ovf_len, 1);
	pthread_mutex_unlock(&q->ovf_lock);
	return 0;
}

/* Take the oldest entry.  Context: any thread; lock-free unless the ring is
 * empty and the overflow list is not.  Return: false if none was found. */
bool rp__queue_pop(struct rp_queue *q, rp_fn **fn, void **arg)
{
	struct rp_ovf *o;

	if (ring_pop(q, fn, arg))
		return true;
	if (rp_likely(!atomic_load_explicit(&q->ovf_len, memory_order_relaxed)))
		return false;
	pthread_mutex_lock(&q->ovf_lock);
	o = q->ovf_head;
	if (o) {
		q->ovf_head = o->next;
		if (!q->ovf_head)
			q->ovf_tail = NULL;
		atomic_fetch_sub(&q->ovf_len, 1);
	}
	pthread_mutex_unlock(&q->ovf_lock);
	if (!o)
		return false;
	*fn = o->fn;
	*arg = o->arg;
	free(o);
	return true;
}

/* Entries queued, including ones a producer is still writing.  Context: any
 * thread; wait-free; exact only when the queue is quiet. */
size_t rp__queue_len(struct rp_queue *q)
{
	size_t tail = atomic_load(&q->tail);
	size_t head = atomic_load(&q->head);

	return (head > tail ? head - tail : 0) + atomic_load(&q->ovf_len);
}
