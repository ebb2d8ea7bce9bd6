/* fuzz_gguf.c - libFuzzer harness for the GGUF reader and the model load on top of it
 * (what difflm_model_load / difflm_create do with a file's bytes): any input must either
 * fail with a status and message, or open to a handle whose every value and tensor byte
 * is readable; a file that opens then goes through the hyperparameter and weight-table
 * checks and the tokenizer load, and a model that loads tokenizes, detokenizes and
 * renders a chat.
 *
 * Built by `meson setup -Dfuzz=true` (doc/testing.md "Fuzzing"); the plain build's
 * fuzz_gguf_replay runs fuzz/corpus/gguf as the test fuzz-gguf. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fmt/gguf.h"
#include "model/model.h"
#include "tok/tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned touch(const dl_gguf *g) {
    dl_err err;
    unsigned sum = 0;
    for (size_t i = 0; i < dl_gguf_n_kv(g); i++) {
        const char *key = dl_gguf_key_at(g, i);
        uint32_t et, u;
        uint64_t n;
        dl_str s;
        int64_t v;
        double d;
        float f;
        int b;
        if (dl_gguf_type_at(g, i) == DL_GGUF_ARRAY) {
            if (dl_gguf_get_arr(g, key, &et, &n, &err) != 0)
                __builtin_trap();
            for (uint64_t j = 0; j < n; j++) {
                if (dl_gguf_arr_str(g, key, j, &s, &err) == 0 && s.n)
                    sum += (uint8_t)s.p[0] + (uint8_t)s.p[s.n - 1];
                if (dl_gguf_arr_i64(g, key, j, &v, &err) == 0)
                    sum += (unsigned)v;
                if (dl_gguf_arr_f64(g, key, j, &d, &err) == 0)
                    sum += d > 0;
            }
        } else {
            if (dl_gguf_get_str(g, key, &s, &err) == 0 && s.n)
                sum += (uint8_t)s.p[0] + (uint8_t)s.p[s.n - 1];
            sum += dl_gguf_get_u32(g, key, &u, &err) == 0 ? u : 0;
            sum += dl_gguf_get_f32(g, key, &f, &err) == 0;
            sum += dl_gguf_get_bool_opt(g, key, 0, &b, &err) == 0 ? (unsigned)b : 0;
            sum += dl_gguf_get_i64_opt(g, key, 0, &v, &err) == 0 ? (unsigned)v : 0;
        }
        if (dl_gguf_find_key(g, key) != (int64_t)i)
            __builtin_trap();
    }
    for (size_t i = 0; i < dl_gguf_n_tensors(g); i++) {
        const dl_gguf_tensor *t = dl_gguf_tensor_at(g, i);
        if (dl_gguf_find_tensor(g, t->name) != t || t->offset % dl_gguf_alignment(g) != 0)
            __builtin_trap();
        const uint8_t *p = t->data;
        if (t->size)
            sum += p[0] + p[t->size - 1];
    }
    return sum;
}

/* The loads run in a host allocator's scope that traps on a single block far larger
 * than the file: whatever a file's counts say, what the library allocates for it must be
 * in proportion to the bytes it has (every record it builds stands for bytes of the
 * file). A few gigabytes of layer records for a 23 KB file was the campaign's first
 * finding (fuzz/corpus/gguf/regress-block-count-oom.gguf). */
static size_t alloc_limit;

static void *bounded_alloc(size_t size, size_t align, void *user) {
    (void)user;
    if (size > alloc_limit)
        __builtin_trap();
    void *p = NULL;
    return posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size) == 0 ? p
                                                                                        : NULL;
}

static void bounded_free(void *p, void *user) {
    (void)user;
    free(p);
}

/* A failed call must say why, with an error status. */
static void check_fail(int rc, const dl_err *err) {
    if (rc >= 0 || err->msg[0] == '\0' || err->status != rc)
        __builtin_trap();
}

/* The tokenizer of a file that loaded: a round trip and a chat. */
static void use_tok(const dl_tok *t) {
    static const char text[] = "Hello, world! <|im_start|>user\n\xff\xfe 123";
    int32_t ids[256];
    size_t n = 0, m = 0;
    char back[1024];
    dl_err err;
    int rc = dl_tok_encode(t, text, sizeof text - 1, 0, ids, 256, &n, &err);
    if (rc == 0) {
        if (n > 256)
            __builtin_trap();
        rc = dl_tok_decode(t, ids, n, 0, back, sizeof back, &m, &err);
        if (rc == 0 && m > sizeof back)
            __builtin_trap();
    }
    if (rc != 0 && rc != DIFFLM_E_BUFFER_TOO_SMALL)
        check_fail(rc, &err);
    const difflm_chat_message msgs[2] = {{"system", "be brief"}, {"user", "hi"}};
    rc = dl_tok_chat(t, msgs, 2, 1, back, sizeof back, &m, &err);
    /* NUL-terminated at *n_out; a token text of the file (BOS in a template) may hold
     * NUL bytes of its own, so *n_out, not strlen, is the length */
    if (rc == 0 && (m >= sizeof back || back[m] != '\0'))
        __builtin_trap();
    if (rc != 0 && rc != DIFFLM_E_BUFFER_TOO_SMALL)
        check_fail(rc, &err);
}

/* What difflm_model_load does after the open (lib/ctx/model_obj.c): the model's
 * hyperparameters and weight table, then the tokenizer. */
static void load_model(const dl_gguf *g) {
    dl_err err;
    dl_model *m = NULL;
    int rc = dl_model_load(&m, g, NULL, &err);
    if (rc != 0) {
        if (m != NULL)
            __builtin_trap();
        check_fail(rc, &err);
    }
    dl_tok *t = NULL;
    rc = dl_tok_load(&t, g, &err);
    if (rc == 0)
        use_tok(t);
    else if (t != NULL)
        __builtin_trap();
    else
        check_fail(rc, &err);
    dl_tok_free(t);
    dl_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dl_gguf *g = NULL;
    dl_err err;
    int rc = dl_gguf_open_mem(&g, data, size, &err);
    if (rc == 0) {
        volatile unsigned sink = touch(g);
        (void)sink;
        alloc_limit = 64 * size + ((size_t)1 << 20);
        const dl_mem mem = {bounded_alloc, bounded_free, NULL};
        const dl_mem *prev = dl_mem_enter(&mem);
        load_model(g);
        dl_mem_leave(prev);
        dl_gguf_close(g);
    } else if (g != NULL || err.msg[0] == '\0' || err.status != rc) {
        __builtin_trap();   /* a failure must leave no handle and say why */
    }
    return 0;
}
