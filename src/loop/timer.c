/* One-shot timers: call_later, call_at, cancel.
 *
 * Every timer is a slot in one array, ordered by a binary min-heap of slot
 * indices keyed on (deadline, creation order), and the whole heap is driven
 * by a single uv_timer_t armed for the earliest deadline. A timer therefore
 * costs no libuv handle and no close callback, and cancelling is O(log n).
 * An id is (generation << 32 | index + 1); releasing a slot bumps its
 * generation, so an id that fired or was cancelled can never reach a newer
 * timer that reuses the slot.
 */
#include <stdlib.h>

#include "loop/loop_impl.h"

#define SQ__NO_SLOT UINT32_MAX

static void on_timer(uv_timer_t *t);

void sq__timers_init(sq_loop *loop) {
    uv_timer_init(loop->uv, &loop->timer);
    loop->free_slot = SQ__NO_SLOT;
}

void sq__timers_free(sq_loop *loop) {
    free(loop->heap);
    free(loop->slots);
}

static bool earlier(const sq_loop *loop, uint32_t a, uint32_t b) {
    const sq__tslot *x = &loop->slots[a], *y = &loop->slots[b];
    return x->deadline < y->deadline || (x->deadline == y->deadline && x->seq < y->seq);
}

static void heap_set(sq_loop *loop, uint32_t pos, uint32_t slot) {
    loop->heap[pos] = slot;
    loop->slots[slot].pos = pos;
}

static void sift_up(sq_loop *loop, uint32_t pos) {
    uint32_t slot = loop->heap[pos];
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (!earlier(loop, slot, loop->heap[parent])) break;
        heap_set(loop, pos, loop->heap[parent]);
        pos = parent;
    }
    heap_set(loop, pos, slot);
}

static void sift_down(sq_loop *loop, uint32_t pos) {
    uint32_t slot = loop->heap[pos], n = loop->heap_n;
    for (;;) {
        uint32_t child = 2 * pos + 1;
        if (child >= n) break;
        if (child + 1 < n && earlier(loop, loop->heap[child + 1], loop->heap[child])) child++;
        if (!earlier(loop, loop->heap[child], slot)) break;
        heap_set(loop, pos, loop->heap[child]);
        pos = child;
    }
    heap_set(loop, pos, slot);
}

static void heap_remove(sq_loop *loop, uint32_t pos) {
    uint32_t last = loop->heap[--loop->heap_n];
    if (pos == loop->heap_n) return;
    heap_set(loop, pos, last);
    if (pos > 0 && earlier(loop, last, loop->heap[(pos - 1) / 2]))
        sift_up(loop, pos);
    else
        sift_down(loop, pos);
}

static void slot_release(sq_loop *loop, uint32_t idx) {
    sq__tslot *s = &loop->slots[idx];
    s->fn = NULL;
    s->drop = NULL;
    s->arg = NULL;
    s->gen++;
    s->pos = loop->free_slot;
    loop->free_slot = idx;
}

static int slot_alloc(sq_loop *loop, uint32_t *idx) {
    if (loop->free_slot != SQ__NO_SLOT) {
        *idx = loop->free_slot;
        loop->free_slot = loop->slots[*idx].pos;
        return 0;
    }
    if (loop->nslots == loop->slot_cap) {
        uint32_t cap = loop->slot_cap ? loop->slot_cap * 2 : 16;
        if (cap <= loop->slot_cap || cap >= SQ__NO_SLOT) return SQ_ENOMEM;
        sq__tslot *slots = realloc(loop->slots, (size_t)cap * sizeof *slots);
        if (!slots) return SQ_ENOMEM;
        loop->slots = slots;
        uint32_t *heap = realloc(loop->heap, (size_t)cap * sizeof *heap);
        if (!heap) return SQ_ENOMEM; /* slots kept: the larger array is harmless */
        loop->heap = heap;
        loop->slot_cap = cap;
    }
    *idx = loop->nslots++;
    loop->slots[*idx].gen = 1;
    return 0;
}

/* Arms the uv timer for the earliest deadline. A deadline already reached
 * is given 1 ms when re-arming from inside on_timer: libuv 1.44 runs a
 * timer restarted with 0 in the same pass, so timers that keep adding
 * zero-delay timers would otherwise never let the loop reach I/O. */
