/* tok_fixture.h - test helpers: vocabularies built in memory or parsed from Hugging Face
 * files (vocab.json, merges.txt, tokenizer_config.json), written to a GGUF with the
 * project's writer, and loaded back as a dl_tok. */
#ifndef TOK_FIXTURE_H
#define TOK_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include <check.h>
#include <string.h>

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

/* The test data folder ($DIFFLM_SHARED, else $DIFFLM_SRCDIR/tests/tok, which holds
 * data/tokenizers) joined with rel into buf; returns buf. */
const char *tf_shared_path(char *buf, size_t cap, const char *rel);

/* A tokenizer file of the repository's data (rel as for tf_shared_path) parsed into v:
 * kind 0 a vocab.json, 1 a merges.txt, 2 a tokenizer_config.json's added tokens.
 * Returns 0, or -1 with a line on stderr naming the file. */
int tf_parse_into(tf_vocab *v, const char *rel, int kind);
/* Dream-v0-Instruct-7B's vocabulary (Qwen2.5's, 151,667 entries) into v, and the
 * tokenizer keys its GGUF conversion carries (bos from tokenizer_config.json, mask from
 * config.json). */
int tf_load_dream_vocab(tf_vocab *v);
tf_keys tf_keys_dream(void);

/* Encodes s[0..n) into out (at most cap ids) and fails the running test on any error;
 * returns the number of ids. Header-only: it uses Check's assertions. */
static inline size_t enc(const dl_tok *t, const char *s, size_t n, uint32_t flags, int32_t *out,
                         size_t cap) {
    size_t n_out = 0;
    dl_err err = {0};
    int rc = dl_tok_encode(t, s, n, flags, out, cap, &n_out, &err);
    ck_assert_msg(rc == 0, "encode: %d %s", rc, err.msg);
    return n_out;
}

/* Asserts that text encodes (with flags) to exactly the ids given. */
#define CHECK_IDS(t, text, flags, ...)                                                  \
    do {                                                                                \
        const int32_t want_[] = {__VA_ARGS__};                                          \
        int32_t got_[256];                                                              \
        size_t n_ = enc(t, text, strlen(text), flags, got_, 256);                       \
        ck_assert_msg(n_ == sizeof want_ / sizeof want_[0], "\"%s\": %zu ids, want %zu", \
                      text, n_, sizeof want_ / sizeof want_[0]);                        \
        for (size_t i_ = 0; i_ < n_; i_++)                                              \
            ck_assert_msg(got_[i_] == want_[i_], "\"%s\"[%zu]: %d want %d", text, i_,    \
                          got_[i_], want_[i_]);                                         \
    } while (0)

#endif
