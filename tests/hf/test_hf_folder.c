/* test_hf_folder.c - folders laid out like the published checkpoints (hf_folder.h,
 * hf_write_published) against the GGUF fixtures they hold the weights of, through the
 * public calls: LLaDA-8B-Instruct-like (tokenizer.json, tokenizer_config.json with the
 * chat template and model_max_length 10^30, generation_config.json, three BF16 shards and
 * their index), iLLaDA-8B-Instruct-like (GQA, tied head, mask id 5) and
 * Dream-v0-Instruct-7B-like (the slow tokenizer files only, BF16 shards). Each must load,
 * tokenize every test string (tests/tok/data/hf_strings.hex) to the GGUF's ids, render
 * its own chat template to the text the published template gives, give the GGUF's
 * logits bit for bit and greedy-generate the GGUF's tokens. The GGUF's F32 vectors are
 * rounded to BF16 values first, so that the all-BF16 folder holds the same numbers.
 * DIFFLM_TEST_QUICK (the valgrind setup) tokenizes every 7th string only.
 *
 *     test_hf_folder                plain tests
 *     test_hf_folder --write OUT    writes the three folders into OUT (for hf_folder_ref.sh)
 *     test_hf_folder --ref OUT      compares them with OUT/ref.txt, Hugging Face's ids */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_compat.h"
#include "difflm.h"
#include "hf_folder.h"
#include "hf_templates.h"
#include "kernels/kernels.h"
#include "model_tiny.h"
#include "tok/tok.h"

typedef struct pub {
    const char *name;           /* the folder's name under OUT */
    int32_t arch, n_head_kv, tied, mask_id, shards;
    int32_t n_vocab;            /* embedding rows; 0: exactly the tokenizer's */
} pub;

static const pub k_pub[] = {
    { "llada-8b-instruct", DIFFLM_ARCH_LLADA, 4, 0, 5, 3, 0 },
    { "illada-8b-instruct", DIFFLM_ARCH_LLADA, 2, 1, 5, 2, 0 },
    { "dream-v0-instruct-7b", DIFFLM_ARCH_DREAM, 2, 0, 5, 2, 0 },
    /* rows past the tokenizer, as Dream's 152064 over 151667 tokens: the folder never
     * predicts them (the GGUF's [PAD] fillers are tokens and may be predicted) */
    { "dream-padded", DIFFLM_ARCH_DREAM, 2, 0, 5, 2, 512 },
};
#define N_PUB 4

/* ---- the test strings */

static char **g_str;
static size_t *g_len, g_n_str;

static void load_strings(void) {
    if (g_str)
        return;
    const char *src = getenv("DIFFLM_SRCDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/tok/data/hf_strings.hex", src ? src : ".");
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s (DIFFLM_SRCDIR)", path);
    static char line[65536];
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\n");
        line[n] = '\0';
        if (g_n_str == cap) {
            cap = cap ? cap * 2 : 512;
            g_str = realloc(g_str, cap * sizeof *g_str);
            g_len = realloc(g_len, cap * sizeof *g_len);
        }
        char *s = malloc(n / 2 + 1);
        size_t k = 0;
        for (size_t i = 0; line[0] != '-' && i + 1 < n; i += 2) {
            unsigned b;
            ck_assert_int_eq(sscanf(line + i, "%2x", &b), 1);
            s[k++] = (char)b;
        }
        s[k] = '\0';
        g_str[g_n_str] = s;
        g_len[g_n_str++] = k;
    }
    fclose(f);
    ck_assert_uint_gt(g_n_str, 250);
}

/* ---- the fixtures */

/* The GGUF (BF16 matrices, F32 vectors rounded to BF16 values) at gguf, the published
 * folder of the same weights at dir. */
