/* make_hf_seeds.c - writes the Hugging Face folders that fuzz/make_hf_seeds.py cuts
 * into the seed corpora of fuzz_safetensors, fuzz_hfconfig and fuzz_tokjson: small
 * tiny-model folders (tests/hf/hf_folder.c over tests/fixtures/model_tiny.c) of LLaDA
 * (MHA, separate head, BF16) and Dream (GQA, tied, F16; one file, and two shards).
 *
 * usage: make_hf_seeds OUTDIR   (writes OUTDIR/llada, OUTDIR/dream, OUTDIR/dream-sharded;
 * OUTDIR must exist) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "hf_folder.h"
#include "model_tiny.h"

static int write_one(const char *out, const char *name, int32_t arch, int kv, int tied,
                     uint32_t wtype, int shards) {
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, arch);
    s.n_embd = 16;
    s.n_head = 2;
    s.n_head_kv = kv;
    s.n_ff = 32;
    s.n_layer = 1;
    s.n_vocab = dl_tiny_min_vocab();
    s.tied = tied;
    s.wtype = wtype;
    void *buf;
    size_t n;
    dl_err err;
    dl_gguf *g;
    if (dl_tiny_to_buffer(&s, &buf, &n, &err) || dl_gguf_open_mem(&g, buf, n, &err)) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        return 1;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", out, name);
    mkdir(dir, 0755);
    hf_folder_opts o = { shards, s.mask_id, 1 };
    int rc = hf_write_folder(g, dir, &o);
    dl_gguf_close(g);
    free(buf);
    return rc ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    return write_one(argv[1], "llada", DIFFLM_ARCH_LLADA, 2, 0, DL_TYPE_BF16, 1) |
           write_one(argv[1], "dream", DIFFLM_ARCH_DREAM, 1, 1, DL_TYPE_F16, 1) |
           write_one(argv[1], "dream-sharded", DIFFLM_ARCH_DREAM, 1, 1, DL_TYPE_F16, 2);
}
