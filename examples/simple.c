/* simple.c - drive generation one step at a time and print the text as it fills in: after
 * every step, the generated part of the canvas as text, a still-masked position as '_'.
 * usage: simple [MODEL.gguf] "prompt text"   (no model: the project's default model) */
#include <stdio.h>
#include <string.h>

#include "default_model.h"
#include "difflm.h"

/* Prints canvas[from..n) on one line. Runs of committed tokens are detokenized together,
 * since one character can span several byte-level tokens; newlines print as spaces. */
static void print_text(difflm_ctx *ctx, const difflm_token *canvas, size_t n, size_t from,
                       difflm_token mask) {
    char text[8192];
    for (size_t i = from, j; i < n; i = j) {
        if (canvas[i] == mask) {
            putchar('_');
            j = i + 1;
            continue;
        }
        for (j = i; j < n && canvas[j] != mask; j++)
            ;
        size_t len = 0;
        if (difflm_detokenize(ctx, canvas + i, j - i, 0, text, sizeof text, &len) != DIFFLM_OK)
            len = 0, putchar('?');
        for (size_t k = 0; k < len; k++)
            putchar(text[k] == '\n' || text[k] == '\r' ? ' ' : text[k]);
    }
    putchar('\n');
}

int main(int argc, char **argv) {
    if (argc < 2) return fprintf(stderr, "usage: %s [MODEL] PROMPT\n", argv[0]), 2;
    const char *prompt = argv[argc - 1];
    difflm_params p;
    difflm_params_init(&p);
    p.model_path = argc > 2 ? argv[1] : difflm_default_model();
    int st;
    difflm_ctx *ctx = difflm_create(&p, &st);
    if (!ctx) return fprintf(stderr, "create: %s\n", difflm_status_str(st)), 1;
    difflm_model_info info = {.struct_size = sizeof info};
    difflm_model_info_get(ctx, &info);

    difflm_token ids[512], canvas[1024];
    size_t n, n_canvas;
    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.gen_length = 32; g.steps = 16; g.block_length = 16;
    uint32_t flags = info.add_bos ? DIFFLM_TOKENIZE_ADD_BOS : 0u;
    st = difflm_tokenize(ctx, prompt, strlen(prompt), flags, ids, 512, &n);
    if (st == DIFFLM_OK) st = difflm_generate_begin(ctx, ids, n, &g);
    printf("prompt: %s\n", prompt);
    for (int step = 1; st == DIFFLM_OK; step++) {
        st = difflm_generate_step(ctx);
        if (st < 0 || difflm_canvas(ctx, canvas, 1024, &n_canvas) != DIFFLM_OK) break;
        printf("step %2d: ", step);
        print_text(ctx, canvas, n_canvas, n, info.mask_id);
    }
    if (st < 0) fprintf(stderr, "%s: %s\n", difflm_status_str(st), difflm_last_error(ctx));
    difflm_free(ctx);
    return st < 0;
}
