/* test_hf_mem.c - the in-memory entry points the fuzz harnesses drive
 * (dl_hf_config_parse, dl_tok_load_hf_mem) against the folder readers they share their
 * code with (dl_hf_config_read, dl_tok_load_hf): the same files give the same
 * hyperparameters, ids and special tokens, and the same failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_compat.h"
#include "hf_folder.h"
#include "model/hf_config.h"
#include "model_tiny.h"
#include "tok/tok.h"

static char g_dir[256];

static char *slurp(const char *name, size_t *n) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

static void write_folder(int32_t arch) {
    snprintf(g_dir, sizeof g_dir, "/tmp/difflm-hfmem-%d", (int)getpid());
    mkdir(g_dir, 0700);
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, arch);
    s.n_head_kv = 2;
    void *buf;
    size_t n;
    dl_err err;
    ck_assert_int_eq(dl_tiny_to_buffer(&s, &buf, &n, &err), 0);
    dl_gguf *g;
    ck_assert_int_eq(dl_gguf_open_mem(&g, buf, n, &err), 0);
    hf_folder_opts o = { 1, s.mask_id, 1 };
    ck_assert_int_eq(hf_write_folder(g, g_dir, &o), 0);
    dl_gguf_close(g);
    free(buf);
}

static void rm_folder(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const int32_t k_archs[] = { DIFFLM_ARCH_LLADA, DIFFLM_ARCH_DREAM };

START_TEST(config_parse_equals_read) {
    write_folder(k_archs[_i]);
    size_t n, gn;
    char *cfg = slurp("config.json", &n), *gen = slurp("generation_config.json", &gn);
    dl_hf_config a, b, c;
    dl_err err;
    ck_assert_msg(dl_hf_config_read(&a, g_dir, &err) == 0, "%s", err.msg);
    ck_assert_msg(dl_hf_config_parse(&b, cfg, n, gen, gn, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(memcmp(&a, &b, sizeof a), 0);
    ck_assert_int_eq(b.n_eos, 2);   /* generation_config.json's [1, 4], not config.json's 1 */
    /* without generation_config.json: config.json's EOS */
    ck_assert_int_eq(dl_hf_config_parse(&c, cfg, n, NULL, 0, &err), 0);
    ck_assert_int_eq(c.n_eos, 1);
    ck_assert_int_eq(memcmp(&c.hp, &a.hp, sizeof c.hp), 0);
    /* the same failures, naming the file */
    ck_assert_int_eq(dl_hf_config_parse(&c, cfg, n / 2, NULL, 0, &err), DIFFLM_E_FORMAT);
    ck_assert_msg(strstr(err.msg, "'config.json', line 1") != NULL, "%s", err.msg);
    ck_assert_int_eq(dl_hf_config_parse(&c, cfg, n, "[1]", 3, &err), DIFFLM_E_FORMAT);
    ck_assert_msg(strstr(err.msg, "'generation_config.json' is not a JSON object") != NULL, "%s", err.msg);
    ck_assert_int_eq(dl_hf_config_parse(&c, NULL, 0, NULL, 0, &err), DIFFLM_E_IO);
    ck_assert_msg(strstr(err.msg, "'config.json' is missing") != NULL, "%s", err.msg);
    free(cfg);
    free(gen);
    rm_folder();
}
END_TEST

START_TEST(tok_mem_equals_folder) {
    write_folder(k_archs[_i]);
    size_t n, cn;
    char *tj = slurp("tokenizer.json", &n), *tc = slurp("tokenizer_config.json", &cn);
    const dl_tok_hf_file files[] = { { "tokenizer.json", tj, n }, { "tokenizer_config.json", tc, cn } };
    dl_tok *a = NULL, *b = NULL;
    dl_err err;
    ck_assert_msg(dl_tok_load_hf(&a, g_dir, &err) == 0, "%s", err.msg);
    ck_assert_msg(dl_tok_load_hf_mem(&b, files, 2, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(dl_tok_n_vocab(a), dl_tok_n_vocab(b));
    ck_assert_int_eq(memcmp(dl_tok_specials(a), dl_tok_specials(b), sizeof(dl_tok_special)), 0);
    const char *text = "<|startoftext|>the cat sat on the mat, and then <|endoftext|> it was 42.\n";
    int32_t ia[128], ib[128];
    size_t na, nb;
    ck_assert_int_eq(dl_tok_encode(a, text, strlen(text), DIFFLM_TOKENIZE_PARSE_SPECIAL, ia, 128, &na, &err), 0);
    ck_assert_int_eq(dl_tok_encode(b, text, strlen(text), DIFFLM_TOKENIZE_PARSE_SPECIAL, ib, 128, &nb, &err), 0);
    ck_assert_uint_eq(na, nb);
    ck_assert_int_eq(memcmp(ia, ib, na * sizeof *ia), 0);
    dl_tok_free(a);
    dl_tok_free(b);
    /* failures name the in-memory file */
    ck_assert_int_eq(dl_tok_load_hf_mem(&b, files, 0, &err), DIFFLM_E_IO);
    ck_assert_ptr_null(b);
    ck_assert_msg(strstr(err.msg, "neither tokenizer.json nor vocab.json") != NULL, "%s", err.msg);
    const dl_tok_hf_file cut[] = { { "tokenizer.json", tj, n / 2 } };
    ck_assert_int_eq(dl_tok_load_hf_mem(&b, cut, 1, &err), DIFFLM_E_FORMAT);
    ck_assert_msg(strstr(err.msg, "<memory>/tokenizer.json: line") != NULL, "%s", err.msg);
    const dl_tok_hf_file slow[] = { { "vocab.json", "{\"a\": 0}", 8 } };
    ck_assert_int_eq(dl_tok_load_hf_mem(&b, slow, 1, &err), DIFFLM_E_IO);   /* no merges.txt */
    ck_assert_msg(strstr(err.msg, "<memory>/merges.txt") != NULL, "%s", err.msg);
    ck_assert_int_eq(dl_tok_load_hf_mem(&b, NULL, 1, &err), DIFFLM_E_INVALID_ARG);
    free(tj);
    free(tc);
    rm_folder();
}
END_TEST

int main(void) {
    Suite *s = suite_create("hf_mem");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, config_parse_equals_read, 0, 2);
    tcase_add_loop_test(tc, tok_mem_equals_folder, 0, 2);
    suite_add_tcase(s, tc);
    return dl_run_suite(s);
}
