/* quant_threads - forward pass and head of a model file on a persistent pool of 1..4
 * threads and on per-call threads, all compared bit for bit with the single-thread run.
 *
 *   quant_threads MODEL.gguf [n_tokens]
 * Exit status 0 when every run matches, 1 otherwise (the difference is printed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "fmt/gguf.h"
#include "model/model.h"

static int run(dl_model *m, const int32_t *tok, int n, float *hidden, float *logits,
               const int32_t *rows, int n_rows) {
    dl_err e = { 0 };
    size_t fs = dl_model_scratch_size(m, n), hs = dl_model_logits_scratch_size(m, n_rows);
    void *f = dl_aligned_alloc(fs), *h = dl_aligned_alloc(hs);
    int rc = f && h ? dl_model_forward(m, f, tok, n, hidden, NULL, &e) : -1;
    if (rc == 0)
        dl_model_logits(m, h, hidden, rows, n_rows, logits);
    else
        fprintf(stderr, "quant_threads: forward: %s\n", e.msg);
    dl_aligned_free(f);
    dl_aligned_free(h);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: quant_threads MODEL.gguf [n_tokens]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 37;
    dl_err e = { 0 };
    dl_gguf *g = NULL;
    dl_model *m = NULL;
    if (dl_gguf_open(&g, argv[1], &e) || dl_model_load(&m, g, NULL, &e)) {
        fprintf(stderr, "quant_threads: %s: %s\n", argv[1], e.msg);
        dl_gguf_close(g);
        return 1;
    }
    int E = m->hp.n_embd, V = m->hp.n_vocab, n_rows = n < 21 ? n : 21;
    int32_t *tok = malloc((size_t)n * sizeof *tok), rows[21];
    float *h0 = malloc((size_t)n * E * 4), *l0 = malloc((size_t)n_rows * V * 4);
    float *h1 = malloc((size_t)n * E * 4), *l1 = malloc((size_t)n_rows * V * 4);
    int fails = 0;
    for (int i = 0; i < n; i++)
        tok[i] = (int32_t)((i * 7919u + 13u) % (unsigned)V);
    for (int i = 0; i < n_rows; i++)
        rows[i] = (i * 5) % n;
    m->n_threads = 1;
    m->pool = NULL;
    if (run(m, tok, n, h0, l0, rows, n_rows))
        fails++;
    for (int nt = 1; nt <= 4 && !fails; nt++)
        for (int use_pool = 0; use_pool < 2; use_pool++) {
            dl_pool *pool = NULL;
            if (use_pool && dl_pool_create(&pool, nt, &e)) {
                fails++;
                break;
            }
            m->pool = pool;
            m->n_threads = nt;
            memset(h1, 0, (size_t)n * E * 4);
            memset(l1, 0, (size_t)n_rows * V * 4);
            if (run(m, tok, n, h1, l1, rows, n_rows) ||
                memcmp(h0, h1, (size_t)n * E * 4) || memcmp(l0, l1, (size_t)n_rows * V * 4)) {
                fprintf(stderr, "quant_threads: %s: %d threads (%s) differ from 1 thread\n",
                        argv[1], nt, use_pool ? "pool" : "per call");
                fails++;
            }
            m->pool = NULL;
            dl_pool_free(pool);
        }
    /* a row's logits do not depend on the other rows of the head batch */
    if (!fails) {
        int32_t one = rows[3];
        float *lone = malloc((size_t)V * 4);
        m->n_threads = 2;
        if (!lone || run(m, tok, n, h1, lone, &one, 1) ||
            memcmp(lone, l0 + (size_t)3 * V, (size_t)V * 4)) {
            fprintf(stderr, "quant_threads: %s: a row's logits depend on its batch\n", argv[1]);
            fails++;
        }
        free(lone);
    }
    free(tok); free(h0); free(l0); free(h1); free(l1);
    dl_model_free(m);
    dl_gguf_close(g);
    return fails ? 1 : 0;
}
