/* quant_dump - writes test records for check_quants.py: random blocks with difflm's
 * dequantization of them, and random rows with difflm's quantization of them.
 *
 *   quant_dump OUT.bin [seed]
 * Record: u32 ggml type, u32 kind (0 dequantize, 1 quantize), u32 input bytes,
 * u32 output bytes, input, output. Little-endian host assumed (x86-64, aarch64). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt/ggml_types.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"

static uint64_t rng = 1;
static uint32_t next_u32(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* A random finite half (any sign, subnormals included), as the scale fields need. */
static uint16_t rand_f16(void) {
    uint16_t h;
    do
        h = (uint16_t)next_u32();
    while (((h >> 10) & 31) == 31);
    return h;
}

/* Byte offsets of the fp16 fields of each block layout (quant.h). */
static void fix_halves(uint32_t type, uint8_t *b) {
    int offs[2] = { -1, -1 };
    switch (type) {
    case DL_TYPE_Q8_0: case DL_TYPE_Q4_0: case DL_TYPE_Q5_0: offs[0] = 0; break;
    case DL_TYPE_Q4_1: case DL_TYPE_Q5_1: case DL_TYPE_Q4_K: case DL_TYPE_Q5_K:
        offs[0] = 0; offs[1] = 2; break;
    case DL_TYPE_Q6_K: offs[0] = 208; break;
    default: break;
    }
    for (int i = 0; i < 2; i++)
        if (offs[i] >= 0) {
            uint16_t h = rand_f16();
            b[offs[i]] = (uint8_t)(h & 255);
            b[offs[i] + 1] = (uint8_t)(h >> 8);
        }
}

static int put(FILE *f, uint32_t type, uint32_t kind, const void *in, uint32_t nin,
               const void *out, uint32_t nout) {
    uint32_t h[4] = { type, kind, nin, nout };
    return fwrite(h, 4, 4, f) == 4 && fwrite(in, 1, nin, f) == nin &&
           fwrite(out, 1, nout, f) == nout ? 0 : -1;
}

static float gauss(void) {
    double u1 = (next_u32() + 1.0) / 4294967297.0, u2 = next_u32() / 4294967296.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: quant_dump OUT.bin [seed]\n");
        return 2;
    }
    rng = argc > 2 ? strtoull(argv[2], NULL, 10) | 1 : 12345;
    FILE *f = fopen(argv[1], "wb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    static const uint32_t types[] = { DL_TYPE_Q8_0, DL_TYPE_Q4_0, DL_TYPE_Q4_1, DL_TYPE_Q5_0,
                                      DL_TYPE_Q5_1, DL_TYPE_Q4_K, DL_TYPE_Q5_K, DL_TYPE_Q6_K };
    int rc = 0;
    for (size_t t = 0; t < sizeof types / sizeof types[0] && !rc; t++) {
        const dl_type_info *ti = dl_type_get(types[t]);
        int nblk = ti->block_size == 256 ? 64 : 512;
        size_t nb = (size_t)nblk * ti->type_size, ne = (size_t)nblk * ti->block_size;
        uint8_t *raw = malloc(nb);
        float *vals = malloc(ne * sizeof(float));
        if (!raw || !vals) {
            free(raw);
            free(vals);
            fclose(f);
            return 1;
        }
        /* random bytes are valid blocks once the half-precision scales are finite */
        for (size_t i = 0; i < nb; i++)
            raw[i] = (uint8_t)next_u32();
        for (int i = 0; i < nblk; i++)
            fix_halves(types[t], raw + (size_t)i * ti->type_size);
        dl_dequant_row(types[t], vals, raw, (int64_t)ne);
        rc |= put(f, types[t], 0, raw, (uint32_t)nb, vals, (uint32_t)(ne * 4));
        /* quantize: gaussian rows, a few blocks of special shapes at the front */
        for (size_t i = 0; i < ne; i++)
            vals[i] = gauss() * (float)(1 + (i / ti->block_size) % 7) * 0.05f;
        for (size_t i = 0; i < 32; i++)
            vals[i] = 0.0f;                        /* an all-zero block */
        for (size_t i = 32; i < 64; i++)
            vals[i] = 0.25f + 0.01f * (float)i;    /* all positive */
        for (size_t i = 64; i < 96; i++)
            vals[i] = -0.5f - 0.02f * (float)i;    /* all negative */
        for (size_t i = 96; i < 128; i++)
            vals[i] = (float)(i % 5) - 2.0f;       /* ties in the rounding */
        dl_quantize_row(types[t], raw, vals, (int64_t)ne);
        rc |= put(f, types[t], 1, vals, (uint32_t)(ne * 4), raw, (uint32_t)nb);
        free(raw);
        free(vals);
    }
    if (fclose(f) != 0 || rc) {
        fprintf(stderr, "quant_dump: write failed\n");
        return 1;
    }
    return 0;
}
