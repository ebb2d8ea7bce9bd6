/* tok_hf.h - what the Hugging Face loader's files share (tok_hf.c, tok_hf_pipeline.c). */
#ifndef DL_TOK_HF_H
#define DL_TOK_HF_H

#include <jansson.h>

#include "tok/tok_internal.h"

/* o[key] as a boolean: dflt when absent or null, E_FORMAT (naming `where`) otherwise. */
int dl_hf_bool(json_t *o, const char *key, int dflt, int *out, const char *where, dl_err *err);

/* tokenizer.json's normalizer, pre_tokenizer, post_processor and decoder into t (its
 * vocabulary already built). Returns 0, E_FORMAT, E_UNSUPPORTED (naming the type), E_NOMEM. */
int dl_hf_pipeline(dl_tok *t, json_t *root, const char *file, dl_err *err);

#endif
