/* corpus_api.c - the corpus's tokenizer over difflm_tokenize / difflm_detokenize. */
#include "corpus_api.h"

static int api_encode(void *user, const char *text, size_t len, int32_t *out, size_t cap,
                      size_t *n, score_err *err) {
    difflm_ctx *ctx = user;
    int rc = difflm_tokenize(ctx, text, len, 0, out, cap, n);
    if (rc != DIFFLM_OK && rc != DIFFLM_E_BUFFER_TOO_SMALL)
        return score_fail(err, rc, "%s", difflm_last_error(ctx));
    return rc;
}

static int api_decode(void *user, int32_t id, char *out, size_t cap, size_t *n,
                      score_err *err) {
    difflm_ctx *ctx = user;
    int rc = difflm_detokenize(ctx, &id, 1, 0, out, cap, n);
    if (rc == DIFFLM_E_INVALID_ARG) {
        /* An id of the model's head past the tokenizer's vocabulary: tokenizing never
         * gives it, so it covers no bytes of any stream. */
        *n = 0;
        return DIFFLM_OK;
    }
    if (rc != DIFFLM_OK && rc != DIFFLM_E_BUFFER_TOO_SMALL)
        return score_fail(err, rc, "%s", difflm_last_error(ctx));
    return rc;
}

int score_tokenizer_from_ctx(score_tokenizer *t, difflm_ctx *ctx, score_err *err) {
    difflm_model_info info = { .struct_size = sizeof info };
    int rc = difflm_model_info_get(ctx, &info);
    if (rc != DIFFLM_OK)
        return score_fail(err, rc, "cannot describe the model: %s", difflm_last_error(ctx));
    t->encode = api_encode;
    t->decode = api_decode;
    t->user = ctx;
    t->n_vocab = info.n_vocab;
    t->eos = info.eos_id;
    return DIFFLM_OK;
}
