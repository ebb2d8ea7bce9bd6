/* router.h - the routers of mixture-of-experts layers: which experts each row goes to
 * and with what weight, from the row's router logits (one row at a time, pure
 * functions, no allocation).
 *
 * Ties are broken towards the lowest index everywhere (experts and groups alike): a
 * candidate replaces the best so far only when strictly greater, scanning up from index
 * 0. NaN logits are never chosen over a number. The chosen experts come out in the
 * order they were chosen (descending score, ties by index). */
#ifndef DL_KERNELS_ROUTER_H
#define DL_KERNELS_ROUTER_H

#include <stdint.h>

/* The most experts a router takes (the loader refuses more). */
#define DL_ROUTER_MAX_EXPERTS 4096

/* Softmax over all n logits, the k largest probabilities, not renormalised (LLaDA-MoE,
 * OLMoE). Probabilities in double, weights rounded to float once.
 *   ids: [k] out, expert indices;  w: [k] out, their probabilities;  logits: [n] */
void dl_route_softmax_topk(int32_t *ids, float *w, const float *logits, int n, int k);

/* DeepSeek-V3's "noaux_tc" router (LLaDA2): s = sigmoid(logits) and biased scores
 * b = s + bias choose: each of n_group groups of n / n_group consecutive experts scores
 * the sum of its two largest b; the topk_group best groups are kept and the others'
 * experts excluded; the k largest b among the kept experts are chosen. The weights are
 * the chosen experts' unbiased s divided by their sum (+1e-20) when k > 1, times scale.
 * n_group == 1 keeps every expert (no group step). Requires n % n_group == 0, a group
 * size >= 2 when n_group > 1, and k <= topk_group * n / n_group.
 *   ids: [k] out;  w: [k] out;  scratch: [n + n_group] doubles;  logits: [n];
 *   bias: [n] or NULL (no selection bias) */
void dl_route_sigmoid_group(int32_t *ids, float *w, double *scratch, const float *logits,
                            const float *bias, int n, int k, int n_group, int topk_group,
                            float scale);

#endif
