/* difflm-logits - dump the model's logits for a sequence of token ids.
 *
 *     difflm-logits -m MODEL.gguf --ids 1,2,3 -o FILE [-t THREADS]
 *
 * Runs one bidirectional forward pass over exactly those ids (positions 0..n-1) and
 * writes little-endian float32 [n_ids][n_vocab]: the unshifted head output, one row per
 * input position. The golden tests compare this file with tests/ref/refcli.py's.
 * A host of the public API only: difflm_logits (include/difflm.h) does the work. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "difflm.h"

static void usage(FILE *f) {
    fprintf(f, "usage: difflm-logits -m MODEL.gguf --ids ID[,ID...] -o FILE [-t THREADS]\n"
               "  writes little-endian float32 [n_ids][n_vocab] (unshifted logits)\n");
}

/* Parses "1,2,3" into a malloc'd array. Returns 0, or -1 with a message on stderr. */
static int parse_ids(const char *s, int32_t **out, int32_t *n_out) {
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += (*p == ',');
    if (cap > INT32_MAX) {
        fprintf(stderr, "difflm-logits: too many ids\n");
        return -1;
    }
    int32_t *ids = malloc(cap * sizeof *ids);
    if (!ids) {
        fprintf(stderr, "difflm-logits: out of memory\n");
        return -1;
    }
    int32_t n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno == ERANGE || v < INT32_MIN || v > INT32_MAX ||
            (*end != ',' && *end != '\0')) {
            fprintf(stderr, "difflm-logits: --ids: bad id at \"%s\" (want comma-separated integers)\n",
                    p);
            free(ids);
            return -1;
        }
        ids[n++] = (int32_t)v;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    *out = ids;
    *n_out = n;
    return 0;
}

/* Writes n floats as little-endian bytes whatever the host order. */
static int write_f32le(FILE *f, const float *x, size_t n) {
    unsigned char buf[4 * 256];
    size_t done = 0;
    while (done < n) {
        size_t k = n - done < 256 ? n - done : 256;
        for (size_t i = 0; i < k; i++) {
            uint32_t u;
            memcpy(&u, &x[done + i], 4);
            buf[4 * i + 0] = (unsigned char)(u);
            buf[4 * i + 1] = (unsigned char)(u >> 8);
            buf[4 * i + 2] = (unsigned char)(u >> 16);
            buf[4 * i + 3] = (unsigned char)(u >> 24);
        }
        if (fwrite(buf, 4, k, f) != k)
            return -1;
        done += k;
    }
    return 0;
}

/* The library's messages (errors only) go to stderr, after the tool's name. */
static void log_stderr(int32_t level, const char *message, void *user) {
    (void)level;
    (void)user;
    fprintf(stderr, "difflm-logits: %s\n", message);
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *ids_arg = NULL, *out_path = NULL;
    long n_threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "difflm-logits: unknown option or missing value: %s\n", a);
            usage(stderr);
            return 1;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            model_path = v;
        } else if (!strcmp(a, "--ids")) {
            ids_arg = v;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            out_path = v;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            char *end;
            errno = 0;
            n_threads = strtol(v, &end, 10);
            if (*v == '\0' || *end != '\0' || errno || n_threads < 0 || n_threads > 4096) {
                fprintf(stderr, "difflm-logits: -t: bad thread count \"%s\"\n", v);
                return 1;
            }
        } else {
            fprintf(stderr, "difflm-logits: unknown option %s\n", a);
            usage(stderr);
            return 1;
        }
    }
    if (!model_path || !ids_arg || !out_path) {
        fprintf(stderr, "difflm-logits: -m, --ids and -o are required\n");
        usage(stderr);
        return 1;
    }

    int32_t *ids = NULL, n_ids = 0;
    if (parse_ids(ids_arg, &ids, &n_ids) != 0)
        return 1;

    int rc = 1, st;
    difflm_ctx *ctx = NULL;
    float *logits = NULL;
    FILE *f = NULL;

    difflm_params p;
    difflm_params_init(&p);
    p.model_path = model_path;
    p.n_threads = (int32_t)n_threads;   // 0: all cores
    p.max_canvas = n_ids;               // the arena for exactly this pass
    // The forward pass never reads the mask id; 0 is in every vocabulary, so files
    // without tokenizer.ggml.mask_token_id load as well.
    p.mask_token_id = 0;
    p.log_level = DIFFLM_LOG_ERROR;
    p.log_fn = log_stderr;
    ctx = difflm_create(&p, &st);
    if (!ctx) {
        fprintf(stderr, "difflm-logits: %s: %s\n", model_path, difflm_status_str(st));
        goto done;
    }
    difflm_model_info info;
    info.struct_size = sizeof info;
    if ((st = difflm_model_info_get(ctx, &info)) != DIFFLM_OK) {
        fprintf(stderr, "difflm-logits: model info: %s\n", difflm_status_str(st));
        goto done;
    }
    const int32_t n_vocab = info.n_vocab;
    for (int32_t i = 0; i < n_ids; i++) {
        if (ids[i] < 0 || ids[i] >= n_vocab) {
            fprintf(stderr, "difflm-logits: id %ld (index %ld) out of range [0, %ld)\n",
                    (long)ids[i], (long)i, (long)n_vocab);
            goto done;
        }
    }

    /* One call, one pass, every row: the buffer holds n_ids x n_vocab floats. */
    size_t n_logits = 0;
    if ((st = difflm_logits(ctx, ids, (size_t)n_ids, NULL, 0, NULL, 0, &n_logits)) !=
        DIFFLM_E_BUFFER_TOO_SMALL) {
        fprintf(stderr, "difflm-logits: %s: %s\n", difflm_status_str(st), difflm_last_error(ctx));
        goto done;
    }
    logits = n_logits <= SIZE_MAX / sizeof *logits ? malloc(n_logits * sizeof *logits) : NULL;
    if (!logits) {
        fprintf(stderr, "difflm-logits: out of memory for %ld tokens\n", (long)n_ids);
        goto done;
    }
    size_t n_got = 0;
    if ((st = difflm_logits(ctx, ids, (size_t)n_ids, NULL, 0, logits, n_logits, &n_got)) !=
        DIFFLM_OK) {
        fprintf(stderr, "difflm-logits: forward pass: %s: %s\n", difflm_status_str(st),
                difflm_last_error(ctx));
        goto done;
    }

    f = fopen(out_path, "wb");
    if (!f) {
        fprintf(stderr, "difflm-logits: cannot open %s for writing: %s\n", out_path, strerror(errno));
        goto done;
    }
    if (write_f32le(f, logits, n_got) != 0) {
        fprintf(stderr, "difflm-logits: write to %s failed\n", out_path);
        goto done;
    }
    if (fclose(f) != 0) {
        f = NULL;
        fprintf(stderr, "difflm-logits: closing %s failed: %s\n", out_path, strerror(errno));
        goto done;
    }
    f = NULL;
    rc = 0;

done:
    if (f)
        fclose(f);
    free(logits);
    difflm_free(ctx);
    free(ids);
    return rc;
}
