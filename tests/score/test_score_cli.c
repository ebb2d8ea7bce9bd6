/* test_score_cli.c - difflm-score and difflm-bigram as a user runs them: arguments and
 * their errors, the output keys and how they relate, determinism, windows, and the
 * bigram's numbers against a naive dense recount of the same tokens.
 *
 *     test_score_cli DIFFLM-SCORE DIFFLM-BIGRAM LLADA.gguf DREAM.gguf HF-FOLDER HF-FOLDER.gguf
 *
 * HF-FOLDER is a Hugging Face model folder (tests/hf/hf_mkfolder) holding the weights of
 * HF-FOLDER.gguf: scored the same, it must print the same numbers. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_compat.h"
#include "core/core.h"
#include "fmt/gguf.h"
#include "tok/tok.h"

static const char *g_score, *g_bigram, *g_llada, *g_dream, *g_folder, *g_folder_gguf;

typedef struct result {
    int status;             /* exit status, or -1 when the tool did not exit normally */
    char out[16384];
    char err[8192];
} result;

static void slurp(int fd, char *buf, size_t cap) {
    ck_assert(lseek(fd, 0, SEEK_SET) == 0);
    size_t n = 0;
    ssize_t got;
    while (n + 1 < cap && (got = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)got;
    buf[n] = '\0';
}

/* Runs argv (NULL-terminated) with stdout and stderr captured in temporary files. */
static void run_tool(result *r, const char *const *argv) {
    char out_path[] = "/tmp/difflm-score-out-XXXXXX", err_path[] = "/tmp/difflm-score-err-XXXXXX";
    int fo = mkstemp(out_path), fe = mkstemp(err_path);
    ck_assert(fo >= 0 && fe >= 0);
    unlink(out_path);
    unlink(err_path);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        dup2(fo, 1);
        dup2(fe, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    ck_assert(waitpid(pid, &st, 0) == pid);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    slurp(fo, r->out, sizeof r->out);
    slurp(fe, r->err, sizeof r->err);
    close(fo);
    close(fe);
}

/* The value of "key=" on its own line of out; fails the test when absent. */
static double key_value(const char *out, const char *key) {
    size_t kl = strlen(key);
    for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, key, kl) && p[kl] == '=')
            return strtod(p + kl + 1, NULL);
    ck_abort_msg("no key %s in output:\n%s", key, out);
    return 0.0;
}

/* A temporary file holding text; returns its path in buf. */
static void write_temp(char *path, size_t cap, const char *text) {
    snprintf(path, cap, "/tmp/difflm-score-text-XXXXXX");
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    size_t n = strlen(text);
    ck_assert(write(fd, text, n) == (ssize_t)n);
    close(fd);
}

typedef struct tokfx {
    dl_gguf *g;
    dl_tok *t;
} tokfx;

static void tok_open(tokfx *f, const char *model) {
    dl_err err;
    ck_assert_msg(dl_gguf_open(&f->g, model, &err) == 0, "%s", err.msg);
    ck_assert_msg(dl_tok_load(&f->t, f->g, &err) == 0, "%s", err.msg);
}

static void tok_close(tokfx *f) {
    dl_tok_free(f->t);
    dl_gguf_close(f->g);
}

static size_t encode(const dl_tok *t, const char *s, int32_t *out, size_t cap) {
    size_t n = 0;
    dl_err err;
    ck_assert_int_eq(dl_tok_encode(t, s, strlen(s), 0, out, cap, &n, &err), 0);
    return n;
}

static const char *const k_text =
    "In the beginning was the word, and the word was with them; and they were glad of it.";

/* ------------------------------------------------------------------ difflm-score */

