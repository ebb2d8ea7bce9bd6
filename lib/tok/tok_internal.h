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

/* Pre-tokenizer rule sets a GGUF tokenizer.ggml.pre name selects (doc/formats.md,
 * "Pre-tokenizer rules"); each becomes a pipeline of the steps below. */
enum dl_pre_type {
    DL_PRE_DEFAULT = 0,
    DL_PRE_GPT2 = 1,
    DL_PRE_LLAMA3 = 2,
    DL_PRE_QWEN2 = 3,
    DL_PRE_BAILING = 4,         /* Ling / Bailing (LLaDA-MoE, LLaDA2): single digits */
};

/* Normalizers (Hugging Face "normalizer"), applied in order. */
enum dl_unorm_kind {
    DL_UNORM_NFC = 1,
    DL_UNORM_NFD = 2,
    DL_UNORM_NFKC = 3,
    DL_UNORM_NFKD = 4,
};

/* Pre-tokenizer steps (Hugging Face "pre_tokenizer"): each re-splits every piece the
 * step before it produced. */
enum dl_pre_kind {
    DL_PK_SPLIT = 1,       /* regex or literal pattern, with a delimiter behaviour */
    DL_PK_DIGITS = 2,      /* numeric characters: each alone, or runs */
    DL_PK_PREFIX = 3,      /* ByteLevel's add_prefix_space: a space before each piece not starting with one */
};

/* Split's delimiter behaviours (what happens to the matches). */
enum dl_split_beh {
    DL_SPLIT_ISOLATED = 0,
    DL_SPLIT_REMOVED = 1,
    DL_SPLIT_MERGED_PREV = 2,
    DL_SPLIT_MERGED_NEXT = 3,
    DL_SPLIT_CONTIGUOUS = 4,
};

/* Regexes with a hand-written matcher over utf8proc's Unicode tables (pretok_scan.c). */
enum dl_scan_kind {
    DL_SCAN_NONE = 0,
    DL_SCAN_GPT2 = 1,
    DL_SCAN_LLAMA3 = 2,
    DL_SCAN_QWEN2 = 3,
};

typedef struct dl_pre_step {
    uint8_t kind;          /* enum dl_pre_kind */
    uint8_t behavior;      /* enum dl_split_beh (SPLIT) */
    uint8_t invert;        /* SPLIT: the non-matches are the delimiters */
    uint8_t individual;    /* DIGITS: one piece per digit */
    uint8_t scan;          /* SPLIT: enum dl_scan_kind, else the pattern is re or lit */
    void *re;              /* pcre2_code_8 * (kept opaque so pcre2.h stays in pretok.c) */
    char *lit;             /* literal pattern (String), NULL for a regex */
    size_t lit_n;
} dl_pre_step;

#define DL_PRETOK_MAX_STEPS 8
#define DL_UNORM_MAX 8

typedef struct dl_pretok {
    int n_step;
    dl_pre_step step[DL_PRETOK_MAX_STEPS];
    int n_norm;
    uint8_t norm[DL_UNORM_MAX];   /* enum dl_unorm_kind, applied in order */
} dl_pretok;

/* Added-token attributes (Hugging Face AddedToken), tok->attr. */
enum dl_tok_attr {
    DL_TOKA_LSTRIP = 1,        /* the match takes the whitespace before it */
    DL_TOKA_RSTRIP = 2,        /* ... and after it */
    DL_TOKA_SINGLE_WORD = 4,   /* matches only between non-word characters */
    DL_TOKA_NORMALIZED = 8,    /* matched in the normalized text (else in the raw text) */
};

/* One (left, right) -> merged entry of the merge table. */
typedef struct dl_merge_slot {
    uint64_t key;      /* left << 32 | right; DL_MERGE_EMPTY when the slot is free */
    int32_t rank;      /* line in tokenizer.ggml.merges: lower merges first */
    int32_t result;    /* id of the token left+right */
} dl_merge_slot;

#define DL_MERGE_EMPTY UINT64_MAX

struct dl_tok {
    int32_t n_vocab;
    int32_t n_ids;               /* >= n_vocab: [n_vocab, n_ids) are ids past the files' tokens
                                    (an embedding wider than the tokenizer) that decode to
                                    nothing, as Hugging Face's decode skips them */
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

    uint8_t *attr;               /* [n_vocab] enum dl_tok_attr bits (added tokens) */
    int any_normalized;          /* some added token has DL_TOKA_NORMALIZED */

    int pre_type;                /* enum dl_pre_type (GGUF), or -1 (tokenizer.json) */
    int ignore_merges;           /* llama3: a piece that is a whole token skips merging */
    dl_pretok pretok;

