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
 * The quantizers are the type table's (lib/kernels/types.c), each in its format's
 * lib/kernels/quant_<name>.c (ggml's reference quantizers for the 32-element formats, an
 * own scale search for the K formats). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "difflm_internal.h"

enum rule { RULE_PLAIN = 0, RULE_KM = 1, RULE_KS = 2 };

typedef struct preset {
    const char *name;
    uint32_t type;      /* the default type of quantizable matrices */
    uint32_t ftype;     /* general.file_type (llama ftype) */
    int rule;
} preset;

static const preset k_presets[] = {
    { "Q4_0", DL_TYPE_Q4_0, 2, RULE_PLAIN },   { "Q4_1", DL_TYPE_Q4_1, 3, RULE_PLAIN },
    { "Q5_0", DL_TYPE_Q5_0, 8, RULE_PLAIN },   { "Q5_1", DL_TYPE_Q5_1, 9, RULE_PLAIN },
    { "Q8_0", DL_TYPE_Q8_0, 7, RULE_PLAIN },   { "Q4_K_S", DL_TYPE_Q4_K, 14, RULE_KS },
    { "Q4_K_M", DL_TYPE_Q4_K, 15, RULE_KM },   { "Q4_K", DL_TYPE_Q4_K, 15, RULE_KM },
    { "Q5_K_S", DL_TYPE_Q5_K, 16, RULE_KS },   { "Q5_K_M", DL_TYPE_Q5_K, 17, RULE_KM },
    { "Q5_K", DL_TYPE_Q5_K, 17, RULE_KM },     { "Q6_K", DL_TYPE_Q6_K, 18, RULE_PLAIN },
    { "F16", DL_TYPE_F16, 1, RULE_PLAIN },     { "BF16", DL_TYPE_BF16, 32, RULE_PLAIN },
    { "F32", DL_TYPE_F32, 0, RULE_PLAIN },
};

static void usage(FILE *f) {
    fprintf(f, "usage: difflm-quantize [-t THREADS] [--pure] [--allow-requantize] IN.gguf "
               "OUT.gguf TYPE\n"
               "  TYPE: Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K (presets;\n"
               "        Q4_K = Q4_K_M, Q5_K = Q5_K_M), or with --pure also F16 BF16 F32\n"
               "  --pure              every quantizable matrix gets TYPE (no head or layer rules)\n"
               "  --allow-requantize  accept already quantized input tensors\n"
               "  -t THREADS          threads (default: all cores)\n");
}

