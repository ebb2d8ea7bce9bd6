/* test_tok.c - the tokenizer on small synthetic vocabularies written with the GGUF writer:
 * the byte alphabet, UTF-8 validation, pre-tokenizer splits for each rule set (expected
 * pieces worked out by hand from doc/formats.md, "Pre-tokenizer rules"), BPE merges (priority queue vs
 * the naive loop), special tokens, round trips of random bytes, buffers, chat formats
 * and load errors. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_compat.h"
#include "tok/tok_internal.h"
#include "tok_fixture.h"

enum { WITH_CHATML = 1, WITH_LLAMA3 = 2 };

/* ids of the synthetic vocabulary (bytes are ids 0..255, id = byte value) */
enum {
    T_HE = 256, T_LL, T_HELL, T_HELLO, T_GW, T_OR, T_GWOR, T_LD, T_GWORLD, T_12, T_123, T_GG,
    T_XYZ, T_EOT_TEXT, T_IM_START, T_IM_END, T_IM, T_TOOL,
    T_SOT, T_START_HDR, T_END_HDR, T_EOT_ID,
};

static void synth_vocab(tf_vocab *v, int extras) {
    memset(v, 0, sizeof *v);
    for (int b = 0; b < 256; b++) {
        char u[3];
        tf_byte_char((uint8_t)b, u);
        ck_assert_int_eq(tf_vocab_push(v, u, DL_TOKT_NORMAL), b);
    }
    static const char *merged[][2] = {
        {"he", "h e"}, {"ll", "l l"}, {"hell", "he ll"}, {"hello", "hell o"}, {"Ġw", "Ġ w"},
        {"or", "o r"}, {"Ġwor", "Ġw or"}, {"ld", "l d"}, {"Ġworld", "Ġwor ld"}, {"12", "1 2"},
        {"123", "12 3"}, {"ĠĠ", "Ġ Ġ"},
    };
    for (size_t i = 0; i < sizeof merged / sizeof merged[0]; i++) {
        ck_assert_int_eq(tf_vocab_push(v, merged[i][0], DL_TOKT_NORMAL), T_HE + (int)i);
        ck_assert_int_eq(tf_vocab_merge(v, merged[i][1], strlen(merged[i][1])), 0);
    }
    ck_assert_int_eq(tf_vocab_push(v, "xyz", DL_TOKT_NORMAL), T_XYZ);   /* reachable only whole */
    ck_assert_int_eq(tf_vocab_push(v, "<|endoftext|>", DL_TOKT_CONTROL), T_EOT_TEXT);
    ck_assert_int_eq(tf_vocab_push(v, (extras & WITH_CHATML) ? "<|im_start|>" : "<|im_stert|>", DL_TOKT_CONTROL),
                     T_IM_START);
    ck_assert_int_eq(tf_vocab_push(v, "<|im_end|>", DL_TOKT_CONTROL), T_IM_END);
    ck_assert_int_eq(tf_vocab_push(v, "<|im", DL_TOKT_CONTROL), T_IM);
    ck_assert_int_eq(tf_vocab_push(v, "<tool>", DL_TOKT_USER_DEFINED), T_TOOL);
    if (extras & WITH_LLAMA3) {
        ck_assert_int_eq(tf_vocab_push(v, "<|startoftext|>", DL_TOKT_CONTROL), T_SOT);
        ck_assert_int_eq(tf_vocab_push(v, "<|start_header_id|>", DL_TOKT_CONTROL), T_START_HDR);
        ck_assert_int_eq(tf_vocab_push(v, "<|end_header_id|>", DL_TOKT_CONTROL), T_END_HDR);
        ck_assert_int_eq(tf_vocab_push(v, "<|eot_id|>", DL_TOKT_CONTROL), T_EOT_ID);
    }
}

static dl_tok *load_synth(const char *pre, int extras) {
    tf_vocab v;
    synth_vocab(&v, extras);
    tf_keys k = tf_keys_default(pre);
    k.bos = (extras & WITH_LLAMA3) ? T_SOT : T_EOT_TEXT;
    k.eos = T_EOT_TEXT;
    dl_err err = {0};
    dl_tok *t = NULL;
    int rc = tf_load(&t, &v, &k, &err);
    ck_assert_msg(rc == 0, "load (%s): %d %s", pre ? pre : "(none)", rc, err.msg);
    tf_vocab_free(&v);
    return t;
}

/* --- byte alphabet and UTF-8 */

