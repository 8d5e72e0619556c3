/* SPDX-License-Identifier: MIT */
/*
 * Per-priority run queues: an unbounded MPMC FIFO of (fn, arg)
 * entries kept in a linked list of blocks of RP_FIFO_BLOCK_SLOTS slots.
 *
 * head and tail are slot counters that also name the block (head's shifted
 * left by one, for the HAS_NEXT flag): a counter
 * advances by one per slot and has RP_FIFO_BLOCK_SLOTS + 1 values per block,
 * the extra one (offset RP_FIFO_BLOCK_SLOTS) meaning "the next block is being
 * linked in: wait".  A producer takes a slot with one CAS on tail, writes
 * it, and sets the slot's WRITTEN bit; a consumer takes one with one CAS on
 * head, waits for WRITTEN (the producer is between its CAS and its write),
 * reads, and sets READ.  The thread that takes a block's last slot links
 * (producer) or moves to (consumer) the next block.  A block is freed once
 * every slot in it was read: the consumer of the last slot walks the
 * others, and marks DESTROY on any not yet read, whose consumer carries on
 * the walk when it sets READ (the scheme of crossbeam's SegQueue).
 *
 * So posting costs one CAS and no allocation but one per block, the queue
 * holds any number of entries with memory in proportion, and no lock is
 * ever taken.  Progress, exactly: no lock, but not lock-free in the strict
 * sense.  A producer that finds the block being linked waits for the
 * producer linking it (one post in RP_FIFO_BLOCK_SLOTS), and a consumer waits
 * for its slot's producer to finish writing it; either waits longer if
 * that thread is preempted (backoff() yields after a while).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define LAP (RP_FIFO_BLOCK_SLOTS + 1)	/* counter values per block */
/* Bit 0 of head (whose counter is shifted left by one): tail is known to be
 * in a later block, so a consumer need not look at it. */
#define HAS_NEXT ((size_t)1)

enum { WRITTEN = 1, READ = 2, DESTROY = 4 };

struct rp_fifo_slot {
	rp_fn *fn;
	void *arg;
	_Atomic unsigned state;
};

struct rp_fifo_block {
	_Atomic(struct rp_fifo_block *) next;
	struct rp_fifo_slot slot[RP_FIFO_BLOCK_SLOTS];
};

/* A queue keeps the last RP_FIFO_SPARE blocks it freed for its next ones: a
 * queue that cycles through blocks then costs no malloc() (nor the
 * allocator's arena lock, which its producer and consumers would contend
 * for, and a worker can sleep on and be counted blocked for).  Each cache
 * entry changes hands by exchange or CAS from NULL, so no ABA. */
static struct rp_fifo_block *block_new(struct rp_fifo *q)
{
	for (unsigned i = 0; i < RP_FIFO_SPARE; i++) {
		struct rp_fifo_block *b;

		if (!atomic_load_explicit(&q->spare[i], memory_order_relaxed))
			continue;
		b = atomic_exchange_explicit(&q->spare[i], NULL, memory_order_acquire);
		if (b) {
			memset(b, 0, sizeof(*b));
			return b;
		}
	}
	return rp__calloc(RP_FAULT_ALLOC_QBLOCK, 1, sizeof(struct rp_fifo_block));
}

static void block_free(struct rp_fifo *q, struct rp_fifo_block *b)
{
	for (unsigned i = 0; i < RP_FIFO_SPARE; i++) {
		struct rp_fifo_block *none = NULL;

		/* Release: the memset in block_new() comes after our last
		 * use. */
		if (!atomic_load_explicit(&q->spare[i], memory_order_relaxed) &&
		    atomic_compare_exchange_strong_explicit(&q->spare[i], &none, b,
							    memory_order_release,
							    memory_order_relaxed))
			return;
	}
	free(b);
}

/* Slots before @c: comparable across blocks (the "wait" value of one block
 * equals the first slot of the next). */
static inline size_t position(size_t c)
{
	return c / LAP * RP_FIFO_BLOCK_SLOTS + c % LAP;
}

int rp__fifo_init(struct rp_fifo *q)
{
	struct rp_fifo_block *b;

	for (unsigned i = 0; i < RP_FIFO_SPARE; i++)
		atomic_init(&q->spare[i], NULL);
	b = block_new(q);
	if (!b)
		return -ENOMEM;
	atomic_init(&q->head, 0);
	atomic_init(&q->tail, 0);
	atomic_init(&q->head_block, b);
	atomic_init(&q->tail_block, b);
	return 0;
}

