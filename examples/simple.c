/* simple.c - drive generation one step at a time and print the canvas after each step.
 * usage: simple [MODEL.gguf] "prompt text"   (no model: the project's default model) */
#include <stdio.h>
#include <string.h>

#include "default_model.h"
#include "difflm.h"

int main(int argc, char **argv) {
    if (argc < 2) return fprintf(stderr, "usage: %s [MODEL] PROMPT\n", argv[0]), 2;
    const char *prompt = argv[argc - 1];
    difflm_params p;
    difflm_params_init(&p);
    p.model_path = argc > 2 ? argv[1] : difflm_default_model();
    int st;
    difflm_ctx *ctx = difflm_create(&p, &st);
    if (!ctx) return fprintf(stderr, "create: %s\n", difflm_status_str(st)), 1;

    difflm_token ids[512], canvas[1024];
    size_t n, n_canvas;
    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.gen_length = 32; g.steps = 16; g.block_length = 16;
    st = difflm_tokenize(ctx, prompt, strlen(prompt), DIFFLM_TOKENIZE_ADD_BOS, ids, 512, &n);
    if (st == DIFFLM_OK) st = difflm_generate_begin(ctx, ids, n, &g);
    while (st == DIFFLM_OK) {
        st = difflm_generate_step(ctx);
        if (st < 0 || difflm_canvas(ctx, canvas, 1024, &n_canvas) != DIFFLM_OK) break;
        for (size_t i = 0; i < n_canvas; i++) printf("%d ", canvas[i]);
        printf("\n");
    }
    if (st < 0) fprintf(stderr, "%s: %s\n", difflm_status_str(st), difflm_last_error(ctx));
    difflm_free(ctx);
    return st < 0;
}
