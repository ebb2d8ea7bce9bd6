/* tok_internal.h - the tokenizer's private state and the pieces the tok_*.c files share.
 *
 * Token ids are int32_t throughout. Every token text lives in one blob (`text`, indexed by
 * `text_off`); the bytes each token decodes to live in a second blob (`dec`), computed once
 * at load so decoding is a copy. */
#ifndef DL_TOK_INTERNAL_H
#define DL_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tok/tok.h"

/* Pre-tokenizer rule sets (doc/formats.md, "Pre-tokenizer rules"). */
enum dl_pre_type {
    DL_PRE_DEFAULT = 0,
    DL_PRE_GPT2 = 1,
    DL_PRE_LLAMA3 = 2,
    DL_PRE_QWEN2 = 3,
};

#define DL_PRETOK_MAX_RE 4

/* Compiled split rules: a list of regexes, each re-splitting the pieces of the previous. */
typedef struct dl_pretok {
    int n_re;
    void *re[DL_PRETOK_MAX_RE];   /* pcre2_code_8 * (kept opaque so pcre2.h stays in pretok.c) */
} dl_pretok;

/* One (left, right) -> merged entry of the merge table. */
typedef struct dl_merge_slot {
    uint64_t key;      /* left << 32 | right; DL_MERGE_EMPTY when the slot is free */
    int32_t rank;      /* line in tokenizer.ggml.merges: lower merges first */
    int32_t result;    /* id of the token left+right */
} dl_merge_slot;

#define DL_MERGE_EMPTY UINT64_MAX

struct dl_tok {
    int32_t n_vocab;
    char *text;                  /* every token's text back to back */
    uint32_t *text_off;          /* [n_vocab + 1] */
    uint8_t *type;               /* [n_vocab] enum dl_tok_type */
    char *dec;                   /* what each token decodes to, back to back */
    uint32_t *dec_off;           /* [n_vocab + 1] */

    /* Open-addressing map text -> id over the tokens BPE may produce (NORMAL, BYTE,
     * UNKNOWN): control and user-defined tokens come only from special-token parsing. */
    int32_t *bpe_slots;          /* [bpe_mask + 1], -1 = free */
    uint32_t bpe_mask;

    dl_merge_slot *merge_slots;  /* [merge_mask + 1] */
    uint32_t merge_mask;
    int32_t n_merges;            /* merges kept (those whose three tokens exist) */

    int32_t byte_tok[256];       /* token of each raw byte */

    /* Tokens matched literally under DIFFLM_TOKENIZE_PARSE_SPECIAL, sorted by first byte,
     * then longest first, so the first hit in a bucket is the longest match. */
    int32_t *special_ids;
    uint32_t special_start[257]; /* bucket of first byte b: [special_start[b], special_start[b+1]) */

    int pre_type;                /* enum dl_pre_type */
    int ignore_merges;           /* llama3: a piece that is a whole token skips merging */
    dl_pretok pretok;

    dl_tok_special sp;
    int chat_style;              /* enum dl_chat_style */
    struct dl_jinja *chat_tpl;   /* the model's chat template, compiled (tok_chat.c) */
    int chat_tpl_status;         /* non-zero: a template that did not compile ... */
    char *chat_tpl_msg;          /* ... and why: dl_tok_chat fails with these */
};

static inline const char *dl_tok_text(const dl_tok *t, int32_t id, size_t *n) {
    *n = t->text_off[id + 1] - t->text_off[id];
    return t->text + t->text_off[id];
}

/* --- byte <-> unicode (bytes_unicode.c): GPT-2's reversible byte alphabet. */

/* Writes the UTF-8 form of byte b's stand-in character to out[0..2); returns its length. */
int dl_byte_to_utf8(char out[2], uint8_t b);
/* The byte a code point stands for, or -1 when it is not in the alphabet. */
int dl_unicode_to_byte(uint32_t cp);

/* Decodes one strictly valid UTF-8 character (RFC 3629: no overlongs, no surrogates,
 * at most U+10FFFF) at s[0..n). Returns its length (1..4) and sets *cp, or 0 if the
 * bytes there are not a valid character. */
int dl_utf8_next(const uint8_t *s, size_t n, uint32_t *cp);

/* --- maps (tok_maps.c) */

