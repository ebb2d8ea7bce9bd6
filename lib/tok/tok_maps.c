/* tok_maps.c - the two hash tables the encoder leans on: token text -> id, and
 * (left id, right id) -> merge rank and result. Open addressing with linear probing,
 * load factor at most one half, sized once at load (no deletion, no growth). */
#include <string.h>

#include "tok/tok_internal.h"

/* FNV-1a, 64-bit: token texts are short, so a byte loop is as fast as anything. */
uint64_t dl_tok_hash_bytes(const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* splitmix64's finalizer: consecutive ids must not land in consecutive slots. */
static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

int dl_tok_table_size(size_t n_keys, uint32_t *mask) {
    size_t cap = 16;
    while (cap < 2 * n_keys) {
        if (cap > ((size_t)1 << 30)) return -1;
        cap <<= 1;
    }
    *mask = (uint32_t)(cap - 1);
    return 0;
}

int32_t dl_tok_find_bpe(const dl_tok *t, const char *s, size_t n) {
    uint32_t i = (uint32_t)dl_tok_hash_bytes(s, n) & t->bpe_mask;
    for (;;) {
        int32_t id = t->bpe_slots[i];
        if (id < 0) return -1;
        size_t len;
        const char *txt = dl_tok_text(t, id, &len);
        if (len == n && memcmp(txt, s, n) == 0) return id;
        i = (i + 1) & t->bpe_mask;
    }
}

void dl_tok_bpe_insert(dl_tok *t, int32_t id) {
    size_t n;
    const char *s = dl_tok_text(t, id, &n);
    uint32_t i = (uint32_t)dl_tok_hash_bytes(s, n) & t->bpe_mask;
    for (;;) {
        int32_t other = t->bpe_slots[i];
        if (other < 0) {
            t->bpe_slots[i] = id;
            return;
        }
        size_t len;
        const char *txt = dl_tok_text(t, other, &len);
        if (len == n && memcmp(txt, s, n) == 0) return;   /* duplicate text: first id wins */
        i = (i + 1) & t->bpe_mask;
    }
}

static uint64_t pair_key(int32_t left, int32_t right) {
    return ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
}

const dl_merge_slot *dl_tok_find_merge(const dl_tok *t, int32_t left, int32_t right) {
    uint64_t key = pair_key(left, right);
    uint32_t i = (uint32_t)mix64(key) & t->merge_mask;
    for (;;) {
        const dl_merge_slot *s = &t->merge_slots[i];
        if (s->key == key) return s;
        if (s->key == DL_MERGE_EMPTY) return NULL;
        i = (i + 1) & t->merge_mask;
    }
}

void dl_tok_merge_insert(dl_tok *t, int32_t left, int32_t right, int32_t rank, int32_t result) {
    uint64_t key = pair_key(left, right);
    uint32_t i = (uint32_t)mix64(key) & t->merge_mask;
    for (;;) {
        dl_merge_slot *s = &t->merge_slots[i];
        if (s->key == key) return;
        if (s->key == DL_MERGE_EMPTY) {
            s->key = key;
            s->rank = rank;
            s->result = result;
            t->n_merges++;
            return;
        }
        i = (i + 1) & t->merge_mask;
    }
}
