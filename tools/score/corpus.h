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

#include "difflm_internal.h"

/* Reads the whole file into a malloc'd buffer with a NUL after its *len bytes. */
int score_read_file(const char *path, char **text, size_t *len, dl_err *err);

typedef struct score_stream {
    int32_t *ids;       /* [n] */
    size_t n;
    size_t n_docs;
} score_stream;

int score_stream_build(score_stream *s, const dl_tok *t, const char *text, size_t len,
                       int split_docs, dl_err *err);
void score_stream_free(score_stream *s);   /* leaves *s empty; an empty one is fine */

/* lens: [n_vocab] out, the bytes of each token as decoded without specials (control
 * tokens such as EOS count 0). Byte-level BPE decodes token by token, so the bytes of a
 * span of the stream are the sum over its tokens. */
int score_token_bytes(uint32_t *lens, const dl_tok *t, dl_err *err);

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
