/* test_tok_real.c - the tokenizer on real published vocabularies (tests/tok/data/tokenizers):
 * Qwen2.5 / Dream (151,643 tokens + 151,387 merges + 24 added tokens, pre qwen2) and
 * GPT-2 (50,257 tokens, pre gpt-2). The test parses the Hugging Face files itself,
 * writes a GGUF with the project's writer and loads it. Expected ids are facts recorded
 * in tests/tok/data/tokenizers/README.md (e.g. "Hello" = 9707) or follow from the byte
 * alphabet; golden sequences come from tests/tok/ref_bpe.py, an independent Python
 * implementation (tok_golden.txt). The data is part of the repository: without it the test
 * fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_compat.h"
#include "fmt/gguf.h"
#include "tok/tok_internal.h"
#include "tok_fixture.h"

static tf_vocab qwen_v, gpt2_v;
static dl_tok *qwen, *gpt2;
static double qwen_load_s;

/* The process's CPU time, not the wall clock: the speed limits below must hold on a
 * machine busy with other work too (a wall clock there measures the other work). */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int load_real(void) {
    if (tf_load_dream_vocab(&qwen_v))
        return -1;
    tf_keys k = tf_keys_dream();
    void *buf;
    size_t size;
    dl_err err = {0};
    dl_gguf *g = NULL;
    if (tf_build_gguf(&qwen_v, &k, &buf, &size, &err) || dl_gguf_open_mem(&g, buf, size, &err)) {
        fprintf(stderr, "qwen gguf: %s\n", err.msg);
        return -1;
    }
    double t0 = now_s();
    int rc = dl_tok_load(&qwen, g, &err);
    qwen_load_s = now_s() - t0;
    dl_gguf_close(g);
    free(buf);
    if (rc) {
        fprintf(stderr, "qwen load: %s\n", err.msg);
        return -1;
    }

    if (tf_parse_into(&gpt2_v, "data/tokenizers/gpt2/gpt2-vocab.json", 0) ||
        tf_parse_into(&gpt2_v, "data/tokenizers/gpt2/gpt2-merges.txt", 1))
        return -1;
    gpt2_v.type[50256] = DL_TOKT_CONTROL;   /* <|endoftext|> */
    k = tf_keys_default("gpt-2");
    k.bos = k.eos = 50256;
    if (tf_load(&gpt2, &gpt2_v, &k, &err)) {
        fprintf(stderr, "gpt2 load: %s\n", err.msg);
        return -1;
    }
    return 0;
}


static void check_round_trip(const dl_tok *t, const char *s, size_t n) {
    size_t cap = n + 16;
    int32_t *ids = malloc(cap * sizeof *ids);
    char *back = malloc(n + 1);
    ck_assert_ptr_nonnull(ids);
    ck_assert_ptr_nonnull(back);
    size_t ni = enc(t, s, n, 0, ids, cap), nb;
    dl_err err = {0};
    ck_assert_int_eq(dl_tok_decode(t, ids, ni, 0, back, n + 1, &nb, &err), 0);
    ck_assert_msg(nb == n && memcmp(back, s, n) == 0, "round trip of %zu bytes differs", n);
    free(ids);
    free(back);
}

START_TEST(test_qwen_load) {
    ck_assert_uint_eq(qwen_v.n, 151667);
    ck_assert_uint_eq(qwen_v.n_merges, 151387);
    ck_assert_int_eq(dl_tok_n_vocab(qwen), 151667);
    ck_assert_int_eq(qwen->n_merges, 151387);   /* every merge's tokens exist */
    const dl_tok_special *sp = dl_tok_specials(qwen);
    ck_assert_int_eq(sp->bos, 151665);
    ck_assert_int_eq(sp->eos, 151643);
    ck_assert_int_eq(sp->pad, 151643);
    ck_assert_int_eq(sp->mask, 151666);
    ck_assert_int_eq(sp->eot, 151645);   /* <|im_end|>, found by name */
    ck_assert_int_eq(sp->add_bos, 0);
    ck_assert_int_eq(dl_tok_chat_style(qwen), DL_CHAT_CHATML);
    ck_assert_int_eq(qwen_v.type[151657], DL_TOKT_USER_DEFINED);
    ck_assert_int_eq(qwen_v.type[151664], DL_TOKT_USER_DEFINED);
    ck_assert_int_eq(qwen_v.type[151665], DL_TOKT_CONTROL);
    fprintf(stderr, "qwen tokenizer load: %.3f s\n", qwen_load_s);
}
END_TEST

