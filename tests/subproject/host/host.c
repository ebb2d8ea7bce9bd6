/* host.c - a program of a parent project that links difflm from a subproject:
 * loads MODEL, generates a few tokens from "In the beginning" and prints them.
 * usage: host MODEL.gguf */
#include <stdio.h>

#include <difflm.h>

int main(int argc, char **argv) {
    if (argc != 2) return fprintf(stderr, "usage: %s MODEL.gguf\n", argv[0]), 2;
    if (difflm_abi_version() != DIFFLM_ABI_VERSION) {
        fprintf(stderr, "ABI %u, header %u\n", (unsigned)difflm_abi_version(), (unsigned)DIFFLM_ABI_VERSION);
        return 1;
    }
    difflm_params p;
    difflm_params_init(&p);
    p.model_path = argv[1];
    p.n_threads = 1;
    int st;
    difflm_ctx *ctx = difflm_create(&p, &st);
    if (!ctx) return fprintf(stderr, "create: %s\n", difflm_status_str(st)), 1;
    difflm_gen_params g;
    difflm_gen_params_init(&g);
    g.gen_length = 8;
    g.steps = 4;
    g.block_length = 8;
    char out[1024];
    size_t n = 0;
    st = difflm_sample(ctx, "In the beginning", &g, out, sizeof out, &n);
    if (st < 0) fprintf(stderr, "%s: %s\n", difflm_status_str(st), difflm_last_error(ctx));
    else printf("difflm %s as a subproject: \"%s\" (%zu bytes)\n", difflm_version(), out, n);
    difflm_free(ctx);
    return st < 0;
}
