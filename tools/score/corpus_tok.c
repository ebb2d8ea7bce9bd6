/* corpus_tok.c - the corpus's tokenizer over dl_tok (see corpus_tok.h). */
#include "corpus_tok.h"

static int tok_encode(void *user, const char *text, size_t len, int32_t *out, size_t cap,
                      size_t *n, score_err *err) {
    dl_err e;
    dl_err_clear(&e);
    int rc = dl_tok_encode(user, text, len, 0, out, cap, n, &e);
    if (rc != 0 && rc != DIFFLM_E_BUFFER_TOO_SMALL)
        return score_fail(err, rc, "%s", e.msg);
    return rc;
}

static int tok_decode(void *user, int32_t id, char *out, size_t cap, size_t *n,
                      score_err *err) {
    dl_err e;
    dl_err_clear(&e);
    int rc = dl_tok_decode(user, &id, 1, 0, out, cap, n, &e);
    if (rc != 0 && rc != DIFFLM_E_BUFFER_TOO_SMALL)
        return score_fail(err, rc, "%s", e.msg);
    return rc;
}

void score_tokenizer_from_tok(score_tokenizer *st, const dl_tok *t) {
    st->encode = tok_encode;
    st->decode = tok_decode;
    st->user = (void *)t;   /* only read through the const calls above */
    st->n_vocab = dl_tok_n_vocab(t);
    st->eos = dl_tok_specials(t)->eos;
}