static void make_pair(const pub *p, const char *gguf, const char *dir) {
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, p->arch);
    s.n_head_kv = p->n_head_kv;
    s.tied = p->tied;
    s.mask_id = p->mask_id;
    s.wtype = DL_TYPE_BF16;
    s.n_vocab = p->n_vocab ? p->n_vocab : dl_tiny_min_vocab();
    s.seed = 21 + (uint64_t)p->arch * 3 + (uint64_t)p->tied;
    void *buf;
    size_t n;
    dl_err err;
    ck_assert_int_eq(dl_tiny_to_buffer(&s, &buf, &n, &err), 0);
    dl_gguf *g;
    ck_assert_int_eq(dl_gguf_open_mem(&g, buf, n, &err), 0);
    for (size_t i = 0; i < dl_gguf_n_tensors(g); i++) {
        const dl_gguf_tensor *t = dl_gguf_tensor_at(g, i);
        if (t->type != DL_TYPE_F32)
            continue;
        float *v = (float *)t->data;   /* inside buf, which is ours */
        for (size_t k = 0; k < t->size / 4; k++)
            v[k] = dl_bf16_to_f32(dl_f32_to_bf16(v[k]));
    }
    FILE *f = fopen(gguf, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
    mkdir(dir, 0700);
    hf_folder_opts o = { p->shards, p->mask_id, 1 };
    ck_assert_int_eq(hf_write_published(g, dir, &o), 0);
    dl_gguf_close(g);
    free(buf);
}

static difflm_ctx *open_ctx(const char *path) {
    difflm_params p;
    difflm_params_init(&p);
    p.model_path = path;
    p.n_threads = 2;
    p.max_canvas = 256;
    int st;
    difflm_ctx *c = difflm_create(&p, &st);
    ck_assert_msg(c != NULL, "create %s: %s (%s)", path, difflm_status_str(st), difflm_last_error(NULL));
    return c;
}

static void keep_log(int32_t level, const char *message, void *user) {
    (void)level;
    snprintf(user, 1024, "%s", message);
}

/* difflm_create's status; its error message (through the log) into msg[1024]. */
static int create_status(const char *path, char *msg) {
    difflm_params p;
    difflm_params_init(&p);
    p.model_path = path;
    p.n_threads = 1;
    p.log_fn = keep_log;
    p.log_user = msg;
    msg[0] = '\0';
    int st;
    difflm_ctx *c = difflm_create(&p, &st);
    difflm_free(c);
    return c ? 0 : st;
}

static size_t tokenize(difflm_ctx *c, const char *s, size_t n, uint32_t flags, difflm_token *out, size_t cap) {
    size_t got = 0;
    int rc = difflm_tokenize(c, s, n, flags, out, cap, &got);
    ck_assert_msg(rc == DIFFLM_OK, "tokenize: %s", difflm_last_error(c));
    return got;
}

static char *chat(difflm_ctx *c, const difflm_chat_message *m, size_t n) {
    size_t need = 0;
    int rc = difflm_chat_format(c, m, n, 1, NULL, 0, &need);
    ck_assert_msg(rc == DIFFLM_E_BUFFER_TOO_SMALL, "chat: %s", difflm_last_error(c));
    char *out = malloc(need + 1);
    ck_assert_int_eq(difflm_chat_format(c, m, n, 1, out, need + 1, &need), DIFFLM_OK);
    return out;
}

/* Greedy generation from prompt to DONE; the canvas into out (cap ids), its length returned. */
static size_t generate(difflm_ctx *c, const difflm_token *prompt, size_t n, difflm_token *out, size_t cap) {
    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.gen_length = 24;
    g.steps = 12;
    g.block_length = 8;
    ck_assert_msg(difflm_generate_begin(c, prompt, n, &g) == DIFFLM_OK, "%s", difflm_last_error(c));
    int rc;
    while ((rc = difflm_generate_step(c)) == DIFFLM_OK) {
    }
    ck_assert_int_eq(rc, DIFFLM_DONE);
    size_t got;
    ck_assert_int_eq(difflm_canvas(c, out, cap, &got), DIFFLM_OK);
    return got;
}