START_TEST(test_byte_alphabet) {
    int seen[0x144] = {0};
    for (int b = 0; b < 256; b++) {
        char want[3], got[2];
        tf_byte_char((uint8_t)b, want);
        int n = dl_byte_to_utf8(got, (uint8_t)b);
        ck_assert_int_eq(n, (int)strlen(want));
        ck_assert_mem_eq(got, want, (size_t)n);
        uint32_t cp;
        ck_assert_int_eq(dl_utf8_next((const uint8_t *)got, (size_t)n, &cp), n);
        ck_assert_uint_lt(cp, 0x144);
        ck_assert_int_eq(seen[cp]++, 0);   /* a bijection onto its image */
        ck_assert_int_eq(dl_unicode_to_byte(cp), b);
    }
    ck_assert_int_eq(dl_unicode_to_byte(' '), -1);    /* space is spelled U+0120 */
    ck_assert_int_eq(dl_unicode_to_byte(0x7F), -1);
    ck_assert_int_eq(dl_unicode_to_byte(0xAD), -1);
    ck_assert_int_eq(dl_unicode_to_byte(0x144), -1);
    ck_assert_int_eq(dl_unicode_to_byte(0x4E00), -1);
    ck_assert_int_eq(dl_unicode_to_byte(0x120), ' ');
    ck_assert_int_eq(dl_unicode_to_byte(0x10A), '\n');
}
END_TEST

