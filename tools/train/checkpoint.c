/* checkpoint.c - the whole training state in one file, replaced atomically: written to
 * path.tmp, flushed to disk, then renamed over path, so a run killed at any moment
 * leaves either the previous checkpoint or the new one, never a torn file.
 *
 * Layout (host byte order, x86-64 little-endian): "DLTRCK04", the fields below one by
 * one as fixed-width integers / doubles, the five paths (u32 length + bytes), u64 n,
 * then params, Adam m, Adam v as n floats each, then a u64 FNV-1a of those floats.
 * Older versions still load: 03 lacks hp.sft_frac and the two instruction-pair paths
 * (a run without them), 02 also hp.bf16 (an f32 run). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train.h"

static const char k_magic[8] = { 'D', 'L', 'T', 'R', 'C', 'K', '0', '4' };

typedef struct io {
    FILE *f;
    int ok;
    uint64_t h;
} io;

static void hash(io *s, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        s->h = (s->h ^ b[i]) * 0x100000001b3ull;
}

static void wr(io *s, const void *p, size_t n) {
    if (s->ok && fwrite(p, 1, n, s->f) != n)
        s->ok = 0;
}
static void rd(io *s, void *p, size_t n) {
    if (s->ok && fread(p, 1, n, s->f) != n)
        s->ok = 0;
    if (!s->ok)
        memset(p, 0, n);
}

#define W_I(s, x) do { int64_t t_ = (int64_t)(x); wr(s, &t_, 8); } while (0)
#define W_F(s, x) do { double t_ = (double)(x); wr(s, &t_, 8); } while (0)
#define R_I(s, x) do { int64_t t_; rd(s, &t_, 8); (x) = t_; } while (0)
#define R_F(s, x) do { double t_; rd(s, &t_, 8); (x) = t_; } while (0)

/* One list of fields for both directions, so the two cannot disagree. */
#define STATE_FIELDS(I, F, s, st)                                                           \
    I(s, (st)->cfg.n_vocab); I(s, (st)->cfg.n_embd); I(s, (st)->cfg.n_layer);                \
    I(s, (st)->cfg.n_head); I(s, (st)->cfg.n_head_kv); I(s, (st)->cfg.head_dim);             \
    I(s, (st)->cfg.n_ff); I(s, (st)->cfg.n_ctx); F(s, (st)->cfg.rope_theta);                 \
    F(s, (st)->cfg.rms_eps);                                                                 \
    I(s, (st)->hp.batch); I(s, (st)->hp.steps); I(s, (st)->hp.warmup); F(s, (st)->hp.lr);    \
    F(s, (st)->hp.min_lr_frac); F(s, (st)->hp.wd); F(s, (st)->hp.beta1); F(s, (st)->hp.beta2); \
    F(s, (st)->hp.adam_eps); F(s, (st)->hp.clip); F(s, (st)->hp.cut_frac);                   \
    I(s, (st)->hp.seed); I(s, (st)->hp.ckpt_every); I(s, (st)->hp.eval_every);               \
    I(s, (st)->hp.log_every); I(s, (st)->hp.eval_windows); I(s, (st)->hp.threads);           \
    I(s, (st)->step); I(s, (st)->tokens_seen); I(s, (st)->data_rng); I(s, (st)->mask_rng);   \
    F(s, (st)->elapsed)
/* added in version 03 */
#define STATE_FIELDS_03(I, s, st) I(s, (st)->hp.bf16)
/* added in version 04, with the paths st->sft and st->sft_val */
#define STATE_FIELDS_04(F, s, st) F(s, (st)->hp.sft_frac)

static void w_path(io *s, const char *p) {
    uint32_t n = (uint32_t)strlen(p);
    wr(s, &n, 4);
    wr(s, p, n);
}

static void r_path(io *s, char *p) {
    uint32_t n = 0;
    rd(s, &n, 4);
    if (n >= TR_PATH_MAX)
        s->ok = 0;
    if (!s->ok) {
        p[0] = 0;
        return;
    }
    rd(s, p, n);
    p[n] = 0;
}

