/* test_hf_api.c - difflm_create on a Hugging Face folder (and on its config.json)
 * against difflm_create on the GGUF the folder was made from, through the public calls:
 * the same model info, the same token ids for the same text, the same logits bit for
 * bit (LLaDA, iLLaDA-like GQA + tied + mask 5, Dream). The folder's tokenizer is read
 * from its tokenizer.json with Hugging Face's semantics (dl_tok_load_hf), whose Split
 * regex is the GGUF pre-tokenizer's; test_hf_folder.c covers the published layouts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_compat.h"
#include "difflm.h"
#include "hf_folder.h"
#include "model_tiny.h"

static difflm_ctx *open_ctx(const char *path) {
    difflm_params p;
    difflm_params_init(&p);
    p.model_path = path;
    p.n_threads = 2;
    p.max_canvas = 64;
    int st;
    difflm_ctx *c = difflm_create(&p, &st);
    ck_assert_msg(c != NULL, "create %s: %s (%s)", path, difflm_status_str(st),
                  difflm_last_error(NULL));
    return c;
}

static const struct { int32_t arch, kv, tied, mask; } k_v[] = {
    { DIFFLM_ARCH_LLADA, 4, 0, 126 }, { DIFFLM_ARCH_LLADA, 2, 1, 5 }, { DIFFLM_ARCH_DREAM, 2, 0, 300 },
};

START_TEST(folder_vs_gguf) {
    char dir[256], gpath[300], cfg[300];
    snprintf(dir, sizeof dir, "/tmp/difflm-hfapi-%d-%d", (int)getpid(), _i);
    mkdir(dir, 0700);
    snprintf(gpath, sizeof gpath, "%s.gguf", dir);
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, k_v[_i].arch);
    s.n_head_kv = k_v[_i].kv;
    s.tied = k_v[_i].tied;
    s.mask_id = k_v[_i].mask;
    dl_err err;
    ck_assert_int_eq(dl_tiny_write(&s, gpath, &err), 0);
    dl_gguf *g;
    ck_assert_int_eq(dl_gguf_open(&g, gpath, &err), 0);
    hf_folder_opts o = { 1, k_v[_i].mask, 1 };
    ck_assert_int_eq(hf_write_folder(g, dir, &o), 0);
    dl_gguf_close(g);

    difflm_ctx *a = open_ctx(gpath), *b = open_ctx(dir), *c = open_ctx(cfg);
    difflm_model_info ia, ib;
    memset(&ia, 0, sizeof ia);
    memset(&ib, 0, sizeof ib);
    ia.struct_size = ib.struct_size = sizeof ia;
    ck_assert_int_eq(difflm_model_info_get(a, &ia), DIFFLM_OK);
    ck_assert_int_eq(difflm_model_info_get(b, &ib), DIFFLM_OK);
    ck_assert_int_eq(ia.arch, ib.arch);
    ck_assert_int_eq(ia.n_vocab, ib.n_vocab);
    ck_assert_int_eq(ia.mask_id, ib.mask_id);
    ck_assert_int_eq(ib.mask_id, k_v[_i].mask);
    ck_assert_int_eq(ia.eos_id, ib.eos_id);
    ck_assert_int_eq(ia.shift_logits, ib.shift_logits);
    ck_assert_uint_eq(ia.n_params, ib.n_params);

    const char *text = "the cat sat on the mat, and then <|eot_id|> it was 42.";
    difflm_token ta[64], tb[64];
    size_t na, nb;
    ck_assert_int_eq(difflm_tokenize(a, text, strlen(text), DIFFLM_TOKENIZE_PARSE_SPECIAL, ta, 64, &na), 0);
    ck_assert_int_eq(difflm_tokenize(b, text, strlen(text), DIFFLM_TOKENIZE_PARSE_SPECIAL, tb, 64, &nb), 0);
    ck_assert_uint_eq(na, nb);
    ck_assert_int_eq(memcmp(ta, tb, na * sizeof *ta), 0);
    for (size_t i = 0; i < na; i += 3)
        ta[i] = ia.mask_id;
    size_t cap = na * (size_t)ia.n_vocab, n1, n2, n3;
    float *la = malloc(cap * sizeof *la), *lb = malloc(cap * sizeof *lb), *lc = malloc(cap * sizeof *lc);
    ck_assert_int_eq(difflm_logits(a, ta, na, NULL, 0, la, cap, &n1), DIFFLM_OK);
    ck_assert_int_eq(difflm_logits(b, ta, na, NULL, 0, lb, cap, &n2), DIFFLM_OK);
    ck_assert_int_eq(difflm_logits(c, ta, na, NULL, 0, lc, cap, &n3), DIFFLM_OK);
    ck_assert_uint_eq(n1, n2);
    ck_assert_uint_eq(n1, n3);
    ck_assert_msg(memcmp(la, lb, n1 * sizeof *la) == 0, "variant %d: logits differ", _i);
    ck_assert_msg(memcmp(la, lc, n1 * sizeof *la) == 0, "variant %d: logits differ (config.json)", _i);
    free(la);
    free(lb);
    free(lc);
    difflm_free(a);
    difflm_free(b);
    difflm_free(c);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, gpath);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("hf_api");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, folder_vs_gguf, 0, 3);
    suite_add_tcase(s, tc);
    return dl_run_suite(s);
}
