/* mapped_file.h - a whole model image, read-only: a file mapped (weights are used in
 * place, never copied), a host's buffer (used in place), or the bytes of a host's read
 * callback copied into memory the library owns (through the allocator in scope). */
#ifndef DL_MAPPED_FILE_H
#define DL_MAPPED_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef struct dl_mapped_file {
    const void *data;           /* NULL when size == 0 (nothing to map) */
    size_t size;
    int kind;                   /* DL_MAP_* : how dl_unmap_file gives data back */
} dl_mapped_file;

#define DL_MAP_MMAP 0           /* munmap */
#define DL_MAP_BORROWED 1       /* the host's buffer: nothing to free */
#define DL_MAP_OWNED 2          /* dl_aligned_free (in the scope that allocated it) */

/* The buffer a host owns and keeps alive; it must be DL_MAP_BUFFER_ALIGN-aligned (the
 * products load weights with aligned vector loads where a file's mapping is
 * page-aligned). Returns 0, or DIFFLM_E_INVALID_ARG (NULL with a size, misaligned). */
#define DL_MAP_BUFFER_ALIGN 32
int dl_map_buffer(dl_mapped_file *mf, const void *data, size_t size, dl_err *err);

/* size bytes read with read_fn(user, offset, dst, n) (0 = success; chunks of at most
 * 1 MiB, in increasing offsets) into one dl_aligned_alloc block. Returns 0,
 * DIFFLM_E_NOMEM, or DIFFLM_E_IO (the callback failed; nothing is kept). */
int dl_map_reader(dl_mapped_file *mf, int (*read_fn)(void *, uint64_t, void *, size_t),
                  void *user, size_t size, dl_err *err);

/* Maps path with PROT_READ / MAP_PRIVATE. Returns 0, or DIFFLM_E_IO naming the path
 * (missing, unreadable, not a regular file, too large for the address space). */
int dl_map_file(dl_mapped_file *mf, const char *path, dl_err *err);
void dl_unmap_file(dl_mapped_file *mf);   /* zeroes *mf; safe on a zeroed one */

/* Tells the kernel that [p, p + n) of a dl_map_file mapping will not be read again soon:
 * its pages leave the process's resident set (they stay in the page cache and fault
 * back in from the file if read). A converter calls it after each tensor, so a model
 * read once from end to end costs one tensor of resident memory, not the file. Only for
 * DL_MAP_MMAP mappings (on a host's buffer it would discard the host's bytes). */
void dl_map_drop_pages(const void *p, size_t n);

/* Test hook (tests/api/test_alloc_fail.c): the next dl_map_file's mmap fails with errno
 * errnum (0 disarms). */
void dl_map_test_fail_next(int errnum);

#endif
