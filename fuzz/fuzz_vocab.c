/* fuzz_vocab.c - the harnesses' tokenizers (fuzz_vocab.h). */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_vocab.h"
#include "model_tiny.h"
#include "tok_fixture.h"

static dl_tok *load_qwen(void) {
    const char *src = getenv("DIFFLM_SRCDIR");
    if (!src || !*src)
        setenv("DIFFLM_SRCDIR", DIFFLM_FUZZ_SRCDIR, 1);
    tf_vocab v = {0};
    if (tf_load_dream_vocab(&v))
        __builtin_trap();
    tf_keys k = tf_keys_dream();
    void *buf;
    size_t size;
    dl_err err = {0};
    dl_gguf *g = NULL;
    dl_tok *t = NULL;
    if (tf_build_gguf(&v, &k, &buf, &size, &err) || dl_gguf_open_mem(&g, buf, size, &err) ||
        dl_tok_load(&t, g, &err)) {
        fprintf(stderr, "fuzz: qwen vocabulary: %s\n", err.msg);
        __builtin_trap();
    }
    dl_gguf_close(g);
    free(buf);
    tf_vocab_free(&v);
    return t;
}

static dl_tok *load_tiny(void) {
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, DIFFLM_ARCH_LLADA);
    s.n_embd = 32;
    s.n_ff = 64;
    s.n_vocab = 400;
    void *buf;
    size_t size;
    dl_err err = {0};
    dl_gguf *g = NULL;
    dl_tok *t = NULL;
    if (dl_tiny_to_buffer(&s, &buf, &size, &err) || dl_gguf_open_mem(&g, buf, size, &err) ||
        dl_tok_load(&t, g, &err)) {
        fprintf(stderr, "fuzz: tiny vocabulary: %s\n", err.msg);
        __builtin_trap();
    }
    dl_gguf_close(g);
    free(buf);
    return t;
}

/* Loaded on first use and kept for the process: LeakSanitizer sees them through the
 * statics. */
static dl_tok *qwen, *tiny;

const dl_tok *fuzz_qwen_tok(void) {
    if (!qwen)
        qwen = load_qwen();
    return qwen;
}

const dl_tok *fuzz_tiny_tok(void) {
    if (!tiny)
        tiny = load_tiny();
    return tiny;
}
