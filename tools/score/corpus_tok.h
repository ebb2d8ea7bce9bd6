/* corpus_tok.h - the corpus's tokenizer (corpus.h) over the tokenizer tables alone, for
 * difflm-bigram (a tokenizer GGUF without weights) and the tests. */
#ifndef SCORE_CORPUS_TOK_H
#define SCORE_CORPUS_TOK_H

#include "difflm_internal.h"
#include "corpus.h"

/* Fills *st to tokenize with t (borrowed: it must outlive *st). */
void score_tokenizer_from_tok(score_tokenizer *st, const dl_tok *t);

#endif
