/* attention_tiled.c - attention with an online softmax over tiles of keys
 * (attention_tiled.h): a portable path and an AVX-512 path, the same algorithm, the
 * same tiles and the same order of operations per query lane; they differ in the exp
 * (expf against dl_exp512, within 2 ulp of it) and in the products (a * b + c, which
 * the compiler may or may not fuse, against fma), and so are not bitwise equal. */
#include <math.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/attention_tiled.h"
#include "kernels/cpu.h"
#include "kernels/vexp.h"

#define TQ DL_ATTN_TQ
#define TK DL_ATTN_TK
#define MAX_HD DL_ATTN_TILED_MAX_HD
#define TG DL_ATTN_TG

int dl_attention_tiled_path(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (dl_vexp_available())
        return DL_FPATH_AVX512;
#endif
    return DL_FPATH_SCALAR;
}

static atomic_int cached = -2;   /* -2: not read yet; every racing reader stores the same */

void dl_attention_tiled_set_choice(int choice) {
    atomic_store_explicit(&cached, choice, memory_order_relaxed);
}

int dl_attention_tiled_choice(void) {
    int c = atomic_load_explicit(&cached, memory_order_relaxed);
    if (c == -2) {
        /* without AVX-512 the score-matrix kernel's products (own AVX2 GEMM) beat the
         * portable tiled path 2x (doc/performance.md, "Attention") */
        const char *e = getenv("DIFFLM_ATTN");
        int best = dl_attention_tiled_path();
        c = e && !strcmp(e, "scores")  ? -1
            : e && !strcmp(e, "tiled") ? best
            : best == DL_FPATH_AVX512  ? best
                                       : -1;
        atomic_store_explicit(&cached, c, memory_order_relaxed);
    }
    return c;
}

/* keys [0, limit) are visible to the query at position pos (attention_tiled.h) */
static int key_limit(int n_kv, int block, int pos) {
    if (block <= 0)
        return n_kv;
    long long lim = ((long long)pos / block + 1) * block;
    return lim < n_kv ? (int)lim : n_kv;
}

/* One block's state, queries in the last (lane) index. */
typedef struct tile_state {
    float *qt;               /* [hd][TQ] q^T, lanes past n_q zero */
    float *ot;               /* [hd][TQ] running sum of p v, not yet divided */
    float *pt;               /* [TK][TQ] the tile's scores, then its probabilities */
    float *m;                /* [TQ] running maximum of the visible scores */
    double *l;               /* [TQ] running sum of e^(score - m) */
    int32_t *lim;            /* [TQ] visible keys per lane: [0, lim) */
} tile_state;

/* the work area: per block qt, ot, pt, m, l, lim; then the packed tile kb, vb */
static size_t block_floats(int hd) {
    return 2 * (size_t)hd * TQ + (size_t)TK * TQ + 4 * (size_t)TQ;
}

size_t dl_attention_tiled_work_floats(int hd) {
    if (hd < 1 || hd > MAX_HD)
        return 0;
    return TG * block_floats(hd) + 2 * (size_t)TK * hd;
}

static tile_state carve(float *w, int hd) {
    tile_state s;
    s.qt = w;
    s.ot = s.qt + (size_t)hd * TQ;
    s.pt = s.ot + (size_t)hd * TQ;
    s.m = s.pt + (size_t)TK * TQ;
    s.l = (double *)(void *)(s.m + TQ);   /* 2 TQ floats after m: 8-byte aligned */
    s.lim = (int32_t *)(void *)(s.m + 3 * TQ);
    return s;
}

/* Fills qt and lim for queries q0 .. q0+nq; returns the end of the keys any lane sees. */
static int block_setup(tile_state *s, const float *q, int nq, int n_kv, int hd, int ldq,
                       int block, int q_pos) {
    memset(s->qt, 0, (size_t)hd * TQ * sizeof(float));
    memset(s->ot, 0, (size_t)hd * TQ * sizeof(float));
    int kend = 0;
    for (int i = 0; i < TQ; i++) {
        s->m[i] = -INFINITY;
        s->l[i] = 0.0;
        /* a padding lane sees what the last real query sees: finite, never read */
        s->lim[i] = key_limit(n_kv, block, q_pos + (i < nq ? i : nq - 1));
        kend = s->lim[i] > kend ? s->lim[i] : kend;
    }
    for (int i = 0; i < nq; i++)
        for (int d = 0; d < hd; d++)
            s->qt[(size_t)d * TQ + i] = q[(size_t)i * ldq + d];
    return kend;
}

