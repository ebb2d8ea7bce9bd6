/* pieces.c - counts distinct pre-token pieces. A corpus of ~20 MB has millions of pieces
 * but only ~10^5 distinct ones, and BPE training works on the distinct ones. */
#include <stdlib.h>
#include <string.h>

#include "bpe_train.h"

void bpet_pieces_init(bpet_pieces *p) {
    memset(p, 0, sizeof *p);
}

void bpet_pieces_free(bpet_pieces *p) {
    free(p->bytes);
    free(p->off);
    free(p->count);
    free(p->slots);
    memset(p, 0, sizeof *p);
}

static int grow_bytes(bpet_pieces *p, size_t need, dl_err *err) {
    if (need <= p->cap_bytes) return 0;
    size_t cap = p->cap_bytes ? p->cap_bytes : 1 << 16;
    while (cap < need) {
        if (dl_mul_size(cap, 2, &cap)) return dl_fail(err, DIFFLM_E_NOMEM, "pieces: text too large");
    }
    uint8_t *b = realloc(p->bytes, cap);
    if (!b) return dl_fail(err, DIFFLM_E_NOMEM, "pieces: out of memory for %zu bytes", cap);
    p->bytes = b;
    p->cap_bytes = cap;
    return 0;
}

static int grow_pieces(bpet_pieces *p, dl_err *err) {
    if (p->n < p->cap) return 0;
    size_t cap = p->cap ? 2 * p->cap : 1024;
    size_t *off = realloc(p->off, (cap + 1) * sizeof *off);
    if (!off) return dl_fail(err, DIFFLM_E_NOMEM, "pieces: out of memory for %zu pieces", cap);
    p->off = off;
    int64_t *count = realloc(p->count, cap * sizeof *count);
    if (!count) return dl_fail(err, DIFFLM_E_NOMEM, "pieces: out of memory for %zu pieces", cap);
    p->count = count;
    if (p->n == 0) p->off[0] = 0;
    p->cap = cap;
    return 0;
}

static int32_t *find_slot(const bpet_pieces *p, const uint8_t *s, size_t n) {
    uint32_t h = (uint32_t)dl_tok_hash_bytes(s, n) & p->mask;
    for (;;) {
        int32_t *slot = &p->slots[h];
        if (*slot < 0) return slot;
        size_t i = (size_t)*slot, len = p->off[i + 1] - p->off[i];
        if (len == n && memcmp(p->bytes + p->off[i], s, n) == 0) return slot;
        h = (h + 1) & p->mask;
    }
}

/* Keeps the load factor at most one half, so probing stays short and always ends. */
static int grow_slots(bpet_pieces *p, dl_err *err) {
    if (p->slots && 2 * (p->n + 1) <= (size_t)p->mask + 1) return 0;
    uint32_t mask;
    if (dl_tok_table_size(2 * (p->n + 1), &mask))
        return dl_fail(err, DIFFLM_E_NOMEM, "pieces: too many distinct pieces");
    int32_t *slots = malloc(((size_t)mask + 1) * sizeof *slots);
    if (!slots) return dl_fail(err, DIFFLM_E_NOMEM, "pieces: out of memory for the piece table");
    memset(slots, 0xFF, ((size_t)mask + 1) * sizeof *slots);   /* all -1 */
    free(p->slots);
    p->slots = slots;
    p->mask = mask;
    for (size_t i = 0; i < p->n; i++)
        *find_slot(p, p->bytes + p->off[i], p->off[i + 1] - p->off[i]) = (int32_t)i;
    return 0;
}

int bpet_pieces_add(bpet_pieces *p, const uint8_t *s, size_t n, int64_t count, dl_err *err) {
    if (n == 0 || count < 1) return dl_fail(err, DIFFLM_E_INVALID_ARG, "pieces: empty piece or count < 1");
    if (p->n >= INT32_MAX - 1) return dl_fail(err, DIFFLM_E_NOMEM, "pieces: too many distinct pieces");
    int rc = grow_slots(p, err);
    if (rc) return rc;
    int32_t *slot = find_slot(p, s, n);
    if (*slot >= 0) {
        p->count[*slot] += count;
        return 0;
    }
    size_t need;
    if (dl_add_size(p->n_bytes, n, &need)) return dl_fail(err, DIFFLM_E_NOMEM, "pieces: text too large");
    if ((rc = grow_bytes(p, need, err)) || (rc = grow_pieces(p, err))) return rc;
    memcpy(p->bytes + p->n_bytes, s, n);
    p->n_bytes = need;
    p->count[p->n] = count;
    p->off[p->n + 1] = need;
    *slot = (int32_t)p->n;
    p->n++;
    return 0;
}

typedef struct add_ctx {
    bpet_pieces *p;
    dl_err *err;
} add_ctx;

static int on_piece(void *user, const uint8_t *s, size_t n) {
    add_ctx *c = user;
    return bpet_pieces_add(c->p, s, n, 1, c->err);
}

/* The encoder's cut (dl_pretok_split_bytes); a byte starting no valid character is its
 * own byte token, with nothing to learn, so it is skipped. */
int bpet_pieces_add_text(bpet_pieces *p, const dl_pretok *rules, const uint8_t *s, size_t n,
                         dl_err *err) {
    add_ctx c = {.p = p, .err = err};
    int rc = dl_pretok_split_bytes(rules, s, n, on_piece, NULL, &c, err);
    if (rc) return rc;
    p->total_bytes += (int64_t)n;
    return 0;
}
