/* shade.h - the live view's canvas with every position styled: fixed text as the
 * prompt, committed tokens shaded by the probability they were committed with
 * (difflm_confidences), masked positions as placeholders. */
#ifndef DIFFLM_CLI_SHADE_H
#define DIFFLM_CLI_SHADE_H

#include <stddef.h>

#include "difflm.h"
#include "text.h"

/* Below these probabilities a committed token is shown CLI_STYLE_UNSURE / _DOUBTFUL. */
#define CLI_SURE_PROB 0.9f
#define CLI_UNSURE_PROB 0.5f

/* Appends canvas[from .. n) to the layout: runs of positions with one style detokenized
 * together. step / prob: difflm_confidences' arrays for the canvas (NULL: no shading,
 * every committed token plain text). cut_at_end: stop at the first generated EOS /
 * end-of-turn (a prompt's generation); otherwise such tokens are skipped (a hole's
 * padding, with fixed text after it). */
void cli_layout_shaded(cli_layout *l, difflm_ctx *ctx, const difflm_model_info *mi,
                       const difflm_token *canvas, const int32_t *step, const float *prob,
                       size_t n, size_t from, int cut_at_end);

#endif
