/* attention_tiled.h - attention as one pass over tiles of keys with an online softmax
 * (no score matrix in memory), for one head of a block of queries; and its naive twin.
 *
 * Per block of DL_ATTN_TQ queries the kernel keeps q^T, the running output o^T (both
 * [hd][DL_ATTN_TQ], queries in the vector lanes), the running maximum and sum per query
 * and one tile of DL_ATTN_TK x DL_ATTN_TQ probabilities, and it copies each tile of keys
 * and values into contiguous rows (the heads' rows lie n_head_kv * hd floats apart,
 * 4 KiB in the benchmark's model, and such strides alias in the caches), all in the
 * caller's work area (dl_attention_tiled_work_floats: 36.5 KiB at hd 64, L1-sized).
 * For each tile of keys: scores by broadcast-FMA of key elements
 * against q^T, the new maximum (a lane-wise max: no horizontal operation), o^T and the
 * sum rescaled by e^(old max - new max), then o^T += p v. Every query is a lane of its
 * own, so a query's result does not depend on which other queries share its block (a
 * KV-cache pass that runs some of the rows gets the bits of the full pass).
 *
 * The mask: block == 0 is bidirectional; block > 0 is block-causal: the query at
 * position q_pos + i (keys are at positions 0 .. n_kv-1) sees the keys at positions
 * < ((q_pos + i) / block + 1) * block (its own block and every earlier one). Tiles no
 * query of the block sees are skipped. */
#ifndef DL_ATTENTION_TILED_H
#define DL_ATTENTION_TILED_H

/* queries per block (two AVX-512 vectors of lanes) and keys per tile */
#define DL_ATTN_TQ 32
#define DL_ATTN_TK 32
/* blocks of queries that share each packed tile of keys */
#define DL_ATTN_TG 1
/* the largest head dimension the tiled kernel takes (its stack tiles); callers run the
 * score-matrix kernel (dl_attention_head) above it */
#define DL_ATTN_TILED_MAX_HD 256

/* Kernel paths: DL_FPATH_SCALAR (portable loops, expf) or DL_FPATH_AVX512 (16 lanes,
 * dl_exp512); dl_attention_tiled_path() is the best the CPU has (cpu.c). */
int dl_attention_tiled_path(void);
/* What inference uses: DL_FPATH_AVX512 where the CPU has it, else -1 for the
 * score-matrix kernel (dl_attention_head, whose products have AVX2 paths: 2x the
 * portable tiled path). DIFFLM_ATTN in the environment (read once; for measuring and
 * testing): "scores" gives -1 everywhere, "tiled" dl_attention_tiled_path() everywhere. */
int dl_attention_tiled_choice(void);
/* Sets what dl_attention_tiled_choice returns from now on (-1 or a path), for
 * benchmarks that time both kernels in one process; not for concurrent passes. */
void dl_attention_tiled_set_choice(int choice);

/* Floats of work area the kernel needs at head dimension hd (8-byte aligned; 0 when
 * hd is out of range). */
size_t dl_attention_tiled_work_floats(int hd);

/* One head, n_q queries (any count: blocks of DL_ATTN_TQ), scores scaled by 1/sqrt(hd),
 * the mask above. out_i = sum_j p_ij v_j with p the softmax of the visible scores.
 *   out: [n_q][ldq] out, columns 0..hd;  work: [dl_attention_tiled_work_floats(hd)]
 *   scratch;  q: [n_q][ldq];  k, v: [n_kv][ldkv] (columns 0..hd read).
 *   1 <= hd <= DL_ATTN_TILED_MAX_HD;  q_pos >= 0;  block >= 0. */
void dl_attention_tiled_head(int path, float *out, float *work, const float *q,
                             const float *k, const float *v, int n_q, int n_kv, int hd, int ldq, int ldkv,
                             int block, int q_pos);

/* Every head, as dl_attention (kernels.h) with the mask: query head h reads K/V head
 * h / (n_head / n_head_kv).
 *   out: [n_q][n_head][hd] out;  work: as above;  q: [n_q][n_head][hd];
 *   k, v: [n_kv][n_head_kv][hd] */
void dl_attention_tiled(int path, float *out, float *work, const float *q, const float *k,
                        const float *v, int n_q, int n_kv, int n_head, int n_head_kv, int hd, int block,
                        int q_pos);

/* The naive twin: per query, the scores in double, the maximum over the visible keys,
 * exp and sums in double, no tiles. Same arguments and layout as dl_attention_tiled. */
void dl_attention_tiled_ref(float *out, const float *q, const float *k, const float *v,
                            int n_q, int n_kv, int n_head, int n_head_kv, int hd, int block,
                            int q_pos);

#endif
