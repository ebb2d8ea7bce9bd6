/* formats.h - the functions the rows of the type table (types.c) name, one group per
 * type, each defined in the type's own file (type_float.c, quant_<name>.c). Nothing
 * but types.c calls them: everything else goes through the table.
 *   to_f32:   out: [n] out;  src: n / block_size blocks       (dl_to_f32_fn)
 *   from_f32: dst: n / block_size blocks out;  src: [n]       (dl_from_f32_fn)
 *   qdecode:  blocks kb0 .. kb0+nb-1 of a row into row r of panel[0..nb)  (dl_qdecode_fn) */
#ifndef DL_FORMATS_H
#define DL_FORMATS_H

#include <stdint.h>

struct dl_qpanel;

#define DL_FLOAT_FORMAT(t)                                                           \
    void dl_type_##t##_to_f32(float *out, const void *src, int64_t n);               \
    void dl_type_##t##_from_f32(void *dst, const float *src, int64_t n)
#define DL_QUANT_FORMAT(t)                                                           \
    DL_FLOAT_FORMAT(t);                                                              \
    void dl_type_##t##_qdecode(struct dl_qpanel *p, int r, const uint8_t *row, int kb0, int nb)

DL_FLOAT_FORMAT(f32);   /* type_float.c */
DL_FLOAT_FORMAT(f16);
DL_FLOAT_FORMAT(bf16);
DL_QUANT_FORMAT(q8_0);  /* quant_q8_0.c */
DL_QUANT_FORMAT(q4_0);  /* quant_q4_0.c */
DL_QUANT_FORMAT(q4_1);  /* quant_q4_1.c */
DL_QUANT_FORMAT(q5_0);  /* quant_q5_0.c */
DL_QUANT_FORMAT(q5_1);  /* quant_q5_1.c */
DL_QUANT_FORMAT(q4_k);  /* quant_q4_k.c */
DL_QUANT_FORMAT(q5_k);  /* quant_q5_k.c */
DL_QUANT_FORMAT(q6_k);  /* quant_q6_k.c */

#undef DL_FLOAT_FORMAT
#undef DL_QUANT_FORMAT

#endif
