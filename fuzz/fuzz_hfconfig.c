/* fuzz_hfconfig.c - libFuzzer harness for a Hugging Face folder's config.json and
 * generation_config.json (dl_hf_config_parse, the reader dl_hf_config_read runs on the
 * files): any bytes must either fail with a status and a message, or give hyperparameters
 * that the model loader takes as they are. That is checked by writing them as a GGUF's
 * `{arch}.*` keys (dl_hparams_write, what the converter does with a folder) and reading
 * them back with the GGUF loader's validation (dl_hparams_read): a config the folder
 * path accepts must convert to a file the GGUF path accepts with the same values. The
 * hyperparameters then go to the weight binding (dl_model_load_src) over an empty
 * tensor set, which must fail on the missing embedding, never on anything else.
 *
 * Input: config.json's text, optionally followed by a NUL byte and generation_config.json's
 * text (JSON text has no NUL bytes, so the split is unambiguous).
 *
 * Built by `meson setup -Dfuzz=true` (doc/testing.md "Fuzzing"); the plain build's
 * fuzz_hfconfig_replay runs fuzz/corpus/hfconfig as the test fuzz-hfconfig. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fmt/gguf.h"
#include "model/hf_config.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT (1 << 20)

static void must(int cond) {
    if (!cond)
        __builtin_trap();
}

static void check_fail(int rc, const dl_err *err) {
    must(rc < 0 && err->msg[0] != '\0' && err->status == rc);
}

/* hp through a GGUF's keys and back: the loader's own checks, the same values. */
static void roundtrip(const dl_hf_config *c) {
    const dl_hparams *hp = &c->hp;
    dl_gguf_writer *w = dl_gguf_writer_new();
    must(w != NULL);
    must(dl_gguf_w_str(w, "general.architecture", c->arch->name) == 0);
    must(dl_hparams_write(w, c->arch, hp, 0) == 0);
    void *buf = NULL;
    size_t n = 0;
    dl_err err = {0};
    must(dl_gguf_writer_to_buffer(w, &buf, &n, &err) == 0);
    dl_gguf_writer_free(w);
    dl_gguf *g = NULL;
    must(dl_gguf_open_mem(&g, buf, n, &err) == 0);
    dl_hparams back;
    memset(&back, 0, sizeof back);
    int rc = dl_hparams_read(&back, c->arch, g, NULL, &err);
    if (rc != 0)
        __builtin_trap();   /* the folder path took what the GGUF path refuses */
    must(back.arch == hp->arch && back.n_embd == hp->n_embd && back.n_layer == hp->n_layer &&
         back.n_head == hp->n_head && back.n_head_kv == hp->n_head_kv &&
         back.head_dim == hp->head_dim && back.n_ff == hp->n_ff &&
         back.n_ctx_train == hp->n_ctx_train && back.rms_eps == hp->rms_eps &&
         back.rope_theta == hp->rope_theta && back.n_rot == hp->n_rot &&
         back.shift_logits == hp->shift_logits);
    dl_gguf_close(g);
    free(buf);
}

static int no_tensor(const void *ctx, const char *name, const dl_gguf_tensor **t, dl_err *err) {
    (void)ctx, (void)name, (void)err;
    *t = NULL;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > MAX_INPUT)
        return 0;
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    size_t n = nul ? (size_t)(nul - text) : size;
    const char *gen = nul ? nul + 1 : NULL;
    size_t gen_n = nul ? size - n - 1 : 0;
    dl_hf_config c;
    dl_err err = {0};
    int rc = dl_hf_config_parse(&c, text, n, gen, gen_n, &err);
    if (rc != 0) {
        check_fail(rc, &err);
        return 0;
    }
    must(c.arch != NULL && c.arch->id == c.hp.arch);
    must(c.n_eos >= 0 && c.n_eos <= DL_HF_MAX_EOS);
    for (int32_t i = 0; i < c.n_eos; i++)
        must(c.eos[i] >= 0);
    must(c.mask_id >= -1 && c.hp.n_vocab >= 0);
    roundtrip(&c);
    const dl_tensor_src src = { NULL, no_tensor, 1, 0 };
    dl_model *m = NULL;
    rc = dl_model_load_src(&m, c.arch, &c.hp, &src, &err);
    must(m == NULL && (rc == DIFFLM_E_FORMAT || rc == DIFFLM_E_UNSUPPORTED));
    check_fail(rc, &err);
    return 0;
}
