/* difflm-quantize - converts a GGUF file's matrices to a quantized type or a llama.cpp
 * preset, copying all metadata; the output loads in difflm and in llama.cpp.
 *
 *   difflm-quantize [-t THREADS] [--pure] [--allow-requantize] IN.gguf OUT.gguf TYPE
 *
 * TYPE is a preset (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K; Q4_K and
 * Q5_K mean Q4_K_M and Q5_K_M, as in llama-quantize) or, with --pure, one type for every
 * quantizable matrix (those presets' types, or F16, BF16, F32). Case does not matter.
 *
 * Per-tensor choices follow llama.cpp's llama-quantize (doc/formats.md, "Quantization presets"): only tensors of 2+
 * dimensions whose name ends in "weight" and that are not norms or the MoE router are
 * quantized; the output head (output.weight, or token_embd.weight when the head is tied)
 * becomes Q6_K unless the preset is Q8_0 (Q8_0 when its rows do not fit the preset's
 * blocks); Q4_K_M/Q5_K_M put attn_v and ffn_down in Q6_K on the "more bits" layers
 * (i < n/8, i >= 7n/8, (i - n/8) % 3 == 2); Q4_K_S puts the first 4 attn_v and the
 * ffn_down of layers < n/8 in Q5_K. Rows not divisible by 256 fall back per tensor
 * (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0), and rows not divisible by 32 to F16.
 * The rules and the quantizers are the library's (difflm_convert; lib/model/quantize_plan.c,
 * lib/kernels/quant_<name>.c): this is a thin host of that call, which also takes a Hugging
 * Face folder (tools/difflm-convert.c is the converter's own front end). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "difflm.h"

static void usage(FILE *f) {
    fprintf(f, "usage: difflm-quantize [-t THREADS] [--pure] [--allow-requantize] IN.gguf "
               "OUT.gguf TYPE\n"
               "  TYPE: Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K (presets;\n"
               "        Q4_K = Q4_K_M, Q5_K = Q5_K_M), or with --pure also F16 BF16 F32\n"
               "  --pure              every quantizable matrix gets TYPE (no head or layer rules)\n"
               "  --allow-requantize  accept already quantized input tensors\n"
               "  -t THREADS          threads (default: all cores)\n");
}

/* What the summary line counts, from the progress reports. */
typedef struct tally {
    uint64_t in_bytes, out_bytes;
    int counts[64];             /* tensors per GGUF type id */
    char names[64][16];
} tally;

static int on_tensor(const difflm_convert_progress *p, void *user) {
    tally *t = user;
    uint32_t id = p->ggml_type < 64 ? p->ggml_type : 63;
    t->in_bytes += p->in_bytes;
    t->out_bytes += p->out_bytes;
    t->counts[id]++;
    snprintf(t->names[id], sizeof t->names[id], "%s", p->type);
    return 0;
}

static void on_log(int32_t level, const char *msg, void *user) {
    (void)level;
    (void)user;
    fprintf(stderr, "difflm-quantize: %s\n", msg);
}

int main(int argc, char **argv) {
    int pure = 0, requant = 0, threads = 0;
    const char *pos[3];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--pure")) {
            pure = 1;
        } else if (!strcmp(argv[i], "--allow-requantize")) {
            requant = 1;
        } else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
            char *end;
            errno = 0;
            long v = strtol(argv[++i], &end, 10);
            if (errno || *end || v < 0 || v > 1024) {
                fprintf(stderr, "difflm-quantize: -t: '%s' is not a thread count\n", argv[i]);
                return 2;
            }
            threads = (int)v;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "difflm-quantize: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (npos < 3) {
            pos[npos++] = argv[i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (npos != 3) {
        usage(stderr);
        return 2;
    }
    char name[16];
    size_t n = strlen(pos[2]);
    for (size_t i = 0; i < n && i + 1 < sizeof name; i++)
        name[i] = (char)toupper((unsigned char)pos[2][i]);
    name[n < sizeof name ? n : sizeof name - 1] = 0;
    int known = n < sizeof name && difflm_convert_type_supported(name);
    int is_float = !strcmp(name, "F16") || !strcmp(name, "BF16") || !strcmp(name, "F32");
    if (!known || (!pure && is_float)) {
        fprintf(stderr, "difflm-quantize: unknown type or preset '%s'%s\n", pos[2],
                known ? " (F16, BF16 and F32 need --pure)" : "");
        return 2;
    }

    tally t = { 0 };
    difflm_convert_params p;
    difflm_convert_params_init(&p);
    p.input = pos[0];
    p.output = pos[1];
    p.type = name;
    p.pure = pure;
    p.allow_requantize = requant;
    p.n_threads = threads;
    p.progress_fn = on_tensor;
    p.progress_user = &t;
    p.log_fn = on_log;
    if (difflm_convert(&p) != DIFFLM_OK)
        return 1;
    printf("%s -> %s (%s%s): %.1f MiB -> %.1f MiB; tensors:", pos[0], pos[1], name,
           pure ? ", pure" : "", (double)t.in_bytes / (1 << 20), (double)t.out_bytes / (1 << 20));
    for (int i = 0; i < 64; i++)
        if (t.counts[i])
            printf(" %d %s", t.counts[i], t.names[i]);
    printf("\n");
    return 0;
}
