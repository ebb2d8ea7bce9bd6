/* ctx_convert.c - difflm_convert: the public parameters and progress record over the
 * converter (model/convert.c). */
#include "ctx/ctx_api.h"
#include "kernels/types.h"
#include "model/convert.h"
#include "model/quantize_plan.h"

typedef struct host_progress {
    difflm_convert_progress_fn fn;
    void *user;
} host_progress;

static int report(const dl_conv_report *r, void *user) {
    const host_progress *h = user;
    char tb[32];
    difflm_convert_progress p = {
        .struct_size = sizeof p,
        .done = r->done,
        .total = r->total,
        .tensor = r->name,
        .type = dl_type_name(r->type, tb, sizeof tb),
        .ggml_type = r->type,
        .in_bytes = r->in_bytes,
        .out_bytes = r->out_bytes,
    };
    return h->fn(&p, h->user);
}

int dl_ctx_convert(const difflm_convert_params *p, dl_err *err) {
    dl_log lg = { p->log_fn, p->log_user, p->log_level };
    host_progress h = { p->progress_fn, p->progress_user };
    dl_conv_opts o = {
        .input = p->input,
        .output = p->output,
        .type = p->type,
        .pure = p->pure != 0,
        .allow_requantize = p->allow_requantize != 0,
        .n_threads = p->n_threads,
        .progress = p->progress_fn ? report : NULL,
        .user = &h,
        .log = &lg,
    };
    return dl_convert(&o, err);
}

int dl_ctx_convert_type_supported(const char *type) {
    return type && dl_qpreset_find(type) != NULL;
}
