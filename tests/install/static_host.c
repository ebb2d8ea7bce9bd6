/* A host program that links the installed libdifflm.a (tests/install/install_test.py
 * builds it with `pkg-config --static`) and defines names the library uses internally
 * (dl_fail, dl_tok_encode, with other signatures). With an archive that exported its
 * internal dl_* symbols, the link would fail with multiple definitions, or the library
 * would call these. Usage: static_host MODEL.gguf */
#include <difflm.h>
#include <stdio.h>
#include <string.h>

int dl_fail(int x);
int dl_tok_encode(void);
int dl_fail(int x) { return x + 41; }
int dl_tok_encode(void) { return 7; }

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: static_host MODEL.gguf\n");
        return 2;
    }
    if (dl_fail(1) != 42 || dl_tok_encode() != 7) {
        fprintf(stderr, "the host's own dl_* functions were not called\n");
        return 1;
    }
    if (difflm_abi_version() != DIFFLM_ABI_VERSION) {
        fprintf(stderr, "ABI %d, header says %d\n", difflm_abi_version(), DIFFLM_ABI_VERSION);
        return 1;
    }
    difflm_params p;
    difflm_params_init(&p);
    p.model_path = argv[1];
    p.n_threads = 1;
    int st = 0;
    difflm_ctx *ctx = difflm_create(&p, &st);
    if (!ctx) {
        fprintf(stderr, "difflm_create: %s\n", difflm_status_str(st));
        return 1;
    }
    /* The library's own tokenizer and error path, not the host's functions above. */
    const char *text = "In the beginning";
    difflm_token ids[64];
    size_t n = 0;
    st = difflm_tokenize(ctx, text, strlen(text), 0, ids, 64, &n);
    char out[256];
    size_t n_out = 0;
    if (st == DIFFLM_OK)
        st = difflm_detokenize(ctx, ids, n, 0, out, sizeof out, &n_out);
    if (st != DIFFLM_OK || n_out != strlen(text) || memcmp(out, text, n_out) != 0) {
        fprintf(stderr, "round trip failed: %s %s\n", difflm_status_str(st),
                difflm_last_error(ctx));
        difflm_free(ctx);
        return 1;
    }
    /* An id outside the vocabulary: the library's error path (its own dl_fail). */
    difflm_token bad = 1 << 30;
    st = difflm_detokenize(ctx, &bad, 1, 0, out, sizeof out, &n_out);
    const char *msg = difflm_last_error(ctx);
    if (st != DIFFLM_E_INVALID_ARG || !msg || !*msg) {
        fprintf(stderr, "expected E_INVALID_ARG with a message, got %s\n",
                difflm_status_str(st));
        difflm_free(ctx);
        return 1;
    }
    printf("static host: %s, %zu tokens round-trip\n", difflm_version(), n);
    difflm_free(ctx);
    return 0;
}
