/* fuzz_safetensors.c - libFuzzer harness for the safetensors reader (the weights of a
 * Hugging Face folder): any bytes as one safetensors file (dl_st_open_mem) must either
 * fail with a status and a message and no handle, or open to a set whose every record
 * holds: found by its name, offsets inside the data region and in ascending order without
 * overlap, a size that is the product of its shape and element size, and every data byte
 * readable (the first and last byte of each tensor are read, so an offset past the input
 * is ASan's to see: libFuzzer's input buffer is exactly the input's size). Usable
 * tensors then go through dl_st_get, and the set through the model loader's binding of
 * both rows' HF names (dl_model_load_src) under the tiny models' hyperparameters.
 *
 * Built by `meson setup -Dfuzz=true` (doc/testing.md "Fuzzing"); the plain build's
 * fuzz_safetensors_replay runs fuzz/corpus/safetensors as the test fuzz-safetensors. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fmt/safetensors.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(int cond) {
    if (!cond)
        __builtin_trap();
}

static void check_fail(int rc, const dl_err *err) {
    must(rc < 0 && err->msg[0] != '\0' && err->status == rc);
}

static unsigned touch(const dl_st *s, const uint8_t *data, size_t size) {
    unsigned sum = 0;
    const uint8_t *prev_end = NULL;
    must(dl_st_n_files(s) == 1);
    for (size_t i = 0; i < dl_st_n_tensors(s); i++) {
        const dl_st_tensor *t = dl_st_tensor_at(s, i);
        must(t != NULL && t->t.name != NULL && t->file == 0);
        must(dl_st_find(s, t->t.name) == t);
        const uint8_t *p = t->t.data;
        /* inside the input, after the previous tensor */
        must(t->t.size == 0 || (p >= data && p <= data + size && t->t.size <= (size_t)(data + size - p)));
        if (prev_end && t->t.size)
            must(p >= prev_end);
        if (t->t.size) {
            prev_end = p + t->t.size;
            sum += p[0] + p[t->t.size - 1];
        }
        dl_err err = {0};
        const dl_gguf_tensor *g = NULL;
        int rc = dl_st_get(s, t->t.name, &g, &err);
        if (t->usable) {
            must(rc == 0 && g == &t->t && t->rank <= 4);
            uint64_t n = strcmp(t->dtype, "F32") == 0 ? 4 : 2;   /* F32, F16, BF16 */
            for (uint32_t d = 0; d < 4; d++)
                n *= (uint64_t)t->t.ne[d];
            must(n == t->t.size && t->t.n_dims >= 1 && t->t.n_dims <= 4);
        } else {
            must(rc == DIFFLM_E_UNSUPPORTED);
            check_fail(rc, &err);
        }
    }
    dl_err err = {0};
    const dl_gguf_tensor *g = (const dl_gguf_tensor *)1;
    must(dl_st_get(s, "no such tensor \x01", &g, &err) == 0 && g == NULL);
    return sum;
}

static int st_find(const void *ctx, const char *name, const dl_gguf_tensor **t, dl_err *err) {
    return dl_st_get(ctx, name, t, err);
}

/* The binding of a folder's weights (dl_hf_model_load after the config) for each row
 * with HF names, under the shapes of the seeds' tiny models (fuzz/make_hf_seeds.c:
 * 16 dimensions, 1 layer, 2 heads; LLaDA MHA, Dream 1 key/value head). */
static void bind(const dl_st *s) {
    static const int32_t archs[] = { DIFFLM_ARCH_LLADA, DIFFLM_ARCH_DREAM };
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++) {
        const dl_arch *a = dl_arch_by_id(archs[i]);
        if (!a)
            continue;
        dl_hparams hp = { .arch = a->id, .n_embd = 16, .n_layer = 1, .n_head = 2,
                          .n_head_kv = a->id == DIFFLM_ARCH_LLADA ? 2 : 1, .head_dim = 8,
                          .n_ff = 32, .n_ctx_train = 256, .rms_eps = 1e-5f,
                          .rope_theta = 10000.0f, .n_rot = 8,
                          .rope_layout = a->qk_permuted ? DL_ROPE_HALF_TO_PAIRS : a->rope,
                          .shift_logits = a->shift_logits };
        const dl_tensor_src src = { s, st_find, 1, dl_st_n_tensors(s) };
        dl_model *m = NULL;
        dl_err err = {0};
        int rc = dl_model_load_src(&m, a, &hp, &src, &err);
        if (rc == 0)
            must(m != NULL && m->hp.n_vocab > 0);
        else {
            must(m == NULL);
            check_fail(rc, &err);
        }
        dl_model_free(m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dl_st *s = NULL;
    dl_err err = {0};
    int rc = dl_st_open_mem(&s, data, size, "fuzz.safetensors", &err);
    if (rc != 0) {
        must(s == NULL);
        check_fail(rc, &err);
        return 0;
    }
    volatile unsigned sink = touch(s, data, size);
    (void)sink;
    bind(s);
    dl_st_close(s);
    return 0;
}