    /* Post-processor (TemplateProcessing "single"): ids around the text when
     * DIFFLM_TOKENIZE_ADD_BOS is given; has_template 0 means just sp.bos. */
    int has_template;
    int32_t tmpl_pre[4], tmpl_post[4];
    int n_tmpl_pre, n_tmpl_post;

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

/* --- building (tok_build.c): the steps both loaders share. */

/* Allocates the vocabulary for n tokens whose texts total `total` bytes; every token
 * starts empty and DL_TOKT_UNUSED. */
int dl_tok_alloc_vocab(dl_tok *t, int32_t n, size_t total, dl_err *err);
/* Copies texts[i] (lens[i] bytes; NULL = a hole) into the blob, in id order. */
void dl_tok_fill_texts(dl_tok *t, const char *const *texts, const size_t *lens);
/* Text map over the BPE tokens and the byte tokens (what = the key, for messages). */
int dl_tok_build_text_map(dl_tok *t, const char *what, dl_err *err);
/* Merge table for up to n merges; then dl_tok_add_merge per merge, in rank order. */
int dl_tok_merges_begin(dl_tok *t, size_t n, dl_err *err);
/* Adds left+right at `rank` (silently skipped when a half or the result is not a BPE
 * token: such a merge can never fire). *joined / *joined_cap: caller's scratch. */
int dl_tok_add_merge(dl_tok *t, const char *l, size_t nl, const char *r, size_t nr, int32_t rank,
                     char **joined, size_t *joined_cap, dl_err *err);
/* Special-token table, decode table, chat style (after the vocabulary and types). */
int dl_tok_finish(dl_tok *t, dl_err *err);
/* First id whose text is exactly s[0..n), or -1 (a linear scan). */
int32_t dl_tok_find_text(const dl_tok *t, const char *s, size_t n);

/* --- pre-tokenizer (pretok.c) */

/* Maps a tokenizer.ggml.pre name to a rule set; -1 if unknown. Sets *ignore_merges. */
int dl_pretok_type_from_name(const char *name, size_t n, int *ignore_merges);
/* The pipeline of a GGUF rule set (normalizer included: qwen2 is NFC). */
int dl_pretok_init(dl_pretok *p, int pre_type, dl_err *err);
/* Appends a Split step: regex (lit == NULL; a known regex text gets its scanner) or literal. */
int dl_pretok_add_split(dl_pretok *p, const char *pattern, size_t n, int is_regex, int behavior,
                        int invert, dl_err *err);
int dl_pretok_add_step(dl_pretok *p, const dl_pre_step *s, dl_err *err);
void dl_pretok_free(dl_pretok *p);

typedef int (*dl_piece_fn)(void *user, const uint8_t *p, size_t n);

/* Splits valid UTF-8 s[0..n) by the step list, calling fn on each piece in order (a
 * non-zero return from fn stops and is returned). The caller guarantees validity.
 * Returns 0, fn's status, E_NOMEM or E_INTERNAL (a regex engine failure). */
int dl_pretok_split(const dl_pretok *p, const uint8_t *s, size_t n, dl_piece_fn fn, void *user,
                    dl_err *err);

/* Splits any bytes s[0..n): maximal valid UTF-8 runs go through dl_pretok_split and
 * each byte that starts no valid character goes alone to on_invalid (NULL: skipped),
 * in text order. Returns as dl_pretok_split (or on_invalid's status). */
int dl_pretok_split_bytes(const dl_pretok *p, const uint8_t *s, size_t n, dl_piece_fn fn,
                          dl_piece_fn on_invalid, void *user, dl_err *err);

/* --- built-in regex scanners (pretok_scan.c) */

/* The scanner for a regex text Hugging Face files use, or DL_SCAN_NONE. */
int dl_scan_from_regex(const char *pattern, size_t n);
/* Length of the match of scanner `kind` at s[pos..n) (valid UTF-8), 0 if none matches
 * there (the regexes never match empty text). */
size_t dl_scan_match(int kind, const uint8_t *s, size_t n, size_t pos);

/* --- Unicode (unicode.c, utf8proc's tables) */

int dl_uni_is_letter(uint32_t cp);     /* General_Category L* */
int dl_uni_is_number(uint32_t cp);     /* N* */
int dl_uni_is_space(uint32_t cp);      /* White_Space (regex \s, Rust is_whitespace) */
int dl_uni_is_word(uint32_t cp);       /* letter, number, mark or '_' (single_word) */
/* Normalizes valid UTF-8 s[0..n) by p's normalizers into a dl_malloc'd *out (*n_out
 * bytes). Returns 0, E_NOMEM or E_INTERNAL. */
int dl_normalize(const dl_pretok *p, const uint8_t *s, size_t n, uint8_t **out, size_t *n_out,
                 dl_err *err);

#endif