static const preset *find_preset(const char *s) {
    char up[16];
    size_t n = strlen(s);
    if (n >= sizeof up)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        up[i] = (char)toupper((unsigned char)s[i]);
    for (size_t i = 0; i < sizeof k_presets / sizeof k_presets[0]; i++)
        if (!strcmp(up, k_presets[i].name))
            return &k_presets[i];
    return NULL;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Layer index of "blk.N...." names, else -1. */
static int layer_of(const char *name) {
    if (strncmp(name, "blk.", 4) != 0)
        return -1;
    char *end;
    long v = strtol(name + 4, &end, 10);
    return end != name + 4 && *end == '.' && v >= 0 && v < 1 << 20 ? (int)v : -1;
}

static int more_bits(int i, int n) {
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static int quantizable(const dl_gguf_tensor *t) {
    int dims = 0;
    for (uint32_t d = 0; d < t->n_dims; d++)
        dims += t->ne[d] > 1 || d == 0;
    return t->n_dims >= 2 && dims >= 2 && ends_with(t->name, "weight") &&
           !strstr(t->name, "_norm.weight") && !strstr(t->name, "ffn_gate_inp");
}

/* The per-tensor type (doc/formats.md, "Quantization presets"), before the divisibility fallbacks. */
static uint32_t rule_type(const preset *p, int pure, const char *name, int64_t ne0, int is_head,
                          int n_layer) {
    uint32_t t = p->type;
    if (pure)
        return t;
    if (is_head) {
        const dl_type_info *ti = dl_type_get(t);
        if (ti->block_size > 1 && ne0 % ti->block_size != 0)
            return DL_TYPE_Q8_0;
        return t == DL_TYPE_Q8_0 || !ti->quantized ? t : DL_TYPE_Q6_K;
    }
    int il = layer_of(name);
    int is_v = strstr(name, "attn_v.weight") || strstr(name, "attn_qkv.weight");
    int is_down = strstr(name, "ffn_down") != NULL;
    if (il >= 0 && (is_v || is_down)) {
        if (p->rule == RULE_KM && more_bits(il, n_layer))
            return DL_TYPE_Q6_K;
        if (p->rule == RULE_KS && ((is_v && il < 4) || (is_down && il < n_layer / 8)))
            return DL_TYPE_Q5_K;
    }
    return t;
}

/* llama-quantize's fallbacks for rows its blocks do not divide. */
static uint32_t fallback(uint32_t t, int64_t ne0) {
    if (ne0 % 256 != 0) {
        if (t == DL_TYPE_Q4_K) t = DL_TYPE_Q5_0;
        else if (t == DL_TYPE_Q5_K) t = DL_TYPE_Q5_1;
        else if (t == DL_TYPE_Q6_K) t = DL_TYPE_Q8_0;
    }
    const dl_type_info *ti = dl_type_get(t);
    if (ti->block_size > 1 && ne0 % ti->block_size != 0)
        t = DL_TYPE_F16;
    return t;
}

/* --- conversion of one tensor, rows split over threads */

typedef struct conv_job {
    const dl_gguf_tensor *src;
    uint32_t type;
    uint8_t *dst;
    int64_t rows, ne0;
    int bad_row;            /* a row with a NaN or infinity (first found), or -1 */
} conv_job;

#define ROWS_PER_TASK 16

static void conv_task(void *ctx, int task, int worker) {
    (void)worker;
    conv_job *j = ctx;
    size_t sb = dl_row_bytes(j->src->type, j->ne0), db = dl_row_bytes(j->type, j->ne0);
    float *row = malloc((size_t)j->ne0 * sizeof(float));
    if (!row) {
        j->bad_row = -2;
        return;
    }
    for (int64_t r = (int64_t)task * ROWS_PER_TASK; r < j->rows && r < (int64_t)(task + 1) * ROWS_PER_TASK; r++) {
        dl_dequant_row(j->src->type, row, (const uint8_t *)j->src->data + (size_t)r * sb, j->ne0);
        for (int64_t k = 0; k < j->ne0; k++)
            if (!(row[k] - row[k] == 0.0f)) {   /* NaN or infinity */
                j->bad_row = (int)r;
                free(row);
                return;
            }
        dl_from_f32_row(j->type, j->dst + (size_t)r * db, row, j->ne0);
    }
    free(row);
}

/* --- metadata */

/* Every key but the two that describe the old weights, copied with its type. */
static int copy_kv(dl_gguf_writer *w, const dl_gguf *g, size_t i) {
    const char *key = dl_gguf_key_at(g, i);
    if (!strcmp(key, "general.file_type") || !strcmp(key, "general.quantization_version"))
        return 0;
    return dl_gguf_w_copy_kv(w, g, i);
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
    const preset *p = find_preset(pos[2]);
    if (!p || (!pure && !dl_type_get(p->type)->quantized)) {
        fprintf(stderr, "difflm-quantize: unknown type or preset '%s'%s\n", pos[2],
                p ? " (F16, BF16 and F32 need --pure)" : "");
        return 2;
    }

    dl_err err = { 0 };
    dl_gguf *g = NULL;
    dl_pool *pool = NULL;
    dl_gguf_writer *w = NULL;
    uint8_t **bufs = NULL;
    int rc = 1;
    if (dl_gguf_open(&g, pos[0], &err) || dl_pool_create(&pool, threads, &err)) {
        fprintf(stderr, "difflm-quantize: %s: %s\n", pos[0], err.msg);
        goto done;
    }
    w = dl_gguf_writer_new();
    size_t nt = dl_gguf_n_tensors(g);
    bufs = calloc(nt ? nt : 1, sizeof *bufs);
    if (!w || !bufs) {
        fprintf(stderr, "difflm-quantize: out of memory\n");
        goto done;
    }
    dl_gguf_writer_set_version(w, 3);
    for (size_t i = 0; i < dl_gguf_n_kv(g); i++)
        if (copy_kv(w, g, i)) {
            fprintf(stderr, "difflm-quantize: cannot copy key '%s'\n", dl_gguf_key_at(g, i));
            goto done;
        }

    int n_layer = 0;
    for (size_t i = 0; i < nt; i++) {
        int il = layer_of(dl_gguf_tensor_at(g, i)->name);
        n_layer = il + 1 > n_layer ? il + 1 : n_layer;
    }
    int tied = dl_gguf_find_tensor(g, "output.weight") == NULL;
    uint64_t in_bytes = 0, out_bytes = 0;
    int counts[64] = { 0 };
    for (size_t i = 0; i < nt; i++) {
        const dl_gguf_tensor *t = dl_gguf_tensor_at(g, i);
        in_bytes += t->size;
        uint32_t type = t->type;
        if (quantizable(t)) {
            const dl_type_info *ti = dl_type_get(t->type);   /* the reader knows every id */
            if (!requant && ti->quantized) {
                char tb[32];
                fprintf(stderr, "difflm-quantize: tensor '%s' is already %s (use "
                        "--allow-requantize)\n", t->name, dl_type_name(t->type, tb, sizeof tb));
                goto done;
            }
            if (!ti->to_f32) {
                char tb[32];
                fprintf(stderr, "difflm-quantize: cannot read tensor '%s' of type %s\n", t->name,
                        dl_type_name(t->type, tb, sizeof tb));
                goto done;
            }
            int is_head = !strcmp(t->name, "output.weight") ||
                          (tied && !strcmp(t->name, "token_embd.weight"));
            uint32_t want = rule_type(p, pure, t->name, t->ne[0], is_head, n_layer);
            type = fallback(want, t->ne[0]);
            if (type != want) {
                char a[32], b[32];
                fprintf(stderr, "difflm-quantize: '%s': rows of %lld are not divisible by the "
                        "%s block; using %s\n", t->name, (long long)t->ne[0],
                        dl_type_name(want, a, sizeof a), dl_type_name(type, b, sizeof b));
            }
        }
        const void *data = t->data;
        if (type != t->type) {
            int64_t rows = 1;
            for (uint32_t d = 1; d < t->n_dims; d++)
                rows *= t->ne[d];
            size_t bytes = dl_row_bytes(type, t->ne[0]) * (size_t)rows;
            bufs[i] = malloc(bytes ? bytes : 1);
            if (!bufs[i]) {
                fprintf(stderr, "difflm-quantize: out of memory for '%s'\n", t->name);
                goto done;
            }
            conv_job j = { t, type, bufs[i], rows, t->ne[0], -1 };
            dl_pool_run(pool, (int)((rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK), conv_task, &j);
            if (j.bad_row != -1) {
                fprintf(stderr, "difflm-quantize: tensor '%s': %s\n", t->name,
                        j.bad_row == -2 ? "out of memory" : "row with a NaN or infinity");
                goto done;
            }
            data = bufs[i];
        }
        if (dl_gguf_w_tensor(w, t->name, type, t->n_dims, t->ne, data)) {
            fprintf(stderr, "difflm-quantize: cannot add tensor '%s'\n", t->name);
            goto done;
        }
        out_bytes += dl_row_bytes(type, t->ne[0]) * (uint64_t)(t->ne[1] * t->ne[2] * t->ne[3]);
        counts[type < 64 ? type : 63]++;
    }
    if (dl_gguf_w_u32(w, "general.file_type", p->ftype) ||
        dl_gguf_w_u32(w, "general.quantization_version", 2) ||
        dl_gguf_writer_write(w, pos[1], &err)) {
        fprintf(stderr, "difflm-quantize: %s: %s\n", pos[1], err.msg[0] ? err.msg : "write failed");
        goto done;
    }
    printf("%s -> %s (%s%s): %.1f MiB -> %.1f MiB; tensors:", pos[0], pos[1], p->name,
           pure ? ", pure" : "", (double)in_bytes / (1 << 20), (double)out_bytes / (1 << 20));
    for (int t = 0; t < 64; t++)
        if (counts[t]) {
            char tb[32];
            printf(" %d %s", counts[t], dl_type_name((uint32_t)t, tb, sizeof tb));
        }
    printf("\n");
    rc = 0;
done:
    if (bufs)
        for (size_t i = 0; i < nt; i++)
            free(bufs[i]);
    free(bufs);
    dl_gguf_writer_free(w);
    dl_pool_free(pool);
    dl_gguf_close(g);
    return rc;
}
