/* tiny_fixture.h - a tiny model (tests/fixtures/model_tiny.h) written to memory, opened
 * and loaded, and the guarded scratch its passes run in: the fixture of the Check tests
 * of lib/model (test_model.c, tests/batch/test_batch_forward.c). Failures are Check
 * assertions. */
#ifndef DL_TESTS_TINY_FIXTURE_H
#define DL_TESTS_TINY_FIXTURE_H

#include <stddef.h>

#include "core/core.h"
#include "fmt/gguf.h"
#include "model/model.h"
#include "model_tiny.h"

/* A loaded tiny model and everything it borrows. */
typedef struct tiny_fixture {
    void *buf;     /* the GGUF bytes [n] */
    size_t n;
    dl_gguf *g;    /* opened on buf */
    dl_model *m;   /* loaded from g; NULL when the load failed */
} tiny_fixture;

/* Writes s to memory and opens it (asserted), then loads the model with log (may be
 * NULL): returns the load's status, its message in *err. Close the fixture either way. */
int tiny_open(tiny_fixture *f, const dl_tiny_spec *s, dl_log *log, dl_err *err);
/* tiny_open, asserting the load worked. */
void tiny_load(tiny_fixture *f, const dl_tiny_spec *s, dl_log *log);
/* Frees the model, the file and its bytes. */
void tiny_close(tiny_fixture *f);

/* n bytes of DL_ALIGN-aligned scratch followed by a canary region a pass must not touch;
 * scratch_check_free asserts the canary is whole and frees the block. */
void *scratch_new(size_t n);
void scratch_check_free(void *p, size_t n);

#endif