static char g_tmp[256];

static void paths(int i, char *gguf, char *dir) {
    snprintf(gguf, 300, "%s/%s.gguf", g_tmp, k_pub[i].name);
    snprintf(dir, 300, "%s/%s", g_tmp, k_pub[i].name);
}

START_TEST(published_like_gguf) {
    const pub *p = &k_pub[_i];
    char gguf[300], dir[300];
    paths(_i, gguf, dir);
    make_pair(p, gguf, dir);
    load_strings();
    difflm_ctx *a = open_ctx(gguf), *b = open_ctx(dir);
    difflm_model_info ia = { .struct_size = sizeof ia }, ib = { .struct_size = sizeof ib };
    ck_assert_int_eq(difflm_model_info_get(a, &ia), DIFFLM_OK);
    ck_assert_int_eq(difflm_model_info_get(b, &ib), DIFFLM_OK);
    ck_assert_int_eq(ia.arch, ib.arch);
    ck_assert_int_eq(ia.n_vocab, ib.n_vocab);
    ck_assert_int_eq(ia.n_head_kv, ib.n_head_kv);
    ck_assert_int_eq(ib.n_head_kv, p->n_head_kv);
    ck_assert_uint_eq(ia.n_params, ib.n_params);
    ck_assert_int_eq(ia.shift_logits, ib.shift_logits);
    ck_assert_int_eq(ib.mask_id, p->mask_id);
    if (p->n_vocab) {   /* the last row has no token: it decodes to nothing, special or not */
        const difflm_token last[2] = { ib.n_vocab - 1, ib.n_vocab };
        char txt[16];
        size_t nt = 99;
        ck_assert_int_eq(difflm_detokenize(b, last, 1, 0, txt, sizeof txt, &nt), DIFFLM_OK);
        ck_assert_uint_eq(nt, 0);
        ck_assert_int_eq(difflm_detokenize(b, last, 1, DIFFLM_DETOKENIZE_SPECIAL, txt, sizeof txt, &nt),
                         DIFFLM_OK);
        ck_assert_uint_eq(nt, 0);
        ck_assert_int_eq(difflm_detokenize(b, last + 1, 1, 0, txt, sizeof txt, &nt), DIFFLM_E_INVALID_ARG);
    }
    ck_assert_int_eq(ia.bos_id, ib.bos_id);
    ck_assert_int_eq(ia.eos_id, ib.eos_id);
    ck_assert_int_eq(ia.eot_id, ib.eot_id);
    ck_assert_int_eq(ib.add_bos, 0);   /* add_bos_token false, as published */

    /* the same ids for every test string, with and without special tokens and BOS */
    static difflm_token ta[8192], tb[8192];
    size_t compared = 0, differ = 0;
    const size_t stride = getenv("DIFFLM_TEST_QUICK") ? 7 : 1;   /* valgrind: every 7th string */
    for (size_t k = 0; k < g_n_str; k += stride)
        for (uint32_t fl = 0; fl < 4; fl++) {
            size_t na = tokenize(a, g_str[k], g_len[k], fl, ta, 8192);
            size_t nb = tokenize(b, g_str[k], g_len[k], fl, tb, 8192);
            compared++;
            if (na != nb || memcmp(ta, tb, na * sizeof *ta) != 0) {
                if (differ++ < 5)
                    fprintf(stderr, "%s: string %zu flags %u: %zu ids vs %zu\n", p->name, k, fl, na, nb);
            }
        }
    ck_assert_uint_ge(compared, 1000 / stride);
    ck_assert_msg(differ == 0, "%s: %zu of %zu tokenizations differ", p->name, differ, compared);

    /* the folder's own chat template */
    const difflm_chat_message conv[] = { { "user", "  What is 2+2?\n" } };
    char *fb = chat(b, conv, 1);
    const char *want = p->arch == DIFFLM_ARCH_LLADA
        ? "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\n"
        : "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n  What is 2+2?\n"
          "<|im_end|>\n<|im_start|>assistant\n";
    ck_assert_str_eq(fb, want);

    /* the same logits and the same greedy tokens from the rendered prompt */
    size_t np = tokenize(b, fb, strlen(fb), DIFFLM_TOKENIZE_PARSE_SPECIAL, tb, 8192);
    ck_assert_uint_eq(tokenize(a, fb, strlen(fb), DIFFLM_TOKENIZE_PARSE_SPECIAL, ta, 8192), np);
    ck_assert_int_eq(memcmp(ta, tb, np * sizeof *ta), 0);
    ck_assert_int_eq(tb[0], p->arch == DIFFLM_ARCH_LLADA ? 0 : 6);   /* BOS, once; or <|im_start|> */
    difflm_token seq[256];
    ck_assert_uint_lt(np + 24, 256);
    memcpy(seq, tb, np * sizeof *seq);
    for (size_t k = np; k < np + 16; k++)
        seq[k] = ib.mask_id;
    size_t cap = (np + 16) * (size_t)ia.n_vocab, n1, n2;
    float *la = malloc(cap * sizeof *la), *lb = malloc(cap * sizeof *lb);
    ck_assert_int_eq(difflm_logits(a, seq, np + 16, NULL, 0, la, cap, &n1), DIFFLM_OK);
    ck_assert_int_eq(difflm_logits(b, seq, np + 16, NULL, 0, lb, cap, &n2), DIFFLM_OK);
    ck_assert_uint_eq(n1, n2);
    ck_assert_msg(memcmp(la, lb, n1 * sizeof *la) == 0, "%s: logits differ", p->name);
    free(la);
    free(lb);
    difflm_token ga[256], gb[256];
    size_t na = generate(a, seq, np, ga, 256), nb = generate(b, seq, np, gb, 256);
    ck_assert_uint_eq(na, nb);
    ck_assert_uint_eq(nb, np + 24);
    /* rows past the folder's tokenizer (n_vocab set) are predicted as the GGUF's [PAD]s */
    ck_assert_msg(memcmp(ga, gb, na * sizeof *ga) == 0, "%s: greedy tokens differ", p->name);
    for (size_t k = np; k < nb; k++) {
        ck_assert_int_ne(gb[k], ib.mask_id);
        ck_assert_int_lt(gb[k], ib.n_vocab);
    }
    free(fb);
    difflm_free(a);
    difflm_free(b);
}
END_TEST

