/* test_train_tokenizer.c - BPE training (tools/train_tokenizer) and the
 * difflm-train-tokenizer tool: piece counting with the library's pre-tokenizer, the
 * incremental trainer against its naive twin, merge order and tie-breaks on crafted
 * corpora, the GGUF form (loaded back through lib/tok, round trips), compression growing
 * with the vocabulary, determinism of the tool's output, and its errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_compat.h"
#include "tools/train_tokenizer/bpe_train.h"

/* --- corpora */

/* English-like prose: a handful of sentences recombined by a fixed LCG, each naming a
 * place made of 1-3 random syllables, so words and pairs have a Zipf-ish spread with a
 * long tail; blank lines between paragraphs, as in train.txt. */
static char *make_prose(size_t n_sentences, uint32_t seed, size_t *len) {
    static const char *const subj[] = {"The shepherd", "A river", "Their king", "My soul",
                                       "The old city", "His servants", "Every morning", "The wind"};
    static const char *const verb[] = {"walked through", "sang of", "waited for", "remembered",
                                       "looked upon", "gathered", "praised", "forgot"};
    static const char *const obj[] = {"the green hills", "a quiet valley", "the morning light",
                                      "his brother's house", "the stars", "bread and wine",
                                      "the long road", "1,024 sheep"};
    static const char *const syl[] = {"ka", "lo", "mi", "ra", "zen", "tor", "bel", "ith",
                                      "un", "se", "dra", "gul", "phe", "ny", "os", "ar"};
    static const char *const end[] = {".", "!", ";", ", and rested.", "?", ": \xe2\x80\x9cyes.\xe2\x80\x9d"};
    size_t cap = n_sentences * 128 + 1, n = 0;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    uint32_t x = seed;
    for (size_t i = 0; i < n_sentences; i++) {
        x = x * 1664525u + 1013904223u;
        uint32_t y = x * 22695477u + 1u;
        char place[16];
        int k = snprintf(place, sizeof place, "%s%s%s", syl[y >> 28], (y >> 27) & 1 ? syl[(y >> 20) & 15] : "",
                         (y >> 26) & 1 ? syl[(y >> 16) & 15] : "");
        ck_assert(k > 0 && (size_t)k < sizeof place);
        place[0] = (char)(place[0] - 'a' + 'A');
        k = snprintf(s + n, cap - n, "%s %s %s near %s%s%s", subj[(x >> 8) % 8], verb[(x >> 12) % 8],
                     obj[(x >> 16) % 8], place, end[(x >> 20) % 6],
                     (x >> 28) == 0 ? "\n\n" : (x >> 27) == 1 ? "\n" : " ");
        ck_assert(k > 0 && (size_t)k < cap - n);
        n += (size_t)k;
    }
    *len = n;
    return s;
}

/* Random words over a 3-letter alphabet: many equal counts (ties), and training runs
 * until every piece is one token. */
static char *make_small_alphabet(size_t n_words, uint32_t seed, size_t *len) {
    char *s = malloc(n_words * 9 + 1);
    ck_assert_ptr_nonnull(s);
    size_t n = 0;
    uint32_t x = seed;
    for (size_t i = 0; i < n_words; i++) {
        x = x * 1664525u + 1013904223u;
        size_t wl = 1 + (x >> 29);
        for (size_t j = 0; j < wl; j++) {
            x = x * 1664525u + 1013904223u;
            s[n++] = "abcb"[(x >> 24) % 4];
        }
        s[n++] = (x & 0x100) ? '\n' : ' ';
    }
    *len = n;
    return s;
}

/* --- helpers */

static void count_text(bpet_pieces *p, const char *text, size_t n) {
    dl_err err = {0};
    dl_pretok rules;
    ck_assert_int_eq(dl_pretok_init(&rules, DL_PRE_LLAMA3, &err), 0);
    bpet_pieces_init(p);
    ck_assert_msg(bpet_pieces_add_text(p, &rules, (const uint8_t *)text, n, &err) == 0, "%s", err.msg);
    dl_pretok_free(&rules);
}