START_TEST(score_usage_errors) {
    result r;
    run_tool(&r, (const char *const[]){ g_score, NULL });
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "required"));
    run_tool(&r, (const char *const[]){ g_score, "-m", g_llada, "--text", "x", "--bogus", NULL });
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--bogus"));
    run_tool(&r, (const char *const[]){ g_score, "-m", g_llada, "--text", "x", "--mc", "10",
                                        "--batch", "4", NULL });
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "multiple"));
    run_tool(&r, (const char *const[]){ g_score, "-m", g_llada, "--text", "x", "--mc", "ten",
                                        NULL });
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "ten"));
    run_tool(&r, (const char *const[]){ g_score, "-m", g_llada, "--text", "x", "--file", "y",
                                        NULL });
    ck_assert_int_eq(r.status, 2);
    run_tool(&r, (const char *const[]){ g_score, "-m", g_llada, "--text", "x", "--prompt", "a",
                                        "--prompt-file", "b", NULL });
    ck_assert_int_eq(r.status, 2);
    run_tool(&r, (const char *const[]){ g_score, "-m", g_llada, "--text", NULL });
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "needs a value"));
    run_tool(&r, (const char *const[]){ g_score, "--help", NULL });
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "usage"));
}
END_TEST

START_TEST(score_missing_files) {
    result r;
    run_tool(&r, (const char *const[]){ g_score, "-m", "/nonexistent/m.gguf", "--text", "x",
                                        NULL });
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "/nonexistent/m.gguf"));
    run_tool(&r, (const char *const[]){ g_score, "-m", g_llada, "--file", "/nonexistent/t.txt",
                                        NULL });
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "/nonexistent/t.txt"));
    run_tool(&r, (const char *const[]){ g_score, "-m", g_llada, "--text", "x", "--prompt-file",
                                        "/nonexistent/p.txt", NULL });
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "/nonexistent/p.txt"));
    run_tool(&r, (const char *const[]){ g_score, "-m", g_llada, "--text", "", NULL });
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "no tokens"));
    run_tool(&r, (const char *const[]){ g_score, "-m", g_llada, "--text", "x", "--canvas", "1",
                                        NULL });
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "no room"));
}
END_TEST

START_TEST(score_output_and_determinism) {
    tokfx f;
    tok_open(&f, g_llada);
    int32_t ids[512];
    const size_t n = encode(f.t, k_text, ids, 512);
    const size_t n_prompt = 1 + encode(f.t, "Genesis:", ids, 512);
    tok_close(&f);

    const char *const args[] = { g_score, "-m", g_llada, "--text", k_text, "--mc", "32",
                                 "--batch", "8", "--seed", "3", "-t", "1", NULL };
    result a, b, c;
    run_tool(&a, args);
    ck_assert_msg(a.status == 0, "%s", a.err);
    ck_assert_double_eq(key_value(a.out, "answer_tokens"), (double)n);
    ck_assert_double_eq(key_value(a.out, "answer_bytes"), (double)strlen(k_text));
    ck_assert_double_eq(key_value(a.out, "prompt_tokens"), 1.0);   /* BOS */
    ck_assert_double_eq(key_value(a.out, "borrowed_context"), 0.0);
    ck_assert_double_eq(key_value(a.out, "windows"), 1.0);
    const double nll = key_value(a.out, "nll_nats"), se = key_value(a.out, "se_nats");
    ck_assert(nll > 0.0 && se > 0.0 && se < nll);
    ck_assert_double_eq_tol(key_value(a.out, "nats_per_token"), nll / (double)n, 2e-6);
    ck_assert_double_eq_tol(key_value(a.out, "bits_per_byte"),
                            nll / log(2.0) / (double)strlen(k_text), 2e-6);
    ck_assert_double_eq_tol(key_value(a.out, "se_bits_per_byte"),
                            se / log(2.0) / (double)strlen(k_text), 2e-6);
    /* Same seed, same output; the thread count changes nothing. */
    const char *const args2[] = { g_score, "-m", g_llada, "--text", k_text, "--mc", "32",
                                  "--batch", "8", "--seed", "3", "-t", "2", NULL };
    run_tool(&b, args2);
    ck_assert_int_eq(b.status, 0);
    ck_assert_str_eq(a.out, b.out);
    const char *const args3[] = { g_score, "-m", g_llada, "--text", k_text, "--mc", "32",
                                  "--batch", "8", "--seed", "4", NULL };
    run_tool(&c, args3);
    ck_assert_int_eq(c.status, 0);
    ck_assert(key_value(c.out, "nll_nats") != nll);

    /* A prompt is tokenized with BOS in front and conditions without being scored. */
    run_tool(&c, (const char *const[]){ g_score, "-m", g_llada, "--prompt", "Genesis:",
                                        "--text", k_text, "--mc", "16", NULL });
    ck_assert_msg(c.status == 0, "%s", c.err);
    ck_assert_double_eq(key_value(c.out, "prompt_tokens"), (double)n_prompt);
    ck_assert_double_eq(key_value(c.out, "answer_tokens"), (double)n);
    /* -v talks on stderr only. */
    run_tool(&c, (const char *const[]){ g_score, "-m", g_llada, "--text", k_text, "--mc", "32",
                                        "--batch", "8", "--seed", "3", "-v", NULL });
    ck_assert_int_eq(c.status, 0);
    ck_assert_str_eq(c.out, a.out);
    ck_assert_ptr_nonnull(strstr(c.err, "window 0"));
}
END_TEST

