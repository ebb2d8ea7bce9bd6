/* hf_mkfolder - writes a tiny random-weight Hugging Face model folder (hf_folder.h) and,
 * optionally, the GGUF file of the same weights, for the tests of the CLI, difflm-score
 * and the bindings on a folder (tests/hf/meson.build).
 *
 *     hf_mkfolder -o DIR [--gguf FILE] [--arch llada|dream] [--published] [--shards N]
 *                 [--tied] [--n-embd N] [--n-layer N] [--n-head N] [--n-head-kv N]
 *                 [--n-ff N] [--vocab N] [--mask-id N] [--type f32|f16|bf16] [--seed N]
 *
 * --vocab defaults to exactly the tokenizer's tokens (no padding rows, so the folder and
 * the GGUF predict over the same ids); --published writes the published checkpoint's
 * layout (hf_write_published: all tensors BF16, and the GGUF's F32 vectors rounded to
 * BF16 values first so that both hold the same numbers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hf_folder.h"
#include "kernels/kernels.h"
#include "model/arch.h"
#include "model_tiny.h"

static int fail(const char *msg, const char *arg) {
    fprintf(stderr, "hf_mkfolder: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    return 2;
}

int main(int argc, char **argv) {
    const char *dir = NULL, *gguf = NULL, *arch = "llada", *type = "f32";
    int published = 0, shards = 1, tied = 0;
    long n_embd = 64, n_layer = 2, n_head = 4, n_head_kv = -1, n_ff = 128, vocab = 0, mask = 5, seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long *num = !strcmp(a, "--n-embd") ? &n_embd : !strcmp(a, "--n-layer") ? &n_layer
                  : !strcmp(a, "--n-head") ? &n_head : !strcmp(a, "--n-head-kv") ? &n_head_kv
                  : !strcmp(a, "--n-ff") ? &n_ff : !strcmp(a, "--vocab") ? &vocab
                  : !strcmp(a, "--mask-id") ? &mask : !strcmp(a, "--seed") ? &seed : NULL;
        if (!strcmp(a, "--published")) {
            published = 1;
        } else if (!strcmp(a, "--tied")) {
            tied = 1;
        } else if (!v) {
            return fail("unknown option or missing value", a);
        } else if (num || !strcmp(a, "--shards")) {
            char *end;
            long x = strtol(v, &end, 10);
            if (*end || end == v)
                return fail("not an integer", v);
            if (num)
                *num = x;
            else
                shards = (int)x;
            i++;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--gguf") || !strcmp(a, "--arch") || !strcmp(a, "--type")) {
            *(!strcmp(a, "-o") ? &dir : !strcmp(a, "--gguf") ? &gguf : !strcmp(a, "--arch") ? &arch : &type) = v;
            i++;
        } else {
            return fail("unknown option", a);
        }
    }
    const dl_arch *row = dl_arch_find(arch, strlen(arch));
    if (!dir || !row)
        return fail(!dir ? "-o DIR is required" : "unknown architecture", dir ? arch : NULL);
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, row->id);
    s.n_embd = (int32_t)n_embd;
    s.n_layer = (int32_t)n_layer;
    s.n_head = (int32_t)n_head;
    s.n_head_kv = (int32_t)(n_head_kv > 0 ? n_head_kv : n_head);
    s.n_ff = (int32_t)n_ff;
    s.n_vocab = (int32_t)(vocab > 0 ? vocab : dl_tiny_min_vocab());
    s.mask_id = (int32_t)mask;
    s.tied = tied;
    s.seed = (uint64_t)seed;
    s.wtype = !strcmp(type, "bf16") ? DL_TYPE_BF16 : !strcmp(type, "f16") ? DL_TYPE_F16 : DL_TYPE_F32;
    void *buf;
    size_t n;
    dl_err err;
    dl_gguf *g;
    if (dl_tiny_to_buffer(&s, &buf, &n, &err) || dl_gguf_open_mem(&g, buf, n, &err))
        return fail("cannot build the model", err.msg);
    for (size_t i = 0; published && i < dl_gguf_n_tensors(g); i++) {
        const dl_gguf_tensor *t = dl_gguf_tensor_at(g, i);
        float *x = (float *)t->data;   /* inside buf, which is ours */
        for (size_t k = 0; t->type == DL_TYPE_F32 && k < t->size / 4; k++)
            x[k] = dl_bf16_to_f32(dl_f32_to_bf16(x[k]));
    }
    mkdir(dir, 0755);
    hf_folder_opts o = { shards, (int)mask, 1 };
    if ((published ? hf_write_published : hf_write_folder)(g, dir, &o))
        return fail("cannot write the folder", dir);
    if (gguf) {
        FILE *f = fopen(gguf, "wb");
        if (!f || fwrite(buf, 1, n, f) != n || fclose(f))
            return fail("cannot write", gguf);
    }
    dl_gguf_close(g);
    free(buf);
    return 0;
}
