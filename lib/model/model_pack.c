/* model_pack.c - the packed copy of a model's float matrices (model_weights.h), made by
 * the first context of a precision that packs and shared by the later ones
 * (ctx/model_obj.h), so that their products read panels in the kernel's order instead
 * of packing them again in every product of every step.
 *
 * Two formats, one per precision: EXACT keeps each weight's own type, 64 rows at a time
 * transposed to [K][64] (kernels/gemm.h dl_fpanel_pack: widened to f32 by the product, so
 * the bits do not change); BF16 rounds to the bf16 pair panels of kernels/gemm_bf16.h. */
#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/gemm_bf16.h"
#include "model/model_weights.h"

_Static_assert(DL_BF16_COLS == DL_FGEMM_COLS && DL_COL_TASK == DL_FGEMM_COLS,
               "a product's column task is one panel in both formats");

#define LAYER_WEIGHTS 11

/* Weight idx of the float matrices a context multiplies (idx < 1 + LAYER_WEIGHTS *
 * n_layer): the head (the embedding when tied), then each layer's dense products; NULL
 * when that one is absent, a vector or not a float type. The expert views stay
 * unpacked: they live in the model's shared array, and a step touches only some. */
static dl_weight *weight_at(dl_model *m, int idx) {
    dl_weight *w;
    if (idx == 0) {
        w = m->output.data ? &m->output : &m->tok_embd;
    } else {
        dl_layer *L = &m->layers[(idx - 1) / LAYER_WEIGHTS];
        dl_weight *ws[LAYER_WEIGHTS] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up,
                                         &L->w_down, &L->router, &L->sh_gate, &L->sh_up,
                                         &L->sh_down };
        w = ws[(idx - 1) % LAYER_WEIGHTS];
    }
    return w->data && w->ne1 > 1 && dl_weight_bf16(w, DL_PRECISION_BF16) ? w : NULL;
}

static int n_weights(const dl_model *m) { return 1 + LAYER_WEIGHTS * m->hp.n_layer; }

static int64_t n_panels(const dl_weight *w) { return (w->ne1 + DL_FGEMM_COLS - 1) / DL_FGEMM_COLS; }

/* bytes of one of w's panels in precision's format */
static size_t panel_bytes(const dl_weight *w, int precision) {
    if (precision == DL_PRECISION_BF16)
        return (size_t)DL_BF16_COLS * (size_t)dl_bf16_act_ld(w->ne0) * sizeof(uint32_t);
    return dl_fpanel_bytes(w->type, w->ne0);
}

/* bytes of all of w's panels, rounded to whole cache lines */
static size_t packed_bytes(const dl_weight *w, int precision) {
    return ((size_t)n_panels(w) * panel_bytes(w, precision) + 63) & ~(size_t)63;
}

size_t dl_model_pack_size(const dl_model *m, int precision) {
    /* the OpenBLAS path reads the weights as stored */
    if (precision != DL_PRECISION_BF16 && dl_gemm_backend() != DL_GEMM_OWN)
        return 0;
    size_t bytes = 0;
    for (int i = 0; i < n_weights(m); i++) {
        const dl_weight *w = weight_at((dl_model *)m, i);   /* only read here */
        bytes += w ? packed_bytes(w, precision) : 0;
    }
    return bytes;
}

typedef struct pack_job {
    dl_model *m;
    int precision, path;        /* path: dl_bf16_best's or dl_fpath_best's */
} pack_job;

/* task t: the t-th panel in weight order */
static void pack_task(void *ctx, int task, int worker) {
    (void)worker;
    pack_job *j = ctx;
    int64_t t = task;
    for (int i = 0; i < n_weights(j->m); i++) {
        dl_weight *w = weight_at(j->m, i);
        if (!w)
            continue;
        if (t >= n_panels(w)) {
            t -= n_panels(w);
            continue;
        }
        int64_t m0 = t * DL_FGEMM_COLS;
        int c = (int)(w->ne1 - m0 < DL_FGEMM_COLS ? w->ne1 - m0 : DL_FGEMM_COLS);
        uint8_t *dst = (uint8_t *)w->panels + (size_t)t * panel_bytes(w, j->precision);
        if (j->precision == DL_PRECISION_BF16)
            dl_bf16_pack_w(j->path, (uint32_t *)dst, dl_bf16_act_ld(w->ne0), w->data,
                           w->type, (int)w->ne0, m0, c);
        else
            dl_fpanel_pack(j->path, dst, w->data, w->type, w->ne0, m0, c);
        return;
    }
}

void dl_model_pack(dl_model *m, int precision, void *buf, dl_pool *pool, int n_threads) {
    uint8_t *p = buf;
    int64_t tasks = 0;
    for (int i = 0; i < n_weights(m); i++) {
        dl_weight *w = weight_at(m, i);
        if (!w)
            continue;
        w->panels = p;
        p += packed_bytes(w, precision);
        tasks += n_panels(w);
    }
    pack_job j = { m, precision, precision == DL_PRECISION_BF16 ? dl_bf16_best() : dl_fpath_best() };
    dl_pool_for(pool, n_threads, (int)tasks, pack_task, &j);
}