START_TEST(test_qwen_known_ids) {
    CHECK_IDS(qwen, "Hello", 0, 9707);
    CHECK_IDS(qwen, " Hello", 0, 21927);
    CHECK_IDS(qwen, "\n", 0, 198);
    CHECK_IDS(qwen, "  ", 0, 256);
    CHECK_IDS(qwen, " the", 0, 279);
    CHECK_IDS(qwen, " ", 0, 220);
    CHECK_IDS(qwen, "!", 0, 0);
    CHECK_IDS(qwen, "\"", 0, 1);
    /* digits one by one; '0'..'9' are ids 15..24 in the byte alphabet's order */
    CHECK_IDS(qwen, "2024", 0, 17, 15, 17, 19);
    CHECK_IDS(qwen, "x 7", 0, 87, 220, 22);   /* 'x' = 0x78 - 0x21 */
    CHECK_IDS(qwen, "Hello Hello", 0, 9707, 21927);
}
END_TEST

START_TEST(test_qwen_special) {
    const uint32_t PS = DIFFLM_TOKENIZE_PARSE_SPECIAL;
    CHECK_IDS(qwen, "<|im_start|>", PS, 151644);
    CHECK_IDS(qwen, "<|im_start|>Hello<|im_end|>\n", PS, 151644, 9707, 151645, 198);
    CHECK_IDS(qwen, "<tool_call>", PS, 151657);
    CHECK_IDS(qwen, "<|mask|><|mask|>", PS, 151666, 151666);
    CHECK_IDS(qwen, "Hello", DIFFLM_TOKENIZE_ADD_BOS, 151665, 9707);
    int32_t ids[64];
    /* without parsing: control tokens are text, user-defined ones still match (HF) */
    size_t n = enc(qwen, "<|im_start|><tool_call>", 23, 0, ids, 64);
    ck_assert_int_eq(ids[n - 1], 151657);
    for (size_t i = 0; i + 1 < n; i++) ck_assert_int_lt(ids[i], 151643);
    check_round_trip(qwen, "<|im_start|><tool_call>", 23);
    /* decode: control tokens only on request, user-defined always */
    const int32_t mixed[] = {151644, 9707, 151657, 151645};
    char out[64];
    ck_assert_int_eq(dl_tok_decode(qwen, mixed, 4, 0, out, sizeof out, &n, NULL), 0);
    ck_assert_uint_eq(n, 16);
    ck_assert_mem_eq(out, "Hello<tool_call>", 16);
    ck_assert_int_eq(dl_tok_decode(qwen, mixed, 4, DIFFLM_DETOKENIZE_SPECIAL, out, sizeof out, &n, NULL), 0);
    ck_assert_uint_eq(n, 38);
    ck_assert_mem_eq(out, "<|im_start|>Hello<tool_call><|im_end|>", 38);
}
END_TEST

static const char *const SAMPLES[] = {
    "The quick brown fox jumps over the lazy dog.",
    "  leading spaces, trailing spaces   ",
    "Line one\nLine two\r\n\n\tTabbed line",
    "I'm sure you'll agree: it's 3.14159, not 22/7!",
    "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C\xEF\xBC\x81",   /* CJK */
    "\xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD emoji \xE2\x9D\xA4\xEF\xB8\x8F",
    "caf\xC3\xA9 na\xC3\xAFve \xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7",
    "def f(x):\n    return x ** 2  # square\n",
    "bad \xFF\xFE bytes \xC3 and \xED\xA0\x80 surrogate \xF4\x90\x80\x80",
};

START_TEST(test_round_trips) {
    for (size_t i = 0; i < sizeof SAMPLES / sizeof SAMPLES[0]; i++) {
        check_round_trip(qwen, SAMPLES[i], strlen(SAMPLES[i]));
        check_round_trip(gpt2, SAMPLES[i], strlen(SAMPLES[i]));
    }
    uint64_t s = 0x243F6A8885A308D3ull;
    char buf[300];
    for (int iter = 0; iter < 400; iter++) {
        size_t n = 0, want = (s >> 7) % sizeof buf;
        while (n < want) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            /* bias toward ASCII so that merges fire, with raw high bytes mixed in */
            uint8_t b = (s & 3) ? (uint8_t)(0x20 + (s >> 8) % 95) : (uint8_t)(s >> 16);
            buf[n++] = (char)b;
        }
        check_round_trip(qwen, buf, n);
        check_round_trip(gpt2, buf, n);
    }
}
END_TEST

typedef struct naive_ctx {
    const dl_tok *t;
    dl_bpe_scratch s;
    size_t pieces;
} naive_ctx;