static void train_text(bpet_vocab *v, const char *text, size_t n, int32_t vocab, int naive) {
    bpet_pieces p;
    count_text(&p, text, n);
    dl_err err = {0};
    bpet_params prm = {.max_tokens = vocab - BPET_N_SPECIAL, .min_count = 1};
    int rc = naive ? bpet_train_naive(v, &p, &prm, &err) : bpet_train(v, &p, &prm, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    bpet_pieces_free(&p);
}

static void *to_gguf(const bpet_vocab *v, size_t *n) {
    dl_err err = {0};
    dl_gguf_writer *w;
    ck_assert_msg(bpet_gguf_writer(&w, v, "test tokenizer", &err) == 0, "%s", err.msg);
    void *buf;
    ck_assert_msg(dl_gguf_writer_to_buffer(w, &buf, n, &err) == 0, "%s", err.msg);
    dl_gguf_writer_free(w);
    return buf;
}

typedef struct loaded {
    void *buf;
    dl_gguf *g;
    dl_tok *t;
} loaded;

static loaded load_vocab(const bpet_vocab *v) {
    loaded l;
    size_t n;
    dl_err err = {0};
    l.buf = to_gguf(v, &n);
    ck_assert_msg(dl_gguf_open_mem(&l.g, l.buf, n, &err) == 0, "%s", err.msg);
    ck_assert_msg(dl_tok_load(&l.t, l.g, &err) == 0, "%s", err.msg);
    return l;
}

static void unload(loaded *l) {
    dl_tok_free(l->t);
    dl_gguf_close(l->g);
    free(l->buf);
}

/* Encodes, checks the exact round trip, returns the token count. */
static size_t encode_roundtrip(const dl_tok *t, const char *text, size_t n) {
    dl_err err = {0};
    int32_t *ids = malloc((n + 1) * sizeof *ids);
    char *back = malloc(n + 1);
    ck_assert(ids && back);
    size_t n_ids, n_back;
    ck_assert_msg(dl_tok_encode(t, text, n, 0, ids, n + 1, &n_ids, &err) == 0, "%s", err.msg);
    ck_assert_uint_le(n_ids, n);
    for (size_t i = 0; i < n_ids; i++) ck_assert_int_ge(ids[i], BPET_N_SPECIAL);   /* no special from text */
    ck_assert_msg(dl_tok_decode(t, ids, n_ids, 0, back, n + 1, &n_back, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(n_back, n);
    ck_assert(memcmp(back, text, n) == 0);
    free(ids);
    free(back);
    return n_ids;
}

static const char *merge_text(const dl_gguf *g, uint64_t i, size_t *n) {
    dl_str s;
    dl_err err = {0};
    ck_assert_msg(dl_gguf_arr_str(g, "tokenizer.ggml.merges", i, &s, &err) == 0, "%s", err.msg);
    *n = s.n;
    return s.p;
}

static void assert_merge(const dl_gguf *g, uint64_t i, const char *want) {
    size_t n;
    const char *s = merge_text(g, i, &n);
    ck_assert_msg(n == strlen(want) && memcmp(s, want, n) == 0, "merge %llu is '%.*s', want '%s'",
                  (unsigned long long)i, (int)n, s, want);
}

/* --- piece counting */

START_TEST(test_pieces_match_inference_split) {
    /* llama3 rules: a space leads a letter run, "\n\n" is one whitespace piece, an
     * invalid byte (0xFF) stands alone and is not a piece. */
    const char text[] = "Hello world\n\nHello it's\xff" "42";
    bpet_pieces p;
    count_text(&p, text, sizeof text - 1);
    static const struct { const char *s; int64_t count; } want[] = {
        {"Hello", 2}, {" world", 1}, {"\n\n", 1}, {" it", 1}, {"'s", 1}, {"42", 1},
    };
    ck_assert_uint_eq(p.n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < p.n; i++) {
        size_t n = p.off[i + 1] - p.off[i];
        ck_assert_msg(n == strlen(want[i].s) && memcmp(p.bytes + p.off[i], want[i].s, n) == 0,
                      "piece %zu is '%.*s'", i, (int)n, (const char *)p.bytes + p.off[i]);
        ck_assert_int_eq(p.count[i], want[i].count);
    }
    ck_assert_int_eq(p.total_bytes, (int64_t)(sizeof text - 1));
    bpet_pieces_free(&p);
}
END_TEST

START_TEST(test_pieces_table_growth) {
    /* thousands of distinct pieces force several rehashes; each keeps its count */
    bpet_pieces p;
    bpet_pieces_init(&p);
    dl_err err = {0};
    char buf[16];
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 5000; i++) {
            int n = snprintf(buf, sizeof buf, "w%d", i);
            ck_assert_int_eq(bpet_pieces_add(&p, (const uint8_t *)buf, (size_t)n, i + 1, &err), 0);
        }
    ck_assert_uint_eq(p.n, 5000);
    for (size_t i = 0; i < p.n; i++) ck_assert_int_eq(p.count[i], 3 * ((int64_t)i + 1));
    ck_assert_int_eq(bpet_pieces_add(&p, (const uint8_t *)"x", 0, 1, &err), DIFFLM_E_INVALID_ARG);
    bpet_pieces_free(&p);
}
END_TEST

/* --- merge order */

START_TEST(test_most_frequent_pair_first) {
    /* per piece " qjqjqj": (q,j) x3, (j,q) x2, (Ġ,q) x1; plus 5 pieces " zz" */
    char text[4096];
    size_t n = 0;
    for (int i = 0; i < 40; i++) n += (size_t)snprintf(text + n, sizeof text - n, " qjqjqj");
    for (int i = 0; i < 5; i++) n += (size_t)snprintf(text + n, sizeof text - n, " zz");
    bpet_vocab v;
    train_text(&v, text, n, 262 + 8, 0);
    ck_assert_int_ge(v.n_merges, 3);
    ck_assert_int_eq(v.merges[0].left, 'q');
    ck_assert_int_eq(v.merges[0].right, 'j');
    ck_assert_int_eq(v.merges[0].count, 120);
    ck_assert_int_eq(v.merges[0].result, 256);
    /* then (qj, qj) x2 per piece = 80 beats (Ġ, qj) x40 */
    ck_assert_int_eq(v.merges[1].left, 256);
    ck_assert_int_eq(v.merges[1].right, 256);
    ck_assert_int_eq(v.merges[1].count, 80);

    loaded l = load_vocab(&v);
    assert_merge(l.g, 0, "q j");
    assert_merge(l.g, 1, "qj qj");
    /* the file's ranks drive inference: the piece comes out as few tokens */
    ck_assert_uint_le(encode_roundtrip(l.t, " qjqjqj", 7), 3);
    unload(&l);
    bpet_vocab_free(&v);
}
END_TEST

START_TEST(test_ties_broken_by_bytes) {
    /* pieces "ab" and " cd" 10 times each: (a,b), (Ġ,c), (c,d) all count 10. Byte order
     * puts ' ' (0x20) first; then (" c", d) beats (a, b) for the same reason, and a
     * shorter left token ("a" vs "ab") would come before its extensions. */
    bpet_pieces p;
    bpet_pieces_init(&p);
    dl_err err = {0};
    ck_assert_int_eq(bpet_pieces_add(&p, (const uint8_t *)"ab", 2, 10, &err), 0);
    ck_assert_int_eq(bpet_pieces_add(&p, (const uint8_t *)" cd", 3, 10, &err), 0);
    for (int naive = 0; naive < 2; naive++) {
        bpet_vocab v;
        bpet_params prm = {.max_tokens = 300, .min_count = 1};
        ck_assert_int_eq(naive ? bpet_train_naive(&v, &p, &prm, &err) : bpet_train(&v, &p, &prm, &err), 0);
        ck_assert_int_eq(v.n_merges, 3);   /* then no pair is left */
        loaded l = load_vocab(&v);
        assert_merge(l.g, 0, "Ġ c");
        assert_merge(l.g, 1, "Ġc d");
        assert_merge(l.g, 2, "a b");
        unload(&l);
        ck_assert_int_lt(bpet_pair_order(&v, 'a', 'b', 'a', 'c'), 0);
        ck_assert_int_lt(bpet_pair_order(&v, 'a', 'z', v.merges[2].result, 'a'), 0);   /* "a" < "ab" */
        ck_assert_int_eq(bpet_pair_order(&v, 'a', 'b', 'a', 'b'), 0);
        bpet_vocab_free(&v);
    }
    bpet_pieces_free(&p);
}
END_TEST

START_TEST(test_counts_never_increase) {
    /* Only pairs with the new token gain, and they occur at most as often as the merge
     * that made it: the chosen counts form a non-increasing sequence. */
    size_t n;
    char *text = make_prose(3000, 7, &n);
    bpet_vocab v;
    train_text(&v, text, n, 700, 0);
    ck_assert_int_gt(v.n_merges, 100);
    for (int32_t i = 1; i < v.n_merges; i++) ck_assert_int_le(v.merges[i].count, v.merges[i - 1].count);
    bpet_vocab_free(&v);
    free(text);
}
END_TEST

/* --- fast vs naive */

static void assert_same_training(const char *text, size_t n, int32_t vocab, int *reused) {
    bpet_vocab fast, naive;
    train_text(&fast, text, n, vocab, 0);
    train_text(&naive, text, n, vocab, 1);
    ck_assert_int_eq(fast.n_tokens, naive.n_tokens);
    ck_assert_int_eq(fast.n_merges, naive.n_merges);
    for (int32_t i = 0; i < fast.n_merges; i++) {
        const bpet_merge *a = &fast.merges[i], *b = &naive.merges[i];
        ck_assert_msg(a->left == b->left && a->right == b->right && a->result == b->result && a->count == b->count,
                      "merge %d: fast (%d,%d)->%d x%lld, naive (%d,%d)->%d x%lld", i, a->left, a->right,
                      a->result, (long long)a->count, b->left, b->right, b->result, (long long)b->count);
    }
    ck_assert(memcmp(fast.off, naive.off, ((size_t)fast.n_tokens + 1) * sizeof *fast.off) == 0);
    ck_assert(memcmp(fast.bytes, naive.bytes, fast.off[fast.n_tokens]) == 0);
    size_t na, nb;
    void *ga = to_gguf(&fast, &na), *gb = to_gguf(&naive, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert(memcmp(ga, gb, na) == 0);
    *reused = fast.n_merges - (fast.n_tokens - 256);
    free(ga);
    free(gb);
    bpet_vocab_free(&fast);
    bpet_vocab_free(&naive);
}

START_TEST(test_fast_equals_naive_prose) {
    size_t n;
    char *text = make_prose(4000, 11, &n);
    int reused;
    assert_same_training(text, n, 900, &reused);
    free(text);
}
END_TEST

START_TEST(test_fast_equals_naive_small_alphabet) {
    size_t n;
    char *text = make_small_alphabet(3000, 5, &n);
    int reused;
    assert_same_training(text, n, 4000, &reused);
    free(text);
}
END_TEST

START_TEST(test_merge_respelling_reuses_token) {
    /* Merges (a,b), (ab,c), (b,c), then (a,bc): the last spells "abc" again. It keeps its
     * rank but maps to the existing token, and lib/tok accepts the file. */
    bpet_vocab v;
    dl_err err = {0};
    ck_assert_int_eq(bpet_vocab_start(&v, 300, &err), 0);
    int32_t ab, abc, bc, again;
    ck_assert_int_eq(bpet_vocab_merge(&v, 'a', 'b', 9, &ab, &err), 0);
    ck_assert_int_eq(bpet_vocab_merge(&v, ab, 'c', 8, &abc, &err), 0);
    ck_assert_int_eq(bpet_vocab_merge(&v, 'b', 'c', 7, &bc, &err), 0);
    ck_assert_int_eq(bpet_vocab_merge(&v, 'a', bc, 6, &again, &err), 0);
    ck_assert_int_eq(ab, 256);
    ck_assert_int_eq(abc, 257);
    ck_assert_int_eq(bc, 258);
    ck_assert_int_eq(again, abc);
    ck_assert_int_eq(v.n_tokens, 259);
    ck_assert_int_eq(v.n_merges, 4);
    /* a new token after the reuse is still appended correctly */
    int32_t cc;
    ck_assert_int_eq(bpet_vocab_merge(&v, 'c', 'c', 5, &cc, &err), 0);
    ck_assert_int_eq(cc, 259);
    ck_assert_uint_eq(v.off[260] - v.off[259], 2);
    ck_assert(memcmp(v.bytes + v.off[259], "cc", 2) == 0);
    ck_assert(memcmp(v.bytes + v.off[257], "abc", 3) == 0);
    loaded l = load_vocab(&v);
    assert_merge(l.g, 3, "a bc");
    ck_assert_int_eq(dl_tok_n_vocab(l.t), BPET_N_SPECIAL + 260);
    int32_t ids[4];
    size_t n_ids;
    ck_assert_int_eq(dl_tok_encode(l.t, "abc", 3, 0, ids, 4, &n_ids, &err), 0);
    ck_assert_uint_eq(n_ids, 1);
    ck_assert_int_eq(ids[0], BPET_N_SPECIAL + abc);
    unload(&l);
    bpet_vocab_free(&v);
}
END_TEST

/* --- the trained tokenizer through lib/tok */

START_TEST(test_gguf_form_and_roundtrip) {
    size_t n;
    char *text = make_prose(2000, 3, &n);
    bpet_vocab v;
    train_text(&v, text, n, 600, 0);
    ck_assert_int_eq(v.n_tokens, 600 - BPET_N_SPECIAL);
    loaded l = load_vocab(&v);
    dl_err err = {0};

    ck_assert_int_eq(dl_tok_n_vocab(l.t), 600);
    const dl_tok_special *sp = dl_tok_specials(l.t);
    ck_assert_int_eq(sp->bos, 0);
    ck_assert_int_eq(sp->eos, 1);
    ck_assert_int_eq(sp->eot, 4);
    ck_assert_int_eq(sp->mask, 5);
    ck_assert_int_eq(sp->pad, 1);
    ck_assert_int_eq(sp->add_bos, 1);
    ck_assert_int_eq(dl_tok_chat_style(l.t), DL_CHAT_LLAMA3);
    ck_assert_int_lt(dl_gguf_find_key(l.g, "general.architecture"), 0);
    dl_str s;
    ck_assert_int_eq(dl_gguf_get_str(l.g, "tokenizer.ggml.model", &s, &err), 0);
    ck_assert(s.n == 4 && memcmp(s.p, "gpt2", 4) == 0);
    ck_assert_int_eq(dl_gguf_get_str(l.g, "tokenizer.ggml.pre", &s, &err), 0);
    ck_assert(s.n == 9 && memcmp(s.p, "llama-bpe", 9) == 0);
    ck_assert_int_eq(dl_gguf_get_str(l.g, "general.name", &s, &err), 0);
    static const char *const specials[] = {"<|startoftext|>", "<|endoftext|>", "<|start_header_id|>",
                                           "<|end_header_id|>", "<|eot_id|>", "<|mdm_mask|>"};
    for (int i = 0; i < 6 + 256 + 1; i++) {
        int64_t type;
        ck_assert_int_eq(dl_gguf_arr_i64(l.g, "tokenizer.ggml.token_type", (uint64_t)i, &type, &err), 0);
        ck_assert_int_eq(type, i < 6 ? DL_TOKT_CONTROL : DL_TOKT_NORMAL);
        ck_assert_int_eq(dl_gguf_arr_str(l.g, "tokenizer.ggml.tokens", (uint64_t)i, &s, &err), 0);
        if (i < 6) ck_assert(s.n == strlen(specials[i]) && memcmp(s.p, specials[i], s.n) == 0);
        if (i == 6 + 'A') ck_assert(s.n == 1 && s.p[0] == 'A');     /* byte tokens in byte order */
        if (i == 6 + ' ') ck_assert(s.n == 2 && memcmp(s.p, "\xc4\xa0", 2) == 0);   /* U+0120 */
    }
    uint32_t et;
    uint64_t n_merges;
    ck_assert_int_eq(dl_gguf_get_arr(l.g, "tokenizer.ggml.merges", &et, &n_merges, &err), 0);
    ck_assert_uint_eq(n_merges, (uint64_t)v.n_merges);

    /* special tokens are recognised in text only when asked */
    int32_t ids[8];
    size_t n_ids;
    ck_assert_int_eq(dl_tok_encode(l.t, "<|mdm_mask|>", 12, DIFFLM_TOKENIZE_PARSE_SPECIAL, ids, 8, &n_ids, &err), 0);
    ck_assert_uint_eq(n_ids, 1);
    ck_assert_int_eq(ids[0], 5);

    /* the training text, and random bytes (invalid UTF-8 included), round-trip exactly */
    size_t n_tok = encode_roundtrip(l.t, text, n);
    ck_assert_uint_lt(n_tok, n / 2);   /* repetitive prose compresses well */
    uint32_t x = 99;
    char rnd[4096];
    for (int trial = 0; trial < 20; trial++) {
        size_t len = (size_t)(trial * 200 + 1);
        for (size_t i = 0; i < len; i++) {
            x = x * 1664525u + 1013904223u;
            rnd[i] = (char)(x >> 24);
        }
        encode_roundtrip(l.t, rnd, len);
    }
    unload(&l);
    bpet_vocab_free(&v);
    free(text);
}
END_TEST

START_TEST(test_compression_improves) {
    size_t n;
    char *text = make_prose(3000, 21, &n);
    size_t prev = n + 1;
    static const int32_t sizes[] = {262, 300, 400, 600, 900};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        bpet_vocab v;
        train_text(&v, text, n, sizes[k], 0);
        loaded l = load_vocab(&v);
        size_t n_tok = encode_roundtrip(l.t, text, n);
        if (k == 0) ck_assert_uint_eq(n_tok, n);   /* bytes only: one token per byte */
        ck_assert_msg(n_tok < prev, "vocab %d: %zu tokens, not fewer than %zu", sizes[k], n_tok, prev);
        prev = n_tok;
        unload(&l);
        bpet_vocab_free(&v);
    }
    ck_assert_uint_lt(prev, n / 3);
    free(text);
}
END_TEST

START_TEST(test_bad_params) {
    bpet_pieces p;
    count_text(&p, "some text", 9);
    bpet_vocab v;
    dl_err err = {0};
    bpet_params small = {.max_tokens = 255, .min_count = 1};
    ck_assert_int_eq(bpet_train(&v, &p, &small, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(bpet_train_naive(&v, &p, &small, &err), DIFFLM_E_INVALID_ARG);
    bpet_params zero = {.max_tokens = 300, .min_count = 0};
    ck_assert_int_eq(bpet_train(&v, &p, &zero, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(bpet_train_naive(&v, &p, &zero, &err), DIFFLM_E_INVALID_ARG);
    /* min_count above every pair: no merge, 256 tokens, still a valid file */
    bpet_params high = {.max_tokens = 300, .min_count = 1000};
    ck_assert_int_eq(bpet_train(&v, &p, &high, &err), 0);
    ck_assert_int_eq(v.n_merges, 0);
    ck_assert_int_eq(v.n_tokens, 256);
    loaded l = load_vocab(&v);
    ck_assert_uint_eq(encode_roundtrip(l.t, "some text", 9), 9);
    unload(&l);
    bpet_vocab_free(&v);
    bpet_pieces_free(&p);
}
END_TEST

/* --- the tool */

static char tmpdir[256];

static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/difflm_tt_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tmpdir(void) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *tool_path(void) {
    static char path[1024];
    const char *b = getenv("DIFFLM_BUILDDIR");
    snprintf(path, sizeof path, "%s/tools/difflm-train-tokenizer", b ? b : "build");
    return path;
}

/* Runs the tool with `args` (a shell fragment), output to /dev/null; returns its exit code. */
static int run_tool(const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' -q %s >/dev/null 2>&1", tool_path(), args);
    int st = system(cmd);
    ck_assert(st != -1 && WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = malloc((size_t)len + 1);
    ck_assert(b && fread(b, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

START_TEST(test_tool_deterministic_and_loadable) {
    make_tmpdir();
    size_t n;
    char *text = make_prose(3000, 4, &n);
    char in[512], a[512], b[512], args[2048];
    snprintf(in, sizeof in, "%s/corpus.txt", tmpdir);
    FILE *f = fopen(in, "wb");
    ck_assert(f && fwrite(text, 1, n, f) == n && fclose(f) == 0);
    snprintf(a, sizeof a, "%s/a.gguf", tmpdir);
    snprintf(b, sizeof b, "%s/b.gguf", tmpdir);
    snprintf(args, sizeof args, "--vocab 512 -o '%s' '%s' --eval '%s'", a, in, in);
    ck_assert_int_eq(run_tool(args), 0);
    snprintf(args, sizeof args, "--vocab 512 -o '%s' '%s'", b, in);
    ck_assert_int_eq(run_tool(args), 0);
    size_t na, nb;
    void *ba = slurp(a, &na), *bb = slurp(b, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert(memcmp(ba, bb, na) == 0);

    /* the library trainer on the same text writes the same bytes (the tool adds nothing) */
    bpet_vocab v;
    train_text(&v, text, n, 512, 0);
    dl_err err = {0};
    dl_gguf_writer *w;
    ck_assert_int_eq(bpet_gguf_writer(&w, &v, "difflm byte-level BPE tokenizer (tokenizer only, no model)", &err), 0);
    void *bc;
    size_t nc;
    ck_assert_int_eq(dl_gguf_writer_to_buffer(w, &bc, &nc, &err), 0);
    ck_assert_uint_eq(nc, na);
    ck_assert(memcmp(bc, ba, na) == 0);
    dl_gguf_writer_free(w);
    bpet_vocab_free(&v);

    /* and the file loads */
    dl_gguf *g;
    dl_tok *t;
    ck_assert_msg(dl_gguf_open(&g, a, &err) == 0, "%s", err.msg);
    ck_assert_msg(dl_tok_load(&t, g, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(dl_tok_n_vocab(t), 512);
    encode_roundtrip(t, text, n);
    dl_tok_free(t);
    dl_gguf_close(g);
    free(ba);
    free(bb);
    free(bc);
    free(text);
    rm_tmpdir();
}
END_TEST

START_TEST(test_tool_errors) {
    make_tmpdir();
    char in[512], out[512], args[2048];
    snprintf(in, sizeof in, "%s/corpus.txt", tmpdir);
    snprintf(out, sizeof out, "%s/out.gguf", tmpdir);
    FILE *f = fopen(in, "wb");
    ck_assert(f && fputs("a little text, a little text\n", f) >= 0 && fclose(f) == 0);
    struct stat st;

    snprintf(args, sizeof args, "--vocab 512 -o '%s' '%s/missing.txt'", out, tmpdir);
    ck_assert_int_eq(run_tool(args), 1);
    ck_assert_int_ne(stat(out, &st), 0);   /* nothing written */
    snprintf(args, sizeof args, "--vocab 100 -o '%s' '%s'", out, in);
    ck_assert_int_eq(run_tool(args), 2);
    snprintf(args, sizeof args, "--vocab 261 -o '%s' '%s'", out, in);
    ck_assert_int_eq(run_tool(args), 2);
    snprintf(args, sizeof args, "--vocab lots -o '%s' '%s'", out, in);
    ck_assert_int_eq(run_tool(args), 2);
    snprintf(args, sizeof args, "--vocab 512 '%s'", in);   /* no -o */
    ck_assert_int_eq(run_tool(args), 2);
    snprintf(args, sizeof args, "--vocab 512 -o '%s'", out);   /* no input */
    ck_assert_int_eq(run_tool(args), 2);
    snprintf(args, sizeof args, "--vocab 512 -o '%s/no/such/dir/x.gguf' '%s'", tmpdir, in);
    ck_assert_int_eq(run_tool(args), 1);
    /* the smallest vocabulary works: specials and bytes, no merges */
    snprintf(args, sizeof args, "--vocab 262 -o '%s' '%s'", out, in);
    ck_assert_int_eq(run_tool(args), 0);
    ck_assert_int_eq(stat(out, &st), 0);
    rm_tmpdir();
}
END_TEST

int main(void) {
    Suite *s = suite_create("train_tokenizer");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_pieces_match_inference_split);
    tcase_add_test(tc, test_pieces_table_growth);
    tcase_add_test(tc, test_most_frequent_pair_first);
    tcase_add_test(tc, test_ties_broken_by_bytes);
    tcase_add_test(tc, test_counts_never_increase);
    tcase_add_test(tc, test_fast_equals_naive_prose);
    tcase_add_test(tc, test_fast_equals_naive_small_alphabet);
    tcase_add_test(tc, test_merge_respelling_reuses_token);
    tcase_add_test(tc, test_gguf_form_and_roundtrip);
    tcase_add_test(tc, test_compression_improves);
    tcase_add_test(tc, test_bad_params);
    tcase_add_test(tc, test_tool_deterministic_and_loadable);
    tcase_add_test(tc, test_tool_errors);
    suite_add_tcase(s, tc);
    return dl_run_suite(s);
}
