/* merge.c - BPE training with incremental pair counts.
 *
 * Every distinct adjacent pair has a running count (sum over pieces of occurrences x
 * piece frequency) and the list of pieces it may occur in. Merging (a, b) into c only
 * touches the pieces on (a, b)'s list; in each, the pairs before and after the rewrite
 * are compared and only the differences are applied. Only pairs containing c can gain,
 * so (a, b)'s list never grows while it is walked.
 *
 * The best pair comes from a max-heap with lazy deletion: an entry holds the count its
 * pair had when pushed. A pair that gains is pushed again; one that loses keeps its old,
 * too-high entry, which is re-pushed with the true count when it surfaces. So every pair
 * always has an entry at least as high as its count, and a surfacing entry that is
 * current is the true maximum (ties ordered by bpet_pair_order, as in the naive twin). */
#include <stdlib.h>
#include <string.h>

#include "bpe_train.h"

typedef struct pair_rec {
    uint64_t key;          /* left << 32 | right */
    int64_t count;
    int32_t *words;        /* pieces it may occur in (stale entries allowed) */
    uint32_t n_words, cap_words;
} pair_rec;

typedef struct heap_ent {
    int64_t count;
    uint64_t key;
} heap_ent;

typedef struct trainer {
    const bpet_pieces *p;
    bpet_vocab *v;
    int32_t *sym;          /* piece i's symbols live at sym[p->off[i] ..] */
    size_t *len;           /* [p->n] current symbol count of each piece */
    pair_rec *pairs;
    size_t n_pairs, cap_pairs;
    int32_t *slots;        /* key -> index into pairs; -1 free; [mask + 1] */
    uint32_t mask;
    heap_ent *heap;
    size_t n_heap, cap_heap;
    uint64_t *old_keys, *new_keys;   /* per-piece scratch, longest piece long */
    dl_err *err;
} trainer;

static uint64_t pair_key(int32_t l, int32_t r) {
    return ((uint64_t)(uint32_t)l << 32) | (uint32_t)r;
}
static int32_t key_left(uint64_t k) { return (int32_t)(k >> 32); }
static int32_t key_right(uint64_t k) { return (int32_t)(uint32_t)k; }

static uint32_t key_hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;   /* a 64-bit finaliser: spreads both ids over the slot bits */
    k ^= k >> 33;
    return (uint32_t)k;
}

static int32_t *find_slot(const trainer *t, uint64_t key) {
    uint32_t h = key_hash(key) & t->mask;
    while (t->slots[h] >= 0 && t->pairs[t->slots[h]].key != key) h = (h + 1) & t->mask;
    return &t->slots[h];
}

static int grow_table(trainer *t) {
    if (t->slots && 2 * (t->n_pairs + 1) <= (size_t)t->mask + 1 && t->n_pairs < t->cap_pairs) return 0;
    if (t->n_pairs >= t->cap_pairs) {
        size_t cap = t->cap_pairs ? 2 * t->cap_pairs : 4096;
        pair_rec *pr = realloc(t->pairs, cap * sizeof *pr);
        if (!pr) return dl_fail(t->err, DIFFLM_E_NOMEM, "bpe: out of memory for %zu pairs", cap);
        t->pairs = pr;
        t->cap_pairs = cap;
    }
    if (t->slots && 2 * (t->n_pairs + 1) <= (size_t)t->mask + 1) return 0;
    uint32_t mask;
    if (dl_tok_table_size(2 * (t->n_pairs + 1), &mask)) return dl_fail(t->err, DIFFLM_E_NOMEM, "bpe: too many pairs");
    int32_t *slots = malloc(((size_t)mask + 1) * sizeof *slots);
    if (!slots) return dl_fail(t->err, DIFFLM_E_NOMEM, "bpe: out of memory for the pair table");
    memset(slots, 0xFF, ((size_t)mask + 1) * sizeof *slots);   /* all -1 */
    free(t->slots);
    t->slots = slots;
    t->mask = mask;
    for (size_t i = 0; i < t->n_pairs; i++) *find_slot(t, t->pairs[i].key) = (int32_t)i;
    return 0;
}

/* Index of the pair's record, created with count 0 when absent. */
static int pair_get(trainer *t, uint64_t key, size_t *idx) {
    int rc = grow_table(t);
    if (rc) return rc;
    int32_t *slot = find_slot(t, key);
    if (*slot < 0) {
        t->pairs[t->n_pairs] = (pair_rec){.key = key};
        *slot = (int32_t)t->n_pairs++;
    }
    *idx = (size_t)*slot;
    return 0;
}

