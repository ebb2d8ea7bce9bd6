/* corpus.h - turning a text file into the token stream the scorers walk, and cutting
 * that stream into model-sized windows.
 *
 * Documents (split_docs): a document is a maximal run of non-blank lines (a blank line
 * is empty or holds only CRs), taken without its final newline and trailing CRs. Each
 * is tokenized on its own and followed by EOS, as in the trainer's token stream
 * (tools/train/data.c): the separator (newline + blank lines), or the end of the file,
 * becomes one EOS. Without split_docs the whole text is tokenized as one piece and no
 * EOS is added. Text is never parsed for special tokens. */
#ifndef SCORE_CORPUS_H
#define SCORE_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "score_err.h"

/* The tokenizer the stream is cut with, as the tool has it: the public API's
 * (difflm-score, corpus_api.c) or the tokenizer tables alone (difflm-bigram, which needs
 * no weights). encode tokenizes text[0..len) without BOS or specials into out[0..cap):
 * returns DIFFLM_OK with *n ids, DIFFLM_E_BUFFER_TOO_SMALL with *n = ids needed, or
 * another status with the detail in *err. decode gives the bytes of one token without
 * specials (control tokens: 0 bytes) into out[0..cap): DIFFLM_OK or
 * DIFFLM_E_BUFFER_TOO_SMALL with *n = the bytes (needed), another status on failure. */
typedef struct score_tokenizer {
    int (*encode)(void *user, const char *text, size_t len, int32_t *out, size_t cap,
                  size_t *n, score_err *err);
    int (*decode)(void *user, int32_t id, char *out, size_t cap, size_t *n, score_err *err);
    void *user;
    int32_t n_vocab;
    int32_t eos;        /* -1 when there is none */
} score_tokenizer;

/* Reads the whole file into a malloc'd buffer with a NUL after its *len bytes. */
int score_read_file(const char *path, char **text, size_t *len, score_err *err);

typedef struct score_stream {
    int32_t *ids;       /* [n] */
    size_t n;
    size_t n_docs;
} score_stream;

int score_stream_build(score_stream *s, const score_tokenizer *t, const char *text, size_t len,
                       int split_docs, score_err *err);
void score_stream_free(score_stream *s);   /* leaves *s empty; an empty one is fine */

/* lens: [n_vocab] out, the bytes of each token as decoded without specials (control
 * tokens such as EOS count 0). Byte-level BPE decodes token by token, so the bytes of a
 * span of the stream are the sum over its tokens. */
int score_token_bytes(uint32_t *lens, const score_tokenizer *t, score_err *err);

/* Consecutive windows over stream[first..n): window j scores stream[first + j*body ..
 * first + (j+1)*body) (the last one may be shorter). first is 1 when the model needs a
 * token before the answer and has no prompt: that token is then borrowed from the stream
 * (the one just before each window), so every token but the very first is scored. */
typedef struct score_windows {
    size_t n;           /* stream length */
    size_t first;       /* 0 or 1 */
    size_t body;        /* >= 1 */
    size_t count;       /* number of windows */
} score_windows;

void score_windows_plan(score_windows *w, size_t n, size_t body, int borrow_context);
/* Start and length of window j < count. */
void score_window_at(const score_windows *w, size_t j, size_t *start, size_t *len);
/* The j-th of `take` windows spread evenly over all of them: floor(j * count / take). */
size_t score_window_pick(const score_windows *w, size_t j, size_t take);
/* How many windows a --max-windows limit scores (0: all). */
size_t score_windows_take(const score_windows *w, int64_t max_windows);

/* Bytes of ids[start .. start+len) (lens from score_token_bytes). */
size_t score_span_bytes(const uint32_t *lens, const int32_t *ids, size_t start, size_t len);

#endif
