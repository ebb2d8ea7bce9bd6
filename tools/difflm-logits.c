/* difflm-logits - dump the model's logits for a sequence of token ids.
 *
 *     difflm-logits -m MODEL.gguf --ids 1,2,3 -o FILE [-t THREADS]
 *
 * Runs one bidirectional forward pass over exactly those ids (positions 0..n-1) and
 * writes little-endian float32 [n_ids][n_vocab]: the unshifted head output, one row per
 * input position. The golden tests compare this file with tests/ref/refcli.py's. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "difflm_internal.h"

/* Rows of logits computed per dl_model_logits call: bounds the buffer at large vocabs. */
#define LOGITS_CHUNK 32

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
        size_t k = DL_MIN(n - done, (size_t)256);
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

    int rc = 1;
    dl_err err;
    dl_err_clear(&err);
    dl_log log = {0};
    dl_gguf *g = NULL;
    dl_model *m = NULL;
    void *scratch = NULL, *lscratch = NULL;
    float *hidden = NULL, *logits = NULL;
    int32_t *rows = NULL;
    FILE *f = NULL;

    if (dl_gguf_open(&g, model_path, &err) != 0 || dl_model_load(&m, g, &log, &err) != 0) {
        fprintf(stderr, "difflm-logits: %s: %s\n", model_path, err.msg);
        goto done;
    }
    m->n_threads = n_threads > 0 ? (int32_t)n_threads : dl_cpu_count();
    const int32_t n_vocab = m->hp.n_vocab, n_embd = m->hp.n_embd;
    for (int32_t i = 0; i < n_ids; i++) {
        if (ids[i] < 0 || ids[i] >= n_vocab) {
            fprintf(stderr, "difflm-logits: id %ld (index %ld) out of range [0, %ld)\n",
                    (long)ids[i], (long)i, (long)n_vocab);
            goto done;
        }
    }

    const int32_t chunk = DL_MIN(n_ids, LOGITS_CHUNK);
    size_t n_hidden, n_logits;
    if (dl_mul_size((size_t)n_ids, (size_t)n_embd * sizeof(float), &n_hidden) ||
        dl_mul_size((size_t)chunk, (size_t)n_vocab * sizeof(float), &n_logits)) {
        fprintf(stderr, "difflm-logits: sizes overflow\n");
        goto done;
    }
    /* At least one line each: a zero-byte request may legitimately come back NULL. */
    scratch = dl_aligned_alloc(DL_MAX(dl_model_scratch_size(m, n_ids), (size_t)DL_ALIGN));
    lscratch = dl_aligned_alloc(DL_MAX(dl_model_logits_scratch_size(m, chunk), (size_t)DL_ALIGN));
    hidden = dl_aligned_alloc(n_hidden);
    logits = dl_aligned_alloc(n_logits);
    rows = malloc((size_t)chunk * sizeof *rows);
    if (!scratch || !lscratch || !hidden || !logits || !rows) {
        fprintf(stderr, "difflm-logits: out of memory for %ld tokens\n", (long)n_ids);
        goto done;
    }
    if (dl_model_forward(m, scratch, ids, n_ids, hidden, NULL, &err) != 0) {
        fprintf(stderr, "difflm-logits: forward pass: %s\n", err.msg);
        goto done;
    }

    f = fopen(out_path, "wb");
    if (!f) {
        fprintf(stderr, "difflm-logits: cannot open %s for writing: %s\n", out_path, strerror(errno));
        goto done;
    }
    for (int32_t r0 = 0; r0 < n_ids; r0 += chunk) {
        const int32_t nr = DL_MIN(chunk, n_ids - r0);
        for (int32_t i = 0; i < nr; i++)
            rows[i] = r0 + i;
        dl_model_logits(m, lscratch, hidden, rows, nr, logits);
        if (write_f32le(f, logits, (size_t)nr * (size_t)n_vocab) != 0) {
            fprintf(stderr, "difflm-logits: write to %s failed\n", out_path);
            goto done;
        }
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
    free(rows);
    dl_aligned_free(logits);
    dl_aligned_free(hidden);
    dl_aligned_free(lscratch);
    dl_aligned_free(scratch);
    dl_model_free(m);
    dl_gguf_close(g);
    free(ids);
    return rc;
}