static void rearm(sq_loop *loop) {
    if (loop->heap_n == 0) {
        uv_timer_stop(&loop->timer);
        return;
    }
    /* Refresh the cached loop time: libuv computes this iteration's poll
     * timeout from it, and after a callback that blocked for a while a stale
     * time would make the poll sleep that much too long. */
    uv_update_time(loop->uv);
    uint64_t now = uv_now(loop->uv), deadline = loop->slots[loop->heap[0]].deadline;
    uint64_t timeout = deadline > now ? deadline - now : 0;
    if (timeout == 0 && loop->in_timer) timeout = 1;
    uv_timer_start(&loop->timer, on_timer, timeout, 0);
}

static void on_timer(uv_timer_t *t) {
    sq_loop *loop = (sq_loop *)((char *)t - offsetof(sq_loop, timer));
    uint64_t now = uv_now(loop->uv);
    /* Only timers that existed before this batch run in it; the heap's order
     * puts any newer due timer after them. */
    uint64_t limit = loop->timer_seq;
    loop->in_timer = 1;
    while (loop->heap_n > 0) {
        uint32_t idx = loop->heap[0];
        sq__tslot *s = &loop->slots[idx];
        if (s->deadline > now || s->seq >= limit) break;
        sq_callback fn = s->fn;
        void *arg = s->arg;
        heap_remove(loop, 0);
        slot_release(loop, idx);
        fn(arg);
        if (loop->closing) break;
    }
    if (!loop->closing) rearm(loop);
    loop->in_timer = 0;
}

int sq__timer_add(sq_loop *loop, uint64_t deadline, sq_callback fn, void *arg, sq_callback drop,
                  sq_timer_id *id) {
    uint32_t idx;
    int err = slot_alloc(loop, &idx);
    if (err) return err;
    sq__tslot *s = &loop->slots[idx];
    s->deadline = deadline;
    s->seq = loop->timer_seq++;
    s->fn = fn;
    s->arg = arg;
    s->drop = drop;
    loop->heap[loop->heap_n] = idx;
    s->pos = loop->heap_n++;
    sift_up(loop, s->pos);
    /* A new earliest deadline needs the uv timer moved; inside on_timer the
     * re-arm happens once the batch is over. */
    if (s->pos == 0 && !loop->in_timer) rearm(loop);
    if (id) *id = ((uint64_t)s->gen << 32) | (uint64_t)(idx + 1);
    return 0;
}

int sq_loop_call_at(sq_loop *loop, uint64_t when_ms, sq_callback fn, void *arg, sq_timer_id *id) {
    if (id) *id = 0;
    if (!loop || !fn) return SQ_EINVAL;
    if (loop->closing) return SQ_ECLOSED;
    return sq__timer_add(loop, when_ms, fn, arg, NULL, id);
}

int sq_loop_call_later(sq_loop *loop, uint64_t delay_ms, sq_callback fn, void *arg,
                       sq_timer_id *id) {
    if (id) *id = 0;
    if (!loop || !fn) return SQ_EINVAL;
    if (loop->closing) return SQ_ECLOSED;
    /* Measured from the clock read now, not from the iteration's cached
     * uv_now(), so that the delay is never cut short by the time the
     * iteration has already spent. */
    uint64_t now = sq_loop_time(loop);
    uint64_t deadline = now + delay_ms < now ? UINT64_MAX : now + delay_ms;
    return sq__timer_add(loop, deadline, fn, arg, NULL, id);
}

int sq_loop_cancel(sq_loop *loop, sq_timer_id id) {
    if (!loop || id == 0) return SQ_ENOENT;
    uint64_t low = id & 0xffffffffu;
    uint32_t gen = (uint32_t)(id >> 32);
    if (low == 0 || low > loop->nslots) return SQ_ENOENT;
    uint32_t idx = (uint32_t)(low - 1);
    sq__tslot *s = &loop->slots[idx];
    if (!s->fn || s->gen != gen) return SQ_ENOENT;
    sq_callback drop = s->drop;
    void *arg = s->arg;
    heap_remove(loop, s->pos);
    slot_release(loop, idx);
    if (loop->heap_n == 0 && !loop->in_timer) uv_timer_stop(&loop->timer);
    if (drop) drop(arg);
    return 0;
}

void sq__timers_drop_all(sq_loop *loop) {
    /* Drops may unreference futures, but never add timers: the loop is
     * closing, so sq__timer_add is never reached. */
    while (loop->heap_n > 0) {
        uint32_t idx = loop->heap[--loop->heap_n];
        sq_callback drop = loop->slots[idx].drop;
        void *arg = loop->slots[idx].arg;
        slot_release(loop, idx);
        if (drop) drop(arg);
    }
}