static int pair_add_word(trainer *t, pair_rec *pr, int32_t w) {
    if (pr->n_words == pr->cap_words) {
        uint32_t cap = pr->cap_words ? 2 * pr->cap_words : 4;
        if (cap <= pr->cap_words) return dl_fail(t->err, DIFFLM_E_NOMEM, "bpe: pair list overflow");
        int32_t *wd = realloc(pr->words, (size_t)cap * sizeof *wd);
        if (!wd) return dl_fail(t->err, DIFFLM_E_NOMEM, "bpe: out of memory for pair lists");
        pr->words = wd;
        pr->cap_words = cap;
    }
    pr->words[pr->n_words++] = w;
    return 0;
}

/* --- heap: entry a before b when it has the higher count, or the preferred pair. */
static int heap_before(const trainer *t, const heap_ent *a, const heap_ent *b) {
    if (a->count != b->count) return a->count > b->count;
    return bpet_pair_order(t->v, key_left(a->key), key_right(a->key), key_left(b->key), key_right(b->key)) < 0;
}

static int heap_push(trainer *t, int64_t count, uint64_t key) {
    if (t->n_heap == t->cap_heap) {
        size_t cap = t->cap_heap ? 2 * t->cap_heap : 4096;
        heap_ent *h = realloc(t->heap, cap * sizeof *h);
        if (!h) return dl_fail(t->err, DIFFLM_E_NOMEM, "bpe: out of memory for the pair heap");
        t->heap = h;
        t->cap_heap = cap;
    }
    size_t i = t->n_heap++;
    heap_ent e = {count, key};
    while (i > 0 && heap_before(t, &e, &t->heap[(i - 1) / 2])) {
        t->heap[i] = t->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    t->heap[i] = e;
    return 0;
}

static heap_ent heap_pop(trainer *t) {
    heap_ent top = t->heap[0], last = t->heap[--t->n_heap];
    size_t i = 0, n = t->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_before(t, &t->heap[c + 1], &t->heap[c])) c++;
        if (!heap_before(t, &t->heap[c], &last)) break;
        t->heap[i] = t->heap[c];
        i = c;
    }
    if (n) t->heap[i] = last;
    return top;
}

static int key_cmp(const void *pa, const void *pb) {
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : a > b;
}

static size_t piece_pairs(uint64_t *keys, const int32_t *s, size_t n) {
    size_t k = 0;
    for (size_t j = 0; j + 1 < n; j++) keys[k++] = pair_key(s[j], s[j + 1]);
    qsort(keys, k, sizeof *keys, key_cmp);
    return k;
}

/* Applies new - old (both sorted) to the counts of piece w's pairs. `fresh` marks a
 * first visit: every pair is then new to the piece and is pushed later, in bulk. */
static int apply_delta(trainer *t, int32_t w, const uint64_t *old, size_t n_old, const uint64_t *nw,
                       size_t n_new, int fresh) {
    int64_t f = t->p->count[w];
    size_t i = 0, j = 0;
    while (i < n_old || j < n_new) {
        uint64_t key = (j >= n_new || (i < n_old && old[i] < nw[j])) ? old[i] : nw[j];
        int64_t m_old = 0, m_new = 0;
        while (i < n_old && old[i] == key) m_old++, i++;
        while (j < n_new && nw[j] == key) m_new++, j++;
        if (m_old == m_new) continue;
        size_t idx;
        int rc = pair_get(t, key, &idx);
        if (rc) return rc;
        pair_rec *pr = &t->pairs[idx];
        pr->count += (m_new - m_old) * f;
        if (m_old == 0 && (rc = pair_add_word(t, pr, w))) return rc;
        if (m_new > m_old && !fresh && (rc = heap_push(t, pr->count, key))) return rc;
    }
    return 0;
}

static int has_pair(const int32_t *s, size_t n, int32_t a, int32_t b) {
    for (size_t j = 0; j + 1 < n; j++)
        if (s[j] == a && s[j + 1] == b) return 1;
    return 0;
}

/* Rewrites piece w with (a, b) -> c (left to right, no overlap) and updates the counts. */
static int merge_in_piece(trainer *t, int32_t w, int32_t a, int32_t b, int32_t c) {
    int32_t *s = t->sym + t->p->off[w];
    size_t n = t->len[w];
    if (!has_pair(s, n, a, b)) return 0;   /* stale list entry, or a duplicate */
    size_t n_old = piece_pairs(t->old_keys, s, n);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            s[out++] = c;
            i++;
        } else {
            s[out++] = s[i];
        }
    }
    t->len[w] = out;
    size_t n_new = piece_pairs(t->new_keys, s, out);
    return apply_delta(t, w, t->old_keys, n_old, t->new_keys, n_new, 0);
}

