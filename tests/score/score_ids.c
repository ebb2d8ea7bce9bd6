/* score_ids.c - difflm_score on ids given on the command line, for the reference
 * comparison (ref_score.py). A host of the public API only.
 *
 *     score_ids MODEL.gguf THREADS MC BATCH SEED PROMPT_IDS ANSWER_IDS
 *
 * PROMPT_IDS and ANSWER_IDS are comma-separated ids ("-" for none). Prints
 * "nll var se n_tokens n_iter" with 17 significant digits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "difflm.h"

static size_t parse_ids(const char *s, int32_t *out, size_t cap) {
    size_t n = 0;
    if (!strcmp(s, "-"))
        return 0;
    for (char *end; *s && n < cap; s = *end ? end + 1 : end)
        out[n++] = (int32_t)strtol(s, &end, 10);
    return n;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: score_ids MODEL THREADS MC BATCH SEED PROMPT_IDS ANSWER_IDS\n");
        return 2;
    }
    static int32_t ids[4096];
    size_t np = parse_ids(argv[6], ids, 2048);
    size_t n = parse_ids(argv[7], ids + np, 2048);
    difflm_params p;
    difflm_params_init(&p);
    p.model_path = argv[1];
    p.n_threads = atoi(argv[2]);
    p.max_canvas = (int32_t)(np + n);
    int st = 0;
    difflm_ctx *ctx = difflm_create(&p, &st);
    if (!ctx) {
        fprintf(stderr, "score_ids: %s: %s\n", argv[1], difflm_status_str(st));
        return 1;
    }
    difflm_score_params sp;
    difflm_score_params_init(&sp);
    sp.mc = atoi(argv[3]);
    sp.batch = atoi(argv[4]);
    sp.seed = strtoull(argv[5], NULL, 10);
    difflm_score_result r = { .struct_size = sizeof r };
    int rc = difflm_score(ctx, ids, np, ids + np, n, &sp, &r);
    if (rc != DIFFLM_OK) {
        fprintf(stderr, "score_ids: %s\n", difflm_last_error(ctx));
        difflm_free(ctx);
        return 1;
    }
    printf("%.17g %.17g %.17g %d %d\n", r.nll, r.var, r.se, r.n_tokens, r.n_iter);
    difflm_free(ctx);
    return 0;
}
