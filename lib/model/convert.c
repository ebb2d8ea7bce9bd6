/* convert.c - a Hugging Face folder or a GGUF written as a GGUF in a float type or
 * under a llama-quantize preset (convert.h). The source is read one tensor at a time
 * inside the writer's fill callback; rows are re-encoded in parallel on a thread pool
 * (fixed tasks of ROWS_PER_TASK rows, each into its own bytes: any thread count gives
 * the same file). */
#include <string.h>

#include "core/pool.h"
#include "fmt/gguf.h"
#include "fmt/mapped_file.h"
#include "kernels/quant.h"
#include "kernels/types.h"
#include "model/convert.h"
#include "model/hf_config.h"
#include "model/hf_convert.h"
#include "model/quantize_plan.h"

#define ROWS_PER_TASK 16

/* The tensors being read: a GGUF file's, or a folder's as hf_convert.c presents them. */
typedef struct source {
    dl_gguf *g;
    dl_hf_src *hf;
} source;

static size_t src_n(const source *s) {
    return s->hf ? dl_hf_src_n_tensors(s->hf) : dl_gguf_n_tensors(s->g);
}

static const dl_gguf_tensor *src_tensor(const source *s, size_t i) {
    return s->hf ? dl_hf_src_tensor(s->hf, i) : dl_gguf_tensor_at(s->g, i);
}

static int64_t n_rows(const dl_gguf_tensor *t) {
    return t->ne[1] * t->ne[2] * t->ne[3];
}

/* out: [ne0] row r of tensor i, widened to F32 */
static void src_row(const source *s, size_t i, int64_t r, float *out) {
    if (s->hf) {
        dl_hf_src_row(s->hf, i, r, out);
        return;
    }
    const dl_gguf_tensor *t = src_tensor(s, i);
    size_t rb = dl_row_bytes(t->type, t->ne[0]);
    dl_dequant_row(t->type, out, (const uint8_t *)t->data + (size_t)r * rb, t->ne[0]);
}

/* out: tensor i's bytes in its own type; row: [ne0] scratch */
static void src_bytes(const source *s, size_t i, void *out, float *row) {
    if (s->hf)
        dl_hf_src_bytes(s->hf, i, out, row);
    else
        memcpy(out, src_tensor(s, i)->data, (size_t)src_tensor(s, i)->size);
}

static void src_release(const source *s, size_t i) {
    if (s->hf)
        dl_hf_src_release(s->hf, i);
    else
        dl_map_drop_pages(src_tensor(s, i)->data, (size_t)src_tensor(s, i)->size);
}

typedef struct conv {
    source s;
    uint32_t *type;             /* [n] each tensor's output type */
    size_t n;
    dl_pool *pool;
    float *rows;                /* [threads][max_ne0] one widened row per worker */
    int64_t max_ne0;
    dl_conv_progress_fn progress;
    void *user;
    dl_err ferr;                /* why a fill failed (the writer's own message is generic) */
    /* the tensor being re-encoded */
    size_t cur;
    uint8_t *dst;
    int64_t bad_row;            /* the first row with a NaN or infinity, or -1 */
} conv;

static void encode_task(void *ctx, int task, int worker) {
    conv *cv = ctx;
    const dl_gguf_tensor *t = src_tensor(&cv->s, cv->cur);
    uint32_t type = cv->type[cv->cur];
    int64_t ne0 = t->ne[0], rows = n_rows(t);
    size_t db = dl_row_bytes(type, ne0);
    float *row = cv->rows + (size_t)worker * (size_t)cv->max_ne0;
    for (int64_t r = (int64_t)task * ROWS_PER_TASK; r < rows && r < (int64_t)(task + 1) * ROWS_PER_TASK; r++) {
        src_row(&cv->s, cv->cur, r, row);
        int finite = 1;
        for (int64_t k = 0; k < ne0 && finite; k++)
            finite = row[k] - row[k] == 0.0f;   /* false for NaN and infinity */
        if (!finite) {
            int64_t seen = __atomic_load_n(&cv->bad_row, __ATOMIC_RELAXED);
            while ((seen < 0 || r < seen) &&
                   !__atomic_compare_exchange_n(&cv->bad_row, &seen, r, 0, __ATOMIC_RELAXED,
                                                __ATOMIC_RELAXED))
                ;
            return;
        }
        dl_from_f32_row(type, cv->dst + (size_t)r * db, row, ne0);
    }
}