/* out_i = ot[.][i] / l_i for the block's real queries. */
static void block_finish(float *out, const tile_state *s, int nq, int hd, int ldq) {
    for (int i = 0; i < nq; i++) {
        float inv = (float)(1.0 / s->l[i]);
        for (int d = 0; d < hd; d++)
            out[(size_t)i * ldq + d] = s->ot[(size_t)d * TQ + i] * inv;
    }
}

/* --- portable */

/* One tile of kt keys (rows t0 .. t0+kt, packed as kb, vb: [kt][hd]) into the state.
 * The lanes are the innermost loops (contiguous [TQ] rows, which compilers vectorize
 * at any target), and products are a * b + c, not fmaf: without FMA hardware (x86-64's
 * baseline) fmaf is a library call per product. Per lane the order is the AVX-512
 * path's: scores summed over d in order, keys in order. */
static void tile_portable(tile_state *s, const float *kb, const float *vb, int t0, int kt,
                          int hd, float scale) {
    float alpha[TQ], mnew[TQ], tsum[TQ];
    for (int i = 0; i < TQ; i++)
        mnew[i] = s->m[i], tsum[i] = 0.0f;
    /* scores, and the new maximum over the visible ones */
    for (int r = 0; r < kt; r++) {
        const float *kr = kb + (size_t)r * hd;
        float *pr = s->pt + (size_t)r * TQ;
        for (int i = 0; i < TQ; i++)
            pr[i] = 0.0f;
        for (int d = 0; d < hd; d++) {
            const float kd = kr[d], *qd = s->qt + (size_t)d * TQ;
            for (int i = 0; i < TQ; i++)
                pr[i] += kd * qd[i];
        }
        for (int i = 0; i < TQ; i++) {
            pr[i] *= scale;
            if (t0 + r < s->lim[i] && pr[i] > mnew[i])
                mnew[i] = pr[i];
        }
    }
    for (int i = 0; i < TQ; i++) {
        alpha[i] = expf(s->m[i] - mnew[i]);
        s->m[i] = mnew[i];
    }
    for (int r = 0; r < kt; r++) {
        float *pr = s->pt + (size_t)r * TQ;
        for (int i = 0; i < TQ; i++) {
            pr[i] = t0 + r < s->lim[i] ? expf(pr[i] - mnew[i]) : 0.0f;
            tsum[i] += pr[i];
        }
    }
    for (int i = 0; i < TQ; i++)
        s->l[i] = s->l[i] * (double)alpha[i] + (double)tsum[i];
    /* ot = ot * alpha + p v, keys in order per element */
    for (int d = 0; d < hd; d++) {
        float *od = s->ot + (size_t)d * TQ;
        for (int i = 0; i < TQ; i++)
            od[i] *= alpha[i];
        for (int r = 0; r < kt; r++) {
            const float vd = vb[(size_t)r * hd + d], *pr = s->pt + (size_t)r * TQ;
            for (int i = 0; i < TQ; i++)
                od[i] += vd * pr[i];
        }
    }
}

/* --- AVX-512: lanes 0-15 and 16-31 of each [TQ] row are two vectors */

#if defined(__x86_64__) && defined(__GNUC__)
#define T512 DL_VEXP_T512

/* pt[j0 + r] = scale * (k_{t0+j0+r} . q^T) for r < R (R = 8: 16 accumulators; R = 1
 * for the tile's tail), fma over d in order, as the portable loop. */
#define SCORE_ROWS(R)                                                                       \
    do {                                                                                    \
        __m512 a0[R], a1[R];                                                                \
        for (int r = 0; r < (R); r++)                                                       \
            a0[r] = _mm512_setzero_ps(), a1[r] = _mm512_setzero_ps();                       \
        const float *kr = k + (size_t)j0 * ldkv;                                            \
        for (int d = 0; d < hd; d++) {                                                      \
            __m512 q0 = _mm512_loadu_ps(s->qt + (size_t)d * TQ);                             \
            __m512 q1 = _mm512_loadu_ps(s->qt + (size_t)d * TQ + 16);                        \
            for (int r = 0; r < (R); r++) {                                                 \
                __m512 b = _mm512_set1_ps(kr[(size_t)r * ldkv + d]);                        \
                a0[r] = _mm512_fmadd_ps(b, q0, a0[r]);                                      \
                a1[r] = _mm512_fmadd_ps(b, q1, a1[r]);                                      \
            }                                                                               \
        }                                                                                   \
        for (int r = 0; r < (R); r++) {                                                     \
            _mm512_storeu_ps(s->pt + (size_t)(j0 + r) * TQ, _mm512_mul_ps(a0[r], vscale));   \
            _mm512_storeu_ps(s->pt + (size_t)(j0 + r) * TQ + 16, _mm512_mul_ps(a1[r], vscale)); \
        }                                                                                   \
    } while (0)

