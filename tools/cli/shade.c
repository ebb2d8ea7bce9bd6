/* shade.c - a canvas laid out position by position with its confidences. */
#include "shade.h"

#include <math.h>
#include <stdlib.h>

static int is_end(const difflm_model_info *mi, difflm_token t) {
    return (mi->eos_id >= 0 && t == mi->eos_id) || (mi->eot_id >= 0 && t == mi->eot_id);
}

static enum cli_style style_of(const difflm_model_info *mi, difflm_token t, const int32_t *step,
                               const float *prob, size_t i) {
    if (t == mi->mask_id)
        return CLI_STYLE_MASK;
    if (step && step[i] == DIFFLM_CONF_FIXED)
        return CLI_STYLE_PROMPT;
    if (!prob || isnan(prob[i]) || prob[i] >= CLI_SURE_PROB)
        return CLI_STYLE_TEXT;
    return prob[i] >= CLI_UNSURE_PROB ? CLI_STYLE_UNSURE : CLI_STYLE_DOUBTFUL;
}

void cli_layout_shaded(cli_layout *l, difflm_ctx *ctx, const difflm_model_info *mi,
                       const difflm_token *canvas, const int32_t *step, const float *prob,
                       size_t n, size_t from, int cut_at_end) {
    char small[256], *buf = small;
    size_t cap = sizeof small;
    for (size_t i = from; i < n;) {
        int fixed = step && step[i] == DIFFLM_CONF_FIXED;
        if (!fixed && is_end(mi, canvas[i])) {
            if (cut_at_end)
                break;
            i++;   // a hole's end-of-text padding shows as nothing
            continue;
        }
        enum cli_style st = style_of(mi, canvas[i], step, prob, i);
        if (st == CLI_STYLE_MASK) {
            cli_layout_text(l, CLI_MASK_GLYPH, sizeof CLI_MASK_GLYPH - 1, CLI_STYLE_MASK);
            l->g[l->n - 1].cls = CLI_MASKED;
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < n && style_of(mi, canvas[j], step, prob, j) == st &&
               (st == CLI_STYLE_PROMPT || !is_end(mi, canvas[j])))
            j++;
        size_t got = 0;
        int rc = difflm_detokenize(ctx, canvas + i, j - i, 0, buf, cap, &got);
        if (rc == DIFFLM_E_BUFFER_TOO_SMALL) {
            char *bigger = malloc(got);
            if (!bigger)
                break;
            if (buf != small)
                free(buf);
            buf = bigger;
            cap = got;
            rc = difflm_detokenize(ctx, canvas + i, j - i, 0, buf, cap, &got);
        }
        if (rc != DIFFLM_OK)
            break;
        cli_layout_text(l, buf, got, st);
        i = j;
    }
    if (buf != small)
        free(buf);
}