static int fill(void *ctx, size_t i, void *out, size_t nbytes) {
    conv *cv = ctx;
    const dl_gguf_tensor *t = src_tensor(&cv->s, i);
    uint32_t type = cv->type[i];
    int64_t rows = n_rows(t);
    if (nbytes != dl_row_bytes(type, t->ne[0]) * (size_t)rows)
        return dl_fail(&cv->ferr, DIFFLM_E_INTERNAL, "tensor '%s': output size", t->name);
    if (type == t->type) {
        src_bytes(&cv->s, i, out, cv->rows);
    } else {
        cv->cur = i;
        cv->dst = out;
        cv->bad_row = -1;
        dl_pool_run(cv->pool, (int)((rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK), encode_task, cv);
        if (cv->bad_row >= 0)
            return dl_fail(&cv->ferr, DIFFLM_E_FORMAT, "tensor '%s': row %lld holds a NaN or "
                           "an infinity", t->name, (long long)cv->bad_row);
    }
    src_release(&cv->s, i);
    if (cv->progress) {
        dl_conv_report r = { i + 1, cv->n, t->name, type, t->size, nbytes };
        if (cv->progress(&r, cv->user) != 0)
            return dl_fail(&cv->ferr, DIFFLM_E_CANCELLED, "cancelled by the progress callback "
                           "after tensor '%s' (%zu of %zu); no file written", t->name, i + 1,
                           cv->n);
    }
    return 0;
}

/* Output types under preset p (doc/formats.md, "Quantization presets"). */
static int plan(conv *cv, const dl_qpreset *p, const dl_conv_opts *o, const char *in,
                dl_err *err) {
    int n_layer = 0, tied = 1;
    for (size_t i = 0; i < cv->n; i++) {
        const dl_gguf_tensor *t = src_tensor(&cv->s, i);
        int il = dl_qplan_layer(t->name);
        n_layer = il + 1 > n_layer ? il + 1 : n_layer;
        tied &= strcmp(t->name, "output.weight") != 0;
    }
    for (size_t i = 0; i < cv->n; i++) {
        const dl_gguf_tensor *t = src_tensor(&cv->s, i);
        cv->type[i] = t->type;
        if (!dl_qplan_quantizable(t))
            continue;
        const dl_type_info *ti = dl_type_get(t->type);   /* the reader knows every id */
        char a[32], b[32];
        if (!o->allow_requantize && ti->quantized)
            return dl_fail(err, DIFFLM_E_INVALID_ARG, "'%s': tensor '%s' is already %s (allow "
                           "requantize to quantize it again)", in, t->name,
                           dl_type_name(t->type, a, sizeof a));
        if (!ti->to_f32)
            return dl_fail(err, DIFFLM_E_UNSUPPORTED, "'%s': cannot read tensor '%s' of type %s",
                           in, t->name, dl_type_name(t->type, a, sizeof a));
        int is_head = !strcmp(t->name, "output.weight") ||
                      (tied && !strcmp(t->name, "token_embd.weight"));
        uint32_t want = dl_qplan_rule_type(p, o->pure, t->name, t->ne[0], is_head, n_layer);
        cv->type[i] = dl_qplan_fallback(want, t->ne[0]);
        if (cv->type[i] != want)
            dl_logf(o->log, DIFFLM_LOG_WARN, "'%s': rows of %lld are not divisible by the %s "
                    "block; using %s", t->name, (long long)t->ne[0], dl_type_name(want, a, sizeof a),
                    dl_type_name(cv->type[i], b, sizeof b));
    }
    return 0;
}

/* Every key of g but the two that describe the old weights, which come last. */
static int copy_keys(dl_gguf_writer *w, const dl_gguf *g, dl_err *err) {
    for (size_t i = 0; i < dl_gguf_n_kv(g); i++) {
        const char *key = dl_gguf_key_at(g, i);
        if (!strcmp(key, "general.file_type") || !strcmp(key, "general.quantization_version"))
            continue;
        int rc = dl_gguf_w_copy_kv(w, g, i);
        if (rc)
            return dl_fail(err, rc, "cannot copy key '%s'", key);
    }
    return 0;
}

int dl_convert(const dl_conv_opts *o, dl_err *err) {
    if (!o || !o->input || !o->output)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "no input or output path");
    const dl_qpreset *p = dl_qpreset_find(o->type ? o->type : "F16");
    if (!p)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "unknown output type '%s' (one of %s, any "
                       "case)", o->type, dl_qpreset_names());
    int is_float = !dl_type_get(p->type)->quantized;
    conv cv = { 0 };
    dl_gguf_writer *w = NULL, *own = NULL;
    dl_gguf *meta = NULL;
    void *meta_buf = NULL;
    char dir[4096];
    int rc;
    if (dl_hf_is_folder(o->input, dir, sizeof dir)) {
        /* a folder: its own float types directly, a preset over its F32 view (so the bytes
         * are those of converting to F32 and quantizing that file) */
        rc = dl_hf_src_open(&cv.s.hf, dir, is_float ? p->type : DL_TYPE_F32, err);
        if (rc)
            goto done;
        if (!is_float) {
            size_t n;
            rc = dl_gguf_writer_to_buffer(dl_hf_src_keys(cv.s.hf), &meta_buf, &n, err);
            if (!rc)
                rc = dl_gguf_open_mem(&meta, meta_buf, n, err);
            if (rc)
                goto done;
        }
    } else {
        rc = dl_gguf_open(&cv.s.g, o->input, err);
        if (rc)
            goto done;
        meta = cv.s.g;
    }
    cv.n = src_n(&cv.s);
    for (size_t i = 0; i < cv.n; i++)
        cv.max_ne0 = DL_MAX(cv.max_ne0, src_tensor(&cv.s, i)->ne[0]);
    cv.type = dl_calloc(cv.n + 1, sizeof *cv.type);
    if (!cv.type) {
        rc = dl_fail(err, DIFFLM_E_NOMEM, "converter state");
        goto done;
    }
    if (meta) {
        if ((rc = plan(&cv, p, o, o->input, err)))
            goto done;
        own = w = dl_gguf_writer_new();
        if (!w) {
            rc = dl_fail(err, DIFFLM_E_NOMEM, "GGUF writer");
            goto done;
        }
        dl_gguf_writer_set_version(w, 3);
        if ((rc = copy_keys(w, meta, err)))
            goto done;
    } else {
        for (size_t i = 0; i < cv.n; i++)
            cv.type[i] = src_tensor(&cv.s, i)->type;
        w = (dl_gguf_writer *)dl_hf_src_keys(cv.s.hf);
    }
    if ((rc = dl_pool_create(&cv.pool, o->n_threads, err)))
        goto done;
    cv.rows = dl_malloc(sizeof(float) * (size_t)(cv.max_ne0 ? cv.max_ne0 : 1) *
                        (size_t)dl_pool_threads(cv.pool));
    if (!cv.rows) {
        rc = dl_fail(err, DIFFLM_E_NOMEM, "row buffers");
        goto done;
    }
    for (size_t i = 0; i < cv.n; i++) {
        const dl_gguf_tensor *t = src_tensor(&cv.s, i);
        if ((rc = dl_gguf_w_tensor_fill(w, t->name, cv.type[i], t->n_dims, t->ne, fill, &cv))) {
            rc = dl_fail(err, rc, "tensor '%s'", t->name);
            goto done;
        }
    }
    if (meta) {
        rc = dl_gguf_w_u32(w, "general.file_type", p->ftype);
        rc = rc ? rc : dl_gguf_w_u32(w, "general.quantization_version", 2);
        if (rc) {
            rc = dl_fail(err, rc, "writing general.file_type");
            goto done;
        }
    }
    cv.progress = o->progress;
    cv.user = o->user;
    rc = dl_gguf_writer_write(w, o->output, err);
    if (rc && cv.ferr.status) {   /* a tensor failed: say which, not just "cannot write" */
        rc = cv.ferr.status;
        dl_fail(err, rc, "%s", cv.ferr.msg);
    }