START_TEST(score_windows_and_files) {
    /* Three documents in a file; with --docs each is followed by EOS. */
    const char *docs = "First of the words.\n\nSecond of them, here.\n\n\nThird and last one.\n";
    char path[64];
    write_temp(path, sizeof path, docs);
    tokfx f;
    tok_open(&f, g_llada);
    int32_t ids[512];
    size_t n = encode(f.t, "First of the words.", ids, 512) + 1 +
               encode(f.t, "Second of them, here.", ids, 512) + 1 +
               encode(f.t, "Third and last one.", ids, 512) + 1;
    tok_close(&f);
    result r;
    run_tool(&r, (const char *const[]){ g_score, "-m", g_llada, "--file", path, "--docs",
                                        "--canvas", "12", "--mc", "8", "--batch", "4", NULL });
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_double_eq(key_value(r.out, "answer_tokens"), (double)n);
    ck_assert_double_eq(key_value(r.out, "answer_bytes"),
                        (double)(strlen("First of the words.") + strlen("Second of them, here.") +
                                 strlen("Third and last one.")));
    const double total = (double)((n + 10) / 11);   /* 11 answer tokens after BOS */
    ck_assert_double_eq(key_value(r.out, "windows_total"), total);
    ck_assert_double_eq(key_value(r.out, "windows"), total);
    ck_assert_double_eq(key_value(r.out, "canvas"), 12.0);
    run_tool(&r, (const char *const[]){ g_score, "-m", g_llada, "--file", path, "--docs",
                                        "--canvas", "12", "--mc", "8", "--batch", "4",
                                        "--max-windows", "2", NULL });
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_double_eq(key_value(r.out, "windows"), 2.0);
    /* Windows 0 and floor(total / 2), the last one possibly short. */
    const size_t second = (size_t)total / 2;
    const size_t len2 = second + 1 < (size_t)total ? 11 : n - 11 * second;
    ck_assert_double_eq(key_value(r.out, "answer_tokens"), (double)(11 + len2));
    unlink(path);
}
END_TEST

START_TEST(score_dream_borrows_context) {
    tokfx f;
    tok_open(&f, g_dream);
    int32_t ids[512];
    const size_t n = encode(f.t, k_text, ids, 512);
    tok_close(&f);
    result r;
    run_tool(&r, (const char *const[]){ g_score, "-m", g_dream, "--text", k_text, "--mc", "16",
                                        NULL });
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_double_eq(key_value(r.out, "prompt_tokens"), 0.0);
    ck_assert_double_eq(key_value(r.out, "borrowed_context"), 1.0);
    ck_assert_double_eq(key_value(r.out, "answer_tokens"), (double)(n - 1));
    ck_assert(key_value(r.out, "nll_nats") > 0.0);
}
END_TEST

/* ------------------------------------------------------------------ difflm-bigram */

/* The Witten-Bell bigram recounted naively with dense tables. Windows of `body` tokens,
 * each with BOS before it. */
