/* test_tok_hf.c - difflm's tokenizer against the real Hugging Face tokenizers library.
 *
 * tests/tok/hf_compare.sh installs the npm package @anush008/tokenizers (tokenizers'
 * Rust core), runs hf_ref.js, which writes tokenizer.json folders built from the
 * repository's vocabularies and OUT/ref.txt with the library's ids, then runs this with
 * OUT: every line's text must encode to exactly those ids, through dl_tok_load_hf on
 * the folder and, for the qwen2 / gpt2 / llama3 folders, through a GGUF of the same
 * vocabulary (tokenizer.ggml.pre qwen2 / gpt-2 / llama-bpe). Lines with flags 0/1 come
 * from the same tokenizer without its special tokens: difflm without PARSE_SPECIAL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "check_compat.h"
#include "fmt/gguf.h"
#include "tok/tok_internal.h"
#include "tok_fixture.h"

static const char *out_dir;

#define MAX_TOK 32
static struct { char name[64]; dl_tok *t; } loaded[MAX_TOK];
static int n_loaded;
static dl_tok *gguf_qwen, *gguf_gpt2, *gguf_llama;

static dl_tok *folder(const char *name) {
    for (int i = 0; i < n_loaded; i++)
        if (strcmp(loaded[i].name, name) == 0) return loaded[i].t;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", out_dir, name);
    dl_err err = {0};
    dl_tok *t = NULL;
    ck_assert_msg(dl_tok_load_hf(&t, dir, &err) == 0, "%s: %s", dir, err.msg);
    ck_assert_int_lt(n_loaded, MAX_TOK);
    snprintf(loaded[n_loaded].name, sizeof loaded[n_loaded].name, "%s", name);
    loaded[n_loaded++].t = t;
    return t;
}

static void load_ggufs(void) {
    static tf_vocab q, g;
    ck_assert_int_eq(tf_load_dream_vocab(&q), 0);
    dl_err err = {0};
    tf_keys k = tf_keys_default("qwen2");
    ck_assert_msg(tf_load(&gguf_qwen, &q, &k, &err) == 0, "%s", err.msg);
    k = tf_keys_default("llama-bpe");
    k.bos = 151665;
    ck_assert_msg(tf_load(&gguf_llama, &q, &k, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(tf_parse_into(&g, "data/tokenizers/gpt2/gpt2-vocab.json", 0), 0);
    ck_assert_int_eq(tf_parse_into(&g, "data/tokenizers/gpt2/gpt2-merges.txt", 1), 0);
    g.type[50256] = DL_TOKT_CONTROL;
    k = tf_keys_default("gpt-2");
    ck_assert_msg(tf_load(&gguf_gpt2, &g, &k, &err) == 0, "%s", err.msg);
    tf_vocab_free(&q);
    tf_vocab_free(&g);
}

static void check_one(const dl_tok *t, const char *what, const char *text, size_t tn, uint32_t flags,
                      const int32_t *want, size_t nw, size_t *bad) {
    int32_t got[4096];
    size_t ng = enc(t, text, tn, flags, got, 4096);
    int same = ng == nw && memcmp(got, want, nw * sizeof *got) == 0;
    if (!same && (*bad)++ < 20) {
        fprintf(stderr, "%s flags %u \"%.*s\": got", what, flags, (int)tn, text);
        for (size_t i = 0; i < ng && i < 40; i++) fprintf(stderr, " %d", got[i]);
        fprintf(stderr, "\n  want");
        for (size_t i = 0; i < nw && i < 40; i++) fprintf(stderr, " %d", want[i]);
        fprintf(stderr, "\n");
    }
}

START_TEST(test_against_hf) {
    char path[4096], *data;
    size_t n;
    snprintf(path, sizeof path, "%s/ref.txt", out_dir);
    ck_assert_msg(tf_read_file(path, &data, &n) == 0, "cannot read %s", path);
    load_ggufs();
    size_t checked = 0, bad = 0, gguf_checked = 0;
    static char text[65536];
    static int32_t want[4096];
    for (char *line = data, *end = data + n; line < end;) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        if (!nl) nl = end;
        *nl = '\0';
        char name[64];
        unsigned flags;
        int used;
        if (sscanf(line, "%63s %u %n", name, &flags, &used) == 2) {
            char *p = line + used;
            size_t tn = 0;
            if (*p == '-') p++;
            while (*p && *p != ' ') {
                unsigned b;
                ck_assert_int_eq(sscanf(p, "%2x", &b), 1);
                ck_assert_uint_lt(tn, sizeof text);
                text[tn++] = (char)b;
                p += 2;
            }
            size_t nw = 0;
            int v;
            while (sscanf(p, "%d%n", &v, &used) == 1) {
                ck_assert_uint_lt(nw, 4096);
                want[nw++] = v;
                p += used;
            }
            check_one(folder(name), name, text, tn, flags, want, nw, &bad);
            const dl_tok *g = strcmp(name, "qwen2") == 0 ? gguf_qwen : strcmp(name, "gpt2") == 0 ? gguf_gpt2
                            : strcmp(name, "llama3") == 0 ? gguf_llama : NULL;
            if (g) {
                char what[80];
                snprintf(what, sizeof what, "gguf %s", name);
                check_one(g, what, text, tn, flags, want, nw, &bad);
                gguf_checked++;
            }
            checked++;
        }
        line = nl + 1;
    }
    free(data);
    fprintf(stderr, "tok_hf: %zu encodings compared (%zu also through GGUF), %zu differ\n", checked, gguf_checked, bad);
    ck_assert_uint_gt(checked, 5000);
    ck_assert_uint_gt(gguf_checked, 1000);
    ck_assert_uint_eq(bad, 0);
}
END_TEST

/* Any byte string survives encode then decode (tokenizers whose pipeline keeps the text). */
START_TEST(test_round_trip) {
    static const char *const names[] = {"gpt2", "runs", "llama3", "split_Isolated_plain", "split_MergedWithNext_inv",
                                        "split_Contiguous_plain"};
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const dl_tok *t = folder(names[k]);
        char buf[200], back[200];
        int32_t ids[400];
        for (int iter = 0; iter < 200; iter++) {
            size_t n = 0, want = (s >> 9) % sizeof buf;
            while (n < want) {
                s ^= s << 13, s ^= s >> 7, s ^= s << 17;
                buf[n++] = (s & 3) ? (char)(0x20 + (s >> 8) % 95) : (char)(s >> 16);
            }
            size_t ni = enc(t, buf, n, 0, ids, 400), nb;
            ck_assert_int_eq(dl_tok_decode(t, ids, ni, 0, back, sizeof back, &nb, NULL), 0);
            ck_assert_msg(nb == n && memcmp(back, buf, n) == 0, "%s: round trip of %zu bytes differs", names[k], n);
        }
    }
}
END_TEST

