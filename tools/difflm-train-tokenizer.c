/* difflm-train-tokenizer - learns a byte-level BPE vocabulary from text files and writes
 * it as a tokenizer-only GGUF file (tokenizer.* keys, no tensors), which difflm-train
 * copies into the model it exports. The pieces are cut by the library's own llama3
 * pre-tokenizer, so training sees exactly the pieces inference will. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "train_tokenizer/bpe_train.h"

#define DEFAULT_VOCAB 4096
#define DEFAULT_NAME "difflm byte-level BPE tokenizer (tokenizer only, no model)"

static void usage(FILE *f) {
    fprintf(f,
            "usage: difflm-train-tokenizer [options] -o OUT.gguf FILE...\n"
            "  --vocab N        total tokens including the %d specials (default %d, min %d)\n"
            "  --min-count N    stop early when no pair occurs N times (default 2)\n"
            "  --name TEXT      general.name (default \"%s\")\n"
            "  --eval FILE      after writing, report tokens per byte of FILE (repeatable)\n"
            "  --naive          use the slow reference trainer (for checking)\n"
            "  -q               no progress messages\n",
            BPET_N_SPECIAL, DEFAULT_VOCAB, BPET_N_SPECIAL + 256, DEFAULT_NAME);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int parse_i64(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "difflm-train-tokenizer: %s: '%s' is not an integer in [%lld, %lld]\n", opt, s,
                (long long)lo, (long long)hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* Whole file in a malloc'd buffer; NULL with a message on failure. */
static uint8_t *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "difflm-train-tokenizer: cannot open '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 20, len = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) break;
        uint8_t *b = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
        if (!b) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = b;
        cap *= 2;
    }
    int bad = !buf || ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "difflm-train-tokenizer: cannot read '%s'%s\n", path, buf ? "" : " (out of memory)");
        free(buf);
        return NULL;
    }
    *n = len;
    return buf;
}

/* Encodes FILE with the written tokenizer, checks the round trip, prints tokens/byte. */
static int eval_file(const char *tok_path, const char *path) {
    dl_err err = {0};
    dl_gguf *g = NULL;
    dl_tok *t = NULL;
    size_t n = 0, n_ids = 0, n_back = 0;
    uint8_t *text = read_file(path, &n);
    int32_t *ids = NULL;
    char *back = NULL;
    int rc = text ? 0 : -1;
    if (rc == 0 && ((rc = dl_gguf_open(&g, tok_path, &err)) || (rc = dl_tok_load(&t, g, &err))))
        fprintf(stderr, "difflm-train-tokenizer: %s: %s\n", tok_path, err.msg);
    if (rc == 0) {
        ids = malloc((n ? n : 1) * sizeof *ids);   /* never more ids than bytes */
        back = malloc(n ? n : 1);
        if (!ids || !back) rc = DIFFLM_E_NOMEM;
    }
    if (rc == 0 && ((rc = dl_tok_encode(t, (const char *)text, n, 0, ids, n, &n_ids, &err)) ||
                    (rc = dl_tok_decode(t, ids, n_ids, 0, back, n, &n_back, &err))))
        fprintf(stderr, "difflm-train-tokenizer: %s: %s\n", path, err.msg);
    if (rc == 0 && (n_back != n || memcmp(back, text, n) != 0)) {
        fprintf(stderr, "difflm-train-tokenizer: %s: decode(encode(text)) differs from the text\n", path);
        rc = -1;
    }
    if (rc == 0)
        printf("%s: %zu bytes -> %zu tokens: %.4f tokens/byte (%.3f bytes/token)\n", path, n, n_ids,
               n ? (double)n_ids / (double)n : 0.0, n_ids ? (double)n / (double)n_ids : 0.0);
    free(text);
    free(ids);
    free(back);
    dl_tok_free(t);
    dl_gguf_close(g);
    return rc ? 1 : 0;
}

