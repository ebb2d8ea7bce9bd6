/* difflm-convert - a Hugging Face model folder (or a GGUF file) written as a GGUF file,
 * in a float type or quantized, through the public difflm_convert call.
 *
 *   difflm-convert [--outtype TYPE] [--pure] [--allow-requantize] [-t THREADS] [--quiet]
 *                  MODEL OUT.gguf
 *
 * MODEL: a folder as downloaded from Hugging Face (or its config.json), or a GGUF file.
 * TYPE: f32 f16 bf16 (default f16, as llama.cpp's converter), or a llama-quantize preset:
 * q4_0 q4_1 q5_0 q5_1 q8_0 q4_k_s q4_k_m q5_k_s q5_k_m q6_k (any case). Progress goes to
 * stderr: one line rewritten in place on a terminal, one line per tensor otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "difflm.h"

static void usage(FILE *f) {
    fprintf(f, "usage: difflm-convert [--outtype TYPE] [--pure] [--allow-requantize] "
               "[-t THREADS] [--quiet] MODEL OUT.gguf\n"
               "  MODEL               a Hugging Face model folder (or its config.json), or a GGUF\n"
               "  --outtype TYPE      f32 f16 bf16 (default f16), or a preset: q4_0 q4_1 q5_0\n"
               "                      q5_1 q8_0 q4_k_s q4_k_m q5_k_s q5_k_m q6_k\n"
               "  --pure              every quantizable matrix gets TYPE (no head or layer rules)\n"
               "  --allow-requantize  accept a GGUF whose matrices are already quantized\n"
               "  -t THREADS          threads (default: all cores)\n"
               "  --quiet             no progress, only errors\n");
}

typedef struct progress {
    int tty, quiet;
    uint64_t out_bytes;
} progress;

static int on_tensor(const difflm_convert_progress *p, void *user) {
    progress *pr = user;
    pr->out_bytes += p->out_bytes;
    if (pr->quiet)
        return 0;
    if (pr->tty)
        fprintf(stderr, "\r\033[K[%zu/%zu] %s %s", p->done, p->total, p->tensor, p->type);
    else
        fprintf(stderr, "[%zu/%zu] %s %s\n", p->done, p->total, p->tensor, p->type);
    return 0;
}

static void on_log(int32_t level, const char *msg, void *user) {
    const progress *pr = user;
    if (pr->tty && !pr->quiet)
        fputs("\r\033[K", stderr);   /* not over a half-drawn progress line */
    if (level == DIFFLM_LOG_ERROR || !pr->quiet)
        fprintf(stderr, "difflm-convert: %s\n", msg);
}

int main(int argc, char **argv) {
    const char *type = "f16", *pos[2];
    int npos = 0, pure = 0, requant = 0, threads = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--outtype") && i + 1 < argc) {
            type = argv[++i];
        } else if (!strcmp(argv[i], "--pure")) {
            pure = 1;
        } else if (!strcmp(argv[i], "--allow-requantize")) {
            requant = 1;
        } else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
            quiet = 1;
        } else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
            char *end;
            errno = 0;
            long v = strtol(argv[++i], &end, 10);
            if (errno || *end || v < 0 || v > 1024) {
                fprintf(stderr, "difflm-convert: -t: '%s' is not a thread count\n", argv[i]);
                return 2;
            }
            threads = (int)v;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "difflm-convert: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (npos < 2) {
            pos[npos++] = argv[i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (npos != 2) {
        usage(stderr);
        return 2;
    }
    if (!difflm_convert_type_supported(type)) {
        fprintf(stderr, "difflm-convert: unknown --outtype '%s'\n", type);
        usage(stderr);
        return 2;
    }
    progress pr = { isatty(STDERR_FILENO), quiet, 0 };
    difflm_convert_params p;
    difflm_convert_params_init(&p);
    p.input = pos[0];
    p.output = pos[1];
    p.type = type;
    p.pure = pure;
    p.allow_requantize = requant;
    p.n_threads = threads;
    p.progress_fn = on_tensor;
    p.progress_user = &pr;
    p.log_fn = on_log;
    p.log_user = &pr;
    int st = difflm_convert(&p);
    if (pr.tty && !quiet)
        fputs("\r\033[K", stderr);
    if (st != DIFFLM_OK)
        return 1;
    if (!quiet)
        fprintf(stderr, "difflm-convert: wrote %s (%s, %.1f MiB of tensors)\n", pos[1], type,
                (double)pr.out_bytes / (1 << 20));
    return 0;
}
