/* tiny_fixture.c - the lib/model tests' fixture (tiny_fixture.h). */
#include "tiny_fixture.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../check_compat.h"

int tiny_open(tiny_fixture *f, const dl_tiny_spec *s, dl_log *log, dl_err *err) {
    memset(f, 0, sizeof *f);
    dl_err e = { 0 };
    ck_assert_msg(dl_tiny_to_buffer(s, &f->buf, &f->n, &e) == 0, "tiny model: %s", e.msg);
    ck_assert_msg(dl_gguf_open_mem(&f->g, f->buf, f->n, &e) == 0, "gguf open: %s", e.msg);
    return dl_model_load(&f->m, f->g, log, err);
}

void tiny_load(tiny_fixture *f, const dl_tiny_spec *s, dl_log *log) {
    dl_err e = { 0 };
    int rc = tiny_open(f, s, log, &e);
    ck_assert_msg(rc == 0, "load: %s", e.msg);
    ck_assert_ptr_nonnull(f->m);
}

void tiny_close(tiny_fixture *f) {
    dl_model_free(f->m);
    dl_gguf_close(f->g);
    free(f->buf);
}

#define CANARY 4096
void *scratch_new(size_t n) {
    uint8_t *p = dl_aligned_alloc(n + CANARY);
    ck_assert_ptr_nonnull(p);
    memset(p + n, 0xA5, CANARY);
    return p;
}

void scratch_check_free(void *p, size_t n) {
    const uint8_t *c = (const uint8_t *)p + n;
    for (size_t i = 0; i < CANARY; i++)
        ck_assert_msg(c[i] == 0xA5, "scratch overrun at byte %zu past the end", i);
    dl_aligned_free(p);
}
