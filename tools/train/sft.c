/* sft.c - instruction pairs for LLaDA's supervised fine-tuning: a file of prompt/response
 * examples, tokenized once, and the sequences a step or an evaluation builds from them.
 *
 * File: one example per line, "PROMPT<TAB>RESPONSE", where backslash-n stands for a
 * newline and two backslashes for one (tools/data/make_pairs.py writes it). A sequence
 * is [BOS] prompt response EOS ..., padded with EOS: LLaDA's SFT pads the response with
 * EOS and trains on the padding, which is what teaches the model to end a text and to
 * fill the rest of a canvas with EOS. LLaDA pads to the longest sequence of its batch,
 * so its lengths vary; here a training sequence's length is drawn uniformly between its
 * own (one EOS) and the canvas, which covers every canvas length at about two thirds of
 * the cost of always padding to the canvas. Validation pads to the canvas. The prompt
 * and its BOS are never masked (seq_fixed); the rest is masked as in pre-training. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "difflm_internal.h"
#include "train.h"

/* Undoes the file's escapes in place; returns the new length, or -1 for a stray '\'. */
static long unescape(char *s, size_t n) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            s[o++] = s[i];
            continue;
        }
        if (++i == n)
            return -1;
        if (s[i] == 'n')
            s[o++] = '\n';
        else if (s[i] == '\\')
            s[o++] = '\\';
        else
            return -1;
    }
    return (long)o;
}

typedef struct grow {
    void *p;
    size_t n, cap, size;
} grow;

static void *grow_push(grow *g, size_t k) {
    if (g->n + k > g->cap) {
        size_t cap = g->cap ? g->cap : 4096;
        while (cap < g->n + k)
            cap *= 2;
        void *np = realloc(g->p, cap * g->size);
        if (!np)
            return NULL;
        g->p = np;
        g->cap = cap;
    }
    void *at = (char *)g->p + g->n * g->size;
    g->n += k;
    return at;
}

static int encode(const dl_tok *tok, const char *s, size_t n, int32_t *buf, size_t cap,
                  size_t *got, dl_err *err) {
    return dl_tok_encode(tok, s, n, 0, buf, cap, got, err);
}

int tr_sft_load(tr_sft *s, const char *path, const char *tok_path, int32_t max_len,
                dl_err *err) {
    memset(s, 0, sizeof *s);
    char *text = NULL;
    size_t n = 0;
    int rc = tr_slurp(path, &text, &n, err);
    if (rc)
        return rc;
    dl_gguf *g = NULL;
    dl_tok *tok = NULL;
    int32_t *buf = NULL;
    grow toks = { NULL, 0, 0, sizeof(uint16_t) }, ex = { NULL, 0, 0, sizeof(tr_sft_example) };
    if ((rc = dl_gguf_open(&g, tok_path, err)) || (rc = dl_tok_load(&tok, g, err)))
        goto out;
    if (dl_tok_n_vocab(tok) > 65536) {   /* the ids are stored as uint16 */
        rc = dl_fail(err, DIFFLM_E_FORMAT, "tokenizer '%s' has more than 65536 tokens", tok_path);
        goto out;
    }
    /* byte-level BPE never makes more tokens than bytes: one line's bytes bound both parts */
    if (!(buf = malloc((n + 1) * sizeof *buf))) {
        rc = dl_fail(err, DIFFLM_E_NOMEM, "token buffer for '%s'", path);
        goto out;
    }
    size_t line_no = 0;
    for (size_t i = 0; i < n;) {
        char *line = text + i;
        char *nl = memchr(line, '\n', n - i);
        size_t len = nl ? (size_t)(nl - line) : n - i;
        i += len + 1;
        line_no++;
        if (len && line[len - 1] == '\r')
            len--;
        if (len == 0)
            continue;
        char *tab = memchr(line, '\t', len);
        long pl = tab ? unescape(line, (size_t)(tab - line)) : -1;
        long rl = tab ? unescape(tab + 1, len - (size_t)(tab - line) - 1) : -1;
        if (pl < 0 || rl <= 0) {
            rc = dl_fail(err, DIFFLM_E_FORMAT, "'%s' line %zu: not PROMPT<TAB>RESPONSE "
                         "(escapes: \\n, \\\\; the response must not be empty)", path, line_no);
            goto out;
        }
        size_t np = 0, nr = 0;
        if ((rc = encode(tok, line, (size_t)pl, buf, n + 1, &np, err)) ||
            (rc = encode(tok, tab + 1, (size_t)rl, buf + np, n + 1 - np, &nr, err)))
            goto out;
        /* BOS + prompt + response + at least one EOS must fit the canvas */
        if (nr == 0 || 1 + np + nr + 1 > (size_t)max_len || np + nr > 65535) {
            s->n_dropped++;
            continue;
        }
        uint16_t *t = grow_push(&toks, np + nr);
        tr_sft_example *e = grow_push(&ex, 1);
        if (!t || !e) {
            rc = dl_fail(err, DIFFLM_E_NOMEM, "examples of '%s'", path);
            goto out;
        }
        for (size_t k = 0; k < np + nr; k++)
            t[k] = (uint16_t)buf[k];
        *e = (tr_sft_example){ toks.n - np - nr, (int32_t)np, (int32_t)nr };
    }
    if (ex.n == 0) {
        rc = dl_fail(err, DIFFLM_E_INVALID_ARG, "'%s': no example fits a canvas of %d", path,
                     max_len);
        goto out;
    }
    s->tok = toks.p;
    s->ex = ex.p;
    s->n = ex.n;
    toks.p = ex.p = NULL;
out:
    free(toks.p);
    free(ex.p);
    free(buf);
    dl_tok_free(tok);
    dl_gguf_close(g);
    free(text);
    return rc;
}