/* Context: the queue is quiet (no other thread uses it). */
void rp__fifo_fini(struct rp_fifo *q)
{
	struct rp_fifo_block *b = atomic_load(&q->head_block), *next;

	/* Blocks before head_block were freed by their consumers. */
	for (; b; b = next) {
		next = atomic_load(&b->next);
		free(b);
	}
	atomic_store(&q->head_block, NULL);
	atomic_store(&q->tail_block, NULL);
	for (unsigned i = 0; i < RP_FIFO_SPARE; i++)
		free(atomic_exchange(&q->spare[i], NULL));
}

static void backoff(unsigned *spins)
{
	if (++*spins < 64)
		rp__cpu_relax();
	else
		sched_yield(); /* the thread we wait for may be preempted */
}

/*
 * Queue one entry.  Context: any thread; no lock (see the top).
 * Return: 0, or -ENOMEM (a new block was needed and could not be
 * allocated); nothing is queued on error.
 */
int rp__fifo_push(struct rp_fifo *q, rp_fn *fn, void *arg)
{
	struct rp_fifo_block *spare = NULL;
	unsigned spins = 0;

	for (;;) {
		size_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
		struct rp_fifo_block *b = atomic_load_explicit(&q->tail_block, memory_order_acquire);
		size_t off = tail % LAP;

		if (off == RP_FIFO_BLOCK_SLOTS) {
			/* Another producer is linking the next block. */
			backoff(&spins);
			continue;
		}
		/* About to take the last slot: have the next block ready, so
		 * that nothing can fail once the slot is ours. */
		if (off + 1 == RP_FIFO_BLOCK_SLOTS && !spare && !(spare = block_new(q)))
			return -ENOMEM;
		/* seq_cst: the Dekker pairs in worker.c see the entry through
		 * the counters (rp__fifo_len()). */
		if (!atomic_compare_exchange_weak(&q->tail, &tail, tail + 1)) {
			spins = 0;
			continue;
		}
		if (off + 1 == RP_FIFO_BLOCK_SLOTS) {
			/* Block before counter: pairs with the acquire loads
			 * above, so a producer that sees the new counter sees
			 * the new block. */
			atomic_store_explicit(&q->tail_block, spare, memory_order_release);
			atomic_store_explicit(&q->tail, tail + 2, memory_order_release);
			/* Pairs with the acquire in pop()'s wait for next. */
			atomic_store_explicit(&b->next, spare, memory_order_release);
			spare = NULL;
		}
		b->slot[off].fn = fn;
		b->slot[off].arg = arg;
		/* Pairs with the acquire in pop(): the entry before the bit. */
		atomic_fetch_or_explicit(&b->slot[off].state, WRITTEN, memory_order_release);
		if (spare)	/* ready for a last slot another producer took */
			block_free(q, spare);
		return 0;
	}
}

/* Free @b once every slot from @start on was read: a slot not yet read is
 * marked DESTROY, and its consumer carries on from there. */
static void block_destroy(struct rp_fifo *q, struct rp_fifo_block *b, unsigned start)
{
	/* The last slot's consumer started the walk: it need not look at it. */
	for (unsigned i = start; i < RP_FIFO_BLOCK_SLOTS - 1; i++) {
		_Atomic unsigned *st = &b->slot[i].state;

		if (!(atomic_load_explicit(st, memory_order_acquire) & READ) &&
		    !(atomic_fetch_or_explicit(st, DESTROY, memory_order_acq_rel) & READ))
			return;
	}
	block_free(q, b);
}

/* Take the oldest entry.  Context: any thread; no lock.  Return: false if
 * the queue was empty. */