START_TEST(test_utf8_next) {
    static const struct { const char *s; size_t n; int len; uint32_t cp; } cases[] = {
        {"A", 1, 1, 'A'}, {"\xC3\xA9", 2, 2, 0xE9}, {"\xE6\x97\xA5", 3, 3, 0x65E5},
        {"\xF0\x9F\x98\x80", 4, 4, 0x1F600}, {"\xF4\x8F\xBF\xBF", 4, 4, 0x10FFFF},
        {"\xEF\xBF\xBE", 3, 3, 0xFFFE},   /* a noncharacter is still valid */
        {"\xC0\x80", 2, 0, 0}, {"\xC1\xBF", 2, 0, 0}, {"\xE0\x80\x80", 3, 0, 0},   /* overlong */
        {"\xF0\x80\x80\x80", 4, 0, 0}, {"\xED\xA0\x80", 3, 0, 0},   /* overlong; surrogate */
        {"\xF4\x90\x80\x80", 4, 0, 0}, {"\xF5\x80\x80\x80", 4, 0, 0},   /* above U+10FFFF */
        {"\x80", 1, 0, 0}, {"\xC3", 1, 0, 0}, {"\xE6\x97", 2, 0, 0},   /* stray, truncated */
        {"\xC3\x28", 2, 0, 0}, {"\xFF", 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t cp = 0;
        int len = dl_utf8_next((const uint8_t *)cases[i].s, cases[i].n, &cp);
        ck_assert_msg(len == cases[i].len, "case %zu: len %d want %d", i, len, cases[i].len);
        if (len) ck_assert_uint_eq(cp, cases[i].cp);
    }
}
END_TEST

/* --- pre-tokenizer splits */

typedef struct pieces {
    char buf[4096];
    size_t n;
    int count;
} pieces;

static int collect(void *user, const uint8_t *p, size_t n) {
    pieces *c = user;
    ck_assert_uint_lt(c->n + n + 1, sizeof c->buf);
    memcpy(c->buf + c->n, p, n);
    c->n += n;
    c->buf[c->n++] = '\x1F';   /* unit separator: in none of the test strings */
    c->count++;
    return 0;
}

/* Checks that pre type `type` cuts text into exactly the NULL-terminated list of pieces. */
static void check_split(int type, const char *text, ...) {
    dl_pretok p;
    dl_err err = {0};
    ck_assert_int_eq(dl_pretok_init(&p, type, &err), 0);
    pieces got = {0};
    ck_assert_int_eq(dl_pretok_split(&p, (const uint8_t *)text, strlen(text), collect, &got, &err), 0);
    dl_pretok_free(&p);
    char want[4096];
    size_t wn = 0;
    va_list ap;
    va_start(ap, text);
    for (const char *s; (s = va_arg(ap, const char *));) {
        size_t n = strlen(s);
        ck_assert_uint_lt(wn + n + 1, sizeof want);
        memcpy(want + wn, s, n);
        wn += n;
        want[wn++] = '\x1F';
    }
    va_end(ap);
    got.buf[got.n] = want[wn] = '\0';
    for (size_t i = 0; i < got.n; i++) if (got.buf[i] == '\x1F') got.buf[i] = '|';
    for (size_t i = 0; i < wn; i++) if (want[i] == '\x1F') want[i] = '|';
    ck_assert_msg(strcmp(got.buf, want) == 0, "pre %d on \"%s\": got [%s] want [%s]", type, text, got.buf, want);
}

START_TEST(test_split_gpt2) {
    check_split(DL_PRE_GPT2, "Hello world", "Hello", " world", NULL);
    check_split(DL_PRE_GPT2, "I'M don't we'll", "I", "'", "M", " don", "'t", " we", "'ll", NULL);
    check_split(DL_PRE_GPT2, "12345 x", "12345", " x", NULL);
    check_split(DL_PRE_GPT2, "  hello", " ", " hello", NULL);
    check_split(DL_PRE_GPT2, "hello  \n world", "hello", "  \n", " world", NULL);
    check_split(DL_PRE_GPT2, "a\n\n  b", "a", "\n\n ", " b", NULL);
    check_split(DL_PRE_GPT2, "\tword", "\t", "word", NULL);
    check_split(DL_PRE_GPT2, "foo!! bar?", "foo", "!!", " bar", "?", NULL);
    check_split(DL_PRE_GPT2, "end  ", "end", "  ", NULL);
    check_split(DL_PRE_GPT2, "h\xC3\xA9llo w\xC3\xB6rld", "h\xC3\xA9llo", " w\xC3\xB6rld", NULL);
    check_split(DL_PRE_GPT2, "\xE6\x97\xA5\xE6\x9C\xAC 42", "\xE6\x97\xA5\xE6\x9C\xAC", " 42", NULL);
}
END_TEST

START_TEST(test_split_llama3) {
    check_split(DL_PRE_LLAMA3, "12345", "123", "45", NULL);
    check_split(DL_PRE_LLAMA3, "I'M don't", "I", "'M", " don", "'t", NULL);
    check_split(DL_PRE_LLAMA3, "x 5", "x", " ", "5", NULL);
    check_split(DL_PRE_LLAMA3, "a\n\n  b", "a", "\n\n", " ", " b", NULL);
    check_split(DL_PRE_LLAMA3, "\tword", "\tword", NULL);
    check_split(DL_PRE_LLAMA3, "(word", "(word", NULL);
    check_split(DL_PRE_LLAMA3, "hello!!\n\nx", "hello", "!!\n\n", "x", NULL);
    check_split(DL_PRE_LLAMA3, "x\r\n", "x", "\r\n", NULL);
    check_split(DL_PRE_LLAMA3, "  hello", " ", " hello", NULL);
    check_split(DL_PRE_LLAMA3, "a \n b", "a", " \n", " b", NULL);
}
END_TEST

START_TEST(test_split_qwen2) {
    check_split(DL_PRE_QWEN2, "12345", "1", "2", "3", "4", "5", NULL);
    check_split(DL_PRE_QWEN2, "abc123def", "abc", "1", "2", "3", "def", NULL);
    check_split(DL_PRE_QWEN2, "x 5", "x", " ", "5", NULL);
    check_split(DL_PRE_QWEN2, "\xD9\xA3\xD9\xA4", "\xD9\xA3", "\xD9\xA4", NULL);   /* Arabic-Indic digits */
    check_split(DL_PRE_QWEN2, "Hello World's", "Hello", " World", "'s", NULL);
    check_split(DL_PRE_QWEN2, "a\n\n  b", "a", "\n\n", " ", " b", NULL);
}
END_TEST

START_TEST(test_split_default) {
    check_split(DL_PRE_DEFAULT, "don't", "don", "'", "t", NULL);
    check_split(DL_PRE_DEFAULT, "a+b=c", "a", "+", "b", "=", "c", NULL);
    check_split(DL_PRE_DEFAULT, "hello, world", "hello", ",", " world", NULL);
    check_split(DL_PRE_DEFAULT, "1234567", "123", "456", "7", NULL);
    check_split(DL_PRE_DEFAULT, "x 12345", "x", " ", "123", "45", NULL);
    check_split(DL_PRE_DEFAULT, "hi !", "hi", " ", "!", NULL);
}
END_TEST

START_TEST(test_pre_names) {
    static const struct { const char *name; int type, ignore; } names[] = {
        {"default", DL_PRE_DEFAULT, 0}, {"gpt-2", DL_PRE_GPT2, 0}, {"llama3", DL_PRE_LLAMA3, 1},
        {"llama-bpe", DL_PRE_LLAMA3, 1}, {"llama-v3", DL_PRE_LLAMA3, 1},
        {"smaug-bpe", DL_PRE_LLAMA3, 0}, {"qwen2", DL_PRE_QWEN2, 0},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int ign = -1;
        ck_assert_int_eq(dl_pretok_type_from_name(names[i].name, strlen(names[i].name), &ign), names[i].type);
        ck_assert_int_eq(ign, names[i].ignore);
    }
    int ign;
    ck_assert_int_eq(dl_pretok_type_from_name("qwen", 4, &ign), -1);
    ck_assert_int_eq(dl_pretok_type_from_name("qwen2x", 6, &ign), -1);
}
END_TEST

/* --- encoding */


START_TEST(test_encode_merges) {
    const char *pres[] = {"qwen2", "llama3", "gpt-2", "default", "smaug-bpe"};
    for (size_t i = 0; i < 5; i++) {
        dl_tok *t = load_synth(pres[i], WITH_CHATML);
        CHECK_IDS(t, "hello world", 0, T_HELLO, T_GWORLD);
        CHECK_IDS(t, "hello  world", 0, T_HELLO, ' ', T_GWORLD);
        CHECK_IDS(t, "  hello", 0, ' ', ' ', T_HELLO);
        CHECK_IDS(t, "hello   ", 0, T_HELLO, T_GG, ' ');   /* "ĠĠ" then "Ġ": leftmost pair first */
        CHECK_IDS(t, "hhello", 0, 'h', T_HELLO);
        int32_t none[1] = {-7};
        ck_assert_uint_eq(enc(t, "", 0, 0, none, 1), 0);
        ck_assert_uint_eq(enc(t, NULL, 0, 0, NULL, 0), 0);
        ck_assert_int_eq(none[0], -7);
        dl_tok_free(t);
    }
}
END_TEST

START_TEST(test_encode_pre_specific) {
    dl_tok *q = load_synth("qwen2", WITH_CHATML), *l = load_synth("llama3", WITH_CHATML);
    dl_tok *g = load_synth("gpt-2", WITH_CHATML), *d = load_synth(NULL, WITH_CHATML);
    dl_tok *sm = load_synth("smaug-bpe", WITH_CHATML);
    CHECK_IDS(q, "12345", 0, '1', '2', '3', '4', '5');
    CHECK_IDS(l, "12345", 0, T_123, '4', '5');
    CHECK_IDS(g, "12345", 0, T_123, '4', '5');
    CHECK_IDS(d, "12345", 0, T_123, '4', '5');
    /* ignore_merges: llama3 emits a piece that is a whole token even with no merge path */
    CHECK_IDS(l, "xyz", 0, T_XYZ);
    CHECK_IDS(sm, "xyz", 0, 'x', 'y', 'z');
    CHECK_IDS(q, "xyz", 0, 'x', 'y', 'z');
    CHECK_IDS(g, "xyz", 0, 'x', 'y', 'z');
    CHECK_IDS(q, "hello\n\nworld", 0, T_HELLO, '\n', '\n', 'w', T_OR, T_LD);
    dl_tok_free(q);
    dl_tok_free(l);
    dl_tok_free(g);
    dl_tok_free(d);
    dl_tok_free(sm);
}
END_TEST

START_TEST(test_encode_special) {
    dl_tok *t = load_synth("qwen2", WITH_CHATML);
    const uint32_t PS = DIFFLM_TOKENIZE_PARSE_SPECIAL;
    CHECK_IDS(t, "<|im_start|>hello<|im_end|>", PS, T_IM_START, T_HELLO, T_IM_END);
    CHECK_IDS(t, "<|im", PS, T_IM);                     /* a shorter special token */
    CHECK_IDS(t, "<|im_end", PS, T_IM, '_', 'e', 'n', 'd');
    CHECK_IDS(t, "a<tool>b", PS, 'a', T_TOOL, 'b');     /* user-defined tokens too */
    CHECK_IDS(t, "<|im_start|><|im_start|>", PS, T_IM_START, T_IM_START);
    CHECK_IDS(t, "hello<|endoftext|> world", PS, T_HELLO, T_EOT_TEXT, T_GWORLD);
    /* without the flag control tokens are ordinary bytes; user-defined (non-special
     * added) tokens are still matched, as Hugging Face and llama.cpp do */
    const char *s = "<|im_start|>hello<|im_end|><tool>";
    int32_t ids[64];
    size_t n = enc(t, s, strlen(s), 0, ids, 64);
    ck_assert_int_eq(ids[n - 1], T_TOOL);
    for (size_t i = 0; i + 1 < n; i++) ck_assert_int_lt(ids[i], T_EOT_TEXT);
    char back[64];
    size_t nb;
    ck_assert_int_eq(dl_tok_decode(t, ids, n, 0, back, sizeof back, &nb, NULL), 0);
    ck_assert_uint_eq(nb, strlen(s));
    ck_assert_mem_eq(back, s, nb);
    /* BOS */
    CHECK_IDS(t, "hello", DIFFLM_TOKENIZE_ADD_BOS, T_EOT_TEXT, T_HELLO);
    CHECK_IDS(t, "", DIFFLM_TOKENIZE_ADD_BOS, T_EOT_TEXT);
    dl_tok_free(t);
}
END_TEST

/* --- decoding */

START_TEST(test_decode) {
    dl_tok *t = load_synth("qwen2", WITH_CHATML);
    const int32_t ids[] = {T_IM_START, T_HELLO, T_GWORLD, T_TOOL, '\n', 0xFF, T_IM_END};
    char out[128];
    size_t n;
    dl_err err = {0};
    ck_assert_int_eq(dl_tok_decode(t, ids, 7, 0, out, sizeof out, &n, &err), 0);
    const char want_plain[] = "hello world<tool>\n\xFF";
    ck_assert_uint_eq(n, sizeof want_plain - 1);
    ck_assert_mem_eq(out, want_plain, n);
    ck_assert_int_eq(dl_tok_decode(t, ids, 7, DIFFLM_DETOKENIZE_SPECIAL, out, sizeof out, &n, &err), 0);
    const char want_special[] = "<|im_start|>hello world<tool>\n\xFF<|im_end|>";
    ck_assert_uint_eq(n, sizeof want_special - 1);
    ck_assert_mem_eq(out, want_special, n);
    const int32_t bad[] = {T_HELLO, dl_tok_n_vocab(t)};
    ck_assert_int_eq(dl_tok_decode(t, bad, 2, 0, out, sizeof out, &n, &err), DIFFLM_E_INVALID_ARG);
    const int32_t neg[] = {-1};
    ck_assert_int_eq(dl_tok_decode(t, neg, 1, 0, out, sizeof out, &n, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_tok_decode(t, NULL, 0, 0, NULL, 0, &n, &err), 0);
    ck_assert_uint_eq(n, 0);
    dl_tok_free(t);
}
END_TEST

/* --- buffers */

START_TEST(test_buffers) {
    dl_tok *t = load_synth("qwen2", WITH_CHATML);
    dl_err err = {0};
    int32_t ids[8];
    for (int i = 0; i < 8; i++) ids[i] = -99;
    size_t n = 0;
    /* "hello world world" is 3 ids */
    ck_assert_int_eq(dl_tok_encode(t, "hello world world", 17, 0, ids, 2, &n, &err), DIFFLM_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(ids[0], T_HELLO);
    ck_assert_int_eq(ids[1], T_GWORLD);
    ck_assert_int_eq(ids[2], -99);   /* nothing past cap */
    ck_assert_int_eq(dl_tok_encode(t, "hello world world", 17, 0, NULL, 0, &n, &err), DIFFLM_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(dl_tok_encode(t, "hello world world", 17, 0, ids, 3, &n, &err), 0);

    const int32_t src[] = {T_HELLO, T_GWORLD};
    char out[16];
    memset(out, '#', sizeof out);
    ck_assert_int_eq(dl_tok_decode(t, src, 2, 0, out, 7, &n, &err), DIFFLM_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 11);
    ck_assert_mem_eq(out, "hello w#", 8);
    ck_assert_int_eq(dl_tok_decode(t, src, 2, 0, NULL, 0, &n, &err), DIFFLM_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 11);
    ck_assert_int_eq(dl_tok_decode(t, src, 2, 0, out, 11, &n, &err), 0);

    difflm_chat_message m = {"user", "hi"};
    char chat[256];
    size_t need;
    ck_assert_int_eq(dl_tok_chat(t, &m, 1, 1, NULL, 0, &need, &err), DIFFLM_E_BUFFER_TOO_SMALL);
    ck_assert_uint_gt(need, 10);
    memset(chat, '#', sizeof chat);
    ck_assert_int_eq(dl_tok_chat(t, &m, 1, 1, chat, need, &n, &err), DIFFLM_E_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, need);                  /* no room for the NUL */
    ck_assert_int_eq(chat[need], '#');
    ck_assert_int_eq(dl_tok_chat(t, &m, 1, 1, chat, need + 1, &n, &err), 0);
    ck_assert_uint_eq(n, need);
    ck_assert_int_eq(chat[need], '\0');
    ck_assert_int_eq(chat[need + 1], '#');
    dl_tok_free(t);
}
END_TEST

/* --- round trips and the naive BPE twin */

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random text mixing ASCII words, spaces/newlines, digits, multi-byte characters and
 * raw (often invalid) bytes. */
static size_t random_text(uint8_t *buf, size_t cap, uint64_t *s) {
    static const char *frags[] = {"hello", " world", "  ", "\n", "\r\n", "123", "'s", "'LL", "!!",
                                  "\xC3\xA9", "\xE6\x97\xA5", "\xF0\x9F\x98\x80", "\t", "xyz", "<|im",
                                  "\xD9\xA3", " ", "ll", "\xC2\xA0"};
    size_t n = 0, want = rng_next(s) % (cap / 2);
    while (n < want) {
        uint64_t r = rng_next(s);
        if (r % 4 == 0) {
            buf[n++] = (uint8_t)(r >> 8);
        } else {
            const char *f = frags[(r >> 8) % (sizeof frags / sizeof frags[0])];
            size_t k = strlen(f);
            if (n + k > cap) break;
            memcpy(buf + n, f, k);
            n += k;
        }
    }
    return n;
}

START_TEST(test_round_trip_random) {
    const char *pres[] = {"qwen2", "llama3", "gpt-2", "default"};
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    for (size_t p = 0; p < 4; p++) {
        dl_tok *t = load_synth(pres[p], WITH_CHATML);
        for (int iter = 0; iter < 300; iter++) {
            uint8_t text[256];
            size_t n = random_text(text, sizeof text, &seed);
            int32_t ids[512];
            size_t ni = enc(t, (const char *)text, n, 0, ids, 512);
            ck_assert_uint_le(ni, n);
            char back[256];
            size_t nb;
            dl_err err = {0};
            ck_assert_int_eq(dl_tok_decode(t, ids, ni, 0, back, sizeof back, &nb, &err), 0);
            ck_assert_msg(nb == n && memcmp(back, text, n) == 0, "pre %s iter %d: round trip differs", pres[p], iter);
        }
        dl_tok_free(t);
    }
}
END_TEST

START_TEST(test_bpe_matches_naive) {
    dl_tok *t = load_synth("qwen2", WITH_CHATML);
    uint64_t seed = 12345;
    static const char alphabet[] = "helowrd123 xyz";
    dl_bpe_scratch s = {0};
    for (int iter = 0; iter < 2000; iter++) {
        uint8_t piece[40];
        size_t n = 1 + rng_next(&seed) % sizeof piece;
        for (size_t i = 0; i < n; i++) piece[i] = (uint8_t)alphabet[rng_next(&seed) % (sizeof alphabet - 1)];
        int32_t a[64], b[64];
        dl_idsink sa = {a, 64, 0}, sb = {b, 64, 0};
        ck_assert_int_eq(dl_bpe_piece(&sa, t, piece, n, &s, NULL), 0);
        ck_assert_int_eq(dl_bpe_piece_naive(&sb, t, piece, n, NULL), 0);
        ck_assert_uint_eq(sa.n, sb.n);
        ck_assert_mem_eq(a, b, sa.n * sizeof *a);
    }
    dl_bpe_scratch_free(&s);
    dl_tok_free(t);
}
END_TEST

/* Long runs exercise the regex engine's backtracking and the heap on big pieces. */
START_TEST(test_long_inputs) {
    dl_tok *t = load_synth("llama3", WITH_CHATML);
    size_t n = 200000;
    char *text = malloc(n);
    int32_t *ids = malloc(n * sizeof *ids);
    char *back = malloc(n);
    ck_assert_ptr_nonnull(text);
    const char fills[] = {' ', 'l', '\n', '!', '7'};
    for (size_t f = 0; f < sizeof fills; f++) {
        memset(text, fills[f], n);
        text[n - 1] = 'x';
        size_t ni = enc(t, text, n, 0, ids, n);
        size_t nb;
        ck_assert_int_eq(dl_tok_decode(t, ids, ni, 0, back, n, &nb, NULL), 0);
        ck_assert_uint_eq(nb, n);
        ck_assert_mem_eq(back, text, n);
        if (fills[f] == 'l') ck_assert_uint_eq(ni, n / 2 + 1);   /* "ll" pairs, then "x" */
    }
    free(text);
    free(ids);
    free(back);
    dl_tok_free(t);
}
END_TEST

/* --- chat */

START_TEST(test_chat_chatml) {
    dl_tok *t = load_synth("qwen2", WITH_CHATML);
    ck_assert_int_eq(dl_tok_chat_style(t), DL_CHAT_CHATML);
    char out[1024];
    size_t n;
    dl_err err = {0};
    difflm_chat_message m1[] = {{"user", "Hi there"}};
    ck_assert_int_eq(dl_tok_chat(t, m1, 1, 1, out, sizeof out, &n, &err), 0);
    ck_assert_str_eq(out, "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                          "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n");
    ck_assert_uint_eq(n, strlen(out));
    difflm_chat_message m2[] = {{"system", "Be brief."}, {"user", " x "}, {"assistant", "y"}, {"user", "z"}};
    ck_assert_int_eq(dl_tok_chat(t, m2, 4, 0, out, sizeof out, &n, &err), 0);
    ck_assert_str_eq(out, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n x <|im_end|>\n"
                          "<|im_start|>assistant\ny<|im_end|>\n<|im_start|>user\nz<|im_end|>\n");
    difflm_chat_message m3[] = {{"user", "q"}, {"tool", "a"}, {"tool", "b"}};
    ck_assert_int_eq(dl_tok_chat(t, m3, 3, 0, out, sizeof out, &n, &err), 0);
    ck_assert_str_eq(out, "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                          "<|im_start|>user\nq<|im_end|>\n<|im_start|>user\n<tool_response>\na\n"
                          "</tool_response>\n<tool_response>\nb\n</tool_response><|im_end|>\n");
    difflm_chat_message bad1[] = {{NULL, "x"}}, bad2[] = {{"user", NULL}};
    ck_assert_int_eq(dl_tok_chat(t, bad1, 1, 1, out, sizeof out, &n, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_tok_chat(t, bad2, 1, 1, out, sizeof out, &n, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_tok_chat(t, NULL, 1, 1, out, sizeof out, &n, &err), DIFFLM_E_INVALID_ARG);
    /* the rendered prompt tokenizes back into its special tokens */
    ck_assert_int_eq(dl_tok_chat(t, m1, 1, 1, out, sizeof out, &n, &err), 0);
    int32_t ids[256];
    size_t ni = enc(t, out, n, DIFFLM_TOKENIZE_PARSE_SPECIAL, ids, 256);
    ck_assert_int_eq(ids[0], T_IM_START);
    ck_assert_int_eq(ids[ni - 1], '\n');
    ck_assert_int_eq(ids[ni - 11], T_IM_START);   /* then "assistant" as 9 byte tokens */
    dl_tok_free(t);
}
END_TEST

START_TEST(test_chat_llama3) {
    dl_tok *t = load_synth("llama3", WITH_CHATML | WITH_LLAMA3);
    ck_assert_int_eq(dl_tok_chat_style(t), DL_CHAT_LLAMA3);
    ck_assert_int_eq(dl_tok_specials(t)->eot, T_EOT_ID);
    char out[1024];
    size_t n;
    dl_err err = {0};
    difflm_chat_message m[] = {{"user", "  Hi there \n"}, {"assistant", "\t Hello\xE3\x80\x80"}, {"user", "x"}};
    ck_assert_int_eq(dl_tok_chat(t, m, 3, 1, out, sizeof out, &n, &err), 0);
    ck_assert_str_eq(out, "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
                          "<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>"
                          "<|start_header_id|>user<|end_header_id|>\n\nx<|eot_id|>"
                          "<|start_header_id|>assistant<|end_header_id|>\n\n");
    ck_assert_int_eq(dl_tok_chat(t, m, 1, 0, out, sizeof out, &n, &err), 0);
    ck_assert_str_eq(out, "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>");
    difflm_chat_message blank[] = {{"user", " \x1C\xC2\xA0 "}};   /* all Python whitespace */
    ck_assert_int_eq(dl_tok_chat(t, blank, 1, 0, out, sizeof out, &n, &err), 0);
    ck_assert_str_eq(out, "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\n<|eot_id|>");
    ck_assert_int_eq(dl_tok_chat(t, NULL, 0, 1, out, sizeof out, &n, &err), 0);
    ck_assert_str_eq(out, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    dl_tok_free(t);

    t = load_synth("llama3", 0);
    ck_assert_int_eq(dl_tok_chat_style(t), DL_CHAT_NONE);
    ck_assert_int_eq(dl_tok_chat(t, m, 1, 1, out, sizeof out, &n, &err), DIFFLM_E_UNSUPPORTED);
    ck_assert_int_eq(dl_tok_specials(t)->eot, T_IM_END);   /* found by name */
    dl_tok_free(t);
}
END_TEST

/* --- load: specials and errors */

START_TEST(test_specials) {
    tf_vocab v;
    synth_vocab(&v, WITH_CHATML);
    tf_keys k = tf_keys_default("qwen2");
    k.bos = T_EOT_TEXT;
    k.eos = T_IM_END;
    k.mask = T_IM;
    k.pad = T_EOT_TEXT;
    k.eot = T_TOOL;
    k.add_bos = 1;
    dl_tok *t = NULL;
    dl_err err = {0};
    ck_assert_int_eq(tf_load(&t, &v, &k, &err), 0);
    const dl_tok_special *sp = dl_tok_specials(t);
    ck_assert_int_eq(sp->bos, T_EOT_TEXT);
    ck_assert_int_eq(sp->eos, T_IM_END);
    ck_assert_int_eq(sp->mask, T_IM);
    ck_assert_int_eq(sp->pad, T_EOT_TEXT);
    ck_assert_int_eq(sp->eot, T_TOOL);   /* the key wins over the name search */
    ck_assert_int_eq(sp->add_bos, 1);
    ck_assert_int_eq(dl_tok_n_vocab(t), (int32_t)v.n);
    dl_tok_free(t);
    k = tf_keys_default("qwen2");
    ck_assert_int_eq(tf_load(&t, &v, &k, &err), 0);
    sp = dl_tok_specials(t);
    ck_assert_int_eq(sp->bos, -1);
    ck_assert_int_eq(sp->mask, -1);
    ck_assert_int_eq(sp->add_bos, 0);
    ck_assert_int_eq(sp->eot, T_IM_END);
    CHECK_IDS(t, "hello", DIFFLM_TOKENIZE_ADD_BOS, T_HELLO);   /* no BOS to add */
    dl_tok_free(t);
    tf_vocab_free(&v);
}
END_TEST

static void expect_load_error(const tf_vocab *v, const tf_keys *k, int status, const char *needle) {
    dl_tok *t = (dl_tok *)(uintptr_t)1;
    dl_err err = {0};
    int rc = tf_load(&t, v, k, &err);
    ck_assert_msg(rc == status, "want %d, got %d (%s)", status, rc, err.msg);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err.msg, needle), "message \"%s\" should name \"%s\"", err.msg, needle);
}

START_TEST(test_load_errors) {
    tf_vocab v;
    synth_vocab(&v, WITH_CHATML);
    tf_keys k = tf_keys_default("bogus-pre");
    expect_load_error(&v, &k, DIFFLM_E_UNSUPPORTED, "bogus-pre");
    k = tf_keys_default("qwen2");
    k.model = "llama";
    expect_load_error(&v, &k, DIFFLM_E_UNSUPPORTED, "llama");
    k = tf_keys_default("qwen2");
    k.model = NULL;
    expect_load_error(&v, &k, DIFFLM_E_FORMAT, "tokenizer.ggml.model");
    k = tf_keys_default("qwen2");
    k.with_merges = 0;
    expect_load_error(&v, &k, DIFFLM_E_FORMAT, "tokenizer.ggml.merges");
    k = tf_keys_default("qwen2");
    k.bos = (int64_t)v.n;
    expect_load_error(&v, &k, DIFFLM_E_FORMAT, "tokenizer.ggml.bos_token_id");
    k = tf_keys_default("qwen2");
    k.mask = 1000000;
    expect_load_error(&v, &k, DIFFLM_E_FORMAT, "tokenizer.ggml.mask_token_id");
    k = tf_keys_default("qwen2");
    k.eot = (int64_t)v.n + 5;
    expect_load_error(&v, &k, DIFFLM_E_FORMAT, "tokenizer.ggml.eot_token_id");

    /* a merge line without its space */
    tf_vocab_merge(&v, "nospace", 7);
    k = tf_keys_default("qwen2");
    expect_load_error(&v, &k, DIFFLM_E_FORMAT, "tokenizer.ggml.merges[12]");
    tf_vocab_free(&v);

    /* a byte with no token */
    synth_vocab(&v, 0);
    free(v.tok['A']);
    v.tok['A'] = strdup("A-not-a-byte");
    v.len['A'] = strlen(v.tok['A']);
    expect_load_error(&v, &k, DIFFLM_E_FORMAT, "byte 0x41");
    tf_vocab_free(&v);

    /* a byte token typed CONTROL is not usable by BPE either */
    synth_vocab(&v, 0);
    v.type['\n'] = DL_TOKT_CONTROL;
    expect_load_error(&v, &k, DIFFLM_E_FORMAT, "byte 0x0A");
    v.type['\n'] = 42;
    expect_load_error(&v, &k, DIFFLM_E_FORMAT, "tokenizer.ggml.token_type[10]");
    tf_vocab_free(&v);

    /* optional keys: no types (all NORMAL), no pre (default) */
    synth_vocab(&v, 0);
    k = tf_keys_default(NULL);
    k.with_types = 0;
    dl_tok *t = NULL;
    dl_err err = {0};
    ck_assert_int_eq(tf_load(&t, &v, &k, &err), 0);
    CHECK_IDS(t, "1234567", 0, T_123, '4', '5', '6', '7');   /* default cuts 123|456|7 */
    /* with every token NORMAL, "<|im_end|>" is an ordinary token no BPE path reaches */
    CHECK_IDS(t, "<|im_end|>", DIFFLM_TOKENIZE_PARSE_SPECIAL, '<', '|', 'i', 'm', '_', 'e', 'n', 'd', '|', '>');
    dl_tok_free(t);
    tf_vocab_free(&v);
}
END_TEST

static Suite *tok_suite(void) {
    Suite *s = suite_create("tok");
    TCase *tc = tcase_create("synthetic");
    tcase_add_test(tc, test_byte_alphabet);
    tcase_add_test(tc, test_utf8_next);
    tcase_add_test(tc, test_split_gpt2);
    tcase_add_test(tc, test_split_llama3);
    tcase_add_test(tc, test_split_qwen2);
    tcase_add_test(tc, test_split_default);
    tcase_add_test(tc, test_pre_names);
    tcase_add_test(tc, test_encode_merges);
    tcase_add_test(tc, test_encode_pre_specific);
    tcase_add_test(tc, test_encode_special);
    tcase_add_test(tc, test_decode);
    tcase_add_test(tc, test_buffers);
    tcase_add_test(tc, test_round_trip_random);
    tcase_add_test(tc, test_bpe_matches_naive);
    tcase_add_test(tc, test_long_inputs);
    tcase_add_test(tc, test_chat_chatml);
    tcase_add_test(tc, test_chat_llama3);
    tcase_add_test(tc, test_specials);
    tcase_add_test(tc, test_load_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dl_run_suite(tok_suite()); }