static int start(trainer *t) {
    const bpet_pieces *p = t->p;
    size_t longest = 1;
    for (size_t i = 0; i < p->n; i++) longest = DL_MAX(longest, p->off[i + 1] - p->off[i]);
    t->sym = malloc((p->n_bytes ? p->n_bytes : 1) * sizeof *t->sym);
    t->len = malloc((p->n ? p->n : 1) * sizeof *t->len);
    t->old_keys = malloc(longest * sizeof *t->old_keys);
    t->new_keys = malloc(longest * sizeof *t->new_keys);
    if (!t->sym || !t->len || !t->old_keys || !t->new_keys)
        return dl_fail(t->err, DIFFLM_E_NOMEM, "bpe: out of memory for %zu symbols", p->n_bytes);
    for (size_t i = 0; i < p->n_bytes; i++) t->sym[i] = p->bytes[i];
    int rc;
    for (size_t i = 0; i < p->n; i++) {
        t->len[i] = p->off[i + 1] - p->off[i];
        size_t k = piece_pairs(t->new_keys, t->sym + p->off[i], t->len[i]);
        if ((rc = apply_delta(t, (int32_t)i, NULL, 0, t->new_keys, k, 1))) return rc;
    }
    for (size_t i = 0; i < t->n_pairs; i++)
        if ((rc = heap_push(t, t->pairs[i].count, t->pairs[i].key))) return rc;
    return 0;
}

/* The current best pair in *best with *found = 1, or *found = 0 when no pair is left.
 * Stale entries met on the way are dropped, or re-pushed with their true count. */
static int pop_best(trainer *t, heap_ent *best, int *found) {
    *found = 0;
    while (t->n_heap) {
        heap_ent e = heap_pop(t);
        const pair_rec *pr = &t->pairs[*find_slot(t, e.key)];
        if (pr->count == e.count) {
            if (e.count <= 0) return 0;   /* never pushed: counts are positive when pushed */
            *best = e;
            *found = 1;
            return 0;
        }
        if (pr->count > 0) {
            int rc = heap_push(t, pr->count, e.key);
            if (rc) return rc;
        }
    }
    return 0;
}

static void finish(trainer *t) {
    for (size_t i = 0; i < t->n_pairs; i++) free(t->pairs[i].words);
    free(t->pairs);
    free(t->slots);
    free(t->heap);
    free(t->sym);
    free(t->len);
    free(t->old_keys);
    free(t->new_keys);
}

int bpet_train(bpet_vocab *v, const bpet_pieces *p, const bpet_params *prm, dl_err *err) {
    if (prm->min_count < 1) return dl_fail(err, DIFFLM_E_INVALID_ARG, "bpe: min_count %lld < 1", (long long)prm->min_count);
    int rc = bpet_vocab_start(v, prm->max_tokens, err);
    if (rc) return rc;
    trainer t = {.p = p, .v = v, .err = err};
    if ((rc = start(&t))) goto done;
    while (v->n_tokens < prm->max_tokens) {
        heap_ent best;
        int found;
        if ((rc = pop_best(&t, &best, &found))) goto done;
        if (!found || best.count < prm->min_count) break;
        int32_t a = key_left(best.key), b = key_right(best.key), c;
        if ((rc = bpet_vocab_merge(v, a, b, best.count, &c, err))) goto done;
        size_t idx = (size_t)*find_slot(&t, best.key);
        int32_t *words = t.pairs[idx].words;   /* stable: only pairs with c gain pieces */
        uint32_t n_words = t.pairs[idx].n_words;
        for (uint32_t k = 0; k < n_words && rc == 0; k++) rc = merge_in_piece(&t, words[k], a, b, c);
        if (rc) goto done;
        pair_rec *pr = &t.pairs[*find_slot(&t, best.key)];   /* the table may have moved */
        if (pr->count != 0) {
            rc = dl_fail(err, DIFFLM_E_INTERNAL, "bpe: pair (%d, %d) still counted %lld after its merge",
                         a, b, (long long)pr->count);
            goto done;
        }
        free(pr->words);
        pr->words = NULL;
        pr->n_words = pr->cap_words = 0;
    }
done:
    finish(&t);
    if (rc) bpet_vocab_free(v);
    return rc;
}