static double naive_bigram_nll(const int32_t *tr, size_t n_tr, const int32_t *ev, size_t n_ev,
                               size_t body, int32_t bos, int32_t V) {
    double *pair = calloc((size_t)V * V, sizeof *pair), *uni = calloc((size_t)V, sizeof *uni);
    double n_uni = 0.0;
    for (size_t i = 0; i < n_tr; i++) {
        const int32_t x = i % body == 0 ? bos : tr[i - 1];
        pair[(size_t)x * V + tr[i]] += 1.0;
        uni[tr[i]] += 1.0;
        n_uni += 1.0;
    }
    double nll = 0.0;
    for (size_t i = 0; i < n_ev; i++) {
        const int32_t x = i % body == 0 ? bos : ev[i - 1], y = ev[i];
        double cx = 0.0, tx = 0.0;
        for (int32_t v = 0; v < V; v++) {
            cx += pair[(size_t)x * V + v];
            tx += pair[(size_t)x * V + v] > 0.0;
        }
        const double pu = (uni[y] + 1.0) / (n_uni + V);
        const double p = cx > 0.0 ? (pair[(size_t)x * V + y] + tx * pu) / (cx + tx) : pu;
        nll -= log(p);
    }
    free(pair);
    free(uni);
    return nll;
}

START_TEST(bigram_numbers) {
    const char *train = "the cat sat on the mat\nand the cat ate\n\nthe dog sat on the cat\n";
    const char *eval = "the cat sat\n\nthe dog ate the mat\n";
    char tpath[64], epath[64];
    write_temp(tpath, sizeof tpath, train);
    write_temp(epath, sizeof epath, eval);
    tokfx f;
    tok_open(&f, g_llada);
    int32_t tr[512], ev[512];
    size_t ntr = encode(f.t, "the cat sat on the mat\nand the cat ate", tr, 512);
    tr[ntr++] = 1;
    ntr += encode(f.t, "the dog sat on the cat", tr + ntr, 512 - ntr);
    tr[ntr++] = 1;
    size_t nev = encode(f.t, "the cat sat", ev, 512);
    ev[nev++] = 1;
    nev += encode(f.t, "the dog ate the mat", ev + nev, 512 - nev);
    ev[nev++] = 1;
    const int32_t V = dl_tok_n_vocab(f.t), bos = dl_tok_specials(f.t)->bos;
    tok_close(&f);

    const char *canvases[] = { "256", "4" };
    const size_t bodies[] = { 255, 3 };
    for (int c = 0; c < 2; c++) {
        result r;
        run_tool(&r, (const char *const[]){ g_bigram, "-m", g_llada, "--train", tpath, "--eval",
                                            epath, "--docs", "--canvas", canvases[c], NULL });
        ck_assert_msg(r.status == 0, "%s", r.err);
        const double want = naive_bigram_nll(tr, ntr, ev, nev, bodies[c], bos, V);
        const double got = key_value(r.out, "nll_nats");
        ck_assert_msg(fabs(got - want) < 2e-6, "canvas %s: tool %.6f, naive %.6f", canvases[c],
                      got, want);
        ck_assert_double_eq(key_value(r.out, "train_tokens"), (double)ntr);
        ck_assert_double_eq(key_value(r.out, "train_docs"), 2.0);
        ck_assert_double_eq(key_value(r.out, "answer_tokens"), (double)nev);
        const double bytes = (double)(strlen("the cat sat") + strlen("the dog ate the mat"));
        ck_assert_double_eq(key_value(r.out, "answer_bytes"), bytes);
        ck_assert_double_eq_tol(key_value(r.out, "bits_per_byte"), want / log(2.0) / bytes, 2e-6);
        ck_assert_double_eq_tol(key_value(r.out, "nats_per_token"), want / (double)nev, 2e-6);
    }
    /* With --max-windows both tools score the same windows: same tokens, same bytes. */
    result rb, rs;
    run_tool(&rb, (const char *const[]){ g_bigram, "-m", g_llada, "--train", tpath, "--eval", epath,
                                         "--docs", "--canvas", "4", "--max-windows", "3", NULL });
    run_tool(&rs, (const char *const[]){ g_score, "-m", g_llada, "--file", epath, "--docs",
                                         "--canvas", "4", "--max-windows", "3", "--mc", "4",
                                         "--batch", "4", NULL });
    ck_assert_msg(rb.status == 0 && rs.status == 0, "%s%s", rb.err, rs.err);
    ck_assert_double_eq(key_value(rb.out, "windows"), 3.0);
    ck_assert_double_eq(key_value(rb.out, "windows_total"), (double)((nev + 2) / 3));
    ck_assert_double_eq(key_value(rb.out, "windows_total"), key_value(rs.out, "windows_total"));
    ck_assert_double_eq(key_value(rb.out, "answer_tokens"), key_value(rs.out, "answer_tokens"));
    ck_assert_double_eq(key_value(rb.out, "answer_bytes"), key_value(rs.out, "answer_bytes"));
    ck_assert(key_value(rb.out, "answer_tokens") < (double)nev);
    unlink(tpath);
    unlink(epath);
}
END_TEST