static void put_file(const char *dir, const char *name, const char *text) {
    char p[400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static char *get_file(const char *dir, const char *name) {
    char p[400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    char *s = calloc(1, 1 << 20);
    ck_assert_uint_lt(fread(s, 1, (1 << 20) - 1, f), (1 << 20) - 1);
    fclose(f);
    return s;
}

/* tokenizer_config.json's chat_template as a list, generation_config.json's forms, the
 * config's vocab_size against the embedding, the embedded templates against the files. */
START_TEST(folder_files) {
    char gguf[300], dir[300], msg[1024];
    paths(0, gguf, dir);
    make_pair(&k_pub[0], gguf, dir);
    char *tc = get_file(dir, "tokenizer_config.json");
    ck_assert_ptr_nonnull(strstr(tc, "\"model_max_length\": 1000000000000000019884624838656"));

    /* a list of named templates: "default" is used; without one, chat fails */
    json_error_t je;
    json_t *j = json_loads(tc, JSON_DECODE_INT_AS_REAL, &je);
    ck_assert_ptr_nonnull(j);
    json_t *list = json_pack("[{s:s,s:s},{s:s,s:s}]", "name", "tool_use", "template", "{{ 'tools!' }}", "name",
                             "default", "template", k_llada_template);
    json_object_set_new(j, "chat_template", list);
    char *text = json_dumps(j, 0);
    put_file(dir, "tokenizer_config.json", text);
    free(text);
    const difflm_chat_message conv[] = { { "user", "Hi" } };
    difflm_ctx *c = open_ctx(dir);
    char *out = chat(c, conv, 1);
    ck_assert_str_eq(out, "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                          "<|start_header_id|>assistant<|end_header_id|>\n\n");
    free(out);
    difflm_free(c);
    json_array_remove(list, 1);
    text = json_dumps(j, 0);
    put_file(dir, "tokenizer_config.json", text);
    free(text);
    c = open_ctx(dir);
    char buf[512];
    size_t n;
    ck_assert_int_eq(difflm_chat_format(c, conv, 1, 1, buf, sizeof buf, &n), DIFFLM_E_UNSUPPORTED);
    ck_assert_msg(strstr(difflm_last_error(c), "default"), "%s", difflm_last_error(c));
    difflm_free(c);
    json_object_set_new(j, "chat_template", json_integer(3));
    text = json_dumps(j, 0);
    put_file(dir, "tokenizer_config.json", text);
    free(text);
    ck_assert_int_eq(create_status(dir, msg), DIFFLM_E_FORMAT);
    ck_assert_msg(strstr(msg, "chat_template"), "%s", msg);
    json_decref(j);
    put_file(dir, "tokenizer_config.json", tc);
    free(tc);

    /* generation_config.json: an id or a list; the first is the EOS */
    difflm_model_info info = { .struct_size = sizeof info };
    put_file(dir, "generation_config.json", "{\"eos_token_id\": [7, 1]}");
    c = open_ctx(dir);
    ck_assert_int_eq(difflm_model_info_get(c, &info), DIFFLM_OK);
    ck_assert_int_eq(info.eos_id, 7);
    ck_assert_int_eq(info.eot_id, 4);   /* the vocabulary's <|eot_id|> */
    difflm_free(c);
    put_file(dir, "generation_config.json", "{\"eos_token_id\": 9999}");
    ck_assert_int_eq(create_status(dir, msg), DIFFLM_E_FORMAT);
    ck_assert_msg(strstr(msg, "eos_token_id 9999"), "%s", msg);
    put_file(dir, "generation_config.json", "{\"eos_token_id\": 1}");

    /* config.json's vocab_size must be the embedding's rows */
    char *cfg = get_file(dir, "config.json");
    char key[64], want[128];
    int rows = dl_tiny_min_vocab();
    snprintf(key, sizeof key, "\"vocab_size\":%d,", rows);
    char *at = strstr(cfg, key);
    ck_assert_ptr_nonnull(at);
    memcpy(at, "\"vocab_size\":999,", strlen(key));   /* same length: three digits */
    put_file(dir, "config.json", cfg);
    ck_assert_int_eq(create_status(dir, msg), DIFFLM_E_FORMAT);
    snprintf(want, sizeof want, "vocab_size is 999, but the embedding has %d rows", rows);
    ck_assert_msg(strstr(msg, want), "%s", msg);
    free(cfg);

    /* the templates the folders carry are the published files' */
    const char *src = getenv("DIFFLM_SRCDIR");
    const char *files[] = { "llada-8b-instruct", "dream-v0-instruct-7b" };
    const char *tpls[] = { k_llada_template, k_dream_template };
    for (int k = 0; k < 2; k++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/tests/tok/data/tokenizers/%s/tokenizer_config.json", src ? src : ".", files[k]);
        json_t *r = json_load_file(p, JSON_DECODE_INT_AS_REAL, &je);
        ck_assert_msg(r != NULL, "%s: %s", p, je.text);
        ck_assert_str_eq(json_string_value(json_object_get(r, "chat_template")), tpls[k]);
        json_decref(r);
    }
}
END_TEST

/* ---- the comparison with Hugging Face's library (hf_folder_ref.sh) */

START_TEST(write_folders) {
    mkdir(g_tmp, 0700);
    for (int i = 0; i < N_PUB; i++) {
        char gguf[300], dir[300];
        paths(i, gguf, dir);
        make_pair(&k_pub[i], gguf, dir);
    }
}
END_TEST

/* OUT/ref.txt: "<folder> <flags> <text hex> <ids>" (hf_folder_ref.js); every line must
 * match through the folder and through its GGUF. */
START_TEST(against_hf) {
    char path[4096];
    snprintf(path, sizeof path, "%s/ref.txt", g_tmp);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    difflm_ctx *ctx[N_PUB][2];
    for (int i = 0; i < N_PUB; i++) {
        char gguf[300], dir[300];
        paths(i, gguf, dir);
        ctx[i][0] = open_ctx(dir);
        ctx[i][1] = open_ctx(gguf);
    }
    static char line[1 << 17], text[1 << 16];
    static difflm_token want[8192], got[8192];
    size_t checked = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        char name[64];
        unsigned flags;
        int used;
        if (sscanf(line, "%63s %u %n", name, &flags, &used) != 2)
            continue;
        int which = -1;
        for (int i = 0; i < N_PUB; i++)
            if (strcmp(name, k_pub[i].name) == 0)
                which = i;
        ck_assert_int_ge(which, 0);
        char *p = line + used;
        size_t tn = 0, nw = 0;
        if (*p == '-')
            p++;
        while (*p && *p != ' ' && *p != '\n') {
            unsigned b;
            ck_assert_int_eq(sscanf(p, "%2x", &b), 1);
            text[tn++] = (char)b;
            p += 2;
        }
        int v;
        while (sscanf(p, "%d%n", &v, &used) == 1) {
            want[nw++] = v;
            p += used;
        }
        for (int k = 0; k < 2; k++) {
            size_t ng = tokenize(ctx[which][k], text, tn, flags, got, 8192);
            if ((ng != nw || memcmp(got, want, nw * sizeof *got) != 0) && bad++ < 10) {
                fprintf(stderr, "%s (%s) flags %u \"%.*s\":", name, k ? "gguf" : "folder", flags, (int)tn, text);
                for (size_t q = 0; q < ng && q < 40; q++)
                    fprintf(stderr, " %d", got[q]);
                fprintf(stderr, "\n  Hugging Face:");
                for (size_t q = 0; q < nw && q < 40; q++)
                    fprintf(stderr, " %d", want[q]);
                fprintf(stderr, "\n");
            }
        }
        checked++;
    }
    fclose(f);
    for (int i = 0; i < N_PUB; i++) {
        difflm_free(ctx[i][0]);
        difflm_free(ctx[i][1]);
    }
    fprintf(stderr, "hf_folder_ref: %zu encodings compared with Hugging Face's, %zu differ\n", checked, bad);
    ck_assert_uint_ge(checked, 3 * 2 * 250);
    ck_assert_uint_eq(bad, 0);
}
END_TEST

int main(int argc, char **argv) {
    Suite *s = suite_create("hf_folder");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    int ref = argc == 3 && strcmp(argv[1], "--ref") == 0, write = argc == 3 && strcmp(argv[1], "--write") == 0;
    if (ref || write) {
        snprintf(g_tmp, sizeof g_tmp, "%s", argv[2]);
        tcase_add_test(tc, ref ? against_hf : write_folders);
    } else {
        snprintf(g_tmp, sizeof g_tmp, "/tmp/difflm-hffolder-%d", (int)getpid());
        mkdir(g_tmp, 0700);
        tcase_add_loop_test(tc, published_like_gguf, 0, N_PUB);
        tcase_add_test(tc, folder_files);
    }
    suite_add_tcase(s, tc);
    int rc = dl_run_suite(s);
    if (!ref && !write) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
        if (system(cmd) != 0)
            rc = 1;
    }
    return rc;
}
