/* attention.c - bidirectional grouped-query attention, one head at a time:
 * scores = q_h k_g^T / sqrt(hd), a max-subtracted softmax per row, out_h = p v_g, the
 * products by the own f32 kernels (gemm.h) or OpenBLAS sgemm, as the backend says. The
 * heads are strided views into [tokens][heads][hd], which both take through their
 * leading dimensions, so nothing is copied. */
#include <math.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "kernels/vexp.h"

#ifdef DL_HAVE_BLAS
#include <cblas.h>
#endif

/* Row-wise softmax in place; the sum is kept in double so long rows lose nothing.
 *   s: [rows][cols] in/out */
static void softmax_rows_scalar(float *s, int rows, int cols) {
    for (int i = 0; i < rows; i++) {
        float *r = s + (size_t)i * cols;
        float mx = r[0];
        for (int j = 1; j < cols; j++)
            mx = r[j] > mx ? r[j] : mx;
        double sum = 0.0;
        for (int j = 0; j < cols; j++) {
            r[j] = expf(r[j] - mx);
            sum += r[j];
        }
        float inv = (float)(1.0 / sum);
        for (int j = 0; j < cols; j++)
            r[j] *= inv;
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#define T512 DL_VEXP_T512

/* The same softmax, 16 columns at a time; partial sums per lane, added in double. */
static T512 void softmax_rows_avx512(float *s, int rows, int cols) {
    for (int i = 0; i < rows; i++) {
        float *r = s + (size_t)i * cols;
        __m512 vmx = _mm512_set1_ps(r[0]);
        int j = 0;
        for (; j + 16 <= cols; j += 16)
            vmx = _mm512_max_ps(vmx, _mm512_loadu_ps(r + j));
        float mx = _mm512_reduce_max_ps(vmx);
        for (; j < cols; j++)
            mx = r[j] > mx ? r[j] : mx;
        __m512 vm = _mm512_set1_ps(mx), vs = _mm512_setzero_ps();
        for (j = 0; j + 16 <= cols; j += 16) {
            __m512 e = dl_exp512(_mm512_sub_ps(_mm512_loadu_ps(r + j), vm));
            _mm512_storeu_ps(r + j, e);
            vs = _mm512_add_ps(vs, e);
        }
        if (j < cols) {
            __mmask16 m = (__mmask16)((1u << (cols - j)) - 1u);
            __m512 e = dl_exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, r + j), vm));
            e = _mm512_maskz_mov_ps(m, e);
            _mm512_mask_storeu_ps(r + j, m, e);
            vs = _mm512_add_ps(vs, e);
        }
        float lanes[16];
        _mm512_storeu_ps(lanes, vs);
        double sum = 0.0;
        for (int l = 0; l < 16; l++)
            sum += lanes[l];
        __m512 inv = _mm512_set1_ps((float)(1.0 / sum));
        for (j = 0; j + 16 <= cols; j += 16)
            _mm512_storeu_ps(r + j, _mm512_mul_ps(_mm512_loadu_ps(r + j), inv));
        for (; j < cols; j++)
            r[j] *= (float)(1.0 / sum);
    }
}
#endif

static void softmax_rows(float *s, int rows, int cols) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (dl_vexp_available()) {
        softmax_rows_avx512(s, rows, cols);
        return;
    }
#endif
    softmax_rows_scalar(s, rows, cols);
}

/* scores[i][j] = scale * dot(q_i, k_j) over hd, for strided rows.
 *   scores: [n_q][n_kv] out;  q: [n_q][ldq];  k: [n_kv][ldk] */
static void scores_portable(float *scores, const float *q, const float *k, float scale,
                            int n_q, int n_kv, int hd, int ldq, int ldk) {
    for (int i = 0; i < n_q; i++) {
        const float *qi = q + (size_t)i * ldq;
        for (int j = 0; j < n_kv; j++) {
            const float *kj = k + (size_t)j * ldk;
            float a = 0.0f;
            for (int d = 0; d < hd; d++)
                a += qi[d] * kj[d];
            scores[(size_t)i * n_kv + j] = a * scale;
        }
    }
}