START_TEST(bigram_errors) {
    result r;
    run_tool(&r, (const char *const[]){ g_bigram, "-m", g_llada, "--train", "x", NULL });
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "required"));
    run_tool(&r, (const char *const[]){ g_bigram, "-m", g_llada, "--train", "/nonexistent/tr.txt",
                                        "--eval", "/nonexistent/ev.txt", NULL });
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "/nonexistent/tr.txt"));
    run_tool(&r, (const char *const[]){ g_bigram, "-m", "/nonexistent/tok.gguf", "--train", "a",
                                        "--eval", "b", NULL });
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "/nonexistent/tok.gguf"));
    run_tool(&r, (const char *const[]){ g_bigram, "-m", g_llada, "--train", "a", "--eval", "b",
                                        "--canvas", "0", NULL });
    ck_assert_int_eq(r.status, 2);
    run_tool(&r, (const char *const[]){ g_bigram, "--frobnicate", NULL });
    ck_assert_int_eq(r.status, 2);
}
END_TEST

/* A folder wherever a file goes: -m DIR and -m DIR/config.json score as its GGUF does. */
START_TEST(score_folder) {
    char cfg[4096];
    snprintf(cfg, sizeof cfg, "%s/config.json", g_folder);
    const char *models[] = { g_folder_gguf, g_folder, cfg };
    result r[3];
    for (int i = 0; i < 3; i++) {
        run_tool(&r[i], (const char *const[]){ g_score, "-m", models[i], "--prompt", "Genesis:", "--text", k_text,
                                               "--mc", "16", "--batch", "4", "--seed", "5", "-t", "1", NULL });
        ck_assert_msg(r[i].status == 0, "%s: %s", models[i], r[i].err);
    }
    ck_assert(key_value(r[0].out, "nll_nats") > 0.0);
    ck_assert_str_eq(r[1].out, r[0].out);
    ck_assert_str_eq(r[2].out, r[0].out);
    /* a folder without its weights names what is missing */
    char dir[] = "/tmp/difflm-score-folder-XXXXXX", cmd[8400];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "cp '%s'/*.json '%s'/", g_folder, dir);
    ck_assert_int_eq(system(cmd), 0);
    run_tool(&r[1], (const char *const[]){ g_score, "-m", dir, "--text", k_text, NULL });
    ck_assert_int_ne(r[1].status, 0);
    ck_assert_msg(strstr(r[1].err, "model.safetensors"), "%s", r[1].err);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *cli_suite(void) {
    Suite *s = suite_create("score-cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, score_usage_errors);
    tcase_add_test(tc, score_missing_files);
    tcase_add_test(tc, score_output_and_determinism);
    tcase_add_test(tc, score_windows_and_files);
    tcase_add_test(tc, score_dream_borrows_context);
    tcase_add_test(tc, bigram_numbers);
    tcase_add_test(tc, bigram_errors);
    tcase_add_test(tc, score_folder);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: test_score_cli DIFFLM-SCORE DIFFLM-BIGRAM LLADA.gguf DREAM.gguf HF-FOLDER "
                        "HF-FOLDER.gguf\n");
        return 2;
    }
    g_folder = argv[5];
    g_folder_gguf = argv[6];
    g_score = argv[1];
    g_bigram = argv[2];
    g_llada = argv[3];
    g_dream = argv[4];
    return dl_run_suite(cli_suite());
}