/* ot[d0 + c] = ot[d0 + c] * alpha + sum_r v[t0 + r][d0 + c] pt[r] for c < C (C = 8: 16
 * accumulators; C = 1 for the tail of hd), fma over r in key order. */
#define OUT_COLS(C)                                                                         \
    do {                                                                                    \
        __m512 a0[C], a1[C];                                                                \
        for (int c = 0; c < (C); c++) {                                                     \
            a0[c] = _mm512_mul_ps(_mm512_loadu_ps(s->ot + (size_t)(d0 + c) * TQ), al0);      \
            a1[c] = _mm512_mul_ps(_mm512_loadu_ps(s->ot + (size_t)(d0 + c) * TQ + 16), al1); \
        }                                                                                   \
        const float *vr = v + d0;                                                            \
        for (int r = 0; r < kt; r++) {                                                      \
            __m512 p0 = _mm512_loadu_ps(s->pt + (size_t)r * TQ);                             \
            __m512 p1 = _mm512_loadu_ps(s->pt + (size_t)r * TQ + 16);                        \
            for (int c = 0; c < (C); c++) {                                                 \
                __m512 b = _mm512_set1_ps(vr[(size_t)r * ldkv + c]);                        \
                a0[c] = _mm512_fmadd_ps(b, p0, a0[c]);                                      \
                a1[c] = _mm512_fmadd_ps(b, p1, a1[c]);                                      \
            }                                                                               \
        }                                                                                   \
        for (int c = 0; c < (C); c++) {                                                     \
            _mm512_storeu_ps(s->ot + (size_t)(d0 + c) * TQ, a0[c]);                          \
            _mm512_storeu_ps(s->ot + (size_t)(d0 + c) * TQ + 16, a1[c]);                     \
        }                                                                                   \
    } while (0)

/* the lanes of one half (16 queries) that see key j */
static inline T512 __mmask16 visible(__m512i lim, int j) {
    return _mm512_cmplt_epi32_mask(_mm512_set1_epi32(j), lim);
}

/* l = l * alpha + tsum for 16 lanes, in double (two halves of 8) */
static inline T512 void add_sum(double *l, __m512 alpha, __m512 tsum) {
    for (int h = 0; h < 2; h++) {
        __m256 a = h ? _mm512_extractf32x8_ps(alpha, 1) : _mm512_castps512_ps256(alpha);
        __m256 t = h ? _mm512_extractf32x8_ps(tsum, 1) : _mm512_castps512_ps256(tsum);
        __m512d ld = _mm512_loadu_pd(l + 8 * h);
        ld = _mm512_fmadd_pd(ld, _mm512_cvtps_pd(a), _mm512_cvtps_pd(t));
        _mm512_storeu_pd(l + 8 * h, ld);
    }
}

static T512 void tile_avx512(tile_state *s, const float *kb, const float *vb, int t0,
                             int kt, int hd, float scale) {
    const __m512 vscale = _mm512_set1_ps(scale);
    const __m512i lim0 = _mm512_loadu_si512(s->lim), lim1 = _mm512_loadu_si512(s->lim + 16);
    __m512 m0 = _mm512_loadu_ps(s->m), m1 = _mm512_loadu_ps(s->m + 16);
    const float *k = kb, *v = vb;
    const int ldkv = hd;
    int j0 = 0;
    for (; j0 + 8 <= kt; j0 += 8)
        SCORE_ROWS(8);
    for (; j0 < kt; j0++)
        SCORE_ROWS(1);
    /* the new maximum over the visible scores: lane-wise, in key order */
    __m512 n0 = m0, n1 = m1;
    for (int r = 0; r < kt; r++) {
        n0 = _mm512_mask_max_ps(n0, visible(lim0, t0 + r), n0,
                                _mm512_loadu_ps(s->pt + (size_t)r * TQ));
        n1 = _mm512_mask_max_ps(n1, visible(lim1, t0 + r), n1,
                                _mm512_loadu_ps(s->pt + (size_t)r * TQ + 16));
    }
    __m512 al0 = dl_exp512(_mm512_sub_ps(m0, n0)), al1 = dl_exp512(_mm512_sub_ps(m1, n1));
    _mm512_storeu_ps(s->m, n0);
    _mm512_storeu_ps(s->m + 16, n1);
    __m512 ts0 = _mm512_setzero_ps(), ts1 = _mm512_setzero_ps();
    for (int r = 0; r < kt; r++) {
        float *pr = s->pt + (size_t)r * TQ;
        __m512 p0 = _mm512_maskz_mov_ps(visible(lim0, t0 + r),
                                        dl_exp512(_mm512_sub_ps(_mm512_loadu_ps(pr), n0)));
        __m512 p1 = _mm512_maskz_mov_ps(visible(lim1, t0 + r),
                                        dl_exp512(_mm512_sub_ps(_mm512_loadu_ps(pr + 16), n1)));
        _mm512_storeu_ps(pr, p0);
        _mm512_storeu_ps(pr + 16, p1);
        ts0 = _mm512_add_ps(ts0, p0);
        ts1 = _mm512_add_ps(ts1, p1);
    }
    add_sum(s->l, al0, ts0);
    add_sum(s->l + 16, al1, ts1);
    int d0 = 0;
    for (; d0 + 8 <= hd; d0 += 8)
        OUT_COLS(8);
    for (; d0 < hd; d0++)
        OUT_COLS(1);
}
#endif