static int compare_piece(void *user, const uint8_t *p, size_t n) {
    naive_ctx *c = user;
    int32_t a[512], b[512];
    dl_idsink sa = {a, 512, 0}, sb = {b, 512, 0};
    ck_assert_int_eq(dl_bpe_piece(&sa, c->t, p, n, &c->s, NULL), 0);
    ck_assert_int_eq(dl_bpe_piece_naive(&sb, c->t, p, n, NULL), 0);
    ck_assert_uint_eq(sa.n, sb.n);
    ck_assert_mem_eq(a, b, sa.n * sizeof *a);
    c->pieces++;
    return 0;
}

START_TEST(test_bpe_heap_matches_naive) {
    naive_ctx c = {.t = qwen};
    for (size_t i = 0; i < sizeof SAMPLES / sizeof SAMPLES[0] - 1; i++)   /* valid UTF-8 only */
        ck_assert_int_eq(dl_pretok_split(&qwen->pretok, (const uint8_t *)SAMPLES[i], strlen(SAMPLES[i]),
                                         compare_piece, &c, NULL), 0);
    const char *longish = "Supercalifragilisticexpialidocious antidisestablishmentarianism "
                          "pneumonoultramicroscopicsilicovolcanoconiosis                         ";
    ck_assert_int_eq(dl_pretok_split(&qwen->pretok, (const uint8_t *)longish, strlen(longish), compare_piece, &c, NULL), 0);
    c.t = gpt2;
    ck_assert_int_eq(dl_pretok_split(&gpt2->pretok, (const uint8_t *)longish, strlen(longish), compare_piece, &c, NULL), 0);
    ck_assert_uint_gt(c.pieces, 50);
    dl_bpe_scratch_free(&c.s);
}
END_TEST

START_TEST(test_compact_vocab_same_mapping) {
    tf_vocab compact = {0};
    ck_assert_int_eq(tf_parse_into(&compact, "data/tokenizers/qwen2-base-vocab/vocab.json", 0), 0);
    ck_assert_uint_eq(compact.n, 151643);
    for (size_t i = 0; i < compact.n; i++) {
        ck_assert_ptr_nonnull(compact.tok[i]);
        ck_assert_msg(compact.len[i] == qwen_v.len[i] && memcmp(compact.tok[i], qwen_v.tok[i], compact.len[i]) == 0,
                      "token %zu differs", i);
    }
    /* and a tokenizer built from it (no added tokens) encodes the same */
    for (size_t i = 0; i < qwen_v.n_merges; i++)
        ck_assert_int_eq(tf_vocab_merge(&compact, qwen_v.merge[i], strlen(qwen_v.merge[i])), 0);
    tf_keys k = tf_keys_default("qwen2");
    k.with_types = 0;
    dl_tok *t = NULL;
    dl_err err = {0};
    ck_assert_int_eq(tf_load(&t, &compact, &k, &err), 0);
    for (size_t i = 0; i < sizeof SAMPLES / sizeof SAMPLES[0]; i++) {
        int32_t a[512], b[512];
        size_t na = enc(t, SAMPLES[i], strlen(SAMPLES[i]), 0, a, 512);
        size_t nb = enc(qwen, SAMPLES[i], strlen(SAMPLES[i]), 0, b, 512);
        ck_assert_uint_eq(na, nb);
        ck_assert_mem_eq(a, b, na * sizeof *a);
    }
    ck_assert_int_eq(dl_tok_chat_style(t), DL_CHAT_NONE);
    dl_tok_free(t);
    tf_vocab_free(&compact);
}
END_TEST

