/* name_index.c - open-addressing hash set of names (FNV-1a, linear probing). */
#include <stdlib.h>
#include <string.h>

#include "fmt/name_index.h"
#include "core/core.h"

static uint64_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ull;
    }
    return h;
}

int dl_name_index_init(dl_name_index *ix, size_t capacity) {
    size_t n = 8;
    while (n / 2 < capacity) {
        if (n > SIZE_MAX / 2 / sizeof(dl_name_slot))
            return -1;
        n *= 2;
    }
    ix->slots = dl_calloc(n, sizeof *ix->slots);
    if (!ix->slots)
        return -1;
    ix->mask = n - 1;
    return 0;
}

void dl_name_index_free(dl_name_index *ix) {
    dl_free(ix->slots);
    ix->slots = NULL;
    ix->mask = 0;
}

int dl_name_index_add(dl_name_index *ix, const char *name, size_t idx, size_t *prev) {
    for (size_t i = (size_t)hash_name(name) & ix->mask;; i = (i + 1) & ix->mask) {
        dl_name_slot *s = &ix->slots[i];
        if (!s->name) {
            s->name = name;
            s->idx = idx;
            return 0;
        }
        if (strcmp(s->name, name) == 0) {
            if (prev)
                *prev = s->idx;
            return 1;
        }
    }
}

int64_t dl_name_index_find(const dl_name_index *ix, const char *name) {
    if (!ix->slots || !name)
        return -1;
    for (size_t i = (size_t)hash_name(name) & ix->mask;; i = (i + 1) & ix->mask) {
        const dl_name_slot *s = &ix->slots[i];
        if (!s->name)
            return -1;
        if (strcmp(s->name, name) == 0)
            return (int64_t)s->idx;
    }
}
