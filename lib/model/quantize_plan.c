/* quantize_plan.c - llama-quantize's per-tensor type rules (quantize_plan.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/types.h"
#include "model/quantize_plan.h"

static const dl_qpreset k_presets[] = {
    { "Q4_0", DL_TYPE_Q4_0, 2, DL_QRULE_PLAIN },   { "Q4_1", DL_TYPE_Q4_1, 3, DL_QRULE_PLAIN },
    { "Q5_0", DL_TYPE_Q5_0, 8, DL_QRULE_PLAIN },   { "Q5_1", DL_TYPE_Q5_1, 9, DL_QRULE_PLAIN },
    { "Q8_0", DL_TYPE_Q8_0, 7, DL_QRULE_PLAIN },   { "Q4_K_S", DL_TYPE_Q4_K, 14, DL_QRULE_KS },
    { "Q4_K_M", DL_TYPE_Q4_K, 15, DL_QRULE_KM },   { "Q4_K", DL_TYPE_Q4_K, 15, DL_QRULE_KM },
    { "Q5_K_S", DL_TYPE_Q5_K, 16, DL_QRULE_KS },   { "Q5_K_M", DL_TYPE_Q5_K, 17, DL_QRULE_KM },
    { "Q5_K", DL_TYPE_Q5_K, 17, DL_QRULE_KM },     { "Q6_K", DL_TYPE_Q6_K, 18, DL_QRULE_PLAIN },
    { "F16", DL_TYPE_F16, 1, DL_QRULE_PLAIN },     { "BF16", DL_TYPE_BF16, 32, DL_QRULE_PLAIN },
    { "F32", DL_TYPE_F32, 0, DL_QRULE_PLAIN },
};

const dl_qpreset *dl_qpreset_find(const char *s) {
    char up[16];
    size_t n = s ? strlen(s) : sizeof up;
    if (n >= sizeof up)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        up[i] = (char)toupper((unsigned char)s[i]);
    for (size_t i = 0; i < sizeof k_presets / sizeof k_presets[0]; i++)
        if (!strcmp(up, k_presets[i].name))
            return &k_presets[i];
    return NULL;
}

const char *dl_qpreset_names(void) {
    return "F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K_S Q4_K_M Q4_K Q5_K_S Q5_K_M Q5_K Q6_K";
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

int dl_qplan_layer(const char *name) {
    if (strncmp(name, "blk.", 4) != 0)
        return -1;
    char *end;
    long v = strtol(name + 4, &end, 10);
    return end != name + 4 && *end == '.' && v >= 0 && v < 1 << 20 ? (int)v : -1;
}

/* llama-quantize's use_more_bits: the first and last eighth and every third between */
static int more_bits(int i, int n) {
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

int dl_qplan_quantizable(const dl_gguf_tensor *t) {
    int dims = 0;
    for (uint32_t d = 0; d < t->n_dims; d++)
        dims += t->ne[d] > 1 || d == 0;
    return t->n_dims >= 2 && dims >= 2 && ends_with(t->name, "weight") &&
           !strstr(t->name, "_norm.weight") && !strstr(t->name, "ffn_gate_inp");
}

uint32_t dl_qplan_rule_type(const dl_qpreset *p, int pure, const char *name, int64_t ne0,
                            int is_head, int n_layer) {
    uint32_t t = p->type;
    if (pure)
        return t;
    if (is_head) {
        const dl_type_info *ti = dl_type_get(t);
        if (ti->block_size > 1 && ne0 % ti->block_size != 0)
            return DL_TYPE_Q8_0;
        return t == DL_TYPE_Q8_0 || !ti->quantized ? t : DL_TYPE_Q6_K;
    }
    int il = dl_qplan_layer(name);
    int is_v = strstr(name, "attn_v.weight") || strstr(name, "attn_qkv.weight");
    int is_down = strstr(name, "ffn_down") != NULL;
    if (il >= 0 && (is_v || is_down)) {
        if (p->rule == DL_QRULE_KM && more_bits(il, n_layer))
            return DL_TYPE_Q6_K;
        if (p->rule == DL_QRULE_KS && ((is_v && il < 4) || (is_down && il < n_layer / 8)))
            return DL_TYPE_Q5_K;
    }
    return t;
}

uint32_t dl_qplan_fallback(uint32_t t, int64_t ne0) {
    if (ne0 % 256 != 0) {
        if (t == DL_TYPE_Q4_K) t = DL_TYPE_Q5_0;
        else if (t == DL_TYPE_Q5_K) t = DL_TYPE_Q5_1;
        else if (t == DL_TYPE_Q6_K) t = DL_TYPE_Q8_0;
    }
    const dl_type_info *ti = dl_type_get(t);
    if (ti->block_size > 1 && ne0 % ti->block_size != 0)
        t = DL_TYPE_F16;
    return t;
}
