/* data.c - the corpus as one token stream (documents separated by EOS), cached next to
 * the text as uint16 ids, and the windows a step or an evaluation reads from it.
 *
 * Cache file (little-endian): "DLTOKC01", u64 text bytes, u64 FNV-1a of the text, u64
 * FNV-1a of the tokenizer file, u64 token count, then the ids. A cache whose hashes do
 * not match is rebuilt, so editing the corpus or the tokenizer cannot go unnoticed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "difflm_internal.h"
#include "train.h"

static const char k_magic[8] = { 'D', 'L', 'T', 'O', 'K', 'C', '0', '1' };

static uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* Whole file into a malloc'd buffer (NUL-terminated for convenience). */
int tr_slurp(const char *path, char **buf, size_t *n, dl_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return dl_fail(err, DIFFLM_E_IO, "cannot open '%s'", path);
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return dl_fail(err, DIFFLM_E_IO, "cannot seek '%s'", path);
    }
    long sz = ftell(f);
    rewind(f);
    if (sz < 0) {
        fclose(f);
        return dl_fail(err, DIFFLM_E_IO, "cannot size '%s'", path);
    }
    char *b = malloc((size_t)sz + 1);
    if (!b) {
        fclose(f);
        return dl_fail(err, DIFFLM_E_NOMEM, "%ld bytes for '%s'", sz, path);
    }
    size_t got = fread(b, 1, (size_t)sz, f);
    fclose(f);
    if (got != (size_t)sz) {
        free(b);
        return dl_fail(err, DIFFLM_E_IO, "short read of '%s'", path);
    }
    b[sz] = 0;
    *buf = b;
    *n = (size_t)sz;
    return 0;
}

/* --- cache */

static int cache_read(tr_data *d, const char *path, size_t text_n, uint64_t text_h,
                      uint64_t tok_h) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char magic[8];
    uint64_t hdr[4];
    int ok = fread(magic, 1, 8, f) == 8 && memcmp(magic, k_magic, 8) == 0 &&
             fread(hdr, sizeof hdr[0], 4, f) == 4 && hdr[0] == text_n && hdr[1] == text_h &&
             hdr[2] == tok_h && hdr[3] > 0 && hdr[3] < ((uint64_t)1 << 40);
    if (ok) {
        d->tok = malloc((size_t)hdr[3] * sizeof *d->tok);
        ok = d->tok && fread(d->tok, sizeof *d->tok, (size_t)hdr[3], f) == hdr[3];
        if (ok)
            d->n = (size_t)hdr[3];
        else {
            free(d->tok);
            d->tok = NULL;
        }
    }
    fclose(f);
    return ok ? 0 : -1;
}

/* Best effort: a cache that cannot be written only costs time on the next run. */
static void cache_write(const tr_data *d, const char *path, size_t text_n, uint64_t text_h,
                        uint64_t tok_h) {
    char tmp[TR_PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return;
    uint64_t hdr[4] = { text_n, text_h, tok_h, d->n };
    int ok = fwrite(k_magic, 1, 8, f) == 8 && fwrite(hdr, sizeof hdr[0], 4, f) == 4 &&
             fwrite(d->tok, sizeof *d->tok, d->n, f) == d->n;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0)
        remove(tmp);
}

/* --- tokenization, in parallel over chunks of whole documents */

typedef struct doc_span {
    size_t start, len;
} doc_span;

typedef struct tok_job {
    const dl_tok *tok;
    const char *text;
    const doc_span *docs;
    size_t n_docs;
    int32_t eos;
    int n_chunks;
    int32_t *out;               /* chunk c writes from out_off[c]: room for every byte + EOS */
    size_t *out_off, *out_n;
    int *rc;
} tok_job;

static void tok_task(void *ctx, int c, int worker) {
    (void)worker;
    tok_job *j = ctx;
    size_t d0 = j->n_docs * (size_t)c / (size_t)j->n_chunks;
    size_t d1 = j->n_docs * (size_t)(c + 1) / (size_t)j->n_chunks;
    int32_t *o = j->out + j->out_off[c];
    size_t n = 0;
    for (size_t i = d0; i < d1; i++) {
        size_t got = 0;
        dl_err e;
        /* byte-level BPE never makes more tokens than bytes */
        int rc = dl_tok_encode(j->tok, j->text + j->docs[i].start, j->docs[i].len, 0, o + n,
                               j->docs[i].len + 1, &got, &e);
        if (rc) {
            j->rc[c] = rc;
            return;
        }
        n += got;
        o[n++] = j->eos;
    }
    j->out_n[c] = n;
}