/* One component of a real tokenizer.json replaced: the load fails with the status and a
 * message naming it. */
START_TEST(test_bad_components) {
    static const struct { const char *key, *json, *named; int status; } cases[] = {
        {"model", "{\"type\": \"WordPiece\", \"vocab\": {}}", "WordPiece", DIFFLM_E_UNSUPPORTED},
        {"normalizer", "{\"type\": \"Lowercase\"}", "Lowercase", DIFFLM_E_UNSUPPORTED},
        {"pre_tokenizer", "{\"type\": \"Metaspace\"}", "Metaspace", DIFFLM_E_UNSUPPORTED},
        {"pre_tokenizer", "null", "ByteLevel", DIFFLM_E_UNSUPPORTED},
        {"decoder", "{\"type\": \"WordPiece\"}", "WordPiece", DIFFLM_E_UNSUPPORTED},
        {"post_processor", "{\"type\": \"BertProcessing\"}", "BertProcessing", DIFFLM_E_UNSUPPORTED},
        {"pre_tokenizer", "{\"type\": \"Split\", \"pattern\": {\"Regex\": \" \"}, \"behavior\": \"Sideways\"}",
         "Sideways", DIFFLM_E_UNSUPPORTED},
        {"added_tokens", "[{\"id\": 3, \"content\": \"<zz>\"}]", "added token '<zz>'", DIFFLM_E_FORMAT},
        {"added_tokens", "[{\"content\": \"<zz>\"}]", "added_tokens[0]", DIFFLM_E_FORMAT},
    };
    char src[4096], dir[4096], dst[4200];
    snprintf(src, sizeof src, "%s/gpt2/tokenizer.json", out_dir);
    snprintf(dir, sizeof dir, "%s/bad", out_dir);
    snprintf(dst, sizeof dst, "%s/tokenizer.json", dir);
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_error_t je;
        json_t *root = json_load_file(src, 0, &je), *v = json_loads(cases[i].json, JSON_DECODE_ANY, &je);
        ck_assert_ptr_nonnull(root);
        ck_assert_ptr_nonnull(v);
        ck_assert_int_eq(json_object_set_new(root, cases[i].key, v), 0);
        ck_assert_int_eq(json_dump_file(root, dst, 0), 0);
        json_decref(root);
        dl_tok *t = NULL;
        dl_err err = {0};
        ck_assert_int_eq(dl_tok_load_hf(&t, dir, &err), cases[i].status);
        ck_assert_ptr_null(t);
        ck_assert_msg(strstr(err.msg, cases[i].named), "case %zu: '%s' does not name %s", i, err.msg, cases[i].named);
    }
    /* malformed JSON: E_FORMAT with the file and line */
    FILE *f = fopen(dst, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"model\": {\n  \"vocab\": [", f);
    fclose(f);
    dl_tok *t = NULL;
    dl_err err = {0};
    ck_assert_int_eq(dl_tok_load_hf(&t, dir, &err), DIFFLM_E_FORMAT);
    ck_assert_msg(strstr(err.msg, "tokenizer.json: line"), "%s", err.msg);
}
END_TEST

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_tok_hf OUT (run by tests/tok/hf_compare.sh)\n");
        return EXIT_FAILURE;
    }
    out_dir = argv[1];
    Suite *s = suite_create("tok_hf");
    TCase *tc = tcase_create("hf");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_against_hf);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_bad_components);
    suite_add_tcase(s, tc);
    int rc = dl_run_suite(s);
    for (int i = 0; i < n_loaded; i++) dl_tok_free(loaded[i].t);
    dl_tok_free(gguf_qwen);
    dl_tok_free(gguf_gpt2);
    dl_tok_free(gguf_llama);
    return rc;
}
