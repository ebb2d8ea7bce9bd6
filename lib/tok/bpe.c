/* bpe.c - byte-level BPE over one pre-token piece.
 *
 * A piece starts as one symbol per byte (the byte's token), then the adjacent pair with
 * the lowest merge rank is replaced by its merged token, leftmost first on ties, until
 * no adjacent pair has a merge. Symbols stay ids: the merge table is keyed by id pairs,
 * so no strings are built while merging. */
#include <stdlib.h>

#include "tok/tok_internal.h"

void dl_bpe_scratch_free(dl_bpe_scratch *s) {
    dl_free(s->sym);
    dl_free(s->heap);
    dl_free(s->u8);
    *s = (dl_bpe_scratch){0};
}

static int scratch_reserve(dl_bpe_scratch *s, size_t n, dl_err *err) {
    if (n <= s->cap) return 0;
    /* symbol indices are int32_t and the heap holds up to 3n candidates */
    if (n > (size_t)INT32_MAX / 4) return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: piece of %zu bytes is too long", n);
    size_t cap = s->cap ? s->cap : 64;
    while (cap < n) cap *= 2;
    dl_bpe_sym *sym = dl_realloc(s->sym, cap * sizeof *sym);
    if (sym) s->sym = sym;
    dl_bpe_cand *heap = dl_realloc(s->heap, 3 * cap * sizeof *heap);
    if (heap) s->heap = heap;
    char *u8 = dl_realloc(s->u8, 2 * cap);
    if (u8) s->u8 = u8;
    if (!sym || !heap || !u8) return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory for a %zu-byte piece", n);
    s->cap = cap;
    return 0;
}

/* Heap order: lower rank first, then the leftmost pair. */
static int cand_before(const dl_bpe_cand *a, const dl_bpe_cand *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(dl_bpe_scratch *s, dl_bpe_cand c) {
    size_t i = s->n_heap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!cand_before(&c, &s->heap[parent])) break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = c;
}

static dl_bpe_cand heap_pop(dl_bpe_scratch *s) {
    dl_bpe_cand top = s->heap[0];
    dl_bpe_cand last = s->heap[--s->n_heap];
    size_t n = s->n_heap, i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && cand_before(&s->heap[child + 1], &s->heap[child])) child++;
        if (!cand_before(&s->heap[child], &last)) break;
        s->heap[i] = s->heap[child];
        i = child;
    }
    if (n > 0) s->heap[i] = last;
    return top;
}

static void queue_pair(dl_bpe_scratch *s, const dl_tok *t, int32_t left, int32_t right) {
    const dl_merge_slot *m = dl_tok_find_merge(t, s->sym[left].id, s->sym[right].id);
    if (!m) return;
    heap_push(s, (dl_bpe_cand){.rank = m->rank, .left = left, .right = right,
                               .left_id = s->sym[left].id, .right_id = s->sym[right].id});
}

int dl_bpe_piece(dl_idsink *out, const dl_tok *t, const uint8_t *p, size_t n,
                 dl_bpe_scratch *s, dl_err *err) {
    if (n == 0) return 0;
    if (n == 1) {
        dl_idsink_put(out, t->byte_tok[p[0]]);
        return 0;
    }
    int rc = scratch_reserve(s, n, err);
    if (rc) return rc;

    if (t->ignore_merges) {
        size_t len = 0;
        for (size_t i = 0; i < n; i++) len += (size_t)dl_byte_to_utf8(s->u8 + len, p[i]);
        int32_t whole = dl_tok_find_bpe(t, s->u8, len);
        if (whole >= 0) {
            dl_idsink_put(out, whole);
            return 0;
        }
    }

    int32_t m = (int32_t)n;
    for (int32_t i = 0; i < m; i++)
        s->sym[i] = (dl_bpe_sym){.id = t->byte_tok[p[i]], .prev = i - 1, .next = i + 1 < m ? i + 1 : -1};
    s->n_heap = 0;
    for (int32_t i = 0; i + 1 < m; i++) queue_pair(s, t, i, i + 1);

    while (s->n_heap > 0) {
        dl_bpe_cand c = heap_pop(s);
        dl_bpe_sym *l = &s->sym[c.left], *r = &s->sym[c.right];
        /* queued before a neighbour changed: skip (ids only grow, so equal ids mean
         * the same span) */
        if (l->id != c.left_id || l->next != c.right || r->id != c.right_id) continue;
        const dl_merge_slot *mg = dl_tok_find_merge(t, c.left_id, c.right_id);
        l->id = mg->result;
        l->next = r->next;
        if (r->next >= 0) s->sym[r->next].prev = c.left;
        r->id = -1;
        if (l->prev >= 0) queue_pair(s, t, l->prev, c.left);
        if (l->next >= 0) queue_pair(s, t, c.left, l->next);
    }
    for (int32_t i = 0; i >= 0; i = s->sym[i].next) dl_idsink_put(out, s->sym[i].id);
    return 0;
}

int dl_bpe_piece_naive(dl_idsink *out, const dl_tok *t, const uint8_t *p, size_t n, dl_err *err) {
    if (n == 0) return 0;
    int32_t *ids = dl_malloc(n * sizeof *ids);
    if (!ids) return dl_fail(err, DIFFLM_E_NOMEM, "tokenizer: out of memory");
    size_t m = n;
    for (size_t i = 0; i < n; i++) ids[i] = t->byte_tok[p[i]];
    for (;;) {
        size_t best = m;
        const dl_merge_slot *best_m = NULL;
        for (size_t i = 0; i + 1 < m; i++) {
            const dl_merge_slot *mg = dl_tok_find_merge(t, ids[i], ids[i + 1]);
            if (mg && (!best_m || mg->rank < best_m->rank)) {
                best_m = mg;
                best = i;
            }
        }
        if (!best_m) break;
        ids[best] = best_m->result;
        for (size_t i = best + 1; i + 1 < m; i++) ids[i] = ids[i + 1];
        m--;
    }
    for (size_t i = 0; i < m; i++) dl_idsink_put(out, ids[i]);
    dl_free(ids);
    return 0;
}
