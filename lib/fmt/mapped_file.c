/* mapped_file.c - read-only private mapping of a whole file. */
#include <errno.h>
#include <fcntl.h>
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
    mf->data = NULL;
    mf->size = 0;
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

void dl_unmap_file(dl_mapped_file *mf) {
    if (mf->data)
        munmap((void *)mf->data, mf->size);
    mf->data = NULL;
    mf->size = 0;
}
