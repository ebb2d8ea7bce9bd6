/* name_index.h - a fixed-capacity hash set of NUL-terminated names -> index, so key and
 * tensor lookups (and duplicate detection at open time) cost O(1) whatever a file holds. */
#ifndef DL_NAME_INDEX_H
#define DL_NAME_INDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct dl_name_slot {
    const char *name;           /* borrowed; NULL = empty slot */
    size_t idx;
} dl_name_slot;

typedef struct dl_name_index {
    dl_name_slot *slots;        /* [mask + 1] */
    size_t mask;
} dl_name_index;

/* Room for `capacity` names (load factor at most 1/2). Returns 0 or -1 (out of memory). */
int dl_name_index_init(dl_name_index *ix, size_t capacity);
void dl_name_index_free(dl_name_index *ix);

/* Adds name -> idx. Returns 0, or 1 when the name is already present (*prev = its index).
 * The caller never adds more than `capacity` names. */
int dl_name_index_add(dl_name_index *ix, const char *name, size_t idx, size_t *prev);

/* Index of name, or -1. An index never initialised (slots NULL) finds nothing. */
int64_t dl_name_index_find(const dl_name_index *ix, const char *name);

#endif
