/* fuzz_gguf.c - libFuzzer harness for the GGUF reader: any input must either fail with a
 * status and message, or open to a handle whose every value and tensor byte is readable.
 *
 * Build and run (from the repository root; `meson setup build` first for difflm_version.h):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude -Ilib -Ibuild \
 *       fuzz/fuzz_gguf.c lib/fmt/[a-z]*.c lib/core/err.c -o build/fuzz_gguf
 *   mkdir -p build/fuzz_corpus && ./build/fuzz_gguf -max_len=4096 build/fuzz_corpus
 *
 * Seed the corpus with small files from the writer (the fmt tests build several) for
 * faster coverage; an empty corpus also works, only more slowly. */
#include <stddef.h>
#include <stdint.h>

#include "fmt/gguf.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dl_gguf *g = NULL;
    dl_err err;
    int rc = dl_gguf_open_mem(&g, data, size, &err);
    if (rc == 0) {
        volatile unsigned sink = touch(g);
        (void)sink;
        dl_gguf_close(g);
    } else if (g != NULL || err.msg[0] == '\0' || err.status != rc) {
        __builtin_trap();   /* a failure must leave no handle and say why */
    }
    return 0;
}