done:
    dl_free(cv.rows);
    dl_pool_free(cv.pool);
    dl_free(cv.type);
    dl_gguf_writer_free(own);
    if (meta != cv.s.g)
        dl_gguf_close(meta);
    dl_free(meta_buf);
    dl_gguf_close(cv.s.g);
    dl_hf_src_close(cv.s.hf);
    return rc;
}

/* --- the folder converter's older entry point */

typedef struct old_progress {
    dl_convert_progress_fn fn;
    void *user;
} old_progress;

static int call_old(const dl_conv_report *r, void *user) {
    old_progress *op = user;
    op->fn(r->done, r->total, r->name, op->user);
    return 0;
}

int dl_hf_convert(const char *dir, const char *out_path, uint32_t out_type,
                  dl_convert_progress_fn progress, void *user, dl_err *err) {
    const char *name = out_type == DL_TYPE_F32 ? "F32" : out_type == DL_TYPE_F16 ? "F16"
                     : out_type == DL_TYPE_BF16 ? "BF16" : NULL;
    if (!name)
        return dl_fail(err, DIFFLM_E_INVALID_ARG, "output type %u: f32, f16 or bf16", out_type);
    old_progress op = { progress, user };
    dl_conv_opts o = { .input = dir, .output = out_path, .type = name, .n_threads = 1,
                       .progress = progress ? call_old : NULL, .user = &op };
    return dl_convert(&o, err);
}