int main(int argc, char **argv) {
    const char *out = NULL, *name = DEFAULT_NAME;
    const char *evals[16];
    int n_evals = 0, naive = 0, quiet = 0;
    int64_t vocab = DEFAULT_VOCAB, min_count = 2;
    const char **files = calloc((size_t)argc, sizeof *files);
    int n_files = 0;
    if (!files) return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            free(files);
            return 0;
        } else if (!strcmp(a, "-o") && has_val) {
            out = argv[++i];
        } else if (!strcmp(a, "--vocab") && has_val) {
            if (parse_i64(a, argv[++i], 0, INT32_MAX - 1, &vocab)) goto bad_usage;
        } else if (!strcmp(a, "--min-count") && has_val) {
            if (parse_i64(a, argv[++i], 1, INT64_MAX, &min_count)) goto bad_usage;
        } else if (!strcmp(a, "--name") && has_val) {
            name = argv[++i];
        } else if (!strcmp(a, "--eval") && has_val) {
            if (n_evals == (int)(sizeof evals / sizeof evals[0])) goto bad_usage;
            evals[n_evals++] = argv[++i];
        } else if (!strcmp(a, "--naive")) {
            naive = 1;
        } else if (!strcmp(a, "-q")) {
            quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "difflm-train-tokenizer: unknown option or missing value: %s\n", a);
            goto bad_usage;
        } else {
            files[n_files++] = a;
        }
    }
    if (!out || n_files == 0) goto bad_usage;
    if (vocab < BPET_N_SPECIAL + 256) {
        fprintf(stderr, "difflm-train-tokenizer: --vocab %lld is too small: the %d special tokens and "
                "256 byte tokens need at least %d\n", (long long)vocab, BPET_N_SPECIAL, BPET_N_SPECIAL + 256);
        free(files);
        return 2;
    }

    dl_err err = {0};
    dl_pretok rules;
    bpet_pieces pieces;
    bpet_vocab v = {0};
    dl_gguf_writer *w = NULL;
    bpet_pieces_init(&pieces);
    double t0 = now_s();
    int rc = dl_pretok_init(&rules, DL_PRE_LLAMA3, &err);
    if (rc) {
        fprintf(stderr, "difflm-train-tokenizer: %s\n", err.msg);
        free(files);
        return 1;
    }
    for (int i = 0; i < n_files && rc == 0; i++) {
        size_t n;
        uint8_t *text = read_file(files[i], &n);
        if (!text) {
            rc = -1;
            break;
        }
        rc = bpet_pieces_add_text(&pieces, &rules, text, n, &err);
        if (rc) fprintf(stderr, "difflm-train-tokenizer: %s: %s\n", files[i], err.msg);
        free(text);
    }
    dl_pretok_free(&rules);
    double t1 = now_s();
    if (rc == 0 && !quiet)
        fprintf(stderr, "pre-tokenized %lld bytes into %zu distinct pieces in %.2f s\n",
                (long long)pieces.total_bytes, pieces.n, t1 - t0);
    bpet_params prm = {.max_tokens = (int32_t)(vocab - BPET_N_SPECIAL), .min_count = min_count};
    if (rc == 0) {
        rc = naive ? bpet_train_naive(&v, &pieces, &prm, &err) : bpet_train(&v, &pieces, &prm, &err);
        if (rc) fprintf(stderr, "difflm-train-tokenizer: training: %s\n", err.msg);
    }
    double t2 = now_s();
    if (rc == 0 && !quiet) {
        fprintf(stderr, "learned %d merges (%d tokens) in %.2f s", v.n_merges, v.n_tokens, t2 - t1);
        if (v.n_merges)
            fprintf(stderr, "; last merge seen %lld times", (long long)v.merges[v.n_merges - 1].count);
        fputc('\n', stderr);
    }
    if (rc == 0 && v.n_tokens < prm.max_tokens)
        fprintf(stderr, "difflm-train-tokenizer: warning: no pair occurs %lld times any more: "
                "the vocabulary has %d tokens, not %lld\n",
                (long long)min_count, BPET_N_SPECIAL + v.n_tokens, (long long)vocab);
    if (rc == 0) {
        rc = bpet_gguf_writer(&w, &v, name, &err);
        if (rc == 0) rc = dl_gguf_writer_write(w, out, &err);
        if (rc) fprintf(stderr, "difflm-train-tokenizer: %s: %s\n", out, err.msg);
        else if (!quiet)
            fprintf(stderr, "wrote %s (%d tokens, %d merges)\n", out, BPET_N_SPECIAL + v.n_tokens, v.n_merges);
    }
    dl_gguf_writer_free(w);
    bpet_vocab_free(&v);
    bpet_pieces_free(&pieces);
    free(files);
    if (rc) return 1;
    int bad = 0;
    for (int i = 0; i < n_evals; i++) bad |= eval_file(out, evals[i]);
    return bad;

bad_usage:
    usage(stderr);
    free(files);
    return 2;
}
