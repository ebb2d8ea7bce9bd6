/* mapped_file.h - a whole file mapped read-only (weights are used in place, never copied). */
#ifndef DL_MAPPED_FILE_H
#define DL_MAPPED_FILE_H

#include <stddef.h>

#include "core/core.h"

typedef struct dl_mapped_file {
    const void *data;           /* NULL when size == 0 (nothing to map) */
    size_t size;
} dl_mapped_file;

/* Maps path with PROT_READ / MAP_PRIVATE. Returns 0, or DIFFLM_E_IO naming the path
 * (missing, unreadable, not a regular file, too large for the address space). */
int dl_map_file(dl_mapped_file *mf, const char *path, dl_err *err);
void dl_unmap_file(dl_mapped_file *mf);   /* zeroes *mf; safe on a zeroed one */

/* Test hook (tests/api/test_alloc_fail.c): the next dl_map_file's mmap fails with errno
 * errnum (0 disarms). */
void dl_map_test_fail_next(int errnum);

#endif