/* out_i = sum_j p[i][j] v_j.  out: [n_q][ldo] out;  p: [n_q][n_kv];  v: [n_kv][ldv] */
static void weighted_sum_portable(float *out, const float *p, const float *v,
                                  int n_q, int n_kv, int hd, int ldo, int ldv) {
    for (int i = 0; i < n_q; i++) {
        float *oi = out + (size_t)i * ldo;
        for (int d = 0; d < hd; d++)
            oi[d] = 0.0f;
        for (int j = 0; j < n_kv; j++) {
            float pj = p[(size_t)i * n_kv + j];
            const float *vj = v + (size_t)j * ldv;
            for (int d = 0; d < hd; d++)
                oi[d] += pj * vj[d];
        }
    }
}

/* scores = scale * q k^T, softmax, out = p v with the own f32 kernels (gemm.h), tiles of
 * 64 keys (scores) and 64 head dimensions (output). */
static void head_own(float *out, float *scores, const float *q, const float *k, const float *v,
                     int n_q, int n_kv, int hd, int ldq, int ldkv, float scale) {
    int path = dl_fpath_best();
    for (int m0 = 0; m0 < n_kv; m0 += DL_FGEMM_COLS)
        dl_fgemm_cols_f32(path, scores, n_kv, q, ldq, n_q, k, ldkv, 0, hd, m0,
                          n_kv - m0 < DL_FGEMM_COLS ? n_kv - m0 : DL_FGEMM_COLS, 0);
    for (size_t i = 0; i < (size_t)n_q * n_kv; i++)
        scores[i] *= scale;
    softmax_rows(scores, n_q, n_kv);
    for (int m0 = 0; m0 < hd; m0 += DL_FGEMM_COLS)
        dl_fgemm_cols_f32(path, out, ldq, scores, n_kv, n_q, v, ldkv, 1, n_kv, m0,
                          hd - m0 < DL_FGEMM_COLS ? hd - m0 : DL_FGEMM_COLS, 0);
}

static void head_impl(float *out, float *scores, const float *q, const float *k, const float *v,
                      int n_q, int n_kv, int hd, int ldq, int ldkv, int use_blas) {
    float scale = (float)(1.0 / sqrt((double)hd));
    if (use_blas && dl_gemm_backend() == DL_GEMM_OWN) {
        head_own(out, scores, q, k, v, n_q, n_kv, hd, ldq, ldkv, scale);
        return;
    }
#ifdef DL_HAVE_BLAS
    if (use_blas) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_q, n_kv, hd, scale, q, ldq, k,
                    ldkv, 0.0f, scores, n_kv);
        softmax_rows(scores, n_q, n_kv);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_q, hd, n_kv, 1.0f, scores, n_kv,
                    v, ldkv, 0.0f, out, ldq);
        return;
    }
#else
    (void)use_blas;
#endif
    scores_portable(scores, q, k, scale, n_q, n_kv, hd, ldq, ldkv);
    softmax_rows(scores, n_q, n_kv);
    weighted_sum_portable(out, scores, v, n_q, n_kv, hd, ldq, ldkv);
}

void dl_attention_head(float *out, float *scores, const float *q, const float *k, const float *v,
                       int n_q, int n_kv, int hd, int ldq, int ldkv) {
    if (n_q > 0 && n_kv > 0)
        head_impl(out, scores, q, k, v, n_q, n_kv, hd, ldq, ldkv, 1);
}

static void attention_impl(float *out, float *scores, const float *q, const float *k,
                           const float *v, int n_q, int n_kv, int n_head, int n_head_kv, int hd,
                           int use_blas) {
    if (n_q <= 0 || n_kv <= 0)
        return;
    int group = n_head / n_head_kv;
    int ldq = n_head * hd, ldkv = n_head_kv * hd;
    for (int h = 0; h < n_head; h++) {
        size_t kv_off = (size_t)(h / group) * hd;
        head_impl(out + (size_t)h * hd, scores, q + (size_t)h * hd, k + kv_off, v + kv_off, n_q,
                  n_kv, hd, ldq, ldkv, use_blas);
    }
}

void dl_attention(float *out, float *scores, const float *q, const float *k, const float *v,
                  int n_q, int n_kv, int n_head, int n_head_kv, int hd) {
    attention_impl(out, scores, q, k, v, n_q, n_kv, n_head, n_head_kv, hd, 1);
}

void dl_attention_portable(float *out, float *scores, const float *q, const float *k,
                           const float *v, int n_q, int n_kv, int n_head, int n_head_kv, int hd) {
    attention_impl(out, scores, q, k, v, n_q, n_kv, n_head, n_head_kv, hd, 0);
}