int tr_ckpt_save(const char *path, const tr_state *st, const float *p, const float *m,
                 const float *v, size_t n, dl_err *err) {
    char tmp[TR_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    io s = { fopen(tmp, "wb"), 1, 0xcbf29ce484222325ull };
    if (!s.f)
        return dl_fail(err, DIFFLM_E_IO, "cannot create '%s'", tmp);
    wr(&s, k_magic, 8);
    STATE_FIELDS(W_I, W_F, &s, st);
    STATE_FIELDS_03(W_I, &s, st);
    STATE_FIELDS_04(W_F, &s, st);
    w_path(&s, st->tokenizer);
    w_path(&s, st->train);
    w_path(&s, st->val);
    w_path(&s, st->sft);
    w_path(&s, st->sft_val);
    uint64_t n64 = n;
    wr(&s, &n64, 8);
    const float *arrs[3] = { p, m, v };
    for (int i = 0; i < 3; i++) {
        wr(&s, arrs[i], n * sizeof(float));
        hash(&s, arrs[i], n * sizeof(float));
    }
    wr(&s, &s.h, 8);
    int ok = s.ok && fflush(s.f) == 0 && fsync(fileno(s.f)) == 0;
    ok = (fclose(s.f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return dl_fail(err, DIFFLM_E_IO, "writing checkpoint '%s' failed", path);
    }
    return 0;
}

int tr_ckpt_load(const char *path, tr_state *st, float **p, float **m, float **v, size_t *n,
                 dl_err *err) {
    float **outs[3] = { p, m, v };
    for (int i = 0; i < 3; i++)
        if (outs[i])
            *outs[i] = NULL;
    io s = { fopen(path, "rb"), 1, 0xcbf29ce484222325ull };
    if (!s.f)
        return dl_fail(err, DIFFLM_E_IO, "cannot open checkpoint '%s'", path);
    char magic[8];
    rd(&s, magic, 8);
    int v02 = s.ok && memcmp(magic, "DLTRCK02", 8) == 0;
    int v03 = s.ok && memcmp(magic, "DLTRCK03", 8) == 0;
    if (!s.ok || (memcmp(magic, k_magic, 8) != 0 && !v02 && !v03)) {
        fclose(s.f);
        return dl_fail(err, DIFFLM_E_FORMAT, "'%s' is not a difflm-train checkpoint", path);
    }
    memset(st, 0, sizeof *st);
    STATE_FIELDS(R_I, R_F, &s, st);
    if (!v02)
        STATE_FIELDS_03(R_I, &s, st);
    if (!v02 && !v03)
        STATE_FIELDS_04(R_F, &s, st);
    r_path(&s, st->tokenizer);
    r_path(&s, st->train);
    r_path(&s, st->val);
    if (!v02 && !v03) {
        r_path(&s, st->sft);
        r_path(&s, st->sft_val);
    }
    uint64_t n64 = 0;
    rd(&s, &n64, 8);
    dl_err cerr;
    if (!s.ok || tr_config_check(&st->cfg, &cerr) || n64 != tr_n_params(&st->cfg)) {
        fclose(s.f);
        return dl_fail(err, DIFFLM_E_FORMAT, "checkpoint '%s': bad header or parameter count",
                       path);
    }
    float *bufs[3] = { NULL, NULL, NULL };
    for (int i = 0; i < 3 && s.ok; i++) {
        bufs[i] = malloc((size_t)n64 * sizeof(float));
        if (!bufs[i]) {
            s.ok = 0;
            break;
        }
        rd(&s, bufs[i], (size_t)n64 * sizeof(float));
        hash(&s, bufs[i], (size_t)n64 * sizeof(float));
    }
    uint64_t h = s.h, stored = 0;
    rd(&s, &stored, 8);
    fclose(s.f);
    if (!s.ok || stored != h) {
        for (int i = 0; i < 3; i++)
            free(bufs[i]);
        return dl_fail(err, DIFFLM_E_FORMAT, "checkpoint '%s' is truncated or corrupt", path);
    }
    for (int i = 0; i < 3; i++) {
        if (outs[i])
            *outs[i] = bufs[i];
        else
            free(bufs[i]);
    }
    *n = (size_t)n64;
    return 0;
}