/* Up to TG blocks of queries (nq <= TG * TQ) share each packed tile of keys: the tile is
 * read once from the strided K/V (rows ldkv apart, which alias in the caches) into
 * contiguous kb, vb and then serves every block while it is in L1. A block skips the
 * tiles past its own last visible key (its result is the same either way, bit for bit:
 * a tile no lane sees rescales by e^0 = 1 and adds zeros). */
static void run_group(int path, float *out, float *work, const float *q, const float *k,
                      const float *v, int nq, int n_kv, int hd, int ldq, int ldkv, int block, int q_pos,
                      float scale) {
    tile_state s[TG];
    for (int g = 0; g < TG; g++)
        s[g] = carve(work + (size_t)g * block_floats(hd), hd);
    float *kb = work + TG * block_floats(hd), *vb = kb + (size_t)TK * hd;
    int ng = (nq + TQ - 1) / TQ, kend = 0, ends[TG];
    for (int g = 0; g < ng; g++) {
        int n = nq - g * TQ < TQ ? nq - g * TQ : TQ;
        ends[g] = block_setup(&s[g], q + (size_t)g * TQ * ldq, n, n_kv, hd, ldq, block,
                              q_pos + g * TQ);
        kend = ends[g] > kend ? ends[g] : kend;
    }
#if defined(__x86_64__) && defined(__GNUC__)
    int vec = path == DL_FPATH_AVX512 && dl_vexp_available();
#else
    int vec = 0;
    (void)path;
#endif
    for (int t0 = 0; t0 < kend; t0 += TK) {
        int kt = kend - t0 < TK ? kend - t0 : TK;
        for (int r = 0; r < kt; r++) {
            memcpy(kb + (size_t)r * hd, k + (size_t)(t0 + r) * ldkv, (size_t)hd * sizeof(float));
            memcpy(vb + (size_t)r * hd, v + (size_t)(t0 + r) * ldkv, (size_t)hd * sizeof(float));
        }
        for (int g = 0; g < ng; g++) {
            if (t0 >= ends[g])
                continue;
#if defined(__x86_64__) && defined(__GNUC__)
            if (vec) {
                tile_avx512(&s[g], kb, vb, t0, kt, hd, scale);
                continue;
            }
#endif
            tile_portable(&s[g], kb, vb, t0, kt, hd, scale);
        }
    }
    (void)vec;
    for (int g = 0; g < ng; g++) {
        int n = nq - g * TQ < TQ ? nq - g * TQ : TQ;
        block_finish(out + (size_t)g * TQ * ldq, &s[g], n, hd, ldq);
    }
}

void dl_attention_tiled_head(int path, float *out, float *work, const float *q,
                             const float *k, const float *v, int n_q, int n_kv, int hd, int ldq, int ldkv,
                             int block, int q_pos) {
    if (n_q < 1 || n_kv < 1 || hd < 1 || hd > MAX_HD)
        return;
    float scale = (float)(1.0 / sqrt((double)hd));
    for (int i0 = 0; i0 < n_q; i0 += TG * TQ) {
        int nq = n_q - i0 < TG * TQ ? n_q - i0 : TG * TQ;
        run_group(path, out + (size_t)i0 * ldq, work, q + (size_t)i0 * ldq, k, v, nq, n_kv, hd, ldq,
                  ldkv, block, q_pos + i0, scale);
    }
}

void dl_attention_tiled(int path, float *out, float *work, const float *q, const float *k,
                        const float *v, int n_q, int n_kv, int n_head, int n_head_kv, int hd, int block,
                        int q_pos) {
    if (n_head_kv < 1 || n_head % n_head_kv != 0)
        return;
    int group = n_head / n_head_kv, ldq = n_head * hd, ldkv = n_head_kv * hd;
    for (int h = 0; h < n_head; h++) {
        size_t kv = (size_t)(h / group) * hd;
        dl_attention_tiled_head(path, out + (size_t)h * hd, work, q + (size_t)h * hd, k + kv, v + kv,
                                n_q, n_kv, hd, ldq, ldkv, block, q_pos);
    }
}