START_TEST(test_qwen_chat) {
    difflm_chat_message m[] = {{"user", "Hello"}};
    char out[512];
    size_t n;
    dl_err err = {0};
    ck_assert_int_eq(dl_tok_chat(qwen, m, 1, 1, out, sizeof out, &n, &err), 0);
    ck_assert_str_eq(out, "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                          "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");
    int32_t ids[128];
    size_t ni = enc(qwen, out, n, DIFFLM_TOKENIZE_PARSE_SPECIAL, ids, 128);
    ck_assert_int_eq(ids[0], 151644);
    /* "...user\nHello<|im_end|>\n<|im_start|>assistant\n" */
    ck_assert_int_eq(ids[ni - 1], 198);
    ck_assert_int_eq(ids[ni - 3], 151644);
    ck_assert_int_eq(ids[ni - 4], 198);
    ck_assert_int_eq(ids[ni - 5], 151645);
    ck_assert_int_eq(ids[ni - 6], 9707);
    ck_assert_int_eq(ids[ni - 7], 198);
    size_t n_control = 0;
    for (size_t i = 0; i < ni; i++) n_control += ids[i] >= 151643;
    ck_assert_uint_eq(n_control, 5);   /* 3 x im_start, 2 x im_end */
}
END_TEST

START_TEST(test_gpt2) {
    ck_assert_int_eq(dl_tok_n_vocab(gpt2), 50257);
    ck_assert_int_eq(gpt2->n_merges, 50000);
    CHECK_IDS(gpt2, "Hello world", 0, 15496, 995);
    CHECK_IDS(gpt2, "Hello", 0, 15496);
    CHECK_IDS(gpt2, " Hello", 0, 18435);
    CHECK_IDS(gpt2, " the", 0, 262);
    CHECK_IDS(gpt2, "\n", 0, 198);
    CHECK_IDS(gpt2, "Hello<|endoftext|>", DIFFLM_TOKENIZE_PARSE_SPECIAL, 15496, 50256);
    CHECK_IDS(gpt2, "", DIFFLM_TOKENIZE_ADD_BOS, 50256);
    ck_assert_int_eq(dl_tok_chat_style(gpt2), DL_CHAT_NONE);
}
END_TEST

/* Golden sequences from tests/tok/ref_bpe.py: lines "qwen2|gpt2 <hex text> <ids...>". */
START_TEST(test_golden) {
    char *data;
    size_t n;
    char path[4096];
    const char *src = getenv("DIFFLM_SRCDIR");
    snprintf(path, sizeof path, "%s/tests/tok/tok_golden.txt", src && *src ? src : ".");
    ck_assert_msg(tf_read_file(path, &data, &n) == 0, "cannot read %s", path);
    char *line = data, *end = data + n;
    size_t checked = 0;
    while (line < end) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        if (!nl) nl = end;
        *nl = '\0';
        if (*line && *line != '#') {
            char which[16], *p = line;
            int used;
            ck_assert_int_eq(sscanf(p, "%15s%n", which, &used), 1);
            p += used;
            while (*p == ' ') p++;
            char text[2048];
            size_t tn = 0;
            while (p[0] && p[0] != ' ') {
                unsigned b;
                ck_assert_int_eq(sscanf(p, "%2x", &b), 1);
                ck_assert_uint_lt(tn, sizeof text);
                text[tn++] = (char)b;
                p += 2;
            }
            int32_t want[1024];
            size_t nw = 0;
            int v;
            while (sscanf(p, "%d%n", &v, &used) == 1) {
                ck_assert_uint_lt(nw, 1024);
                want[nw++] = v;
                p += used;
            }
            const dl_tok *t = strcmp(which, "qwen2") == 0 ? qwen : gpt2;
            int32_t got[1024];
            size_t ng = enc(t, text, tn, 0, got, 1024);
            ck_assert_msg(ng == nw, "%s \"%.*s\": %zu ids, want %zu", which, (int)tn, text, ng, nw);
            for (size_t i = 0; i < ng; i++)
                ck_assert_msg(got[i] == want[i], "%s \"%.*s\"[%zu]: %d want %d", which, (int)tn, text, i,
                              got[i], want[i]);
            checked++;
        }
        line = nl + 1;
    }
    free(data);
    ck_assert_uint_gt(checked, 20);
}
END_TEST

START_TEST(test_encode_speed) {
    /* ~8 KB of mixed prose */
    size_t cap = 9000, n = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    for (size_t i = 0; n + 400 < cap; i++) {
        const char *s = SAMPLES[i % (sizeof SAMPLES / sizeof SAMPLES[0])];
        memcpy(text + n, s, strlen(s));
        n += strlen(s);
        text[n++] = ' ';
    }
    int32_t *ids = malloc(n * sizeof *ids);
    double t0 = now_s();
    size_t ni = enc(qwen, text, n, 0, ids, n);
    double dt = now_s() - t0;
    fprintf(stderr, "qwen encode: %zu bytes -> %zu ids in %.2f ms\n", n, ni, dt * 1e3);
    free(ids);
    free(text);
}
END_TEST

/* The Dream folder as shipped (slow files: vocab.json, merges.txt, added_tokens.json,
 * tokenizer_config.json, special_tokens_map.json) through dl_tok_load_hf: the same
 * tokenizer as the GGUF written from those files. */
