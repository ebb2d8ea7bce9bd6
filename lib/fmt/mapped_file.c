/* mapped_file.c - read-only private mapping of a whole file. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmt/mapped_file.h"

/* Test hook (mapped_file.h): errno for the next mmap to fail with, 0 = none. */
static int fail_next_map;   /* read and written with __atomic builtins */

void dl_map_test_fail_next(int errnum) {
    __atomic_store_n(&fail_next_map, errnum, __ATOMIC_RELAXED);
}

int dl_map_file(dl_mapped_file *mf, const char *path, dl_err *err) {
    memset(mf, 0, sizeof *mf);   // padding too: the struct is copied into heap objects
    mf->size = 0;
    mf->kind = DL_MAP_MMAP;
    if (!path)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "no file path given");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dl_fail(err, DIFFLM_E_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return dl_fail(err, DIFFLM_E_IO, "cannot stat '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return dl_fail(err, DIFFLM_E_IO, "'%s' is not a regular file", path);
    }
    if ((unsigned long long)st.st_size > (unsigned long long)SIZE_MAX) {
        close(fd);
        return dl_fail(err, DIFFLM_E_IO, "'%s' is too large to map (%lld bytes)", path,
                       (long long)st.st_size);
    }
    size_t size = (size_t)st.st_size;
    if (size == 0) {        /* mmap of length 0 fails; an empty file is simply empty */
        close(fd);
        return 0;
    }
    int forced = __atomic_exchange_n(&fail_next_map, 0, __ATOMIC_RELAXED);
    void *p = forced ? MAP_FAILED : mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = forced ? forced : errno;
    close(fd);              /* the mapping keeps the file referenced */
    if (p == MAP_FAILED)
        return dl_fail(err, DIFFLM_E_IO, "cannot map '%s' (%zu bytes): %s", path, size, strerror(e));
    mf->data = p;
    mf->size = size;
    return 0;
}

int dl_map_buffer(dl_mapped_file *mf, const void *data, size_t size, dl_err *err) {
    memset(mf, 0, sizeof *mf);   // padding too: the struct is copied into heap objects
    mf->size = 0;
    mf->kind = DL_MAP_BORROWED;
    if (!data && size > 0)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "the model buffer is NULL but its size is %zu",
                       size);
    if ((uintptr_t)data % DL_MAP_BUFFER_ALIGN != 0)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "the model buffer at %p is not %d-byte "
                       "aligned", data, DL_MAP_BUFFER_ALIGN);
    mf->data = size ? data : NULL;
    mf->size = size;
    return 0;
}

#define READ_CHUNK ((size_t)1 << 20)

int dl_map_reader(dl_mapped_file *mf, int (*read_fn)(void *, uint64_t, void *, size_t),
                  void *user, size_t size, dl_err *err) {
    memset(mf, 0, sizeof *mf);   // padding too: the struct is copied into heap objects
    mf->size = 0;
    mf->kind = DL_MAP_OWNED;
    if (!read_fn)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "no read callback given");
    if (size == 0)
        return 0;
    uint8_t *buf = dl_aligned_alloc(size);
    if (!buf)
        return dl_fail(err, DIFFLM_E_NOMEM, "cannot allocate %zu bytes for the model image",
                       size);
    for (size_t off = 0; off < size; off += READ_CHUNK) {
        const size_t n = size - off < READ_CHUNK ? size - off : READ_CHUNK;
        if (read_fn(user, (uint64_t)off, buf + off, n) != 0) {
            dl_aligned_free(buf);
            return dl_fail(err, DIFFLM_E_IO, "the read callback failed at offset %zu (%zu "
                           "bytes)", off, n);
        }
    }
    mf->data = buf;
    mf->size = size;
    return 0;
}

void dl_unmap_file(dl_mapped_file *mf) {
    if (mf->data && mf->kind == DL_MAP_MMAP)
        munmap((void *)mf->data, mf->size);
    else if (mf->data && mf->kind == DL_MAP_OWNED)
        dl_aligned_free((void *)mf->data);
    memset(mf, 0, sizeof *mf);   // padding too: the struct is copied into heap objects
    mf->size = 0;
    mf->kind = DL_MAP_MMAP;
}

void dl_map_drop_pages(const void *p, size_t n) {
    if (!p || !n)
        return;
    long ps = sysconf(_SC_PAGESIZE);
    uintptr_t page = ps > 0 ? (uintptr_t)ps : 4096;
    uintptr_t a = (uintptr_t)p & ~(page - 1), b = ((uintptr_t)p + n + page - 1) & ~(page - 1);
    /* a read-only private file mapping has no private pages: dropping the ones a
     * neighbouring range shares only makes them fault back in from the file */
    (void)madvise((void *)a, b - a, MADV_DONTNEED);
}