uint64_t dl_tok_hash_bytes(const void *p, size_t n);
/* Id of the BPE-producible token with exactly this text, or -1. */
int32_t dl_tok_find_bpe(const dl_tok *t, const char *s, size_t n);
/* Inserts id (keyed by its text) unless that text is already present. */
void dl_tok_bpe_insert(dl_tok *t, int32_t id);
/* Merge table lookup: returns the slot for (left, right) or NULL. */
const dl_merge_slot *dl_tok_find_merge(const dl_tok *t, int32_t left, int32_t right);
/* Inserts unless the pair is present (the earlier, lower rank wins). */
void dl_tok_merge_insert(dl_tok *t, int32_t left, int32_t right, int32_t rank, int32_t result);
/* Power-of-two slot count giving a load factor of at most one half. */
int dl_tok_table_size(size_t n_keys, uint32_t *mask);

/* --- output sink: counts every id, stores only those that fit. */
typedef struct dl_idsink {
    int32_t *out;
    size_t cap;
    size_t n;
} dl_idsink;

static inline void dl_idsink_put(dl_idsink *s, int32_t id) {
    if (s->n < s->cap) s->out[s->n] = id;
    s->n++;
}

/* --- BPE (bpe.c). Scratch grows on demand and is reused across the pieces of one call. */
typedef struct dl_bpe_sym {
    int32_t id;
    int32_t prev, next;          /* -1 at the ends; a merged-away symbol has id -1 */
} dl_bpe_sym;

typedef struct dl_bpe_cand {
    int32_t rank;
    int32_t left, right;         /* symbol indices */
    int32_t left_id, right_id;   /* ids when queued: a stale candidate no longer matches */
} dl_bpe_cand;

typedef struct dl_bpe_scratch {
    dl_bpe_sym *sym;
    dl_bpe_cand *heap;
    char *u8;                    /* the piece in the byte alphabet (ignore_merges lookup) */
    size_t cap;                  /* sym capacity; heap holds 3 * cap, u8 2 * cap */
    size_t n_heap;
} dl_bpe_scratch;

void dl_bpe_scratch_free(dl_bpe_scratch *s);

/* Tokenizes one pre-token piece (raw bytes p[0..n)) by merge rank with a priority queue,
 * appending ids to out. Returns 0 or E_NOMEM. */
int dl_bpe_piece(dl_idsink *out, const dl_tok *t, const uint8_t *p, size_t n,
                 dl_bpe_scratch *s, dl_err *err);
/* The naive twin: rescans every adjacent pair for the lowest rank after each merge
 * (O(n^2)); tests compare it with dl_bpe_piece. Ignores ignore_merges. */
int dl_bpe_piece_naive(dl_idsink *out, const dl_tok *t, const uint8_t *p, size_t n, dl_err *err);

/* --- pre-tokenizer (pretok.c) */

/* Maps a tokenizer.ggml.pre name to a rule set; -1 if unknown. Sets *ignore_merges. */
int dl_pretok_type_from_name(const char *name, size_t n, int *ignore_merges);
int dl_pretok_init(dl_pretok *p, int pre_type, dl_err *err);
void dl_pretok_free(dl_pretok *p);

typedef int (*dl_piece_fn)(void *user, const uint8_t *p, size_t n);

/* Splits valid UTF-8 s[0..n) by the rule list, calling fn on each piece in order (a
 * non-zero return from fn stops and is returned). The caller guarantees validity: the
 * regexes run without PCRE2's own UTF check. Returns 0, fn's status, E_NOMEM or
 * E_INTERNAL (a regex engine failure). */
int dl_pretok_split(const dl_pretok *p, const uint8_t *s, size_t n, dl_piece_fn fn, void *user,
                    dl_err *err);

/* Splits any bytes s[0..n): PCRE2 needs valid UTF-8, so maximal valid runs go through
 * dl_pretok_split and each byte that starts no valid character goes alone to on_invalid
 * (NULL: skipped), in text order. Returns as dl_pretok_split (or on_invalid's status). */
int dl_pretok_split_bytes(const dl_pretok *p, const uint8_t *s, size_t n, dl_piece_fn fn,
                          dl_piece_fn on_invalid, void *user, dl_err *err);

#endif