/* Documents are runs of non-blank lines; blank lines (any count) separate them. */
static doc_span *split_docs(const char *t, size_t n, size_t *n_docs) {
    size_t cap = 1024, k = 0;
    doc_span *d = malloc(cap * sizeof *d);
    size_t i = 0;
    while (d && i < n) {
        while (i < n && (t[i] == '\n' || t[i] == '\r'))
            i++;
        if (i >= n)
            break;
        size_t s = i;
        for (;;) {
            const char *nl = memchr(t + i, '\n', n - i);
            size_t e = nl ? (size_t)(nl - t) : n;   /* end of this line */
            size_t next = e < n ? e + 1 : n;
            int blank_next = next >= n || t[next] == '\n' ||
                             (t[next] == '\r' && next + 1 < n && t[next + 1] == '\n');
            i = next;
            if (blank_next) {
                size_t len = e - s;
                while (len && t[s + len - 1] == '\r')
                    len--;
                if (k == cap) {
                    doc_span *nd = realloc(d, 2 * cap * sizeof *d);
                    if (!nd) {
                        free(d);
                        return NULL;
                    }
                    d = nd;
                    cap *= 2;
                }
                d[k++] = (doc_span){ s, len };
                break;
            }
        }
    }
    *n_docs = k;
    return d;
}

static int tokenize(tr_data *d, const char *text, size_t n, const dl_tok *tok, int32_t eos,
                    dl_err *err) {
    size_t n_docs;
    doc_span *docs = split_docs(text, n, &n_docs);
    if (!docs)
        return dl_fail(err, DIFFLM_E_NOMEM, "document list");
    enum { CHUNKS = 64 };
    size_t off[CHUNKS], cnt[CHUNKS];
    int rcs[CHUNKS] = { 0 };
    size_t total = 0;
    for (int c = 0; c < CHUNKS; c++) {
        off[c] = total;
        cnt[c] = 0;
        size_t d0 = n_docs * (size_t)c / CHUNKS, d1 = n_docs * (size_t)(c + 1) / CHUNKS;
        for (size_t i = d0; i < d1; i++)
            total += docs[i].len + 2;
    }
    int32_t *out = malloc((total ? total : 1) * sizeof *out);
    if (!out) {
        free(docs);
        return dl_fail(err, DIFFLM_E_NOMEM, "%zu token slots", total);
    }
    tok_job j = { tok, text, docs, n_docs, eos, CHUNKS, out, off, cnt, rcs };
    /* runs once, before the model and its pool exist: threads for this call only */
    dl_pool_for(NULL, dl_cpu_count(), CHUNKS, tok_task, &j);
    free(docs);
    size_t n_tok = 0;
    for (int c = 0; c < CHUNKS; c++) {
        if (rcs[c]) {
            free(out);
            return dl_fail(err, rcs[c], "tokenizing document chunk %d failed", c);
        }
        n_tok += cnt[c];
    }
    d->tok = malloc((n_tok ? n_tok : 1) * sizeof *d->tok);
    if (!d->tok) {
        free(out);
        return dl_fail(err, DIFFLM_E_NOMEM, "%zu tokens", n_tok);
    }
    size_t k = 0;
    for (int c = 0; c < CHUNKS; c++)
        for (size_t i = 0; i < cnt[c]; i++)
            d->tok[k++] = (uint16_t)out[off[c] + i];
    d->n = n_tok;
    free(out);
    return 0;
}

int tr_data_load(tr_data *d, const char *text_path, const char *tok_path, int verbose,
                 dl_err *err) {
    memset(d, 0, sizeof *d);
    char *text = NULL, *tokfile = NULL;
    size_t n = 0, tn = 0;
    int rc = tr_slurp(text_path, &text, &n, err);
    if (rc)
        return rc;
    if ((rc = tr_slurp(tok_path, &tokfile, &tn, err))) {
        free(text);
        return rc;
    }
    uint64_t th = fnv1a((const uint8_t *)text, n), kh = fnv1a((const uint8_t *)tokfile, tn);
    free(tokfile);
    char cache[TR_PATH_MAX + 8];
    snprintf(cache, sizeof cache, "%s.tok", text_path);
    if (cache_read(d, cache, n, th, kh) == 0) {
        free(text);
        if (verbose)
            fprintf(stderr, "data: %s: %zu tokens (cached)\n", text_path, d->n);
        return 0;
    }
    dl_gguf *g = NULL;
    dl_tok *tok = NULL;
    if ((rc = dl_gguf_open(&g, tok_path, err)) || (rc = dl_tok_load(&tok, g, err)))
        goto out;
    const dl_tok_special *sp = dl_tok_specials(tok);
    if (sp->eos < 0 || dl_tok_n_vocab(tok) > 65535) {
        rc = dl_fail(err, DIFFLM_E_FORMAT, "tokenizer '%s' has no EOS or more than 65535 tokens",
                     tok_path);
        goto out;
    }
    if (verbose)
        fprintf(stderr, "data: tokenizing %s (%zu bytes) ...\n", text_path, n);
    if ((rc = tokenize(d, text, n, tok, sp->eos, err)))
        goto out;
    cache_write(d, cache, n, th, kh);
    if (verbose)
        fprintf(stderr, "data: %s: %zu tokens (%.2f bytes/token)\n", text_path, d->n,
                d->n ? (double)n / (double)d->n : 0.0);
out:
    dl_tok_free(tok);
    dl_gguf_close(g);
    free(text);
    return rc;
}

