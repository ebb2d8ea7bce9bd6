/* bpe_train.h - byte-level BPE training for difflm-train-tokenizer.
 *
 * Three steps, one file each:
 *   1. bpet_pieces (pieces.c): text is cut into pre-token pieces by the SAME rules the
 *      library applies at inference (lib/tok's dl_pretok_split_bytes: invalid UTF-8 is cut
 *      into single bytes), and identical pieces are counted once with a
 *      frequency. Merges never cross a piece boundary, so this is all training needs.
 *   2. bpet_train (merge.c): starting from the 256 byte tokens, repeatedly merges the most
 *      frequent adjacent pair. bpet_train_naive (merge_naive.c) is its slow twin that
 *      recounts every pair after every merge; tests require identical results.
 *   3. bpet_gguf_writer (gguf_out.c): the vocabulary as a tokenizer-only GGUF file in the
 *      form of real llada models (gpt2 model, llama-bpe pre-tokenizer, specials first).
 *
 * Tokens are byte strings here. Internal id t < 256 is byte t; ids from 256 on are merged
 * tokens in creation order. The GGUF file puts the BPET_N_SPECIAL special tokens first,
 * so file id = internal id + BPET_N_SPECIAL.
 *
 * Which pair wins: the highest count; among equal counts, the pair whose left token's
 * bytes sort first (memcmp order, a prefix before its extensions), then the right
 * token's. The result does not depend on hash-table layout or input order of pieces. */
#ifndef DL_BPE_TRAIN_H
#define DL_BPE_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "difflm_internal.h"

/* --- 1. piece counts */

typedef struct bpet_pieces {
    uint8_t *bytes;        /* every distinct piece back to back */
    size_t n_bytes, cap_bytes;
    size_t *off;           /* [n + 1]: piece i is bytes[off[i] .. off[i+1]) */
    int64_t *count;        /* [n] occurrences */
    size_t n, cap;
    int32_t *slots;        /* open addressing by content, -1 = free; [mask + 1] */
    uint32_t mask;
    int64_t total_bytes;   /* bytes of text counted (pieces and skipped bytes) */
} bpet_pieces;

void bpet_pieces_init(bpet_pieces *p);   /* empty; allocates on first add */
void bpet_pieces_free(bpet_pieces *p);
/* Adds `count` occurrences of the piece s[0..n) (n >= 1). Returns 0 or E_NOMEM. */
int bpet_pieces_add(bpet_pieces *p, const uint8_t *s, size_t n, int64_t count, dl_err *err);
/* Pre-tokenizes text s[0..n) (any bytes) with `rules` and adds every piece. A byte that
 * starts no valid UTF-8 character is a piece of its own at inference and so can never
 * merge: it is counted in total_bytes only. Returns 0, E_NOMEM or E_INTERNAL. */
int bpet_pieces_add_text(bpet_pieces *p, const dl_pretok *rules, const uint8_t *s, size_t n,
                         dl_err *err);

/* --- 2. merges */

typedef struct bpet_merge {
    int32_t left, right;   /* internal ids */
    int32_t result;        /* internal id of left+right (an older token when the bytes
                            * were already made by another merge) */
    int64_t count;         /* pair occurrences when it was chosen (for logs and tests) */
} bpet_merge;

typedef struct bpet_vocab {
    uint8_t *bytes;        /* token i is bytes[off[i] .. off[i+1]) */
    size_t *off;           /* [n_tokens + 1] */
    int32_t n_tokens;      /* 256 + merged tokens */
    bpet_merge *merges;    /* [n_merges], in rank order */
    int32_t n_merges;
} bpet_vocab;

typedef struct bpet_params {
    int32_t max_tokens;    /* stop when the vocabulary (bytes + merged) reaches this */
    int64_t min_count;     /* stop when the best pair occurs fewer times (>= 1) */
} bpet_params;

/* Learns merges from the counted pieces. *v is overwritten (free with bpet_vocab_free).
 * Stops early, without error, when no pair occurs min_count times. Returns 0,
 * E_INVALID_ARG (max_tokens < 256, min_count < 1) or E_NOMEM. */
int bpet_train(bpet_vocab *v, const bpet_pieces *p, const bpet_params *prm, dl_err *err);
/* The naive twin: recounts all pairs of all pieces after each merge. Same contract. */
int bpet_train_naive(bpet_vocab *v, const bpet_pieces *p, const bpet_params *prm, dl_err *err);
void bpet_vocab_free(bpet_vocab *v);

/* --- shared by the two trainers (vocab.c) */

/* The 256 single-byte tokens and room for max_tokens. */
int bpet_vocab_start(bpet_vocab *v, int32_t max_tokens, dl_err *err);
/* Records merge (left, right) with `count`: reuses the token whose bytes are left+right
 * when one exists, otherwise appends one. Sets *result. Returns 0 or E_NOMEM. */
int bpet_vocab_merge(bpet_vocab *v, int32_t left, int32_t right, int64_t count, int32_t *result,
                     dl_err *err);
/* < 0, 0, > 0 as pair (l1, r1) should be chosen before (l2, r2) on equal counts. */
int bpet_pair_order(const bpet_vocab *v, int32_t l1, int32_t r1, int32_t l2, int32_t r2);

/* --- 3. GGUF */

/* Special tokens, file ids 0..5, all CONTROL. */
enum {
    BPET_BOS = 0,          /* <|startoftext|> */
    BPET_EOS = 1,          /* <|endoftext|>, also the padding token */
    BPET_START_HDR = 2,    /* <|start_header_id|> */
    BPET_END_HDR = 3,      /* <|end_header_id|> */
    BPET_EOT = 4,          /* <|eot_id|>, end of turn */
    BPET_MASK = 5,         /* <|mdm_mask|> */
    BPET_N_SPECIAL = 6,
};

/* Builds the writer holding the tokenizer.* keys and general.name = `name` (no
 * general.architecture: the file holds no model). Returns 0, E_NOMEM or E_INVALID_ARG. */
int bpet_gguf_writer(dl_gguf_writer **out, const bpet_vocab *v, const char *name, dl_err *err);

#endif