bool rp__fifo_pop(struct rp_fifo *q, rp_fn **fn, void **arg)
{
	unsigned spins = 0;

	for (;;) {
		size_t raw = atomic_load_explicit(&q->head, memory_order_acquire);
		struct rp_fifo_block *b = atomic_load_explicit(&q->head_block, memory_order_acquire);
		size_t head = raw >> 1, off = head % LAP, next_raw = raw + 2;

		if (off == RP_FIFO_BLOCK_SLOTS) {
			/* Another consumer is moving to the next block. */
			backoff(&spins);
			continue;
		}
		/* Look at tail only while it may be in head's block: its line
		 * is the producers', and reading it at every pop makes it
		 * bounce between them and the consumers. */
		if (!(raw & HAS_NEXT)) {
			size_t tail = atomic_load(&q->tail);

			if (head == tail)
				return false;
			if (head / LAP != tail / LAP)
				next_raw |= HAS_NEXT;
		}
		if (!atomic_compare_exchange_weak(&q->head, &raw, next_raw)) {
			spins = 0;
			continue;
		}
		if (off + 1 == RP_FIFO_BLOCK_SLOTS) {
			struct rp_fifo_block *next;

			/* Its producer links it right after taking the slot. */
			while (!(next = atomic_load_explicit(&b->next, memory_order_acquire)))
				backoff(&spins);
			/* Past the "wait" value, to the next block's first slot;
			 * tail is beyond that block if it has a successor. */
			next_raw = (head + 2) << 1;
			if (atomic_load_explicit(&next->next, memory_order_relaxed))
				next_raw |= HAS_NEXT;
			atomic_store_explicit(&q->head_block, next, memory_order_release);
			atomic_store_explicit(&q->head, next_raw, memory_order_release);
		}
		struct rp_fifo_slot *s = &b->slot[off];
		/* Its producer took it before us and writes it now. */
		while (!(atomic_load_explicit(&s->state, memory_order_acquire) & WRITTEN))
			backoff(&spins);
		*fn = s->fn;
		*arg = s->arg;
		if (off + 1 == RP_FIFO_BLOCK_SLOTS)
			block_destroy(q, b, 0);
		else if (atomic_fetch_or_explicit(&s->state, READ, memory_order_acq_rel) & DESTROY)
			block_destroy(q, b, (unsigned)off + 1);
		return true;
	}
}

/*
 * Take up to @max of the oldest entries with one CAS, all from head's block
 * and never its last slot (rp__fifo_pop() takes that one and moves to the
 * next block), and no more than a 1/@share of the queue when its length is
 * known (tail in the same block), so that @share consumers each get some.
 * A deep queue then costs its consumers one CAS on head per batch instead
 * of one per entry.  Context: any thread; no lock.
 * Return: the number taken, into @fn[] and @arg[] in queue order; 0 when
 * the queue is empty or only a block's last slot is left.
 */
unsigned rp__fifo_pop_many(struct rp_fifo *q, rp_fn **fn, void **arg, unsigned max,
			    unsigned share)
{
	unsigned spins = 0;

	for (;;) {
		size_t raw = atomic_load_explicit(&q->head, memory_order_acquire);
		struct rp_fifo_block *b = atomic_load_explicit(&q->head_block, memory_order_acquire);
		size_t head = raw >> 1, off = head % LAP, next_flag = raw & HAS_NEXT;

		if (off == RP_FIFO_BLOCK_SLOTS) {
			backoff(&spins);
			continue;
		}
		size_t n = RP_FIFO_BLOCK_SLOTS - 1 - off;	/* up to the last slot, excluded */

		if (!next_flag) {
			size_t tail = atomic_load(&q->tail);

			if (head / LAP == tail / LAP) {
				size_t fair = (tail - head + share - 1) / share;

				n = n < fair ? n : fair;
			} else {
				next_flag = HAS_NEXT;
			}
		}
		if (n > max)
			n = max;
		if (!n)
			return 0;
		if (!atomic_compare_exchange_weak(&q->head, &raw, ((head + n) << 1) | next_flag)) {
			spins = 0;
			continue;
		}
		for (unsigned i = 0; i < n; i++) {
			struct rp_fifo_slot *s = &b->slot[off + i];

			while (!(atomic_load_explicit(&s->state, memory_order_acquire) & WRITTEN))
				backoff(&spins);
			fn[i] = s->fn;
			arg[i] = s->arg;
			/* A destroy walk that stops here stops again at our
			 * next slot, so @b lives until our last one is read. */
			if (atomic_fetch_or_explicit(&s->state, READ, memory_order_acq_rel) & DESTROY)
				block_destroy(q, b, (unsigned)(off + i + 1));
		}
		return (unsigned)n;
	}
}

/* Entries queued, including ones a producer is still writing.  Context: any
 * thread; wait-free; exact only when the queue is quiet. */
size_t rp__fifo_len(struct rp_fifo *q)
{
	/* head first: it never passes tail, so the difference is >= 0. */
	size_t head = position(atomic_load(&q->head) >> 1);
	size_t tail = position(atomic_load(&q->tail));

	return tail - head;
}