void tr_sft_free(tr_sft *s) {
    free(s->tok);
    free(s->ex);
    memset(s, 0, sizeof *s);
}

/* Appends example i as a sequence of len rows (len >= its tokens + 2). */
static void push_example(tr_batch *b, const tr_sft *s, size_t i, int32_t len, int32_t bos,
                         int32_t eos) {
    const tr_sft_example *e = &s->ex[i];
    int32_t r0 = b->n_rows, n_tok = e->n_prompt + e->n_resp;
    b->seq_start[b->n_seq] = r0;
    b->seq_len[b->n_seq] = len;
    b->seq_fixed[b->n_seq] = 1 + e->n_prompt;
    b->clean[r0] = bos;
    for (int32_t k = 0; k < n_tok; k++)
        b->clean[r0 + 1 + k] = s->tok[e->off + (size_t)k];
    for (int32_t k = 1 + n_tok; k < len; k++)
        b->clean[r0 + k] = eos;
    for (int32_t k = 0; k < len; k++)
        b->pos[r0 + k] = k;
    memcpy(b->input + r0, b->clean + r0, (size_t)len * sizeof(int32_t));
    b->n_seq++;
    b->n_rows += len;
}

void tr_sft_sample(tr_batch *b, const tr_sft *s, int32_t n_seq, int32_t bos, int32_t eos,
                   uint64_t *rng) {
    for (int32_t i = 0; i < n_seq; i++) {
        size_t k = (size_t)dl_splitmix64_below(rng, s->n);
        /* BOS, the example and one EOS, then EOS to a length uniform up to the canvas */
        int32_t need = 2 + s->ex[k].n_prompt + s->ex[k].n_resp;
        int32_t len = need + (int32_t)dl_splitmix64_below(rng, (uint64_t)(b->max_len - need + 1));
        push_example(b, s, k, len, bos, eos);
    }
}

void tr_sft_val_batch(tr_batch *b, const tr_sft *s, int32_t first, int32_t n_seq,
                      int32_t n_total, int32_t bos, int32_t eos) {
    b->n_seq = b->n_rows = b->n_masked = 0;
    for (int32_t i = first; i < first + n_seq; i++) {
        size_t k = n_total > 1 ? (size_t)((double)(s->n - 1) * i / (n_total - 1)) : 0;
        push_example(b, s, k, b->max_len, bos, eos);
    }
}