void tr_data_free(tr_data *d) {
    free(d->tok);
    d->tok = NULL;
    d->n = 0;
}

/* --- batches */

int tr_batch_init(tr_batch *b, int32_t max_seq, int32_t max_len, dl_err *err) {
    memset(b, 0, sizeof *b);
    size_t rows = (size_t)max_seq * (size_t)max_len;
    b->max_seq = max_seq;
    b->max_len = max_len;
    b->seq_start = malloc((size_t)max_seq * sizeof(int32_t));
    b->seq_len = malloc((size_t)max_seq * sizeof(int32_t));
    b->seq_fixed = malloc((size_t)max_seq * sizeof(int32_t));
    b->clean = malloc(rows * sizeof(int32_t));
    b->input = malloc(rows * sizeof(int32_t));
    b->pos = malloc(rows * sizeof(int32_t));
    b->mask_rows = malloc(rows * sizeof(int32_t));
    b->targets = malloc(rows * sizeof(int32_t));
    b->weights = malloc(rows * sizeof(float));
    if (!b->seq_start || !b->seq_len || !b->seq_fixed || !b->clean || !b->input || !b->pos || !b->mask_rows ||
        !b->targets || !b->weights) {
        tr_batch_free(b);
        return dl_fail(err, DIFFLM_E_NOMEM, "batch of %d x %d", max_seq, max_len);
    }
    return 0;
}

void tr_batch_free(tr_batch *b) {
    free(b->seq_start);
    free(b->seq_len);
    free(b->seq_fixed);
    free(b->clean);
    free(b->input);
    free(b->pos);
    free(b->mask_rows);
    free(b->targets);
    free(b->weights);
    memset(b, 0, sizeof *b);
}

/* Appends [BOS] + d->tok[off .. off+len-1) as the next sequence. */
static void push_seq(tr_batch *b, const tr_data *d, size_t off, int32_t len, int32_t bos) {
    int32_t s = b->n_rows;
    b->seq_start[b->n_seq] = s;
    b->seq_len[b->n_seq] = len;
    b->seq_fixed[b->n_seq] = 1;
    b->clean[s] = bos;
    b->pos[s] = 0;
    for (int32_t i = 1; i < len; i++) {
        b->clean[s + i] = d->tok[off + (size_t)i - 1];
        b->pos[s + i] = i;
    }
    memcpy(b->input + s, b->clean + s, (size_t)len * sizeof(int32_t));
    b->n_seq++;
    b->n_rows += len;
}

void tr_sample_batch(tr_batch *b, const tr_data *d, int32_t n_seq, float cut_frac, int32_t bos,
                     uint64_t *rng) {
    b->n_seq = b->n_rows = b->n_masked = 0;
    for (int32_t i = 0; i < n_seq; i++) {
        int32_t len = b->max_len;
        if (dl_splitmix64_uniform(rng) < cut_frac)
            len = 2 + (int32_t)dl_splitmix64_below(rng, (uint64_t)b->max_len - 1);
        size_t span = (size_t)len - 1;
        size_t off = d->n > span ? (size_t)dl_splitmix64_below(rng, d->n - span + 1) : 0;
        if (span > d->n)   /* the caller checks the stream is long enough; stay in bounds */
            len = (int32_t)d->n + 1;
        push_seq(b, d, off, len, bos);
    }
}

void tr_val_batch(tr_batch *b, const tr_data *d, int32_t first, int32_t n_seq, int32_t n_total,
                  int32_t bos) {
    b->n_seq = b->n_rows = b->n_masked = 0;
    size_t span = (size_t)b->max_len - 1;
    size_t room = d->n > span ? d->n - span : 0;
    int32_t len = d->n >= span ? b->max_len : (int32_t)d->n + 1;
    for (int32_t i = first; i < first + n_seq; i++) {
        size_t off = n_total > 1 ? (size_t)((double)room * i / (n_total - 1)) : 0;
        push_seq(b, d, off, len, bos);
    }
}