START_TEST(test_hf_folder_slow) {
    char dir[4096];
    dl_tok *t = NULL;
    dl_err err = {0};
    ck_assert_msg(dl_tok_load_hf(&t, tf_shared_path(dir, sizeof dir, "data/tokenizers/dream-v0-instruct-7b"), &err) == 0,
                  "%s", err.msg);
    ck_assert_int_eq(dl_tok_n_vocab(t), 151667);
    ck_assert_int_eq(t->n_merges, 151387);
    const dl_tok_special *sp = dl_tok_specials(t);
    ck_assert_int_eq(sp->bos, 151665);
    ck_assert_int_eq(sp->eos, 151643);
    ck_assert_int_eq(sp->pad, 151643);
    ck_assert_int_eq(sp->mask, 151666);
    ck_assert_int_eq(sp->eot, 151645);
    ck_assert_int_eq(sp->add_bos, 0);
    ck_assert_int_eq(dl_tok_chat_style(t), DL_CHAT_CHATML);
    for (int32_t id = 0; id < t->n_vocab; id++) {
        size_t a, b;
        const char *x = dl_tok_text(t, id, &a), *y = dl_tok_text(qwen, id, &b);
        ck_assert_msg(a == b && memcmp(x, y, a) == 0 && t->type[id] == qwen->type[id], "token %d differs", id);
    }
    for (size_t i = 0; i < sizeof SAMPLES / sizeof SAMPLES[0]; i++)
        for (uint32_t fl = 0; fl < 4; fl++) {
            int32_t a[512], b[512];
            size_t na = enc(t, SAMPLES[i], strlen(SAMPLES[i]), fl, a, 512);
            size_t nb = enc(qwen, SAMPLES[i], strlen(SAMPLES[i]), fl, b, 512);
            ck_assert_uint_eq(na, nb);
            ck_assert_mem_eq(a, b, na * sizeof *a);
        }
    CHECK_IDS(t, "<|im_start|>Hello<|im_end|>\n", DIFFLM_TOKENIZE_PARSE_SPECIAL, 151644, 9707, 151645, 198);
    /* NFC: "cafe" + U+0301 is "caf\u00e9" */
    CHECK_IDS(t, "cafe\xCC\x81", 0, 924, 58858);
    /* config.json-style overrides */
    dl_tok_special o = dl_tok_special_keep();
    o.bos = -1;
    o.eos = 151645;
    ck_assert_int_eq(dl_tok_set_specials(t, &o, &err), 0);
    ck_assert_int_eq(dl_tok_specials(t)->bos, -1);
    ck_assert_int_eq(dl_tok_specials(t)->eos, 151645);
    ck_assert_int_eq(dl_tok_specials(t)->mask, 151666);
    CHECK_IDS(t, "Hello", DIFFLM_TOKENIZE_ADD_BOS, 9707);
    o = dl_tok_special_keep();
    o.mask = 151667;   /* outside: nothing changes */
    ck_assert_int_eq(dl_tok_set_specials(t, &o, &err), DIFFLM_E_INVALID_ARG);
    ck_assert_int_eq(dl_tok_specials(t)->mask, 151666);
    dl_tok_free(t);
    /* a folder without tokenizer files */
    ck_assert_int_eq(dl_tok_load_hf(&t, tf_shared_path(dir, sizeof dir, "data"), &err), DIFFLM_E_IO);
    ck_assert_ptr_null(t);
}
END_TEST

int main(void) {
    char path[4096];
    FILE *f = fopen(tf_shared_path(path, sizeof path, "data/tokenizers/dream-v0-instruct-7b/vocab.json"), "rb");
    if (!f) {
        fprintf(stderr, "no tokenizer data at %s (tests/tok/data/tokenizers, or DIFFLM_SHARED)\n", path);
        return EXIT_FAILURE;
    }
    fclose(f);
    if (load_real()) return EXIT_FAILURE;
    Suite *s = suite_create("tok_real");
    TCase *tc = tcase_create("real");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_qwen_load);
    tcase_add_test(tc, test_qwen_known_ids);
    tcase_add_test(tc, test_qwen_special);
    tcase_add_test(tc, test_round_trips);
    tcase_add_test(tc, test_bpe_heap_matches_naive);
    tcase_add_test(tc, test_compact_vocab_same_mapping);
    tcase_add_test(tc, test_qwen_chat);
    tcase_add_test(tc, test_gpt2);
    tcase_add_test(tc, test_golden);
    tcase_add_test(tc, test_encode_speed);
    tcase_add_test(tc, test_hf_folder_slow);
    suite_add_tcase(s, tc);
    int rc = dl_run_suite(s);
    dl_tok_free(qwen);
    dl_tok_free(gpt2);
    tf_vocab_free(&qwen_v);
    tf_vocab_free(&gpt2_v);
    return rc;
}
