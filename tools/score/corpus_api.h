/* corpus_api.h - the corpus's tokenizer (corpus.h) over a context of the public API. */
#ifndef SCORE_CORPUS_API_H
#define SCORE_CORPUS_API_H

#include "difflm.h"
#include "corpus.h"

/* Fills *t to tokenize with ctx (borrowed: it must outlive *t). Fails with E_INVALID_ARG
 * when the model cannot be described. */
int score_tokenizer_from_ctx(score_tokenizer *t, difflm_ctx *ctx, score_err *err);

#endif
