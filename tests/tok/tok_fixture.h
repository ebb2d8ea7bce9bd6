/* tok_fixture.h - test helpers: vocabularies built in memory or parsed from Hugging Face
 * files (vocab.json, merges.txt, tokenizer_config.json), written to a GGUF with the
 * project's writer, and loaded back as a dl_tok. */
#ifndef TOK_FIXTURE_H
#define TOK_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "tok/tok.h"

typedef struct tf_vocab {
    char **tok;          /* [n] NUL-terminated copies (NULL = hole) */
    size_t *len;         /* [n] byte lengths (texts may hold NUL) */
    int32_t *type;       /* [n] enum dl_tok_type */
    size_t n, cap;
    char **merge;        /* [n_merges] "left right" */
    size_t n_merges, merge_cap;
} tf_vocab;

/* Sets token `id` (growing the table; holes stay NULL). Returns 0 or -1 (OOM, or the
 * id already set). */
int tf_vocab_set(tf_vocab *v, size_t id, const char *s, size_t n, int32_t type);
/* Appends token text s at the next id; returns the id. */
int32_t tf_vocab_push(tf_vocab *v, const char *s, int32_t type);
int tf_vocab_merge(tf_vocab *v, const char *s, size_t n);
void tf_vocab_free(tf_vocab *v);

/* GPT-2's byte alphabet, computed the slow way straight from its definition. */
void tf_byte_char(uint8_t b, char out[3]);   /* NUL-terminated UTF-8 */

typedef struct tf_keys {
    const char *model;       /* NULL = omit the key */
    const char *pre;         /* NULL = omit */
    int64_t bos, eos, mask, pad, eot;   /* -2 = omit */
    int add_bos;             /* -1 = omit */
    int with_types, with_merges;
} tf_keys;

tf_keys tf_keys_default(const char *pre);

/* Writes v and k into a GGUF file image in a malloc'd buffer. */
int tf_build_gguf(const tf_vocab *v, const tf_keys *k, void **buf, size_t *size, dl_err *err);

/* Writes v and k into a GGUF buffer (malloc'd), opens it, loads the tokenizer, closes
 * the file and frees the buffer (the tokenizer must not need either afterwards). */
int tf_load(dl_tok **t, const tf_vocab *v, const tf_keys *k, dl_err *err);

/* Whole file into a malloc'd buffer; -1 if it cannot be read. */
int tf_read_file(const char *path, char **data, size_t *n);
/* A flat JSON object of "token": id (vocab.json, added_tokens.json). types[] gets `type`. */
int tf_json_vocab(const char *json, size_t n, tf_vocab *v, int32_t type);
/* tokenizer_config.json's added_tokens_decoder: CONTROL if "special": true, else
 * USER_DEFINED. */
int tf_json_added_tokens(const char *json, size_t n, tf_vocab *v);
/* merges.txt: one "left right" per line, a leading "#version" line skipped. */
int tf_merges_txt(const char *txt, size_t n, tf_vocab *v);

/* The shared data folder ($DIFFLM_SHARED, else $DIFFLM_SRCDIR/../shared) joined with
 * rel into buf; returns buf. */
const char *tf_shared_path(char *buf, size_t cap, const char *rel);

#endif
