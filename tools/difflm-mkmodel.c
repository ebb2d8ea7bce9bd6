/* difflm-mkmodel - writes a tiny random-weight GGUF file of any architecture in the
 * table (lib/model/arch.c) with real
 * metadata, tensor names and a small byte-level BPE vocabulary (tests/fixtures/model_tiny.h).
 * The file feeds the library's tests, the numpy reference and llama.cpp's loader. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "difflm_internal.h"
#include "model_tiny.h"

static void usage(FILE *f) {
    char archs[128];
    fprintf(f,
            "usage: difflm-mkmodel -o PATH [options]\n"
            "  --arch NAME          architecture: %s (default llada)\n"
            "  --n-embd N           hidden size (default 64)\n"
            "  --n-layer N          blocks (default 2)\n"
            "  --n-head N           query heads (default 4)\n"
            "  --n-head-kv N        key/value heads (default = n-head)\n"
            "  --n-ff N             feed-forward size (default 128)\n"
            "  --vocab N            total tokens, >= %d (default 512)\n"
            "  --tied               no output.weight: the head is token_embd\n"
            "  --output-bias        add an output.bias\n"
            "  --mask-id N          tokenizer.ggml.mask_token_id (default 5)\n"
            "  --type f32|f16|bf16  matrix element type (norms and biases stay f32)\n"
            "  --seed N             weight seed (default 1)\n"
            "  --ctx N              context_length (default 256)\n"
            "  --rope-theta X       rope.freq_base (default: the architecture's published value)\n"
            "  --eps X              rms epsilon (default: the architecture's published value)\n"
            "  --no-shift-key       omit diffusion.shift_logits (as the Dream converter does)\n"
            "  --block-length N     write diffusion.block_length N: a block-causal model\n"
            "                       (default 0: none)\n"
            "mixture-of-experts architectures (llada-moe):\n"
            "  --n-expert N         routed experts per layer (default 8)\n"
            "  --n-expert-used N    experts per token (default 2)\n"
            "  --n-ff-exp N         one expert's width (default 32)\n"
            "  --n-ff-shexp N       the shared expert's width (default 0: none)\n"
            "  --n-group N          expert groups of a sigmoid router (default 1)\n"
            "  --topk-group N       groups kept (default 1)\n"
            "  --n-dense-lead N     leading layers with a dense FFN (default 0)\n"
            "  --routed-scale X     routed weights' factor (default 1)\n",
            dl_arch_list(archs, sizeof archs), dl_tiny_min_vocab());
}

static int parse_i32(const char *opt, const char *s, int32_t *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < INT32_MIN || v > INT32_MAX) {
        fprintf(stderr, "difflm-mkmodel: %s: '%s' is not an integer\n", opt, s);
        return -1;
    }
    *out = (int32_t)v;
    return 0;
}

static int parse_f32(const char *opt, const char *s, float *out) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end) {
        fprintf(stderr, "difflm-mkmodel: %s: '%s' is not a number\n", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int is_value_option(const char *a) {
    static const char *const opts[] = { "-o", "--arch", "--type", "--n-embd", "--n-layer",
        "--n-head", "--n-head-kv", "--n-ff", "--vocab", "--mask-id", "--ctx", "--rope-theta",
        "--eps", "--seed", "--n-expert", "--n-expert-used", "--n-ff-exp", "--n-ff-shexp",
        "--n-group", "--topk-group", "--n-dense-lead", "--routed-scale", "--block-length" };
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (!strcmp(a, opts[i]))
            return 1;
    return 0;
}

int main(int argc, char **argv) {
    const char *path = NULL, *arch = "llada", *type = "f32";
    int32_t n_embd = 64, n_layer = 2, n_head = 4, n_head_kv = -1, n_ff = 128, vocab = 512;
    int32_t mask_id = 5, ctx = 256, tied = 0, out_bias = 0, no_shift = 0, block_length = 0;
    float theta = -1.0f, eps = -1.0f, routed_scale = 1.0f;
    int32_t n_expert = 8, n_expert_used = 2, n_ff_exp = 32, n_ff_shexp = 0, n_group = 1;
    int32_t topk_group = 1, n_dense_lead = 0;
    unsigned long long seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0, takes = 1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--tied")) {
            tied = 1, takes = 0;
        } else if (!strcmp(a, "--output-bias")) {
            out_bias = 1, takes = 0;
        } else if (!strcmp(a, "--no-shift-key")) {
            no_shift = 1, takes = 0;
        } else if (!is_value_option(a)) {
            fprintf(stderr, "difflm-mkmodel: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else if (!val) {
            fprintf(stderr, "difflm-mkmodel: %s needs a value\n", a);
            return 2;
        } else if (!strcmp(a, "-o")) {
            path = val;
        } else if (!strcmp(a, "--arch")) {
            arch = val;
        } else if (!strcmp(a, "--type")) {
            type = val;
        } else if (!strcmp(a, "--n-embd")) {
            rc = parse_i32(a, val, &n_embd);
        } else if (!strcmp(a, "--n-layer")) {
            rc = parse_i32(a, val, &n_layer);
        } else if (!strcmp(a, "--n-head")) {
            rc = parse_i32(a, val, &n_head);
        } else if (!strcmp(a, "--n-head-kv")) {
            rc = parse_i32(a, val, &n_head_kv);
        } else if (!strcmp(a, "--n-ff")) {
            rc = parse_i32(a, val, &n_ff);
        } else if (!strcmp(a, "--vocab")) {
            rc = parse_i32(a, val, &vocab);
        } else if (!strcmp(a, "--mask-id")) {
            rc = parse_i32(a, val, &mask_id);
        } else if (!strcmp(a, "--ctx")) {
            rc = parse_i32(a, val, &ctx);
        } else if (!strcmp(a, "--block-length")) {
            rc = parse_i32(a, val, &block_length);
        } else if (!strcmp(a, "--rope-theta")) {
            rc = parse_f32(a, val, &theta);
        } else if (!strcmp(a, "--eps")) {
            rc = parse_f32(a, val, &eps);
        } else if (!strcmp(a, "--n-expert")) {
            rc = parse_i32(a, val, &n_expert);
        } else if (!strcmp(a, "--n-expert-used")) {
            rc = parse_i32(a, val, &n_expert_used);
        } else if (!strcmp(a, "--n-ff-exp")) {
            rc = parse_i32(a, val, &n_ff_exp);
        } else if (!strcmp(a, "--n-ff-shexp")) {
            rc = parse_i32(a, val, &n_ff_shexp);
        } else if (!strcmp(a, "--n-group")) {
            rc = parse_i32(a, val, &n_group);
        } else if (!strcmp(a, "--topk-group")) {
            rc = parse_i32(a, val, &topk_group);
        } else if (!strcmp(a, "--n-dense-lead")) {
            rc = parse_i32(a, val, &n_dense_lead);
        } else if (!strcmp(a, "--routed-scale")) {
            rc = parse_f32(a, val, &routed_scale);
        } else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            seed = strtoull(val, &end, 0);
            if (errno || end == val || *end || val[0] == '-') {
                fprintf(stderr, "difflm-mkmodel: --seed: '%s' is not an unsigned integer\n", val);
                rc = -1;
            }
        }
        if (rc)
            return 2;
        i += takes;
    }
    if (!path) {
        fprintf(stderr, "difflm-mkmodel: -o PATH is required\n");
        usage(stderr);
        return 2;
    }

    const dl_arch *row = dl_arch_find(arch, strlen(arch));
    if (!row) {
        char archs[128];
        fprintf(stderr, "difflm-mkmodel: --arch must be one of %s, not '%s'\n",
                dl_arch_list(archs, sizeof archs), arch);
        return 2;
    }
    dl_tiny_spec s;
    dl_tiny_spec_init(&s, row->id);
    if (!strcmp(type, "f32"))
        s.wtype = DL_TYPE_F32;
    else if (!strcmp(type, "f16"))
        s.wtype = DL_TYPE_F16;
    else if (!strcmp(type, "bf16"))
        s.wtype = DL_TYPE_BF16;
    else {
        fprintf(stderr, "difflm-mkmodel: --type must be f32, f16 or bf16, not '%s'\n", type);
        return 2;
    }
    s.n_embd = n_embd;
    s.n_layer = n_layer;
    s.n_head = n_head;
    s.n_head_kv = n_head_kv < 0 ? n_head : n_head_kv;
    s.n_ff = n_ff;
    s.n_vocab = vocab;
    s.n_ctx = ctx;
    s.tied = tied;
    s.output_bias = out_bias;
    s.mask_id = mask_id;
    s.seed = seed;
    s.shift_key = !no_shift;
    s.n_expert = n_expert;
    s.n_expert_used = n_expert_used;
    s.n_ff_exp = n_ff_exp;
    s.n_ff_shexp = n_ff_shexp;
    s.n_group = n_group;
    s.topk_group = topk_group;
    s.n_dense_lead = n_dense_lead;
    s.routed_scale = routed_scale;
    s.block_length = block_length;
    if (theta >= 0.0f)
        s.rope_theta = theta;
    if (eps >= 0.0f)
        s.eps = eps;

    dl_err err = { 0 };
    int rc = dl_tiny_write(&s, path, &err);
    if (rc) {
        fprintf(stderr, "difflm-mkmodel: %s: %s\n", difflm_status_str(rc), err.msg);
        return 1;
    }
    return 0;
}
